"""Referer parser: refr_medium/source/term from the shipped dataset, internal domains, unknown referers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enrich.enrichments.base import Enrichment
from enrich.enrichments.referer_parser import BUNDLED_REFERERS, load_dataset
from enrich.outcome import Good
from tests.enrich.enrichments.events import build, config, enrich_one, payload, snowplow_config

PAGE = "https://www.shop.example/products?id=3"


def _refr(enrichment: Enrichment, referrer: str | None, url: str = PAGE) -> tuple[str | None, ...]:
    params = {"url": url}
    if referrer is not None:
        params["refr"] = referrer
    outcome = enrich_one([enrichment], payload(params))
    assert isinstance(outcome, Good), outcome
    e = outcome.event
    return e.refr_medium, e.refr_source, e.refr_term


@pytest.fixture(scope="module")
def parser() -> Enrichment:
    return build(snowplow_config("referer_parser"))


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://www.google.co.uk/search?q=red+shoes&hl=en", ("search", "Google", "red shoes")),
        ("https://www.google.de/search?hl=de&q=rote%20schuhe", ("search", "Google", "rote schuhe")),
        ("https://www.bing.com/search?q=snowplow+analytics", ("search", "Bing", "snowplow analytics")),
        ("https://search.yahoo.com/search?p=eventkit", ("search", "Yahoo!", "eventkit")),
        ("https://duckduckgo.com/", ("search", "DuckDuckGo", None)),
        ("https://www.baidu.com/s?wd=%E9%9E%8B", ("search", "Baidu", "鞋")),
        ("https://www.google.com/imgres?imgurl=x&q=cat", ("search", "Google Images", "cat")),
        ("https://m.facebook.com/story.php?id=1", ("social", "Facebook", None)),
        ("https://t.co/abc", ("social", "Twitter", None)),
        ("https://www.linkedin.com/feed/", ("social", "LinkedIn", None)),
        ("https://mail.google.com/mail/u/0/", ("email", "Gmail", None)),
        ("https://outlook.live.com/mail/0/inbox", ("email", "Outlook.com", None)),
        ("https://www.googleadservices.com/pagead/aclk?sa=L", ("paid", "Google", None)),
        ("https://some-blog.example.org/post/1", ("unknown", None, None)),
    ],
)
def test_referers_are_classified_from_the_dataset(parser: Enrichment, referrer: str, expected: tuple[str, ...]) -> None:
    """Search engines (with their term), social networks, email and paid networks are recognised; others unknown."""
    assert _refr(parser, referrer) == expected


def test_same_host_as_the_page_is_internal(parser: Enrichment) -> None:
    """A referer on the page's own host is `internal`, with no source or term."""
    assert _refr(parser, "https://www.shop.example/cart?q=x") == ("internal", None, None)


def test_configured_internal_domains_are_internal(parser: Enrichment) -> None:
    """internalDomains from the config count as internal even on another host."""
    assert _refr(parser, "https://www.subdomain1.snowplowanalytics.com/x") == ("internal", None, None)


def test_no_referrer_sets_nothing(parser: Enrichment) -> None:
    """Without page_referrer refr_medium stays null (not `unknown`)."""
    assert _refr(parser, None) == (None, None, None)


def test_a_local_database_file_replaces_the_bundled_one(tmp_path: Path) -> None:
    """`database` naming a file beside the config (same layout) is used instead of the shipped dataset."""
    (tmp_path / "referers-latest.json").write_text(
        json.dumps({"search": {"Intranet Search": {"domains": ["find.corp.example"], "parameters": ["k"]}}})
    )
    schema = "iglu:com.snowplowanalytics.snowplow/referer_parser/jsonschema/2-0-0"
    params = {"internalDomains": [], "database": "referers-latest.json", "uri": "https://example.com/"}
    enrichment = build(config(schema, params, folder=tmp_path))
    assert _refr(enrichment, "https://find.corp.example/?k=budget") == ("search", "Intranet Search", "budget")
    assert _refr(enrichment, "https://www.google.com/?q=x") == ("unknown", None, None)


def test_the_shipped_dataset_covers_every_medium() -> None:
    """The bundled dataset has search, social, email and paid sources, and notes its origin."""
    document = json.loads(BUNDLED_REFERERS.read_text())
    assert "_source" in document
    dataset = load_dataset(BUNDLED_REFERERS)
    media = {r.medium for r in dataset.by_host.values()}
    assert media == {"search", "social", "email", "paid"}
    assert all(r.parameters for r in dataset.by_host.values() if r.medium == "search")
