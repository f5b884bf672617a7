"""The loader's commands on the cloud transports: a gs:// lake on fake-gcs-server, replay to the Pub/Sub emulator,
the real enrich worker consuming it, DuckDB loading it: each event exactly once; failed recoveries as recovery_error."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from core.badrows import RecoveryError, parse_bad_row
from core.cli import app
from core.lake import Lake, open_lake
from core.queue import open_subscriber
from enrich.cli import build_enrich
from enrich.outputs.commit import Backoff
from enrich.outputs.rolling import CutPolicy
from enrich.worker import EnrichWorker, WorkerConfig
from tests.badrow_schemas import assert_valid_bad_row
from tests.loader.pipeline import CASES, Pipeline, get_payload, registry_locations, self_describing_event
from tests.services.gcs import FakeGcs
from tests.services.pubsub import PubSubEmulator

pytestmark = [pytest.mark.gcs]

ORDER = "iglu:com.acme/order_placed/jsonschema/1-0-0"
EIDS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(1, 4)]
FAST = WorkerConfig(
    batch_size=50,
    pull_timeout_s=0.2,
    policy=CutPolicy(max_events=100, max_bytes=10**8, max_age_s=0.2),
    lake_backoff=Backoff(0.01, 0.05),
    registry_backoff=Backoff(0.01, 0.05),
)
ORDER_FIX = {
    "schema_violations": [
        {
            "name": "order_placed sent with order_id and a string total",
            "steps": [
                {"op": "Rename", "path": "$.raw.parameters.ue_px.data.data.order_id", "to": "orderId"},
                {"op": "Cast", "path": "$.raw.parameters.ue_px.data.data.total", "from": "String", "to": "Numeric"},
            ],
        }
    ]
}


def run(*args: str) -> Any:
    """The real CLI root in-process; the emulator hosts come from the session's environment."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def lake_url(gcs_emulator: FakeGcs, gcs_bucket: str) -> str:
    return f"gs://{gcs_bucket}/lake"


@pytest.fixture
def pipeline(lake_url: str, tmp_path: Path) -> Pipeline:
    """The real enrich pipeline writing good Parquet / bad rows into the gs:// lake."""
    return Pipeline(open_lake(lake_url), tmp_path / "registry")


def orders(with_mistake: bool = True) -> list[dict[str, str]]:
    """Three orders with eids (one integer total, one decimal) and, optionally, one tracking mistake."""
    events = [
        self_describing_event(ORDER, {"orderId": f"o-{i}", "total": total}, eid=eid)
        for i, (eid, total) in enumerate(zip(EIDS, (10, 2.5, 7), strict=True), start=1)
    ]
    if with_mistake:
        events.append(
            self_describing_event(
                ORDER, {"order_id": "o-4", "total": "9.50"}, eid="00000000-0000-4000-8000-000000000004"
            )
        )
    return events


