"""What the pipeline bench watches from outside: rows arriving in the lake and the warehouse, and processes' memory.

Each watcher is a thread polling at a fixed interval and noting the time (`time.monotonic()`) at which
it first saw each good Parquet file (its row count from the footer, and its event ids if asked) or each
file in the warehouse's load manifest. A row's arrival time is its file's first sighting, so every
figure carries up to one poll interval of delay (50 ms lake, 250 ms warehouse), the same for every
pipeline measured.

The warehouse is read the way `eventkit bad` or a DuckDB shell read it while a loader runs: a short
read-only connection between the loader's loads (the loader opens the file only for each load and
waits, bounded, for readers to let go: loader/destinations/duckdb_tables.py). The manifest is written in
the load's own transaction, so a file listed there has its rows in `events`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from core.lake import Lake, local_path
from core.lake.parquet import arrow_owned
from tests.services.processes import session_members

__all__ = ["LakeWatcher", "MemorySampler", "WarehouseWatcher"]

GOOD = "good/"
BAD = "bad/"


@dataclass
class Sighting:
    """A lake file: when it was first seen, its rows, its event ids (when read); `bad`: a bad-row file (JSON lines)."""

    seen: float
    rows: int
    event_ids: list[str] = field(default_factory=list)
    bad: bool = False


class _Poller:
    """A daemon thread calling `poll()` every `interval` seconds until stopped; the first error is kept."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def poll(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except Exception as e:  # kept for the bench to raise: a watcher that dies silently would time out
                self.error = e
                return
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def wait_for(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Block until `done()` (checked every 20 ms) or raise TimeoutError naming `what`."""
        deadline = time.monotonic() + timeout
        while not done():
            if self.error is not None:
                raise RuntimeError(f"{type(self).__name__} failed: {self.error!r}") from self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
            time.sleep(0.02)


class LakeWatcher(_Poller):
    """Polls a lake's good Parquet files and bad-row files; `ids=True` also reads each good file's event ids.

    An event sent ends as a good row or in a bad row (a valid event in a bad row is a defect the bench
    reports); a good row may come twice (at-least-once delivery). So a run is complete when its
    distinct good event ids (or, without ids, its good rows) and its bad rows add up to the events sent.
    """

    def __init__(self, lake: Lake, *, ids: bool, interval: float = 0.05) -> None:
        super().__init__(interval)
        self.lake = lake
        self.ids = ids
        self.files: dict[str, Sighting] = {}
        self.ignored: set[str] = set()  # files of earlier runs and of the warm-up
        self.good_rows = 0
        self.bad_rows = 0
        self.distinct: set[str] = set()

    def _names(self) -> list[str]:
        good = [n for n in self.lake.list(GOOD) if n.endswith(".parquet")]
        return good + list(self.lake.list(BAD))

    def ignore_existing(self) -> None:
        """Leave the files in the lake now (earlier runs') out of every figure; call before `start`."""
        names = set(self._names())
        with self._lock:
            self.ignored |= names

    def ignore_present(self) -> None:
        """Leave the files seen so far (a warm-up's) out of every figure from now on."""
        with self._lock:
            self.ignored |= set(self.files)
            self.files.clear()
            self.good_rows = self.bad_rows = 0
            self.distinct.clear()

    @property
    def outcomes(self) -> int:
        """Events accounted for: distinct good ids (good rows without ids) plus bad rows."""
        return (len(self.distinct) if self.ids else self.good_rows) + self.bad_rows

    def poll(self) -> None:
        names = self._names()
        now = time.monotonic()
        for name in names:
            with self._lock:
                if name in self.files or name in self.ignored:
                    continue
            sighting = self._read(name, now)
            with self._lock:
                if name in self.files or name in self.ignored:
                    continue
                self.files[name] = sighting
                if sighting.bad:
                    self.bad_rows += sighting.rows
                else:
                    self.good_rows += sighting.rows
                    self.distinct.update(sighting.event_ids)

    def _read(self, name: str, now: float) -> Sighting:
        if name.startswith(BAD):
            return Sighting(now, sum(1 for line in self.lake.read(name).splitlines() if line.strip()), bad=True)
        if self.ids:
            ids = self._event_ids(name)
            return Sighting(now, len(ids), ids)
        path = local_path(self.lake, name)
        source: str | pa.BufferReader = str(path) if path is not None else arrow_owned(self.lake.read(name))
        return Sighting(now, pq.read_metadata(source).num_rows)

    def read_ids(self) -> None:
        """Read the event ids of every good file seen so far, and of every file seen from now on.

        The bench counts footers while the clock runs and reads ids once the rows are in: reading them as
        files land cost the bench about 80 µs of CPU per event, taken from the pipeline it measures. A
        file's sighting time is kept, so latencies come out the same."""
        with self._lock:
            pending = [(name, s) for name, s in self.files.items() if not s.bad and not s.event_ids]
            self.ids = True
        for name, sighting in pending:
            ids = self._event_ids(name)
            with self._lock:
                sighting.event_ids = ids
                self.distinct.update(ids)

    def _event_ids(self, name: str) -> list[str]:
        path = local_path(self.lake, name)
        source: str | pa.BufferReader = str(path) if path is not None else arrow_owned(self.lake.read(name))
        return [str(i) for i in pq.read_table(source, columns=["event_id"]).column(0).to_pylist()]

    def good_files(self) -> dict[str, Sighting]:
        """The good files seen so far (not the ignored ones), by name."""
        with self._lock:
            return {name: s for name, s in self.files.items() if not s.bad}

    def arrivals(self) -> dict[str, float]:
        """Each event id seen → when its file was first seen (the earliest, should an id land twice)."""
        out: dict[str, float] = {}
        for sighting in self.good_files().values():
            for eid in sighting.event_ids:
                if eid not in out or sighting.seen < out[eid]:
                    out[eid] = sighting.seen
        return out

    def time_complete(self, events: int) -> float:
        """When the lake first accounted for `events` events (see the class docstring)."""
        with self._lock:
            sightings = sorted(self.files.values(), key=lambda s: s.seen)
        seen: set[str] = set()
        total = 0
        for sighting in sightings:
            if sighting.bad or not self.ids:
                total += sighting.rows
            else:
                seen.update(sighting.event_ids)
            if total + len(seen) >= events:
                return sighting.seen
        raise ValueError(f"the lake never accounted for {events} events ({total + len(seen)})")

    def first_bad_row(self) -> str:
        """The start of the first bad row seen in this run ("" if none)."""
        with self._lock:
            bad = sorted((s.seen, name) for name, s in self.files.items() if s.bad)
        if not bad:
            return ""
        return self.lake.read(bad[0][1]).decode(errors="replace")[:1500]


class WarehouseWatcher(_Poller):
    """Polls a DuckDB warehouse's load manifest read-only, noting when each lake file was first listed loaded.

    Opening the database costs ~0.1 s of CPU (it replays the write-ahead log), taken from the pipeline
    being measured on the same two cores: so a poll opens it only when the database file or its log
    changed since the last manifest read (a stat), which is about once per load.
    """

    def __init__(self, path: Path, *, interval: float = 0.1) -> None:
        super().__init__(interval)
        self.path = path
        self.files: dict[str, tuple[float, int]] = {}  # lake file → (first seen loaded, rows)
        self.busy = 0  # polls that found the loader holding the file
        self._read_at: tuple[tuple[int, int] | None, ...] = ()  # the files' stamps when the manifest was last read

    def _stamps(self) -> tuple[tuple[int, int] | None, ...]:
        stamps: list[tuple[int, int] | None] = []
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = path.stat()
            except FileNotFoundError:
                stamps.append(None)
            else:
                stamps.append((st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    def poll(self) -> None:
        import duckdb

        stamps = self._stamps()
        if stamps[0] is None or stamps == self._read_at:
            return
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.IOException:
            self.busy += 1  # the loader is loading: try at the next poll
            return
        try:
            listed = con.execute("SELECT file, rows_in_file FROM _eventkit_manifest").fetchall()
        except duckdb.CatalogException:
            listed = []  # no load yet
        finally:
            con.close()
        self._read_at = stamps
        now = time.monotonic()
        with self._lock:
            for name, rows in listed:
                self.files.setdefault(str(name), (now, int(rows)))

    def loaded(self, files: set[str]) -> int:
        """How many of `files` the manifest lists."""
        with self._lock:
            return sum(1 for name in files if name in self.files)

    def time_of(self, file: str) -> float | None:
        with self._lock:
            found = self.files.get(file)
        return None if found is None else found[0]


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _pss_kb(pid: int) -> int:
    """Proportional set size: the process's private pages plus its share of pages it shares (libraries)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class MemorySampler(_Poller):
    """Samples the summed RSS of every process in a session (a process and all its descendants) every 100 ms."""

    def __init__(self, sid: int, *, interval: float = 0.1) -> None:
        super().__init__(interval)
        self.sid = sid
        self.peak_kb = 0
        self.peak_processes = 0
        self.phase = "warm-up"  # what the bench is doing (set by it), kept with the peak
        self.peak_phase = ""
        self.peak_anon_kb = 0  # at the peak: anonymous memory (heaps) and file-backed pages (mapped files, code)
        self.peak_file_kb = 0
        self.samples = 0
        self.last_kb = 0
        self.peak_pss_kb = 0  # summed PSS: what the processes cost the machine (shared libraries counted once)

    def poll(self) -> None:
        members = session_members(self.sid)
        total = sum(_status_kb(pid, "VmRSS:") for pid in members)
        self.peak_pss_kb = max(self.peak_pss_kb, sum(_pss_kb(pid) for pid in members))
        self.samples += 1
        self.last_kb = total
        if total > self.peak_kb:
            self.peak_kb, self.peak_processes, self.peak_phase = total, len(members), self.phase
            self.peak_anon_kb = sum(_status_kb(pid, "RssAnon:") for pid in members)
            self.peak_file_kb = sum(_status_kb(pid, "RssFile:") + _status_kb(pid, "RssShmem:") for pid in members)
