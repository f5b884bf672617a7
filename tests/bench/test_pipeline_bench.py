"""The pipeline bench's measuring functions on a few hundred events, so a broken bench fails CI, not `make bench`."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest

from tests.bench.bench_pipeline import measure_embedded, measure_enrich_alone
from tests.bench.pipeline_traffic import EVENTS_PER_POST, event_id, post_body, post_of, write_bench_registry

pytestmark = pytest.mark.slow

EVENTS = 300


def test_every_event_id_names_its_post_and_bodies_differ_only_in_their_ids() -> None:
    """A row found in the lake leads back to the POST it came in: ids are unique per (POST, index)."""
    first, second = orjson.loads(post_body(7)), orjson.loads(post_body(8))
    ids = [e["eid"] for e in first["data"]]
    assert ids == [event_id(7, i) for i in range(EVENTS_PER_POST)]
    assert {post_of(i) for i in ids} == {7}
    assert not set(ids) & {e["eid"] for e in second["data"]}
    assert [{**e, "eid": ""} for e in first["data"]] == [{**e, "eid": ""} for e in second["data"]]


def _finite_positive(values: list[float]) -> bool:
    return bool(values) and all(math.isfinite(v) and v > 0 for v in values)


def test_up_run_counts_every_event_into_lake_and_warehouse_with_latencies_and_memory(tmp_path: Path) -> None:
    """`eventkit up` fed by the paced sender: every event is one good row and one warehouse row, timed, RSS sampled."""
    registry = write_bench_registry(tmp_path / "schemas")
    run = measure_embedded(tmp_path / "up", registry, EVENTS, rate=600.0, memory=True)
    assert run.events == EVENTS
    assert run.lake_rows == EVENTS and run.distinct_ids == EVENTS
    assert len(run.lake_latency) == EVENTS and len(run.warehouse_latency) == EVENTS
    assert _finite_positive(run.lake_latency) and _finite_positive(run.warehouse_latency)
    assert run.lake_rate > 0 and run.warehouse_rate is not None and run.warehouse_rate > 0
    assert run.peak_rss_mb is not None and run.peak_rss_mb > 30 and run.processes_at_peak >= 1
    assert 30 < run.peak_pss_mb <= run.peak_rss_mb


def test_enrich_alone_drains_the_same_posts_into_good_parquet(tmp_path: Path) -> None:
    """The baseline: one pinned `eventkit enrich` worker turns every queued event into exactly one good row."""
    registry = write_bench_registry(tmp_path / "schemas")
    run = measure_enrich_alone(tmp_path / "enrich", registry, EVENTS)
    assert run.lake_rows == EVENTS and run.distinct_ids == EVENTS
    assert math.isfinite(run.lake_rate) and run.lake_rate > 0


def test_the_warehouse_watcher_reads_the_manifest_only_when_the_database_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll opens the warehouse only after the database or its log changed; each loaded file is timed once."""
    import duckdb

    from tests.bench.pipeline_watch import WarehouseWatcher

    path = tmp_path / "warehouse.duckdb"
    watcher = WarehouseWatcher(path)
    watcher.poll()  # no warehouse yet
    opened: list[str] = []
    connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: (opened.append(str(a[0])), connect(*a, **k))[1])

    def load(name: str) -> None:
        with connect(str(path)) as con:
            con.execute("CREATE TABLE IF NOT EXISTS _eventkit_manifest (file VARCHAR, rows_in_file BIGINT)")
            con.execute("INSERT INTO _eventkit_manifest VALUES (?, 10)", [name])

    load("a.parquet")
    watcher.poll()
    watcher.poll()
    assert len(opened) == 1 and watcher.loaded({"a.parquet", "b.parquet"}) == 1
    first = watcher.time_of("a.parquet")
    load("b.parquet")
    watcher.poll()
    assert len(opened) == 2 and watcher.loaded({"a.parquet", "b.parquet"}) == 2
    assert watcher.time_of("a.parquet") == first
