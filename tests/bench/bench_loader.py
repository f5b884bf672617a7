"""Loader and replay throughput, each against a baseline measured in the same run.

Load: good Parquet files (real enriched events: an unstruct event and a context each, made by the
real pipeline, then copied with fresh event ids) into DuckDB with one thread, against DuckDB reading
the same files with a bare `INSERT INTO t SELECT * FROM read_parquet(...)` with one thread (the
ceiling: no typed columns, no dedup, no manifest). Target: at least 0.5x.

Replay: schema-violation bad rows (unknown schema, then published) re-checked through the enrich
pipeline and sent to a SQLite raw queue, against enriching the same per-event raw records
directly (the re-check is an enrich run, so that is its ceiling).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from core.lake import LocalLake
from core.queue import open_publisher
from enrich.environment import Environment
from enrich.outputs.parquet import decode_parquet
from enrich.pipeline import enrich_payload
from loader.load import Loader
from loader.replay import Replayer
from loader.selection import read_bad_rows
from registry.validation import Validator
from tests.bench import summary
from tests.loader.pipeline import CASES, Pipeline, get_payload, self_describing_event

FILES = 20
ROWS_PER_FILE = 10_000
BAD_ROWS = 2_000
ORDER = "iglu:com.acme/order_placed/jsonschema/1-0-0"
PRODUCT = "iglu:com.acme/product_view/jsonschema/1-0-1"
SHOPPER = "iglu:com.acme/shopper/jsonschema/1-0-0"


def _good_lake(root: Path, files: int = FILES, rows_per_file: int = ROWS_PER_FILE) -> tuple[Pipeline, list[Path]]:
    registry = root / "registry"
    shutil.copytree(CASES / "evolution", registry)
    pipeline = Pipeline(LocalLake(root / "lake"), registry)
    data = {"sku": "a-1", "rating": 4.5, "tags": ["x", "y"], "dims": {"w": 1.0, "h": 2.0}, "currency": "EUR"}
    ctx = [(SHOPPER, {"id": "s-1", "segment": "vip", "visits": 3})]
    pipeline.run([get_payload(self_describing_event(PRODUCT, data, contexts=ctx)) for _ in range(200)])
    seed_name = next(pipeline.lake.list("good/"))
    seed = decode_parquet(pipeline.lake.read(seed_name))
    (root / "lake" / seed_name).unlink()
    reps = rows_per_file // seed.num_rows
    template = pa.concat_tables([seed] * reps)
    index = template.schema.get_field_index("event_id")
    paths = []
    for i in range(files):
        ids = pa.array([str(uuid.uuid4()) for _ in range(template.num_rows)])
        name = f"good/date=2026-11-26/hour=11/1795690800000-{i:012x}-000001.parquet"
        path = root / "lake" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(template.set_column(index, "event_id", ids), str(path), compression="snappy")
        paths.append(path)
    return pipeline, paths


def bench_load(root: Path) -> None:
    pipeline, paths = _good_lake(root)
    rows = FILES * ROWS_PER_FILE
    listed = ", ".join(f"'{p}'" for p in paths)

    con = duckdb.connect(str(root / "baseline.duckdb"))
    con.execute("SET threads = 1")
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet([{listed}]) LIMIT 0")
    started = time.perf_counter()
    con.execute(f"INSERT INTO t SELECT * FROM read_parquet([{listed}])")
    baseline_s = time.perf_counter() - started
    con.close()

    loader = Loader(pipeline.lake, f"duckdb://{root / 'warehouse.duckdb'}", pipeline.resolver(), threads=1)
    started = time.perf_counter()
    report = loader.load()
    load_s = time.perf_counter() - started
    assert report.rows_loaded == rows, report.to_json()

    started = time.perf_counter()
    again = loader.load()  # nothing new: the manifest check alone
    rerun_s = time.perf_counter() - started
    assert again.files == 0

    print(f"   load: {rows} rows in {FILES} files, 1 thread, typed columns: {report.columns_added}")
    print(f"   baseline INSERT…SELECT read_parquet: {rows / baseline_s:,.0f} rows/s")
    print(f"   eventkit load (typed + dedup + manifest): {rows / load_s:,.0f} rows/s per core")
    print(f"   ratio load / baseline: {baseline_s / load_s:.2f}x  (target >= 0.5x)")
    summary.record(
        summary.Figure(
            "load into DuckDB",
            rows / load_s,
            "rows/s",
            baseline=rows / baseline_s,
            baseline_name="INSERT...SELECT",
            target=0.5,
        )
    )
    print(f"   rerun with nothing new: {rerun_s * 1000:.0f} ms")


def bench_replay(root: Path) -> None:
    registry = root / "registry"
    pipeline = Pipeline(LocalLake(root / "lake"), registry)
    payloads = [get_payload(self_describing_event(ORDER, {"orderId": f"o-{i}", "total": i})) for i in range(BAD_ROWS)]
    pipeline.run(payloads)
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)
    resolver = pipeline.resolver()

    replayer = Replayer(pipeline.lake, resolver)
    entries = list(read_bad_rows(pipeline.lake))
    assert len(entries) == BAD_ROWS
    records = [r for e in entries for r in replayer.candidate(e).records]  # warm caches, build the baseline input
    env = Environment(Validator(resolver), processor=replayer.processor)  # what replay's re-check enriches with
    started = time.perf_counter()
    for record in records:
        enrich_payload(record, env)
    baseline_s = time.perf_counter() - started

    publisher = open_publisher(f"sqlite:///{root / 'queue.db'}")
    started = time.perf_counter()
    plan = replayer.plan()
    replayer.send(plan, publisher)
    replay_s = time.perf_counter() - started
    publisher.close()
    assert plan.sent_rows == BAD_ROWS, plan.report()

    print(f"   replay: {BAD_ROWS} schema_violations rows: read, rebuild, re-check, send to SQLite")
    print(f"   baseline enrich of the same raw records: {BAD_ROWS / baseline_s:,.0f} rows/s")
    print(f"   eventkit replay: {BAD_ROWS / replay_s:,.0f} rows/s")
    print(f"   ratio replay / enrich: {baseline_s / replay_s:.2f}x")
    summary.record(
        summary.Figure(
            "replay", BAD_ROWS / replay_s, "rows/s", baseline=BAD_ROWS / baseline_s, baseline_name="enrich alone"
        )
    )


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="eventkit-bench-loader-"))
    try:
        bench_load(root / "load")
        bench_replay(root / "replay")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
