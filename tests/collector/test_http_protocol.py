"""TrackingHttpProtocol answers exactly as uvicorn's own httptools protocol would, byte for byte, over real sockets.

Each test runs two real uvicorn servers on the same kind of app (pinned clock and ids, real SQLite
queue): one with uvicorn's httptools protocol (every request through ASGI), one with
TrackingHttpProtocol (tracking requests answered without an ASGI task). The same raw bytes are sent
to both; the answers must be identical but for the Date header, and so must the queued records.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from collector.http_protocol import TrackingHttpProtocol
from core.raw import CollectorPayload
from tests.collector.conftest import Rig
from tests.services.pubsub import free_port

TP2 = b"/com.snowplowanalytics.snowplow/tp2"
BODY = (
    b'{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",'
    b'"data":[{"e":"pv","eid":"00000000-0000-4000-8000-000000000001","tv":"t","p":"web"}]}'
)


def post(body: bytes = BODY, *, path: bytes = TP2, extra: bytes = b"") -> bytes:
    return (
        b"POST " + path + b" HTTP/1.1\r\nHost: collector.test\r\nContent-Type: application/json\r\n"
        b"User-Agent: protocol-test\r\n" + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def get(target: bytes, extra: bytes = b"") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: collector.test\r\nUser-Agent: protocol-test\r\n" + extra + b"\r\n"


@dataclass
class Served:
    """A rig served by real uvicorn on a port, with the protocol under test or uvicorn's own."""

    rig: Rig
    port: int
    server: uvicorn.Server
    thread: threading.Thread


