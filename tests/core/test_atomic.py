"""The enriched-event contract: one table of the 131 atomic fields, checked against the TSV and bad-row schemas."""

from __future__ import annotations

import json
from typing import Any

from core.atomic import ATOMIC_FIELDS, FIELD_INDEX, FIELD_NAMES, FIELDS_BY_NAME, STRING_LIMITS, LengthLimits
from core.badrows.atomic import _LOADER_FIELDS, _PARTIAL_FIELDS
from core.locations import BUNDLED_SCHEMAS

_BADROWS = BUNDLED_SCHEMAS / "com.snowplowanalytics.snowplow.badrows"

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


def _schema(name: str, version: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((_BADROWS / name / "jsonschema" / version).read_text())
    return loaded


def test_fields_are_snowplows_131_in_order() -> None:
    """Names and order match the enriched TSV exactly; indexes are positions and the lookups agree."""
    assert tuple(SNOWPLOW_ORDER) == FIELD_NAMES
    assert [f.index for f in ATOMIC_FIELDS] == list(range(131))
    assert all(FIELD_INDEX[f.name] == f.index and FIELDS_BY_NAME[f.name] is f for f in ATOMIC_FIELDS)


def test_limits_are_enrichs_defaults() -> None:
    """Every string field has enrich's default limit (page_url 10000, mkt_clickid 1000, not the schema's)."""
    assert STRING_LIMITS["page_url"] == 10000
    assert STRING_LIMITS["page_referrer"] == 10000
    assert STRING_LIMITS["mkt_clickid"] == 1000
    assert STRING_LIMITS["event_id"] == 36
    assert STRING_LIMITS["geo_country"] == 2
    assert all((f.max_length is not None) == (f.kind == "str") for f in ATOMIC_FIELDS)
    assert all((f.schema_max_length is not None) == (f.kind == "str") for f in ATOMIC_FIELDS)


def test_enrich_limits_differ_from_the_schema_only_where_snowplow_widens_them() -> None:
    """Enrich's default limits equal the schema's maxLength but for page_url, page_referrer, mkt_clickid, se_label."""
    differing = {f.name for f in ATOMIC_FIELDS if f.max_length != f.schema_max_length}
    assert differing == {"page_url", "page_referrer", "mkt_clickid", "se_label"}


def test_loader_event_typing_is_the_published_loader_runtime_error_payload() -> None:
    """JSON type, nullability, maxLength and date-time of each loader-event field equal loader_runtime_error 1-0-1's."""
    properties = _schema("loader_runtime_error", "1-0-1")["properties"]["payload"]["properties"]
    published = {}
    for name, spec in properties.items():
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        kind = next(t for t in types if t != "null")
        published[name] = (name, kind, "null" in types, spec.get("maxLength"), spec.get("format") == "date-time")
    assert {row[0]: row for row in _LOADER_FIELDS} == published


def test_partially_enriched_typing_is_the_published_schema_violations_payload() -> None:
    """Names, order and JSON types of a partially enriched event equal schema_violations 2-0-1's payload.enriched."""
    enriched = _schema("schema_violations", "2-0-1")["properties"]["payload"]["properties"]["enriched"]["properties"]
    published = [(name, next(t for t in spec["type"] if t != "null")) for name, spec in enriched.items()]
    assert list(_PARTIAL_FIELDS) == published


def test_length_limits_read_every_limited_field_at_once() -> None:
    """LengthLimits.of lays out names and bounds in the same order and reads the values in one call."""

    class Event:
        app_id = "shop"
        platform = "web"

    one = LengthLimits.of({"app_id": 3})
    assert (one.names, one.bounds, one.values_of(Event())) == (("app_id",), (3,), ("shop",))
    two = LengthLimits.of({"platform": 1, "app_id": 2})
    assert (two.names, two.bounds, two.values_of(Event())) == (("platform", "app_id"), (1, 2), ("web", "shop"))
    assert LengthLimits.of({}).values_of(Event()) == ()
