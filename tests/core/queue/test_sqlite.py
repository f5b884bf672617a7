"""The SQLite queue beyond the shared contract: group commit, several consumer processes, crashes, exact bytes."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError, QueueUnavailable
from core.queue.sqlite import SQLitePublisher, SQLiteSubscriber
from tests.core.queue import consumer_process

SPAWN = multiprocessing.get_context("spawn")  # no fork: the test process may hold gRPC threads


def test_creates_missing_folders_and_the_file(tmp_path: Path) -> None:
    """Opening a queue in a folder that does not exist yet creates the folders and the database."""
    path = tmp_path / "a" / "b" / "queue.db"
    publisher = SQLitePublisher(path)
    publisher.check()
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    publisher.close()


def test_published_rows_are_committed_when_publish_returns(tmp_path: Path) -> None:
    """As soon as publish() returns, an independent connection sees every row."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)
    publisher.publish([b"a", b"b", b"c"])
    with sqlite3.connect(path) as conn:
        assert conn.execute('SELECT count(*) FROM "queue_raw"').fetchone()[0] == 3
    publisher.close()


def test_concurrent_publishers_are_group_committed(tmp_path: Path) -> None:
    """Many threads publishing single messages all get durable rows, in fewer transactions than calls."""
    publisher = SQLitePublisher(tmp_path / "queue.db")
    threads, per_thread = 16, 40
    errors: list[BaseException] = []

    def publish_many(worker: int) -> None:
        try:
            for i in range(per_thread):
                publisher.publish([f"{worker}-{i}".encode()])
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=publish_many, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert publisher.depth() == threads * per_thread
    assert publisher.transactions < threads * per_thread
    subscriber = SQLiteSubscriber(tmp_path / "queue.db")
    data = [d.data for d in subscriber.pull(10_000, timeout=0)]
    assert sorted(data) == sorted(f"{w}-{i}".encode() for w in range(threads) for i in range(per_thread))
    subscriber.close()
    publisher.close()


def test_threads_sharing_a_failed_commit_all_get_the_error_and_the_next_group_commits(tmp_path: Path) -> None:
    """Threads blocked on one failing commit are all woken with QueueUnavailable (none hangs), and once the cause
    is gone the next concurrent publishes share commits again."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)
    publisher.publish([b"before"])
    with sqlite3.connect(path) as conn:
        conn.execute('DROP TABLE "queue_raw"')
    threads = 12
    outcomes: list[BaseException | None] = []
    start = threading.Barrier(threads)

    def publish_one(worker: int) -> None:
        start.wait()
        try:
            publisher.publish([f"{worker}".encode()])
            outcomes.append(None)
        except BaseException as exc:
            outcomes.append(exc)

    workers = [threading.Thread(target=publish_one, args=(w,), daemon=True) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert not any(worker.is_alive() for worker in workers)
    assert len(outcomes) == threads and all(isinstance(o, QueueUnavailable) for o in outcomes), outcomes
    with sqlite3.connect(path) as conn:
        conn.execute(
            'CREATE TABLE "queue_raw" (id INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL,'
            " publish_time_ms INTEGER NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,"
            " lease_until INTEGER NOT NULL DEFAULT 0)"
        )
    before = publisher.transactions
    start = threading.Barrier(threads)
    outcomes.clear()
    workers = [threading.Thread(target=publish_one, args=(w,), daemon=True) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert outcomes == [None] * threads
    assert publisher.depth() == threads
    assert publisher.transactions - before < threads
    publisher.close()


class _WriterLingersAfterUnlock:
    """The publisher's lock, except that the writer thread pauses just after releasing it: this widens the window
    in which callers join the group the writer has just looked at (instrumentation, not a mock of SQLite)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        if threading.current_thread().name.startswith("sqlite-queue"):
            time.sleep(0.0005)


