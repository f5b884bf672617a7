"""Prometheus metrics of one collector app: requests by route and status, latency, records stored, sink outcomes.

The request path only adds to plain integers on the event-loop thread (no locks, no label lookups);
samples are built when /metrics is scraped. While the app serves, its metrics are registered on
`core.telemetry.REGISTRY`, the registry every stage of the process shares, and /metrics renders that
registry. Counts stay per app: a second app serving in the same process (tests) cannot register the
same names there, so it answers from its own registry instead.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from core.telemetry import REGISTRY

__all__ = ["CollectorMetrics", "LatencyHistogram"]

_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5)
_PUBLISH_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


class LatencyHistogram:
    """A Prometheus histogram as plain counts: `observe` is one bisect and two additions."""

    __slots__ = ("_bounds", "_counts", "_sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = tuple(float(b) for b in bounds)
        self._counts = [0] * (len(self._bounds) + 1)  # the last one is +Inf
        self._sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect_left(self._bounds, value)] += 1  # le semantics: a value equal to a bound counts there
        self._sum += value

    def cumulative(self) -> tuple[list[tuple[str, float]], float]:
        """(le, cumulative count) pairs ending with +Inf, and the sum of observed values."""
        counts, total = list(self._counts), self._sum
        buckets, running = [], 0
        for bound, count in zip((*self._bounds, None), counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound is None else repr(bound), float(running)))
        return buckets, total


class CollectorMetrics(Collector):
    """The collector's metrics for one app; register it (it is a prometheus Collector) to expose them."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, int], int] = {}
        self._latency: dict[str, LatencyHistogram] = {}
        self._records = 0
        self._violations = 0
        self._sink: dict[str, int] = {}
        self._publish = LatencyHistogram(_PUBLISH_BUCKETS)
        self._batch = LatencyHistogram(_BATCH_BUCKETS)
        self._healthy: Callable[[], bool] = lambda: False
        self._spooled: Callable[[], int] = lambda: 0
        self.registry = CollectorRegistry()  # this app alone (used while another app holds the shared names)
        self.registry.register(self)
        self.shared = False  # registered on core.telemetry.REGISTRY

    # -- the request path (event-loop thread) ---------------------------------------------------

    def observe(self, route: str, status: int, seconds: float) -> None:
        key = (route, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        histogram = self._latency.get(route)
        if histogram is None:
            histogram = self._latency[route] = LatencyHistogram(_REQUEST_BUCKETS)
        histogram.observe(seconds)

    def stored(self, n: int) -> None:
        self._records += n

    def violations(self, n: int) -> None:
        self._violations += n

    def sink_outcome(self, outcome: str, n: int) -> None:
        self._sink[outcome] = self._sink.get(outcome, 0) + n

    def published(self, seconds: float, records: int) -> None:
        self._publish.observe(seconds)
        self._batch.observe(records)

    def bind_health(self, healthy: Callable[[], bool], spooled: Callable[[], int]) -> None:
        self._healthy = healthy
        self._spooled = spooled

    # -- exposition -----------------------------------------------------------------------------

    def attach(self) -> bool:
        """Register on the process's shared registry; False if another app's collector metrics are there."""
        if not self.shared:
            try:
                REGISTRY.register(self)
            except ValueError:
                return False
            self.shared = True
        return True

    def detach(self) -> None:
        if self.shared:
            REGISTRY.unregister(self)
            self.shared = False

    def render(self) -> bytes:
        """Prometheus text: the shared registry while attached (other stages' metrics included), else ours."""
        return generate_latest(REGISTRY if self.shared else self.registry)

    def describe(self) -> Iterator[Metric]:
        """The metric names without samples (no callbacks run): lets a registry refuse duplicates."""
        return self._families(samples=False)

    def collect(self) -> Iterator[Metric]:
        return self._families(samples=True)

    def _families(self, *, samples: bool) -> Iterator[Metric]:
        requests = CounterMetricFamily("collector_requests", "Tracking requests answered", labels=["route", "status"])
        latency = HistogramMetricFamily(
            "collector_request_seconds", "Tracking request latency, durable acknowledgement included", labels=["route"]
        )
        records = CounterMetricFamily("collector_records_stored", "Raw records confirmed durable")
        violations = CounterMetricFamily("collector_size_violations", "size_violation bad rows written to the lake")
        sink = CounterMetricFamily("collector_sink_records", "Records by sink outcome", labels=["outcome"])
        healthy = GaugeMetricFamily("collector_sink_healthy", "1 while the raw queue is proven reachable")
        spooled = GaugeMetricFamily("collector_spool_rows", "Rows waiting in the local spool")
        publish = HistogramMetricFamily(
            "collector_publish_seconds", "Queue publish round trip per group commit (commit wait included)"
        )
        batch = HistogramMetricFamily("collector_publish_batch_records", "Records per group commit")
        if samples:  # copies first: the event loop keeps counting while a scrape runs in a worker thread
            for (route, status), count in self._requests.copy().items():
                requests.add_metric([route, str(status)], count)
            for route, histogram in self._latency.copy().items():
                buckets, total = histogram.cumulative()
                latency.add_metric([route], buckets, total)
            records.add_metric([], self._records)
            violations.add_metric([], self._violations)
            for outcome, count in self._sink.copy().items():
                sink.add_metric([outcome], count)
            healthy.add_metric([], 1.0 if self._healthy() else 0.0)
            spooled.add_metric([], float(self._spooled()))
            for family, histogram in ((publish, self._publish), (batch, self._batch)):
                buckets, total = histogram.cumulative()
                family.add_metric([], buckets, total)
        yield from (requests, latency, records, violations, sink, healthy, spooled, publish, batch)
