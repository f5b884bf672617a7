"""uvicorn's httptools protocol, answering tracking POSTs and pixel GETs itself instead of through an ASGI task.

Why: per durable request, uvicorn's ASGI machinery (a task, receive/send message dicts, a regex
check of every response header, two socket writes per answer) cost the event loop more CPU than
the collector's own work, and the event loop's CPU is what the collector's throughput and latency
tail are made of. Here a tracking request, once complete, goes straight to
`TrackingEndpoint.prepare()`; its records go to `Acknowledger.submit()`, and the future's
done-callback writes the whole answer in one write.

Only the common case takes this path: a POST to a tracking route whose body length is declared
and small (within uvicorn's read buffer and the drop size) or a pixel GET, without
`Expect: 100-continue`, in an app that is a `CollectorApp` served unwrapped. Everything else
(other routes, HEAD, preflight, redirects, chunked or large bodies, records too big for one queue
message, anything unexpected) goes through uvicorn's ASGI path unchanged, and so do pipelined
requests' order, keep-alive, shutdown and disconnects: the request keeps uvicorn's
RequestResponseCycle, and the answer completes it exactly as `RequestResponseCycle.send()` would
(same bytes: status line, default headers, lower-cased names, `connection: close` when the
connection is not kept alive; an invalid header value closes the connection as uvicorn does).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import (
    HEADER_VALUE_RE,
    STATUS_LINE,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from collector.app import CollectorApp
from collector.connection_guard import GuardedHttpProtocol
from collector.record import RequestFacts
from collector.tracking import Answer, Oversized, Route, TrackingEndpoint, refused

__all__ = ["TrackingHttpProtocol"]


class TrackingHttpProtocol(GuardedHttpProtocol):
    """Pass as uvicorn's `http` setting (`uvicorn.run(app, http=TrackingHttpProtocol)`); slow clients and the
    connection cap are handled by `GuardedHttpProtocol` (collector.connection_guard) for every route."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        app = self.app
        self._endpoint: TrackingEndpoint | None = app.tracking if isinstance(app, CollectorApp) else None
        self._body_limit = 0
        if self._endpoint is not None:
            self._body_limit = min(HIGH_WATER_LIMIT, self._endpoint.config.drop_payload_size)
        # A request taken off the ASGI path whose body is still arriving (it is always the parser's current one).
        self._waiting: tuple[RequestResponseCycle, Route, RequestFacts, float] | None = None

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        endpoint = self._endpoint
        if endpoint is not None and app is self.app and not cycle.waiting_for_100_continue:
            scope = cycle.scope
            method = scope["method"]
            if method in {"POST", "GET"}:
                route = endpoint.route(method, scope["path"])
                if route is not None and (route.kind == "post" or (route.kind == "pixel" and method == "GET")):
                    facts = RequestFacts(scope["headers"])
                    if route.kind == "pixel" or self._small_body(facts):
                        started = time.perf_counter()
                        if route.kind == "post" and cycle.more_body:
                            self._waiting = (cycle, route, facts, started)
                        else:
                            self._handle(cycle, route, facts, started)
                        return
        super()._start_asgi_task(cycle, app)

    def _small_body(self, facts: RequestFacts) -> bool:
        """One Content-Length, within what uvicorn buffers without pausing the socket, and no Transfer-Encoding."""
        if facts.transfer_encoded or len(facts.content_lengths) != 1:
            return False
        value = facts.content_lengths[0].strip()
        return value.isdigit() and int(value) <= self._body_limit

    def on_message_complete(self) -> None:
        super().on_message_complete()
        waiting = self._waiting
        if waiting is not None and waiting[0] is self.cycle and not self.cycle.more_body:
            self._waiting = None
            self._handle(*waiting)

    def _handle(self, cycle: RequestResponseCycle, route: Route, facts: RequestFacts, started: float) -> None:
        endpoint = self._endpoint
        assert endpoint is not None
        try:
            prepared = endpoint.prepare(cycle.scope, route, facts, bytes(cycle.body) if route.kind == "post" else None)
            if isinstance(prepared, Oversized):  # rare: the size rules may write to the lake, so they are awaited
                self._answer_in_task(cycle, route, endpoint.answer_oversized(prepared), started)
                return
            answer, records, origin = prepared
            if not records:
                self._respond(cycle, route, answer, started)
                return
            future = endpoint.ack.submit(records)
        except Exception:  # the ASGI path meets the same error and answers it as uvicorn does
            super()._start_asgi_task(cycle, self.app)
            return
        pending = _Stored(self, cycle, route, answer=answer, origin=origin, count=len(records), started=started)
        future.add_done_callback(pending.settled)

    def stored(self, pending: _Stored, future: asyncio.Future[bool]) -> None:
        """The records of a request are durable (or could not be made so): answer it."""
        if future.cancelled():
            return  # the loop is going away: as for a cancelled ASGI task, nothing is answered
        endpoint = self._endpoint
        assert endpoint is not None
        answer = pending.answer
        if future.result():
            endpoint.metrics.stored(pending.count)
        else:
            answer = refused(pending.origin)
        self._respond(pending.cycle, pending.route, answer, pending.started)

    def _respond(self, cycle: RequestResponseCycle, route: Route, answer: Answer, started: float) -> None:
        """What `RequestResponseCycle.send()` does for a start and a final body message, in one write."""
        endpoint = self._endpoint
        assert endpoint is not None
        status, headers, body = answer
        if cycle.flow.write_paused and not cycle.disconnected:  # the client is not reading: wait as send() would
            self._send_later(cycle, route, answer, started)
            return
        if not cycle.disconnected:
            content = [STATUS_LINE[status]]
            for name, value in cycle.default_headers:
                content.extend((name, b": ", value, b"\r\n"))
            for name, value in headers:
                if HEADER_VALUE_RE.search(value):
                    cycle.response_started = True
                    invalid = RuntimeError("Invalid HTTP header value.")
                    cycle.logger.error("Exception in ASGI application\n", exc_info=invalid)
                    cycle.transport.close()
                    return
                content.extend((name, b": ", value, b"\r\n"))
            if not cycle.keep_alive:
                content.append(b"connection: close\r\n")
            content.append(b"\r\n")
            content.append(body)
            cycle.response_started = True
            cycle.transport.write(b"".join(content))
            cycle.response_complete = True
            cycle.message_event.set()
            if not cycle.keep_alive:
                cycle.transport.close()
            cycle.on_response()
        endpoint.metrics.observe(route.kind, status, time.perf_counter() - started)

    def _send_later(self, cycle: RequestResponseCycle, route: Route, answer: Answer, started: float) -> None:
        async def known() -> Answer:
            return answer

        self._answer_in_task(cycle, route, known(), started)

    def _answer_in_task(
        self, cycle: RequestResponseCycle, route: Route, answer: Coroutine[Any, Any, Answer], started: float
    ) -> None:
        """Await the answer and send it through uvicorn's own ASGI send (its flow control and error handling)."""
        endpoint = self._endpoint
        assert endpoint is not None

        async def send_answer(scope: Any, receive: Any, send: Any) -> None:
            status, headers, body = await answer
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            endpoint.metrics.observe(route.kind, status, time.perf_counter() - started)

        task = self.loop.create_task(cycle.run_asgi(send_answer))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)


class _Stored:
    """A request waiting for its records' durable store, and what to answer then."""

    __slots__ = ("answer", "count", "cycle", "origin", "protocol", "route", "started")

    def __init__(
        self,
        protocol: TrackingHttpProtocol,
        cycle: RequestResponseCycle,
        route: Route,
        *,
        answer: Answer,
        origin: bytes,
        count: int,
        started: float,
    ) -> None:
        self.protocol, self.cycle, self.route, self.answer = protocol, cycle, route, answer
        self.origin, self.count, self.started = origin, count, started

    def settled(self, future: asyncio.Future[bool]) -> None:
        self.protocol.stored(self, future)
