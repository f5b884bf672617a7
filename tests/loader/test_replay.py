"""Replay: bad rows → raw records (golden), re-check, fixes, republish to a real SQLite queue, exactly once on load."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.lake import open_lake
from core.queue import open_subscriber
from core.raw import CollectorPayload
from loader.fixes import parse_fixes
from loader.load import Loader
from loader.replay import UNRECOVERABLE, Replayer, ReplayError, raw_records, replayed_ids
from loader.selection import ReadStats, Selection, read_bad_rows
from tests.loader.pipeline import CASES, Pipeline, get_payload, self_describing_event
from tests.raw_records import raw_record

REGEN = os.environ.get("EVENTKIT_REGEN_GOLDEN") == "1"
BADROWS = Path(__file__).resolve().parents[1] / "cases" / "badrows"
ORDER = "iglu:com.acme/order_placed/jsonschema/1-0-0"


def replay_golden(row: dict[str, Any]) -> Any:
    type_name = row["schema"].split("/")[1]
    try:
        records = raw_records(type_name, row["data"], row["data"].get("payload"), "golden-row")
    except ReplayError as e:
        return {"not_recoverable": str(e)}
    return [r.to_json() for r in records]


@pytest.mark.parametrize("case", sorted(p.stem for p in BADROWS.glob("*.json")))
def test_each_bad_row_type_replays_as_its_golden_raw_record(case: str) -> None:
    """Per type: the raw records replay would publish (or the reason it cannot), as reviewed golden files."""
    row = json.loads((BADROWS / f"{case}.json").read_text())
    got = replay_golden(row)
    path = CASES / "replayed" / f"{case}.json"
    if REGEN or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
        if not REGEN:
            pytest.fail(f"wrote missing golden file {path}; review it and rerun")
    assert got == json.loads(path.read_text())
    if case in UNRECOVERABLE:
        assert "not_recoverable" in got


def drain(queue_url: str) -> list[CollectorPayload]:
    """Everything waiting on the raw queue, acked."""
    subscriber = open_subscriber(queue_url, lease_seconds=30)
    out: list[CollectorPayload] = []
    try:
        while batch := subscriber.pull(500, 0.2):
            out.extend(CollectorPayload.decode(d.data) for d in batch)
            subscriber.ack([d.ack_id for d in batch])
    finally:
        subscriber.close()
    return out


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    registry = tmp_path / "registry"
    pipeline = Pipeline(open_lake(str(tmp_path / "lake")), registry)
    return {
        "pipeline": pipeline,
        "queue": f"sqlite:///{tmp_path / 'queue.db'}",
        "warehouse": f"duckdb://{tmp_path / 'warehouse.duckdb'}",
        "registry": registry,
    }


def track_orders(pipeline: Pipeline) -> dict[str, str]:
    """Three good-shaped orders (one without eid) and one with a tracking mistake, before the schema exists."""
    eids = {f"o-{i}": f"00000000-0000-4000-8000-00000000000{i}" for i in range(1, 3)}
    events = [self_describing_event(ORDER, {"orderId": o, "total": 10}, eid=e) for o, e in eids.items()]
    no_eid = self_describing_event(ORDER, {"orderId": "o-3", "total": 3.5})
    del no_eid["eid"]
    mistake = self_describing_event(
        ORDER, {"order_id": "o-4", "total": "9.50"}, eid="00000000-0000-4000-8000-000000000004"
    )
    good, bad = pipeline.run([get_payload(p) for p in [*events, no_eid, mistake]])
    assert (good, bad) == (0, 4)
    return eids


def publish_order_schema(registry: Path) -> None:
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)


def warehouse_orders(warehouse: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(warehouse.removeprefix("duckdb://"), read_only=True) as con:
        return con.execute(
            "SELECT unstruct_event_com_acme_order_placed_1.orderId, unstruct_event_com_acme_order_placed_1.total, "
            "count(*) OVER (PARTITION BY event_id) FROM events ORDER BY 1"
        ).fetchall()


def test_replay_after_publishing_the_schema_loads_each_event_once(world: dict[str, Any]) -> None:
    """Unknown schema → bad rows; published → dry run says fixable; sent, loaded once; replays change nothing."""
    pipeline: Pipeline = world["pipeline"]
    track_orders(pipeline)

    before = Replayer(pipeline.lake, pipeline.resolver()).plan().report()
    assert (before["would_pass"], before["still_failing"]) == (0, 4)
    assert before["by_failure"][0]["error"] == "ResolutionError: schema not found"

    publish_order_schema(world["registry"])
    replayer = Replayer(pipeline.lake, pipeline.resolver())
    plan = replayer.plan(Selection(types=("schema_violations",), schemas=("com.acme/order_placed",)))
    report = plan.report()
    assert (report["selected"], report["would_pass"], report["still_failing"]) == (4, 3, 1)
    assert "string found, number expected" in report["still_failing_errors"][0]["error"]
    assert report["sent_rows"] == 0 and drain(world["queue"]) == []  # a dry run sends nothing

    from core.queue import open_publisher

    publisher = open_publisher(world["queue"])
    replayer.send(plan, publisher)
    assert (plan.sent_rows, plan.sent_records, plan.recovery_errors) == (3, 3, 1)
    assert len(replayed_ids(pipeline.lake)) == 4  # three sent, one superseded by its recovery_error row
    pipeline.run(drain(world["queue"]))
    Loader(pipeline.lake, world["warehouse"], pipeline.resolver()).load()
    assert warehouse_orders(world["warehouse"]) == [("o-1", 10.0, 1), ("o-2", 10.0, 1), ("o-3", 3.5, 1)]

    # A second replay sends nothing new (the mistake's recovery_error still fails: it is already that row);
    # forcing it resends, and the load still keeps one row per event.
    again = replayer.plan()
    assert (again.report()["already_replayed"], again.report()["still_failing"], len(again.to_send)) == (4, 1, 0)
    assert [c.entry.type_name for c in again.candidates if c.failed] == ["recovery_error"]
    forced = replayer.plan(include_replayed=True)
    replayer.send(forced, publisher)
    publisher.close()
    assert (forced.sent_rows, forced.recovery_errors) == (3, 0)  # the live recovery_error failed as before: kept
    pipeline.run(drain(world["queue"]))
    report_load = Loader(pipeline.lake, world["warehouse"], pipeline.resolver()).load()
    assert (report_load.rows_read, report_load.rows_loaded) == (3, 0)
    assert warehouse_orders(world["warehouse"]) == [("o-1", 10.0, 1), ("o-2", 10.0, 1), ("o-3", 3.5, 1)]


FIXES = {
    "schema_violations": [
        {
            "name": "order_placed sent with order_id and a string total",
            "conditions": [
                {
                    "op": "Test",
                    "path": "$.failure.messages[*].schemaKey",
                    "value": {"regex": "iglu:com.acme/order_placed/.*"},
                }
            ],
            "steps": [
                {"op": "Rename", "path": "$.raw.parameters.ue_px.data.data.order_id", "to": "orderId"},
                {"op": "Cast", "path": "$.raw.parameters.ue_px.data.data.total", "from": "String", "to": "Numeric"},
            ],
        }
    ]
}


def test_a_fix_file_turns_a_tracking_mistake_into_good_events(world: dict[str, Any]) -> None:
    """Wrong property name and a number sent as a string inside ue_px: fixed, re-checked, replayed, loaded typed."""
    pipeline: Pipeline = world["pipeline"]
    track_orders(pipeline)
    publish_order_schema(world["registry"])
    replayer = Replayer(pipeline.lake, pipeline.resolver(), fixes=parse_fixes(FIXES))
    plan = replayer.plan()
    report = plan.report()
    assert (report["would_pass"], report["still_failing"], report["fixed"]) == (4, 0, 1)
    fixed = next(c for c in plan.candidates if c.fix is not None and c.fix.changes)
    assert {(c.path, c.before, c.after) for c in fixed.fix.changes} == {  # type: ignore[union-attr]
        ("$.raw.parameters.ue_px.data.data.order_id", "o-4", None),
        ("$.raw.parameters.ue_px.data.data.orderId", None, "o-4"),
        ("$.raw.parameters.ue_px.data.data.total", "9.50", 9.5),
    }
    from core.queue import open_publisher

    publisher = open_publisher(world["queue"])
    replayer.send(plan, publisher)
    publisher.close()
    good, bad = pipeline.run(drain(world["queue"]))
    assert (good, bad) == (4, 0)
    Loader(pipeline.lake, world["warehouse"], pipeline.resolver()).load()
    assert warehouse_orders(world["warehouse"])[-1] == ("o-4", 9.5, 1)
    with duckdb.connect(world["warehouse"].removeprefix("duckdb://"), read_only=True) as con:
        assert con.execute(
            "SELECT event_id FROM events WHERE unstruct_event_com_acme_order_placed_1.orderId = 'o-4'"
        ).fetchall() == [("00000000-0000-4000-8000-000000000004",)]


def test_unrecoverable_rows_are_counted_with_their_reason(world: dict[str, Any]) -> None:
    """size_violation and loader rows in the lake are reported as skipped with why, never sent."""
    pipeline: Pipeline = world["pipeline"]
    for case in ("size_violation", "loader_parsing_error", "adapter_failures"):
        line = (BADROWS / f"{case}.json").read_bytes().strip() + b"\n"
        pipeline.lake.create(f"bad/{case}/date=2026-11-26/hour=10/1795686000000-bbbbbbbbbbbb-000001.jsonl", line)
    report = Replayer(pipeline.lake, pipeline.resolver()).plan().report()
    assert report["not_recoverable"] == 2
    assert {s["reason"] for s in report["skipped"]} == {
        UNRECOVERABLE["size_violation"],
        UNRECOVERABLE["loader_parsing_error"],
    }
    assert report["selected"] == 3


def test_selection_filters_by_type_schema_error_and_time(world: dict[str, Any]) -> None:
    """Type, schema prefix, error keyword or text, and the time window each narrow the rows read."""
    from datetime import UTC, datetime

    pipeline: Pipeline = world["pipeline"]
    track_orders(pipeline)
    lake = pipeline.lake
    assert len(list(read_bad_rows(lake))) == 4
    assert len(list(read_bad_rows(lake, Selection(types=("adapter_failures",))))) == 0
    assert len(list(read_bad_rows(lake, Selection(schemas=("iglu:com.acme/order_placed/jsonschema/1-",))))) == 4
    assert len(list(read_bad_rows(lake, Selection(schemas=("com.other",))))) == 0
    assert len(list(read_bad_rows(lake, Selection(errors=("ResolutionError",))))) == 4
    assert len(list(read_bad_rows(lake, Selection(errors=("not found",))))) == 4
    assert len(list(read_bad_rows(lake, Selection(errors=("maxLength",))))) == 0
    failed_at = next(read_bad_rows(lake)).failed_at
    assert failed_at is not None
    assert len(list(read_bad_rows(lake, Selection(since=failed_at)))) == 4
    assert len(list(read_bad_rows(lake, Selection(until=failed_at)))) == 0
    assert len(list(read_bad_rows(lake, Selection(since=datetime(2030, 1, 1, tzinfo=UTC))))) == 0
    assert len(list(read_bad_rows(lake, Selection(limit=2)))) == 2


@pytest.mark.parametrize("case", sorted(p.stem for p in BADROWS.glob("*.json")))
def test_every_bad_row_type_is_described_for_selection(case: str) -> None:
    """Each type's failure yields its errors (and schemas where it names any), so `bad` and filters can group it."""
    from loader.selection import describe_errors

    row = json.loads((BADROWS / f"{case}.json").read_text())
    schemas, errors = describe_errors(row["data"].get("failure"))
    assert errors, f"{case}: no error described"
    if case in ("schema_violations", "tracker_protocol_violations", "loader_iglu_error"):
        assert schemas and all(s.startswith("iglu:") for s in schemas)


