"""`eventkit up` end to end: the official Python tracker and raw HTTP → collector → enrich → lake and Micro API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from snowplow_tracker import (
    Emitter,
    PageView,
    SelfDescribing,
    SelfDescribingJson,
    StructuredEvent,
    Tracker,
)

from core.lake.local import LocalLake
from tests.enrich.event_mix import ACME_SCHEMAS, check_bad_row, read_lake, write_acme_registry
from tests.enrich.processes import EventkitProcess, free_port

pytestmark = pytest.mark.slow

ACME = "iglu:com.acme/{}/jsonschema/1-0-0"


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


def _tracker(up: Up, method: str, batch: int) -> Tracker:
    failures: list[Any] = []
    emitter = Emitter("127.0.0.1", protocol="http", port=up.port, method=method, batch_size=batch,
                      on_failure=lambda n, evs: failures.append((n, evs)))  # fmt: skip
    tracker = Tracker(namespace=f"e2e-{method}", emitters=emitter, app_id="e2e")
    tracker.failures = failures  # type: ignore[attr-defined]
    return tracker


def _sdj(name: str, data: dict[str, Any]) -> SelfDescribingJson:
    return SelfDescribingJson(ACME.format(name), data)


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
    get, post = _tracker(up, "get", 1), _tracker(up, "post", 4)
    user = _sdj("user_context", {"userId": "u-1", "plan": "free"})
    good: set[str] = set()
    bad_events: set[str] = set()
    for i in range(4):
        good.add(get.track(PageView(page_url=f"https://shop.example.com/p/{i}", page_title=f"P{i}", context=[user])))
        good.add(post.track(PageView(page_url=f"https://shop.example.com/q/{i}")))
    for t in (get, post):
        good.add(t.track(StructuredEvent("shop", "add", label="sku-1", value=2.5)))
        good.add(t.track(SelfDescribing(_sdj("checkout", {"orderId": "o-1", "total": 21.5, "currency": "USD"}))))
        bad_events.add(t.track(SelfDescribing(_sdj("unknown_thing", {"a": 1}))))  # unknown schema
        bad_events.add(t.track(SelfDescribing(_sdj("checkout", {"orderId": "o-2", "total": "abc"}))))  # wrong type
    good.add(post.track(SelfDescribing(_sdj("product_view", {"sku": "s-1", "price": 9.5}), context=[user])))
    bad_events.add(get.track(PageView(page_url="https://shop.example.com/ts", true_timestamp=1e17)))  # bad timestamp
    get.flush()
    post.flush()
    assert get.failures == [] and post.failures == []  # type: ignore[attr-defined]
    bad_b64 = str(uuid.uuid4())
    bad_events.add(bad_b64)
    raw_requests = [
        httpx.get(f"{up.base}/i", params={"e": "ue", "p": "web", "tv": "raw", "eid": bad_b64, "ue_px": "!!x!!"}),
        httpx.post(
            f"{up.base}/com.snowplowanalytics.snowplow/tp2",
            content=b'{"schema": broken',
            headers={"Content-Type": "application/json"},
        ),
        httpx.post(f"{up.base}/com.unknown/v9", content=b'{"a": 1}', headers={"Content-Type": "application/json"}),
    ]
    assert [r.status_code for r in raw_requests] == [200, 200, 200]

    _wait_for(up, len(good) + len(bad_events) + 2)
    time.sleep(1.5)  # anything extra (a duplicate) would arrive within one more file age
    lake = read_lake(LocalLake(up.data / "lake"))
    assert sorted(lake.good_ids) == sorted(good)
    assert sorted(lake.bad_event_ids("schema_violations")) == sorted(bad_events)
    assert len(lake.bad["tracker_protocol_violations"]) == 1
    assert len(lake.bad["adapter_failures"]) == 1
    assert set(lake.bad) == {"schema_violations", "tracker_protocol_violations", "adapter_failures"}
    for rows in lake.bad.values():
        for row in rows:
            check_bad_row(row)

    counts = up.micro("/micro/all")
    n_bad = sum(len(rows) for rows in lake.bad.values())
    assert counts == {"total": len(good) + n_bad, "good": len(good), "bad": n_bad}
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


def test_schemas_are_picked_up_live_and_the_store_survives_restart(up: Up) -> None:
    """A schema file added while running is used within seconds; /micro/iglu sees it; Micro data outlives a restart."""
    tracker = _tracker(up, "get", 1)
    first = tracker.track(SelfDescribing(_sdj("late", {"x": 1})))
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
    second = tracker.track(SelfDescribing(_sdj("late", {"x": 2})))
    _wait_for(up, 2)
    assert [e["event"]["event_id"] for e in up.micro("/micro/good")] == [second]

    assert up.stop() == 0
    up.start()
    assert up.micro("/micro/all") == {"total": 2, "good": 1, "bad": 1}
    assert httpx.get(f"{up.base}/micro/reset").text == "Reset completed"
    assert up.micro("/micro/all") == {"total": 0, "good": 0, "bad": 0}
    # Reset empties Micro only; the lake keeps everything.
    assert len(read_lake(LocalLake(up.data / "lake")).good_ids) == 1
