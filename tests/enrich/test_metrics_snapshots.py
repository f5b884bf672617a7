"""Enrich metrics of several worker processes, written as snapshot files and added up by the server of `eventkit up`."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from enrich.metrics import EnrichMetrics
from enrich.metrics_snapshots import SnapshotWriter, clear_snapshots, render_sum


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_counters_and_histograms_add_up_over_workers(tmp_path: Path) -> None:
    """Two workers' snapshots sum per label set: good events, bad rows, acks and every latency bucket, sum and count."""
    first, second = EnrichMetrics(), EnrichMetrics()
    first.good("page_view", "iglu:a", 3)
    second.good("page_view", "iglu:a", 4)
    second.good("struct", "", 1)
    first.bad("schema_violations", "iglu:x")
    first.latency(0.3)
    second.latency(2.5)
    first.acked(3)
    second.acked(5)
    for n, metrics in enumerate((first, second)):
        writer = SnapshotWriter(metrics, tmp_path / f"enrich-{n}.prom")
        writer.start()
        writer.stop()
    total = _samples(render_sum(tmp_path))
    assert total[("enrich_good_events_total", (("event", "page_view"), ("schema", "iglu:a")))] == 7
    assert total[("enrich_good_events_total", (("event", "struct"), ("schema", "")))] == 1
    assert total[("enrich_bad_rows_total", (("schema", "iglu:x"), ("type", "schema_violations")))] == 1
    assert total[("enrich_messages_acked_total", ())] == 8
    assert total[("enrich_commit_latency_seconds_count", ())] == 2
    assert total[("enrich_commit_latency_seconds_sum", ())] == 2.8
    assert total[("enrich_commit_latency_seconds_bucket", (("le", "0.5"),))] == 1
    assert total[("enrich_commit_latency_seconds_bucket", (("le", "3.0"),))] == 2
    created = ("enrich_messages_acked_created", ())
    assert total[created] == min(_samples(first.render())[created], _samples(second.render())[created])


def test_a_dead_workers_snapshot_keeps_counting_until_cleared(tmp_path: Path) -> None:
    """The snapshot of a worker that died stays in the sum next to its replacement's, so counters never go back;
    clearing (a new `up`) starts from zero, and with no snapshot at all the sum is an idle worker's zeros."""
    dead = EnrichMetrics()
    dead.acked(10)
    SnapshotWriter(dead, tmp_path / "enrich-100.prom").write()
    replacement = EnrichMetrics()
    writer = SnapshotWriter(replacement, tmp_path / "enrich-200.prom", interval_s=0.01)
    writer.start()
    replacement.acked(2)
    writer.stop()
    assert _samples(render_sum(tmp_path))[("enrich_messages_acked_total", ())] == 12
    clear_snapshots(tmp_path)
    assert not list(tmp_path.iterdir())
    idle = render_sum(tmp_path)
    assert _samples(idle)[("enrich_messages_acked_total", ())] == 0
    assert b"enrich_commit_latency_seconds_count 0.0" in idle


def test_a_snapshot_that_cannot_be_written_does_not_stop_the_worker(tmp_path: Path) -> None:
    """A snapshot folder that cannot be created (a file in the way, as a full disk would fail) costs the snapshot,
    never an exception in the worker; the next write after the cause is gone succeeds."""
    blocker = tmp_path / "metrics"
    blocker.write_text("not a folder")
    metrics = EnrichMetrics()
    writer = SnapshotWriter(metrics, blocker / "enrich-1.prom")
    writer.write()
    blocker.unlink()
    metrics.acked(1)
    writer.write()
    assert _samples(render_sum(blocker))[("enrich_messages_acked_total", ())] == 1
