"""Golden files: captured tracker requests and hand-written edge cases → the exact enriched events and bad rows.

Regenerate with EVENTKIT_REGEN_GOLDEN=1 (then review the diff by hand against snowplow.md).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from core.atomic import FIELD_NAMES
from core.raw import CollectorPayload
from enrich.event import EnrichedEvent
from enrich.outcome import Good, Outcome
from enrich.pipeline import enrich_payload
from tests.enrich.captured import CASES, load_requests, to_payload
from tests.enrich.pipeline_env import ETL_TSTAMP, REPO_ROOT, make_env

REGEN = os.environ.get("EVENTKIT_REGEN_GOLDEN") == "1"
GOLDEN = CASES / "golden"
_LAST_ATTEMPT = re.compile(r'"lastAttempt":"[^"]*"')


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """A stable JSON view: good events as their non-empty TSV fields, bad rows as their wire JSON.

    The resolver's repository names hold the checkout path and lookups the wall-clock time of the
    attempt; both are replaced by placeholders.
    """
    if isinstance(outcome, Good):
        tsv = outcome.event.to_tsv()
        fields = dict(zip(FIELD_NAMES, tsv.split("\t"), strict=True))
        return {"good": {k: v for k, v in fields.items() if v}, "raw_parameters": len(outcome.raw.parameters)}
    text = outcome.encode().decode()
    text = text.replace(str(REPO_ROOT), "<repo>")
    text = _LAST_ATTEMPT.sub('"lastAttempt":"<instant>"', text)
    return {"bad": json.loads(text)}


def check(name: str, got: list[dict[str, Any]]) -> None:
    path = GOLDEN / f"{name}.json"
    if REGEN or not path.exists():
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if not REGEN:
            pytest.fail(f"golden file {path.name} was missing and has been written: review it")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert got == expected


@pytest.mark.parametrize("name", ["python-tracker-requests", "js-tracker-requests"])
def test_captured_requests_enrich_to_the_golden_events(name: str) -> None:
    """Every captured tracker request enriches to the reviewed events and bad rows, one outcome per event."""
    env = make_env()
    got = []
    for request in load_requests(name):
        outcomes = enrich_payload(to_payload(request), env, ETL_TSTAMP)
        got.append({"seq": request["seq"], "outcomes": [outcome_json(o) for o in outcomes]})
    check(name, got)


def _synthetic() -> list[dict[str, Any]]:
    path = CASES / "synthetic" / "inputs.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("case", _synthetic(), ids=lambda c: c["name"])
def test_edge_cases_enrich_to_the_golden_outcomes(case: dict[str, Any]) -> None:
    """Each hand-written edge case (see its `why`) yields the reviewed good events or bad rows."""
    payload = CollectorPayload.from_json(case["payload"])
    got = [outcome_json(o) for o in enrich_payload(payload, make_env(), ETL_TSTAMP)]
    check(f"synthetic-{case['name']}", got)


def test_good_golden_events_are_valid_tsv_lines() -> None:
    """Every good event in the goldens is a 131-field line that parses back to the same event."""
    env = make_env()
    for name in ("python-tracker-requests", "js-tracker-requests"):
        for request in load_requests(name):
            for outcome in enrich_payload(to_payload(request), env, ETL_TSTAMP):
                if isinstance(outcome, Good):
                    line = outcome.event.to_tsv()
                    assert line.count("\t") == 130
                    assert "\n" not in line
                    assert EnrichedEvent.from_tsv(line) == outcome.event


def test_golden_directory_has_no_stale_files() -> None:
    """Every golden file belongs to a current case (renamed cases do not leave orphans behind)."""
    expected = {"python-tracker-requests.json", "js-tracker-requests.json"}
    expected |= {f"synthetic-{c['name']}.json" for c in _synthetic()}
    assert {p.name for p in Path(GOLDEN).glob("*.json")} == expected
