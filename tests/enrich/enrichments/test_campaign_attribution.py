"""Campaign attribution follows Snowplow's documented rules for mkt_* fields and click ids."""

from __future__ import annotations

from enrich.enrichments.base import Enrichment
from enrich.outcome import Good
from tests.enrich.enrichments.events import build, config, enrich_one, payload, snowplow_config

SCHEMA = "iglu:com.snowplowanalytics.snowplow/campaign_attribution/jsonschema/1-0-1"
UTM = {
    "mktMedium": ["utm_medium"],
    "mktSource": ["utm_source"],
    "mktTerm": ["utm_term"],
    "mktContent": ["utm_content"],
    "mktCampaign": ["utm_campaign"],
}


def _good(enrichment: Enrichment, url: str) -> Good:
    outcome = enrich_one([enrichment], payload({"url": url}))
    assert isinstance(outcome, Good), outcome
    return outcome


def test_utm_parameters_fill_the_five_mkt_fields_decoded() -> None:
    """The standard Google mapping copies each utm_* value, percent-decoded, into its mkt_* field."""
    url = (
        "https://www.acme.com/spring_offer_product?utm_source=influencer&utm_medium=blog"
        "&utm_campaign=spring%20offer&utm_term=shoes+red&utm_content=banner%2Dtop"
    )
    event = _good(build(config(SCHEMA, {"mapping": "static", "fields": UTM})), url).event
    assert (event.mkt_source, event.mkt_medium, event.mkt_campaign) == ("influencer", "blog", "spring offer")
    assert (event.mkt_term, event.mkt_content) == ("shoes red", "banner-top")
    assert event.mkt_clickid is None and event.mkt_network is None


def test_the_parameter_listed_first_in_the_config_wins_whatever_the_query_order() -> None:
    """With `["utm_medium", "medium"]`, utm_medium wins even when `medium` comes first in the URL."""
    enrichment = build(snowplow_config("campaign_attribution"))
    event = _good(enrichment, "https://a.com/?medium=second&utm_medium=first&source=only").event
    assert event.mkt_medium == "first"
    assert event.mkt_source == "only"


def test_default_click_ids_map_to_their_networks() -> None:
    """gclid → Google, msclkid → Microsoft, dclid → DoubleClick without any mktClickId config."""
    enrichment = build(config(SCHEMA, {"fields": UTM}))
    for param, network in (("gclid", "Google"), ("msclkid", "Microsoft"), ("dclid", "DoubleClick")):
        event = _good(enrichment, f"https://a.com/landing?x=1&{param}=abc{param}").event
        assert (event.mkt_clickid, event.mkt_network) == (f"abc{param}", network)


def test_configured_click_ids_add_to_and_override_the_defaults() -> None:
    """The documented mktClickId example adds wbraid/gbraid and overrides msclkid; gclid stays Google."""
    enrichment = build(snowplow_config("campaign_attribution"))
    assert _good(enrichment, "https://a.com/?wbraid=w1").event.mkt_network == "Google"
    event = _good(enrichment, "https://a.com/?msclkid=m1").event
    assert (event.mkt_clickid, event.mkt_network) == ("m1", "Override")
    assert _good(enrichment, "https://a.com/?gclid=g1").event.mkt_network == "Google"


def test_omniture_style_config_fills_only_the_campaign() -> None:
    """Empty lists leave their fields unset; `cid` alone fills mkt_campaign."""
    fields = {"mktMedium": [], "mktSource": [], "mktTerm": [], "mktContent": [], "mktCampaign": ["cid"]}
    event = _good(build(config(SCHEMA, {"fields": fields})), "https://a.com/?cid=summer&utm_source=x").event
    assert event.mkt_campaign == "summer"
    assert event.mkt_source is None and event.mkt_medium is None


def test_no_page_query_sets_nothing() -> None:
    """A page URL without a query string leaves every mkt_* field null."""
    event = _good(build(config(SCHEMA, {"fields": UTM})), "https://a.com/page").event
    assert all(getattr(event, f) is None for f in ("mkt_medium", "mkt_source", "mkt_campaign", "mkt_clickid"))
