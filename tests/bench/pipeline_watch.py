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

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from core.lake import Lake, local_path

__all__ = ["LakeWatcher", "MemorySampler", "WarehouseWatcher", "session_members"]

GOOD = "good/"


@dataclass
class Sighting:
    """A good file: when it was first seen, its rows, and its event ids (when the watcher reads them)."""

    seen: float
    rows: int
    event_ids: list[str] = field(default_factory=list)


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
    """Polls a lake's good/ Parquet files; `ids=True` also reads each file's event ids (freshness needs them)."""

    def __init__(self, lake: Lake, *, ids: bool, interval: float = 0.05) -> None:
        super().__init__(interval)
        self.lake = lake
        self.ids = ids
        self.files: dict[str, Sighting] = {}
        self.rows = 0
        self.ignored: set[str] = set()  # files present before `ignore_present()` (a warm-up's)

    def ignore_existing(self) -> None:
        """Leave the files in the lake now (earlier runs') out of every figure; call before `start`."""
        names = {n for n in self.lake.list(GOOD) if n.endswith(".parquet")}
        with self._lock:
            self.ignored |= names

    def ignore_present(self) -> int:
        """Leave the files seen so far (a warm-up's) out of every figure from now on; returns their rows."""
        with self._lock:
            self.ignored |= set(self.files)
            rows = sum(s.rows for s in self.files.values())
            self.files.clear()
            self.rows = 0
        return rows

    def poll(self) -> None:
        names = [n for n in self.lake.list(GOOD) if n.endswith(".parquet")]
        now = time.monotonic()
        for name in names:
            with self._lock:
                if name in self.files or name in self.ignored:
                    continue
            sighting = Sighting(now, *self._read(name))
            with self._lock:
                if name not in self.files and name not in self.ignored:
                    self.files[name] = sighting
                    self.rows += sighting.rows

    def _read(self, name: str) -> tuple[int, list[str]]:
        path = local_path(self.lake, name)
        source: str | pa.BufferReader = str(path) if path is not None else pa.BufferReader(self.lake.read(name))
        if not self.ids:
            return pq.read_metadata(source).num_rows, []
        ids = pq.read_table(source, columns=["event_id"]).column(0).to_pylist()
        return len(ids), [str(i) for i in ids]

    def snapshot(self) -> dict[str, Sighting]:
        """The files seen so far (not the ignored ones), by name."""
        with self._lock:
            return dict(self.files)

    def arrivals(self) -> dict[str, float]:
        """Each event id seen → when its file was first seen (the earliest, should an id land twice)."""
        out: dict[str, float] = {}
        with self._lock:
            for sighting in self.files.values():
                for eid in sighting.event_ids:
                    if eid not in out or sighting.seen < out[eid]:
                        out[eid] = sighting.seen
        return out

    def time_of_row(self, count: int) -> float:
        """When the lake first held `count` rows (not counting ignored files)."""
        with self._lock:
            total = 0
            for sighting in sorted(self.files.values(), key=lambda s: s.seen):
                total += sighting.rows
                if total >= count:
                    return sighting.seen
        raise ValueError(f"the lake never held {count} rows ({total})")

    def bad_rows(self) -> str:
        """The lake's bad-row files and the start of the first (where a run's missing rows went)."""
        names = list(self.lake.list("bad/"))
        if not names:
            return "no bad rows"
        first = self.lake.read(names[0]).decode(errors="replace")
        return f"{len(names)} bad-row files, the first {names[0]}: {first[:1500]}"


class WarehouseWatcher(_Poller):
    """Polls a DuckDB warehouse's load manifest read-only, noting when each lake file was first listed loaded."""

    def __init__(self, path: Path, *, interval: float = 0.25) -> None:
        super().__init__(interval)
        self.path = path
        self.files: dict[str, tuple[float, int]] = {}  # lake file → (first seen loaded, rows)
        self.busy = 0  # polls that found the loader holding the file

    def poll(self) -> None:
        import duckdb

        if not self.path.exists():
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
        now = time.monotonic()
        with self._lock:
            for name, rows in listed:
                self.files.setdefault(str(name), (now, int(rows)))

    def loaded_rows(self, files: set[str]) -> int:
        with self._lock:
            return sum(rows for name, (_, rows) in self.files.items() if name in files)

    def time_of(self, file: str) -> float | None:
        with self._lock:
            found = self.files.get(file)
        return None if found is None else found[0]


def session_members(sid: int) -> list[int]:
    """Live processes of a session (a process started with start_new_session and all it started), from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
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
        self.samples = 0
        self.last_kb = 0

    def poll(self) -> None:
        members = session_members(self.sid)
        total = sum(_status_kb(pid, "VmRSS:") for pid in members)
        self.samples += 1
        self.last_kb = total
        if total > self.peak_kb:
            self.peak_kb, self.peak_processes, self.peak_phase = total, len(members), self.phase
