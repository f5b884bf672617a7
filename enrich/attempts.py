"""How many times enrich began a raw record without finishing it, kept where a worker crash cannot erase it.

A poison record (one whose processing raises, or kills or stalls the worker) would otherwise be
redelivered forever. The worker calls `AttemptLog.begin` before processing a record, and the count
is committed before processing starts, so a crash on that record still counts. Where the
transport's attempt number survives a crash (`Delivery.attempt_durable`: the SQLite queue, Pub/Sub
with a dead-letter policy) first deliveries are not written, keeping the hot path free of writes:
a redelivered record's row then starts at 2, its unrecorded first attempt and this one. Otherwise
(Pub/Sub without a dead-letter policy) every record is counted from its first delivery.

    begin(key)   -> failures before this attempt (starts not known to have ended)
    ended(key)   the attempt ended normally (outcomes produced, or given back for a registry outage)
    forget(key)  the record is acked: its row goes

Records are keyed by a 128-bit BLAKE2b of their bytes. The file is SQLite in WAL mode with
`synchronous=NORMAL`: a commit survives the process dying (it is in the OS page cache), which is
the failure this log exists for; a power cut may lose the last counts, costing one more attempt.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

from core.errors import ConfigError

__all__ = ["AttemptLog", "record_key"]


def record_key(data: bytes) -> bytes:
    """The identity of a raw record in the log: the same bytes are the same record."""
    return hashlib.blake2b(data, digest_size=16).digest()


class AttemptLog:
    """Unfinished processing starts per raw record, in a SQLite file shared by the workers of one queue."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS attempts (key BLOB PRIMARY KEY, starts INTEGER NOT NULL,"
                " updated_ms INTEGER NOT NULL)"
            )
        except (sqlite3.Error, OSError) as e:
            raise ConfigError(f"enrich attempt log {self.path}: cannot open: {e}") from e

    def begin(self, key: bytes, *, unrecorded_before: bool = True) -> int:
        """Record that processing of a record starts; returns the attempts that failed before it.

        `unrecorded_before`: the record was delivered before without being written here (a durable
        attempt number above 1), so a new row counts that attempt too.
        """
        row = self._write(
            "INSERT INTO attempts (key, starts, updated_ms) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET starts = starts + 1, updated_ms = excluded.updated_ms"
            " RETURNING starts",
            (key, 2 if unrecorded_before else 1, time.time_ns() // 1_000_000),
        )
        return int(row[0]) - 1 if row is not None else 0

    def ended(self, key: bytes, *, first_delivery: bool = False) -> None:
        """The attempt ended without fault: it does not count (a first delivery records that it ended)."""
        self._write(
            "INSERT INTO attempts (key, starts, updated_ms) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET starts = starts - 1, updated_ms = excluded.updated_ms"
            " RETURNING starts",
            (key, 0 if first_delivery else 1, time.time_ns() // 1_000_000),
        )

    def forget(self, keys: list[bytes]) -> None:
        """The records are acked: drop their rows."""
        if not keys:
            return
        with self._lock:
            try:
                self._conn.executemany("DELETE FROM attempts WHERE key = ?", [(k,) for k in keys])
            except sqlite3.Error:
                pass  # a leftover row only remembers failures of a record that will not come back

    def failures(self, key: bytes) -> int:
        """Attempts recorded as not ended, for tests and tools (0 when the record has no row)."""
        with self._lock:
            row = self._conn.execute("SELECT starts FROM attempts WHERE key = ?", (key,)).fetchone()
        return 0 if row is None else int(row[0])

    def _write(self, statement: str, params: tuple[object, ...]) -> tuple[int] | None:
        with self._lock:
            rows = self._conn.execute(statement, params).fetchall()  # fetchall ends the statement and its commit
        return (int(rows[0][0]),) if rows else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
