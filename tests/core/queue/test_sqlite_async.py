"""The SQLite queue's event-loop publishing: futures complete only after the commit, many tasks share one fsync."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from core.errors import QueueUnavailable
from core.queue.port import AsyncPublisher
from core.queue.sqlite import SQLitePublisher, SQLiteSubscriber


def _committed(path: Path) -> set[bytes]:
    with sqlite3.connect(path) as conn:
        return {bytes(row[0]) for row in conn.execute('SELECT data FROM "queue_raw"')}


def test_each_task_sees_its_rows_committed_when_its_future_completes(tmp_path: Path) -> None:
    """Concurrent tasks awaiting publish_async: as each await returns, an independent connection sees its row,
    and the tasks shared far fewer transactions than calls."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)
    assert isinstance(publisher, AsyncPublisher)
    missing: list[bytes] = []

    async def task(worker: int) -> None:
        for i in range(5):
            message = f"{worker}-{i}".encode()
            await publisher.publish_async([message])
            if message not in _committed(path):
                missing.append(message)

    async def main() -> None:
        await asyncio.gather(*(task(w) for w in range(20)))

    asyncio.run(main())
    assert missing == []
    assert publisher.transactions < 100
    subscriber = SQLiteSubscriber(path)
    data = sorted(d.data for d in subscriber.pull(1000, timeout=0))
    assert data == sorted(f"{w}-{i}".encode() for w in range(20) for i in range(5))
    subscriber.close()
    publisher.close()


def test_threads_and_tasks_share_the_writer(tmp_path: Path) -> None:
    """Thread publishers and event-loop publishers on one publisher all get their rows, exactly once each."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)

    def thread_publisher(worker: int) -> None:
        for i in range(30):
            publisher.publish([f"t{worker}-{i}".encode()])

    async def tasks() -> None:
        async def one(worker: int) -> None:
            for i in range(30):
                await publisher.publish_async([f"a{worker}-{i}".encode(), f"b{worker}-{i}".encode()])

        await asyncio.gather(*(one(w) for w in range(8)))

    threads = [threading.Thread(target=thread_publisher, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    expected = {f"t{w}-{i}".encode() for w in range(4) for i in range(30)}
    expected |= {f"{p}{w}-{i}".encode() for p in "ab" for w in range(8) for i in range(30)}
    assert _committed(path) == expected
    assert publisher.depth() == len(expected)
    publisher.close()


def test_a_failed_commit_fails_every_waiting_caller_and_the_writer_goes_on(tmp_path: Path) -> None:
    """When the commit fails (the table was dropped underneath), tasks and threads get QueueUnavailable, none hangs,
    and the next publish after the cause is gone succeeds."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)
    publisher.publish([b"before"])
    with sqlite3.connect(path) as conn:
        conn.execute('DROP TABLE "queue_raw"')

    async def failing() -> list[BaseException | None]:
        results = await asyncio.gather(*(publisher.publish_async([b"x"]) for _ in range(5)), return_exceptions=True)
        return list(results)

    results = asyncio.run(asyncio.wait_for(failing(), 10))
    assert all(isinstance(r, QueueUnavailable) for r in results), results
    with pytest.raises(QueueUnavailable):
        publisher.publish([b"y"])
    with sqlite3.connect(path) as conn:
        conn.execute(
            'CREATE TABLE "queue_raw" (id INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL,'
            " publish_time_ms INTEGER NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,"
            " lease_until INTEGER NOT NULL DEFAULT 0)"
        )
    asyncio.run(asyncio.wait_for(_publish_one(publisher, b"after"), 10))
    assert _committed(path) == {b"after"}
    publisher.close()


async def _publish_one(publisher: SQLitePublisher, message: bytes) -> None:
    await publisher.publish_async([message])


def test_a_caller_that_stops_waiting_does_not_disturb_the_others(tmp_path: Path) -> None:
    """A task cancelled while its batch commits changes nothing: its rows are committed and the other tasks finish."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)

    async def main() -> None:
        impatient = asyncio.ensure_future(publisher.publish_async([b"impatient"]))
        patient = [publisher.publish_async([f"p{i}".encode()]) for i in range(10)]
        impatient.cancel()
        await asyncio.gather(*patient)

    asyncio.run(main())
    publisher.close()
    assert {f"p{i}".encode() for i in range(10)} <= _committed(path)


def test_closed_publisher_refuses_and_empty_batches_complete_at_once(tmp_path: Path) -> None:
    """publish_async of nothing completes without a commit; after close it raises QueueUnavailable; empty messages
    are refused with ValueError as publish() refuses them."""
    publisher = SQLitePublisher(tmp_path / "queue.db")

    async def main() -> None:
        await publisher.publish_async([])
        with pytest.raises(ValueError, match="empty"):
            publisher.publish_async([b"ok", b""])
        publisher.close()
        with pytest.raises(QueueUnavailable):
            publisher.publish_async([b"late"])

    asyncio.run(main())
    assert publisher.transactions == 0
