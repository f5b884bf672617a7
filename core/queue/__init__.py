"""Queues carry raw records from the collector to enrich: an embedded SQLite queue and Google Pub/Sub.

    open_publisher("sqlite:///abs/path/queue.db?topic=raw")              -> SQLitePublisher
    open_publisher("pubsub://PROJECT/TOPIC")                             -> PubSubPublisher
    open_subscriber("sqlite:///abs/path/queue.db", lease_seconds=30)      -> SQLiteSubscriber
    open_subscriber("pubsub://PROJECT/TOPIC?subscription=NAME")          -> PubSubSubscriber

Extra keyword options go to the implementation's constructor (e.g. `timeout=` for Pub/Sub,
`group_commit=` for SQLite). A SQLite queue has one consumer group per topic, so `subscription` is
ignored there; a Pub/Sub subscriber without one consumes `<TOPIC>-eventkit`.

A SQLite publisher is also a `core.queue.port.AsyncPublisher`: `await publisher.publish_async(messages)` from an
event loop joins the same group commit as threads calling `publish` (its writer thread commits
every waiting batch in one fsync), without taking a thread per call; the collector uses it.

Both transports refuse an empty message with ValueError (Pub/Sub cannot carry one), and both give
back the leases a subscriber still holds when it is closed, so another consumer gets them at once.
"""

from __future__ import annotations

from typing import Any

from core.locations import parse_queue_url
from core.queue.port import Delivery, Publisher, Subscriber

__all__ = ["Delivery", "Publisher", "Subscriber", "open_publisher", "open_subscriber"]


def open_publisher(url: str, **options: Any) -> Publisher:
    """The publisher for a queue URL; the transport's client is imported only when it is used."""
    location = parse_queue_url(url)
    if location.kind == "sqlite":
        from core.queue.sqlite import SQLitePublisher

        assert location.path is not None
        return SQLitePublisher(location.path, location.topic, **options)
    from core.queue.pubsub import PubSubPublisher

    assert location.project is not None
    return PubSubPublisher(location.project, location.topic, **options)


def open_subscriber(url: str, *, lease_seconds: float = 60.0, **options: Any) -> Subscriber:
    """The subscriber for a queue URL, leasing each message for `lease_seconds` (Pub/Sub: 10..600)."""
    location = parse_queue_url(url)
    if location.kind == "sqlite":
        from core.queue.sqlite import SQLiteSubscriber

        assert location.path is not None
        return SQLiteSubscriber(location.path, location.topic, lease_seconds=lease_seconds, **options)
    from core.queue.pubsub import PubSubSubscriber

    assert location.project is not None
    subscription = location.subscription or f"{location.topic}-eventkit"
    return PubSubSubscriber(location.project, location.topic, subscription, lease_seconds=lease_seconds, **options)
