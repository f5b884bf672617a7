"""Loading good events into DuckDB: typed columns per model, schema evolution, manifest, dedup, rollback."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import LakeUnavailable, TransientError
from core.lake import LocalLake, open_lake
from enrich.outputs.parquet import decode_parquet
from loader.columns import RegistryTyping
from loader.destinations.duckdb import DuckDBDestination
from loader.destinations.duckdb_tables import MANIFEST_TABLE
from loader.destinations.port import BatchTooLarge, LoadBatch
from loader.load import Loader, quarantined_files
from tests.loader.pipeline import CASES, Pipeline, get_payload, self_describing_event

PRODUCT = "iglu:com.acme/product_view/jsonschema/{}"
SHOPPER = "iglu:com.acme/shopper/jsonschema/1-0-0"


def publish(registry: Path, path: str) -> None:
    """Copy one case schema (relative to tests/cases/loader/evolution) into the test's registry folder."""
    target = registry / path
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(CASES / "evolution" / path, target)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Pipeline, str]:
    registry = tmp_path / "registry"
    pipeline = Pipeline(open_lake(str(tmp_path / "lake")), registry)
    publish(registry, "com.acme/shopper/jsonschema/1-0-0")
    return pipeline, f"duckdb://{tmp_path / 'warehouse.duckdb'}"


def load(pipeline: Pipeline, warehouse: str) -> dict[str, object]:
    return Loader(pipeline.lake, warehouse, pipeline.resolver()).load().to_json()


