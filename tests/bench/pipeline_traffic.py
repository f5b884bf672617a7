"""Tracker traffic for the pipeline bench: JS-tracker-like POST bodies and a sender process that times every POST.

Every event is valid and self-describing (a `com.acme/checkout` unstructured event with a `web_page`
and a `com.acme/user_context` entity, as a browser tracker sends them), so each one must end as one
good row. The event id encodes the POST it was sent in (`00000000-0000-4000-8000-PPPPPPPPIIII`:
POST number, index in the POST), so whoever finds a row in the lake knows which POST's 200 it follows.

The sender runs as its own process (`send_main`; the bench's own threads poll the lake meanwhile and
must not share an interpreter lock with it): `CONNECTIONS` keep-alive HTTP/1.1 connections, each
sending its next POST as soon as the last one is answered, or at a paced rate. It writes one JSON
document: when the first POST went out, and when each POST was acknowledged (CLOCK_MONOTONIC, which
every process on the machine shares, so the bench compares it with its own `time.monotonic()`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson

__all__ = [
    "EVENTS_PER_POST",
    "SendPlan",
    "SendResult",
    "event_id",
    "post_body",
    "post_of",
    "send_main",
    "write_bench_registry",
]

EVENTS_PER_POST = 50
SP = "com.snowplowanalytics.snowplow"
TRACKER_PATH = "/com.snowplowanalytics.snowplow/tp2"
_POST_MARK = b"PPPPPPPP"  # replaced by the POST's number in every event id of a body


def event_id(post: int, index: int) -> str:
    """The event id of event `index` of POST number `post` (a version-4-shaped UUID)."""
    return f"00000000-0000-4000-8000-{post:08d}{index:04d}"


def post_of(eid: str) -> int:
    """The POST number an event id from `event_id` was sent in."""
    return int(eid[-12:-4])


def _b64(doc: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(doc)).decode().rstrip("=")


def write_bench_registry(root: Path) -> Path:
    """The com.acme schemas the events use (the test registry), written under `root`; returns `root`."""
    from tests.enrich.event_mix import write_acme_registry

    return write_acme_registry(root)


def _event(index: int, eid: str) -> dict[str, str]:
    checkout = {
        "schema": f"iglu:{SP}/unstruct_event/jsonschema/1-0-0",
        "data": {
            "schema": "iglu:com.acme/checkout/jsonschema/1-0-0",
            "data": {
                "orderId": f"order-{index:05d}",
                "total": round(10 + index * 1.37, 2),
                "currency": "EUR",
                "items": [{"sku": f"sku-{index % 7}", "quantity": 1 + index % 3}],
            },
        },
    }
    entities = {
        "schema": f"iglu:{SP}/contexts/jsonschema/1-0-1",
        "data": [
            {
                "schema": f"iglu:{SP}/web_page/jsonschema/1-0-0",
                "data": {"id": f"5f2e0c1a-8d3b-4c6e-9a7f-{index:012d}"},
            },
            {
                "schema": "iglu:com.acme/user_context/jsonschema/1-0-0",
                "data": {"userId": f"user-{index % 13}", "plan": "pro" if index % 2 else None},
            },
        ],
    }
    return {
        "e": "ue",
        "eid": eid,
        "tv": "js-3.23.0",
        "tna": "sp",
        "aid": "shop",
        "p": "web",
        "cookie": "1",
        "cs": "UTF-8",
        "lang": "en-GB",
        "res": "1920x1080",
        "cd": "24",
        "tz": "Europe/London",
        "dtm": str(1_765_000_000_000 + index),
        "stm": str(1_765_000_000_500 + index),
        "vp": "1280x720",
        "ds": "1280x3400",
        "vid": "3",
        "sid": "8c1b4a2e-5d6f-4e7a-9b8c-0d1e2f3a4b5c",
        "duid": "2f3e4d5c-6b7a-4891-8a0b-1c2d3e4f5a6b",
        "url": f"https://shop.example.com/checkout?step={index % 4}",
        "page": "Checkout",
        "refr": "https://shop.example.com/basket",
        "ue_px": _b64(checkout),
        "cx": _b64(entities),
    }


def _template(events: int) -> bytes:
    """A tp2 POST body of `events` events whose ids all carry `_POST_MARK` where the POST number goes."""
    marked = [_event(i, f"00000000-0000-4000-8000-{_POST_MARK.decode()}{i:04d}") for i in range(events)]
    body = orjson.dumps({"schema": f"iglu:{SP}/payload_data/jsonschema/1-0-4", "data": marked})
    if body.count(_POST_MARK) != events:  # the mark must appear in the event ids and nowhere else
        raise AssertionError("the POST mark appears outside the event ids")
    return body


class BodyMaker:
    """POST bodies for any POST number, from one template (a byte replace, so sending stays cheap)."""

    def __init__(self, events: int = EVENTS_PER_POST) -> None:
        self.events = events
        self.template = _template(events)

    def body(self, post: int) -> bytes:
        return self.template.replace(_POST_MARK, b"%08d" % post)


def post_body(post: int, events: int = EVENTS_PER_POST) -> bytes:
    """The body of POST number `post` (what the sender posts and the baseline enriches)."""
    return BodyMaker(events).body(post)


@dataclass(frozen=True, slots=True)
class SendPlan:
    """What the sender does: `posts` POSTs of `events_per_post` events over `connections`, at most `rate` POSTs/s."""

    port: int
    posts: int
    events_per_post: int = EVENTS_PER_POST
    connections: int = 4
    rate: float | None = None  # POSTs per second in all; None: as fast as answers come
    first_post: int = 0  # POST numbers first_post .. first_post + posts - 1 (so runs never repeat an id)


@dataclass
class SendResult:
    """When the first POST went out and when each was answered 200 (monotonic seconds), by POST number."""

    started: float = 0.0
    finished: float = 0.0
    acked: dict[int, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_NON_STR_KEYS)

    @classmethod
    def from_json(cls, data: bytes) -> SendResult:
        doc = orjson.loads(data)
        return cls(doc["started"], doc["finished"], {int(k): v for k, v in doc["acked"].items()}, doc["errors"])


class _Connection(asyncio.Protocol):
    """One keep-alive connection: sends a POST, waits for its whole answer, records the 200, takes the next POST."""

    def __init__(self, sender: _Sender) -> None:
        self.sender = sender
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.post: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.sender.next_post(self)

    def send(self, post: int) -> None:
        self.post = post
        assert self.transport is not None
        self.transport.write(self.sender.request(post))

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            length = 0
            at = head.lower().find(b"content-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at)
                length = int(head[at + 15 : stop if stop >= 0 else len(head)])
            if len(buffer) < end + 4 + length:
                break
            buffer = buffer[end + 4 + length :]
            post, self.post = self.post, None
            if not head.startswith(b"HTTP/1.1 200"):
                self.sender.fail(f"POST {post}: {head[:80]!r}")
                return
            if post is not None:
                self.sender.acked(post)
            self.sender.next_post(self)
        self.buffer = buffer

    def connection_lost(self, exc: Exception | None) -> None:
        if self.post is not None or not self.sender.done.done():
            self.sender.fail(f"connection lost: {exc or 'closed by the server'}")


class _Sender:
    """Deals POST numbers to the connections, paced or not, and keeps the acknowledgement times."""

    def __init__(self, plan: SendPlan) -> None:
        self.plan = plan
        self.loop = asyncio.get_running_loop()
        self.maker = BodyMaker(plan.events_per_post)
        self.head = (
            f"POST {TRACKER_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{plan.port}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
            "Origin: https://shop.example.com\r\nCookie: sp=2b1c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6\r\n"
            f"Content-Length: {len(self.maker.template)}\r\n\r\n"
        ).encode()
        self.result = SendResult()
        self.next = 0
        self.open = 0
        self.done: asyncio.Future[None] = self.loop.create_future()

    def request(self, post: int) -> bytes:
        return self.head + self.maker.body(self.plan.first_post + post)

    def next_post(self, connection: _Connection) -> None:
        if self.done.done():
            return
        if self.next >= self.plan.posts:
            if len(self.result.acked) >= self.plan.posts:
                self.result.finished = time.monotonic()
                self.done.set_result(None)
            return
        post = self.next
        self.next += 1
        if not self.result.started:
            self.result.started = time.monotonic()
        if self.plan.rate:
            due = self.result.started + post / self.plan.rate
            delay = due - time.monotonic()
            if delay > 0:
                self.loop.call_later(delay, connection.send, post)
                return
        connection.send(post)

    def acked(self, post: int) -> None:
        self.result.acked[self.plan.first_post + post] = time.monotonic()

    def fail(self, error: str) -> None:
        self.result.errors.append(error)
        if not self.done.done():
            self.done.set_result(None)


async def send(plan: SendPlan) -> SendResult:
    """Send the plan's POSTs and return when each was acknowledged (or the first error)."""
    sender = _Sender(plan)
    transports = []
    for _ in range(min(plan.connections, plan.posts)):
        transport, _ = await sender.loop.create_connection(lambda: _Connection(sender), "127.0.0.1", plan.port)
        transports.append(transport)
    try:
        await sender.done
    finally:
        for transport in transports:
            transport.close()
    return sender.result


def send_main() -> None:
    """Entry point of the sender process: argv = a SendPlan as JSON, then the file to write the SendResult to."""
    plan = SendPlan(**json.loads(sys.argv[1]))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(send(plan))
    Path(sys.argv[2]).write_bytes(result.to_json())
