"""Slow and surplus clients against a real `eventkit collector` process: deadlines close them, the cap bounds them."""

from __future__ import annotations

import http.client
import os
import socket
import time
from pathlib import Path

from tests.collector.processes import CollectorProcess

TP2 = "/com.snowplowanalytics.snowplow/tp2"
BODY = b'{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv"}]}'


def start(tmp_path: Path, **settings: str) -> CollectorProcess:
    env = {f"EVENTKIT_COLLECTOR__{k.upper()}": v for k, v in settings.items()}
    return CollectorProcess(
        "--raw", f"sqlite:///{tmp_path}/q.db", "--spool", str(tmp_path / "spool.db"), log=tmp_path / "c.log", env=env
    )


def connect(port: int, first: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if first:
        sock.sendall(first)
    return sock


def read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """What the server wrote, and whether it closed the connection before `deadline` (monotonic)."""
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def timed_post(port: int) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", TP2, body=BODY, headers={"Content-Type": "application/json"})
        status = conn.getresponse().status
    finally:
        conn.close()
    return status, time.monotonic() - started


def open_sockets(pid: int) -> int:
    return sum(1 for fd in os.listdir(f"/proc/{pid}/fd") if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"))


def test_slowloris_connections_are_answered_408_and_closed_within_the_deadlines(tmp_path: Path) -> None:
    """50 half-open connections (silent, trickling headers, stalled bodies) are each closed with a 408 soon after
    the 1 s header/body deadline, trickling does not extend it, and a normal request answers quickly meanwhile."""
    server = start(tmp_path, header_timeout="1", body_timeout="1")
    try:
        baseline = open_sockets(server.process.pid)  # the listener and the event loop's own socket pair
        silent = [connect(server.port) for _ in range(10)]
        partial_headers = [connect(server.port, f"POST {TP2} HTTP/1.1\r\nHost: x\r\n".encode()) for _ in range(20)]
        stalled_bodies = [
            connect(server.port, f"POST {TP2} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n".encode() + b"{")
            for _ in range(20)
        ]
        opened = time.monotonic()
        status, seconds = timed_post(server.port)
        assert status == 200 and seconds < 0.5
        for _ in range(3):  # a header byte every 0.3 s: within any per-read timeout, never within the deadline
            time.sleep(0.3)
            for sock in partial_headers:
                try:
                    sock.sendall(b"X")
                except OSError:
                    pass
        for sock in silent + partial_headers + stalled_bodies:
            data, closed = read_until_closed(sock, opened + 3.0)
            sock.close()
            assert closed, "a slow client was still connected 3 s after a 1 s deadline"
            assert data.startswith(b"HTTP/1.1 408 "), data[:80]
        assert b"request body not received within 1 s" in data
        assert open_sockets(server.process.pid) <= baseline  # nothing held
        status, seconds = timed_post(server.port)
        assert status == 200 and seconds < 0.5
    finally:
        server.kill()


def test_connections_beyond_the_cap_are_refused_at_once(tmp_path: Path) -> None:
    """With max_connections 20, the 21st and later connections get 503 and are closed at once; the server never
    holds more than the cap, and once clients leave it answers normally again."""
    server = start(tmp_path, max_connections="20", header_timeout="30")
    held: list[socket.socket] = []
    try:
        baseline = open_sockets(server.process.pid)  # the listener and the event loop's own socket pair
        held = [connect(server.port) for _ in range(40)]
        time.sleep(0.3)
        assert open_sockets(server.process.pid) <= baseline + 20
        refused = 0
        for sock in held[20:]:
            data, closed = read_until_closed(sock, time.monotonic() + 2.0)
            assert closed and data.startswith(b"HTTP/1.1 503 "), data[:80]
            refused += 1
        assert refused == 20
        for sock in held[:20]:  # the first 20 are served: a request on each is answered
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data, closed = read_until_closed(sock, time.monotonic() + 2.0)
            assert data.startswith(b"HTTP/1.1 200 "), data[:80]
        for sock in held:
            sock.close()
        time.sleep(0.2)
        status, seconds = timed_post(server.port)
        assert status == 200 and seconds < 0.5
    finally:
        for sock in held:
            sock.close()
        server.kill()
