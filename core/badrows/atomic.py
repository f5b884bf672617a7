"""The 131 atomic fields as the bad-row schemas type them: once as a partially enriched event, once as a loader event.

The shapes follow the published schemas (schema_violations 2-0-1 `payload.enriched` and
loader_runtime_error 1-0-1 `payload`); the fields, their order, kinds and limits come from the one
atomic table, `core.atomic`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from core.atomic import ATOMIC_FIELDS, FIELD_NAMES, Kind
from core.badrows.limits import fit, is_instant
from core.raw import format_instant

__all__ = [
    "normalise_loader_event",
    "normalise_partially_enriched",
]

# How the two bad-row payload shapes type each value kind of the atomic table.
_PARTIAL_KINDS: dict[Kind, str] = {
    "str": "string",
    "int": "integer",
    "dec": "string",
    "float": "number",
    "bool": "integer",
    "ts": "string",
    "json": "string",
}
_LOADER_KINDS: dict[Kind, str] = {
    "str": "string",
    "int": "integer",
    "dec": "number",
    "float": "number",
    "bool": "boolean",
    "ts": "string",
    "json": "object",
}
# Snowplow's PartiallyEnrichedEvent keeps txn_id as it arrived (a string), unlike the loader event.
_PARTIAL_EXCEPTIONS: dict[str, str] = {"txn_id": "string"}

# (name, kind in a partially enriched event) and (name, kind in a loader event, nullable, loader
# maxLength, date-time), in TSV order, from the one atomic table in core.atomic.
_PARTIAL_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (f.name, _PARTIAL_EXCEPTIONS.get(f.name, _PARTIAL_KINDS[f.kind])) for f in ATOMIC_FIELDS
)
_LOADER_FIELDS: tuple[tuple[str, str, bool, int | None, bool], ...] = tuple(
    (f.name, _LOADER_KINDS[f.kind], f.nullable, f.schema_max_length, f.kind == "ts") for f in ATOMIC_FIELDS
)

_NAMES = frozenset(FIELD_NAMES)
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
    unknown = set(event) - _NAMES
    if unknown:
        raise ValueError(f"{what}: not atomic fields: {sorted(unknown)[:5]}")


def normalise_partially_enriched(event: dict[str, Any]) -> dict[str, Any]:
    """Every atomic field, in order, typed as schema_violations/enrichment_failures want (missing → null).

    Values of the wrong kind become null (a partially enriched event may hold anything); unknown
    names are a programming error (ValueError). Idempotent.
    """
    _check_names(event, "partially enriched event")
    out: dict[str, Any] = {}
    for name, kind in _PARTIAL_FIELDS:
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
    for name, kind, nullable, limit, instant in _LOADER_FIELDS:
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
