"""WAL checkpoints run in their own thread once enough bytes were committed, never inside a publish commit."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from core.queue.sqlite import SQLitePublisher
from core.queue.wal_checkpoint import CHECKPOINT_EVERY_BYTES, WalCheckpointer


def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _wal_database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (data BLOB)")
    return conn


def test_checkpoint_runs_only_once_enough_bytes_were_committed(tmp_path: Path) -> None:
    """Below the threshold nothing is copied into the database file; crossing it copies the WAL in the background."""
    path = tmp_path / "wal.db"
    conn = _wal_database(path)
    for _ in range(64):
        conn.execute("INSERT INTO t VALUES (?)", (b"x" * 4096,))
    checkpointer = WalCheckpointer(path, every_bytes=256 * 1024)
    empty_size = path.stat().st_size
    checkpointer.committed(100 * 1024)
    checkpointer.committed(100 * 1024)  # 200 KiB: still below the threshold
    time.sleep(0.2)
    assert (checkpointer.checkpoints, path.stat().st_size) == (0, empty_size)
    checkpointer.committed(100 * 1024)
    assert _eventually(lambda: checkpointer.checkpoints >= 1)
    assert path.stat().st_size >= 64 * 4096  # the rows now live in the database file too
    checkpointer.close()
    conn.close()


def test_close_stops_the_thread_and_later_commits_start_nothing(tmp_path: Path) -> None:
    """After close(), counting more bytes starts no checkpoint and no thread."""
    path = tmp_path / "wal.db"
    conn = _wal_database(path)
    checkpointer = WalCheckpointer(path, every_bytes=1)
    checkpointer.committed(10)
    assert _eventually(lambda: checkpointer.checkpoints >= 1)
    checkpointer.close()
    done = checkpointer.checkpoints
    checkpointer.committed(10)
    time.sleep(0.1)
    assert checkpointer.checkpoints == done
    conn.close()


def test_publisher_leaves_checkpoints_to_its_checkpoint_thread(tmp_path: Path) -> None:
    """The publisher's connection never checkpoints in a commit; after more than the threshold was published the
    background checkpoint has copied the rows into the database file."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)
    assert publisher._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    message = b"m" * 1024
    batches = CHECKPOINT_EVERY_BYTES // (len(message) * 100) + 2
    for _ in range(batches):
        publisher.publish([message] * 100)
    assert _eventually(lambda: publisher._checkpointer.checkpoints >= 1)
    assert path.stat().st_size >= CHECKPOINT_EVERY_BYTES // 2
    assert publisher.depth() == batches * 100
    publisher.close()


def test_a_wal_past_its_limit_is_truncated_between_commits_and_nothing_is_lost(tmp_path: Path) -> None:
    """While a reader pins an old snapshot the WAL outgrows its limit; once the reader is gone, the writer's
    next commits truncate it (one TRUNCATE checkpoint between commits) and every message is still there."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)
    publisher._checkpointer.every_bytes = 64 * 1024
    publisher._checkpointer.max_wal_bytes = limit = 512 * 1024
    wal = tmp_path / "queue.db-wal"
    message = b"m" * 1024
    publisher.publish([message])
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute(f"SELECT count(*) FROM {publisher._table}").fetchone()  # pins this snapshot
    started = time.monotonic()
    for _ in range(12):
        publisher.publish([message] * 100)
    assert _eventually(lambda: publisher._checkpointer.checkpoints >= 3)
    assert wal.stat().st_size > limit  # nothing could be copied past the pinned snapshot
    reader.execute("COMMIT")
    reader.close()
    published = 0

    def truncated_while_publishing() -> bool:
        nonlocal published
        publisher.publish([message] * 10)
        published += 10
        return wal.stat().st_size < limit

    assert _eventually(truncated_while_publishing, timeout=20)  # publishing on: truncated on the way
    assert time.monotonic() - started < 15  # the pinned reader never stalled a commit for long
    assert publisher.depth() == 1 + 12 * 100 + published
    publisher.close()
