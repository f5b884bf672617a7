"""The enriched event: 131 typed slots, and its three wire forms (TSV line, bad-row JSON, values tuple).

Value types per kind: `str` and `json` (compact JSON text) → str, `int` → int, `dec` → Decimal,
`float` → float, `bool` → bool, `ts` → int epoch milliseconds (UTC). Every field defaults to None.
The TSV form is Snowplow's enriched format byte for byte: 131 fields, 130 tabs, timestamps as
`yyyy-MM-dd HH:mm:ss.SSS`, booleans as 1/0, decimals in plain notation, None as an empty field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import attrgetter
from typing import Any

from core.atomic import ATOMIC_FIELDS, FIELD_NAMES

__all__ = ["EnrichedEvent", "TsvFormatError", "format_tstamp", "parse_tstamp"]

_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)


class TsvFormatError(ValueError):
    """A line that is not a 131-field enriched TSV event, or a field that does not parse as its kind."""


def format_tstamp(ms: int) -> str:
    """Epoch milliseconds → `yyyy-MM-dd HH:mm:ss.SSS` (UTC, no zone), the enriched-TSV timestamp form."""
    seconds, millis = divmod(ms, 1000)
    return f"{_format_second(seconds)}.{millis:03d}"


@lru_cache(maxsize=8192)
def _format_second(seconds: int) -> str:
    """Cached: the events of a batch share their etl and collector seconds."""
    return (_EPOCH + timedelta(seconds=seconds)).isoformat(" ")


def parse_tstamp(text: str) -> int:
    """`yyyy-MM-dd HH:mm:ss.SSS` (UTC) → epoch milliseconds."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH_UTC
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _format_float(v: float) -> str:
    """Java `Float.toString` layout with Python's shortest digits: plain in [1e-3, 1e7), else `d.dddE±n`."""
    a = abs(v)
    if a == 0 or 1e-3 <= a < 1e7:
        return repr(v)
    if not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    number = Decimal(repr(v))
    sign, digits, _ = number.as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{number.adjusted()}"


def _format_dec(v: Decimal) -> str:
    return format(v, "f")


def _tsv_str(v: Any) -> str:
    return str(v)


def _tsv_bool(v: Any) -> str:
    return "1" if v else "0"


_TO_TSV: dict[str, Callable[[Any], str]] = {
    "str": _tsv_str,
    "json": _tsv_str,
    "int": _tsv_str,
    "dec": _format_dec,
    "float": _format_float,
    "bool": _tsv_bool,
    "ts": format_tstamp,
}


def _parse_bool(text: str) -> bool:
    if text == "1":
        return True
    if text == "0":
        return False
    raise ValueError(f"expected 1 or 0, got {text!r}")


def _parse_str(text: str) -> str:
    return text


_FROM_TSV: dict[str, Callable[[str], Any]] = {
    "str": _parse_str,
    "json": _parse_str,
    "int": int,
    "dec": Decimal,
    "float": float,
    "bool": _parse_bool,
    "ts": parse_tstamp,
}


def _json_dec(v: Any) -> Any:
    return _format_dec(v)


def _json_bool(v: Any) -> Any:
    return 1 if v else 0


def _json_same(v: Any) -> Any:
    return v


# PartiallyEnrichedEvent (bad-row payload): decimals and timestamps as strings, booleans as 0/1,
# and txn_id as a string (the bad-row schema types it so).
_TO_PARTIAL: tuple[Callable[[Any], Any], ...] = tuple(
    _tsv_str
    if f.name == "txn_id"
    else {"dec": _json_dec, "ts": format_tstamp, "bool": _json_bool}.get(f.kind, _json_same)
    for f in ATOMIC_FIELDS
)
_TSV_FORMATTERS: tuple[Callable[[Any], str], ...] = tuple(_TO_TSV[f.kind] for f in ATOMIC_FIELDS)
_TYPED_FORMATTERS: tuple[tuple[int, Callable[[Any], str]], ...] = tuple(
    (f.index, _TO_TSV[f.kind]) for f in ATOMIC_FIELDS if f.kind not in ("str", "json")
)
_TSV_PARSERS: tuple[Callable[[str], Any], ...] = tuple(_FROM_TSV[f.kind] for f in ATOMIC_FIELDS)


