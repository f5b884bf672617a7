"""Slow and surplus clients cannot hold the collector's sockets: header and body deadlines, a connection cap.

uvicorn closes an idle keep-alive connection, but a connection that trickles a request (slowloris:
a header byte every few seconds, or a body that never ends) or sends nothing at all after
connecting stays open for as long as the client likes, and enough of them exhaust file
descriptors. Each connection here has a deadline for the phase it is in:
- headers: from the connection (or the previous answer) until the request's headers are complete;
- body: from the end of the headers until the end of the body.
Each deadline is the whole time allowed, not the gap between two reads, so trickling does not
extend it. A connection past its deadline is answered 408 (when no answer has started) and
closed. While the server itself holds reading paused (pipelined requests, a body the app has not
read yet) the client is not the one late, and the deadline moves on. One periodic sweep per
server checks every connection's deadline, so a request costs two float assignments, not timers.

Beyond `max_connections` open connections a new one is answered 503 and closed at once (the
listening socket keeps accepting, so it cannot be starved either).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from core.telemetry import counter, get_logger

__all__ = ["ConnectionLimits", "GuardedHttpProtocol"]

log = get_logger("collector.connections")
_CLOSED = counter(
    "eventkit_collector_connections_closed_total",
    "Connections the collector closed itself: a deadline passed (headers, body) or too many were open (limit)",
    ["reason"],
)
_REPORT_EVERY_S = 10.0  # a flood of slow clients is one log line per interval, with a count


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a client may take to send a request's headers and body, and how many connections may be open."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1024


def _limits_of(app: Any) -> ConnectionLimits:
    """The limits the served app declares (`connection_limits`), looking through wrappers: uvicorn's middleware
    (`.app`) and `eventkit up`'s dispatcher (`.collector`); the defaults when none does."""
    for _ in range(8):
        limits = getattr(app, "connection_limits", None)
        if isinstance(limits, ConnectionLimits):
            return limits
        inner = getattr(app, "app", None) or getattr(app, "collector", None)
        if inner is None:
            break
        app = inner
    return ConnectionLimits()


class _Sweeper:
    """Closes the connections of one server whose phase deadline has passed (one timer for all of them)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, server_state: ServerState, interval: float) -> None:
        self.loop = loop
        self.connections = weakref.ref(server_state.connections)
        self.interval = interval
        self.closed: dict[str, int] = {}  # reason → count since the last report
        self.reported_at = time.monotonic()
        loop.call_later(interval, self.sweep)

    def sweep(self) -> None:
        connections = self.connections()
        if connections is None or self.loop.is_closed():
            return
        try:
            now = self.loop.time()
            for protocol in list(connections):
                if isinstance(protocol, GuardedHttpProtocol) and 0 < protocol.deadline <= now:
                    try:
                        protocol.deadline_passed(now)
                    except Exception as e:  # one broken connection must not end the sweep for all the others
                        log.error("connection_deadline_failed", error=repr(e))
                        protocol.transport.abort()
            self.report()
        finally:
            self.loop.call_later(self.interval, self.sweep)

    def count(self, reason: str) -> None:
        _CLOSED.labels(reason).inc()
        self.closed[reason] = self.closed.get(reason, 0) + 1

    def report(self) -> None:
        if self.closed and time.monotonic() - self.reported_at >= _REPORT_EVERY_S:
            log.warning("connections_closed", **self.closed, within_s=_REPORT_EVERY_S)
            self.closed = {}
            self.reported_at = time.monotonic()


_SWEEPERS: weakref.WeakKeyDictionary[ServerState, _Sweeper] = weakref.WeakKeyDictionary()


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with phase deadlines and a connection cap (pass as uvicorn's `http`)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = _limits_of(self.app)
        self.deadline = 0.0  # loop time by which the current phase must end; 0 while the server is the one busy
        self.phase = "headers"
        sweeper = _SWEEPERS.get(server_state)
        if sweeper is None:
            shortest = min(self.limits.header_timeout, self.limits.body_timeout)
            sweeper = _SWEEPERS[server_state] = _Sweeper(self.loop, server_state, min(1.0, max(0.05, shortest / 4)))
        self._sweeper = sweeper

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._sweeper.count("limit")
            self._close_with(503, b"too many open connections; retry later")
            return
        self._expect("headers", self.limits.header_timeout)

    def _expect(self, phase: str, seconds: float) -> None:
        self.phase = phase
        self.deadline = self.loop.time() + seconds

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self.deadline:  # a pipelined request begins while the previous one is answered
            self._expect("headers", self.limits.header_timeout)

    def on_headers_complete(self) -> None:
        self._expect("body", self.limits.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.deadline = 0.0  # the request is complete: from now on the server is the one to answer
        super().on_message_complete()

    def on_response_complete(self) -> None:
        queued = bool(self.pipeline)  # a complete request waits: the server is busy again, not the client
        super().on_response_complete()
        if not self.deadline and not queued:
            self._expect("headers", self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline = 0.0
        super().connection_lost(exc)

    def deadline_passed(self, now: float) -> None:
        """Called by the sweep once `deadline` is past: 408 and close, unless the server is why it is late."""
        if self.transport.is_closing():
            self.deadline = 0.0
            return
        if self.flow.read_paused:  # the server stopped reading (pipelining, an unread body): not the client's delay
            self.deadline = now + (self.limits.body_timeout if self.phase == "body" else self.limits.header_timeout)
            return
        self.deadline = 0.0
        self._sweeper.count(self.phase)
        timeout = self.limits.body_timeout if self.phase == "body" else self.limits.header_timeout
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started and not cycle.response_complete
        if cycle is not None and not cycle.response_complete:  # the app hears a disconnect; its answer is dropped
            cycle.disconnected = True
            cycle.message_event.set()
        if answering:
            self.transport.close()  # an answer is being written: a 408 cannot be added to it
            return
        self._close_with(408, f"request {self.phase} not received within {timeout:g} s".encode())

    def _close_with(self, status: int, text: bytes) -> None:
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend((name, b": ", value, b"\r\n"))
        content.extend(
            (
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(text)).encode("ascii") + b"\r\n",
                b"connection: close\r\n\r\n",
                text,
            )
        )
        self.transport.write(b"".join(content))
        self.transport.close()
