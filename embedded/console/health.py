"""Health: events per minute (good vs bad), queue depth, freshness, enrich, last load — from what the stages expose.

Per-minute counts come from the Micro store's receive times (indexed); enrich's figures from the
Prometheus text at `/metrics/enrich` and the collector's at `/metrics` (fetched with a short
timeout: a stage that does not answer is shown as not answering, never waited for); the queue
depth from the SQLite queue file (read-only); the last load from the DuckDB warehouse's manifest,
read only when its lock is free within a moment (`up`'s loader takes turns with readers).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.errors import ConfigError, TransientError
from embedded.console.charts import BarChart, bar_chart
from embedded.console.events import minute_counts
from embedded.micro_store import MicroStore

__all__ = ["Health", "collect", "per_minute_chart"]


@dataclass(slots=True)
class Health:
    """The figures the health page shows; None where a source is not configured or did not answer."""

    chart: BarChart | None = None
    good_last_hour: int = 0
    bad_last_hour: int = 0
    queue_depth: int | None = None
    collector: dict[str, float] | None = None
    enrich: dict[str, float] | None = None
    freshness_s: float | None = None  # mean collector → lake commit latency
    last_load: str | None = None
    loaded_files: int | None = None
    notes: list[str] = field(default_factory=list)


def per_minute_chart(store: MicroStore, now_ms: int | None = None) -> tuple[BarChart, int, int]:
    """The last hour, one good/bad bar pair per minute; also the hour's totals."""
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    start = (now_ms // 60000 - 59) * 60000
    counts = minute_counts(store, start)
    buckets = [start + i * 60000 for i in range(60)]
    labels = [datetime.fromtimestamp(b / 1000, tz=UTC).strftime("%H:%M") for b in buckets]
    good = [counts.get(b, (0, 0))[0] for b in buckets]
    bad = [counts.get(b, (0, 0))[1] for b in buckets]
    chart = bar_chart(labels, {"good": good, "bad": bad}, title="Events per minute, last hour (UTC)")
    return chart, sum(good), sum(bad)


def _samples(text: str) -> dict[str, float]:
    """Prometheus text → sample name → value summed over labels."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name] = out.get(sample.name, 0.0) + float(sample.value)
    return out


async def _scrape(client: httpx.AsyncClient, url: str) -> dict[str, float] | None:
    try:
        response = await client.get(url)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return _samples(response.text)
    except ValueError:
        return None


def queue_depth(queue_url: str | None) -> int | None:
    """Messages waiting in a `sqlite://` queue (read-only), None for other queues or when it cannot be read."""
    if not queue_url or not queue_url.startswith("sqlite://"):
        return None
    path = Path(queue_url[len("sqlite://") :])
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'queue_%'")]
            return sum(int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names)
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def last_load(warehouse_url: str | None) -> tuple[str | None, int | None, str | None]:
    """(when the last file was loaded, files loaded, a note) from a DuckDB warehouse's manifest."""
    if not warehouse_url or not warehouse_url.startswith("duckdb://"):
        return None, None, None
    from loader.destinations.duckdb_tables import MANIFEST_TABLE, open_warehouse, warehouse_path

    if not warehouse_path(warehouse_url).exists():
        return None, 0, "the warehouse has no loads yet"
    try:
        con = open_warehouse(warehouse_url, wait_s=0.5, read_only=True)
    except (ConfigError, TransientError) as e:
        return None, None, f"warehouse busy: {e}"
    try:
        tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if MANIFEST_TABLE not in tables:
            return None, 0, "the warehouse has no loads yet"
        row = con.execute(f"SELECT max(loaded_at), count(*) FROM {MANIFEST_TABLE}").fetchone()
        when, files = row if row is not None else (None, 0)
    finally:
        con.close()
    return (None if when is None else when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")), int(files), None


async def collect(
    store: MicroStore | None, metrics_base: str | None, queue_url: str | None, warehouse_url: str | None
) -> Health:
    """Every figure of the health page, each from its own source."""
    health = Health()
    if store is not None:
        health.chart, health.good_last_hour, health.bad_last_hour = per_minute_chart(store)
    if metrics_base:
        async with httpx.AsyncClient(timeout=1.0) as client:
            health.collector = await _scrape(client, f"{metrics_base}/metrics")
            health.enrich = await _scrape(client, f"{metrics_base}/metrics/enrich")
        if health.enrich is not None:
            n = health.enrich.get("enrich_commit_latency_seconds_count", 0.0)
            if n:
                health.freshness_s = health.enrich.get("enrich_commit_latency_seconds_sum", 0.0) / n
    else:
        health.notes.append("no metrics address: start with --metrics URL to see the collector and enrich")
    health.queue_depth = queue_depth(queue_url)
    health.last_load, health.loaded_files, note = last_load(warehouse_url)
    if note:
        health.notes.append(note)
    return health
