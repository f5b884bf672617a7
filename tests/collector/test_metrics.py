"""The collector's metrics: lock-free counts exposed in Prometheus format, on the registry the stages share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.metrics import LatencyHistogram
from core.telemetry import REGISTRY
from tests.collector.conftest import Rig
from tests.collector.driver import call, lifespan

BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5)


def _samples(text: bytes, family: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text.decode())
        if f.name == family
        for s in f.samples
        if not s.name.endswith("_created")
    }


@given(st.lists(st.one_of(st.sampled_from(BOUNDS), st.floats(0, 5, allow_nan=False)), max_size=60))
def test_latency_histogram_matches_prometheus_client(values: list[float]) -> None:
    """For any observations, buckets (le semantics, bounds included), count and sum equal prometheus_client's."""
    from prometheus_client.core import HistogramMetricFamily

    ours = LatencyHistogram(BOUNDS)
    reference_registry = CollectorRegistry()
    reference = Histogram("x_seconds", "reference", buckets=BOUNDS, registry=reference_registry)
    for value in values:
        ours.observe(value)
        reference.observe(value)
    buckets, total = ours.cumulative()
    family = HistogramMetricFamily("x_seconds", "reference", buckets=buckets, sum_value=total)

    class Ours:
        def collect(self) -> list[HistogramMetricFamily]:
            return [family]

    our_registry = CollectorRegistry()
    our_registry.register(Ours())
    expected = _samples(generate_latest(reference_registry), "x_seconds")
    got = _samples(generate_latest(our_registry), "x_seconds")
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert abs(got[key] - value) <= 1e-9 * max(1.0, abs(value)), key


def test_serving_app_is_on_the_shared_registry_and_a_second_app_keeps_its_own(
    make_rig: Callable[..., Rig],
) -> None:
    """While serving, an app's metrics are on core.telemetry.REGISTRY; a second app serving meanwhile answers
    /metrics with its own counts; after shutdown the shared registry no longer has them."""
    first, second = make_rig(), make_rig()

    async def go() -> tuple[bytes, bytes, bytes]:
        async with lifespan(first.app):
            await call(first.app, "GET", "/i")
            async with lifespan(second.app):
                for _ in range(3):
                    await call(second.app, "GET", "/i")
                second_metrics = (await call(second.app, "GET", "/metrics")).body
            shared = generate_latest(REGISTRY)
        return shared, second_metrics, generate_latest(REGISTRY)

    shared, second_metrics, after = asyncio.run(go())
    pixel = ("collector_requests_total", (("route", "pixel"), ("status", "200")))
    assert _samples(shared, "collector_requests")[pixel] == 1.0
    assert _samples(second_metrics, "collector_requests")[pixel] == 3.0
    assert "collector_requests" not in {f.name for f in text_string_to_metric_families(after.decode())}
