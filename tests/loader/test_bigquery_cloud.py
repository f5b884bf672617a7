"""BigQuery on the cloud transports end to end: the tracker through collector, Pub/Sub, enrich and a gs:// lake
into BigQuery; and bad rows in a gs:// lake → `replay` to the Pub/Sub emulator → the
real enrich worker → the gs:// lake → `eventkit load --warehouse bigquery://…` (load jobs over gs:// URIs on
bqemulator): each recovered event exactly once, a forced resend and a second load add nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.lake import open_lake
from core.locations import BUNDLED_SCHEMAS, parse_warehouse_url
from core.queue import open_subscriber
from enrich.cli import build_enrich
from enrich.worker import EnrichWorker
from loader.destinations.bigquery import bigquery_client
from tests.enrich.event_mix import read_lake, write_acme_registry
from tests.enrich.processes import EventkitProcess, free_port
from tests.enrich.tracker_traffic import send_mix
from tests.loader.pipeline import CASES, Pipeline, get_payload, registry_locations
from tests.loader.test_cloud import EIDS, FAST, drain, orders, raw_queue, run
from tests.services.bigquery import FakeGcsOnDisk, bigquery_dataset, bigquery_emulator, gcs_on_disk

__all__ = ["bigquery_dataset", "bigquery_emulator", "gcs_on_disk", "raw_queue"]  # fixtures used here

pytestmark = [pytest.mark.gcs, pytest.mark.pubsub]


def bigquery_orders(url: str) -> list[tuple[Any, ...]]:
    """(orderId, total, event_id, rows with that event_id), one line per row of the BigQuery events table."""
    location = parse_warehouse_url(url)
    client = bigquery_client(location)
    try:
        table = f"`{location.project}.{location.dataset}.events`"
        rows = client.query(
            "SELECT unstruct_event_com_acme_order_placed_1.orderId AS o, unstruct_event_com_acme_order_placed_1.total"
            f" AS t, event_id, COUNT(*) OVER (PARTITION BY event_id) AS n FROM {table} ORDER BY o"
        ).result()
        return [(r["o"], r["t"], r["event_id"], r["n"]) for r in rows]
    finally:
        client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here


def test_replayed_events_load_into_bigquery_exactly_once(
    gcs_on_disk: FakeGcsOnDisk,
    bigquery_dataset: str,
    raw_queue: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events that failed for a missing schema are replayed after it is published, enriched from Pub/Sub into
    the gs:// lake and loaded into BigQuery once each (typed columns filled); a forced resend is loaded as
    duplicates only, and a second load adds nothing."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_on_disk.url)  # the lake the BigQuery emulator reads
    lake_url = f"gs://{gcs_on_disk.create_bucket()}/lake"
    pipeline = Pipeline(open_lake(lake_url), tmp_path / "registry")
    publish_url, subscribe_url = raw_queue
    assert pipeline.run([get_payload(p) for p in orders(with_mistake=False)]) == (0, 3)  # schema not published yet
    shutil.copytree(CASES / "replay", pipeline.registry, dirs_exist_ok=True)
    registry = registry_locations(pipeline.registry)
    replay = ("replay", "--lake", lake_url, "--raw", publish_url, "--registry", registry, "--yes", "--json")
    load = ("load", "--lake", lake_url, "--warehouse", bigquery_dataset, "--registry", registry)

    def enrich() -> None:
        enricher, _ = build_enrich(registry, None, cache_ttl=0.0)
        subscriber = open_subscriber(subscribe_url, lease_seconds=30)
        try:
            drain(EnrichWorker(subscriber, open_lake(lake_url), enricher, FAST))
        finally:
            subscriber.close()

    assert run(*replay)["sent_rows"] == 3
    enrich()
    first = run(*load)
    assert (first["rows_read"], first["rows_loaded"]) == (3, 3)
    expected = [("o-1", 10.0, EIDS[0], 1), ("o-2", 2.5, EIDS[1], 1), ("o-3", 7.0, EIDS[2], 1)]
    assert bigquery_orders(bigquery_dataset) == expected
    assert run(*load)["files"] == 0

    forced = run(*replay, "--include-replayed")
    assert forced["sent_rows"] == 3
    enrich()
    again = run(*load)
    assert (again["rows_read"], again["rows_loaded"], again["duplicates"]) == (3, 0, 3)
    assert bigquery_orders(bigquery_dataset) == expected


@pytest.mark.slow
def test_collector_pubsub_enrich_lake_bigquery_each_event_once(
    gcs_on_disk: FakeGcsOnDisk,
    bigquery_dataset: str,
    pubsub_project: str,  # on the session's Pub/Sub emulator
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tracker mix through `eventkit collector` → Pub/Sub emulator → `eventkit enrich --workers 2` → gs://
    lake → `eventkit load --warehouse bigquery://…` (a subprocess): every good event exactly once in BigQuery
    with its typed context column filled, and a second load adds nothing."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_on_disk.url)  # the lake the BigQuery emulator reads
    raw = f"pubsub://{pubsub_project}/raw?subscription=enrich"
    lake_url = f"gs://{gcs_on_disk.create_bucket()}/lake"
    registry = f"{write_acme_registry(tmp_path / 'schemas')},{BUNDLED_SCHEMAS}"
    probe = open_subscriber(raw, lease_seconds=30)  # the subscription must exist before anything is published
    probe.check()  # type: ignore[attr-defined]
    probe.close()
    enrich = EventkitProcess(
        ["enrich", "--raw", raw, "--lake", lake_url, "--registry", registry, "--workers", "2", "--max-age", "0.5"],
        tmp_path / "enrich.log",
    )
    port = free_port()
    collector = EventkitProcess(
        ["collector", "--port", str(port), "--host", "127.0.0.1", "--raw", raw, "--spool", str(tmp_path / "spool.db")],
        tmp_path / "collector.log",
    )
    try:
        collector.wait_http(f"http://127.0.0.1:{port}/health")
        sent = send_mix(port)
        lake = open_lake(lake_url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(read_lake(lake).good_ids) < len(sent.good):
            time.sleep(0.5)
        time.sleep(1.0)  # let the last file close
    finally:
        collector.terminate()
        enrich.terminate()
    load = ("load", "--lake", lake_url, "--warehouse", bigquery_dataset, "--registry", registry)
    first = _eventkit(*load)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["rows_loaded"] == len(sent.good)
    location = parse_warehouse_url(bigquery_dataset)
    client = bigquery_client(location)
    try:
        rows = list(
            client.query(
                f"SELECT event_id, ARRAY_LENGTH(contexts_com_acme_user_context_1) AS users "
                f"FROM `{location.project}.{location.dataset}.events`"
            ).result()
        )
    finally:
        client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here
    assert sorted(r["event_id"] for r in rows) == sorted(sent.good)
    assert any(r["users"] == 1 for r in rows)
    again = _eventkit(*load)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["rows_loaded"] == 0


def _eventkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
