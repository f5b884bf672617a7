"""A raw queue that could not be opened at start-up: the collector still starts and serves from its spool.

The spool exists for the time the queue is unavailable; a queue that is unavailable from the first
second (its file is on a read-only or full disk, its path is a folder, a permission is missing)
is the same case and must not stop the collector from taking events. `DeferredPublisher` stands
in for the real publisher: every publish fails with QueueUnavailable (so records go to the spool
and `/sink-health` answers 503), and every publish or reachability check (the drainer's, every drain
interval) tries to open the queue again, so once the cause is fixed the spool drains into it without
a restart.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence

from core.errors import QueueUnavailable
from core.queue.port import AsyncPublisher, Publisher
from core.telemetry import get_logger

__all__ = ["DeferredPublisher", "open_publisher_or_defer"]

log = get_logger("collector.queue")


class DeferredPublisher:
    """A publisher opened by the first call that can open it; until then every call raises QueueUnavailable."""

    def __init__(self, opener: Callable[[], Publisher], error: QueueUnavailable) -> None:
        self._opener = opener
        self._lock = threading.Lock()
        self._inner: Publisher | None = None
        self.error = error  # why the queue could not be opened, the latest attempt

    def _opened(self) -> Publisher:
        """The real publisher, opening it now if it is not open yet (raises QueueUnavailable while it cannot be)."""
        with self._lock:
            if self._inner is None:
                try:
                    self._inner = self._opener()
                except QueueUnavailable as e:
                    self.error = e
                    raise QueueUnavailable(f"the raw queue cannot be opened: {e}") from e
                log.info("queue_opened", after="failing at start-up")
            return self._inner

    def check(self) -> None:
        self._opened().check()

    def publish(self, messages: Sequence[bytes]) -> None:
        self._opened().publish(messages)

    async def publish_async(self, messages: Sequence[bytes]) -> None:
        inner = self._opened()
        if isinstance(inner, AsyncPublisher):
            await inner.publish_async(messages)
        else:
            await asyncio.to_thread(inner.publish, messages)

    def close(self) -> None:
        with self._lock:
            if self._inner is not None:
                self._inner.close()


def open_publisher_or_defer(url: str, *, spool: bool) -> Publisher:
    """The queue's publisher; when it cannot be opened and a spool will take the records, a DeferredPublisher
    (logged once) instead of an error. Without a spool nothing could take the records: the error stands."""
    from core.queue import open_publisher

    try:
        return open_publisher(url)
    except QueueUnavailable as e:
        if not spool:
            raise
        log.error("queue_unavailable_at_start", error=str(e), serving="from the spool until the queue opens")
        return DeferredPublisher(lambda: open_publisher(url), e)
