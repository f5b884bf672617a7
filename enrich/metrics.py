"""Prometheus metrics of one enrich worker: committed good/bad outputs by type and schema, commit latency.

One registry per worker (several workers in one test process must not share counters). Counts are
taken when a message's outputs are committed, so they match what the lake holds; latency is
`commit time - collector_tstamp` per output (for bad rows: the raw message's publish time).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["EnrichMetrics"]

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class EnrichMetrics:
    """Counters and histograms of one worker; `render()` gives the Prometheus text format."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._good = Counter("enrich_good_events", "Good events committed", ["event", "schema"], registry=self.registry)
        self._bad = Counter("enrich_bad_rows", "Bad rows committed", ["type", "schema"], registry=self.registry)
        self._latency = Histogram(
            "enrich_commit_latency_seconds",
            "From collector_tstamp to the lake commit of the output",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._files = Counter("enrich_files_committed", "Lake files committed", ["root"], registry=self.registry)
        self._retries = Counter(
            "enrich_infrastructure_retries", "Retries after infrastructure errors", ["what"], registry=self.registry
        )
        self._acked = Counter("enrich_messages_acked", "Raw messages acknowledged", registry=self.registry)
        self._nulled = Counter(
            "enrich_parquet_nulled_values",
            "Values Parquet cannot represent, written as null (TSV keeps them)",
            ["column"],
            registry=self.registry,
        )
        self._good_children: dict[tuple[str, str], Counter] = {}

    def good(self, event: str, schema: str, n: int = 1) -> None:
        key = (event, schema)
        child = self._good_children.get(key)
        if child is None:
            child = self._good_children[key] = self._good.labels(event, schema)
        child.inc(n)

    def bad(self, type_name: str, schema: str, n: int = 1) -> None:
        self._bad.labels(type_name, schema).inc(n)

    def latency(self, seconds: float) -> None:
        self._latency.observe(seconds)

    def file_committed(self, root: str) -> None:
        self._files.labels(root).inc()

    def retry(self, what: str) -> None:
        self._retries.labels(what).inc()

    def acked(self, n: int) -> None:
        self._acked.inc(n)

    def nulled(self, column: str) -> None:
        self._nulled.labels(column).inc()

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """A sample's current value (0 when absent), for tests and the benchmark."""
        got = self.registry.get_sample_value(name, labels or {})
        return 0.0 if got is None else got

    def render(self) -> bytes:
        return generate_latest(self.registry)
