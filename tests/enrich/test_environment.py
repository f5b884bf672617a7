"""The enrich Environment's defaults: fresh event ids."""

from __future__ import annotations

import uuid

from enrich.environment import Environment
from tests.enrich.pipeline_env import shared_validator


def test_new_event_ids_are_distinct_canonical_uuid4_strings() -> None:
    """The default id source gives canonical RFC 4122 version-4 UUID strings (what str(uuid.uuid4()) gives), all new."""
    env = Environment(shared_validator())
    ids = [env.new_event_id() for _ in range(2000)]
    parsed = [uuid.UUID(i) for i in ids]
    assert [str(u) for u in parsed] == ids
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len(set(ids)) == len(ids)
    assert {i[19] for i in ids} == set("89ab")  # every variant digit occurs
