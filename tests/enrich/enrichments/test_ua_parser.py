"""UA parsing: ua_parser_context from the maintained ua-parser package, cached per agent."""

from __future__ import annotations

import json

from core.iglu import SchemaKey
from enrich.enrichments.ua_parser import UA_PARSER_CONTEXT, is_spider, parsed_agent, ua_context
from enrich.outcome import Good
from tests.enrich.enrichments.events import build, enrich_one, payload, snowplow_config
from tests.enrich.pipeline_env import shared_validator

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.109 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def _contexts(useragent: str | None) -> list[dict[str, object]]:
    enrichment = build(snowplow_config("ua_parser_config"))
    outcome = enrich_one([enrichment], payload({"url": "https://a.com/"}, useragent=useragent))
    assert isinstance(outcome, Good), outcome
    column = outcome.event.derived_contexts
    return [] if column is None else json.loads(column)["data"]


def test_a_browser_agent_gets_the_ua_parser_context() -> None:
    """Chrome on macOS yields family, version parts, `Family major.minor.patch` strings and the device."""
    (context,) = _contexts(CHROME_MAC)
    assert context["schema"] == UA_PARSER_CONTEXT
    assert context["data"] == {
        "useragentFamily": "Chrome",
        "useragentMajor": "120",
        "useragentMinor": "0",
        "useragentPatch": "6099",
        "useragentVersion": "Chrome 120.0.6099",
        "osFamily": "Mac OS X",
        "osMajor": "10",
        "osMinor": "15",
        "osPatch": "7",
        "osPatchMinor": None,
        "osVersion": "Mac OS X 10.15.7",
        "deviceFamily": "Mac",
    }


def test_an_unknown_agent_is_other_and_still_valid() -> None:
    """An agent ua-parser does not know gives `Other` families and validates against the context schema."""
    data = ua_context("qqq unrecognised agent")["data"]
    assert data["useragentFamily"] == "Other" and data["osFamily"] == "Other" and data["deviceFamily"] == "Other"
    assert data["useragentVersion"] == "Other"
    assert shared_validator().validate(SchemaKey.parse(UA_PARSER_CONTEXT), data).ok


def test_crawlers_are_flagged_by_their_device_family() -> None:
    """Googlebot is a `Spider` device; a desktop browser is not."""
    assert is_spider(GOOGLEBOT)
    assert not is_spider(CHROME_MAC)


def test_no_user_agent_means_no_context() -> None:
    """An event without a user agent gets no ua_parser_context and no failure."""
    assert _contexts(None) == []


def test_repeated_agents_are_served_from_the_cache() -> None:
    """A second look-up of the same agent is a cache hit returning the very same context."""
    agent = CHROME_MAC + " cache-probe"
    first = ua_context(agent)
    hits = parsed_agent.cache_info().hits
    assert ua_context(agent) is first
    assert parsed_agent.cache_info().hits == hits + 1


def test_the_native_resolver_parses_as_the_reference_one() -> None:
    """ua-parser-rs (used when installed, ~30x faster on new agents) parses as ua-parser's pure-Python resolver."""
    from ua_parser import Parser, basic, loaders, regex

    reference = Parser(basic.Resolver(loaders.load_builtins()))
    native = Parser(regex.Resolver(loaders.load_lazy_builtins()))
    khtml = "(KHTML, like Gecko)"
    browsers = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 " + khtml + " Chrome/{v}.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 " + khtml + " Version/{v}.1 Safari/605",
        "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 " + khtml + " Mobile/15E148",
        "Mozilla/5.0 (Linux; Android 14; Pixel {v}) AppleWebKit/537.36 " + khtml + " Chrome/120.0 Mobile Safari/537.36",
        "Mozilla/5.0 (compatible; bingbot/{v}.0; +http://www.bing.com/bingbot.htm)",
        "Googlebot/{v}.1 (+http://www.google.com/bot.html)",
        "Opera/9.80 (Windows NT 6.1) Presto/2.12.388 Version/{v}.16",
        "curl/{v}.1",
    ]
    agents = [CHROME_MAC, "", "snowplow-python-tracker", *(b.format(v=v) for b in browsers for v in (1, 9, 60, 120))]
    assert [native.parse(a) for a in agents] == [reference.parse(a) for a in agents]
