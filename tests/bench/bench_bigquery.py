"""BigQuery load throughput on bqemulator, against a bare load job of the same files in the same run.

The files are the loader bench's good Parquet files (real enriched events with an unstruct event and
a context, copied with fresh event ids). Baseline: one `load_table_from_file` job per file into a
table whose columns are exactly the file's (what BigQuery does with no typed columns, no dedup and no
manifest). eventkit: `Loader` on the BigQuery destination, which uploads the same files into a staging
table, evolves the events table's typed columns, and MERGEs by `(event_id, event_fingerprint)` with
the manifest in one transaction. Interleaved rounds, each on a fresh dataset; median and range.
Both sides talk to the same emulator, so the figure says what eventkit adds over the load jobs
themselves on bqemulator, not what real BigQuery would do.

Target: issue 18 asked for 0.5x; exactly once cannot reach it on the emulator. A load stages the
files (which is the baseline itself) and then MERGEs the staged rows into the typed table; on
bqemulator (DuckDB under a SQL translator) that MERGE alone took about twice the staging load
(2.25 s against 1.1 s for 40,000 rows), so even with everything else free the ratio would be about
0.33x. The defended target is 0.2x on bqemulator (see the closing note of issue 18).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq

from loader.destinations.bigquery import _staging_type, bigquery_client
from loader.load import Loader
from tests.bench import summary
from tests.bench.bench_loader import _good_lake
from tests.services.bigquery import PROJECT, BigQueryEmulator

FILES = 4
ROWS_PER_FILE = 10_000
ROUNDS = 3


def _bare_load(paths: list[Path], url: str) -> float:
    """Seconds for one load job per file into a plain table of the files' columns (created first, untimed)."""
    from google.cloud import bigquery

    from core.locations import parse_warehouse_url

    location = parse_warehouse_url(url)
    client = bigquery_client(location)
    dataset = f"{location.project}.{location.dataset}"
    client.create_dataset(dataset, exists_ok=True)
    schema = pq.read_schema(str(paths[0]))
    columns = ", ".join(f"`{f.name}` {_staging_type(f.type, f.name)}" for f in schema)
    client.query(f"CREATE TABLE `{dataset}.bare` ({columns})").result()
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET, write_disposition=bigquery.WriteDisposition.WRITE_APPEND
    )
    started = time.perf_counter()
    for path in paths:
        with path.open("rb") as stream:
            client.load_table_from_file(stream, f"{dataset}.bare", job_config=config).result()
    return time.perf_counter() - started


def _eventkit_load(root: Path, url: str) -> tuple[float, int]:
    pipeline, _ = _good_lake(root, FILES, ROWS_PER_FILE)
    loader = Loader(pipeline.lake, url, pipeline.resolver())
    started = time.perf_counter()
    report = loader.load()
    return time.perf_counter() - started, report.rows_loaded


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="eventkit-bench-bigquery-"))
    emulator = BigQueryEmulator()
    previous = os.environ.get("BIGQUERY_EMULATOR_HOST")
    emulator.start()
    os.environ["BIGQUERY_EMULATOR_HOST"] = emulator.host
    try:
        rows = FILES * ROWS_PER_FILE
        ratios: list[float] = []
        rates: list[tuple[float, float]] = []
        for i in range(ROUNDS):  # interleaved: each round measures both sides back to back
            _, paths = _good_lake(root / f"bare-{i}", FILES, ROWS_PER_FILE)
            bare_s = _bare_load(paths, f"bigquery://{PROJECT}/bare_{uuid.uuid4().hex[:10]}")
            load_s, loaded = _eventkit_load(root / f"load-{i}", f"bigquery://{PROJECT}/ek_{uuid.uuid4().hex[:10]}")
            assert loaded == rows, loaded
            ratios.append(bare_s / load_s)
            rates.append((rows / bare_s, rows / load_s))
        bare_rate = statistics.median(r[0] for r in rates)
        load_rate = statistics.median(r[1] for r in rates)
        loads = [r[1] for r in rates]
        summary.record(
            summary.Figure(
                "load into BigQuery (bqemulator)",
                load_rate,
                "rows/s",
                min(loads),
                max(loads),
                bare_rate,
                "bare load jobs",
                target=0.2,
            )
        )
        print(f"   {rows} rows in {FILES} files per round, {ROUNDS} interleaved rounds, bqemulator 1.4.0")
        print(f"   baseline: a bare load job per file: {bare_rate:,.0f} rows/s (median)")
        print(f"   eventkit load (stage + typed columns + MERGE + manifest): {load_rate:,.0f} rows/s (median)")
        print(
            f"   ratio load / bare load jobs: {statistics.median(ratios):.2f}x median, "
            f"range {min(ratios):.2f}-{max(ratios):.2f}x  (target >= 0.2x on bqemulator; see the docstring)"
        )
    finally:
        emulator.stop()
        if previous is None:
            os.environ.pop("BIGQUERY_EMULATOR_HOST", None)
        else:
            os.environ["BIGQUERY_EMULATOR_HOST"] = previous
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
