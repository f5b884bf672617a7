"""The 131 atomic fields as the bad-row schemas type them: once as a partially enriched event, once as a loader event.

The table is copied from the published schemas (schema_violations 2-0-1 `payload.enriched` and
loader_runtime_error 1-0-1 `payload`), in Snowplow TSV order. Each row:
(name, kind in a partially enriched event, kind in a loader event, nullable in a loader event,
loader maxLength, loader date-time).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from core.badrows.limits import fit, is_instant
from core.raw import format_instant

__all__ = [
    "ATOMIC_FIELDS",
    "ATOMIC_FIELD_NAMES",
    "normalise_loader_event",
    "normalise_partially_enriched",
]

ATOMIC_FIELDS: tuple[tuple[str, str, str, bool, int | None, bool], ...] = (
    ("app_id", "string", "string", True, 255, False),
    ("platform", "string", "string", True, 255, False),
    ("etl_tstamp", "string", "string", True, None, True),
    ("collector_tstamp", "string", "string", False, None, True),
    ("dvce_created_tstamp", "string", "string", True, None, True),
    ("event", "string", "string", True, 128, False),
    ("event_id", "string", "string", False, 36, False),
    ("txn_id", "string", "integer", True, None, False),
    ("name_tracker", "string", "string", True, 128, False),
    ("v_tracker", "string", "string", True, 100, False),
    ("v_collector", "string", "string", False, 100, False),
    ("v_etl", "string", "string", False, 100, False),
    ("user_id", "string", "string", True, 255, False),
    ("user_ipaddress", "string", "string", True, 128, False),
    ("user_fingerprint", "string", "string", True, 128, False),
    ("domain_userid", "string", "string", True, 128, False),
    ("domain_sessionidx", "integer", "integer", True, None, False),
    ("network_userid", "string", "string", True, 128, False),
    ("geo_country", "string", "string", True, 2, False),
    ("geo_region", "string", "string", True, 3, False),
    ("geo_city", "string", "string", True, 75, False),
    ("geo_zipcode", "string", "string", True, 15, False),
    ("geo_latitude", "number", "number", True, None, False),
    ("geo_longitude", "number", "number", True, None, False),
    ("geo_region_name", "string", "string", True, 100, False),
    ("ip_isp", "string", "string", True, 100, False),
    ("ip_organization", "string", "string", True, 128, False),
    ("ip_domain", "string", "string", True, 128, False),
    ("ip_netspeed", "string", "string", True, 100, False),
    ("page_url", "string", "string", True, 4096, False),
    ("page_title", "string", "string", True, 2000, False),
    ("page_referrer", "string", "string", True, 4096, False),
    ("page_urlscheme", "string", "string", True, 16, False),
    ("page_urlhost", "string", "string", True, 255, False),
    ("page_urlport", "integer", "integer", True, None, False),
    ("page_urlpath", "string", "string", True, 3000, False),
    ("page_urlquery", "string", "string", True, 6000, False),
    ("page_urlfragment", "string", "string", True, 3000, False),
    ("refr_urlscheme", "string", "string", True, 16, False),
    ("refr_urlhost", "string", "string", True, 255, False),
    ("refr_urlport", "integer", "integer", True, None, False),
    ("refr_urlpath", "string", "string", True, 6000, False),
    ("refr_urlquery", "string", "string", True, 6000, False),
    ("refr_urlfragment", "string", "string", True, 3000, False),
    ("refr_medium", "string", "string", True, 25, False),
    ("refr_source", "string", "string", True, 50, False),
    ("refr_term", "string", "string", True, 255, False),
    ("mkt_medium", "string", "string", True, 255, False),
    ("mkt_source", "string", "string", True, 255, False),
    ("mkt_term", "string", "string", True, 255, False),
    ("mkt_content", "string", "string", True, 500, False),
    ("mkt_campaign", "string", "string", True, 255, False),
    ("contexts", "string", "object", True, None, False),
    ("se_category", "string", "string", True, 1000, False),
    ("se_action", "string", "string", True, 1000, False),
    ("se_label", "string", "string", True, 1000, False),
    ("se_property", "string", "string", True, 1000, False),
    ("se_value", "string", "number", True, None, False),
    ("unstruct_event", "string", "object", True, None, False),
    ("tr_orderid", "string", "string", True, 255, False),
    ("tr_affiliation", "string", "string", True, 255, False),
    ("tr_total", "string", "number", True, None, False),
    ("tr_tax", "string", "number", True, None, False),
    ("tr_shipping", "string", "number", True, None, False),
    ("tr_city", "string", "string", True, 255, False),
    ("tr_state", "string", "string", True, 255, False),
    ("tr_country", "string", "string", True, 255, False),
    ("ti_orderid", "string", "string", True, 255, False),
    ("ti_sku", "string", "string", True, 255, False),
    ("ti_name", "string", "string", True, 255, False),
    ("ti_category", "string", "string", True, 255, False),
    ("ti_price", "string", "number", True, None, False),
    ("ti_quantity", "integer", "integer", True, None, False),
    ("pp_xoffset_min", "integer", "integer", True, None, False),
    ("pp_xoffset_max", "integer", "integer", True, None, False),
    ("pp_yoffset_min", "integer", "integer", True, None, False),
    ("pp_yoffset_max", "integer", "integer", True, None, False),
    ("useragent", "string", "string", True, 1000, False),
    ("br_name", "string", "string", True, 50, False),
    ("br_family", "string", "string", True, 50, False),
    ("br_version", "string", "string", True, 50, False),
    ("br_type", "string", "string", True, 50, False),
    ("br_renderengine", "string", "string", True, 50, False),
    ("br_lang", "string", "string", True, 255, False),
    ("br_features_pdf", "integer", "boolean", True, None, False),
    ("br_features_flash", "integer", "boolean", True, None, False),
    ("br_features_java", "integer", "boolean", True, None, False),
    ("br_features_director", "integer", "boolean", True, None, False),
    ("br_features_quicktime", "integer", "boolean", True, None, False),
    ("br_features_realplayer", "integer", "boolean", True, None, False),
    ("br_features_windowsmedia", "integer", "boolean", True, None, False),
    ("br_features_gears", "integer", "boolean", True, None, False),
    ("br_features_silverlight", "integer", "boolean", True, None, False),
    ("br_cookies", "integer", "boolean", True, None, False),
    ("br_colordepth", "string", "string", True, 12, False),
    ("br_viewwidth", "integer", "integer", True, None, False),
    ("br_viewheight", "integer", "integer", True, None, False),
    ("os_name", "string", "string", True, 50, False),
    ("os_family", "string", "string", True, 50, False),
    ("os_manufacturer", "string", "string", True, 50, False),
    ("os_timezone", "string", "string", True, 255, False),
    ("dvce_type", "string", "string", True, 50, False),
    ("dvce_ismobile", "integer", "boolean", True, None, False),
    ("dvce_screenwidth", "integer", "integer", True, None, False),
    ("dvce_screenheight", "integer", "integer", True, None, False),
    ("doc_charset", "string", "string", True, 128, False),
    ("doc_width", "integer", "integer", True, None, False),
    ("doc_height", "integer", "integer", True, None, False),
    ("tr_currency", "string", "string", True, 3, False),
    ("tr_total_base", "string", "number", True, None, False),
    ("tr_tax_base", "string", "number", True, None, False),
    ("tr_shipping_base", "string", "number", True, None, False),
    ("ti_currency", "string", "string", True, 3, False),
    ("ti_price_base", "string", "number", True, None, False),
    ("base_currency", "string", "string", True, 3, False),
    ("geo_timezone", "string", "string", True, 64, False),
    ("mkt_clickid", "string", "string", True, 128, False),
    ("mkt_network", "string", "string", True, 64, False),
    ("etl_tags", "string", "string", True, 500, False),
    ("dvce_sent_tstamp", "string", "string", True, None, True),
    ("refr_domain_userid", "string", "string", True, 128, False),
    ("refr_dvce_tstamp", "string", "string", True, None, True),
    ("derived_contexts", "string", "object", True, None, False),
    ("domain_sessionid", "string", "string", True, 128, False),
    ("derived_tstamp", "string", "string", True, None, True),
    ("event_vendor", "string", "string", True, 1000, False),
    ("event_name", "string", "string", True, 1000, False),
    ("event_format", "string", "string", True, 128, False),
    ("event_version", "string", "string", True, 128, False),
    ("event_fingerprint", "string", "string", True, 128, False),
    ("true_tstamp", "string", "string", True, None, True),
)

ATOMIC_FIELD_NAMES: tuple[str, ...] = tuple(row[0] for row in ATOMIC_FIELDS)

_INT64 = 2**63
_MAX_INSTANT_MS = 253402300799999  # the last instant a four-digit year can write


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else None
    if isinstance(value, float) and value.is_integer() and abs(value) < _INT64:
        return int(value)
    if isinstance(value, str):
        try:
            return _integer(int(value.strip()))
        except ValueError:
            return None
    return None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            return _number(float(value.strip()))
        except ValueError:
            return None
    return None


def _string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return _tsv_instant(value)
    return None


def _tsv_instant(value: datetime) -> str:
    """The TSV timestamp form a partially enriched event uses (`2026-01-01 00:00:01.000`)."""
    dt = value.astimezone(UTC) if value.tzinfo else value
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


def _check_names(event: dict[str, Any], what: str) -> None:
    unknown = set(event) - set(ATOMIC_FIELD_NAMES)
    if unknown:
        raise ValueError(f"{what}: not atomic fields: {sorted(unknown)[:5]}")


def normalise_partially_enriched(event: dict[str, Any]) -> dict[str, Any]:
    """Every atomic field, in order, typed as schema_violations/enrichment_failures want (missing → null).

    Values of the wrong kind become null (a partially enriched event may hold anything); unknown
    names are a programming error (ValueError). Idempotent.
    """
    _check_names(event, "partially enriched event")
    out: dict[str, Any] = {}
    for name, kind, *_ in ATOMIC_FIELDS:
        value = event.get(name)
        if value is None:
            out[name] = None
        elif kind == "integer":
            out[name] = _integer(value)
        elif kind == "number":
            out[name] = _number(value)
        else:
            out[name] = _string(value)
    return out


def _loader_instant(value: Any) -> str | None:
    if isinstance(value, datetime):
        dt = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        ms = int(dt.timestamp() * 1000)
        return format_instant(ms) if 0 <= ms <= _MAX_INSTANT_MS else None
    if isinstance(value, str) and is_instant(value):
        return value
    return None


def normalise_loader_event(event: dict[str, Any]) -> dict[str, Any]:
    """An enriched event as the loader bad rows type it (the analytics-SDK JSON shape of the schemas).

    contexts / unstruct_event / derived_contexts are JSON objects, booleans are booleans, strings
    are cut to the schema limits, timestamps must be RFC 3339 (datetimes are formatted). A value of
    the wrong kind becomes null, or is left out for the four non-nullable fields. Idempotent.
    """
    _check_names(event, "enriched event")
    out: dict[str, Any] = {}
    for name, _, kind, nullable, limit, instant in ATOMIC_FIELDS:
        value = event.get(name)
        result: Any = None
        if value is None:
            result = None
        elif instant:
            result = _loader_instant(value)
        elif kind == "integer":
            result = _integer(value)
        elif kind == "number":
            result = _number(value)
        elif kind == "boolean":
            result = value if isinstance(value, bool) else (bool(value) if value in (0, 1) else None)
        elif kind == "object":
            result = value if isinstance(value, dict) else None
        else:
            text = _string(value)
            result = None if text is None else (fit(text, limit) if limit is not None else text)
        if result is not None or nullable:
            out[name] = result
    return out
