"""The analytics-SDK JSON form of an enriched event (what Micro's `event`, and most loaders, show).

Every atomic field becomes a key (nulls kept), with `refr_dvce_tstamp` spelt `refr_device_tstamp`
as the SDKs do; timestamps become ISO-8601 `…Z` with milliseconds, decimals JSON numbers, booleans
true/false. The three JSON columns are shredded: each entity of `contexts` / `derived_contexts`
goes into an array under `contexts_<vendor>_<name>_<model>`, the self-describing event of
`unstruct_event` under `unstruct_event_<vendor>_<name>_<model>`; vendor `.`/`-` become `_`, the
name goes from CamelCase to snake_case, everything lower-case, and each entity object gets
`_schema_version` (the SchemaVer of its schema) as the Scala SDK adds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

import orjson

from core.atomic import ATOMIC_FIELDS
from core.iglu import SchemaKey
from core.raw import format_instant

__all__ = ["SDK_NAMES", "AtomicEvent", "entity_column", "to_sdk_json"]


class AtomicEvent(Protocol):
    """An enriched event as an object whose attributes are the 131 atomic fields (enrich's `EnrichedEvent`).

    Only the three JSON columns are spelt out; the others are read by name from `core.atomic`.
    """

    @property
    def contexts(self) -> str | None: ...
    @property
    def derived_contexts(self) -> str | None: ...
    @property
    def unstruct_event(self) -> str | None: ...


_JSON_COLUMNS = frozenset({"contexts", "derived_contexts", "unstruct_event"})
SDK_NAMES: dict[str, str] = {f.name: f.name for f in ATOMIC_FIELDS} | {"refr_dvce_tstamp": "refr_device_tstamp"}
_CAMEL = re.compile(r"([^A-Z_])([A-Z])")


def _dec(v: Decimal) -> Any:
    return int(v) if v == v.to_integral_value() and abs(v) < 2**53 else float(v)


def _same(v: Any) -> Any:
    return v


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "ts": format_instant,
    "dec": _dec,
    "bool": bool,
}
_FIELDS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = tuple(
    (f.name, SDK_NAMES[f.name], _CONVERT.get(f.kind, _same)) for f in ATOMIC_FIELDS if f.name not in _JSON_COLUMNS
)


def entity_column(prefix: str, key: SchemaKey) -> str:
    """`contexts_com_acme_user_context_1` for prefix `contexts` and `iglu:com.acme/userContext/jsonschema/1-0-0`."""
    vendor = key.vendor.replace(".", "_").replace("-", "_")
    name = _CAMEL.sub(r"\1_\2", key.name).replace("-", "_").lower()
    return f"{prefix}_{vendor.lower()}_{name}_{key.version.model}"


def _with_version(data: Any, key: SchemaKey) -> Any:
    if isinstance(data, dict):
        return {"_schema_version": str(key.version), **data}
    return data


def _shred_contexts(text: str, out: dict[str, Any]) -> None:
    doc = orjson.loads(text)
    for entity in doc.get("data") or []:
        key = SchemaKey.parse(entity["schema"])
        out.setdefault(entity_column("contexts", key), []).append(_with_version(entity.get("data"), key))


def _shred_unstruct(text: str, out: dict[str, Any]) -> None:
    inner = orjson.loads(text).get("data")
    if isinstance(inner, dict) and isinstance(inner.get("schema"), str):
        key = SchemaKey.parse(inner["schema"])
        out[entity_column("unstruct_event", key)] = _with_version(inner.get("data"), key)


def to_sdk_json(event: AtomicEvent) -> dict[str, Any]:
    """The analytics-SDK JSON object of a good event (JSON columns must be valid self-describing JSON)."""
    out: dict[str, Any] = {}
    for name, sdk_name, convert in _FIELDS:
        v = getattr(event, name)
        out[sdk_name] = None if v is None else convert(v)
    if event.unstruct_event:
        _shred_unstruct(event.unstruct_event, out)
    if event.contexts:
        _shred_contexts(event.contexts, out)
    if event.derived_contexts:
        _shred_contexts(event.derived_contexts, out)
    return out
