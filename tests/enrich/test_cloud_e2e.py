"""The cloud shape end to end: `eventkit collector` and `eventkit enrich --workers 2` as separate processes on the
Pub/Sub emulator and fake-gcs-server, fed by the official Python tracker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.lake import open_lake
from core.locations import BUNDLED_SCHEMAS
from core.queue import open_subscriber
from tests.enrich.event_mix import check_bad_row, read_lake, write_acme_registry
from tests.enrich.processes import EventkitProcess, free_port
from tests.enrich.tracker_traffic import send_mix
from tests.services.gcs import FakeGcs
from tests.services.pubsub import PubSubEmulator

pytestmark = [pytest.mark.slow, pytest.mark.pubsub, pytest.mark.gcs]


@pytest.fixture
def cloud(
    tmp_path: Path, pubsub_emulator: PubSubEmulator, pubsub_project: str, gcs_emulator: FakeGcs, gcs_bucket: str
) -> Iterator[tuple[int, str]]:
    """Collector and enrich processes wired to the emulators; yields (collector port, lake URL)."""
    raw = f"pubsub://{pubsub_project}/raw?subscription=enrich"
    lake = f"gs://{gcs_bucket}/lake"
    registry = f"{write_acme_registry(tmp_path / 'schemas')},{BUNDLED_SCHEMAS}"
    # The subscription must exist before the collector publishes (Pub/Sub keeps nothing for absent ones).
    probe = open_subscriber(raw, lease_seconds=30)
    probe.check()  # type: ignore[attr-defined]
    probe.close()
    enrich = EventkitProcess(
        ["enrich", "--raw", raw, "--lake", lake, "--registry", registry, "--workers", "2", "--max-age", "0.5"],
        tmp_path / "enrich.log",
    )
    port = free_port()
    collector = EventkitProcess(
        ["collector", "--port", str(port), "--host", "127.0.0.1", "--raw", raw, "--spool", str(tmp_path / "spool.db")],
        tmp_path / "collector.log",
    )
    try:
        collector.wait_http(f"http://127.0.0.1:{port}/health")
        yield port, lake
    finally:
        collector.terminate()
        enrich.terminate()


def test_collector_and_enrich_processes_on_pubsub_and_gcs(cloud: tuple[int, str]) -> None:
    """Every event of the tracker mix ends exactly once in the GCS lake (good Parquet or valid bad row)."""
    port, lake_url = cloud
    sent = send_mix(port)
    lake = open_lake(lake_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = read_lake(lake)
        if len(got.good_ids) + sum(len(r) for r in got.bad.values()) >= sent.outputs:
            break
        time.sleep(0.5)
    time.sleep(1.5)  # a duplicate, if any, would land within one more file age
    got = read_lake(lake)
    assert sorted(got.good_ids) == sorted(sent.good)
    assert sorted(got.bad_event_ids("schema_violations")) == sorted(sent.schema_violations)
    assert {t: len(rows) for t, rows in got.bad.items() if t != "schema_violations"} == sent.request_level
    for rows in got.bad.values():
        for row in rows:
            check_bad_row(row)
    assert all(name.startswith(("good/date=", "bad/")) for name in got.files)
