"""The `failure` shapes of loader_parsing_error and loader_iglu_error, checked and fitted to their schemas.

Loaders pass plain JSON dicts (the analytics-SDK error shapes, snowplow.md §4.3); these functions
raise ValueError for a shape the schema would refuse and cut texts to the schema limits. Both
are idempotent.
"""

from __future__ import annotations

from typing import Any

from core.badrows.iglu_errors import normalise_iglu_client_error
from core.badrows.limits import fit

__all__ = ["normalise_loader_iglu_failure", "normalise_parsing_failure"]

_FIELD_COUNT_MAX = 1024
_KEY_LIMIT = 32


def normalise_parsing_failure(failure: Any) -> dict[str, Any]:
    """`{"type": "NotTSV"}` | `{"type": "FieldNumberMismatch", "fieldCount"}` | `{"type": "RowDecodingError", ...}`."""
    if not isinstance(failure, dict):
        raise ValueError("loader parsing failure: expected a JSON object")
    kind = failure.get("type")
    if kind == "NotTSV":
        return {"type": kind}
    if kind == "FieldNumberMismatch":
        count = failure.get("fieldCount")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError("FieldNumberMismatch.fieldCount: expected an integer >= 0")
        return {"type": kind, "fieldCount": min(count, _FIELD_COUNT_MAX)}
    if kind == "RowDecodingError":
        errors = failure.get("errors")
        if not isinstance(errors, list) or not errors:
            raise ValueError("RowDecodingError.errors: expected a non-empty list")
        return {"type": kind, "errors": [_row_decoding_error(e) for e in errors]}
    raise ValueError(f"loader parsing failure: unknown type {kind!r}")


def _row_decoding_error(error: Any) -> dict[str, Any]:
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        raise ValueError("RowDecodingError.errors: expected objects with a message")
    if error.get("type") == "InvalidValue":
        key, value = error.get("key"), error.get("value")
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError("InvalidValue: expected string key and value")
        return {"type": "InvalidValue", "key": fit(key, _KEY_LIMIT), "value": value, "message": error["message"]}
    if error.get("type") == "UnhandledRowDecodingError":
        return {"type": "UnhandledRowDecodingError", "message": error["message"]}
    raise ValueError(f"RowDecodingError: unknown error type {error.get('type')!r}")


def normalise_loader_iglu_failure(failure: Any) -> dict[str, Any]:
    """One of IgluError `{schemaKey, error}`, InvalidSchema `{schemaKey, message}`, SchemaListNotFound
    `{schemaCriterion, error}`, WrongType/NotAnArray `{schemaKey, value, expected}`, MissingInValue
    `{schemaKey, key, value}`."""
    if not isinstance(failure, dict):
        raise ValueError("loader iglu failure: expected a JSON object")
    keys = set(failure)
    if keys == {"schemaKey", "error"}:
        return {"schemaKey": _str(failure, "schemaKey"), "error": normalise_iglu_client_error(failure["error"])}
    if keys == {"schemaKey", "message"}:
        return {"schemaKey": _str(failure, "schemaKey"), "message": _str(failure, "message")}
    if keys == {"schemaCriterion", "error"}:
        return {
            "schemaCriterion": _str(failure, "schemaCriterion"),
            "error": normalise_iglu_client_error(failure["error"]),
        }
    if keys == {"schemaKey", "value", "expected"}:
        expected = _str(failure, "expected")
        return {"schemaKey": _str(failure, "schemaKey"), "value": failure["value"], "expected": expected}
    if keys == {"schemaKey", "key", "value"}:
        return {"schemaKey": _str(failure, "schemaKey"), "key": failure["key"], "value": failure["value"]}
    raise ValueError(f"loader iglu failure with keys {sorted(keys)} matches no known variant")


def _str(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string")
    return value
