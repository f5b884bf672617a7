"""The enriched event: 131 fields in Snowplow order, and its TSV and partially-enriched JSON forms."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrich.atomic import ATOMIC_FIELDS, FIELD_NAMES, STRING_LIMITS
from enrich.event import EnrichedEvent, format_tstamp, parse_tstamp
from enrich.tracker_protocol import MAX_TSTAMP_MS, MIN_TSTAMP_MS
from tests.enrich.pipeline_env import REPO_ROOT

# §3.2 of the reference, as a flat list: the order every loader and analytics SDK relies on.
SNOWPLOW_ORDER = [
    "app_id",
    "platform",
    "etl_tstamp",
    "collector_tstamp",
    "dvce_created_tstamp",
    "event",
    "event_id",
    "txn_id",
    "name_tracker",
    "v_tracker",
    "v_collector",
    "v_etl",
    "user_id",
    "user_ipaddress",
    "user_fingerprint",
    "domain_userid",
    "domain_sessionidx",
    "network_userid",
    "geo_country",
    "geo_region",
    "geo_city",
    "geo_zipcode",
    "geo_latitude",
    "geo_longitude",
    "geo_region_name",
    "ip_isp",
    "ip_organization",
    "ip_domain",
    "ip_netspeed",
    "page_url",
    "page_title",
    "page_referrer",
    "page_urlscheme",
    "page_urlhost",
    "page_urlport",
    "page_urlpath",
    "page_urlquery",
    "page_urlfragment",
    "refr_urlscheme",
    "refr_urlhost",
    "refr_urlport",
    "refr_urlpath",
    "refr_urlquery",
    "refr_urlfragment",
    "refr_medium",
    "refr_source",
    "refr_term",
    "mkt_medium",
    "mkt_source",
    "mkt_term",
    "mkt_content",
    "mkt_campaign",
    "contexts",
    "se_category",
    "se_action",
    "se_label",
    "se_property",
    "se_value",
    "unstruct_event",
    "tr_orderid",
    "tr_affiliation",
    "tr_total",
    "tr_tax",
    "tr_shipping",
    "tr_city",
    "tr_state",
    "tr_country",
    "ti_orderid",
    "ti_sku",
    "ti_name",
    "ti_category",
    "ti_price",
    "ti_quantity",
    "pp_xoffset_min",
    "pp_xoffset_max",
    "pp_yoffset_min",
    "pp_yoffset_max",
    "useragent",
    "br_name",
    "br_family",
    "br_version",
    "br_type",
    "br_renderengine",
    "br_lang",
    "br_features_pdf",
    "br_features_flash",
    "br_features_java",
    "br_features_director",
    "br_features_quicktime",
    "br_features_realplayer",
    "br_features_windowsmedia",
    "br_features_gears",
    "br_features_silverlight",
    "br_cookies",
    "br_colordepth",
    "br_viewwidth",
    "br_viewheight",
    "os_name",
    "os_family",
    "os_manufacturer",
    "os_timezone",
    "dvce_type",
    "dvce_ismobile",
    "dvce_screenwidth",
    "dvce_screenheight",
    "doc_charset",
    "doc_width",
    "doc_height",
    "tr_currency",
    "tr_total_base",
    "tr_tax_base",
    "tr_shipping_base",
    "ti_currency",
    "ti_price_base",
    "base_currency",
    "geo_timezone",
    "mkt_clickid",
    "mkt_network",
    "etl_tags",
    "dvce_sent_tstamp",
    "refr_domain_userid",
    "refr_dvce_tstamp",
    "derived_contexts",
    "domain_sessionid",
    "derived_tstamp",
    "event_vendor",
    "event_name",
    "event_format",
    "event_version",
    "event_fingerprint",
    "true_tstamp",
]


def test_fields_are_snowplows_131_in_order() -> None:
    """Names and order match the enriched TSV exactly; indexes are positions."""
    assert tuple(SNOWPLOW_ORDER) == FIELD_NAMES
    assert [f.index for f in ATOMIC_FIELDS] == list(range(131))
    assert EnrichedEvent.__slots__ == FIELD_NAMES
    assert EnrichedEvent().values() == (None,) * 131


def test_update_sets_several_fields_and_refuses_unknown_ones() -> None:
    """update() sets the named fields (None included) and leaves the rest; a name that is not a field is refused."""
    event = EnrichedEvent(app_id="shop", page_url="https://a.example/")
    event.update({"page_url": None, "platform": "web"})
    assert (event.app_id, event.page_url, event.platform, event.event) == ("shop", None, "web", None)
    assert event.copy() == event
    with pytest.raises(AttributeError):
        event.update({"apid": "shop"})


def test_limits_are_enrichs_defaults() -> None:
    """Every string field has enrich's default limit (page_url 10000, mkt_clickid 1000, not the schema's)."""
    assert STRING_LIMITS["page_url"] == 10000
    assert STRING_LIMITS["page_referrer"] == 10000
    assert STRING_LIMITS["mkt_clickid"] == 1000
    assert STRING_LIMITS["event_id"] == 36
    assert STRING_LIMITS["geo_country"] == 2
    assert all((f.max_length is not None) == (f.kind == "str") for f in ATOMIC_FIELDS)


def test_enrich_and_bad_row_tables_describe_the_same_fields() -> None:
    """enrich.atomic and core.badrows.atomic (typed from the bad-row schemas) list the same 131 fields in the
    same order, and enrich's limits equal the loader bad-row schemas' maxLength except the three enrich widens
    and se_label, which those schemas cap at 1000 while the atomic schema and enrich allow 4096."""
    from core.badrows.atomic import ATOMIC_FIELD_NAMES
    from core.badrows.atomic import ATOMIC_FIELDS as SCHEMA_FIELDS

    assert FIELD_NAMES == ATOMIC_FIELD_NAMES
    schema_limits = {row[0]: row[4] for row in SCHEMA_FIELDS if row[4] is not None}
    differing = {name for name, limit in STRING_LIMITS.items() if schema_limits.get(name) != limit}
    assert differing == {"page_url", "page_referrer", "mkt_clickid", "se_label"}


def test_new_event_is_all_null_and_serialises_to_130_tabs() -> None:
    """A fresh event has every field None and its TSV line is 130 tabs."""
    event = EnrichedEvent()
    assert event.values() == (None,) * 131
    assert event.to_tsv() == "\t" * 130


def test_tsv_formats_each_kind() -> None:
    """Timestamps as yyyy-MM-dd HH:mm:ss.SSS UTC, booleans 1/0, decimals plain, floats Java-style."""
    event = EnrichedEvent(
        collector_tstamp=1795690794415,
        br_cookies=True,
        dvce_ismobile=False,
        se_value=Decimal("1E+2"),
        tr_total=Decimal("10.50"),
        geo_latitude=51.5,
        geo_longitude=0.0001,
        page_urlport=443,
        contexts='{"a":1}',
    )
    fields = dict(zip(FIELD_NAMES, event.to_tsv().split("\t"), strict=True))
    assert fields["collector_tstamp"] == "2026-11-26 10:59:54.415"
    assert (fields["br_cookies"], fields["dvce_ismobile"]) == ("1", "0")
    assert (fields["se_value"], fields["tr_total"]) == ("100", "10.50")
    assert (fields["geo_latitude"], fields["geo_longitude"]) == ("51.5", "1.0E-4")
    assert (fields["page_urlport"], fields["contexts"]) == ("443", '{"a":1}')


def test_timestamp_format_edges() -> None:
    """Timestamps format across the whole accepted range and parse back."""
    for ms in (MIN_TSTAMP_MS, -1, 0, 1795690794415, MAX_TSTAMP_MS):
        assert parse_tstamp(format_tstamp(ms)) == ms
    assert format_tstamp(MIN_TSTAMP_MS) == "0001-01-01 00:00:00.000"
    assert format_tstamp(-1) == "1969-12-31 23:59:59.999"


_VALUES: dict[str, Any] = {
    "str": st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=10),
    "json": st.just('{"schema":"iglu:a/b/jsonschema/1-0-0","data":{}}'),
    "int": st.integers(-(2**31), 2**31 - 1),
    "dec": st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9),
    "float": st.floats(-180, 180, allow_nan=False),
    "bool": st.booleans(),
    "ts": st.integers(MIN_TSTAMP_MS, MAX_TSTAMP_MS),
}


@st.composite
def events(draw: st.DrawFn) -> EnrichedEvent:
    event = EnrichedEvent()
    for field in ATOMIC_FIELDS:
        if draw(st.booleans()):
            setattr(event, field.name, draw(_VALUES[field.kind]))
    return event


@given(events())
def test_tsv_round_trips(event: EnrichedEvent) -> None:
    """Any event survives to_tsv → from_tsv unchanged (the line has exactly 130 tabs)."""
    line = event.to_tsv()
    assert line.count("\t") == 130
    assert EnrichedEvent.from_tsv(line) == event
    assert event.copy() == event


_ENRICHED = json.loads(
    (REPO_ROOT / "schemas/com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1").read_text()
)["properties"]["payload"]["properties"]["enriched"]


@given(events())
def test_partial_json_fits_the_bad_row_schema(event: EnrichedEvent) -> None:
    """to_partial_json has all 131 names and validates against the bad rows' PartiallyEnrichedEvent."""
    partial = event.to_partial_json()
    assert list(partial) == list(FIELD_NAMES)
    jsonschema.Draft4Validator(_ENRICHED).validate(partial)


def test_from_tsv_rejects_wrong_shapes() -> None:
    """A line with the wrong field count or an unparseable typed field is a TsvFormatError."""
    from enrich.event import TsvFormatError

    for line in ("a\tb", "\t" * 131, "\t" * 7 + "notanint" + "\t" * 123):
        try:
            EnrichedEvent.from_tsv(line)
        except TsvFormatError:
            continue
        raise AssertionError(f"accepted {line!r}")
