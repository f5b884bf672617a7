"""Cookie and HTTP header extractors: selected request data as org.ietf contexts that validate in phase 3."""

from __future__ import annotations

import json
from typing import Any

from enrich.enrichments.base import EnrichmentContext
from enrich.enrichments.cookie_extractor import parse_cookie_header
from enrich.event import EnrichedEvent
from enrich.outcome import Good
from tests.enrich.enrichments.events import build, config, enrich_one, payload, snowplow_config

HEADERS = (
    "Host: collector.example.com",
    "Accept-Language: en-GB,en;q=0.9",
    "X-Request-Id: r-42",
    "Cookie: sp=abc-123",
    "Cookie: _ga=GA1.2.3",
    "Cookie: other=ignored",
    "X-Forwarded-For: 81.2.69.160",
    "application/json",
)


def _derived(name: str, **parameters: Any) -> list[dict[str, Any]]:
    cfg = (
        snowplow_config(name)
        if not parameters
        else config(f"iglu:{snowplow_config(name).schema.uri.removeprefix('iglu:')}", parameters)
    )
    outcome = enrich_one([build(cfg)], payload({"url": "https://a.com/"}, headers=HEADERS))
    assert isinstance(outcome, Good), outcome
    column = outcome.event.derived_contexts
    return [] if column is None else json.loads(column)["data"]


def test_configured_cookies_become_http_cookie_contexts() -> None:
    """`cookies: ["sp", "_ga"]` yields one context per present cookie, others ignored."""
    got = _derived("cookie_extractor_config")
    assert got == [
        {"schema": "iglu:org.ietf/http_cookie/jsonschema/1-0-0", "data": {"name": "sp", "value": "abc-123"}},
        {"schema": "iglu:org.ietf/http_cookie/jsonschema/1-0-0", "data": {"name": "_ga", "value": "GA1.2.3"}},
    ]


def test_cookie_header_parsing_handles_lists_quotes_and_junk() -> None:
    """`a=1; b="2"; junk; =x` parses to a and b (quotes removed); pieces without a name or `=` are skipped."""
    assert parse_cookie_header('a=1; b="2"; junk; =x') == [("a", "1"), ("b", "2")]


def test_headers_matching_the_whole_pattern_become_http_header_contexts() -> None:
    """`X-Request-.*|Accept-Language` takes exactly those headers, in arrival order."""
    got = _derived("http_header_extractor_config")
    assert [c["data"] for c in got] == [
        {"name": "Accept-Language", "value": "en-GB,en;q=0.9"},
        {"name": "X-Request-Id", "value": "r-42"},
    ]
    assert {c["schema"] for c in got} == {"iglu:org.ietf/http_header/jsonschema/1-0-0"}


def test_the_pattern_must_match_the_whole_name() -> None:
    """`Host` does not take `X-Forwarded-Host`-like names containing it; `.*` takes every named header."""
    assert [c["data"]["name"] for c in _derived("http_header_extractor_config", headersPattern="Host")] == ["Host"]
    every = _derived("http_header_extractor_config", headersPattern=".*")
    assert len(every) == 7  # the bare content-type entry is not a header


def test_the_events_of_one_request_read_its_headers_split_once() -> None:
    """Events of one request share its header pairs; another request's headers are split afresh."""
    first, second = payload({}, headers=("Cookie: sp=1", "X-A:  b ")), payload({}, headers=("Cookie: sp=2",))
    a, b = EnrichmentContext({}, first, EnrichedEvent()), EnrichmentContext({}, first, EnrichedEvent())
    assert a.headers == (("Cookie", "sp=1"), ("X-A", "b")) and b.headers is a.headers
    c = EnrichmentContext({}, second, EnrichedEvent())
    assert c.headers == (("Cookie", "sp=2"),)
    assert EnrichmentContext({}, first, EnrichedEvent()).headers == a.headers
