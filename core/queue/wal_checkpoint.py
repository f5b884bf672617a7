"""WAL checkpoints off the commit path: a checkpoint copies the log into the database file and fsyncs
it, and run inside a publish commit (SQLite's automatic checkpoint) it stalls every caller waiting on
that commit. A publisher turns the automatic checkpoint off and hands the work to this thread instead.

Checkpoints are PASSIVE: they copy what no reader still needs and never block writers or readers,
so publishing continues while the database file is written. Durability is unaffected: committed
frames are already fsynced in the WAL.

The WAL stays bounded: SQLite restarts it from the beginning only when a checkpoint has copied every
frame, which publishing flat out can outrun indefinitely. Once the WAL file is past `max_wal_bytes`,
the checkpointer says so (`wal_over_limit`) and the publisher's writer runs one TRUNCATE checkpoint
between two commits: publishing pauses for that one checkpoint, and the file is back to zero bytes.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from core.telemetry import get_logger

__all__ = ["CHECKPOINT_EVERY_BYTES", "MAX_WAL_BYTES", "WalCheckpointer"]

# 8x SQLite's own default (1000 pages of 4 KiB): a checkpoint copies each page once however often commits
# rewrote it (the table's last leaf, its interior pages, the header), so rarer checkpoints copy fewer pages
# per message (measured in bench_queue; figures in the commit that set this). The price: a WAL of up to
# ~32 MiB between checkpoints, which readers and crash recovery scan.
CHECKPOINT_EVERY_BYTES = 32 * 1024 * 1024
MAX_WAL_BYTES = 256 * 1024 * 1024  # past this the writer truncates the WAL (one pause) rather than let it grow
TRUNCATE_WAIT_MS = 50  # how long that truncation waits for readers of older snapshots before trying later

log = get_logger("core.queue.wal_checkpoint")


class WalCheckpointer:
    """Runs a PASSIVE checkpoint of one database file in its own thread once enough bytes were committed."""

    def __init__(
        self, path: Path, every_bytes: int = CHECKPOINT_EVERY_BYTES, max_wal_bytes: int = MAX_WAL_BYTES
    ) -> None:
        self.path = path
        self.every_bytes = every_bytes
        self.max_wal_bytes = max_wal_bytes
        self.wal_over_limit = False  # set by the checkpoint thread, cleared by the writer when it tries to truncate
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
                if self._wal_size() > self.max_wal_bytes:
                    self.wal_over_limit = True
                if self._failing:
                    log.info("wal_checkpoint_recovered", path=str(self.path))
                self._failing = False
            except sqlite3.Error as exc:  # the next due checkpoint retries; readers only see a longer WAL
                if not self._failing:
                    log.warning("wal_checkpoint_failed", path=str(self.path), error=str(exc))
                self._failing = True
        if conn is not None:
            conn.close()

    def _wal_size(self) -> int:
        try:
            return self.path.with_name(self.path.name + "-wal").stat().st_size
        except OSError:
            return 0

    def truncate(self, conn: sqlite3.Connection, restore_busy_timeout_ms: int) -> None:
        """On the writer's connection, between commits: checkpoint everything and cut the WAL to zero bytes.

        Waits at most TRUNCATE_WAIT_MS for readers of older snapshots; if they are still there it gives
        up until the checkpoint thread finds the WAL over its limit again, so a reader that lingers
        costs one short wait per background checkpoint, never one per commit.
        """
        self.wal_over_limit = False
        try:
            conn.execute(f"PRAGMA busy_timeout={TRUNCATE_WAIT_MS}")
            try:
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.execute(f"PRAGMA busy_timeout={restore_busy_timeout_ms}")
        except sqlite3.Error as exc:
            log.warning("wal_truncate_failed", path=str(self.path), error=str(exc))
            return
        if not busy:
            log.info("wal_truncated", path=str(self.path), limit_bytes=self.max_wal_bytes)

    def close(self) -> None:
        """Stop the thread (a checkpoint in progress finishes first)."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._due.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
