"""Flat string-record checks accept exactly what the generated code accepts; other schemas are left to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from registry.flat_records import MIN_MIXED_PROPERTIES, flat_record_check
from registry.schema_compiler import validation_schema

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
NAMES = ["e", "p", "tv", "aid", "url", "x-y"]

strings = st.sampled_from(["", "a", "b", "ab", "1"]) | st.text(alphabet="abc1", max_size=3)
scalars = st.one_of(strings, st.integers(-2, 2), st.booleans(), st.none(), st.floats(allow_nan=False))
values = st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(strings, scalars, max_size=2))
records = st.dictionaries(st.sampled_from([*NAMES, "other"]), values, max_size=7)
instances = st.one_of(records, st.lists(records, max_size=4), scalars, st.lists(scalars, max_size=2))


_TYPE_NAMES = st.sampled_from(["string", "boolean", "null"])
_ENUMS = st.lists(st.sampled_from(["a", "b", "ab", "1", None]), min_size=1, max_size=3, unique=True)
property_schemas = st.one_of(
    st.just({"type": "string"}),
    st.builds(lambda t: {"type": t}, _TYPE_NAMES),
    st.builds(lambda ts: {"type": ts}, st.lists(_TYPE_NAMES, min_size=1, max_size=3, unique=True)),
    st.builds(lambda e: {"enum": e}, _ENUMS),
    st.builds(lambda t, e: {"type": t, "enum": e, "description": "d"}, _TYPE_NAMES, _ENUMS),
)


@st.composite
def flat_object_schemas(draw: st.DrawFn) -> dict[str, Any]:
    """Object schemas of the flat shape: string/boolean/null/enum properties, a required list, open or closed."""
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    schema: dict[str, Any] = {"type": "object", "properties": {n: draw(property_schemas) for n in names}}
    required = draw(st.lists(st.sampled_from([*NAMES, "other"]), unique=True, max_size=3))
    if required:
        schema["required"] = required
    additional = draw(st.sampled_from([None, True, False]))
    if additional is not None:
        schema["additionalProperties"] = additional
    if draw(st.booleans()):
        schema["description"] = "a record"
    return schema


@st.composite
def flat_schemas(draw: st.DrawFn) -> dict[str, Any]:
    """A flat object schema, or an array of them with optional item bounds."""
    record = draw(flat_object_schemas())
    if draw(st.booleans()):
        return record
    schema: dict[str, Any] = {"type": "array", "items": record}
    low, high = draw(st.none() | st.integers(0, 3)), draw(st.none() | st.integers(0, 4))
    if low is not None:
        schema["minItems"] = low
    if high is not None:
        schema["maxItems"] = high
    return schema


def _accepts(check: Any, data: Any) -> bool:
    try:
        check(data)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@st.composite
def records_for(draw: st.DrawFn, schema: dict[str, Any]) -> Any:
    """Instances near the schema's boundary: mostly records with its required names, values of every kind."""
    record_schema = schema["items"] if schema["type"] == "array" else schema
    names = [*record_schema.get("properties", {}), *record_schema.get("required", []), "other"]

    def record() -> dict[str, Any]:
        keys = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
        if draw(st.integers(0, 9)) < 7:
            keys = list(dict.fromkeys([*record_schema.get("required", []), *keys]))
        return {key: draw(values) for key in keys}

    if schema["type"] == "array" and draw(st.integers(0, 9)) < 8:
        return [record() for _ in range(draw(st.integers(0, 4)))]
    if schema["type"] == "object" and draw(st.integers(0, 9)) < 8:
        return record()
    return draw(instances)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_flat_check_agrees_with_generated_code(data: st.DataObject) -> None:
    """For every flat schema and instance, the set-based check and fastjsonschema (else jsonschema) agree."""
    schema = data.draw(flat_schemas())
    datas = [data.draw(records_for(schema)) for _ in range(8)]
    flat = flat_record_check(schema, min_properties=0)
    assert flat is not None
    try:
        generated = fastjsonschema.compile(schema)
    except fastjsonschema.JsonSchemaDefinitionException:  # e.g. required names it forbids: the reference decides
        reference = Draft4Validator(schema)
        for instance in datas:
            assert _accepts(flat, instance) == reference.is_valid(instance), (schema, instance)
        return
    for instance in datas:
        assert _accepts(flat, instance) == _accepts(generated, instance), (schema, instance)


def test_payload_data_is_flat_and_checked_exactly() -> None:
    """Every bundled payload_data version is recognised; a good batch passes, each kind of bad batch is refused."""
    for path in sorted((SCHEMAS / "com.snowplowanalytics.snowplow/payload_data/jsonschema").iterdir()):
        check = flat_record_check(validation_schema(json.loads(path.read_text())))
        assert check is not None, path.name
        good = [{"e": "pv", "p": "web", "tv": "js-3"}]
        assert check(good) is good
        for bad in ([], [{"e": "pv", "p": "web"}], [{"e": "pv", "p": "web", "tv": 3}], {"e": "pv"}):
            assert not _accepts(check, bad), (path.name, bad)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}},
        {"type": "object", "properties": {"a": {"type": "integer"}}},
        {"type": "object", "properties": {"a": {"enum": [1, "x"]}}},
        {"type": "object", "properties": {"a": {"type": ["string", "number"]}}},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
        {"type": ["object", "null"], "properties": {}},
        {"properties": {"a": {"type": "string"}}},
        {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": [{"type": "object"}]},
        {"type": "array", "items": {"type": "object"}, "uniqueItems": True},
        {"type": "object", "properties": {"a": {"type": "string"}}, "minProperties": 1},
    ],
)
def test_other_schemas_keep_the_generated_code(schema: dict[str, Any]) -> None:
    """Any keyword outside the flat shape (or a non-string property) leaves the schema to fastjsonschema."""
    assert flat_record_check(schema, min_properties=0) is None


def test_small_mixed_records_keep_the_generated_code() -> None:
    """Below MIN_MIXED_PROPERTIES only single-type closed records are taken over (http_header is not)."""
    header = {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": ["string", "null"]}}}
    assert flat_record_check(header) is None
    assert flat_record_check({**header, "properties": {"name": {"type": "string"}}, "additionalProperties": False})
    many = {f"p{i}": {"type": ["string", "null"]} for i in range(MIN_MIXED_PROPERTIES)}
    assert flat_record_check({"type": "object", "properties": {**many, "x": {"type": "string"}}}) is not None
