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
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from collector.spool import Spool, SpoolUnavailable
from core.errors import QueueUnavailable
from core.queue.port import AsyncPublisher, Publisher
from core.telemetry import get_logger

__all__ = ["Acknowledger", "DurabilityTiming"]

T = TypeVar("T")
log = get_logger("collector.durability")


@dataclass(frozen=True, slots=True)
class DurabilityTiming:
    """How the acknowledger groups publishes, gives up on a slow one and drains the spool.

    Internal bounds, not settings (eventkit.toml has no key for them): tests shorten them to see an
    outage and its recovery in well under a second.
    """

    publish_timeout: float = 1.0  # a publish slower than this goes to the spool instead
    max_batch: int = 500  # records per group publish (batcher path: thread publishers such as Pub/Sub, spool mode)
    max_in_flight: int = 1  # concurrent group publishes on the batcher path (an awaitable publisher such as the
    # SQLite queue is published to directly while healthy: its writer groups and serialises the commits itself)
    drain_batch: int = 500
    drain_interval: float = 0.5  # seconds between drain attempts while the queue is down


class Acknowledger:
    """Owns the publisher and the spool for one process; `store` is the only call on the request path."""

    def __init__(
        self,
        publisher: Publisher,
        spool: Spool | None,
        *,
        timing: DurabilityTiming | None = None,
        check_timeout: float = 5.0,
        on_outcome: Callable[[str, int], None] | None = None,
        on_publish: Callable[[float, int], None] | None = None,
    ) -> None:
        self.publisher = publisher
        self.spool = spool
        timing = timing or DurabilityTiming()
        self.publish_timeout = timing.publish_timeout
        self.max_batch = timing.max_batch
        self.max_in_flight = timing.max_in_flight
        self.drain_batch = timing.drain_batch
        self.drain_interval = timing.drain_interval
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
        self._next: _DirectBatch | None = None  # requests joining the next direct publish
        self._direct_batches: set[_DirectBatch] = set()  # published directly, not yet settled
        self._spooling: set[asyncio.Task[None]] = set()  # direct batches that failed, on their way to the spool
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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while (self._next is not None or self._direct_batches or self._spooling) and loop.time() < deadline:
            await asyncio.sleep(0.005)  # direct publishes settle from callbacks: nothing to await but their outcome
        if self._tasks:
            _, still = await asyncio.wait(self._tasks, timeout=max(0.0, deadline - loop.time()))
            for task in still:
                task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=False)

    # -- the request path -----------------------------------------------------------------------

    async def store(self, records: Sequence[bytes]) -> bool:
        """True once every record is durable (queue or spool); False if neither could confirm (answer 503)."""
        if not records:
            return True
        return await self.submit(records)

    def submit(self, records: Sequence[bytes]) -> asyncio.Future[bool]:
        """`store` without a coroutine (for callers that continue in a done-callback): a future that becomes
        True once every record is durable, False if neither the queue nor the spool confirmed them."""
        loop = self._loop
        if loop is None or self._wakeup is None:
            raise RuntimeError("Acknowledger.start() was not awaited (the app's lifespan did not run)")
        future: asyncio.Future[bool] = loop.create_future()
        if not records:
            future.set_result(True)
            return future
        if self._publish_async is not None and (self._direct or self.spool is None):
            batch = self._next
            if batch is None:  # the first request of this loop iteration: publish them all at its end
                batch = self._next = _DirectBatch()
                loop.call_soon(self._publish_direct, batch)
            batch.requests.append((records, future))
            return future
        self._pending.append((records, future))
        self._wakeup.set()
        return future

    # -- direct publishing (an AsyncPublisher while the queue is healthy) -------------------------
    # Every request of one loop iteration joins one publish_async call, made from a plain callback
    # and settled from the publish future's done-callback: no task, semaphore or wait_for per batch,
    # and no hop through the event loop between two commits (the queue's writer merges every call
    # waiting when it finishes a commit into the next one, so its disk never waits for this loop).

    def _publish_direct(self, batch: _DirectBatch) -> None:
        assert self._publish_async is not None and self._loop is not None
        if self._next is batch:
            self._next = None
        messages = [r for records, _ in batch.requests for r in records]
        batch.count = len(messages)
        batch.started = time.perf_counter()
        self._direct_batches.add(batch)
        try:
            publish = asyncio.ensure_future(self._publish_async(messages))  # the same future when it is one
        except (QueueUnavailable, OSError) as e:
            self._direct_failed(batch, messages, e)
            return
        except Exception:  # a bug must not leave requests waiting forever: they get 503
            self._direct_settle(batch, ok=False)
            return
        batch.timer = self._loop.call_later(self.publish_timeout, self._direct_timeout, batch, messages)
        publish.add_done_callback(partial(self._direct_done, batch, messages))

    def _direct_done(self, batch: _DirectBatch, messages: list[bytes], publish: asyncio.Future[None]) -> None:
        if batch.settled:
            return  # it timed out and went to the spool: this late commit makes duplicates, never a loss
        if batch.timer is not None:
            batch.timer.cancel()
        error = publish.exception() if not publish.cancelled() else QueueUnavailable("publish cancelled")
        if error is None:
            self._published(batch.count, batch.started)
            self._direct_settle(batch, ok=True)
        elif isinstance(error, QueueUnavailable | OSError):
            self._direct_failed(batch, messages, error)
        else:  # a bug must not leave requests waiting forever: they get 503
            self._direct_settle(batch, ok=False)

    def _direct_timeout(self, batch: _DirectBatch, messages: list[bytes]) -> None:
        if not batch.settled:
            self._direct_failed(batch, messages, TimeoutError())

    def _direct_failed(self, batch: _DirectBatch, messages: list[bytes], error: BaseException) -> None:
        """As `_commit` does when a publish fails: spool mode, and this batch to the spool (503 without one)."""
        batch.settled = True  # from now on only the spool write below settles the requests
        try:
            self._publish_failed(len(messages), error)
            if self.spool is None:
                self._direct_settle(batch, ok=False)
                return
            task = asyncio.ensure_future(self._spool_direct(batch, messages))
        except Exception:  # a bug (this runs in a loop callback) must not leave requests waiting forever: 503
            self._direct_settle(batch, ok=False)
            raise
        self._spooling.add(task)
        task.add_done_callback(self._spooling.discard)

    async def _spool_direct(self, batch: _DirectBatch, messages: list[bytes]) -> None:
        try:
            ok = await self._to_spool(messages)
        except Exception:  # a bug must not leave requests waiting forever: they get 503
            ok = False
        self._direct_settle(batch, ok=ok)

    def _direct_settle(self, batch: _DirectBatch, *, ok: bool) -> None:
        batch.settled = True
        self._direct_batches.discard(batch)
        for _, future in batch.requests:
            if not future.done():
                future.set_result(ok)

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
                self._publish_failed(len(messages), e)
            else:
                self._published(len(messages), started)
                return True
        if self.spool is None:
            return False
        return await self._to_spool(messages)

    def _published(self, count: int, started: float) -> None:
        """A publish of `count` records the queue confirmed (started at perf_counter `started`)."""
        self._queue_ok = True
        self._on_outcome("queue", count)
        self._on_publish(time.perf_counter() - started, count)

    def _publish_failed(self, count: int, error: BaseException) -> None:
        """A publish the queue did not confirm: spool mode from now on (the drainer switches back)."""
        if self._direct:
            log.warning("queue_unavailable", records=count, error=repr(error), spool=self.spool is not None)
        self._queue_ok = False
        self._direct = False
        self._on_outcome("queue_failed", count)

    async def _to_spool(self, messages: list[bytes]) -> bool:
        assert self.spool is not None
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
        """Drain until stopped; an unexpected error is logged and retried, never the end of draining (a
        dead drainer would leave the collector in spool mode, or switched back to a queue it never proved)."""
        while not self._stopping:
            try:
                await self._drain()
            except Exception as e:
                with contextlib.suppress(Exception):  # not even a failing log may end draining
                    log.error("drain_failed", error=repr(e), retry_in_s=self.drain_interval)
                await asyncio.sleep(self.drain_interval)

    async def _drain(self) -> None:
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


class _DirectBatch:
    """The requests of one direct publish, and whether they have had their answer."""

    __slots__ = ("count", "requests", "settled", "started", "timer")

    def __init__(self) -> None:
        self.requests: list[tuple[Sequence[bytes], asyncio.Future[bool]]] = []
        self.count = 0
        self.started = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.settled = False
