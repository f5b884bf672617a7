"""Loading good events into the warehouse: new lake files, in batches, each batch exactly once, through a Destination.

The loader is the same for every warehouse; the warehouse's side (tables, typed columns, manifest,
dedup, one transaction per batch) is a `Destination` (loader/destinations/, DuckDB today):

    list the lake's good Parquet files the destination's manifest does not list
    leave out the files held in quarantine (unless they changed or `retry_quarantined`)
    hand them to the destination in batches of at most `max_files_per_batch`, one transaction each

**Quarantine.** A file that cannot be read as an enriched-event Parquet file (truncated, corrupt,
not Parquet, missing the atomic columns) would otherwise fail every batch it is in, forever. When a
batch fails, each of its files is read on its own; the unreadable ones are put in the destination's
quarantine (file, error, size/mtime signature) and the batch is loaded without them. A quarantined
file is skipped by later loads until it changes (another size or mtime: a folder lake only) or the
load is asked to `retry_quarantined`; it leaves the quarantine when it loads. A batch that fails
while every file reads fine is not the files' fault: the error is raised. Registry outages raise
(`RegistryUnavailable`): the load is retried, never half done.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from core.errors import TransientError
from core.lake import Lake, local_path, open_lake
from core.lake.parquet import read_parquet
from core.lake.partitions import hour_partition
from core.memory_tuning import release_free_memory
from core.progress import Progress
from loader.columns import RegistryTyping
from loader.destinations import hold_loader_lock, open_destination, read_quarantine
from loader.destinations.port import BatchTooLarge, Destination, LoadBatch, LoadReport, QuarantinedFile
from registry.resolver import Resolver

__all__ = [
    "GOOD_PREFIX",
    "LoadReport",
    "Loader",
    "QuarantinedFile",
    "continuous_loader",
    "hold_loader_lock",
    "pending_files",
    "quarantined_files",
]

GOOD_PREFIX = "good/"
log = structlog.get_logger("loader.load")
_ARROW_SOURCE = re.compile(r"^Could not open Parquet input source '.*?': ")
# Columns every batch query names: a Parquet file without them is not an enriched-event file.
_REQUIRED_COLUMNS = ("event_id", "event_fingerprint", "etl_tstamp", "collector_tstamp", "unstruct_event", "contexts")


def pending_files(lake: Lake, loaded: set[str]) -> list[str]:
    """Good Parquet files in the lake that the manifest does not list, in name (≈ time) order."""
    return [n for n in lake.list(GOOD_PREFIX) if n.endswith(".parquet") and n not in loaded]


class Loader:
    """Loads one lake into one warehouse (any destination URL), typing self-describing data through `resolver`."""

    def __init__(
        self,
        lake: Lake,
        warehouse_url: str,
        resolver: Resolver,
        *,
        lock_wait_s: float = 60.0,
        threads: int | None = None,
        memory_mb: int | None = None,
        retry_quarantined: bool = False,
        create: bool = True,
        merge_small_loads: bool = True,
    ) -> None:
        self.lake = lake
        self.warehouse_url = warehouse_url
        self.resolver = resolver
        self.typing = RegistryTyping(resolver)
        self.lock_wait_s = lock_wait_s
        self.threads = threads  # warehouse worker threads where it computes locally (None = its default)
        self.memory_mb = memory_mb  # and its memory: a batch needing more is split (None = its default)
        self.retry_quarantined = retry_quarantined
        self.create = create  # create a missing warehouse (file, dataset); False: a ConfigError instead
        self.merge_small_loads = merge_small_loads  # False: leave each load's storage unmerged (DestinationKind.open)

    def load(
        self,
        *,
        max_files_per_batch: int = 500,
        on_batch: Callable[[LoadReport], None] | None = None,
        progress: Progress | None = None,
    ) -> LoadReport:
        """Load every pending file, in batches of at most `max_files_per_batch`; one transaction per batch.

        `progress` (the CLI's line on stderr) is started with the number of files to load, if there are
        any, and advanced by each batch's files and rows.
        """
        total = LoadReport()
        destination = open_destination(
            self.warehouse_url,
            wait_s=self.lock_wait_s,
            threads=self.threads,
            create=self.create,
            memory_mb=self.memory_mb,
            merge_small_loads=self.merge_small_loads,
        )
        try:
            held = {q.file: q.signature for q in destination.quarantined()}
            pending = pending_files(self.lake, destination.loaded_files())
            files = [name for name in pending if not self._still_quarantined(name, held)]
            total.skipped_quarantined = len(pending) - len(files)
            if progress is not None and files:
                progress.start(len(files))
            for start in range(0, len(files), max_files_per_batch):
                batch = files[start : start + max_files_per_batch]
                report = self._load_readable(destination, batch)
                total.add(report)
                if progress is not None:
                    progress.advance(len(batch), rows=report.rows_read)
                if on_batch is not None:
                    on_batch(report)
        finally:
            destination.close()
        return total

    def _still_quarantined(self, name: str, held: dict[str, str | None]) -> bool:
        """Skip a quarantined file unless asked to retry it or it changed since (a file put right by hand)."""
        if name not in held or self.retry_quarantined:
            return False
        return held[name] == self._signature(name)

    def _signature(self, name: str) -> str | None:
        """Size and mtime of a folder lake's file (None elsewhere: object stores never rewrite a name)."""
        path = local_path(self.lake, name)
        if path is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        return f"{st.st_size}:{st.st_mtime_ns}"

    def _load_readable(self, destination: Destination, files: Sequence[str]) -> LoadReport:
        """Load `files` in one transaction; if that fails, quarantine the unreadable ones and load the rest.

        A batch the warehouse has too little memory for is loaded as two halves, each the same way; a
        single file it cannot hold is a TransientError (retried, never quarantined: the file is fine)."""
        remaining = list(files)
        report = LoadReport()
        while remaining:
            try:
                report.add(self.load_batch(destination, remaining))
                return report
            except TransientError:
                raise  # registry, lake or warehouse unavailable: retried, never blamed on a file
            except BatchTooLarge as e:
                if len(remaining) == 1:
                    raise TransientError(f"the warehouse ran out of memory loading {remaining[0]}: {e}") from e
                half = len(remaining) // 2
                log.info("batch too large for the warehouse's memory; loading it in halves", files=len(remaining))
                report.add(self._load_readable(destination, remaining[:half]))
                report.add(self._load_readable(destination, remaining[half:]))
                return report
            except Exception:
                unreadable = [q for q in map(self._probe, remaining) if q is not None]
                if not unreadable:
                    raise
            destination.quarantine(unreadable)
            report.quarantined += unreadable
            gone = {q.file for q in unreadable}
            remaining = [name for name in remaining if name not in gone]
        return report

    def load_batch(self, destination: Destination, files: Sequence[str]) -> LoadReport:
        """Load `files` in one transaction of `destination` (files its manifest lists are skipped)."""
        started = time.perf_counter()
        report = destination.load(LoadBatch(self.lake, tuple(files)), self.typing)
        report.seconds = time.perf_counter() - started
        if files:
            log.info("loaded", **report.to_json())
        return report

    def _probe(self, name: str) -> QuarantinedFile | None:
        """Read one file alone: why it cannot be loaded, or None if it reads as enriched events."""
        try:
            path = local_path(self.lake, name)
            # The whole file is read (not only its footer): a truncated data page must show here.
            table = pq.read_table(str(path)) if path is not None else read_parquet(self.lake.read(name))
            schema = table.schema
        except TransientError:
            raise
        except (pa.ArrowException, OSError, ValueError) as e:
            return QuarantinedFile(name, _one_line(e), self._signature(name))
        missing = [c for c in _REQUIRED_COLUMNS if c not in schema.names]
        if missing:
            return QuarantinedFile(
                name, f"not an enriched-event file: no column {', '.join(missing)}", self._signature(name)
            )
        return None


def quarantined_files(warehouse_url: str, *, wait_s: float = 10.0) -> list[QuarantinedFile]:
    """The files a warehouse's loads have quarantined (none if the warehouse does not exist yet)."""
    return read_quarantine(warehouse_url, wait_s=wait_s)


def _one_line(error: BaseException) -> str:
    """An exception as one line of text (Arrow's messages may span lines and repeat the file's local path)."""
    text = " ".join(str(error).split())
    text = _ARROW_SOURCE.sub("", text)
    return text or type(error).__name__


def _newest_good_files(lake: Lake) -> set[str] | None:
    """The good files in the lake's two newest hour partitions (None when they cannot be listed). Files are
    partitioned by processing time (core/lake/partitions.py), so a new file is in this hour's partition or,
    written across the hour, the last one's: the listing stays small however large the lake grows. A file
    anywhere else, or a lake that cannot be listed, waits for the next full round, which logs why (every 2 s,
    not 4 times a second)."""
    now_ms = time.time_ns() // 1_000_000
    hours = sorted({hour_partition(now_ms - 3_600_000), hour_partition(now_ms)})
    try:
        return {name for hour in hours for name in lake.list(f"{GOOD_PREFIX}{hour}/") if name.endswith(".parquet")}
    except Exception:
        return None


def continuous_loader(
    lake_url: str,
    warehouse_url: str,
    registry: str,
    *,
    interval_s: float = 2.0,
    watch_s: float | None = None,
    threads: int | None = None,
    memory_mb: int | None = None,
    max_files_per_batch: int = 500,
    merge_small_loads: bool = True,
) -> Callable[[threading.Event], None]:
    """A loop for `eventkit up`: load what is new every `interval_s` until `stop` is set (failures logged, retried).

    `watch_s`: also list the lake's good files this often (no warehouse opened) and load at once when one
    appeared since the last round began: a file then waits for the loader only while it loads the one
    before (None: rounds every `interval_s` only). Quarantined and failed files are retried at the
    `interval_s` rounds, not at each listing.
    `threads` and `memory_mb`: the warehouse's worker threads and memory (None: its defaults, one thread
    per core and most of the RAM). `max_files_per_batch` bounds one transaction; a batch the memory cannot
    hold is loaded in halves (Loader._load_readable). `merge_small_loads`: DestinationKind.open."""

    def load_continuously(stop: threading.Event) -> None:
        resolver = Resolver.from_locations(registry, cache_ttl=interval_s)
        lake = open_lake(lake_url)
        loader = Loader(
            lake,
            warehouse_url,
            resolver,
            lock_wait_s=interval_s,
            threads=threads,
            memory_mb=memory_mb,
            merge_small_loads=merge_small_loads,
        )
        listed: set[str] | None = None  # the newest partitions' good files when the last round began
        due = 0.0  # when the next round is due whether or not a file appeared
        while not stop.is_set():
            if watch_s is not None and time.monotonic() < due:
                newest = _newest_good_files(lake)
                if newest is None or newest <= (listed or set()):
                    stop.wait(max(0.0, min(watch_s, due - time.monotonic())))
                    continue
            try:
                listed = _newest_good_files(lake)
                due = time.monotonic() + interval_s
                report = loader.load(max_files_per_batch=max_files_per_batch)
                for q in report.quarantined:
                    log.warning(f"quarantined {q.file}: {q.error}", file=q.file)
            except Exception as e:  # the loop must outlive any one failed load; it is retried next round
                log.warning("load failed; retrying", error=f"{type(e).__name__}: {e}")
            release_free_memory()
            if watch_s is None:
                stop.wait(interval_s)

    return load_continuously
