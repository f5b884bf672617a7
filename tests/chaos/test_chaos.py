"""The bounded chaos run of `make test`: kill -9 and every hostile input class, then conservation is audited."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.harness import ChaosRun
from tests.chaos.hostile import CATALOGUE

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("CHAOS_SECONDS", "40"))


def test_every_acked_event_ends_exactly_once_under_kill_and_hostile_input(tmp_path: Path) -> None:
    """Under random SIGKILLs of collector and enrich and every hostile input class, each event answered 200 is
    exactly one warehouse row or named by bad rows, never both; no duplicates, no 5xx, no unexpected exit."""
    figures = ChaosRun(tmp_path, seed=15, kill_every=(5.0, 9.0)).run(SECONDS)
    print(figures.table())
    assert set(figures.by_class) >= {h.name for h in CATALOGUE}, "every hostile class was sent"
    assert sum(figures.restarts.values()) >= 2, "the run killed processes"
    assert figures.acked_events > 100
    assert figures.lost == [], f"acked but never in the lake or warehouse: {figures.lost[:10]}"
    assert figures.good_and_bad == [], f"both good and bad: {figures.good_and_bad[:10]}"
    assert figures.duplicated == 0
    assert figures.server_errors == 0, figures.answers
    assert figures.unexpected_exits == [], figures.unexpected_exits
    assert figures.tracebacks == [], figures.tracebacks[:2]
