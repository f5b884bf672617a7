"""`eventkit up` end to end: the official Python tracker and raw HTTP → collector → enrich → lake and Micro API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from snowplow_tracker import SelfDescribing

from core.lake.local import LocalLake
from tests.enrich.event_mix import ACME_SCHEMAS, check_bad_row, read_lake, write_acme_registry
from tests.enrich.processes import EventkitProcess, free_port
from tests.enrich.tracker_traffic import ACME, sdj, send_mix, tracker

pytestmark = pytest.mark.slow


class Up:
    """A running `eventkit up` with its data dir and registry folder."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = tmp / "data"
        self.registry = write_acme_registry(tmp / "schemas")
        self.proc: EventkitProcess | None = None

    def start(self, max_events: int = 1000) -> None:
        args = ["up", "--port", str(self.port), "--data-dir", str(self.data), "--registry", str(self.registry)]
        self.proc = EventkitProcess([*args, "--max-events", str(max_events)], self.tmp / "up.log")
        self.proc.wait_http(f"{self.base}/health")

    def stop(self) -> int:
        assert self.proc is not None
        return self.proc.terminate()

    def micro(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = httpx.post(f"{self.base}{path}", json=body) if body is not None else httpx.get(f"{self.base}{path}")
        r.raise_for_status()
        return r.json()


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    stack = Up(tmp_path)
    stack.start()
    try:
        yield stack
    finally:
        if stack.proc is not None and stack.proc.proc.poll() is None:
            stack.proc.kill()


def _wait_for(up: Up, expected_outputs: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if up.micro("/micro/all")["total"] >= expected_outputs:
            return
        time.sleep(0.1)
    raise AssertionError(f"only {up.micro('/micro/all')} of {expected_outputs} outputs arrived")


def test_tracker_mix_ends_exactly_once_in_lake_and_micro(up: Up) -> None:
    """Valid and invalid events (unknown schema, wrong type, bad timestamp, bad base64, broken body, unknown
    vendor) each end exactly once, as a good Parquet row or a valid bad row, and /micro agrees with the lake.

    The official tracker cannot produce bad base64, a broken body or an unknown vendor, so those three go as
    raw HTTP requests."""
    sent = send_mix(up.port)
    _wait_for(up, sent.outputs)
    time.sleep(1.5)  # anything extra (a duplicate) would arrive within one more file age
    lake = read_lake(LocalLake(up.data / "lake"))
    assert sorted(lake.good_ids) == sorted(sent.good)
    assert sorted(lake.bad_event_ids("schema_violations")) == sorted(sent.schema_violations)
    assert {t: len(rows) for t, rows in lake.bad.items() if t != "schema_violations"} == sent.request_level
    for rows in lake.bad.values():
        for row in rows:
            check_bad_row(row)

    counts = up.micro("/micro/all")
    n_bad = sum(len(rows) for rows in lake.bad.values())
    assert counts == {"total": len(sent.good) + n_bad, "good": len(sent.good), "bad": n_bad}
    assert counts["total"] == sent.outputs
    micro_good = up.micro("/micro/good")
    assert sorted(e["event"]["event_id"] for e in micro_good) == sorted(lake.good_ids)
    micro_bad = up.micro("/micro/bad")
    lake_rows = sorted(json.dumps(r, sort_keys=True) for rows in lake.bad.values() for r in rows)
    assert sorted(json.dumps(json.loads(b["errors"][0]), sort_keys=True) for b in micro_bad) == lake_rows
    assert len(up.micro("/micro/good", {"event_type": "struct"})) == 2
    assert len(up.micro("/micro/good", {"schema": ACME.format("checkout")})) == 2
    with_user = up.micro("/micro/good", {"contexts": [ACME.format("user_context")], "limit": 2})
    assert len(with_user) == 2 and all(ACME.format("user_context") in e["contexts"] for e in with_user)
    assert len(up.micro("/micro/bad", {"vendor": "com.unknown", "version": "v9"})) == 1
    metrics = httpx.get(f"{up.base}/metrics/enrich").text
    assert 'enrich_bad_rows_total{schema="iglu:com.snowplowanalytics.snowplow.badrows/adapter_failures' in metrics
    assert f"enrich_commit_latency_seconds_count {float(sent.outputs)}" in metrics


def test_schemas_are_picked_up_live_and_the_store_survives_restart(up: Up) -> None:
    """A schema file added while running is used within seconds; /micro/iglu sees it; Micro data outlives a restart."""
    get, _ = tracker(up.port, "get", 1)
    first = get.track(SelfDescribing(sdj("late", {"x": 1})))
    _wait_for(up, 1)
    assert up.micro("/micro/bad", {"limit": 1})[0]["rawEvent"]["parameters"]["eid"] == first
    assert httpx.get(f"{up.base}/micro/iglu/com.acme/late/jsonschema/1-0-0").status_code == 404

    folder = up.registry / "com.acme" / "late" / "jsonschema"
    folder.mkdir(parents=True)
    schema = {**ACME_SCHEMAS["user_context"], "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    schema["self"] = {**schema["self"], "name": "late"}
    (folder / "1-0-0").write_text(json.dumps(schema))
    time.sleep(2.5)  # the resolver's live TTL
    assert up.micro("/micro/iglu/com.acme/late/jsonschema/1-0-0")["self"]["name"] == "late"
    assert up.micro("/api/schemas/com.acme/late/jsonschema/1-0-0")["self"]["name"] == "late"  # registry API
    second = get.track(SelfDescribing(sdj("late", {"x": 2})))
    _wait_for(up, 2)
    assert [e["event"]["event_id"] for e in up.micro("/micro/good")] == [second]

    assert up.stop() == 0
    up.start()
    assert up.micro("/micro/all") == {"total": 2, "good": 1, "bad": 1}
    assert httpx.get(f"{up.base}/micro/reset").text == "Reset completed"
    assert up.micro("/micro/all") == {"total": 0, "good": 0, "bad": 0}
    # Reset empties Micro only; the lake keeps everything.
    assert len(read_lake(LocalLake(up.data / "lake")).good_ids) == 1
