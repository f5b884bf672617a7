"""Derived values: derived_tstamp, URL parts, client IP, event schema, event fingerprint and atomic length checks."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.atomic import FIELD_NAMES, LengthLimits
from core.iglu import SchemaKey
from enrich.derive import (
    LENGTH_KEYWORD,
    client_ip,
    derive_tstamp,
    event_fingerprint,
    length_reports,
    set_event_schema,
    set_page_url,
    set_refr_url,
    split_url,
)
from enrich.environment import FingerprintConfig
from enrich.event import EnrichedEvent

CT, DCT, DST, TT = 1_000_000, 400_000, 500_000, 123


def test_true_tstamp_wins() -> None:
    """ttm, when set, is the derived timestamp verbatim."""
    assert derive_tstamp(CT, DCT, DST, TT) == TT
    assert derive_tstamp(CT, None, None, TT) == TT


def test_device_clock_skew_is_removed_when_created_before_sent() -> None:
    """created < sent: derived = collector - (sent - created)."""
    assert derive_tstamp(CT, DCT, DST, None) == CT - (DST - DCT)


@pytest.mark.parametrize(("created", "sent"), [(DST, DST), (DST + 1, DST), (None, DST), (DCT, None), (None, None)])
def test_otherwise_the_collector_time(created: int | None, sent: int | None) -> None:
    """created >= sent, or a device timestamp missing: derived = collector."""
    assert derive_tstamp(CT, created, sent, None) == CT


@given(st.integers(0, 10**13), st.integers(0, 10**13), st.integers(0, 10**13))
def test_derived_never_after_collector_without_true_tstamp(ct: int, dct: int, dst: int) -> None:
    """Without ttm, derived_tstamp is never later than the collector time and moves back by exactly the gap."""
    derived = derive_tstamp(ct, dct, dst, None)
    assert derived is not None
    assert derived <= ct
    assert ct - derived == max(0, dst - dct)


def test_url_parts_with_default_ports() -> None:
    """Scheme, host, port (80/443 by default), path, query and fragment are taken raw from the URL."""
    parts = split_url("https://Shop.Example.com/a%20b/c?x=1&y=%2F#frag")
    assert (parts.scheme, parts.host, parts.port) == ("https", "Shop.Example.com", 443)
    assert (parts.path, parts.query, parts.fragment) == ("/a%20b/c", "x=1&y=%2F", "frag")
    assert split_url("http://a.example").port == 80
    assert split_url("http://a.example").path is None
    assert split_url("http://user:pw@a.example:8080/").host == "a.example"
    assert split_url("http://[2001:db8::1]:81/").host == "[2001:db8::1]"
    assert split_url("https://a.example/with space").url == "https://a.example/with%20space"


def test_page_url_falls_back_to_the_referer_and_bad_urls_fail() -> None:
    """Without `url` the Referer header is the page URL; an unreadable URL is an enrichment failure message."""
    event = EnrichedEvent()
    assert set_page_url(event, "https://r.example/p?q=1") is None
    assert (event.page_url, event.page_urlhost, event.page_urlquery) == ("https://r.example/p?q=1", "r.example", "q=1")
    broken = EnrichedEvent(page_url="http://a.example:99999999/")
    message = set_page_url(broken, None)
    assert message is not None and message.field == "page_url"
    assert set_page_url(EnrichedEvent(), None) is None


def test_referrer_parts() -> None:
    """page_referrer is split into the refr_url* fields."""
    event = EnrichedEvent(page_referrer="http://search.example/s?q=x")
    assert set_refr_url(event) is None
    assert (event.refr_urlscheme, event.refr_urlhost, event.refr_urlport) == ("http", "search.example", 80)
    assert (event.refr_urlpath, event.refr_urlquery) == ("/s", "q=x")


def test_event_schema_from_event_type() -> None:
    """Known event types have fixed schemas; unstruct takes its event's schema; others fail."""
    cases = {
        "page_view": ("com.snowplowanalytics.snowplow", "page_view"),
        "page_ping": ("com.snowplowanalytics.snowplow", "page_ping"),
        "struct": ("com.google.analytics", "event"),
        "transaction": ("com.snowplowanalytics.snowplow", "transaction"),
        "transaction_item": ("com.snowplowanalytics.snowplow", "transaction_item"),
    }
    for name, (vendor, event_name) in cases.items():
        event = EnrichedEvent(event=name)
        assert set_event_schema(event, None) is None
        assert (event.event_vendor, event.event_name, event.event_format, event.event_version) == (
            vendor,
            event_name,
            "jsonschema",
            "1-0-0",
        )
    unstruct = EnrichedEvent(event="unstruct")
    assert set_event_schema(unstruct, SchemaKey.parse("iglu:com.acme/checkout/jsonschema/2-1-3")) is None
    assert (unstruct.event_vendor, unstruct.event_name, unstruct.event_version) == ("com.acme", "checkout", "2-1-3")
    for event in (EnrichedEvent(event="ad_impression"), EnrichedEvent(event="unstruct"), EnrichedEvent()):
        message = set_event_schema(event, None)
        assert message is not None and message.field == "event"