def webhook_payload(body: Any, *, timestamp: int) -> CollectorPayload:
    """An Iglu-webhook POST (`?schema=` names the event) sent with the wrong content type: an adapter failure."""
    return raw_record(
        vendor="com.snowplowanalytics.iglu",
        version="v1",
        querystring=(("schema", ORDER),),
        content_type="text/plain",
        body=json.dumps(body),
        timestamp=timestamp,
        useragent="acme-webhook/1.0",
    )


WEBHOOK_FIX = {
    "adapter_failures": [
        {
            "name": "webhook sent as text/plain",
            "conditions": [{"op": "Test", "path": "$.payload.contentType", "value": {"value": "text/plain"}}],
            "steps": [{"op": "Replace", "path": "$.contentType", "value": "application/json"}],
        }
    ]
}


def test_replaying_webhook_adapter_failures_twice_loads_each_event_once(world: dict[str, Any]) -> None:
    """Iglu-webhook adapter_failures (no eid): the same request failing twice is one distinct bad row, and replaying
    twice gives stable UUIDv5 eids per event (a JSON array split one record per element): one warehouse row each."""
    pipeline: Pipeline = world["pipeline"]
    publish_order_schema(world["registry"])
    payloads = [
        webhook_payload([{"orderId": "w-1", "total": 1}, {"orderId": "w-2", "total": 2}], timestamp=1_795_690_000_000),
        webhook_payload({"orderId": "w-3", "total": 3}, timestamp=1_795_690_000_001),
    ]
    assert pipeline.run(payloads) == (0, 2)
    assert pipeline.run(payloads) == (0, 2)  # the same requests again (a redelivery): two more rows, new timestamps
    stats = ReadStats()
    rows = list(read_bad_rows(pipeline.lake, Selection(types=("adapter_failures",)), stats))
    assert (len({r.row_id for r in rows}), stats.duplicates) == (2, 2)  # redelivered copies are read once

    replayer = Replayer(pipeline.lake, pipeline.resolver(), fixes=parse_fixes(WEBHOOK_FIX))
    plan = replayer.plan()
    assert (plan.report()["would_pass"], plan.report()["fixed"], plan.report()["duplicates_skipped"]) == (2, 2, 2)
    eids = [[dict(r.querystring)["eid"] for r in c.records] for c in plan.candidates]
    assert sorted(map(len, eids)) == [1, 2]  # the array body became one record per element
    assert all(str(uuid.UUID(e)) == e and uuid.UUID(e).version == 5 for es in eids for e in es)
    assert len({e for es in eids for e in es}) == 3  # one eid per event
    again = Replayer(pipeline.lake, pipeline.resolver(), fixes=parse_fixes(WEBHOOK_FIX)).plan()
    assert [[dict(r.querystring)["eid"] for r in c.records] for c in again.candidates] == eids

    from core.queue import open_publisher

    publisher = open_publisher(world["queue"])
    replayer.send(plan, publisher)
    assert pipeline.run(drain(world["queue"])) == (3, 0)
    loaded = Loader(pipeline.lake, world["warehouse"], pipeline.resolver()).load()
    assert (loaded.rows_read, loaded.rows_loaded) == (3, 3)

    forced = replayer.plan(include_replayed=True)
    replayer.send(forced, publisher)
    publisher.close()
    assert forced.sent_records == 3
    assert pipeline.run(drain(world["queue"])) == (3, 0)
    reloaded = Loader(pipeline.lake, world["warehouse"], pipeline.resolver()).load()
    assert (reloaded.rows_read, reloaded.rows_loaded) == (3, 0)
    with duckdb.connect(world["warehouse"].removeprefix("duckdb://"), read_only=True) as con:
        got = con.execute(
            "SELECT unstruct_event_com_acme_order_placed_1.orderId, event_id, v_tracker FROM events ORDER BY 1"
        ).fetchall()
    assert [(o, v) for o, _, v in got] == [(o, "com.snowplowanalytics.iglu-v1") for o in ("w-1", "w-2", "w-3")]
    assert {e for _, e, _ in got} == {e for es in eids for e in es}


