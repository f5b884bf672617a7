"""The queue under test: one fixture yielding the SQLite queue or a Pub/Sub emulator topic, so one suite covers both."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.queue import Delivery, Publisher, Subscriber, open_publisher, open_subscriber
from core.queue.pubsub import MIN_ACK_DEADLINE_S, PubSubSubscriber


@dataclass
class QueueUnderTest:
    """A publisher and a way to open subscribers on one queue, closed at teardown."""

    kind: str
    publish_url: str
    subscribe_url: str
    publisher: Publisher
    shortest_lease: float  # the shortest lease the transport honours, in seconds
    _subscribers: list[Subscriber] = field(default_factory=list)

    def subscriber(self, lease_seconds: float = 60.0) -> Subscriber:
        subscriber = open_subscriber(self.subscribe_url, lease_seconds=lease_seconds)
        self._subscribers.append(subscriber)
        return subscriber

    def close(self) -> None:
        for subscriber in self._subscribers:
            subscriber.close()
        self.publisher.close()


class RawPublish:
    """One Publish RPC straight through the generated client, with nothing of eventkit's around it: the round trip
    a test compares eventkit's publish latency with, measured at the same moment on the same busy machine."""

    def __init__(self, project: str, topic: str) -> None:
        from google.api_core.exceptions import AlreadyExists
        from google.cloud import pubsub_v1
        from google.pubsub_v1 import PubsubMessage
        from google.pubsub_v1.services.publisher.client import PublisherClient

        self._client = pubsub_v1.PublisherClient()
        self._publish = PublisherClient.publish  # the plain RPC (the library's client overrides it with batching)
        self._topic = f"projects/{project}/topics/{topic}"
        self._message = PubsubMessage
        try:
            self._client.create_topic(name=self._topic)
        except AlreadyExists:
            pass

    def __call__(self, data: bytes) -> float:
        """Seconds one confirmed publish of `data` took."""
        started = time.perf_counter()
        response = self._publish(self._client, topic=self._topic, messages=[self._message(data=data)], timeout=10)
        assert len(response.message_ids) == 1
        return time.perf_counter() - started

    def close(self) -> None:
        self._client.transport.close()


def drain(subscriber: Subscriber, count: int, timeout: float = 15.0, batch: int = 100) -> list[Delivery]:
    """Pull until `count` deliveries arrived or `timeout` passed (Pub/Sub may hand a batch out in parts)."""
    deliveries: list[Delivery] = []
    deadline = time.monotonic() + timeout
    while len(deliveries) < count and time.monotonic() < deadline:
        deliveries += subscriber.pull(batch, timeout=min(1.0, max(deadline - time.monotonic(), 0.0)))
    return deliveries


@pytest.fixture(params=["sqlite", pytest.param("pubsub", marks=pytest.mark.pubsub)])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueUnderTest]:
    """A fresh, empty queue of each kind (Pub/Sub: a new project on the session emulator)."""
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path}/queue/queue.db?topic=raw"
        under_test = QueueUnderTest("sqlite", url, url, open_publisher(url), shortest_lease=1.0)
    else:
        project = request.getfixturevalue("pubsub_project")
        topic = f"raw-{uuid.uuid4().hex[:8]}"
        subscription = f"{topic}-enrich"
        # The subscription must exist before the first publish, or Pub/Sub drops the messages. Its ack
        # deadline (the lease) is fixed at creation: the shortest one, for the lease-expiry test.
        creator = PubSubSubscriber(project, topic, subscription, lease_seconds=MIN_ACK_DEADLINE_S)
        creator.check()
        creator.close()
        under_test = QueueUnderTest(
            "pubsub",
            f"pubsub://{project}/{topic}",
            f"pubsub://{project}/{topic}?subscription={subscription}",
            open_publisher(f"pubsub://{project}/{topic}", timeout=5.0),
            shortest_lease=float(MIN_ACK_DEADLINE_S),
        )
    try:
        yield under_test
    finally:
        under_test.close()
