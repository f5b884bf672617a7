"""Queue URLs pick the implementation: sqlite:/// the embedded queue, pubsub:// Google Pub/Sub."""

from __future__ import annotations

from pathlib import Path

import pytest

import core.queue
from core.errors import ConfigError
from core.queue import open_publisher, open_subscriber
from core.queue.pubsub import PubSubPublisher, PubSubSubscriber
from core.queue.sqlite import SQLitePublisher, SQLiteSubscriber


def test_public_names() -> None:
    """The package exports the port types and the two factories, nothing else."""
    assert sorted(core.queue.__all__) == ["Delivery", "Publisher", "Subscriber", "open_publisher", "open_subscriber"]


def test_sqlite_url_opens_the_embedded_queue(tmp_path: Path) -> None:
    """A sqlite:/// URL gives SQLite objects on that file and topic, with options passed through."""
    url = f"sqlite://{tmp_path}/q/queue.db?topic=replay"
    publisher = open_publisher(url, group_commit=False)
    subscriber = open_subscriber(url, lease_seconds=5)
    assert isinstance(publisher, SQLitePublisher)
    assert isinstance(subscriber, SQLiteSubscriber)
    assert (publisher.path, publisher.topic, publisher.group_commit) == (tmp_path / "q" / "queue.db", "replay", False)
    assert (subscriber.topic, subscriber.lease_seconds) == ("replay", 5)
    publisher.publish([b"x"])
    assert [d.data for d in subscriber.pull(1, timeout=0)] == [b"x"]
    publisher.close()
    subscriber.close()


def test_pubsub_url_builds_clients_lazily() -> None:
    """A pubsub:// URL gives Pub/Sub objects without touching the network; the subscription defaults per topic."""
    publisher = open_publisher("pubsub://my-project/raw-events", timeout=1.5)
    subscriber = open_subscriber("pubsub://my-project/raw-events")
    assert isinstance(publisher, PubSubPublisher)
    assert isinstance(subscriber, PubSubSubscriber)
    assert (publisher.topic_path, publisher.timeout) == ("projects/my-project/topics/raw-events", 1.5)
    assert subscriber.subscription_path == "projects/my-project/subscriptions/raw-events-eventkit"
    assert subscriber.ack_deadline_seconds == 60


@pytest.mark.parametrize("url", ["", "redis://host/raw", "sqlite://relative/queue.db", "pubsub://project-only"])
def test_unknown_urls_are_config_errors(url: str) -> None:
    """URLs that name no supported queue raise ConfigError listing the accepted forms."""
    with pytest.raises(ConfigError, match="accepted forms"):
        open_publisher(url)
    with pytest.raises(ConfigError, match="accepted forms"):
        open_subscriber(url)
