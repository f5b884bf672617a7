"""A real enrich Environment for tests: Resolver over schemas/ and tests/cases/enrich/schemas, fixed clock and ids."""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Any

from core.badrows import Processor
from enrich.environment import Environment
from registry.resolver import Resolver
from registry.validation import Validator

__all__ = ["ETL_TSTAMP", "REPO_ROOT", "counting_ids", "make_env", "shared_validator"]

REPO_ROOT = Path(__file__).resolve().parents[2]
ETL_TSTAMP = 1_795_690_800_000  # 2026-11-26T11:00:00.000Z
TEST_SCHEMAS = REPO_ROOT / "tests" / "cases" / "enrich" / "schemas"


@cache
def shared_validator() -> Validator:
    """One validator (and resolver cache) for the whole test session; schemas never change under tests."""
    resolver = Resolver.from_locations([str(REPO_ROOT / "schemas"), str(TEST_SCHEMAS)])
    return Validator(resolver, max_depth=50)


def counting_ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


def make_env(**overrides: Any) -> Environment:
    """An Environment with a fixed clock, sequential event ids and a fixed v_etl; override any field."""
    settings: dict[str, Any] = {
        "validator": shared_validator(),
        "processor": Processor("eventkit-enrich", "0.0.0-test"),
        "clock": lambda: ETL_TSTAMP,
        "new_event_id": counting_ids(),
        "v_etl": "eventkit-test",
    }
    settings.update(overrides)
    return Environment(**settings)
