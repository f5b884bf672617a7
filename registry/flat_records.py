"""Flat string-record schemas (tracker payload_data and alike) checked with set operations, not generated code.

fastjsonschema's code for an object schema tests each declared property in turn: payload_data declares
80, so every event costs 80 branches (~16 us per event, the largest single validation cost in enrich).
A schema built only from the keywords below is checked here with a few C-level set operations instead;
any other schema gets None and keeps the generated code. The check accepts exactly what the generated
code accepts (tests/registry/test_flat_records.py compares both on generated schemas and instances);
on a rejection the validator asks the full validator for the report, as with the generated code.

    object:    {"type": "object", "properties": {name: <property>, ...},
                "required": [...], "additionalProperties": true | false}
    array:     {"type": "array", "items": <object>, "minItems": n, "maxItems": m}
    property:  {"type": T} and/or {"enum": [strings and null]}, T one of or a list of string/boolean/null

Many Iglu contexts (http_header, ua_parser_context ...) have this shape too, but for a dozen properties
the generated code is as fast, so mixed-type records are only taken over from MIN_MIXED_PROPERTIES on.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import Any

from fastjsonschema import JsonSchemaValueException

__all__ = ["MIN_MIXED_PROPERTIES", "flat_record_check"]

MIN_MIXED_PROPERTIES = 16

_NOTES = frozenset(("description", "title", "$schema"))
_OBJECT_KEYWORDS = frozenset(("type", "properties", "required", "additionalProperties")) | _NOTES
_ARRAY_KEYWORDS = frozenset(("type", "items", "minItems", "maxItems")) | _NOTES
_PROPERTY_KEYWORDS = frozenset(("type", "enum")) | _NOTES
_TYPES: dict[str, type] = {"string": str, "boolean": bool, "null": type(None)}
_STRING_OR_NULL = (str, type(None))

Check = Callable[[Any], Any]
# A property's test: the Python types its value may have (isinstance), and the enum members if any.
PropertyTest = tuple[tuple[type, ...] | None, frozenset[str | None] | None]


def _rejected(data: Any) -> Any:
    raise JsonSchemaValueException("data does not match the flat record schema", value=data)


def _property_test(schema: Any) -> PropertyTest | None:
    if not isinstance(schema, dict) or not schema.keys() <= _PROPERTY_KEYWORDS:
        return None
    types: tuple[type, ...] | None = None
    members: frozenset[str | None] | None = None
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not names or not all(isinstance(n, str) and n in _TYPES for n in names):
            return None
        types = tuple(dict.fromkeys(_TYPES[n] for n in names))
    if "enum" in schema:
        enum = schema["enum"]
        if not isinstance(enum, list) or not all(m is None or type(m) is str for m in enum):
            return None
        members = frozenset(enum)
    return (types, members) if types is not None or members is not None else None


def _value_ok(value: Any, test: PropertyTest) -> bool:
    types, members = test
    if types is not None and not isinstance(value, types):
        return False
    # enum members are strings or null: any other value equals none of them (and may be unhashable)
    return members is None or (isinstance(value, _STRING_OR_NULL) and value in members)


def _object_test(schema: Any, min_properties: int) -> Callable[[Any], bool] | None:
    """A predicate for one record, or None when `schema` is not a flat record (or a small mixed one)."""
    if not isinstance(schema, dict) or schema.get("type") != "object" or not schema.keys() <= _OBJECT_KEYWORDS:
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, dict):
        return None
    tests = {name: _property_test(sub) for name, sub in properties.items()}
    if any(test is None for test in tests.values()):
        return None
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        return None
    if additional is not True and additional is not False:
        return None
    names, needed = frozenset(properties), frozenset(required)
    kinds = {test for test in tests.values() if test is not None}
    uniform = next(iter(kinds))[0] if len(kinds) == 1 and next(iter(kinds))[1] is None else None
    checks: dict[str, PropertyTest] = {name: test for name, test in tests.items() if test is not None}

    if additional is False and uniform is not None:  # e.g. payload_data: every value a string

        def closed_uniform(record: Any) -> bool:
            return (
                isinstance(record, dict)
                and record.keys() <= names
                and needed <= record.keys()
                and all(map(isinstance, record.values(), repeat(uniform)))
            )

        return closed_uniform

    if len(properties) < min_properties:  # few properties: the generated code is as fast (measured)
        return None

    # Plain-typed properties are checked in one C-level pass over those present; enum ones one by one.
    simple = {name: test[0] for name, test in checks.items() if test[1] is None and test[0] is not None}
    enums = {name: test for name, test in checks.items() if name not in simple}
    simple_names, enum_names, closed = frozenset(simple), frozenset(enums), additional is False

    def record_ok(record: Any) -> bool:
        if not isinstance(record, dict) or not needed <= record.keys():
            return False
        if closed and not record.keys() <= names:
            return False
        present = simple_names & record.keys()  # one set, iterated twice in the same order
        if present and not all(map(isinstance, map(record.__getitem__, present), map(simple.__getitem__, present))):
            return False
        return not enum_names or all(_value_ok(record[name], enums[name]) for name in enum_names & record.keys())

    return record_ok


def _bound(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def flat_record_check(schema: Any, *, min_properties: int = MIN_MIXED_PROPERTIES) -> Check | None:
    """A fastjsonschema-style check (returns the data, raises JsonSchemaValueException) or None if not flat.

    Records whose properties are not all of one type are only taken from `min_properties` declared
    properties on: below that the generated code is as fast (tests pass 0 to check the logic anyway).
    """
    record = _object_test(schema, min_properties)
    if record is not None:
        test = record

        def check_record(data: Any) -> Any:
            return data if test(data) else _rejected(data)

        return check_record
    if not isinstance(schema, dict) or schema.get("type") != "array" or not schema.keys() <= _ARRAY_KEYWORDS:
        return None
    item = _object_test(schema.get("items"), min_properties)
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