def query(warehouse: str, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(warehouse.removeprefix("duckdb://"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_schema_evolution_addition_revision_and_new_model(setup: tuple[Pipeline, str]) -> None:
    """1-0-0, then 1-0-1 (new optional field, integer → number), then 2-0-0: columns widen, a new model gets its own."""
    pipeline, warehouse = setup
    registry = pipeline.registry
    publish(registry, "com.acme/product_view/jsonschema/1-0-0")
    first = {
        "sku": "a-1",
        "rating": 4,
        "viewedAt": "2026-11-26T10:00:00.250Z",
        "tags": ["new", "red"],
        "category": "hats",
        "dims": {"w": 1.5, "h": 2},
        "onSale": True,
        "note": None,
        "extra": {"free": [1, 2]},
        "mixed": 7,
    }
    eid1 = str(uuid.uuid4())
    ctx = [(SHOPPER, {"id": "s-1", "visits": 3})]
    pipeline.run([get_payload(self_describing_event(PRODUCT.format("1-0-0"), first, contexts=ctx, eid=eid1))])
    report = load(pipeline, warehouse)
    assert report["rows_loaded"] == 1
    assert set(report["columns_added"]) == {"unstruct_event_com_acme_product_view_1", "contexts_com_acme_shopper_1"}
    rows = query(
        warehouse,
        "SELECT u.sku, u.rating, u.viewedAt, u.tags, u.category, u.dims.w, u.onSale, u.note, u.extra, u.mixed, "
        "c[1].id, c[1].visits FROM (SELECT unstruct_event_com_acme_product_view_1 AS u, "
        "contexts_com_acme_shopper_1 AS c FROM events)",
    )
    assert rows == [
        (
            "a-1",
            4,
            datetime(2026, 11, 26, 10, 0, 0, 250000, tzinfo=UTC),
            ["new", "red"],
            "hats",
            1.5,
            True,
            None,
            '{"free":[1,2]}',
            "7",
            "s-1",
            3,
        )
    ]
    types = dict(query(warehouse, "SELECT column_name, data_type FROM information_schema.columns"))
    assert types["unstruct_event_com_acme_product_view_1"].startswith("STRUCT(sku VARCHAR, rating BIGINT, ")

    # 1-0-1: currency added, rating becomes a number: the column is widened, 1-0-0 values are kept.
    publish(registry, "com.acme/product_view/jsonschema/1-0-1")
    second = {"sku": "a-2", "rating": 4.5, "currency": "EUR"}
    pipeline.run([get_payload(self_describing_event(PRODUCT.format("1-0-1"), second))])
    report = load(pipeline, warehouse)
    assert report["columns_widened"] == ["unstruct_event_com_acme_product_view_1"]
    assert query(
        warehouse,
        "SELECT u.sku, u.rating, u.currency, u.tags FROM (SELECT unstruct_event_com_acme_product_view_1 AS u "
        "FROM events) ORDER BY 1",
    ) == [("a-1", 4.0, None, ["new", "red"]), ("a-2", 4.5, "EUR", None)]
    types = dict(query(warehouse, "SELECT column_name, data_type FROM information_schema.columns"))
    assert "rating DOUBLE" in types["unstruct_event_com_acme_product_view_1"]
    assert types["unstruct_event_com_acme_product_view_1"].endswith("currency VARCHAR)")

    # 2-0-0: a new model is a new column; the model-1 column is untouched.
    publish(registry, "com.acme/product_view/jsonschema/2-0-0")
    third = {"productId": "p-3", "price": 12.5, "sku": 3}
    pipeline.run([get_payload(self_describing_event(PRODUCT.format("2-0-0"), third))])
    report = load(pipeline, warehouse)
    assert report["columns_added"] == ["unstruct_event_com_acme_product_view_2"]
    assert query(
        warehouse,
        "SELECT unstruct_event_com_acme_product_view_1.sku, unstruct_event_com_acme_product_view_2.productId, "
        "unstruct_event_com_acme_product_view_2.sku, unstruct_event_com_acme_product_view_2.price FROM events "
        "ORDER BY collector_tstamp, etl_tstamp",
    ) == [("a-1", None, None, None), ("a-2", None, None, None), (None, "p-3", 3, 12.5)]
    assert query(warehouse, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(3, 3)]


def test_a_known_later_version_types_the_column_wide_from_the_start(setup: tuple[Pipeline, str]) -> None:
    """When 1-0-1 (rating: number) is already published, loading 1-0-0 events creates rating as DOUBLE at once."""
    pipeline, warehouse = setup
    publish(pipeline.registry, "com.acme/product_view/jsonschema/1-0-0")
    publish(pipeline.registry, "com.acme/product_view/jsonschema/1-0-1")
    pipeline.run([get_payload(self_describing_event(PRODUCT.format("1-0-0"), {"sku": "x", "rating": 3}))])
    load(pipeline, warehouse)
    (column_type,) = query(
        warehouse,
        "SELECT data_type FROM information_schema.columns WHERE column_name = 'unstruct_event_com_acme_product_view_1'",
    )[0]
    assert "rating DOUBLE" in str(column_type) and "currency VARCHAR" in str(column_type)


def test_rerun_loads_nothing_twice_and_duplicates_are_dropped(setup: tuple[Pipeline, str]) -> None:
    """Files in the manifest are skipped; the same (event_id, fingerprint) in a batch or in a later file loads once."""
    pipeline, warehouse = setup
    publish(pipeline.registry, "com.acme/product_view/jsonschema/1-0-0")
    events = [self_describing_event(PRODUCT.format("1-0-0"), {"sku": f"s{i}"}) for i in range(5)]
    pipeline.run([get_payload(e) for e in events] + [get_payload(events[0])])  # a duplicate inside one file
    assert load(pipeline, warehouse)["rows_loaded"] == 5
    assert load(pipeline, warehouse)["files"] == 0
    pipeline.run([get_payload(e) for e in events[:3]])  # the tracker retried: same eids, same params
    report = load(pipeline, warehouse)
    assert (report["files"], report["rows_read"], report["rows_loaded"]) == (1, 3, 0)
    assert query(warehouse, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(5, 5)]
    assert query(warehouse, f"SELECT count(*) FROM {MANIFEST_TABLE}") == [(2,)]


def test_a_failed_load_leaves_nothing_and_the_next_run_loads_everything_once(
    setup: tuple[Pipeline, str], tmp_path: Path
) -> None:
    """A batch with a broken file rolls back (no rows, no columns, no manifest); after the fix it loads exactly once."""
    pipeline, warehouse = setup
    publish(pipeline.registry, "com.acme/product_view/jsonschema/1-0-0")
    pipeline.run([get_payload(self_describing_event(PRODUCT.format("1-0-0"), {"sku": "a"}))])
    # A Parquet file whose txn_id holds text: the INSERT fails after the typed column was added.
    good = decode_parquet(pipeline.lake.read(next(pipeline.lake.list("good/"))))
    bad = good.set_column(good.schema.get_field_index("txn_id"), "txn_id", pa.array(["not a number"]))
    sink = pa.BufferOutputStream()
    pq.write_table(bad, sink)
    broken = "good/date=2026-11-26/hour=11/1795690809999-aaaaaaaaaaaa-000001.parquet"
    pipeline.lake.create(broken, sink.getvalue().to_pybytes())
    with pytest.raises(duckdb.Error):
        load(pipeline, warehouse)
    assert query(warehouse, f"SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM {MANIFEST_TABLE})") == [
        (0, 0)
    ]
    assert query(
        warehouse, "SELECT count(*) FROM information_schema.columns WHERE column_name LIKE 'unstruct_event_com%'"
    ) == [(0,)]
    (tmp_path / "lake" / broken).unlink()
    assert load(pipeline, warehouse)["rows_loaded"] == 1
    assert load(pipeline, warehouse)["rows_loaded"] == 0
    assert query(warehouse, "SELECT unstruct_event_com_acme_product_view_1.sku FROM events") == [("a",)]


class NoLocalFilesLake(LocalLake):
    """A real local lake that hides its files' paths, so the loader takes the read-bytes path it uses for GCS."""

    def local_path(self, name: str = "") -> None:  # type: ignore[override]
        return None


def test_lakes_without_local_files_are_read_through_arrow(tmp_path: Path) -> None:
    """Without local paths (GCS) the loader reads bytes and loads the same rows and typed columns."""
    registry = tmp_path / "registry"
    pipeline = Pipeline(NoLocalFilesLake(tmp_path / "lake"), registry)
    publish(registry, "com.acme/shopper/jsonschema/1-0-0")
    publish(registry, "com.acme/product_view/jsonschema/1-0-0")
    ctx = [(SHOPPER, {"id": "s-9"})]
    pipeline.run([get_payload(self_describing_event(PRODUCT.format("1-0-0"), {"sku": "g"}, contexts=ctx))])
    warehouse = f"duckdb://{tmp_path / 'w.duckdb'}"
    assert load(pipeline, warehouse)["rows_loaded"] == 1
    assert query(
        warehouse, "SELECT unstruct_event_com_acme_product_view_1.sku, contexts_com_acme_shopper_1[1].id FROM events"
    ) == [("g", "s-9")]


def test_a_version_missing_from_the_registry_falls_back_to_json(setup: tuple[Pipeline, str]) -> None:
    """Events validated against a schema the registry no longer has still load, into a JSON column."""
    pipeline, warehouse = setup
    publish(pipeline.registry, "com.acme/product_view/jsonschema/1-0-0")
    pipeline.run([get_payload(self_describing_event(PRODUCT.format("1-0-0"), {"sku": "gone", "rating": 2}))])
    shutil.rmtree(pipeline.registry / "com.acme" / "product_view")
    load(pipeline, warehouse)
    (value,) = query(warehouse, "SELECT unstruct_event_com_acme_product_view_1 FROM events")[0]
    assert value == '{"sku":"gone","rating":2}'


def test_contexts_and_derived_contexts_share_model_columns(setup: tuple[Pipeline, str]) -> None:
    """Every entity of a model (several per event) lands in its LIST column; events without one get NULL."""
    pipeline, warehouse = setup
    publish(pipeline.registry, "com.acme/product_view/jsonschema/1-0-0")
    two = [(SHOPPER, {"id": "s-1"}), (SHOPPER, {"id": "s-2", "segment": "vip"})]
    pipeline.run(
        [
            get_payload(self_describing_event(PRODUCT.format("1-0-0"), {"sku": "a"}, contexts=two)),
            get_payload(self_describing_event(PRODUCT.format("1-0-0"), {"sku": "b"})),
        ]
    )
    load(pipeline, warehouse)
    assert query(
        warehouse,
        "SELECT unstruct_event_com_acme_product_view_1.sku, "
        "list_transform(contexts_com_acme_shopper_1, lambda s: s.id || ':' || coalesce(s.segment, '-')) "
        "FROM events ORDER BY 1",
    ) == [("a", ["s-1:-", "s-2:vip"]), ("b", None)]


def test_an_empty_lake_loads_nothing(tmp_path: Path) -> None:
    """No good files: the tables exist and nothing is loaded."""
    lake = LocalLake(tmp_path / "lake")
    warehouse = f"duckdb://{tmp_path / 'w.duckdb'}"
    report = Loader(lake, warehouse, Pipeline(lake, tmp_path / "r").resolver()).load()
    assert (report.files, report.rows_loaded) == (0, 0)
    assert query(warehouse, "SELECT count(*) FROM events") == [(0,)]


def _three_files(pipeline: Pipeline) -> None:
    publish(pipeline.registry, "com.acme/product_view/jsonschema/1-0-0")
    for i in range(3):
        pipeline.run([get_payload(self_describing_event(PRODUCT.format("1-0-0"), {"sku": f"s{i}"}))])


def test_a_batch_the_warehouse_cannot_hold_is_loaded_in_halves(
    setup: tuple[Pipeline, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its memory cap the warehouse refuses a batch (injected here for batches of more than one file, on a
    real DuckDB): the loader loads it in halves, every row once, nothing quarantined."""
    pipeline, warehouse = setup
    _three_files(pipeline)
    real_load = DuckDBDestination.load
    batches: list[int] = []

    def capped(self: DuckDBDestination, batch: LoadBatch, typing: Any) -> Any:
        batches.append(len(batch.files))
        if len(batch.files) > 1:
            raise BatchTooLarge(f"{len(batch.files)} files")
        return real_load(self, batch, typing)

    monkeypatch.setattr(DuckDBDestination, "load", capped)
    report = Loader(pipeline.lake, warehouse, pipeline.resolver(), memory_mb=64).load()
    assert (report.files, report.rows_loaded, report.quarantined) == (3, 3, [])
    assert batches == [3, 1, 2, 1, 1]
    assert query(warehouse, f"SELECT count(*), (SELECT count(*) FROM {MANIFEST_TABLE}) FROM events") == [(3, 3)]


def test_one_file_the_warehouse_cannot_hold_is_retried_not_quarantined(
    setup: tuple[Pipeline, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single file past the cap is an infrastructure limit, not a broken file: a TransientError naming it."""
    pipeline, warehouse = setup
    _three_files(pipeline)

    def refuses(self: DuckDBDestination, batch: LoadBatch, typing: Any) -> Any:
        raise BatchTooLarge("out of memory")

    monkeypatch.setattr(DuckDBDestination, "load", refuses)
    with pytest.raises(TransientError, match=r"ran out of memory loading good/.*\.parquet"):
        Loader(pipeline.lake, warehouse, pipeline.resolver()).load()
    assert quarantined_files(warehouse) == []


def test_duckdb_out_of_memory_is_batch_too_large(setup: tuple[Pipeline, str]) -> None:
    """The real mapping: a DuckDB capped below what one load needs raises BatchTooLarge, and rolls back."""
    pipeline, warehouse = setup
    _three_files(pipeline)
    destination = DuckDBDestination(warehouse, memory_mb=1)
    try:
        files = tuple(sorted(pipeline.lake.list("good/")))
        with pytest.raises(BatchTooLarge):
            destination.load(LoadBatch(pipeline.lake, files), RegistryTyping(pipeline.resolver()))
    finally:
        destination.close()
    assert query(warehouse, f"SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM {MANIFEST_TABLE})") == [
        (0, 0)
    ]


@pytest.mark.parametrize(("merge", "row_groups"), [(True, 1), (False, 3)])
def test_small_loads_are_merged_into_the_tables_row_groups_unless_told_not_to(
    setup: tuple[Pipeline, str], merge: bool, row_groups: int
) -> None:
    """Each load appends a row group; DuckDB's checkpoint merges it into the last one (a rewrite), unless the
    loader leaves small loads unmerged (`eventkit up`'s continuous loader). The rows are the same either way."""
    pipeline, warehouse = setup
    publish(pipeline.registry, "com.acme/product_view/jsonschema/1-0-0")
    for i in range(3):
        pipeline.run([get_payload(self_describing_event(PRODUCT.format("1-0-0"), {"sku": f"s{i}"}))])
        assert Loader(pipeline.lake, warehouse, pipeline.resolver(), merge_small_loads=merge).load().rows_loaded == 1
    assert query(warehouse, "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('events')") == [(row_groups,)]
    assert query(warehouse, "SELECT unstruct_event_com_acme_product_view_1.sku FROM events ORDER BY 1") == [
        ("s0",),
        ("s1",),
        ("s2",),
    ]


def _continuous_loader_child(lake_url: str, warehouse: str, registry: str, stop: Any) -> None:
    from loader.load import continuous_loader

    continuous_loader(lake_url, warehouse, registry, interval_s=60, watch_s=0.05)(stop)


def test_the_continuous_loader_loads_a_new_file_at_once_when_it_watches_the_lake(
    setup: tuple[Pipeline, str],
) -> None:
    """Rounds every 60 s, the lake listed every 50 ms: a file that appears between rounds is loaded within
    2 s, and between loads the warehouse is free for readers. (The loop runs in a child process: DuckDB
    refuses one process a read-only and a writing connection to the same file.)"""
    import multiprocessing
    import time

    from tests.loader.pipeline import registry_locations

    pipeline, warehouse = setup
    pipeline.clock = time.time_ns() // 1_000_000 - 5000  # in this hour's (or the last) partition, as enrich writes
    publish(pipeline.registry, "com.acme/product_view/jsonschema/1-0-0")
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    args = (str(pipeline.lake.url), warehouse, registry_locations(pipeline.registry), stop)
    child = ctx.Process(target=_continuous_loader_child, args=args)
    child.start()

    def rows_within(seconds: float, want: int) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if query(warehouse, "SELECT count(*) FROM events") == [(want,)]:
                    return True
            except duckdb.Error:  # not created yet, or the loader holds it
                pass
            time.sleep(0.05)
        return False

    try:
        assert rows_within(30, 0)  # the first round (a child starting up): the tables exist
        for i in range(2):
            pipeline.run([get_payload(self_describing_event(PRODUCT.format("1-0-0"), {"sku": f"s{i}"}))])
            assert rows_within(2, i + 1), f"file {i + 1} not loaded within 2 s, with rounds 60 s apart"
    finally:
        stop.set()
        child.join(20)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0


class _UnlistableLake:
    """A real lake whose listing fails while `broken` is set (a dropped mount, a permission taken away), counted.

    The failure is injected, raised as LocalLake raises one, because these tests run as root, which no
    permission stops, and a missing or replaced folder lists as empty (core/lake/local.py)."""

    def __init__(self, lake: Any) -> None:
        self._lake = lake
        self.broken = True
        self.listings = 0

    def list(self, prefix: str) -> list[str]:
        self.listings += 1
        if self.broken:
            raise LakeUnavailable(f"{self._lake.url}: cannot list {prefix!r}: Transport endpoint is not connected")
        return list(self._lake.list(prefix))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lake, name)


def test_a_lake_that_cannot_be_listed_while_watched_is_logged_once_a_round_and_loaded_when_it_is_back(
    setup: tuple[Pipeline, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watch lists every 50 ms and the lake fails every listing: the loop keeps running, says so once per
    0.5 s round (not once per listing), and loads the file waiting in the lake as soon as it can list again."""
    import io
    import threading
    import time

    from structlog.testing import capture_logs

    import loader.load
    from core.telemetry import configure_logging
    from loader.load import continuous_loader
    from tests.loader.pipeline import registry_locations

    pipeline, warehouse = setup
    pipeline.clock = time.time_ns() // 1_000_000 - 5000  # in this hour's (or the last) partition, as enrich writes
    publish(pipeline.registry, "com.acme/product_view/jsonschema/1-0-0")
    pipeline.run([get_payload(self_describing_event(PRODUCT.format("1-0-0"), {"sku": "s0"}))])
    lake = _UnlistableLake(pipeline.lake)
    monkeypatch.setattr(loader.load, "open_lake", lambda url: lake)
    configure_logging(level="info", stream=io.StringIO())  # whatever level an earlier test left
    stop = threading.Event()
    loop = threading.Thread(
        target=continuous_loader(
            str(pipeline.lake.url), warehouse, registry_locations(pipeline.registry), interval_s=0.5, watch_s=0.05
        ),
        args=(stop,),
    )
    try:
        with capture_logs() as logs:  # structlog's records as dicts, from every thread
            loop.start()
            time.sleep(1.6)
            failures = [entry for entry in logs if entry["event"] == "load failed; retrying"]
            assert loop.is_alive()
            assert 2 <= len(failures) <= 5, failures  # one per round: rounds at 0, 0.5, 1.0, 1.5 s
            assert "Transport endpoint is not connected" in failures[0]["error"]
            assert lake.listings > 3 * len(failures)  # the watch went on listing between the rounds, silently
            lake.broken = False
            deadline = time.monotonic() + 5
            while not any(entry["event"] == "loaded" for entry in logs) and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        stop.set()
        loop.join(20)
        configure_logging()
    assert not loop.is_alive()
    assert query(warehouse, "SELECT unstruct_event_com_acme_product_view_1.sku FROM events") == [("s0",)]
