"""The collector app factory: FastAPI for operational routes, the lean tracking handler in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response

from collector.connection_guard import ConnectionLimits
from collector.durability import Acknowledger, DurabilityTiming
from collector.metrics import CollectorMetrics
from collector.responses import ROBOTS_TXT, crossdomain_xml
from collector.settings import CollectorSettings
from collector.sizing import SizeViolationFact
from collector.spool import Spool
from collector.tracking import Receive, Scope, Send, TrackingEndpoint
from core.lake.port import Lake
from core.queue.port import Publisher
from core.telemetry import get_logger

__all__ = ["CollectorApp", "collector_name", "create_app"]

log = get_logger("collector.app")


def _version() -> str:
    try:
        return version("eventkit")
    except PackageNotFoundError:  # a source tree without an install
        return "0.0.0"


def collector_name(raw: str) -> str:
    """`eventkit-<version>-<sink>` for raw queue URL `raw` (Snowplow's `collector` field: `eventkit-0.1.0-sqlite`)."""
    sink = urlsplit(raw).scheme or "custom"
    return f"eventkit-{_version()}-{sink}"


class CollectorApp(FastAPI):
    """A FastAPI app whose tracking routes are answered before FastAPI's routing and middleware stack."""

    tracking: TrackingEndpoint
    acknowledger: Acknowledger

    @property
    def connection_limits(self) -> ConnectionLimits:
        """Slow-client deadlines and the connection cap, read by the HTTP protocol (collector.connection_guard)."""
        config = self.tracking.config
        return ConnectionLimits(config.header_timeout, config.body_timeout, config.max_connections)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.tracking.route(scope["method"], scope["path"])
            if route is not None:
                await self.tracking(scope, receive, send, route)
                return
        await super().__call__(scope, receive, send)


def _default_violation_writer(
    shown: Callable[[list[bytes]], None] | None,
) -> Callable[[Lake, list[SizeViolationFact], int], None]:
    from collector.violations import write_size_violations
    from core.badrows import eventkit_processor

    processor = eventkit_processor("collector")

    def write(lake: Lake, violations: list[SizeViolationFact], now_ms: int) -> None:
        rows = write_size_violations(lake, violations, processor=processor, now_ms=now_ms)
        if shown is not None:
            try:
                shown(rows)
            except Exception as e:  # the lake holds the rows: a view that fails must not make the tracker retry
                log.error("size_violation_not_shown", rows=len(rows), error=repr(e))

    return write


def create_app(
    config: CollectorSettings,
    publisher: Publisher,
    *,
    spool: Spool | None,
    lake: Lake | None,
    timing: DurabilityTiming | None = None,
    owns_resources: bool = False,
    clock_ms: Callable[[], int] | None = None,
    new_id: Callable[[], str] | None = None,
    size_violations_shown: Callable[[list[bytes]], None] | None = None,
) -> CollectorApp:
    """Build the collector. Its lifespan proves the queue reachable, starts batching and draining, and on
    shutdown confirms every pending record before returning; with `owns_resources` it then closes the
    publisher and the spool. `timing` bounds publishes and drains; `clock_ms`/`new_id` exist so golden
    tests can pin timestamps and ids.
    `size_violations_shown` gets the size_violation bad rows (JSON bytes) once they are in the lake
    (`eventkit up` puts them in the Micro store, where enrich's bad rows are).
    """
    metrics = CollectorMetrics()
    acknowledger = Acknowledger(
        publisher,
        spool,
        timing=timing,
        on_outcome=metrics.sink_outcome,
        on_publish=metrics.published,
    )
    metrics.bind_health(lambda: acknowledger.queue_healthy, lambda: spool.count() if spool is not None else 0)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await acknowledger.start()
        metrics.attach()
        try:
            yield
        finally:
            metrics.detach()
            await acknowledger.stop(grace=config.drain_timeout / 4)  # within the drain timeout (collector.shutdown)
            if owns_resources:
                publisher.close()
                if spool is not None:
                    spool.close()

    app = CollectorApp(title="eventkit collector", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.acknowledger = acknowledger
    app.tracking = TrackingEndpoint(
        config,
        acknowledger,
        lake=lake,
        collector_name=collector_name(config.raw),
        metrics=metrics,
        write_violations=_default_violation_writer(size_violations_shown) if lake is not None else _no_lake,
        clock_ms=clock_ms,
        new_id=new_id,
    )

    @app.get("/health", response_class=PlainTextResponse)
    async def health() -> str:
        """Liveness only: the process answers."""
        return "ok"

    @app.get("/sink-health", response_class=PlainTextResponse)
    async def sink_health() -> Response:
        """503 until the queue has been proven reachable and whenever it is not."""
        if acknowledger.queue_healthy:
            return PlainTextResponse("ok")
        return PlainTextResponse("Service Unavailable", status_code=503)

    @app.get("/robots.txt", response_class=PlainTextResponse)
    async def robots() -> str:
        return ROBOTS_TXT

    if config.crossdomain.enabled:
        policy = crossdomain_xml(tuple(config.crossdomain.domains), config.crossdomain.secure)

        @app.get("/crossdomain.xml")
        async def crossdomain() -> Response:
            return Response(policy, media_type="text/xml")

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        """Prometheus text format (sync: the spool gauge reads SQLite, so FastAPI runs this in a thread)."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def _no_lake(lake: Any, violations: list[SizeViolationFact], now_ms: int) -> None:
    raise AssertionError("size violations are refused with 413 before a write is attempted when no lake is set")
