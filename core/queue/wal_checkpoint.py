"""WAL checkpoints off the commit path: a checkpoint copies the log into the database file and fsyncs
it, and run inside a publish commit (SQLite's automatic checkpoint) it stalls every caller waiting on
that commit. A publisher turns the automatic checkpoint off and hands the work to this thread instead.

Checkpoints are PASSIVE: they copy what no reader still needs and never block writers or readers,
so publishing continues while the database file is written. Durability is unaffected: committed
frames are already fsynced in the WAL.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from core.telemetry import get_logger

__all__ = ["CHECKPOINT_EVERY_BYTES", "WalCheckpointer"]

CHECKPOINT_EVERY_BYTES = 4 * 1024 * 1024  # about SQLite's own default (1000 pages of 4 KiB)

log = get_logger("core.queue.wal_checkpoint")


class WalCheckpointer:
    """Runs a PASSIVE checkpoint of one database file in its own thread once enough bytes were committed."""

    def __init__(self, path: Path, every_bytes: int = CHECKPOINT_EVERY_BYTES) -> None:
        self.path = path
        self.every_bytes = every_bytes
        self.checkpoints = 0  # completed checkpoint calls, for tests
        self._written = 0
        self._due = threading.Event()
        self._stopping = False
        self._failing = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def committed(self, nbytes: int) -> None:
        """Count bytes just committed; wake the checkpoint thread when a checkpoint is due. Never blocks."""
        with self._lock:
            self._written += nbytes
            if self._written < self.every_bytes or self._stopping:
                return
            self._written = 0
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"sqlite-checkpoint-{self.path.name}")
                self._thread.daemon = True  # a publisher never closed must not keep its process alive
                self._thread.start()
        self._due.set()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while True:
            self._due.wait()
            self._due.clear()
            if self._stopping:
                break
            try:
                if conn is None:
                    conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
                if self._failing:
                    log.info("wal_checkpoint_recovered", path=str(self.path))
                self._failing = False
            except sqlite3.Error as exc:  # the next due checkpoint retries; readers only see a longer WAL
                if not self._failing:
                    log.warning("wal_checkpoint_failed", path=str(self.path), error=str(exc))
                self._failing = True
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Stop the thread (a checkpoint in progress finishes first)."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._due.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