def test_client_ip_order() -> None:
    """X-Forwarded-For (first address) beats Forwarded for=, which beats the collector's peer address."""
    peer = "203.0.113.9"
    assert client_ip((), peer) == peer
    assert client_ip(("x-forwarded-for: 192.0.2.1, 10.0.0.1",), peer) == "192.0.2.1"
    assert client_ip(("Forwarded: for=192.0.2.60;proto=http",), peer) == "192.0.2.60"
    assert client_ip(('Forwarded: for="[2001:db8::1]:4711"', "X-Forwarded-For: 192.0.2.2"), peer) == "192.0.2.2"
    assert client_ip(("Forwarded: for=192.0.2.60:8080",), peer) == "192.0.2.60"
    assert client_ip(("X-Forwarded-For: ",), None) is None


def test_fingerprint_is_md5_over_sorted_raw_parameters() -> None:
    """Sorted key␟value␟ pairs, eid/nuid/stm/cv excluded, valueless parameters skipped, MD5 hex."""
    params = {"stm": "2", "e": "pv", "eid": "x", "aid": "a", "nuid": "n", "cv": "c", "flag": None, "ue_px": "e30"}
    expected = hashlib.md5(b"aid\x1fa\x1fe\x1fpv\x1fue_px\x1fe30\x1f").hexdigest()
    assert event_fingerprint(params, FingerprintConfig()) == expected
    sha = event_fingerprint(params, FingerprintConfig("SHA256", ("eid",)))
    assert len(sha) == 64
    assert event_fingerprint({"b": "1", "a": "2"}, FingerprintConfig()) == event_fingerprint(
        {"a": "2", "b": "1"}, FingerprintConfig()
    )


def test_length_limits_count_utf16_code_units() -> None:
    """Fields longer than their limit are reported by name in column order; astral characters count twice (Java)."""
    event = EnrichedEvent(tr_currency="EURO", geo_country="GB", app_id="a" * 255, br_colordepth="😀" * 6, se_label="x")
    limits = LengthLimits.of({"tr_currency": 3, "geo_country": 2, "app_id": 255, "br_colordepth": 11})
    reports = length_reports(event, limits)
    assert [(r["path"], r["keyword"]) for r in reports] == [  # in column order
        ("br_colordepth", LENGTH_KEYWORD),
        ("tr_currency", LENGTH_KEYWORD),
    ]
    assert reports[1]["message"] == "Field is longer than maximum allowed size 3"
    assert reports[0]["targets"] == []


_LIMITED = ["app_id", "geo_country", "geo_region", "page_url", "br_colordepth", "tr_currency", "useragent", "mkt_term"]


@given(
    st.dictionaries(st.sampled_from(_LIMITED), st.text(alphabet="ab😀é\t", max_size=14) | st.none()),
    st.dictionaries(st.sampled_from(_LIMITED), st.integers(1, 12), min_size=1),
)
def test_length_reports_match_the_field_by_field_definition(
    values: dict[str, str | None], bounds: dict[str, int]
) -> None:
    """The one-pass length check reports exactly the fields whose UTF-16 length exceeds their limit, in column order."""
    event = EnrichedEvent(**values)
    expected = [
        name
        for name in FIELD_NAMES
        if name in bounds and len((values.get(name) or "").encode("utf-16-le")) // 2 > bounds[name]
    ]
    assert [r["path"] for r in length_reports(event, LengthLimits.of(bounds))] == expected


@given(
    st.dictionaries(st.text(max_size=6), st.none() | st.text(max_size=12), max_size=12),
    st.lists(st.text(max_size=6), max_size=4),
)
def test_fingerprint_matches_its_definition(params: dict[str, str | None], exclude: list[str]) -> None:
    """For any parameters: MD5 over name␟value␟ for each valued, non-excluded parameter in name order."""
    text = "".join(f"{k}\x1f{v}\x1f" for k, v in sorted(params.items()) if v is not None and k not in exclude)
    expected = hashlib.md5(text.encode("utf-8")).hexdigest()
    assert event_fingerprint(params, FingerprintConfig("MD5", tuple(exclude))) == expected
