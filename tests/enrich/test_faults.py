"""Conservation under faults: an enrich worker SIGKILLed mid-batch and restarted loses nothing."""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest

from core.lake.local import LocalLake
from core.queue import open_publisher, open_subscriber
from enrich.outputs.parquet import decode_parquet
from tests.enrich.event_mix import raw_mix, read_lake, registry_chain, write_acme_registry
from tests.enrich.processes import EventkitProcess

pytestmark = pytest.mark.slow


def _enrich(tmp_path: Path, queue: str, registry: str, name: str) -> EventkitProcess:
    args = ["enrich", "--raw", queue, "--lake", str(tmp_path / "lake"), "--registry", registry]
    return EventkitProcess([*args, "--max-age", "0.2", "--max-events", "40", "--lease-seconds", "2"], tmp_path / name)


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_mid_batch_then_restart_loses_nothing(tmp_path: Path) -> None:
    """After SIGKILL between file commits and a restart, every event is in the lake at least once, and
    duplicates repeat the same event_id with the same fingerprint."""
    mix = raw_mix(copies=60)
    queue = f"sqlite://{tmp_path}/queue.db"
    open_publisher(queue).publish(mix.records)
    registry = registry_chain(write_acme_registry(tmp_path / "schemas"))
    lake = LocalLake(tmp_path / "lake")

    first = _enrich(tmp_path, queue, registry, "enrich-1.log")
    _wait(lambda: any(True for _ in lake.list("good/")), 60, "the first committed good file")
    first.kill()  # SIGKILL: no flush, no ack of what is buffered
    assert first.proc.returncode != 0
    partial = read_lake(lake)
    assert len(set(partial.good_ids)) < len(mix.good_ids), "the kill came too late to be mid-run"

    second = _enrich(tmp_path, queue, registry, "enrich-2.log")
    try:
        _wait(lambda: mix.good_ids <= set(read_lake(lake).good_ids), 90, "every good event")
        bad_ids = mix.bad_ids["schema_violations"]
        _wait(lambda: bad_ids <= set(read_lake(lake).bad_event_ids("schema_violations")), 30, "every bad event")
    finally:
        assert second.terminate() == 0
    got = read_lake(lake)
    assert set(got.good_ids) == mix.good_ids
    print(f"good rows {len(got.good_ids)} for {len(mix.good_ids)} events (duplicates from redelivery are allowed)")
    assert set(got.bad_event_ids("schema_violations")) == mix.bad_ids["schema_violations"]
    for type_name, n in mix.bad_requests.items():
        assert len(got.bad[type_name]) >= n

    fingerprints: dict[str, set[str]] = defaultdict(set)
    for name in lake.list("good/"):
        table = decode_parquet(lake.read(name))
        ids, fps = table.column("event_id").to_pylist(), table.column("event_fingerprint").to_pylist()
        for eid, fp in zip(ids, fps, strict=True):
            fingerprints[eid].add(fp)
    assert all(len(fps) == 1 for fps in fingerprints.values())

    probe = open_subscriber(queue, lease_seconds=1)
    try:
        assert probe.pull(10, 0.0) == [], "the restarted worker acked everything"
    finally:
        probe.close()


def test_two_worker_processes_share_one_queue(tmp_path: Path) -> None:
    """`eventkit enrich --workers 2` runs two consumers on one queue, and SIGTERM makes both commit and ack what
    they hold: after a second run drains the rest, every event is in the lake exactly once (no redelivery)."""
    mix = raw_mix(copies=40)
    queue = f"sqlite://{tmp_path}/queue.db"
    registry = registry_chain(write_acme_registry(tmp_path / "schemas"))
    lake = LocalLake(tmp_path / "lake")
    args = ["enrich", "--raw", queue, "--lake", str(lake.root), "--registry", registry]
    # Long file age: what is buffered at SIGTERM is committed by the graceful stop, not by age.
    first = EventkitProcess(
        [*args, "--workers", "2", "--max-age", "30", "--max-events", "25", "--batch-size", "10"], tmp_path / "1.log"
    )
    try:
        _wait(lambda: first.log().count("enrich worker started") == 2, 60, "both workers to start")
        open_publisher(queue).publish(mix.records)
        _wait(lambda: len(read_lake(lake).good_ids) >= len(mix.good_ids) // 2, 60, "half of the good events")
    finally:
        assert first.terminate() == 0, first.log()
    writers = {name.rsplit("/", 1)[1].split("-")[1] for name in read_lake(lake).files}
    assert len(writers) == 2, f"expected parts from two workers, got {writers}"

    second = EventkitProcess([*args, "--max-age", "0.2"], tmp_path / "2.log")
    try:
        _wait(lambda: "enrich worker started" in second.log(), 60, "the second run to start")
        _wait(lambda: mix.good_ids <= set(read_lake(lake).good_ids), 60, "every good event")
        _wait(
            lambda: mix.bad_ids["schema_violations"] <= set(read_lake(lake).bad_event_ids("schema_violations")),
            30,
            "bad",
        )
    finally:
        assert second.terminate() == 0, second.log()
    got = read_lake(lake)
    assert sorted(got.good_ids) == sorted(mix.good_ids)
    assert sorted(got.bad_event_ids("schema_violations")) == sorted(mix.bad_ids["schema_violations"])
    for type_name, n in mix.bad_requests.items():
        assert len(got.bad[type_name]) == n
    probe = open_subscriber(queue, lease_seconds=1)
    try:
        assert probe.pull(10, 0.0) == []
    finally:
        probe.close()


def _worker_children(parent: int) -> list[int]:
    """The spawned enrich worker processes of an `eventkit enrich --workers N` parent (not its resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    pids = []
    for pid in map(int, children):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmdline:
            pids.append(pid)
    return pids


def test_sigkill_of_one_worker_process_is_restarted_by_the_parent(tmp_path: Path) -> None:
    """SIGKILL of one of two worker processes mid-run: the parent starts a new one and every event still arrives."""
    mix = raw_mix(copies=60)
    queue = f"sqlite://{tmp_path}/queue.db"
    registry = registry_chain(write_acme_registry(tmp_path / "schemas"))
    lake = LocalLake(tmp_path / "lake")
    args = ["enrich", "--raw", queue, "--lake", str(lake.root), "--registry", registry, "--workers", "2"]
    options = ["--max-age", "0.2", "--max-events", "40", "--batch-size", "20", "--lease-seconds", "2"]
    proc = EventkitProcess([*args, *options], tmp_path / "enrich.log")
    try:
        _wait(lambda: proc.log().count("enrich worker started") == 2, 60, "both workers to start")
        open_publisher(queue).publish(mix.records)
        _wait(lambda: any(True for _ in lake.list("good/")), 60, "the first committed good file")
        victims = _worker_children(proc.proc.pid)
        assert len(victims) == 2, victims
        os.kill(victims[0], signal.SIGKILL)
        _wait(lambda: "restarting it" in proc.log(), 30, "the parent to restart the worker")
        _wait(lambda: mix.good_ids <= set(read_lake(lake).good_ids), 90, "every good event")
        _wait(lambda: proc.log().count("enrich worker started") == 3, 30, "the replacement worker")
    finally:
        assert proc.terminate() == 0, proc.log()
    got = read_lake(lake)
    assert set(got.good_ids) == mix.good_ids
    assert set(got.bad_event_ids("schema_violations")) == mix.bad_ids["schema_violations"]
    probe = open_subscriber(queue, lease_seconds=1)
    try:
        assert probe.pull(10, 0.0) == []
    finally:
        probe.close()
