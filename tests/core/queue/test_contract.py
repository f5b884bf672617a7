"""The queue contract, run against every implementation: the SQLite queue and the real Pub/Sub emulator."""

from __future__ import annotations

import time

from core.queue import Publisher, Subscriber
from tests.core.queue.conftest import QueueUnderTest, drain


def payloads(count: int, tag: str = "m") -> list[bytes]:
    return [f'{{"{tag}":{i}}}'.encode() for i in range(count)]


def test_implementations_satisfy_the_port(queue: QueueUnderTest) -> None:
    """Publisher and subscriber are structural instances of the port protocols."""
    assert isinstance(queue.publisher, Publisher)
    assert isinstance(queue.subscriber(), Subscriber)


def test_check_passes_and_empty_batch_is_a_no_op(queue: QueueUnderTest) -> None:
    """check() succeeds on a reachable queue and publishing nothing delivers nothing."""
    subscriber = queue.subscriber()
    queue.publisher.check()
    queue.publisher.publish([])
    assert subscriber.pull(10, timeout=0.5) == []


def test_batch_publish_is_delivered_exactly_once(queue: QueueUnderTest) -> None:
    """Every message of a published batch is delivered once, on its first attempt, and nothing more after the acks."""
    subscriber = queue.subscriber()
    sent = payloads(60)
    started_ms = time.time_ns() // 1_000_000
    queue.publisher.publish(sent)
    deliveries = drain(subscriber, len(sent))
    assert sorted(d.data for d in deliveries) == sorted(sent)
    assert all(d.attempt == 1 for d in deliveries)
    assert all(started_ms - 2000 <= d.publish_time_ms <= time.time_ns() // 1_000_000 + 2000 for d in deliveries)
    assert len({d.ack_id for d in deliveries}) == len(sent)
    subscriber.ack([d.ack_id for d in deliveries])
    assert subscriber.pull(100, timeout=1.0) == []


def test_nack_redelivers_at_once(queue: QueueUnderTest) -> None:
    """A nacked message comes back on the next pull, counted as a second attempt."""
    subscriber = queue.subscriber()
    queue.publisher.publish([b"nacked"])
    first = drain(subscriber, 1)
    assert [d.data for d in first] == [b"nacked"]
    subscriber.nack([first[0].ack_id])
    again = drain(subscriber, 1, timeout=10.0)
    assert [(d.data, d.attempt) for d in again] == [(b"nacked", 2)]
    subscriber.ack([again[0].ack_id])


def test_lease_expiry_redelivers_only_the_unacked(queue: QueueUnderTest) -> None:
    """After the lease expires the un-acked message is redelivered with attempt 2; the acked one never returns."""
    subscriber = queue.subscriber(lease_seconds=queue.shortest_lease)
    queue.publisher.publish([b"acked", b"forgotten"])
    leased = drain(subscriber, 2)
    by_data = {d.data: d for d in leased}
    assert set(by_data) == {b"acked", b"forgotten"}
    subscriber.ack([by_data[b"acked"].ack_id])
    assert subscriber.pull(10, timeout=0.3) == []  # the lease is live: nobody gets it yet
    time.sleep(queue.shortest_lease + 0.5)
    again = drain(subscriber, 1, timeout=10.0)
    assert [(d.data, d.attempt) for d in again] == [(b"forgotten", 2)]
    subscriber.ack([again[0].ack_id])
    assert subscriber.pull(10, timeout=0.5) == []


def test_unacked_messages_survive_closing_the_subscriber(queue: QueueUnderTest) -> None:
    """Messages leased but not acked, and messages never pulled, all reach the next subscriber at once: close()
    gives the leases back instead of leaving them to expire."""
    first = queue.subscriber()
    sent = payloads(5, "survivor")
    queue.publisher.publish(sent)
    leased = drain(first, 2, batch=2)
    assert len(leased) >= 2
    first.close()
    second = queue.subscriber()
    started = time.monotonic()
    deliveries = drain(second, len(sent))
    assert sorted(d.data for d in deliveries) == sorted(sent)
    assert time.monotonic() - started < 5.0  # well inside every lease in play (Pub/Sub: 10 s, SQLite: 60 s)
    second.ack([d.ack_id for d in deliveries])


def test_pull_respects_max_messages(queue: QueueUnderTest) -> None:
    """A pull never returns more than max_messages, and the rest stay for later pulls."""
    subscriber = queue.subscriber()
    sent = payloads(10, "limited")
    queue.publisher.publish(sent)
    batch = drain(subscriber, 1, batch=3)
    assert 1 <= len(batch) <= 3
    rest = drain(subscriber, len(sent) - len(batch))
    assert sorted(d.data for d in batch + rest) == sorted(sent)
