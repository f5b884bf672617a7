"""Iglu `dataReports` from jsonschema errors: one report per failed keyword, with a JSONPath, keyword and targets.

Shape (iglu-scala-client's ValidatorReport): `{"message", "path", "keyword", "targets"}`, e.g.
`{"message": "$.price: string found, number expected", "path": "$.price", "keyword": "type",
"targets": ["string", "number"]}`. Messages follow networknt's wording where we know it; only the
structure is a contract.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from jsonschema.exceptions import ValidationError

from registry.schema_compiler import additional_properties

__all__ = ["depth_report", "json_path", "json_type", "reports_for"]

_PLAIN_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")


def json_path(parts: Iterable[str | int]) -> str:
    """`$`, `$.price`, `$.items[0].sku`, `$['odd key']` for a path into an instance."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_NAME.match(part):
            out.append(f".{part}")
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            out.append(f"['{escaped}']")
    return "".join(out)


def json_type(value: Any) -> str:
    """The JSON type name of a Python value decoded from JSON (`integer` vs `number` as draft-04 sees them)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _child(path: str, name: str) -> str:
    return path + json_path([name])[1:]


def _missing(error: ValidationError) -> list[str]:
    instance = error.instance
    required: Sequence[Any] = error.validator_value if isinstance(error.validator_value, list) else []
    if not isinstance(instance, dict):
        return []
    missing = [name for name in required if isinstance(name, str) and name not in instance]
    named = [name for name in missing if error.message == f"{name!r} is a required property"]
    return named or missing


def _unexpected(error: ValidationError) -> list[str]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance if isinstance(error.instance, dict) else {}
    return additional_properties(instance, schema)


def reports_for(errors: Iterable[ValidationError]) -> list[dict[str, Any]]:
    """One dataReport per error (per missing / unexpected property for `required` / `additionalProperties`)."""
    reports: list[dict[str, Any]] = []
    for error in errors:
        path = json_path(error.absolute_path)
        keyword = str(error.validator)
        value = error.validator_value
        if keyword == "required":
            for name in _missing(error):
                message = f"{_child(path, name)}: is missing but it is required"
                reports.append({"message": message, "path": path, "keyword": keyword, "targets": [name]})
            continue
        if keyword == "additionalProperties" and value is False:
            for name in _unexpected(error):
                message = (
                    f"{_child(path, name)}: is not defined in the schema and additional properties are not allowed"
                )
                reports.append({"message": message, "path": path, "keyword": keyword, "targets": [name]})
            continue
        if keyword == "type":
            expected = [str(t) for t in value] if isinstance(value, list) else [str(value)]
            found = json_type(error.instance)
            message = f"{path}: {found} found, {', '.join(expected)} expected"
            targets = [found, *expected]
        elif keyword == "enum" and isinstance(value, list):
            message = f"{path}: does not have a value in the enumeration [{', '.join(_text(v) for v in value)}]"
            targets = [_text(v) for v in value]
        elif keyword in ("format", "pattern") or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            message = f"{path}: {error.message}"
            targets = [_text(value)]
        else:
            message = f"{path}: {error.message}"
            targets = []
        reports.append({"message": message, "path": path, "keyword": keyword, "targets": targets})
    return reports


def depth_report(max_depth: int) -> dict[str, Any]:
    """The report for an instance nested deeper than the configured bound (checked before validation)."""
    return {
        "message": f"$: JSON nesting depth exceeds the maximum of {max_depth}",
        "path": "$",
        "keyword": "maxDepth",
        "targets": [str(max_depth)],
    }
