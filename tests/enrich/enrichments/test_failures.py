"""A failing enrichment makes an enrichment_failures bad row for that event only, and the others still run."""

from __future__ import annotations

from core.badrows import EnrichmentFailures
from core.iglu import SchemaKey
from enrich.enrichments.base import EnrichmentContext
from enrich.enrichments.registry import build_chain
from enrich.event import EnrichedEvent
from enrich.outcome import Good
from enrich.pipeline import enrich_payload
from tests.enrich.enrichments.events import payload, snowplow_config
from tests.enrich.pipeline_env import ETL_TSTAMP, make_env


class Exploding:
    """A test double for a broken plug-in (no real enrichment raises on purpose): it raises on every event."""

    identifier = "exploding"
    config_schema = SchemaKey.parse("iglu:com.acme/exploding_config/jsonschema/1-0-0")

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> None:
        raise RuntimeError("lookup table corrupt")


def test_one_failing_enrichment_gives_a_bad_row_with_the_others_applied() -> None:
    """The row names the failing enrichment; campaign (before) and anon_ip (after) both ran on the event."""
    chain = build_chain([snowplow_config("campaign_attribution"), snowplow_config("anon_ip")])
    chain.insert(1, Exploding())
    outcomes = enrich_payload(
        payload({"url": "https://a.com/?utm_source=news"}, ip="81.2.69.160"), make_env(enrichments=chain), ETL_TSTAMP
    )
    (row,) = outcomes
    assert isinstance(row, EnrichmentFailures)
    (message,) = row.messages
    assert message.enrichment is not None
    assert message.enrichment.identifier == "exploding"
    assert message.message.to_json() == {"error": "RuntimeError: lookup table corrupt"}
    enriched = row.payload.to_json()["enriched"]
    assert enriched["mkt_source"] == "news"
    assert enriched["user_ipaddress"] == "81.2.69.x"


def test_a_failure_in_one_event_leaves_its_neighbours_good() -> None:
    """In a two-event POST, only the event with the bad `_sp` becomes a bad row."""
    import json

    chain = build_chain([snowplow_config("cross_navigation_config"), snowplow_config("campaign_attribution")])
    events = [
        {"e": "pv", "p": "web", "tv": "js", "url": "https://b.com/?_sp=duid.notatime&utm_source=x"},
        {"e": "pv", "p": "web", "tv": "js", "url": "https://b.com/?_sp=duid.1795690000123&utm_source=y"},
    ]
    body = json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": events})
    base = payload({})
    from dataclasses import replace

    post = replace(base, version="tp2", querystring=(), content_type="application/json", body=body)
    first, second = enrich_payload(post, make_env(enrichments=chain), ETL_TSTAMP)
    assert isinstance(first, EnrichmentFailures)
    assert first.payload.to_json()["enriched"]["mkt_source"] == "x"  # campaign still ran after the failure
    assert isinstance(second, Good)
    assert second.event.refr_domain_userid == "duid" and second.event.mkt_source == "y"
