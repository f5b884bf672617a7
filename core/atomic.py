"""The enriched-event contract: the 131 Snowplow atomic fields, their order, value kinds and length limits.

One table serves every stage: enrich (the `EnrichedEvent` slots, TSV order, default truncation
limits), the Parquet and TSV writers (value kind → column type), the loader (warehouse column types)
and the bad-row schemas (`core.badrows.atomic` types partially enriched and loader events from it).

Order and names follow the enriched TSV (`refr_dvce_tstamp` spelt that way). Two limits per string
field: `max_length` is enrich's default truncation limit (what `atomicFieldsLimits` overrides) and
`schema_max_length` the atomic schema's `maxLength` that the loader bad-row schemas publish; they
differ for `page_url`, `page_referrer` (10000 vs 4096), `se_label` (4096 vs 1000) and `mkt_clickid`
(1000 vs 128), as in Snowplow. Only string fields have limits. `nullable` is False for the four
fields every enriched event carries (`collector_tstamp`, `event_id`, `v_collector`, `v_etl`).
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
    """One enriched-event column: position, name, value kind, enrich's default and the schema's maximum length."""

    index: int
    name: str
    kind: Kind
    max_length: int | None
    schema_max_length: int | None
    nullable: bool


# (name, kind, enrich's default max length, the atomic schema's maxLength, nullable), in TSV order.
_SPEC: tuple[tuple[str, Kind, int | None, int | None, bool], ...] = (
    ("app_id", "str", 255, 255, True),
    ("platform", "str", 255, 255, True),
    ("etl_tstamp", "ts", None, None, True),
    ("collector_tstamp", "ts", None, None, False),
    ("dvce_created_tstamp", "ts", None, None, True),
    ("event", "str", 128, 128, True),
    ("event_id", "str", 36, 36, False),
    ("txn_id", "int", None, None, True),
    ("name_tracker", "str", 128, 128, True),
    ("v_tracker", "str", 100, 100, True),
    ("v_collector", "str", 100, 100, False),
    ("v_etl", "str", 100, 100, False),
    ("user_id", "str", 255, 255, True),
    ("user_ipaddress", "str", 128, 128, True),
    ("user_fingerprint", "str", 128, 128, True),
    ("domain_userid", "str", 128, 128, True),
    ("domain_sessionidx", "int", None, None, True),
    ("network_userid", "str", 128, 128, True),
    ("geo_country", "str", 2, 2, True),
    ("geo_region", "str", 3, 3, True),
    ("geo_city", "str", 75, 75, True),
    ("geo_zipcode", "str", 15, 15, True),
    ("geo_latitude", "float", None, None, True),
    ("geo_longitude", "float", None, None, True),
    ("geo_region_name", "str", 100, 100, True),
    ("ip_isp", "str", 100, 100, True),
    ("ip_organization", "str", 128, 128, True),
    ("ip_domain", "str", 128, 128, True),
    ("ip_netspeed", "str", 100, 100, True),
    ("page_url", "str", 10000, 4096, True),
    ("page_title", "str", 2000, 2000, True),
    ("page_referrer", "str", 10000, 4096, True),
    ("page_urlscheme", "str", 16, 16, True),
    ("page_urlhost", "str", 255, 255, True),
    ("page_urlport", "int", None, None, True),
    ("page_urlpath", "str", 3000, 3000, True),
    ("page_urlquery", "str", 6000, 6000, True),
    ("page_urlfragment", "str", 3000, 3000, True),
    ("refr_urlscheme", "str", 16, 16, True),
    ("refr_urlhost", "str", 255, 255, True),
    ("refr_urlport", "int", None, None, True),
    ("refr_urlpath", "str", 6000, 6000, True),
    ("refr_urlquery", "str", 6000, 6000, True),
    ("refr_urlfragment", "str", 3000, 3000, True),
    ("refr_medium", "str", 25, 25, True),
    ("refr_source", "str", 50, 50, True),
    ("refr_term", "str", 255, 255, True),
    ("mkt_medium", "str", 255, 255, True),
    ("mkt_source", "str", 255, 255, True),
    ("mkt_term", "str", 255, 255, True),
    ("mkt_content", "str", 500, 500, True),
    ("mkt_campaign", "str", 255, 255, True),
    ("contexts", "json", None, None, True),
    ("se_category", "str", 1000, 1000, True),
    ("se_action", "str", 1000, 1000, True),
    ("se_label", "str", 4096, 1000, True),
    ("se_property", "str", 1000, 1000, True),
    ("se_value", "dec", None, None, True),
    ("unstruct_event", "json", None, None, True),
    ("tr_orderid", "str", 255, 255, True),
    ("tr_affiliation", "str", 255, 255, True),
    ("tr_total", "dec", None, None, True),
    ("tr_tax", "dec", None, None, True),
    ("tr_shipping", "dec", None, None, True),
    ("tr_city", "str", 255, 255, True),
    ("tr_state", "str", 255, 255, True),
    ("tr_country", "str", 255, 255, True),
    ("ti_orderid", "str", 255, 255, True),
    ("ti_sku", "str", 255, 255, True),
    ("ti_name", "str", 255, 255, True),
    ("ti_category", "str", 255, 255, True),
    ("ti_price", "dec", None, None, True),
    ("ti_quantity", "int", None, None, True),
    ("pp_xoffset_min", "int", None, None, True),
    ("pp_xoffset_max", "int", None, None, True),
    ("pp_yoffset_min", "int", None, None, True),
    ("pp_yoffset_max", "int", None, None, True),
    ("useragent", "str", 1000, 1000, True),
    ("br_name", "str", 50, 50, True),
    ("br_family", "str", 50, 50, True),
    ("br_version", "str", 50, 50, True),
    ("br_type", "str", 50, 50, True),
    ("br_renderengine", "str", 50, 50, True),
    ("br_lang", "str", 255, 255, True),
    ("br_features_pdf", "bool", None, None, True),
    ("br_features_flash", "bool", None, None, True),
    ("br_features_java", "bool", None, None, True),
    ("br_features_director", "bool", None, None, True),
    ("br_features_quicktime", "bool", None, None, True),
    ("br_features_realplayer", "bool", None, None, True),
    ("br_features_windowsmedia", "bool", None, None, True),
    ("br_features_gears", "bool", None, None, True),
    ("br_features_silverlight", "bool", None, None, True),
    ("br_cookies", "bool", None, None, True),
    ("br_colordepth", "str", 12, 12, True),
    ("br_viewwidth", "int", None, None, True),
    ("br_viewheight", "int", None, None, True),
    ("os_name", "str", 50, 50, True),
    ("os_family", "str", 50, 50, True),
    ("os_manufacturer", "str", 50, 50, True),
    ("os_timezone", "str", 255, 255, True),
    ("dvce_type", "str", 50, 50, True),
    ("dvce_ismobile", "bool", None, None, True),
    ("dvce_screenwidth", "int", None, None, True),
    ("dvce_screenheight", "int", None, None, True),
    ("doc_charset", "str", 128, 128, True),
    ("doc_width", "int", None, None, True),
    ("doc_height", "int", None, None, True),
    ("tr_currency", "str", 3, 3, True),
    ("tr_total_base", "dec", None, None, True),
    ("tr_tax_base", "dec", None, None, True),
    ("tr_shipping_base", "dec", None, None, True),
    ("ti_currency", "str", 3, 3, True),
    ("ti_price_base", "dec", None, None, True),
    ("base_currency", "str", 3, 3, True),
    ("geo_timezone", "str", 64, 64, True),
    ("mkt_clickid", "str", 1000, 128, True),
    ("mkt_network", "str", 64, 64, True),
    ("etl_tags", "str", 500, 500, True),
    ("dvce_sent_tstamp", "ts", None, None, True),
    ("refr_domain_userid", "str", 128, 128, True),
    ("refr_dvce_tstamp", "ts", None, None, True),
    ("derived_contexts", "json", None, None, True),
    ("domain_sessionid", "str", 128, 128, True),
    ("derived_tstamp", "ts", None, None, True),
    ("event_vendor", "str", 1000, 1000, True),
    ("event_name", "str", 1000, 1000, True),
    ("event_format", "str", 128, 128, True),
    ("event_version", "str", 128, 128, True),
    ("event_fingerprint", "str", 128, 128, True),
    ("true_tstamp", "ts", None, None, True),
)

ATOMIC_FIELDS: tuple[AtomicField, ...] = tuple(AtomicField(i, *row) for i, row in enumerate(_SPEC))
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
