"""The embedded queue: one SQLite file in WAL mode, durable group-committed publish and leased pull across processes.

Layout: one table per topic, ``queue_<topic>``, with an AUTOINCREMENT id (monotonic, never reused),
the payload, its publish time, the delivery ``attempt`` count and ``lease_until`` (epoch ms; 0 =
available). Durability is ``synchronous=FULL``: a publish returns only after its transaction's WAL
frames are fsynced.

Group commit: concurrent ``publish()`` calls (threads) and ``publish_async()`` calls (event-loop
tasks) on one publisher are queued for its writer thread, which writes every waiting batch in one
transaction (one fsync) and then releases those callers; each returns only once its own rows are
committed. Exactly one commit is in flight; the next group accumulates meanwhile.

Leases: ``pull`` leases rows in one ``BEGIN IMMEDIATE`` transaction (``UPDATE … RETURNING``), so
several consumer processes never hold the same message while its lease is live. The ack id is
``"<id>:<attempt>"``: it names the lease, not just the message, so an ack or nack arriving after
the lease expired and the message went to another consumer is ignored and cannot cut that
consumer's lease short. The message then stays until its current holder acks it (at-least-once:
duplicates are possible, loss is not). An ack that arrives after expiry but before anyone else
leased the message still deletes it: the work was done.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from core.errors import ConfigError, QueueUnavailable
from core.queue.port import Delivery
from core.queue.wal_checkpoint import WalCheckpointer
from core.sqlite_wal import use_wal

__all__ = ["SQLitePublisher", "SQLiteSubscriber"]

_TOPIC = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_BUSY_TIMEOUT_MS = 30_000
_POLL_MIN_S = 0.002
_POLL_MAX_S = 0.05
_HELD_REMEMBERED = 100_000
_SUBSCRIBER_CHECKPOINT_PAGES = 4 * 8192  # 128 MiB of WAL, past the publisher's cadence: a fallback


def _table(topic: str) -> str:
    if not _TOPIC.match(topic):
        raise ConfigError(f"queue topic: {topic!r} is not a SQLite queue topic; use letters, digits and '_' only")
    return f'"queue_{topic}"'


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _connect(path: Path, table: str) -> sqlite3.Connection:
    """Open (creating file, folders and table on first use) a connection in WAL mode with FULL sync."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        use_wal(conn)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " data BLOB NOT NULL,"
            " publish_time_ms INTEGER NOT NULL,"
            " attempt INTEGER NOT NULL DEFAULT 0,"
            " lease_until INTEGER NOT NULL DEFAULT 0)"
        )
    except (sqlite3.Error, OSError) as exc:
        raise QueueUnavailable(f"sqlite queue {path}: cannot open: {exc}") from exc
    return conn


@contextmanager
def _transaction(conn: sqlite3.Connection, path: Path, what: str) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT; any SQLite failure rolls back and becomes QueueUnavailable."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise QueueUnavailable(f"sqlite queue {path}: {what} failed: {exc}") from exc


def _parse_ack_ids(ack_ids: Sequence[str]) -> list[tuple[int, int]]:
    leases = []
    for ack_id in ack_ids:
        message_id, sep, attempt = ack_id.partition(":")
        if not sep or not message_id.isdigit() or not attempt.isdigit():
            raise ValueError(f"{ack_id!r} is not a SQLite queue ack id (expected '<id>:<attempt>')")
        leases.append((int(message_id), int(attempt)))
    return leases


class _Group:
    """The callers waiting for one commit: their messages in arrival order, how to wake each, and the outcome.

    Built up under the publisher's lock as callers arrive, so the writer takes a whole group in one swap
    and touches nothing per message except the rows themselves."""

    __slots__ = ("done", "error", "futures", "messages")

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        # Held until the commit's outcome is known. Each publish() thread of the group takes it and at once
        # gives it back, which wakes the next: the writer releases it once, not once per waiting thread.
        self.done: threading.Lock | None = None
        self.futures: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        self.error: QueueUnavailable | None = None

    def settle(self, error: QueueUnavailable | None) -> None:
        """Runs in the writer: wake the waiting threads (through `done`), and each event loop once for all its
        futures."""
        self.error = error
        if self.done is not None:
            self.done.release()
        for loop, futures in self.futures.items():
            try:
                loop.call_soon_threadsafe(_settle_futures, futures, error)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass


def _settle_futures(futures: list[asyncio.Future[None]], error: QueueUnavailable | None) -> None:
    """Runs on an event loop: hand each waiting task its group's outcome (one loop wake-up per commit)."""
    if error is None:
        for future in futures:
            if not future.done():  # cancelled by its caller (e.g. a timeout): the rows are committed all the same
                future.set_result(None)
    else:
        for future in futures:
            if not future.done():
                future.set_exception(error)


class SQLitePublisher:
    """Durable, thread-safe publisher to one topic of a SQLite queue file, with group commit.

    Group commit: one writer thread (started on first use) takes every batch waiting, from threads
    (`publish`) or event-loop tasks (`publish_async`), writes them in one transaction (one fsync),
    and only then releases those callers. While it commits, the next group accumulates.

    `group_commit=False` commits each publish() call in its own transaction in the caller's thread
    (the baseline the benchmark compares against); durability is the same either way.
    """

    def __init__(self, path: Path | str, topic: str = "raw", *, group_commit: bool = True) -> None:
        self.path = Path(path)
        self.topic = topic
        self.group_commit = group_commit
        self._table = _table(topic)
        self._conn = _connect(self.path, self._table)
        try:  # checkpoints run in their own thread, not inside a publish commit (core.queue.wal_checkpoint)
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error as exc:
            self._conn.close()
            raise QueueUnavailable(f"sqlite queue {self.path}: cannot open: {exc}") from exc
        self._checkpointer = WalCheckpointer(self.path)
        self._lock = threading.Lock()  # guards _group, _closed, _writer, _writer_idle
        self._group = _Group()  # the callers waiting for the next commit
        self._closed = False
        self._writer: threading.Thread | None = None
        self._writer_idle = False  # the writer is blocked on _wake, waiting for a caller
        self._wake = threading.Lock()  # held while the writer has nothing to do; released to wake it
        self._wake.acquire()
        self._io = threading.Lock()  # the connection is used by one thread at a time
        self._inserts: dict[int, str] = {}
        self.transactions = 0  # committed publish transactions (group commit merges callers into one)

    def publish(self, messages: Sequence[bytes]) -> None:
        """Return once every message is committed and fsynced; raise QueueUnavailable otherwise."""
        payloads = _payloads(messages)
        if not payloads:
            return
        if not self.group_commit:
            self._check_open()
            self._write(payloads)
            return
        with self._lock:
            if self._closed:
                self._check_open()
            group = self._group
            group.messages += payloads
            done = group.done
            if done is None:
                done = group.done = threading.Lock()
                done.acquire()
            if self._writer_idle or self._writer is None:
                self._wake_writer()
        with done:  # released by the writer once our rows are committed (or failed); handed on to the next
            pass
        if group.error is not None:
            raise group.error

    def publish_async(self, messages: Sequence[bytes]) -> asyncio.Future[None]:
        """From a running event loop: a future that completes once every message is committed and fsynced
        (or fails with QueueUnavailable). No thread is taken per call: the writer settles it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        payloads = _payloads(messages)
        if not payloads:
            future.set_result(None)
            return future
        with self._lock:
            if self._closed:
                self._check_open()
            group = self._group
            group.messages += payloads
            futures = group.futures.get(loop)
            if futures is None:
                group.futures[loop] = [future]
            else:
                futures.append(future)
            if self._writer_idle or self._writer is None:
                self._wake_writer()
        return future

    def _wake_writer(self) -> None:
        """Under _lock, when the writer is idle or not started: wake or start it for the group just joined."""
        if self._writer_idle:
            self._writer_idle = False
            self._wake.release()
        elif self._writer is None:
            self._writer = threading.Thread(target=self._write_forever, name=f"sqlite-queue-{self.topic}")
            self._writer.daemon = True  # publishers that are never closed must not keep a process alive
            self._writer.start()

    def _write_forever(self) -> None:
        while True:
            with self._lock:
                group = self._group
                taken = bool(group.messages)  # decided here: callers may join an untaken group once we let go
                if taken:
                    self._group = _Group()
                elif self._closed:
                    return
                else:
                    self._writer_idle = True
            if not taken:
                self._wake.acquire()  # until a caller (or close) releases it
                continue
            error: QueueUnavailable | None = None
            try:
                self._write(group.messages)
            except QueueUnavailable as exc:
                error = exc
            except BaseException as exc:  # never let a waiting caller believe an unconfirmed batch was committed
                error = QueueUnavailable(f"sqlite queue {self.path}: publish failed: {exc!r}")
            group.settle(error)

    def _write(self, messages: list[bytes]) -> None:
        now = _now_ms()
        with self._io:
            if len(messages) <= _ONE_STATEMENT_ROWS:
                # One multi-row INSERT in autocommit mode is a whole transaction (write lock, rows, fsync)
                # in one SQLite step: the GIL is released once per commit, not per row or per statement,
                # so a busy event loop delays the commit as little as possible.
                try:
                    self._conn.execute(self._insert(len(messages)), (now, *messages))
                except sqlite3.Error as exc:
                    raise QueueUnavailable(f"sqlite queue {self.path}: publish failed: {exc}") from exc
            else:
                with _transaction(self._conn, self.path, "publish") as conn:
                    for start in range(0, len(messages), _ONE_STATEMENT_ROWS):
                        chunk = messages[start : start + _ONE_STATEMENT_ROWS]
                        conn.execute(self._insert(len(chunk)), (now, *chunk))
            self.transactions += 1
            if self._checkpointer.wal_over_limit:  # rare: publishing outran the background checkpoints
                self._checkpointer.truncate(self._conn, _BUSY_TIMEOUT_MS)
        self._checkpointer.committed(sum(map(len, messages)))

    def _insert(self, rows: int) -> str:
        statement = self._inserts.get(rows)
        if statement is None:
            values = ",".join(f"(?{i + 2},?1)" for i in range(rows))
            statement = f"INSERT INTO {self._table} (data, publish_time_ms) VALUES {values}"
            if len(self._inserts) < _STATEMENTS_KEPT:
                self._inserts[rows] = statement
        return statement

    def _check_open(self) -> None:
        if self._closed:
            raise QueueUnavailable(f"sqlite queue {self.path}: publisher is closed")

    def check(self) -> None:
        """Prove the queue file is readable now."""
        self.depth()

    def depth(self) -> int:
        """Messages in the topic not yet acked (leased or not); for tests and metrics."""
        with self._io:
            try:
                row = self._conn.execute(f"SELECT count(*) FROM {self._table}").fetchone()
            except sqlite3.Error as exc:
                raise QueueUnavailable(f"sqlite queue {self.path}: count failed: {exc}") from exc
        return int(row[0])

    def close(self) -> None:
        """Refuse new publishes, commit those already waiting, then close the file."""
        with self._lock:
            self._closed = True
            writer = self._writer
            if self._writer_idle:
                self._writer_idle = False
                self._wake.release()
        if writer is not None and writer is not threading.current_thread():
            writer.join()
        self._checkpointer.close()
        with self._io:
            self._conn.close()


_ONE_STATEMENT_ROWS = 1000  # rows per INSERT (1001 parameters, far below SQLite's limit of 32766)
_STATEMENTS_KEPT = 1000  # statement texts by row count; sqlite3 also caches the prepared statements


def _payloads(messages: Sequence[bytes]) -> list[bytes]:
    if len(messages) == 1 and type(messages[0]) is bytes and messages[0]:
        return [messages[0]]  # the collector's shape: one request, one record
    payloads = [m if type(m) is bytes else bytes(m) for m in messages]
    if not all(payloads):
        raise ValueError("empty messages cannot be published (refused here as Pub/Sub refuses them)")
    return payloads


class SQLiteSubscriber:
    """Leases messages from one topic of a SQLite queue file; safe to run in several processes at once."""

    def __init__(self, path: Path | str, topic: str = "raw", lease_seconds: float = 60.0) -> None:
        if lease_seconds <= 0:
            raise ConfigError(f"lease_seconds: {lease_seconds!r} must be positive")
        self.path = Path(path)
        self.topic = topic
        self.lease_seconds = lease_seconds
        self._table = _table(topic)
        self._conn = _connect(self.path, self._table)
        try:
            # Leases and acks are not fsynced: a crashed process loses nothing committed to the WAL, and the
            # next durable publish fsyncs these frames too. Only an OS crash in between can forget them, and
            # then a message is delivered again, which at-least-once allows. Checkpoints are the
            # publisher's (core.queue.wal_checkpoint); this one only keeps the WAL bounded when none runs.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(f"PRAGMA wal_autocheckpoint={_SUBSCRIBER_CHECKPOINT_PAGES}")
        except sqlite3.Error as exc:
            self._conn.close()
            raise QueueUnavailable(f"sqlite queue {self.path}: cannot open: {exc}") from exc
        self._lock = threading.Lock()
        # Ack ids leased here and not yet acked/nacked, oldest first: given back on close(). Capped,
        # because leases left to expire would otherwise pile up; an evicted one just expires instead.
        self._held: dict[str, None] = {}
        self._closed = False

    def pull(self, max_messages: int, timeout: float) -> list[Delivery]:
        """Lease up to `max_messages` available messages, polling up to `timeout` seconds for the first."""
        if max_messages <= 0:
            return []
        deadline = time.monotonic() + max(timeout, 0.0)
        pause = _POLL_MIN_S
        while True:
            deliveries = self._lease(max_messages)
            remaining = deadline - time.monotonic()
            if deliveries or remaining <= 0:
                return deliveries
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL_MAX_S)

    def _lease(self, max_messages: int) -> list[Delivery]:
        with self._lock:
            self._ensure_open()
            now = _now_ms()
            try:
                # A cheap read first: idle polls must not take the write lock publishers need.
                ready = self._conn.execute(f"SELECT 1 FROM {self._table} WHERE lease_until <= ? LIMIT 1", (now,))
                if ready.fetchone() is None:
                    return []
            except sqlite3.Error as exc:
                raise QueueUnavailable(f"sqlite queue {self.path}: pull failed: {exc}") from exc
            lease_until = now + int(self.lease_seconds * 1000)
            with _transaction(self._conn, self.path, "pull") as conn:
                rows = conn.execute(
                    f"UPDATE {self._table} SET lease_until = ?, attempt = attempt + 1"
                    f" WHERE id IN (SELECT id FROM {self._table} WHERE lease_until <= ? ORDER BY id LIMIT ?)"
                    " RETURNING id, data, attempt, publish_time_ms",
                    (lease_until, _now_ms(), max_messages),
                ).fetchall()
            rows.sort(key=lambda row: int(row[0]))
            deliveries = [
                Delivery(f"{row[0]}:{row[2]}", bytes(row[1]), int(row[2]), int(row[3]), message_id=str(row[0]))
                for row in rows
            ]
            self._held.update(dict.fromkeys(d.ack_id for d in deliveries))
            while len(self._held) > _HELD_REMEMBERED:
                del self._held[next(iter(self._held))]
            return deliveries

    def ack(self, ack_ids: Sequence[str]) -> None:
        """Delete the messages whose lease these ids name; ids of leases since taken over are ignored."""
        self._settle(ack_ids, f"DELETE FROM {self._table} WHERE id = ? AND attempt = ?", "ack")

    def nack(self, ack_ids: Sequence[str]) -> None:
        """End these leases now so the messages are redelivered on the next pull."""
        self._settle(ack_ids, f"UPDATE {self._table} SET lease_until = 0 WHERE id = ? AND attempt = ?", "nack")

    def _settle(self, ack_ids: Sequence[str], statement: str, what: str) -> None:
        if not ack_ids:
            return
        leases = _parse_ack_ids(ack_ids)
        with self._lock:
            self._ensure_open()
            with _transaction(self._conn, self.path, what) as conn:
                conn.executemany(statement, leases)
            for ack_id in ack_ids:
                self._held.pop(ack_id, None)

    def check(self) -> None:
        """Prove the queue file is readable now."""
        self.depth()

    def depth(self) -> int:
        """Messages in the topic not yet acked (leased or not); for tests and metrics."""
        with self._lock:
            self._ensure_open()
            try:
                row = self._conn.execute(f"SELECT count(*) FROM {self._table}").fetchone()
            except sqlite3.Error as exc:
                raise QueueUnavailable(f"sqlite queue {self.path}: count failed: {exc}") from exc
        return int(row[0])

    def close(self) -> None:
        """Give back the leases still held here (best effort: expiry covers failure), then close."""
        if self._closed:
            return
        held = list(self._held)
        if held:
            try:
                self.nack(held)
            except QueueUnavailable:
                pass
        with self._lock:
            self._closed = True
            self._conn.close()

    def _ensure_open(self) -> None:
        if self._closed:
            raise QueueUnavailable(f"sqlite queue {self.path}: subscriber is closed")
