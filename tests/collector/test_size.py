"""Size limits (§2.4): 413 above the drop size, splitting without loss or duplication, size_violation bad rows."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sizing import fit_record
from core.errors import LakeUnavailable
from core.raw import CollectorPayload
from tests.badrow_schemas import assert_valid_bad_row
from tests.collector.conftest import Rig
from tests.collector.driver import call, lifespan
from tests.raw_records import raw_record
from tests.services.processes import free_port, wait_until_answering

TP2 = "/com.snowplowanalytics.snowplow/tp2"
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
SIZE_VIOLATION = "iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0"


def run(rig: Rig, *requests: tuple[str, str, dict[str, Any]]) -> list[Any]:
    async def go() -> list[Any]:
        async with lifespan(rig.app):
            return [await call(rig.app, m, p, **kw) for m, p, kw in requests]

    return asyncio.run(go())


def batch(n: int, pad: int = 50) -> bytes:
    events = [{"e": "pv", "eid": f"event-{i:05d}", "tv": "t", "p": "web", "page": "x" * pad} for i in range(n)]
    return json.dumps({"schema": PAYLOAD_DATA, "data": events}).encode()


def event_ids(records: list[CollectorPayload]) -> list[str]:
    out = []
    for r in records:
        out.extend(e["eid"] for e in json.loads(r.body or "")["data"])
    return out


def bad_rows(rig: Rig) -> list[dict[str, Any]]:
    assert rig.lake is not None
    rows = []
    for name in rig.lake.list("bad/size_violation/"):
        assert name.endswith(".jsonl") and "/date=" in name and "/hour=" in name
        rows.extend(json.loads(line) for line in rig.lake.read(name).splitlines())
    return rows


def test_declared_body_over_the_drop_size_gets_413_unread(make_rig: Callable[..., Rig]) -> None:
    """A Content-Length above the drop size is refused with 413 and a reason, nothing recorded."""
    rig = make_rig(drop_payload_size=1000, max_payload_size=1000)
    (a,) = run(rig, ("POST", TP2, {"headers": [("Content-Length", "5000")], "body": b"x" * 5000}))
    assert a.status == 413 and b"drop size of 1000" in a.body
    assert rig.records() == []


def test_streamed_body_over_the_drop_size_gets_413(make_rig: Callable[..., Rig]) -> None:
    """A body without Content-Length is cut off with 413 once it exceeds the drop size."""
    rig = make_rig(drop_payload_size=1000, max_payload_size=1000)
    (a,) = run(rig, ("POST", TP2, {"body": b"x" * 5000, "chunks": 10}))
    assert a.status == 413 and b"payload too large" in a.body
    assert rig.records() == []


def test_big_post_batch_is_split_into_fitting_records_exactly_once(make_rig: Callable[..., Rig]) -> None:
    """A batch too big for one queue message becomes several records holding every event once, in order."""
    rig = make_rig(sink_max_bytes=4000, max_payload_size=1_000_000)
    body = batch(200)
    (a,) = run(rig, ("POST", TP2, {"headers": [("Content-Type", "application/json")], "body": body}))
    assert (a.status, a.body) == (200, b"ok")
    records = rig.records()
    assert len(records) > 5
    assert all(len(r.encode()) <= 4000 for r in records)
    assert event_ids(records) == [f"event-{i:05d}" for i in range(200)]
    assert {json.loads(r.body or "")["schema"] for r in records} == {PAYLOAD_DATA}
    assert bad_rows(rig) == []


def test_unsplittable_payload_over_the_maximum_becomes_a_size_violation_bad_row(
    make_rig: Callable[..., Rig],
) -> None:
    """A body that cannot be split and exceeds max_payload_size is answered 200 and lands as a size_violation."""
    rig = make_rig(sink_max_bytes=2000, max_payload_size=10_000)
    (a,) = run(rig, ("POST", TP2, {"body": b"not json " * 2000}))
    assert a.status == 200
    assert rig.records() == []
    (row,) = bad_rows(rig)
    assert row["schema"] == SIZE_VIOLATION
    assert_valid_bad_row(row)
    failure = row["data"]["failure"]
    assert failure["maximumAllowedSizeBytes"] == 10_000 and failure["actualSizeBytes"] > 10_000
    assert failure["expectation"].startswith("oversized collector payload: Payload exceeds max size of 10000")
    assert len(row["data"]["payload"]) <= 1000


def test_a_batch_over_the_maximum_payload_size_is_split_not_refused(make_rig: Callable[..., Rig]) -> None:
    """A splittable POST above max_payload_size is split into fitting records like any other big batch (issue 15)."""
    rig = make_rig(sink_max_bytes=2000, max_payload_size=10_000)
    (a,) = run(rig, ("POST", TP2, {"body": batch(200)}))
    assert (a.status, a.body) == (200, b"ok")
    records = rig.records()
    assert all(len(r.encode()) <= 2000 for r in records)
    assert event_ids(records) == [f"event-{i:05d}" for i in range(200)]
    assert bad_rows(rig) == []


def test_get_too_big_for_one_message_cannot_be_split(make_rig: Callable[..., Rig]) -> None:
    """A GET between the record size and the maximum becomes a size_violation saying GETs cannot be split."""
    rig = make_rig(sink_max_bytes=2000, max_payload_size=100_000)
    (a,) = run(rig, ("GET", "/i", {"query": b"e=pv&page=" + b"y" * 5000}))
    assert a.status == 200
    (row,) = bad_rows(rig)
    assert "GET requests cannot be split" in row["data"]["failure"]["expectation"]


def test_a_single_oversized_event_is_a_violation_and_the_rest_are_kept(make_rig: Callable[..., Rig]) -> None:
    """Splitting keeps every event that fits and turns each one that alone is too big into its own bad row."""
    rig = make_rig(sink_max_bytes=10_000, max_payload_size=1_000_000)
    events: list[dict[str, str]] = [{"e": "pv", "eid": f"e{i}", "page": "p" * 1000} for i in range(30)]
    events.insert(4, {"e": "pv", "eid": "huge", "page": "h" * 20_000})
    (a,) = run(rig, ("POST", TP2, {"body": json.dumps({"schema": PAYLOAD_DATA, "data": events}).encode()}))
    assert a.status == 200
    assert event_ids(rig.records()) == [f"e{i}" for i in range(30)]
    (row,) = bad_rows(rig)
    assert_valid_bad_row(row)
    failure = row["data"]["failure"]
    assert failure["expectation"].endswith("this POST request split is still too large")
    assert failure["maximumAllowedSizeBytes"] == 10_000 and 20_000 < failure["actualSizeBytes"] < 21_000
    # Cut to a tenth of the limit, the request facts come first, then the start of the one event's body.
    payload = row["data"]["payload"]
    assert len(payload) == 1000
    assert '"vendor":"com.snowplowanalytics.snowplow","version":"tp2"' in payload
    assert payload.index('"collector"') < payload.index('"body"')
    assert '\\"eid\\":\\"huge\\"' in payload


def test_without_a_lake_an_unrecordable_payload_is_refused(make_rig: Callable[..., Rig]) -> None:
    """With no lake to hold the bad row, an oversize payload gets 413 rather than a silent drop."""
    rig = make_rig(lake=False, sink_max_bytes=2000, max_payload_size=5000)
    (a,) = run(rig, ("POST", TP2, {"body": b"not json " * 1000}))
    assert a.status == 413 and rig.records() == []


class BrokenLake:
    """A lake whose writes fail (a test double: the real local lake cannot be made to fail on demand as root)."""

    url = "broken://"

    def create(self, name: str, data: bytes) -> None:
        raise LakeUnavailable("disk on fire")

    def list(self, prefix: str = "") -> Iterator[str]:
        return iter(())

    def read(self, name: str) -> bytes:
        raise LakeUnavailable("disk on fire")

    def exists(self, name: str) -> bool:
        return False


def test_failed_bad_row_write_answers_503(make_rig: Callable[..., Rig]) -> None:
    """If the size_violation cannot be written the tracker hears 503 (and retries), never 200."""
    rig = make_rig(sink_max_bytes=2000, max_payload_size=5000)
    rig.app.tracking.lake = BrokenLake()
    (a,) = run(rig, ("POST", TP2, {"body": b"not json " * 1000}))
    assert a.status == 503


def payload_with(body: str | None) -> CollectorPayload:
    return raw_record(
        querystring=(("q", "1"),),
        content_type="application/json",
        body=body,
        collector="c",
        hostname="h",
        ip_address="1.2.3.4",
        useragent="ua",
        headers=("Host: h",),
        network_user_id="n",
    )


event = st.dictionaries(st.sampled_from(["e", "page", "url", "x"]), st.text(max_size=400), min_size=1)


@settings(max_examples=60)
@given(st.lists(event, min_size=1, max_size=40), st.integers(min_value=600, max_value=6000))
def test_splitting_conserves_every_event(events: list[dict[str, str]], limit: int) -> None:
    """Every event ends in exactly one record (in order) or one violation, and every record fits the limit."""
    tagged = [dict(e, eid=str(i)) for i, e in enumerate(events)]
    body = json.dumps({"schema": PAYLOAD_DATA, "data": tagged}, ensure_ascii=False)
    outcome = fit_record(payload_with(body), sink_max_bytes=limit, max_payload_size=10**9)
    kept: list[str] = []
    for record in outcome.records:
        assert len(record) <= limit
        kept.extend(e["eid"] for e in json.loads(CollectorPayload.decode(record).body or "")["data"])
    if len(outcome.records) == 1 and not outcome.violations and kept == [str(i) for i in range(len(events))]:
        return  # fitted whole
    assert kept == sorted(kept, key=int)
    assert len(kept) + len(outcome.violations) == len(events)
    assert len(set(kept)) == len(kept)


def test_ten_thousand_small_events_in_one_post_all_end_good(make_rig: Callable[..., Rig]) -> None:
    """The issue-15 POST (10,000 valid events, ~820 KB body, a ~1.06 MB record) is split under the default limits
    and every event comes out of enrich as exactly one good event, none as a bad row."""
    from enrich.outcome import Good
    from enrich.pipeline import enrich_record
    from tests.enrich.pipeline_env import make_env

    rig = make_rig()  # Snowplow's defaults: 1 MB max payload, 1,000,000-byte records
    ids = [str(uuid.UUID(int=i, version=4)) for i in range(10_000)]
    events = [{"e": "pv", "eid": eid, "tv": "js-3.0.0", "p": "web", "url": "https://a.example/p"} for eid in ids]
    body = json.dumps({"schema": PAYLOAD_DATA, "data": events}, separators=(",", ":")).encode()
    assert 800_000 < len(body) < rig.config.drop_payload_size
    (a,) = run(rig, ("POST", TP2, {"headers": [("Content-Type", "application/json")], "body": body}))
    assert (a.status, a.body) == (200, b"ok")
    assert bad_rows(rig) == []
    records = rig.records()
    assert len(records) >= 2 and all(len(r.encode()) <= 1_000_000 for r in records)
    env = make_env()
    outcomes = [o for r in records for o in enrich_record(r.encode(), env)]
    assert all(isinstance(o, Good) for o in outcomes)
    assert sorted(o.event.event_id for o in outcomes if isinstance(o, Good)) == sorted(ids)


def test_under_eventkit_up_a_single_oversized_event_is_a_bad_event_in_micro(tmp_path: Path) -> None:
    """Under `eventkit up` the events of a POST that fit end good, and the one event too big for a record is a
    size_violation both in the lake and in Micro (it used to be in the lake only, invisible in /micro/bad)."""
    (tmp_path / "schemas").mkdir()
    port = free_port()
    log = tmp_path / "up.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-c", "from core.cli import main; main()", "up", "--port", str(port)),
                *("--data-dir", str(tmp_path / "data"), "--registry", str(tmp_path / "schemas")),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp_path,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(process, f"{base}/health", name="up", log=log.read_text, timeout=30, interval=0.1)
        small = [{"e": "pv", "tv": "t", "p": "web", "eid": str(uuid.UUID(int=i, version=4))} for i in range(3)]
        huge = {"e": "pv", "tv": "t", "p": "web", "url": "https://a.example/" + "x" * 1_100_000}
        body = json.dumps({"schema": PAYLOAD_DATA, "data": [*small, huge]}).encode()
        request = urllib.request.Request(f"{base}{TP2}", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200
        deadline = time.monotonic() + 20
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{base}/micro/all", timeout=5) as r:
                counts = json.loads(r.read())
            if counts.get("good") == 3 and counts.get("bad") == 1:
                break
            time.sleep(0.2)
        assert counts == {"total": 4, "good": 3, "bad": 1}
        with urllib.request.urlopen(f"{base}/micro/bad", timeout=5) as r:
            (bad,) = json.loads(r.read())
        assert SIZE_VIOLATION in json.dumps(bad)
        assert "this POST request split is still too large" in json.dumps(bad)
        lake_rows = list((tmp_path / "data" / "lake" / "bad" / "size_violation").rglob("*.jsonl"))
        assert len(lake_rows) == 1
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