class EnrichedEvent:
    """One enriched event; attribute names are the 131 atomic field names, all None until set."""

    __slots__ = FIELD_NAMES

    app_id: str | None
    platform: str | None
    etl_tstamp: int | None
    collector_tstamp: int | None
    dvce_created_tstamp: int | None
    event: str | None
    event_id: str | None
    txn_id: int | None
    name_tracker: str | None
    v_tracker: str | None
    v_collector: str | None
    v_etl: str | None
    user_id: str | None
    user_ipaddress: str | None
    user_fingerprint: str | None
    domain_userid: str | None
    domain_sessionidx: int | None
    network_userid: str | None
    geo_country: str | None
    geo_region: str | None
    geo_city: str | None
    geo_zipcode: str | None
    geo_latitude: float | None
    geo_longitude: float | None
    geo_region_name: str | None
    ip_isp: str | None
    ip_organization: str | None
    ip_domain: str | None
    ip_netspeed: str | None
    page_url: str | None
    page_title: str | None
    page_referrer: str | None
    page_urlscheme: str | None
    page_urlhost: str | None
    page_urlport: int | None
    page_urlpath: str | None
    page_urlquery: str | None
    page_urlfragment: str | None
    refr_urlscheme: str | None
    refr_urlhost: str | None
    refr_urlport: int | None
    refr_urlpath: str | None
    refr_urlquery: str | None
    refr_urlfragment: str | None
    refr_medium: str | None
    refr_source: str | None
    refr_term: str | None
    mkt_medium: str | None
    mkt_source: str | None
    mkt_term: str | None
    mkt_content: str | None
    mkt_campaign: str | None
    contexts: str | None
    se_category: str | None
    se_action: str | None
    se_label: str | None
    se_property: str | None
    se_value: Decimal | None
    unstruct_event: str | None
    tr_orderid: str | None
    tr_affiliation: str | None
    tr_total: Decimal | None
    tr_tax: Decimal | None
    tr_shipping: Decimal | None
    tr_city: str | None
    tr_state: str | None
    tr_country: str | None
    ti_orderid: str | None
    ti_sku: str | None
    ti_name: str | None
    ti_category: str | None
    ti_price: Decimal | None
    ti_quantity: int | None
    pp_xoffset_min: int | None
    pp_xoffset_max: int | None
    pp_yoffset_min: int | None
    pp_yoffset_max: int | None
    useragent: str | None
    br_name: str | None
    br_family: str | None
    br_version: str | None
    br_type: str | None
    br_renderengine: str | None
    br_lang: str | None
    br_features_pdf: bool | None
    br_features_flash: bool | None
    br_features_java: bool | None
    br_features_director: bool | None
    br_features_quicktime: bool | None
    br_features_realplayer: bool | None
    br_features_windowsmedia: bool | None
    br_features_gears: bool | None
    br_features_silverlight: bool | None
    br_cookies: bool | None
    br_colordepth: str | None
    br_viewwidth: int | None
    br_viewheight: int | None
    os_name: str | None
    os_family: str | None
    os_manufacturer: str | None
    os_timezone: str | None
    dvce_type: str | None
    dvce_ismobile: bool | None
    dvce_screenwidth: int | None
    dvce_screenheight: int | None
    doc_charset: str | None
    doc_width: int | None
    doc_height: int | None
    tr_currency: str | None
    tr_total_base: Decimal | None
    tr_tax_base: Decimal | None
    tr_shipping_base: Decimal | None
    ti_currency: str | None
    ti_price_base: Decimal | None
    base_currency: str | None
    geo_timezone: str | None
    mkt_clickid: str | None
    mkt_network: str | None
    etl_tags: str | None
    dvce_sent_tstamp: int | None
    refr_domain_userid: str | None
    refr_dvce_tstamp: int | None
    derived_contexts: str | None
    domain_sessionid: str | None
    derived_tstamp: int | None
    event_vendor: str | None
    event_name: str | None
    event_format: str | None
    event_version: str | None
    event_fingerprint: str | None
    true_tstamp: int | None

    def __init__(self, **fields: Any) -> None:
        _clear(self)
        self.update(fields)

    def update(self, fields: dict[str, Any]) -> None:
        """Set several fields at once (atomic field names only)."""
        for name, value in fields.items():
            setattr(self, name, value)

    def values(self) -> tuple[Any, ...]:
        """Field values in Snowplow column order."""
        result: tuple[Any, ...] = _get_all(self)
        return result

    def to_dict(self) -> dict[str, Any]:
        """Field name → typed value, in column order."""
        return dict(zip(FIELD_NAMES, _get_all(self), strict=True))

    def to_tsv(self) -> str:
        """The Snowplow enriched TSV line (no trailing newline)."""
        cells = list(_get_all(self))
        for i, fmt in _TYPED_FORMATTERS:  # str and json cells are already text
            v = cells[i]
            if v is not None:
                cells[i] = fmt(v)
        return "\t".join([c or "" for c in cells])

    def to_partial_json(self) -> dict[str, Any]:
        """The PartiallyEnrichedEvent object of schema_violations / enrichment_failures payloads."""
        return {
            name: None if v is None else conv(v)
            for name, v, conv in zip(FIELD_NAMES, _get_all(self), _TO_PARTIAL, strict=True)
        }

    @classmethod
    def from_tsv(cls, line: str) -> EnrichedEvent:
        """Parse an enriched TSV line; raises TsvFormatError for a wrong field count or an unparseable field."""
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) != len(FIELD_NAMES):
            raise TsvFormatError(f"expected {len(FIELD_NAMES)} tab-separated fields, found {len(parts)}")
        event = cls()
        for name, text, parse in zip(FIELD_NAMES, parts, _TSV_PARSERS, strict=True):
            if text:
                try:
                    setattr(event, name, parse(text))
                except (ValueError, InvalidOperation, OverflowError) as e:
                    raise TsvFormatError(f"field {name}: {e}") from None
        return event

    def copy(self) -> EnrichedEvent:
        """A shallow copy (values are immutable)."""
        other = EnrichedEvent()
        _set_all(other, _get_all(self))
        return other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EnrichedEvent):
            return NotImplemented
        return self.values() == other.values()

    __hash__ = None  # type: ignore[assignment]  # mutable value object

    def __repr__(self) -> str:
        set_fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in FIELD_NAMES if getattr(self, n) is not None)
        return f"EnrichedEvent({set_fields})"


_get_all = attrgetter(*FIELD_NAMES)


def _compile_setters() -> tuple[Callable[[EnrichedEvent], None], Callable[[EnrichedEvent, tuple[Any, ...]], None]]:
    """Straight-line attribute stores, generated once: 131 plain stores cost a tenth of a setattr loop.

    The source is built only from the fixed, validated identifiers in FIELD_NAMES, never from input.
    """
    assert all(n.isidentifier() for n in FIELD_NAMES)
    clear = "def clear(e):\n" + "".join(f" e.{n} = None\n" for n in FIELD_NAMES)
    set_all = "def set_all(e, v):\n (" + ", ".join(f"e.{n}" for n in FIELD_NAMES) + ",) = v\n"
    namespace: dict[str, Any] = {}
    exec(clear + set_all, namespace)  # generated from constant field names (see docstring)
    return namespace["clear"], namespace["set_all"]


_clear, _set_all = _compile_setters()