def test_every_confirmed_publish_is_committed_while_the_writer_goes_idle_and_wakes(tmp_path: Path) -> None:
    """Callers arriving just as the writer finds nothing to do and goes idle are all committed before they are
    confirmed: no confirmed message is missing from the file, none is written twice."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)
    publisher._lock = _WriterLingersAfterUnlock()  # type: ignore[assignment]
    confirmed: list[bytes] = []

    def publish_with_pauses(worker: int) -> None:
        for i in range(200):
            message = f"{worker}-{i}".encode()
            publisher.publish([message])
            confirmed.append(message)
            time.sleep(0.0002 * (i % 3))  # pauses let the writer run dry and go idle between groups

    workers = [threading.Thread(target=publish_with_pauses, args=(w,), daemon=True) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert not any(worker.is_alive() for worker in workers), "a publisher was never confirmed"
    publisher.close()
    with sqlite3.connect(path) as conn:
        rows = [bytes(row[0]) for row in conn.execute('SELECT data FROM "queue_raw"')]
    assert sorted(rows) == sorted(confirmed)


def test_baseline_mode_commits_each_call_alone(tmp_path: Path) -> None:
    """With group_commit=False every publish() call is its own transaction (the benchmark's baseline)."""
    publisher = SQLitePublisher(tmp_path / "queue.db", group_commit=False)
    for i in range(5):
        publisher.publish([str(i).encode(), b"x"])
    assert (publisher.transactions, publisher.depth()) == (5, 10)
    publisher.close()


def test_several_consumer_processes_share_the_queue_without_double_delivery(tmp_path: Path) -> None:
    """Three consumer processes drain one queue: every message is delivered exactly once, never to two holders."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)
    sent = [f"message-{i}" for i in range(900)]
    for start in range(0, len(sent), 100):
        publisher.publish([s.encode() for s in sent[start : start + 100]])
    results = [tmp_path / f"consumer-{n}.jsonl" for n in range(3)]
    processes = [
        SPAWN.Process(target=consumer_process.drain_and_ack, args=(str(path), str(result), 20)) for result in results
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    seen = [json.loads(line) for result in results for line in result.read_text().splitlines()]
    assert sorted(data for data, _ in seen) == sorted(sent)
    assert {attempt for _, attempt in seen} == {1}
    assert publisher.depth() == 0
    publisher.close()


def test_leases_of_a_killed_consumer_are_redelivered_after_expiry(tmp_path: Path) -> None:
    """A consumer process killed while holding leases blocks nobody for longer than the lease; then all come back."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)
    publisher.publish([f"held-{i}".encode() for i in range(10)])
    ready = tmp_path / "ready"
    lease = 1.5
    child = SPAWN.Process(target=consumer_process.lease_and_hang, args=(str(path), str(ready), lease))
    child.start()
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.read_text() == "10"
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    leased_at = time.monotonic()
    survivor = SQLiteSubscriber(path, lease_seconds=30)
    assert survivor.pull(100, timeout=0.2) == []  # the dead worker's leases are still live
    redelivered = survivor.pull(100, timeout=lease + 3)
    assert time.monotonic() - leased_at >= lease - 0.5
    assert sorted(d.data for d in redelivered) == sorted(f"held-{i}".encode() for i in range(10))
    assert {d.attempt for d in redelivered} == {2}
    survivor.ack([d.ack_id for d in redelivered])
    assert survivor.depth() == 0
    survivor.close()
    publisher.close()


def test_stale_ack_does_not_end_the_next_holders_lease(tmp_path: Path) -> None:
    """An ack or nack for an expired lease, after the message went to someone else, changes nothing."""
    path = tmp_path / "queue.db"
    publisher = SQLitePublisher(path)
    publisher.publish([b"slow"])
    slow = SQLiteSubscriber(path, lease_seconds=0.2)
    fast = SQLiteSubscriber(path, lease_seconds=30)
    [stale] = slow.pull(1, timeout=0)
    time.sleep(0.3)
    [current] = fast.pull(1, timeout=1)
    assert (current.data, current.attempt) == (b"slow", 2)
    slow.nack([stale.ack_id])
    slow.ack([stale.ack_id])
    assert fast.depth() == 1
    assert slow.pull(1, timeout=0.2) == []  # still leased to `fast`
    fast.ack([current.ack_id])
    assert fast.depth() == 0
    for closing in (slow, fast, publisher):
        closing.close()


def test_topics_in_one_file_are_separate_queues(tmp_path: Path) -> None:
    """Messages published to one topic are never delivered to another topic's subscriber."""
    path = tmp_path / "queue.db"
    raw, other = SQLitePublisher(path, "raw"), SQLitePublisher(path, "replay")
    raw.publish([b"raw"])
    other.publish([b"replay"])
    subscriber = SQLiteSubscriber(path, "replay")
    assert [d.data for d in subscriber.pull(10, timeout=0)] == [b"replay"]
    for closing in (raw, other, subscriber):
        closing.close()


def test_pull_waits_for_the_timeout_then_returns_nothing(tmp_path: Path) -> None:
    """An empty queue makes pull wait about `timeout` seconds and return an empty list."""
    subscriber = SQLiteSubscriber(tmp_path / "queue.db")
    started = time.monotonic()
    assert subscriber.pull(10, timeout=0.3) == []
    assert 0.3 <= time.monotonic() - started < 1.5
    subscriber.close()


def test_pull_wakes_up_when_a_message_arrives(tmp_path: Path) -> None:
    """A message published while pull is waiting is returned well before the timeout."""
    path = tmp_path / "queue.db"
    subscriber, publisher = SQLiteSubscriber(path), SQLitePublisher(path)
    timer = threading.Timer(0.2, publisher.publish, args=([b"late"],))
    timer.start()
    started = time.monotonic()
    deliveries = subscriber.pull(10, timeout=10)
    assert [d.data for d in deliveries] == [b"late"]
    assert time.monotonic() - started < 2
    timer.join()
    subscriber.close()
    publisher.close()


def test_misuse_is_refused_clearly(tmp_path: Path) -> None:
    """Bad topics, empty messages, malformed ack ids and use after close raise named errors."""
    path = tmp_path / "queue.db"
    with pytest.raises(ConfigError, match="topic"):
        SQLitePublisher(path, 'raw"; DROP TABLE x; --')
    with pytest.raises(ConfigError, match="lease_seconds"):
        SQLiteSubscriber(path, lease_seconds=0)
    publisher, subscriber = SQLitePublisher(path), SQLiteSubscriber(path)
    with pytest.raises(ValueError, match="empty"):
        publisher.publish([b"ok", b""])
    assert publisher.depth() == 0
    with pytest.raises(ValueError, match="ack id"):
        subscriber.ack(["not-an-ack-id"])
    publisher.close()
    subscriber.close()
    with pytest.raises(QueueUnavailable):
        publisher.publish([b"late"])
    with pytest.raises(QueueUnavailable):
        subscriber.pull(1, timeout=0)


def test_unwritable_location_is_a_queue_error(tmp_path: Path) -> None:
    """A queue path that cannot be created raises QueueUnavailable, not a raw OSError."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(QueueUnavailable):
        SQLitePublisher(blocker / "queue.db")


@settings(max_examples=50)
@given(st.lists(st.binary(min_size=1, max_size=2048), min_size=1, max_size=20))
def test_arbitrary_payloads_round_trip_exactly(messages: list[bytes]) -> None:
    """Any non-empty byte strings come back byte for byte, in publish order."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "queue.db"
        publisher, subscriber = SQLitePublisher(path), SQLiteSubscriber(path)
        publisher.publish(messages)
        deliveries = subscriber.pull(len(messages) + 1, timeout=0)
        assert [d.data for d in deliveries] == messages
        subscriber.ack([d.ack_id for d in deliveries])
        assert subscriber.depth() == 0
        publisher.close()
        subscriber.close()
