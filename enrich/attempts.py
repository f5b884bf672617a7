"""How many times processing a raw record failed, kept where a worker crash cannot erase it.

A poison record (one whose processing raises, kills the worker, or outlasts its lease) would
otherwise be redelivered forever. Three kinds of failure are counted per record, in a SQLite file
shared by the workers of one queue (`AttemptLog`):

* **raised** — the worker records it when enrich raises (not for registry outages: those are
  given back without counting);
* **crashed** — before enriching a record each worker writes its key into its own marker file
  (`WorkerMarker`, a memory-mapped 16 bytes: no system call, so the hot path stays free of
  writes) and clears it after. A worker that dies leaves its marker naming the culprit; the next
  worker to see a redelivery reaps the markers of dead processes into the log;
* **timed out** — a redelivered record whose key is in the marker of a live worker: its lease ran
  out while that worker was still on it.

Messages are keyed by a 128-bit BLAKE2b of the transport's message id (the same on every
redelivery), or of their bytes where the transport has none. The log is read only for redelivered
records (`Delivery.attempt > 1` where the transport's count survives a crash) or for every record
(Pub/Sub without a dead-letter policy, whose count restarts with the process), so first
deliveries cost one BLAKE2b digest and the marker write. The file is
SQLite in WAL mode with `synchronous=NORMAL`: a commit survives the process dying, the failure it
exists for; a power cut may lose the last counts, costing one more attempt.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import sqlite3
import threading
import time
from pathlib import Path

from core.errors import ConfigError
from core.queue.port import Delivery
from core.sqlite_wal import use_wal

__all__ = ["AttemptLog", "WorkerMarker", "delivery_key", "record_key"]

_KEY_BYTES = 16
_IDLE = bytes(_KEY_BYTES)


def record_key(data: bytes) -> bytes:
    """The identity of a raw record the transport gives no id: the same bytes are the same record."""
    return hashlib.blake2b(data, digest_size=_KEY_BYTES).digest()


def delivery_key(delivery: Delivery) -> bytes:
    """The identity of a delivered message in the log: its transport id, else its bytes."""
    if delivery.message_id:
        return hashlib.blake2b(delivery.message_id.encode(), digest_size=_KEY_BYTES, person=b"message id").digest()
    return record_key(delivery.data)


class AttemptLog:
    """Failed attempts per raw record, and the markers of the workers using the log."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.markers = self.path.with_name(self.path.name + ".workers")
        self._lock = threading.Lock()
        try:
            self.markers.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=30000")
            use_wal(self._conn)
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS attempts (key BLOB PRIMARY KEY, failures INTEGER NOT NULL,"
                " updated_ms INTEGER NOT NULL)"
            )
        except (sqlite3.Error, OSError) as e:
            raise ConfigError(f"enrich attempt log {self.path}: cannot open: {e}") from e

    def failed(self, key: bytes) -> int:
        """Count one failed attempt of the record; returns its failures so far."""
        with self._lock:
            rows = self._conn.execute(
                "INSERT INTO attempts (key, failures, updated_ms) VALUES (?, 1, ?)"
                " ON CONFLICT (key) DO UPDATE SET failures = failures + 1, updated_ms = excluded.updated_ms"
                " RETURNING failures",
                (key, time.time_ns() // 1_000_000),
            ).fetchall()  # fetchall ends the statement, and with it the write transaction
        return int(rows[0][0])

    def failures(self, key: bytes) -> int:
        """Failed attempts recorded for the record (0 when none)."""
        with self._lock:
            row = self._conn.execute("SELECT failures FROM attempts WHERE key = ?", (key,)).fetchone()
        return 0 if row is None else int(row[0])

    def counted(self) -> int:
        """Messages the log holds failures of (for tests and tools)."""
        with self._lock:
            row = self._conn.execute("SELECT count(*) FROM attempts").fetchone()
        return int(row[0])

    def forget(self, keys: list[bytes]) -> None:
        """The records are acked: drop their counts."""
        if not keys:
            return
        with self._lock:
            self._conn.executemany("DELETE FROM attempts WHERE key = ?", [(k,) for k in keys])

    def reap(self) -> list[bytes]:
        """Count a crash for each record a dead worker's marker names, and remove those markers."""
        culprits: list[bytes] = []
        for marker in self.markers.iterdir():
            pid = _marker_pid(marker)
            if pid is None or pid == os.getpid() or _alive(pid):
                continue
            try:
                key = marker.read_bytes()[:_KEY_BYTES]
            except OSError:
                continue
            if len(key) == _KEY_BYTES and key != _IDLE:
                self.failed(key)
                culprits.append(key)
            marker.unlink(missing_ok=True)
        return culprits

    def held_elsewhere(self, key: bytes) -> bool:
        """A live worker other than this process is enriching the record right now."""
        for marker in self.markers.iterdir():
            pid = _marker_pid(marker)
            if pid is None or pid == os.getpid() or not _alive(pid):
                continue
            try:
                if marker.read_bytes()[:_KEY_BYTES] == key:
                    return True
            except OSError:
                continue
        return False

    def marker(self) -> WorkerMarker:
        """This process's marker (one per process: workers in threads of one process share it)."""
        return WorkerMarker(self.markers / f"{os.getpid()}.marker")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _marker_pid(path: Path) -> int | None:
    stem = path.name.removesuffix(".marker")
    return int(stem) if stem.isdigit() and path.name.endswith(".marker") else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:  # a zombie (dead, not yet waited for by its parent) still answers signal 0
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class WorkerMarker:
    """The record this worker is enriching right now, in a shared memory map that outlives a crash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.ftruncate(fd, _KEY_BYTES)
            self._map = mmap.mmap(fd, _KEY_BYTES)
        finally:
            os.close(fd)
        self._map[:] = _IDLE

    def on(self, key: bytes) -> None:
        self._map[:] = key

    def off(self) -> None:
        self._map[:] = _IDLE

    def close(self) -> None:
        """A clean stop: nothing to blame, the marker goes."""
        self._map.close()
        self.path.unlink(missing_ok=True)