def _serve(rig: Rig, http: type | str) -> Served:
    port = free_port()
    config = uvicorn.Config(
        rig.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", http=http, proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    return Served(rig, port, server, thread)


@pytest.fixture
def pair(make_rig: Callable[..., Rig]) -> Iterator[Callable[..., tuple[Served, Served]]]:
    """`pair(**rig_options)` → (uvicorn's protocol, TrackingHttpProtocol), each on its own pinned app."""
    started: list[Served] = []

    def make(**options: object) -> tuple[Served, Served]:
        served = []
        for http in ("httptools", TrackingHttpProtocol):
            ids = itertools.count(1)
            rig = make_rig(
                publish_async=True,
                clock_ms=lambda: 1_700_000_000_123,
                new_id=lambda ids=ids: f"00000000-0000-4000-8000-{next(ids):012d}",
                **options,
            )
            served.append(_serve(rig, http))
        started.extend(served)
        return served[0], served[1]

    yield make
    for s in started:
        s.server.should_exit = True
    for s in started:
        s.thread.join(10)  # the lifespan shutdown confirms pending records


def exchange(port: int, data: bytes | list[bytes], answers: int = 1, pause: float = 0.0) -> list[bytes]:
    """Send the bytes (pieces `pause` apart), read `answers` whole responses (or until the server closes)."""
    out: list[bytes] = []
    first = data if isinstance(data, bytes) else data[0]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for i, piece in enumerate([data] if isinstance(data, bytes) else data):
            if i and pause:
                time.sleep(pause)
            sock.sendall(piece)
        buffer = b""
        while len(out) < answers:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = buffer[:end]
                length = 0
                for line in head.split(b"\r\n")[1:] if not first.startswith(b"HEAD ") else ():
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                if len(buffer) >= end + 4 + length:
                    out.append(buffer[: end + 4 + length])
                    buffer = buffer[end + 4 + length :]
                    continue
            chunk = sock.recv(65536)
            if not chunk:
                if buffer:
                    out.append(buffer)
                break
            buffer += chunk
    return out


def without_date(answers: list[bytes]) -> list[bytes]:
    return [b"\r\n".join(line for line in a.split(b"\r\n") if not line.lower().startswith(b"date:")) for a in answers]


def same_everywhere(
    pair: tuple[Served, Served], data: bytes | list[bytes], answers: int = 1, pause: float = 0.0
) -> list[bytes]:
    asgi, fast = pair
    expected = without_date(exchange(asgi.port, data, answers, pause))
    got = without_date(exchange(fast.port, data, answers, pause))
    assert got == expected
    return got


def queued(served: Served) -> list[CollectorPayload]:
    return served.rig.records()


REQUESTS = {
    "post, new visitor": post(),
    "post, known visitor, origin": post(extra=b"Cookie: sp=visitor-1; other=x\r\nOrigin: https://shop.test\r\n"),
    "post, anonymous": post(extra=b"SP-Anonymous: *\r\nX-Forwarded-For: 1.2.3.4\r\n"),
    "post, connection close": post(extra=b"Connection: close\r\n"),
    "post, nuid parameter": post(path=TP2 + b"?nuid=from-query"),
    "post, empty body": post(b""),
    "pixel": get(b"/i?e=pv&eid=00000000-0000-4000-8000-000000000002&tv=t&p=web"),
    "pixel, cookie": get(b"/i?e=pv&tv=t", b"Cookie: sp=visitor-2\r\n"),
    "vendor pixel": get(b"/com.snowplowanalytics.iglu/v1?schema=iglu%3Acom.acme%2Fe%2Fjsonschema%2F1-0-0"),
}


@pytest.mark.parametrize("request_bytes", list(REQUESTS.values()), ids=list(REQUESTS))
def test_tracking_answers_and_records_match_uvicorns(
    pair: Callable[..., tuple[Served, Served]], request_bytes: bytes
) -> None:
    """A tracking request gets the same bytes back and queues the same record through either protocol."""
    servers = pair()
    (answer,) = same_everywhere(servers, request_bytes)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    asgi, fast = (queued(s) for s in servers)
    assert len(fast) == 1 and fast == asgi


def test_pipelined_requests_are_answered_in_order(pair: Callable[..., tuple[Served, Served]]) -> None:
    """Requests sent back to back on one connection, tracking and not, are answered in order, as uvicorn does."""
    servers = pair()
    answers = same_everywhere(servers, post() + get(b"/health") + get(b"/i?e=pv") + post(b"") + get(b"/robots.txt"), 5)
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 200 OK"] * 5
    assert answers[1].endswith(b"\r\n\r\nok") and b"image/gif" in answers[2]
    asgi, fast = (queued(s) for s in servers)
    assert fast == asgi and len(fast) == 3


def test_a_body_arriving_later_is_waited_for(pair: Callable[..., tuple[Served, Served]]) -> None:
    """Headers first, the body 100 ms later: the request is answered once the body is complete."""
    servers = pair()
    whole = post()
    cut = whole.index(b"\r\n\r\n") + 4 + 10
    same_everywhere(servers, [whole[:cut], whole[cut:]], pause=0.1)
    asgi, fast = (queued(s) for s in servers)
    assert fast == asgi and len(fast) == 1 and (fast[0].body or "").encode() == BODY


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /com.snowplowanalytics.snowplow/tp2 HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        post(extra=b"Expect: 100-continue\r\n"),
        post(b"x" * 70_000),
        b"HEAD /i?e=pv HTTP/1.1\r\nHost: c\r\n\r\n",
        b"OPTIONS /com.snowplowanalytics.snowplow/tp2 HTTP/1.1\r\nHost: c\r\nOrigin: https://a.test\r\n\r\n",
    ],
    ids=["chunked", "expect-100", "over-64k", "head", "preflight"],
)
def test_requests_left_to_asgi_are_answered_alike(
    pair: Callable[..., tuple[Served, Served]], request_bytes: bytes
) -> None:
    """Requests the protocol hands to the ASGI path (chunked, 100-continue, large, HEAD, preflight) are unchanged."""
    servers = pair()
    answers = same_everywhere(servers, request_bytes, answers=2 if b"100-continue" in request_bytes else 1)
    assert answers[-1].startswith(b"HTTP/1.1 200 OK\r\n")
    assert queued(servers[1]) == queued(servers[0])


def test_a_too_large_body_is_refused_alike(pair: Callable[..., tuple[Served, Served]]) -> None:
    """A declared length above the drop size gets the same 413, before the body is read, through either protocol."""
    servers = pair(drop_payload_size=1000, max_payload_size=1000)
    (answer,) = same_everywhere(servers, post(b"y" * 2000)[:-1500])
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_an_oversized_record_follows_the_size_rules_alike(pair: Callable[..., tuple[Served, Served]]) -> None:
    """A record over the queue's message size is split as on the ASGI path (the protocol hands it over)."""
    events = b",".join(b'{"e":"pv","eid":"00000000-0000-4000-8000-%012d","tv":"t","p":"web"}' % i for i in range(40))
    body = b'{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[' + events + b"]}"
    servers = pair(sink_max_bytes=2500)
    same_everywhere(servers, post(body))
    asgi, fast = (queued(s) for s in servers)
    assert len(fast) > 1 and fast == asgi


def test_queue_down_without_spool_is_a_503_alike(pair: Callable[..., tuple[Served, Served]]) -> None:
    """With the queue failing and no spool, both protocols answer the same 503 and queue nothing."""
    servers = pair(spool=False)
    for s in servers:
        s.rig.publisher.up = False
    (answer,) = same_everywhere(servers, post())
    assert answer.startswith(b"HTTP/1.1 503 ")
    for s in servers:
        s.rig.publisher.up = True
    assert queued(servers[1]) == []
