"""The 131 Snowplow atomic fields: names, order, value kinds and enrich's default length limits.

Order and names follow the enriched TSV (`refr_dvce_tstamp` spelt that way); length limits are
enrich's defaults, which differ from the atomic schema for `page_url`, `page_referrer` (10000)
and `mkt_clickid` (1000). Only string fields have a limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Literal

__all__ = [
    "ATOMIC_FIELDS",
    "FIELDS_BY_NAME",
    "FIELD_INDEX",
    "FIELD_NAMES",
    "STRING_LIMITS",
    "AtomicField",
    "Kind",
    "LengthLimits",
]

Kind = Literal["str", "int", "dec", "float", "bool", "ts", "json"]


@dataclass(frozen=True, slots=True)
class AtomicField:
    """One enriched-event column: its position, name, value kind and default maximum length."""

    index: int
    name: str
    kind: Kind
    max_length: int | None


_SPEC: tuple[tuple[str, Kind, int | None], ...] = (
    ("app_id", "str", 255),
    ("platform", "str", 255),
    ("etl_tstamp", "ts", None),
    ("collector_tstamp", "ts", None),
    ("dvce_created_tstamp", "ts", None),
    ("event", "str", 128),
    ("event_id", "str", 36),
    ("txn_id", "int", None),
    ("name_tracker", "str", 128),
    ("v_tracker", "str", 100),
    ("v_collector", "str", 100),
    ("v_etl", "str", 100),
    ("user_id", "str", 255),
    ("user_ipaddress", "str", 128),
    ("user_fingerprint", "str", 128),
    ("domain_userid", "str", 128),
    ("domain_sessionidx", "int", None),
    ("network_userid", "str", 128),
    ("geo_country", "str", 2),
    ("geo_region", "str", 3),
    ("geo_city", "str", 75),
    ("geo_zipcode", "str", 15),
    ("geo_latitude", "float", None),
    ("geo_longitude", "float", None),
    ("geo_region_name", "str", 100),
    ("ip_isp", "str", 100),
    ("ip_organization", "str", 128),
    ("ip_domain", "str", 128),
    ("ip_netspeed", "str", 100),
    ("page_url", "str", 10000),
    ("page_title", "str", 2000),
    ("page_referrer", "str", 10000),
    ("page_urlscheme", "str", 16),
    ("page_urlhost", "str", 255),
    ("page_urlport", "int", None),
    ("page_urlpath", "str", 3000),
    ("page_urlquery", "str", 6000),
    ("page_urlfragment", "str", 3000),
    ("refr_urlscheme", "str", 16),
    ("refr_urlhost", "str", 255),
    ("refr_urlport", "int", None),
    ("refr_urlpath", "str", 6000),
    ("refr_urlquery", "str", 6000),
    ("refr_urlfragment", "str", 3000),
    ("refr_medium", "str", 25),
    ("refr_source", "str", 50),
    ("refr_term", "str", 255),
    ("mkt_medium", "str", 255),
    ("mkt_source", "str", 255),
    ("mkt_term", "str", 255),
    ("mkt_content", "str", 500),
    ("mkt_campaign", "str", 255),
    ("contexts", "json", None),
    ("se_category", "str", 1000),
    ("se_action", "str", 1000),
    ("se_label", "str", 4096),
    ("se_property", "str", 1000),
    ("se_value", "dec", None),
    ("unstruct_event", "json", None),
    ("tr_orderid", "str", 255),
    ("tr_affiliation", "str", 255),
    ("tr_total", "dec", None),
    ("tr_tax", "dec", None),
    ("tr_shipping", "dec", None),
    ("tr_city", "str", 255),
    ("tr_state", "str", 255),
    ("tr_country", "str", 255),
    ("ti_orderid", "str", 255),
    ("ti_sku", "str", 255),
    ("ti_name", "str", 255),
    ("ti_category", "str", 255),
    ("ti_price", "dec", None),
    ("ti_quantity", "int", None),
    ("pp_xoffset_min", "int", None),
    ("pp_xoffset_max", "int", None),
    ("pp_yoffset_min", "int", None),
    ("pp_yoffset_max", "int", None),
    ("useragent", "str", 1000),
    ("br_name", "str", 50),
    ("br_family", "str", 50),
    ("br_version", "str", 50),
    ("br_type", "str", 50),
    ("br_renderengine", "str", 50),
    ("br_lang", "str", 255),
    ("br_features_pdf", "bool", None),
    ("br_features_flash", "bool", None),
    ("br_features_java", "bool", None),
    ("br_features_director", "bool", None),
    ("br_features_quicktime", "bool", None),
    ("br_features_realplayer", "bool", None),
    ("br_features_windowsmedia", "bool", None),
    ("br_features_gears", "bool", None),
    ("br_features_silverlight", "bool", None),
    ("br_cookies", "bool", None),
    ("br_colordepth", "str", 12),
    ("br_viewwidth", "int", None),
    ("br_viewheight", "int", None),
    ("os_name", "str", 50),
    ("os_family", "str", 50),
    ("os_manufacturer", "str", 50),
    ("os_timezone", "str", 255),
    ("dvce_type", "str", 50),
    ("dvce_ismobile", "bool", None),
    ("dvce_screenwidth", "int", None),
    ("dvce_screenheight", "int", None),
    ("doc_charset", "str", 128),
    ("doc_width", "int", None),
    ("doc_height", "int", None),
    ("tr_currency", "str", 3),
    ("tr_total_base", "dec", None),
    ("tr_tax_base", "dec", None),
    ("tr_shipping_base", "dec", None),
    ("ti_currency", "str", 3),
    ("ti_price_base", "dec", None),
    ("base_currency", "str", 3),
    ("geo_timezone", "str", 64),
    ("mkt_clickid", "str", 1000),
    ("mkt_network", "str", 64),
    ("etl_tags", "str", 500),
    ("dvce_sent_tstamp", "ts", None),
    ("refr_domain_userid", "str", 128),
    ("refr_dvce_tstamp", "ts", None),
    ("derived_contexts", "json", None),
    ("domain_sessionid", "str", 128),
    ("derived_tstamp", "ts", None),
    ("event_vendor", "str", 1000),
    ("event_name", "str", 1000),
    ("event_format", "str", 128),
    ("event_version", "str", 128),
    ("event_fingerprint", "str", 128),
    ("true_tstamp", "ts", None),
)

ATOMIC_FIELDS: tuple[AtomicField, ...] = tuple(AtomicField(i, n, k, m) for i, (n, k, m) in enumerate(_SPEC))
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in ATOMIC_FIELDS)
FIELD_INDEX: dict[str, int] = {f.name: f.index for f in ATOMIC_FIELDS}
FIELDS_BY_NAME: dict[str, AtomicField] = {f.name: f for f in ATOMIC_FIELDS}
STRING_LIMITS: dict[str, int] = {f.name: f.max_length for f in ATOMIC_FIELDS if f.max_length is not None}

assert len(ATOMIC_FIELDS) == 131, "the enriched event has exactly 131 columns"


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if not names:
        return lambda _: ()
    getter = attrgetter(*names)
    return getter if len(names) > 1 else (lambda e: (getter(e),))


@dataclass(frozen=True, slots=True)
class LengthLimits:
    """The string fields to check and their limits, laid out so a typical event is cleared in one C-level pass.

    `values_of` reads every limited field at once (`bounds[i]` is the limit of `names[i]`, in UTF-16 units).
    """

    names: tuple[str, ...]
    bounds: tuple[int, ...]
    values_of: Callable[[Any], tuple[Any, ...]] = field(repr=False, compare=False)

    @classmethod
    def of(cls, limits: Mapping[str, int]) -> LengthLimits:
        names = tuple(limits)
        bounds = tuple(limits[n] for n in names)
        return cls(names, bounds, _getter(names))
