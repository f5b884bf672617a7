"""The bench summary table: ratios, verdicts in both directions, and informational rows."""

from __future__ import annotations

from tests.bench.summary import Figure, render


def test_a_ratio_target_is_judged_on_the_ratio_and_a_latency_on_its_value() -> None:
    """A throughput is met by value/baseline >= target; a latency by value <= target; no target is info."""
    throughput = Figure("up end to end", 9_000, "ev/s", baseline=10_000, baseline_name="enrich 1 core", target=1.0)
    latency = Figure("freshness p99", 1.5, "s", low=1.2, high=1.9, target=2.0, higher_is_better=False)
    info = Figure("enrich floor", 0.4, "x")
    assert throughput.ratio == 0.9 and throughput.met is False
    assert latency.ratio is None and latency.met is True
    assert info.met is None
    table = render([throughput, latency, info]).splitlines()
    assert table[0].split() == ["figure", "value", "(range)", "baseline", "ratio", "target", "met"]
    assert table[1].endswith("NO") and "0.90x" in table[1] and ">= 1x" in table[1]
    assert table[2].endswith("yes") and "(1.2–1.9)" in table[2] and "<= 2 s" in table[2]
    assert table[3].endswith("info")
