"""Put a SQLite database in WAL mode when several processes may be opening (and creating) it at the same time.

Switching a new file to WAL takes an exclusive lock, and a second connection doing the same at that moment
gets "database is locked" at once: SQLite does not call the busy handler there (it could deadlock). Two
enrich workers starting together hit it on their shared attempt log, and one exited at start-up. So the
pragma is retried until WAL holds or `timeout_s` passes.
"""

from __future__ import annotations

import sqlite3
import time

__all__ = ["use_wal"]


def use_wal(conn: sqlite3.Connection, timeout_s: float = 30.0) -> None:
    """`PRAGMA journal_mode=WAL` on `conn`, retried while another connection holds the lock it needs."""
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