def query(warehouse: str, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(warehouse.removeprefix("duckdb://"), read_only=True) as con:
        return con.execute(sql).fetchall()


def warehouse_orders(warehouse: str) -> list[tuple[Any, ...]]:
    """(orderId, total, event_id, rows with that event_id), one line per warehouse row."""
    return query(
        warehouse,
        "SELECT unstruct_event_com_acme_order_placed_1.orderId, unstruct_event_com_acme_order_placed_1.total, "
        "event_id, count(*) OVER (PARTITION BY event_id) FROM events ORDER BY 1",
    )


def lake_rows(lake: Lake, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(line) for name in lake.list(prefix) for line in lake.read(name).splitlines() if line.strip()]


def test_load_and_bad_on_a_gcs_lake(pipeline: Pipeline, lake_url: str, tmp_path: Path) -> None:
    """Enriched into gs://: `load` types columns and counts rows exactly, a rerun loads nothing, `bad` summarises."""
    shutil.copytree(CASES / "replay", pipeline.registry, dirs_exist_ok=True)
    assert pipeline.run([get_payload(p) for p in orders()]) == (3, 1)
    warehouse = f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    registry = registry_locations(pipeline.registry)

    first = run("load", "--lake", lake_url, "--warehouse", warehouse, "--registry", registry)
    assert (first["files"], first["rows_read"], first["rows_loaded"]) == (1, 3, 3)
    assert [(o, t, e, n) for o, t, e, n in warehouse_orders(warehouse)] == [
        ("o-1", 10.0, EIDS[0], 1),
        ("o-2", 2.5, EIDS[1], 1),
        ("o-3", 7.0, EIDS[2], 1),
    ]
    ((column_type,),) = query(
        warehouse,
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'events' AND column_name = 'unstruct_event_com_acme_order_placed_1'",
    )
    assert column_type == "STRUCT(orderId VARCHAR, total DOUBLE, currency VARCHAR)"
    assert query(warehouse, "SELECT DISTINCT typeof(collector_tstamp), typeof(event_id) FROM events") == [
        ("TIMESTAMP WITH TIME ZONE", "VARCHAR")
    ]

    again = run("load", "--lake", lake_url, "--warehouse", warehouse, "--registry", registry)
    assert (again["files"], again["rows_loaded"]) == (0, 0)
    assert query(warehouse, "SELECT count(*) FROM events") == [(3,)]

    summary = run("bad", "--lake", lake_url, "--json", "--by", "hour")
    assert summary["total"] == 1
    (group,) = summary["groups"]
    assert group["rows"] == 1 and group["type"] == "schema_violations"
    assert "com.acme/order_placed" in json.dumps(group) and "string found, number expected" in json.dumps(group)


def drain(worker: EnrichWorker, limit_s: float = 20.0) -> None:
    """Step the worker until a few pulls come back empty with nothing in flight, then flush."""
    idle, started = 0, time.monotonic()
    while idle < 3 and time.monotonic() - started < limit_s:
        idle = idle + 1 if worker.step() == 0 and worker.in_flight == 0 else 0
    worker.flush()


@pytest.fixture
def raw_queue(pubsub_emulator: PubSubEmulator, pubsub_project: str) -> Iterator[tuple[str, str]]:
    """(publish URL, subscribe URL) of a raw topic whose subscription exists before anything is published."""
    publish_url = f"pubsub://{pubsub_project}/raw"
    subscribe_url = f"{publish_url}?subscription=enrich"
    probe = open_subscriber(subscribe_url, lease_seconds=30)
    probe.check()  # type: ignore[attr-defined]  # Pub/Sub subscribers create topic and subscription here
    probe.close()
    yield publish_url, subscribe_url


@pytest.mark.pubsub
def test_a_truncated_object_in_a_gcs_lake_is_quarantined_and_the_rest_loads(
    pipeline: Pipeline, lake_url: str, tmp_path: Path
) -> None:
    """gs://: a truncated good object is quarantined (read from bytes, not a path), the other object loads,
    and a later load leaves it alone (an object name is never rewritten)."""
    shutil.copytree(CASES / "replay", pipeline.registry, dirs_exist_ok=True)
    assert pipeline.run([get_payload(p) for p in orders(with_mistake=False)]) == (3, 0)
    lake = open_lake(lake_url)
    (whole,) = list(lake.list("good/"))
    broken = whole.replace(".parquet", "-broken.parquet")
    lake.create(broken, lake.read(whole)[:200])
    warehouse = f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    where = ("--lake", lake_url, "--warehouse", warehouse, "--registry", registry_locations(pipeline.registry))

    first = run("load", *where)
    assert (first["files"], first["rows_loaded"]) == (1, 3)
    assert [q["file"] for q in first["quarantined"]] == [broken]
    again = run("load", *where)
    assert (again["files"], again["quarantined"], again["skipped_quarantined"]) == (0, [], 1)


def test_replay_to_pubsub_through_the_enrich_worker_loads_each_event_once(
    pipeline: Pipeline, lake_url: str, raw_queue: tuple[str, str], tmp_path: Path
) -> None:
    """gs:// bad rows → `replay` to Pub/Sub → enrich worker → gs:// → `load`: once each, also after a forced resend;
    the still-failing row becomes a schema-valid recovery_error that a later replay with a fix recovers."""
    publish_url, subscribe_url = raw_queue
    assert pipeline.run([get_payload(p) for p in orders()]) == (0, 4)  # the schema is not published yet
    shutil.copytree(CASES / "replay", pipeline.registry, dirs_exist_ok=True)
    registry = registry_locations(pipeline.registry)
    warehouse = f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    replay = ("replay", "--lake", lake_url, "--raw", publish_url, "--registry", registry, "--yes", "--json")

    def enrich_and_load() -> dict[str, Any]:
        enrich, _ = build_enrich(registry, None, cache_ttl=0.0)
        subscriber = open_subscriber(subscribe_url, lease_seconds=30)
        try:
            drain(EnrichWorker(subscriber, open_lake(lake_url), enrich, FAST))
        finally:
            subscriber.close()
        loaded: dict[str, Any] = run("load", "--lake", lake_url, "--warehouse", warehouse, "--registry", registry)
        return loaded

    sent = run(*replay)
    assert (sent["sent_rows"], sent["sent_records"], sent["still_failing"], sent["recovery_errors"]) == (3, 3, 1, 1)
    assert enrich_and_load()["rows_loaded"] == 3
    expected = [("o-1", 10.0, EIDS[0], 1), ("o-2", 2.5, EIDS[1], 1), ("o-3", 7.0, EIDS[2], 1)]
    assert warehouse_orders(warehouse) == expected

    # The failed recovery: one recovery_error row wrapping the original, valid against its published schema.
    lake = open_lake(lake_url)
    assert all("/date=" in n and "/hour=" in n for n in lake.list("bad/recovery_error/"))
    (recovery,) = lake_rows(lake, "bad/recovery_error/")
    assert_valid_bad_row(recovery)
    assert_valid_bad_row(recovery["data"]["payload"])
    assert isinstance(parse_bad_row(recovery), RecoveryError)
    assert recovery["data"]["recoveries"] == 1
    assert recovery["data"]["payload"]["schema"].endswith("/schema_violations/jsonschema/2-0-1")
    assert "still failing after replay re-check" in recovery["data"]["failure"]["error"]

    again = run(*replay)
    assert (again["sent_rows"], again["already_replayed"], again["recovery_errors"]) == (0, 4, 0)
    forced = run(*replay, "--include-replayed", "--type", "schema_violations", "--schema", "com.acme/order_placed")
    assert (forced["sent_rows"], forced["recovery_errors"]) == (3, 0)  # the recovery_error failed as before: kept
    reload = enrich_and_load()
    assert (reload["rows_read"], reload["rows_loaded"]) == (3, 0)
    assert warehouse_orders(warehouse) == expected

    # Later, with a fix: the live recovery_error (selected by the type it wraps) is unwrapped, fixed and loaded once.
    fixes = tmp_path / "fixes.json"
    fixes.write_text(json.dumps(ORDER_FIX))
    fixed = run(*replay, "--type", "schema_violations", "--fixes", str(fixes))
    # Selected: the 4 originals (handled before) and the live recovery_error.
    assert (fixed["selected"], fixed["already_replayed"]) == (5, 4)
    assert (fixed["sent_rows"], fixed["fixed"], fixed["recovery_errors"]) == (1, 1, 0)
    assert [g["type"] for g in fixed["by_failure"] if g.get("would_pass")] == ["recovery_error"]
    assert enrich_and_load()["rows_loaded"] == 1
    assert warehouse_orders(warehouse)[-1] == ("o-4", 9.5, "00000000-0000-4000-8000-000000000004", 1)
    assert query(warehouse, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(4, 4)]
