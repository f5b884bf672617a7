"""Prometheus metrics of one collector app: requests by route and status, latency, records stored, sink outcomes."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CollectorMetrics"]


class CollectorMetrics:
    """One registry per app (several apps in one test process must not share counters)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "collector_requests", "Tracking requests answered", ["route", "status"], registry=self.registry
        )
        self._latency = Histogram(
            "collector_request_seconds",
            "Tracking request latency, durable acknowledgement included",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5),
            registry=self.registry,
        )
        self._records = Counter("collector_records_stored", "Raw records confirmed durable", registry=self.registry)
        self._violations = Counter(
            "collector_size_violations", "size_violation bad rows written to the lake", registry=self.registry
        )
        self._sink = Counter("collector_sink_records", "Records by sink outcome", ["outcome"], registry=self.registry)
        self._health = Gauge(
            "collector_sink_healthy", "1 while the raw queue is proven reachable", registry=self.registry
        )
        self._spooled = Gauge("collector_spool_rows", "Rows waiting in the local spool", registry=self.registry)
        self._publish = Histogram(
            "collector_publish_seconds",
            "Queue publish round trip per group commit (thread hand-off included)",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self._batch = Histogram(
            "collector_publish_batch_records",
            "Records per group commit",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
            registry=self.registry,
        )
        self._children: dict[tuple[str, int], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        key = (route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._requests.labels(route, str(status))
        child.inc()
        hist = self._latency_children.get(route)
        if hist is None:
            hist = self._latency_children[route] = self._latency.labels(route)
        hist.observe(seconds)

    def stored(self, n: int) -> None:
        self._records.inc(n)

    def violations(self, n: int) -> None:
        self._violations.inc(n)

    def sink_outcome(self, outcome: str, n: int) -> None:
        self._sink.labels(outcome).inc(n)

    def published(self, seconds: float, records: int) -> None:
        self._publish.observe(seconds)
        self._batch.observe(records)

    def bind_health(self, healthy: Callable[[], bool], spooled: Callable[[], int]) -> None:
        self._health.set_function(lambda: 1.0 if healthy() else 0.0)
        self._spooled.set_function(lambda: float(spooled()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
