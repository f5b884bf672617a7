"""Flat string-record schemas (tracker payload_data and alike) checked with set operations, not generated code.

fastjsonschema's code for an object schema tests each declared property in turn: payload_data declares
80, so every event costs 80 branches (~16 us per event, the largest single validation cost in enrich).
A schema built only from the keywords below is checked here with a few C-level set operations instead;
any other schema gets None and keeps the generated code. The check accepts exactly what the generated
code accepts (tests/registry/test_flat_records.py compares both on generated schemas and instances);
on a rejection the validator asks the full validator for the report, as with the generated code.

    object:  {"type": "object", "properties": {name: {"type": "string"}, ...},
              "required": [...], "additionalProperties": true | false}
    array:   {"type": "array", "items": <object>, "minItems": n, "maxItems": m}
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import Any

from fastjsonschema import JsonSchemaValueException

__all__ = ["flat_record_check"]

_NOTES = frozenset(("description", "title", "$schema"))
_OBJECT_KEYWORDS = frozenset(("type", "properties", "required", "additionalProperties")) | _NOTES
_ARRAY_KEYWORDS = frozenset(("type", "items", "minItems", "maxItems")) | _NOTES
_STRING_KEYWORDS = frozenset(("type",)) | _NOTES

Check = Callable[[Any], Any]


def _rejected(data: Any) -> Any:
    raise JsonSchemaValueException("data does not match the flat record schema", value=data)


def _is_string_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "string" and schema.keys() <= _STRING_KEYWORDS


def _object_test(schema: Any) -> Callable[[Any], bool] | None:
    """A predicate for one record, or None when `schema` is not a flat string record."""
    if not isinstance(schema, dict) or schema.get("type") != "object" or not schema.keys() <= _OBJECT_KEYWORDS:
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not all(map(_is_string_schema, properties.values())):
        return None
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        return None
    if additional is not True and additional is not False:
        return None
    names, needed = frozenset(properties), frozenset(required)

    if additional is False:

        def closed(record: Any) -> bool:
            return (
                isinstance(record, dict)
                and record.keys() <= names
                and needed <= record.keys()
                and all(map(isinstance, record.values(), repeat(str)))
            )

        return closed

    def open_record(record: Any) -> bool:
        return (
            isinstance(record, dict)
            and needed <= record.keys()
            and all(isinstance(record[name], str) for name in names & record.keys())
        )

    return open_record


def _bound(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def flat_record_check(schema: Any) -> Check | None:
    """A fastjsonschema-style check (returns the data, raises JsonSchemaValueException) or None if not flat."""
    record = _object_test(schema)
    if record is not None:
        test = record

        def check_record(data: Any) -> Any:
            return data if test(data) else _rejected(data)

        return check_record
    if not isinstance(schema, dict) or schema.get("type") != "array" or not schema.keys() <= _ARRAY_KEYWORDS:
        return None
    item = _object_test(schema.get("items"))
    low, high = _bound(schema.get("minItems", 0)), _bound(schema.get("maxItems", 0))
    if item is None or low is None or high is None:
        return None
    most = high if "maxItems" in schema else None

    def check_records(data: Any) -> Any:
        if (
            isinstance(data, (list, tuple))
            and len(data) >= low
            and (most is None or len(data) <= most)
            and all(map(item, data))
        ):
            return data
        return _rejected(data)

    return check_records
