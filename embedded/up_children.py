"""The child processes of `eventkit up`: enrich workers and the continuous loader, each with its own interpreter.

`eventkit up`'s server process (embedded/up.py) starts them through core.supervise; everything they
get is picklable (they are spawned). Each joins the data folder's lock (core.process_lock.join_lock),
so the folder stays in use until the last of them has exited.

* `enrich_child`: an enrich worker on DATA/queue.db with the embedded cut policy and the attempt
  log (enrich.cli.build_worker), whose committed outcomes also go to the Micro store DATA/micro.db
  (MicroListener; SQLite WAL shared by every worker and the server), and whose metrics are written
  as snapshots the server adds up for `/metrics/enrich` (enrich.metrics_snapshots).
* `loader_child`: loads new good files into DATA/warehouse.duckdb as they appear (the lake listed every
  0.25 s, a full round every 2 s; loader.load.continuous_loader).

SIGTERM/SIGINT (from the supervisor, the terminal's process group, or the kernel when the server
dies) make each commit and ack what it holds and exit 0.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from core.process_lock import ProcessLock, join_lock
from enrich.cli import EnrichOptions

__all__ = ["UpLoaderOptions", "UpWorkerOptions", "enrich_child", "loader_child"]

_LOADER_MEMORY_MB = 128  # DuckDB's memory in the loader child (the process adds ~150 MB of its own; 256: +128 MB)
_LOADER_WATCH_S = 0.25  # how often the loader child lists the lake for new good files (a load starts at once)


@dataclass(frozen=True, slots=True)
class UpWorkerOptions:
    """What an enrich worker of `eventkit up` needs beyond the plain enrich options."""

    enrich: EnrichOptions
    micro_db: Path
    max_events: int  # the Micro store's bound
    metrics_dir: Path  # where the worker's metrics snapshots go
    locks: tuple[tuple[Path, str], ...]  # (lock file, what it guards) to join for the worker's life


@dataclass(frozen=True, slots=True)
class UpLoaderOptions:
    """What the continuous loader of `eventkit up` needs."""

    lake_url: str
    warehouse_url: str
    registry: str
    locks: tuple[tuple[Path, str], ...]
    log_level: str = "warning"
    log_json: bool | None = None


def _join(locks: tuple[tuple[Path, str], ...]) -> list[ProcessLock]:
    return [join_lock(path, what) for path, what in locks]


def enrich_child(options: UpWorkerOptions, index: int) -> None:
    """One enrich worker process of `eventkit up` (see the module docstring)."""
    from core.memory_tuning import tune_memory
    from core.telemetry import configure_logging

    tune_memory()
    from embedded.micro_records import MicroListener
    from embedded.micro_store import MicroStore
    from enrich.cli import build_worker, run_until_signalled
    from enrich.metrics import EnrichMetrics
    from enrich.metrics_snapshots import SnapshotWriter

    configure_logging(options.enrich.log_level, options.enrich.log_json)  # a spawned process starts unconfigured
    held = _join(options.locks)
    metrics = EnrichMetrics()
    store = MicroStore(options.micro_db, max_events=options.max_events)
    snapshots = SnapshotWriter(metrics, options.metrics_dir / f"enrich-{os.getpid()}.prom")
    try:
        worker = build_worker(options.enrich, metrics=metrics, listeners=[MicroListener(store)])
        snapshots.start()
        run_until_signalled(worker)
    finally:
        snapshots.stop()
        store.close()
        for lock in held:
            lock.release()


def loader_child(options: UpLoaderOptions) -> None:
    """The continuous loader process of `eventkit up`: loads new good files as they appear until SIGTERM/SIGINT."""
    from core.memory_tuning import tune_memory
    from core.supervise import child_ready
    from core.telemetry import configure_logging

    tune_memory()
    from loader.load import continuous_loader

    configure_logging(options.log_level, options.log_json)
    held = _join(options.locks)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # One DuckDB thread: the cores are the enrich workers'; a second thread bought the loader little and
    # took CPU from them (figures in docs/DESIGN.md, "Process layout of `eventkit up`").
    # DuckDB takes most of the RAM by default and kept ~900 MB after loading a backlog of 1M events; capped,
    # a batch it cannot hold is split (loader/load.py). Batches of at most 16 files (1 s each, at most
    # 20,000 events: up's cut) keep most backlogs within the cap in one go. Its loads are one or two 1-second
    # files: merging each into the table's last row group cost more than the load (loader/destinations/duckdb.py).
    load = continuous_loader(
        options.lake_url,
        options.warehouse_url,
        options.registry,
        watch_s=_LOADER_WATCH_S,
        threads=1,
        memory_mb=_LOADER_MEMORY_MB,
        max_files_per_batch=16,
        merge_small_loads=False,
    )
    child_ready()
    try:
        load(stop)
    finally:
        for lock in held:
            lock.release()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
