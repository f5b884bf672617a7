"""Enrich throughput with all standard enrichments on, as a ratio to the same run with none (information).

Records: web page views shaped like real traffic — page URLs with utm_* / click ids / `_sp`, referers
from search, social, email and unknown sites, 300 distinct user agents (traffic repeats agents),
client IPs inside and outside a small MaxMind database, cookies and a few extra headers — plus the
captured tracker requests. Each figure is events per CPU-second of one process through enrich_record
and the worker's Parquet writer; both runs use the same records in the same process.

  none        no enrichment configs
  all         the ten example configs of tests/cases/enrichments/snowplow (spiders and robots, ua, referer, campaign,
              cross-navigation, cookie, header, IP lookups, IP anonymisation, PII)
  all, cold   the same, but 2% of events carry a user agent never seen before (UA cache misses)
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from core.badrows import EnrichmentFailureMessage
from core.lake.local import LocalLake
from enrich.enrichments.base import Enrichment, EnrichmentContext
from enrich.enrichments.registry import load_enrichments
from enrich.environment import Environment
from enrich.event import EnrichedEvent
from enrich.pipeline import enrich_record
from registry.resolver import Resolver
from registry.validation import Validator
from tests.bench import summary
from tests.bench.bench_enrich import fixture_records, interleaved_rates, ours_loop
from tests.enrich.enrichments.events import payload, staged_configs
from tests.enrich.enrichments.mmdb import write_databases
from tests.enrich.event_mix import registry_chain, write_acme_registry

EVENTS = 3_000
NOW_MS = 1_795_690_800_000
SECONDS = 2.0
_REFERRERS = [
    None,
    "https://www.google.com/search?q=" + quote("winter boots"),
    "https://www.bing.com/search?q=boots",
    "https://m.facebook.com/",
    "https://t.co/xyz",
    "https://mail.google.com/mail/u/0/",
    "https://blog.example.org/post/12",
    "https://www.shop.example/category/shoes",
]
_BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.1 Safari/605.1.15",  # noqa: E501
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel {v}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",  # noqa: E501
]


def _agents(n: int, salt: str = "") -> list[str]:
    return [_BROWSERS[i % len(_BROWSERS)].format(v=60 + i // len(_BROWSERS)) + salt for i in range(n)]


def traffic(events: int = EVENTS, cold_share: float = 0.0, seed: int = 7) -> list[bytes]:
    """Realistic single-event GET records (see the module docstring)."""
    rng = random.Random(seed)
    agents = _agents(300)
    out: list[bytes] = []
    for i in range(events):
        query = rng.choice(
            ["", "?utm_source=news&utm_medium=email&utm_campaign=w", "?gclid=abc", "?_sp=d.1795690000123"]
        )
        agent = rng.choice(agents) if rng.random() >= cold_share else f"{rng.choice(agents)} cold/{seed}.{i}"
        params = {
            "url": f"https://www.shop.example/p/{rng.randrange(500)}{query}",
            "uid": f"user-{rng.randrange(10_000)}",
        }
        referrer = rng.choice(_REFERRERS)
        if referrer:
            params["refr"] = referrer
        ip = rng.choice(["81.2.69.", "8.8.8.", "203.0.113."]) + str(rng.randrange(256))
        headers = (f"X-Forwarded-For: {ip}", f"Cookie: sp=id-{rng.randrange(10_000)}", "Accept-Language: en-GB")
        out.append(payload(params, headers=headers, useragent=agent).encode())
    return out


def _rate(run: Callable[[LocalLake], int], seconds: float = SECONDS) -> float:
    """Events per CPU-second of this process, repeating `run` for about `seconds` after one warm-up run."""
    events, cpu, started = 0, 0.0, time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        run(LocalLake(Path(tmp) / "warm"))
        i = 0
        while time.monotonic() - started < seconds or i < 2:
            c0 = time.process_time()
            events += run(LocalLake(Path(tmp) / str(i)))
            cpu += time.process_time() - c0
            i += 1
    return events / cpu


class _Nothing:
    """An enrichment that does nothing: wrapped in Timed, it measures what the timing itself costs."""

    def __init__(self, like: Enrichment) -> None:
        self.identifier = like.identifier
        self.config_schema = like.config_schema

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        return None


class Timed:
    """Wraps an enrichment to add up the time spent inside it (to attribute the cost per enrichment)."""

    def __init__(self, inner: Enrichment) -> None:
        self.inner = inner
        self.identifier = inner.identifier
        self.config_schema = inner.config_schema
        self.seconds = 0.0

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        t0 = time.process_time()
        try:
            return self.inner.enrich(event, ctx)
        finally:
            self.seconds += time.process_time() - t0


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    registry = registry_chain(write_acme_registry(tmp / "schemas"))
    folder = staged_configs(tmp / "enrichments")
    write_databases(folder)
    resolver = Resolver.from_locations(registry)
    validator = Validator(resolver)
    chain = load_enrichments(folder, resolver)
    env_none = Environment(validator)
    env_all = Environment(validator, enrichments=tuple(chain))
    # The same ten with the PII enrichment's emitEvent off: what the separate pii stream costs.
    quiet = tmp / "enrichments-no-pii-event"
    shutil.copytree(folder, quiet)
    pii_config = quiet / "pii_enrichment_config.json"
    pii_config.write_text(pii_config.read_text().replace('"emitEvent": true', '"emitEvent": false'))
    env_quiet = Environment(validator, enrichments=tuple(load_enrichments(quiet, resolver)))

    def run_with(env: Environment, records: list[bytes]) -> Callable[[LocalLake], int]:
        return lambda lake: ours_loop(records, lake, lambda raw, now: enrich_record(raw, env, now))

    records = traffic() + fixture_records(rounds=20)
    runs = {"none": run_with(env_none, records), "all": run_with(env_all, records)}
    runs["quiet"] = run_with(env_quiet, records)
    rates = interleaved_rates(runs, SECONDS)
    base, full, no_pii_event = rates["none"], rates["all"], rates["quiet"]

    # Cold agents: fresh batches generated before timing, each run on one never parsed before.
    batches = [traffic(cold_share=0.02, seed=time.time_ns() + i) for i in range(8)]
    cold_base = _rate(run_with(env_none, batches[0]), seconds=0.5)
    left = iter(batches[1:])
    cold = _rate(lambda lake: ours_loop(next(left), lake, lambda r, n: enrich_record(r, env_all, n)), seconds=1.0)

    # Where the time goes: inside each enrichment, and the rest of the extra (the pipeline checking and
    # serialising their derived contexts in phase 3, and the pii event), in CPU time of one pass over the same records
    # through enrich_record alone: the lake writer's share (Parquet rows of the pii stream) is only in the rates above.
    timed = [Timed(e) for e in chain]
    env_timed = Environment(validator, enrichments=tuple(timed))
    sample = traffic()
    for raw in sample:  # warm
        enrich_record(raw, env_timed, NOW_MS)
    for t in timed:
        t.seconds = 0.0
    c0 = time.process_time()
    for raw in sample:
        enrich_record(raw, env_timed, NOW_MS)
    c1 = time.process_time()
    for raw in sample:
        enrich_record(raw, env_none, NOW_MS)
    c2 = time.process_time()
    env_probe = Environment(validator, enrichments=tuple(Timed(_Nothing(e)) for e in chain))
    for raw in sample:
        enrich_record(raw, env_probe, NOW_MS)
    c3 = time.process_time()
    extra_us = ((c1 - c0) - (c2 - c1)) / len(sample) * 1e6
    inside_us = sum(t.seconds for t in timed) / len(sample) * 1e6
    # Timed's own clock reads (two per enrichment per event) are neither enrichment nor pipeline work.
    timing_us = ((c3 - c2) - (c2 - c1)) / len(sample) * 1e6

    summary.record(
        summary.Figure("enrich, all ten enrichments", full, "ev/s/core", baseline=base, baseline_name="no enrichments")
    )
    print(f"   enrich, no enrichments         {base:10,.0f} events/s per core (baseline)")
    print(
        f"   enrich, all ten enrichments    {full:10,.0f} events/s per core   {full / base:.2f}x baseline (information)"
    )
    print(
        f"   all ten, PII emitEvent off     {no_pii_event:10,.0f} events/s per core"
        f"   {no_pii_event / base:.2f}x baseline  (no pii_transformation event per event)"
    )
    for name, label in (("all", "all ten"), ("quiet", "emitEvent off")):
        median, low, high = rates.paired(name, "none")
        print(
            f"   {label} / none round by round: median {median:.2f}x ({low:.2f}-{high:.2f}),"
            f" {len(rates.rounds[name])} rounds back to back"
        )
    print(f"   all ten, 2% unseen agents      {cold:10,.0f} events/s per core   {cold / cold_base:.2f}x its baseline")
    print(
        f"   extra CPU per event {extra_us - timing_us:6.1f} us: {inside_us:.1f} us inside the enrichments, "
        f"{extra_us - inside_us - timing_us:.1f} us in the pipeline (phase 3: checking and serialising their derived"
        f" contexts; building and checking the pii event, its JSON columns); the timing wrappers' own"
        f" {timing_us:.1f} us left out; the pii stream's Parquet rows are in the rates only"
    )
    for t in timed:
        print(f"      {t.identifier:32s} {t.seconds / len(sample) * 1e6:6.1f} us/event")


if __name__ == "__main__":
    main()
