"""The cloud queue: Google Pub/Sub behind the queue port, with bounded waits and errors translated to QueueUnavailable.

The client library honours ``PUBSUB_EMULATOR_HOST`` by itself (insecure channel, no credentials).

Publishing sends one Publish RPC per ``publish()`` call (chunked at Pub/Sub's limits of 1000
messages and 10 MB per request) and returns once the server has assigned an id to every message. It
does not use the library's batching publisher: that one holds each message up to its
``max_latency`` waiting for a batch to fill, which a sequential sender (one tracker, one request at a
time) paid in full on every request, and the collector already gathers concurrent requests into one
``publish()`` call (collector.durability). Every wait is bounded by ``timeout``: the RPC's retry of
transient errors stops at that deadline, so a downed endpoint costs a caller at most ``timeout``
seconds and a ``QueueUnavailable`` — never a success for a message without a confirmed id. After any
failure the client is discarded and rebuilt on the next call, because a gRPC channel that saw its
server go away backs off reconnecting for up to minutes, and the server (an emulator above all) may
come back without the topic, which ``create=True`` then recreates.

Consuming uses synchronous (unary) pull, which the emulator serves ~15x faster than streaming pull,
in a fetcher thread that pulls the next messages as soon as ``pull`` has handed some out, so the
round trip overlaps the caller's work; it keeps at most ``max_messages`` of the latest call waiting
(the flow control), hands none out that waited past half its lease, and ``close`` gives back what
it holds. The lease is the subscription's ack deadline: ``lease_seconds`` clamped to Pub/Sub's
10..600 s, applied when this subscriber creates the subscription (an existing subscription keeps its
own deadline). ``nack`` sets the ack deadline to 0. Pub/Sub reports delivery attempts only on
subscriptions with a dead-letter policy; otherwise ``Delivery.attempt`` counts the deliveries of that
message id seen by this subscriber object (a lower bound: it restarts at 1 in a new process), and
``Delivery.attempt_durable`` is False.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc  # type: ignore[import-untyped]  # no stubs installed; one call
from google.api_core import exceptions as google_errors
from google.api_core import retry as google_retry
from google.auth import exceptions as auth_errors
from google.cloud import pubsub_v1
from google.pubsub_v1 import PubsubMessage, PullResponse
from google.pubsub_v1.services.publisher.client import PublisherClient as _GapicPublisherClient
from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

from core.errors import ConfigError, QueueUnavailable
from core.queue.port import Delivery

__all__ = ["PubSubPublisher", "PubSubSubscriber"]

MIN_ACK_DEADLINE_S = 10
MAX_PUBLISH_MESSAGES = 1000  # Pub/Sub's limit per Publish request
MAX_PUBLISH_BYTES = 9_000_000  # under its 10 MB request limit, leaving room for the request's framing
_MESSAGE_OVERHEAD = 16  # protobuf framing per message, counted towards the request size
MAX_ACK_DEADLINE_S = 600
_ACK_CHUNK = 1000  # ack ids per request, well inside the 512 KiB request limit
_ATTEMPTS_REMEMBERED = 100_000
_MIN_PULL_RPC_S = 0.2
_MAX_PULL_RPC_S = 1.0  # the fetcher's RPC wait on an empty subscription: how long close() may wait for it
_T = TypeVar("_T")
# The plain Publish RPC of the generated client, which the library's batching client overrides with its batching
# `publish`; called on that client (it is a subclass), so the emulator and credential set-up stay the library's.
_GAPIC_PUBLISH = _GapicPublisherClient.publish

# Errors worth retrying inside one bounded call; anything else fails the call at once.
_TRANSIENT = google_retry.if_exception_type(
    google_errors.ServiceUnavailable,
    google_errors.DeadlineExceeded,
    google_errors.InternalServerError,
    google_errors.Aborted,
    google_errors.ResourceExhausted,
    google_errors.Unknown,
)


def _bounded_retry(timeout: float) -> google_retry.Retry:
    return google_retry.Retry(initial=0.05, maximum=1.0, multiplier=2.0, predicate=_TRANSIENT, timeout=timeout)


# No cap on message size, as the library's own channel to Pub/Sub has: its channel to the emulator keeps gRPC's
# 4 MB default, and one pull of 500 tracker POSTs of 50 events (~65 KB each) is ~30 MB. Over the cap every pull
# failed with ResourceExhausted and enrich retried forever without advancing.
_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def _client(factory: Callable[..., _T], **kwargs: Any) -> _T:
    emulator = os.environ.get("PUBSUB_EMULATOR_HOST")
    if emulator and "transport" not in kwargs:
        channel = grpc.insecure_channel(emulator, options=_CHANNEL_OPTIONS)
        transport = SubscriberGrpcTransport if factory is pubsub_v1.SubscriberClient else PublisherGrpcTransport
        kwargs["transport"] = transport(channel=channel)
    try:
        return factory(**kwargs)
    except auth_errors.DefaultCredentialsError as exc:
        raise ConfigError(
            f"queue: no Google credentials for Pub/Sub ({exc}); "
            "set PUBSUB_EMULATOR_HOST or application default credentials"
        ) from exc


class PubSubPublisher:
    """Durable publish to one Pub/Sub topic; thread-safe (concurrent calls share one gRPC channel)."""

    def __init__(
        self,
        project: str,
        topic: str,
        *,
        create: bool = True,
        timeout: float = 5.0,
        max_messages: int = MAX_PUBLISH_MESSAGES,
    ) -> None:
        self.project = project
        self.topic = topic
        self.create = create
        self.timeout = timeout
        self.max_messages = max(1, min(max_messages, MAX_PUBLISH_MESSAGES))
        self.topic_path = f"projects/{project}/topics/{topic}"
        self._lock = threading.Lock()
        self._client: Any = None
        self._topic_ready = False
        self._closed = False

    def publish(self, messages: Sequence[bytes]) -> None:
        """Return once Pub/Sub has confirmed every message; raise QueueUnavailable within `timeout` otherwise."""
        if not messages:
            return
        payloads = [bytes(m) for m in messages]
        if not all(payloads):
            raise ValueError("empty messages cannot be published (Pub/Sub requires data)")
        deadline = time.monotonic() + self.timeout
        client = self._ready_client(deadline)
        try:
            self._publish_all(client, payloads, deadline)
        except google_errors.NotFound:
            if not self.create:
                self._discard(client)
                raise QueueUnavailable(f"pubsub topic {self.topic_path} does not exist") from None
            # The server lost the topic (an emulator restart does that): recreate it and publish again.
            self._topic_ready = False
            client = self._ready_client(deadline)
            try:
                self._publish_all(client, payloads, deadline)
            except Exception as exc:
                self._discard(client)
                raise QueueUnavailable(f"pubsub publish to {self.topic_path} not confirmed: {exc!r}") from exc
        except Exception as exc:
            self._discard(client)
            raise QueueUnavailable(f"pubsub publish to {self.topic_path} not confirmed: {exc!r}") from exc

    def _publish_all(self, client: Any, payloads: list[bytes], deadline: float) -> None:
        """One Publish RPC per chunk, each retried on transient errors until `deadline`; every id confirmed."""
        for chunk in _chunks(payloads, self.max_messages, MAX_PUBLISH_BYTES):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise QueueUnavailable(
                    f"pubsub publish to {self.topic_path}: deadline passed before every chunk was sent"
                )
            response = _GAPIC_PUBLISH(
                client,
                topic=self.topic_path,
                messages=[PubsubMessage(data=data) for data in chunk],
                retry=_bounded_retry(remaining),
                timeout=remaining,
            )
            if len(response.message_ids) != len(chunk):  # never report a message the server did not confirm
                raise QueueUnavailable(
                    f"pubsub publish to {self.topic_path}: {len(response.message_ids)} ids for {len(chunk)} messages"
                )

    def check(self) -> None:
        """Prove the topic is reachable now (creating it when `create` is set)."""
        deadline = time.monotonic() + self.timeout
        client = self._ready_client(deadline)
        try:
            client.get_topic(topic=self.topic_path, timeout=self.timeout, retry=None)
        except google_errors.NotFound:
            self._topic_ready = False
            if not self.create:
                raise QueueUnavailable(f"pubsub topic {self.topic_path} does not exist") from None
            self._ready_client(deadline)
        except google_errors.GoogleAPIError as exc:
            self._discard(client)
            raise QueueUnavailable(f"pubsub topic {self.topic_path} unreachable: {exc!r}") from exc

    def close(self) -> None:
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            _close_publisher(client, channel=True)

    def _ready_client(self, deadline: float) -> Any:
        """The current client, built (and the topic created when asked) after start-up or a failure.

        The create RPC runs outside the lock, bounded by the caller's deadline, so callers queued
        behind a dead server each still fail within their own `timeout`.
        """
        with self._lock:
            if self._closed:
                raise QueueUnavailable(f"pubsub publisher for {self.topic_path} is closed")
            if self._client is None:
                self._client = _client(pubsub_v1.PublisherClient)
            client = self._client
            if not self.create or self._topic_ready:
                return client
        remaining = max(deadline - time.monotonic(), 0.01)
        try:
            client.create_topic(name=self.topic_path, timeout=remaining, retry=_bounded_retry(remaining))
        except google_errors.AlreadyExists:
            pass
        except (google_errors.GoogleAPIError, ValueError) as exc:  # ValueError: close() closed the channel meanwhile
            self._discard(client)
            raise QueueUnavailable(f"pubsub topic {self.topic_path} cannot be created: {exc!r}") from exc
        with self._lock:
            if self._client is client:
                self._topic_ready = True
        return client

    def _discard(self, client: Any) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
                self._topic_ready = False
        _close_publisher(client, channel=False)


def _close_publisher(client: Any, *, channel: bool) -> None:
    """End the library's bookkeeping; with `channel`, close the gRPC channel too (a call still on it then fails).

    A discarded client keeps its channel: callers of other threads may still be inside a call on it, and
    they must get the server's answer or a QueueUnavailable, not "closed channel". It is freed once they let go.
    """
    try:
        client.stop()  # nothing is batched here: this only ends the library's own publishing threads
    except RuntimeError:
        pass
    if channel:
        try:
            client.transport.close()
        except Exception:
            pass


def _chunks(payloads: list[bytes], max_messages: int, max_bytes: int) -> list[list[bytes]]:
    """Split at Pub/Sub's per-request limits (message count, request bytes), keeping the order."""
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for data in payloads:
        cost = len(data) + _MESSAGE_OVERHEAD
        if current and (len(current) >= max_messages or size + cost > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(data)
        size += cost
    if current:
        chunks.append(current)
    return chunks


class PubSubSubscriber:
    """Synchronous-pull consumer of one Pub/Sub subscription (created on first use when `create` is set)."""

    def __init__(
        self,
        project: str,
        topic: str,
        subscription: str,
        *,
        lease_seconds: float = 60.0,
        create: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.project = project
        self.topic = topic
        self.subscription = subscription
        self.lease_seconds = lease_seconds
        self.ack_deadline_seconds = min(MAX_ACK_DEADLINE_S, max(MIN_ACK_DEADLINE_S, math.ceil(lease_seconds)))
        self.create = create
        self.timeout = timeout
        self.topic_path = f"projects/{project}/topics/{topic}"
        self.subscription_path = f"projects/{project}/subscriptions/{subscription}"
        self._retry = _bounded_retry(timeout)
        self._lock = threading.Lock()
        self._client: Any = None
        self._subscription_ready = False
        self._closed = False
        self._held: dict[str, str] = {}  # ack id -> message id, leased here and not yet acked or nacked
        # The fetcher: pulled messages waiting for `pull` (with when they were pulled), how many to keep
        # ready, its RPC timeout, and an error to hand the next `pull`.
        self._fetched = threading.Condition(threading.Lock())
        self._buffer: deque[tuple[float, Delivery]] = deque()
        self._want = 0
        self._rpc_timeout = _MIN_PULL_RPC_S
        self._fetch_error: QueueUnavailable | None = None
        self._asked = 0  # pull() calls so far
        self._failed_at = -1  # the value of _asked when the fetcher last failed
        self._fetcher: threading.Thread | None = None
        self._stopping = False  # close() began: the fetcher ends and pull() refuses
        self._attempts: OrderedDict[str, int] = OrderedDict()  # message id -> deliveries seen here

    def check(self) -> None:
        """Prove the subscription is reachable now (creating topic and subscription when `create` is set)."""
        client = self._ready_client(time.monotonic() + self.timeout)
        try:
            client.get_subscription(subscription=self.subscription_path, timeout=self.timeout, retry=None)
        except google_errors.NotFound:
            self._subscription_ready = False
            if not self.create:
                raise QueueUnavailable(f"pubsub subscription {self.subscription_path} does not exist") from None
            self._ready_client(time.monotonic() + self.timeout)
        except (google_errors.GoogleAPIError, ValueError) as exc:  # ValueError: another thread closed this client
            self._discard(client)
            raise QueueUnavailable(f"pubsub subscription {self.subscription_path} unreachable: {exc!r}") from exc

    def pull(self, max_messages: int, timeout: float) -> list[Delivery]:
        """Up to `max_messages`, waiting about `timeout` seconds (at least one short RPC) for the first.

        Pulls run in a fetcher thread that, once a pull has handed messages out, pulls the next ones at once
        while the caller processes these: the round trip to Pub/Sub overlaps the caller's work instead of
        following it. It keeps at most `max_messages` (of the latest call) waiting, leased like any pulled
        message; `close` gives them back.
        """
        if max_messages <= 0:
            return []
        deadline = time.monotonic() + max(timeout, _MIN_PULL_RPC_S)
        with self._fetched:
            if self._stopping:
                raise QueueUnavailable(f"pubsub subscriber for {self.subscription_path} is closed")
            self._want = max_messages
            self._rpc_timeout = min(max(timeout, _MIN_PULL_RPC_S), _MAX_PULL_RPC_S)
            # An error of an earlier attempt is not this call's answer: the fetcher tries again now (a failed
            # fetcher waits for the next call), as each call made its own RPC before the fetcher existed.
            self._asked += 1
            self._fetch_error = None
            self._start_fetcher()
            self._fetched.notify_all()
            while not self._buffer and self._fetch_error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._fetched.wait(remaining)
            if self._fetch_error is not None and not self._buffer:
                raise self._fetch_error
            taken = [self._buffer.popleft() for _ in range(min(max_messages, len(self._buffer)))]
            self._fetched.notify_all()  # room again: the fetcher pulls the next ones while these are processed
        stale_before = time.monotonic() - self.ack_deadline_seconds / 2
        stale = [d.ack_id for at, d in taken if at < stale_before]
        if stale:  # waited half their lease: give them back rather than hand out a lease about to expire
            self.nack(stale)
        return [d for at, d in taken if at >= stale_before]

    def _start_fetcher(self) -> None:
        """Under `_fetched`: start the fetcher thread on first use."""
        if self._fetcher is None and not self._stopping:
            self._fetcher = threading.Thread(target=self._fetch_forever, name=f"pubsub-pull-{self.subscription}")
            self._fetcher.daemon = True  # a subscriber never closed must not keep its process alive
            self._fetcher.start()

    def _fetch_forever(self) -> None:
        while True:
            with self._fetched:
                while not self._stopping and (len(self._buffer) >= self._want or self._failed_at == self._asked):
                    self._fetched.wait()
                if self._stopping:
                    return
                wanted, rpc_timeout, asked = self._want - len(self._buffer), self._rpc_timeout, self._asked
            try:
                received = self._pull_once(wanted, rpc_timeout)
            except Exception as exc:  # a bug as well as an outage must reach the caller, not end the fetcher
                error = exc if isinstance(exc, QueueUnavailable) else QueueUnavailable(f"pubsub pull failed: {exc!r}")
                with self._fetched:
                    self._fetch_error = error
                    self._failed_at = asked  # no retry until the next pull() asks
                    self._fetched.notify_all()
                continue
            if received:
                now = time.monotonic()
                deliveries = [(now, self._delivery(message)) for message in received]
                with self._fetched:
                    self._buffer.extend(deliveries)
                    self._fetched.notify_all()

    def _pull_once(self, max_messages: int, timeout: float) -> list[Any]:
        """One pull RPC (a second one after recreating a subscription the server lost): the raw messages."""
        recreated = False
        while True:
            client = self._ready_client(time.monotonic() + timeout)
            try:
                response = client.pull(
                    subscription=self.subscription_path, max_messages=max_messages, timeout=timeout, retry=None
                )
                # The raw protobuf, not the proto-plus wrapper: reading fields through the wrapper converted each
                # one on every access and cost ~50 us of CPU per message, more than enriching it.
                return list(PullResponse.pb(response).received_messages)
            except google_errors.DeadlineExceeded:
                return []
            except google_errors.NotFound:
                # The server lost the subscription (an emulator restart does that): recreate it once.
                self._subscription_ready = False
                if not self.create or recreated:
                    raise QueueUnavailable(f"pubsub subscription {self.subscription_path} does not exist") from None
                recreated = True
            except google_errors.GoogleAPIError as exc:
                self._discard(client)
                raise QueueUnavailable(f"pubsub pull from {self.subscription_path} failed: {exc!r}") from exc
            except ValueError as exc:  # close() closed the channel under a pull in flight
                raise QueueUnavailable(f"pubsub pull from {self.subscription_path} failed: {exc!r}") from exc

    def _delivery(self, received: Any) -> Delivery:
        message = received.message
        message_id = message.message_id
        ack_id = received.ack_id
        with self._lock:
            seen = self._attempts.pop(message_id, 0) + 1
            self._attempts[message_id] = seen
            if len(self._attempts) > _ATTEMPTS_REMEMBERED:
                self._attempts.popitem(last=False)
            self._held[ack_id] = message_id
            if len(self._held) > _ATTEMPTS_REMEMBERED:  # leases left to expire must not pile up forever
                del self._held[next(iter(self._held))]
        attempt = received.delivery_attempt or seen
        published = message.publish_time
        publish_time_ms = published.seconds * 1000 + published.nanos // 1_000_000
        durable = bool(received.delivery_attempt)  # Pub/Sub's own count (dead-letter policy), not ours
        return Delivery(ack_id, message.data, attempt, publish_time_ms, durable, message_id)

    def ack(self, ack_ids: Sequence[str]) -> None:
        """Acknowledge: Pub/Sub will not redeliver these (an expired lease's id is accepted and ignored)."""
        self._settle(ack_ids, acked=True)

    def nack(self, ack_ids: Sequence[str]) -> None:
        """Set the ack deadline to 0 so the messages are redelivered at once."""
        self._settle(ack_ids, acked=False)

    def _settle(self, ack_ids: Sequence[str], *, acked: bool) -> None:
        if not ack_ids:
            return
        client = self._ready_client(time.monotonic() + self.timeout)
        ids = list(ack_ids)
        try:
            for start in range(0, len(ids), _ACK_CHUNK):
                chunk = ids[start : start + _ACK_CHUNK]
                if acked:
                    client.acknowledge(
                        subscription=self.subscription_path, ack_ids=chunk, timeout=self.timeout, retry=self._retry
                    )
                else:
                    client.modify_ack_deadline(
                        subscription=self.subscription_path,
                        ack_ids=chunk,
                        ack_deadline_seconds=0,
                        timeout=self.timeout,
                        retry=self._retry,
                    )
        except google_errors.InvalidArgument as exc:
            raise ValueError(f"not ack ids of {self.subscription_path}: {exc.message}") from exc
        except (google_errors.GoogleAPIError, ValueError) as exc:
            # ValueError: the fetcher thread discarded (closed) this client after a failed pull meanwhile.
            self._discard(client)
            what = "ack" if acked else "nack"
            raise QueueUnavailable(f"pubsub {what} on {self.subscription_path} failed: {exc!r}") from exc
        with self._lock:
            for ack_id in ids:
                message_id = self._held.pop(ack_id, None)
                if acked and message_id is not None:
                    self._attempts.pop(message_id, None)

    def close(self) -> None:
        """Stop the fetcher, give back the leases still held here, pulled or not yet handed out (best effort:
        expiry covers failure), then close the channel."""
        if self._closed:
            return
        with self._fetched:
            self._stopping = True
            fetcher = self._fetcher
            self._fetched.notify_all()
        if fetcher is not None and fetcher is not threading.current_thread():
            fetcher.join(_MAX_PULL_RPC_S + self.timeout)  # a pull in flight ends within its RPC timeout
        with self._fetched:
            self._buffer.clear()
        with self._lock:
            held = list(self._held)
        if held:
            try:
                self.nack(held)
            except (QueueUnavailable, ValueError):
                pass
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _ready_client(self, deadline: float) -> Any:
        """The current client, with the subscription created (when asked) after start-up or a failure."""
        with self._lock:
            if self._closed:
                raise QueueUnavailable(f"pubsub subscriber for {self.subscription_path} is closed")
            if self._client is None:
                self._client = _client(pubsub_v1.SubscriberClient)
            client = self._client
            if not self.create or self._subscription_ready:
                return client
        try:
            self._create_subscription(client, max(deadline - time.monotonic(), 0.01))
        except (google_errors.GoogleAPIError, ValueError) as exc:  # ValueError: another thread closed this client
            self._discard(client)
            raise QueueUnavailable(f"pubsub subscription {self.subscription_path} cannot be created: {exc!r}") from exc
        with self._lock:
            if self._client is client:
                self._subscription_ready = True
        return client

    def _create_subscription(self, client: Any, timeout: float) -> None:
        retry = _bounded_retry(timeout)

        def create() -> None:
            try:
                client.create_subscription(
                    name=self.subscription_path,
                    topic=self.topic_path,
                    ack_deadline_seconds=self.ack_deadline_seconds,
                    timeout=timeout,
                    retry=retry,
                )
            except google_errors.AlreadyExists:
                pass

        try:
            create()
        except google_errors.NotFound:
            # The topic is missing too: create it, then the subscription (publishers may not have started yet).
            publisher = _client(pubsub_v1.PublisherClient)
            try:
                publisher.create_topic(name=self.topic_path, timeout=timeout, retry=retry)
            except google_errors.AlreadyExists:
                pass
            finally:
                publisher.transport.close()
            create()

    def _discard(self, client: Any) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
                self._subscription_ready = False
        try:
            client.close()
        except Exception:
            pass
