"""The local spool: raw records the queue could not confirm in time, committed to SQLite before the tracker hears 200.

One SQLite file (WAL, synchronous=FULL): `append` returns only after the rows are fsynced. The
drainer claims the oldest rows with a lease (so several worker processes sharing one spool file
never publish the same rows at the same time, and a crashed drainer's claims expire), publishes
them, and deletes them only after the queue confirmed: a crash in between republishes them
(duplicates are allowed downstream, loss is not).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from core.errors import TransientError
from core.sqlite_wal import use_wal

__all__ = ["Spool", "SpoolUnavailable"]

_BUSY_TIMEOUT_S = 10.0


class SpoolUnavailable(TransientError):
    """The spool could not commit or read (disk full, permissions, corruption): answer 503."""


class Spool:
    """Thread-safe; every method blocks (call it from a worker thread, never on the event loop)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            use_wal(conn)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS spool ("
                " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " data BLOB NOT NULL,"
                " claimed_until REAL NOT NULL DEFAULT 0,"
                " claimed_by INTEGER NOT NULL DEFAULT 0)"
            )
            self._release_orphans(conn)
        except (sqlite3.Error, OSError) as e:
            raise SpoolUnavailable(f"spool {self.path}: cannot open: {e}") from e
        self._conn = conn

    @staticmethod
    def _release_orphans(conn: sqlite3.Connection) -> None:
        """Claims of processes that are gone (or of an earlier process with our pid) end now, not at lease expiry."""
        owners = [int(o) for (o,) in conn.execute("SELECT DISTINCT claimed_by FROM spool WHERE claimed_until > 0")]
        for owner in owners:
            alive = owner != os.getpid() and owner > 0
            if alive:
                try:
                    os.kill(owner, 0)
                except ProcessLookupError:
                    alive = False
                except PermissionError:
                    pass  # exists, owned by someone else: let its lease expire
            if not alive:
                conn.execute("UPDATE spool SET claimed_until = 0 WHERE claimed_by = ?", (owner,))

    def append(self, records: Sequence[bytes]) -> None:
        """Commit every record (one transaction, one fsync) or raise SpoolUnavailable having stored none."""
        if not records:
            return
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.executemany("INSERT INTO spool (data) VALUES (?)", [(r,) for r in records])
                    self._conn.execute("COMMIT")
                except BaseException:
                    _rollback(self._conn)
                    raise
            except (sqlite3.Error, OSError) as e:
                raise SpoolUnavailable(f"spool {self.path}: cannot commit: {e}") from e

    def claim(self, limit: int, lease_seconds: float = 30.0) -> list[tuple[int, bytes]]:
        """The oldest unclaimed rows, in spool order, leased to the caller for `lease_seconds`."""
        now = time.time()
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    rows = self._conn.execute(
                        "SELECT id, data FROM spool WHERE claimed_until < ? ORDER BY id LIMIT ?", (now, limit)
                    ).fetchall()
                    if rows:
                        self._conn.execute(
                            "UPDATE spool SET claimed_until = ?, claimed_by = ?"
                            " WHERE id BETWEEN ? AND ? AND claimed_until < ?",
                            (now + lease_seconds, os.getpid(), rows[0][0], rows[-1][0], now),
                        )
                    self._conn.execute("COMMIT")
                except BaseException:
                    _rollback(self._conn)
                    raise
            except (sqlite3.Error, OSError) as e:
                raise SpoolUnavailable(f"spool {self.path}: cannot claim: {e}") from e
        return [(int(i), bytes(d)) for i, d in rows]

    def delete(self, ids: Sequence[int]) -> None:
        """Forget rows the queue confirmed."""
        if not ids:
            return
        self._write_many("DELETE FROM spool WHERE id = ?", ids, "delete")

    def release(self, ids: Sequence[int]) -> None:
        """Give claimed rows back (the publish failed) so the next drain retries them first."""
        if not ids:
            return
        self._write_many("UPDATE spool SET claimed_until = 0 WHERE id = ?", ids, "release")

    def _write_many(self, sql: str, ids: Sequence[int], what: str) -> None:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.executemany(sql, [(i,) for i in ids])
                    self._conn.execute("COMMIT")
                except BaseException:
                    _rollback(self._conn)
                    raise
            except (sqlite3.Error, OSError) as e:
                raise SpoolUnavailable(f"spool {self.path}: cannot {what}: {e}") from e

    def count(self) -> int:
        with self._lock:
            try:
                (n,) = self._conn.execute("SELECT count(*) FROM spool").fetchone()
            except (sqlite3.Error, OSError) as e:
                raise SpoolUnavailable(f"spool {self.path}: cannot count: {e}") from e
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back what a failed statement left open. SQLite has often rolled back already (a full disk does that):
    a ROLLBACK then fails with "no transaction is active", which used to replace the real cause in the error."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the cause being raised is the one worth reporting