BROKEN_FIX = {
    "schema_violations": [
        {
            "name": "a cast that cannot apply",
            "steps": [
                {"op": "Cast", "path": "$.raw.parameters.ue_px.data.data.total", "from": "Boolean", "to": "Array"}
            ],
        }
    ]
}


def test_failed_recoveries_become_schema_valid_recovery_errors_wrapping_the_original(world: dict[str, Any]) -> None:
    """A fix that cannot apply: a plan writes nothing; recording writes one recovery_error per row (configName, valid
    schema, recoveries 1) and marks the originals handled; failing alike keeps it; failing anew wraps the original
    once more, recoveries 2."""
    from tests.enrich.event_mix import check_bad_row

    pipeline: Pipeline = world["pipeline"]
    track_orders(pipeline)
    replayer = Replayer(pipeline.lake, pipeline.resolver(), fixes=parse_fixes(BROKEN_FIX))
    plan = replayer.plan()
    assert len(plan.failed) == 4 and list(pipeline.lake.list("bad/recovery_error/")) == []
    assert replayer.record_failures(plan) == 4
    assert replayer.record_failures(plan) == 0  # each failure is written once
    first = list(read_bad_rows(pipeline.lake, Selection(types=("recovery_error",))))
    assert len(first) == 4 and len(replayed_ids(pipeline.lake)) == 4
    for entry in first:
        check_bad_row(entry.doc)
        data = entry.doc["data"]
        assert data["failure"]["configName"] == "a cast that cannot apply"
        assert data["failure"]["error"].startswith("fix 'a cast that cannot apply' failed: Cast ")
        assert "expected Boolean, found " in data["failure"]["error"]
        assert (data["recoveries"], entry.wrapped_type) == (1, "schema_violations")

    assert replayer.record_failures(replayer.plan()) == 0  # failing again the same way: the live rows stay
    unfixed = Replayer(pipeline.lake, pipeline.resolver())  # now without the fix: a new failure (schema not found)
    second = unfixed.plan(Selection(types=("schema_violations",)))
    assert [c.entry.type_name for c in second.candidates if not c.replayed_before] == ["recovery_error"] * 4
    assert unfixed.record_failures(second) == 4
    first_ids = {e.row_id for e in first}
    again = [r for r in read_bad_rows(pipeline.lake, Selection(types=("recovery_error",))) if r.row_id not in first_ids]
    assert sorted(r.doc["data"]["recoveries"] for r in again) == [2, 2, 2, 2]
    assert {json.dumps(r.doc["data"]["payload"], sort_keys=True) for r in again} == {
        json.dumps(e.doc["data"]["payload"], sort_keys=True) for e in first
    }
    assert all(r.doc["data"]["payload"]["schema"].endswith("/schema_violations/jsonschema/2-0-1") for r in again)
