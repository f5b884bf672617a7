"""Durable acknowledgement: requests wait until their raw records are confirmed by the queue or committed to the spool.

Records from concurrent requests are gathered and published with one call (group commit); at most
`max_in_flight` publishes run at once (the queue's own group commit pipelines them), so the next
batch grows while the current ones are confirmed. A publisher that is an `AsyncPublisher` (the
SQLite queue) is awaited directly; others (Pub/Sub) are called in a worker thread. A
publish that raises QueueUnavailable, or takes longer than `publish_timeout`, sends the batch to
the spool instead and switches to spool mode: new records go to the spool (keeping spool order)
until the drainer has published everything spooled and the queue is proven reachable again. If
the spool cannot commit either, `store` answers False and the request gets 503.

A publish that timed out may still complete later: those records are then in the queue *and* in
the spool, so they will be published twice. Duplicates are removed downstream; loss is not
possible because a request hears True only after one of the two commits returned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from collector.spool import Spool, SpoolUnavailable
from core.errors import QueueUnavailable
from core.queue.port import AsyncPublisher, Publisher
from core.telemetry import get_logger

__all__ = ["Acknowledger"]

T = TypeVar("T")
log = get_logger("collector.durability")


class Acknowledger:
    """Owns the publisher and the spool for one process; `store` is the only call on the request path."""

    def __init__(
        self,
        publisher: Publisher,
        spool: Spool | None,
        *,
        publish_timeout: float = 1.0,
        max_batch: int = 500,
        max_in_flight: int = 1,
        drain_batch: int = 500,
        drain_interval: float = 0.5,
        check_timeout: float = 5.0,
        on_outcome: Callable[[str, int], None] | None = None,
        on_publish: Callable[[float, int], None] | None = None,
    ) -> None:
        self.publisher = publisher
        self.spool = spool
        self.publish_timeout = publish_timeout
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self.drain_batch = drain_batch
        self.drain_interval = drain_interval
        self.check_timeout = check_timeout
        self._on_outcome = on_outcome or (lambda outcome, n: None)
        self._on_publish = on_publish or (lambda seconds, n: None)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="collector-sink")
        # A publisher with its own committer thread is awaited directly: no executor hop per batch.
        self._publish_async = publisher.publish_async if isinstance(publisher, AsyncPublisher) else None
        self._pending: list[tuple[Sequence[bytes], asyncio.Future[bool]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the serving loop, set by start()
        self._wakeup: asyncio.Event | None = None
        self._drain_wakeup: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._queue_ok = False  # proven reachable and the latest outcome was a success
        self._direct = True  # False while the spool holds records this process must drain first
        self._spool_writes = 0  # appends started (a generation counter for the switch back to direct)
        self._spool_writes_in_flight = 0

    # -- health -------------------------------------------------------------------------------

    @property
    def queue_healthy(self) -> bool:
        """True only once the queue has been proven reachable and while nothing since says otherwise."""
        return self._queue_ok

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _publish(self, messages: list[bytes]) -> Awaitable[None]:
        if self._publish_async is not None:
            return self._publish_async(messages)
        return self._run(self.publisher.publish, messages)

    async def start(self) -> None:
        """Prove the queue reachable (or start in spool mode), then start the batcher and the drainer."""
        # The loop, looked up once: asyncio.get_running_loop() costs a getpid() system call per call (3.11).
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._drain_wakeup = asyncio.Event()
        try:
            await asyncio.wait_for(self._run(self.publisher.check), self.check_timeout)
            self._queue_ok = True
        except (QueueUnavailable, TimeoutError, OSError):
            self._queue_ok = False
        if self.spool is not None:
            pending = await self._run(self.spool.count)
            if pending or not self._queue_ok:
                self._direct = False
        self._tasks = [asyncio.create_task(self._batcher(), name="collector-batcher")]
        if self.spool is not None:
            self._tasks.append(asyncio.create_task(self._drainer(), name="collector-drainer"))

    async def stop(self, grace: float = 10.0) -> None:
        """Confirm every pending record, stop draining (claimed rows stay spooled), close nothing acknowledged."""
        self._stopping = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._drain_wakeup is not None:
            self._drain_wakeup.set()
        if self._tasks:
            _, still = await asyncio.wait(self._tasks, timeout=grace)
            for task in still:
                task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=False)

    # -- the request path -----------------------------------------------------------------------

    async def store(self, records: Sequence[bytes]) -> bool:
        """True once every record is durable (queue or spool); False if neither could confirm (answer 503)."""
        if not records:
            return True
        loop = self._loop
        if loop is None or self._wakeup is None:
            raise RuntimeError("Acknowledger.start() was not awaited (the app's lifespan did not run)")
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.append((records, future))
        self._wakeup.set()
        return await future

    async def _batcher(self) -> None:
        assert self._wakeup is not None
        in_flight: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(self.max_in_flight)
        while True:
            if not self._pending:
                if self._stopping:
                    if in_flight:
                        await asyncio.wait(in_flight)
                    return
                await self._wakeup.wait()
                self._wakeup.clear()
                continue
            await slots.acquire()  # while every slot is busy, the next batch keeps growing
            take, count = 0, 0
            for records, _ in self._pending:
                if take and count + len(records) > self.max_batch:
                    break
                count += len(records)
                take += 1
            batch = self._pending[:take]
            del self._pending[:take]
            task = asyncio.create_task(self._settle(batch, slots))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)

    async def _settle(
        self, batch: list[tuple[Sequence[bytes], asyncio.Future[bool]]], slots: asyncio.Semaphore
    ) -> None:
        try:
            ok = await self._commit([r for records, _ in batch for r in records])
        except Exception:  # a bug must not leave requests waiting forever: they get 503
            ok = False
        finally:
            slots.release()
        for _, future in batch:
            if not future.done():
                future.set_result(ok)

    async def _commit(self, messages: list[bytes]) -> bool:
        if self.spool is None or self._direct:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(asyncio.shield(self._publish(messages)), self.publish_timeout)
            except (QueueUnavailable, TimeoutError, OSError) as e:
                if self._direct:
                    log.warning("queue_unavailable", records=len(messages), error=repr(e), spool=self.spool is not None)
                self._queue_ok = False
                self._direct = False
                self._on_outcome("queue_failed", len(messages))
            else:
                self._queue_ok = True
                self._on_outcome("queue", len(messages))
                self._on_publish(time.perf_counter() - started, len(messages))
                return True
        if self.spool is None:
            return False
        self._spool_writes += 1
        self._spool_writes_in_flight += 1
        try:
            await self._run(self.spool.append, messages)
        except SpoolUnavailable as e:
            log.error("spool_unavailable", records=len(messages), error=str(e))
            self._on_outcome("spool_failed", len(messages))
            return False
        finally:
            self._spool_writes_in_flight -= 1
        self._on_outcome("spool", len(messages))
        if self._drain_wakeup is not None:
            self._drain_wakeup.set()
        return True

    # -- draining -------------------------------------------------------------------------------

    async def _drainer(self) -> None:
        spool = self.spool
        assert spool is not None and self._drain_wakeup is not None
        while not self._stopping:
            generation = self._spool_writes
            try:
                rows = await self._run(spool.claim, self.drain_batch, max(30.0, 10 * self.publish_timeout))
            except SpoolUnavailable:
                await asyncio.sleep(self.drain_interval)
                continue
            if not rows:
                if not self._direct and self._spool_writes_in_flight == 0 and generation == self._spool_writes:
                    if not self._queue_ok:
                        await self._probe()
                    if self._queue_ok and self._spool_writes_in_flight == 0 and generation == self._spool_writes:
                        self._direct = True
                        log.info("queue_recovered", spool="drained")
                await self._pause()
                continue
            ids = [i for i, _ in rows]
            try:
                await asyncio.wait_for(
                    asyncio.shield(self._publish([d for _, d in rows])),
                    max(self.publish_timeout, 10.0),
                )
            except (QueueUnavailable, TimeoutError, OSError):
                self._queue_ok = False
                try:
                    await self._run(spool.release, ids)
                except SpoolUnavailable:
                    pass  # the claims expire on their own
                await asyncio.sleep(self.drain_interval)  # back off: new spool rows must not wake a failing drain
                continue
            self._queue_ok = True
            self._on_outcome("drained", len(ids))
            try:
                await self._run(spool.delete, ids)
            except SpoolUnavailable:
                await asyncio.sleep(self.drain_interval)  # republished later: a duplicate, never a loss

    async def _probe(self) -> None:
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._run(self.publisher.check), self.check_timeout)
            self._queue_ok = True
        except (QueueUnavailable, TimeoutError, OSError):
            self._queue_ok = False
            remaining = self.drain_interval - (time.monotonic() - started)
            if remaining > 0:
                await asyncio.sleep(remaining)

    async def _pause(self) -> None:
        """Idle until new spool rows arrive or the drain interval passes."""
        assert self._drain_wakeup is not None
        self._drain_wakeup.clear()
        try:
            await asyncio.wait_for(self._drain_wakeup.wait(), self.drain_interval)
        except TimeoutError:
            pass
