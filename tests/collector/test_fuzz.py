"""Malformed requests never crash the collector: no 5xx but the deliberate 503, and every 200 is recorded."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.queue.sqlite import SQLitePublisher
from tests.collector.conftest import Rig
from tests.collector.driver import Answer, call, lifespan
from tests.collector.processes import CollectorProcess

TRACKING_PATHS = ["/i", "/ice.png", "/com.snowplowanalytics.snowplow/tp2", "/r/tp2", "/com.acme/v1", "/com.x/"]
OTHER_PATHS = ["/health", "/sink-health", "/metrics", "/robots.txt", "/crossdomain.xml", "/", "//", "/a/b/c"]

methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "FOO"])
paths = st.one_of(st.sampled_from(TRACKING_PATHS + OTHER_PATHS), st.text(max_size=40).map(lambda t: "/" + t))
header_names = st.one_of(
    st.sampled_from(
        [
            "Content-Type",
            "Cookie",
            "Origin",
            "Host",
            "X-Forwarded-For",
            "Forwarded",
            "SP-Anonymous",
            "Content-Length",
            "User-Agent",
            "Referer",
            "Transfer-Encoding",
        ]
    ),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=12),
)
header_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60),
    st.sampled_from(
        [
            "application/json; charset=utf-16",
            "text/plain; charset=nope",
            "application/json; charset=",
            "sp=; sp=x",
            "=;;=",
            "999999999999",
            "-1",
            "abc",
            "http://[::1",
            'for=unknown;for="[::1]"',
            "1.2.3.4, , zz",
        ]
    ),
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"{", b'{"schema":1,"data":{}}', b"\xff\xfe{\x00", b"null", b'{"data":[1,2,' * 20]),
)
queries = st.one_of(st.binary(max_size=80), st.sampled_from([b"a", b"&&=&", b"u=%zz", b"nuid=&u=http://x", b"%FF=%FE"]))


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Rig, asyncio.AbstractEventLoop, Callable[[], int]]]:
    """One app (redirects on, small limits so size rules are hit) running in one event loop for every example."""
    from collector.app import create_app
    from collector.settings import CollectorSettings
    from collector.spool import Spool
    from core.lake import open_lake
    from tests.collector.conftest import SwitchablePublisher

    root: Path = tmp_path_factory.mktemp("fuzz")
    rig = Rig.__new__(Rig)
    rig.root = root
    rig.queue_url = f"sqlite:///{root}/queue.db"
    inner = SQLitePublisher(root / "queue.db")
    rig.publisher = SwitchablePublisher(inner)
    rig.spool = Spool(root / "spool.db")
    rig.lake = open_lake(str(root / "lake"))
    rig.config = CollectorSettings(
        raw=rig.queue_url,
        redirect={"enabled": True, "domains": ["example.com"]},
        drop_payload_size=250,  # bodies up to 300 bytes: some are refused with 413
        sink_max_bytes=200,  # split, or a violation under either limit's message
        max_payload_size=250,  # the settings refuse a payload limit above the drop size
        trusted_proxies=["203.0.113.0/24"],
    )
    rig.app = create_app(rig.config, rig.publisher, spool=rig.spool, lake=rig.lake)
    loop = asyncio.new_event_loop()
    context = lifespan(rig.app)
    loop.run_until_complete(context.__aenter__())

    def stored() -> int:
        assert rig.lake is not None and rig.spool is not None
        return inner.depth() + rig.spool.count() + sum(1 for _ in rig.lake.list("bad/"))

    yield rig, loop, stored
    loop.run_until_complete(context.__aexit__(None, None, None))
    loop.close()
    inner.close()
    rig.spool.close()


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    method=methods,
    path=paths,
    query=queries,
    headers=st.lists(st.tuples(header_names, header_values), max_size=8),
    body=bodies,
    chunks=st.integers(min_value=1, max_value=4),
)
def test_malformed_requests_never_5xx_and_every_200_is_recorded(
    *,
    live: tuple[Rig, asyncio.AbstractEventLoop, Callable[[], int]],
    method: str,
    path: str,
    query: bytes,
    headers: list[tuple[str, str]],
    body: bytes,
    chunks: int,
) -> None:
    """Any method, path, header, body, encoding or size: the answer is < 500 (or a deliberate 503), and a tracking
    request answered 200/302 left at least one durable trace (queue, spool or size_violation bad row)."""
    rig, loop, stored = live
    before = stored()
    answer: Answer = loop.run_until_complete(
        call(rig.app, method, path, query=query, headers=headers, body=body, chunks=chunks)
    )
    assert answer.status < 500 or (answer.status == 503 and answer.body.startswith(b"the ")), answer
    route = rig.app.tracking.route(method, path)
    if route is not None and route.kind != "preflight" and answer.status in (200, 302):  # (do-not-track is off)
        assert stored() > before, (method, path, answer.status)
    if route is None or route.kind == "preflight":
        assert stored() == before


RAW_REQUESTS = [
    b"GET /i?e=pv HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /com.snowplowanalytics.snowplow/tp2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /i?\xff\xfe HTTP/1.1\r\nHost: \xff\r\nCookie: \x80sp=\xff\r\n\r\n",
    b"BREW /i HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /%ZZ/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /i HTTP/9.9\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    b"POST /a/b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",  # body shorter than declared, then close
]


@pytest.mark.slow
def test_garbage_on_the_wire_never_gets_5xx(tmp_path: Path) -> None:
    """Broken request lines, headers, chunking and encodings sent over a real socket get 4xx (or nothing), never 5xx."""
    server = CollectorProcess("--raw", f"sqlite:///{tmp_path}/q.db", log=tmp_path / "c.log")
    statuses: list[Any] = []
    try:
        for raw in RAW_REQUESTS:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(raw)
                sock.shutdown(socket.SHUT_WR)
                data = b""
                try:
                    while chunk := sock.recv(65536):
                        data += chunk
                except OSError:
                    pass
            statuses.append(int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else None)
        assert server.status("/health") == 200  # still alive
    finally:
        server.kill()
    assert all(s is None or s < 500 for s in statuses), statuses
    assert "Traceback" not in (tmp_path / "c.log").read_text()
