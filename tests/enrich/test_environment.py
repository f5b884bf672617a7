"""The enrich Environment's defaults: fresh event ids."""

from __future__ import annotations

from core.ids import new_uuid4
from enrich.environment import Environment
from tests.enrich.pipeline_env import shared_validator


def test_event_ids_come_from_the_pooled_uuid_source() -> None:
    """By default enrich makes event ids with core.ids (tests/core/test_ids.py checks their format and uniqueness)."""
    env = Environment(shared_validator())
    assert env.new_event_id is new_uuid4
    assert env.new_event_id() != env.new_event_id()
