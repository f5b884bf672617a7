"""Collector test setup: apps over a real SQLite queue, spool and local lake, and a switchable publisher for outages."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from collector.app import CollectorApp, create_app
from collector.durability import DurabilityTiming
from collector.settings import CollectorSettings
from collector.spool import Spool
from core.errors import QueueUnavailable
from core.lake import open_lake
from core.queue import Publisher, open_publisher, open_subscriber
from core.queue.port import AsyncPublisher
from core.raw import CollectorPayload


class SwitchablePublisher:
    """A real publisher behind a switch: `up=False` raises QueueUnavailable, `delay` makes publishes slow.

    This is a test double around the real SQLite queue, used only to simulate an outage of the
    embedded queue (which has no network to cut); Pub/Sub outages are tested with the real emulator.
    """

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner
        self.up = True
        self.delay = 0.0
        self.calls = 0
        self._lock = threading.Lock()

    def publish(self, messages: Sequence[bytes]) -> None:
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if not self.up:
            raise QueueUnavailable("switched off by the test")
        self.inner.publish(messages)

    def check(self) -> None:
        if not self.up:
            raise QueueUnavailable("switched off by the test")
        self.inner.check()

    def close(self) -> None:
        self.inner.close()


class SwitchableAsyncPublisher(SwitchablePublisher):
    """The same switch around the real SQLite queue, awaitable from the event loop (`publish_async`) as the
    SQLite publisher is: an app given one publishes directly from callbacks instead of through its batcher."""

    def publish_async(self, messages: Sequence[bytes]) -> asyncio.Future[None]:
        with self._lock:
            self.calls += 1
        return asyncio.ensure_future(self._publish(list(messages)))

    async def _publish(self, messages: list[bytes]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.up:
            raise QueueUnavailable("switched off by the test")
        inner = self.inner
        assert isinstance(inner, AsyncPublisher)
        await inner.publish_async(messages)


def read_queue(url: str) -> list[CollectorPayload]:
    """Every message in a queue (pulled and acked), decoded as raw records."""
    subscriber = open_subscriber(url, lease_seconds=60)
    out: list[CollectorPayload] = []
    try:
        while True:
            batch = subscriber.pull(1000, 0.2)
            if not batch:
                return out
            out.extend(CollectorPayload.decode(d.data) for d in batch)
            subscriber.ack([d.ack_id for d in batch])
    finally:
        subscriber.close()


class Rig:
    """One collector app with its real queue, spool and lake under a temporary folder."""

    def __init__(
        self,
        root: Path,
        config: CollectorSettings,
        *,
        spool: bool,
        lake: bool,
        publish_async: bool = False,
        **kwargs: Any,
    ) -> None:
        self.root = root
        self.queue_url = f"sqlite:///{root}/queue.db"
        self.config = config.model_copy(update={"raw": self.queue_url})
        switch = SwitchableAsyncPublisher if publish_async else SwitchablePublisher
        self.publisher = switch(open_publisher(self.queue_url))
        self.spool = Spool(root / "spool.db") if spool else None
        self.lake = open_lake(str(root / "lake")) if lake else None
        self.app: CollectorApp = create_app(self.config, self.publisher, spool=self.spool, lake=self.lake, **kwargs)

    def records(self) -> list[CollectorPayload]:
        return read_queue(self.queue_url)


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Build rigs: `make_rig(spool=True, lake=True, publish_async=False, timing=..., clock_ms=..., **settings)`.

    `settings` are CollectorSettings keys (`sink_max_bytes=2000`, `cookie={"name": "x"}`): validated as settings.
    """
    rigs: list[Rig] = []

    def make(
        *,
        spool: bool = True,
        lake: bool = True,
        publish_async: bool = False,
        timing: DurabilityTiming | None = None,
        clock_ms: Any = None,
        new_id: Any = None,
        **fields: Any,
    ) -> Rig:
        root = tmp_path / f"rig{len(rigs)}"
        root.mkdir()
        rig = Rig(
            root,
            CollectorSettings(**fields),
            spool=spool,
            lake=lake,
            publish_async=publish_async,
            timing=timing,
            clock_ms=clock_ms,
            new_id=new_id,
        )
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.publisher.close()
        if rig.spool is not None:
            rig.spool.close()
