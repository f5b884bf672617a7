"""The queue port: durable batch publish and leased at-least-once consumption, whatever the transport."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["AsyncPublisher", "Delivery", "Publisher", "Subscriber"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One leased message: ack it after every output derived from it is committed."""

    ack_id: str
    data: bytes
    attempt: int  # 1 on first delivery, +1 on each redelivery (where the transport knows)
    publish_time_ms: int
    # True when `attempt` survives a consumer crash (SQLite counts it in the lease transaction; Pub/Sub
    # only with a dead-letter policy), so a first delivery is known to be one.
    attempt_durable: bool = True
    message_id: str = ""  # the transport's id of the message (the same on every redelivery), where it has one


@runtime_checkable
class Publisher(Protocol):
    """Publishes batches; `publish` returns only once every message is durable.

    Raises `QueueUnavailable` within a bounded time when that cannot be confirmed: a message is
    never reported as published unless it was.
    """

    def publish(self, messages: Sequence[bytes]) -> None: ...

    def check(self) -> None:
        """Prove the queue is reachable now (raises QueueUnavailable otherwise)."""

    def close(self) -> None: ...


@runtime_checkable
class AsyncPublisher(Publisher, Protocol):
    """A publisher that can also be awaited from an event loop without taking a thread per call.

    The returned awaitable completes only once every message is durable, or fails with
    `QueueUnavailable`; callers that give up waiting (a timeout) must assume nothing either way.
    """

    def publish_async(self, messages: Sequence[bytes]) -> Awaitable[None]: ...


@runtime_checkable
class Subscriber(Protocol):
    """Leases messages; un-acked ones are redelivered after the lease expires (at-least-once)."""

    def pull(self, max_messages: int, timeout: float) -> list[Delivery]:
        """Up to `max_messages`, waiting at most `timeout` seconds for the first one."""

    def ack(self, ack_ids: Sequence[str]) -> None: ...

    def nack(self, ack_ids: Sequence[str]) -> None:
        """Give the messages back for immediate redelivery."""

    def close(self) -> None: ...
