"""JSON Schema → logical types, their DuckDB spelling, widening, and Snowplow's column naming."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.iglu import SchemaKey
from loader.columns import (
    BOOLEAN,
    DATE,
    FLOAT,
    INTEGER,
    JSON,
    STRING,
    TIMESTAMP,
    ColumnType,
    ListOf,
    Scalar,
    StructOf,
    column_name,
    schema_type,
    widen,
)
from loader.destinations.duckdb_tables import duckdb_type, stored_type, type_from_stored

# The historical names, so the table below reads like the mapping table in loader/columns.py.
VARCHAR, BIGINT, DOUBLE, TIMESTAMPTZ = STRING, INTEGER, FLOAT, TIMESTAMP


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, VARCHAR),
        ({"type": "string", "format": "date-time"}, TIMESTAMPTZ),
        ({"type": "string", "format": "date"}, DATE),
        ({"type": "string", "format": "email"}, VARCHAR),
        ({"type": "integer"}, BIGINT),
        ({"type": "number"}, DOUBLE),
        ({"type": ["integer", "number"]}, DOUBLE),
        ({"type": "boolean"}, BOOLEAN),
        ({"type": ["string", "null"]}, VARCHAR),
        ({"enum": ["a", "b", None]}, VARCHAR),
        ({"enum": [1, 2]}, BIGINT),
        ({"enum": ["a", 1]}, JSON),
        ({"type": ["string", "integer"]}, JSON),
        ({"type": "object"}, JSON),
        ({"type": "object", "properties": {}}, JSON),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, JSON),
        ({"type": "array"}, JSON),
        ({"type": "array", "items": [{"type": "string"}]}, JSON),
        ({"type": "array", "items": {"type": "string"}}, ListOf(VARCHAR)),
        ({"properties": {"a": {"type": "integer"}}}, StructOf((("a", BIGINT),))),
        ({}, JSON),
    ],
)
def test_schema_types_follow_the_mapping_table(schema: dict[str, Any], expected: ColumnType) -> None:
    """Each JSON Schema construct maps to the logical type the module's table promises (JSON when untypable)."""
    assert schema_type(schema) == expected


def test_nested_objects_and_arrays_become_structs_and_lists() -> None:
    """Objects nest as STRUCTs, arrays of objects as LISTs of STRUCT, property order kept."""
    schema = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}},
            "dims": {"type": ["object", "null"], "properties": {"w": {"type": "number"}}},
        },
    }
    assert schema_type(schema) == StructOf(
        (("items", ListOf(StructOf((("sku", VARCHAR),)))), ("dims", StructOf((("w", DOUBLE),))))
    )


def test_widening_rules() -> None:
    """BIGINT+DOUBLE → DOUBLE, STRUCTs union their fields, LISTs widen items, other pairs → JSON."""
    assert widen(BIGINT, DOUBLE) == DOUBLE
    assert widen(DOUBLE, BIGINT) == DOUBLE
    assert widen(VARCHAR, BIGINT) == JSON
    assert widen(StructOf((("a", BIGINT),)), StructOf((("a", DOUBLE), ("b", VARCHAR)))) == StructOf(
        (("a", DOUBLE), ("b", VARCHAR))
    )
    assert widen(ListOf(BIGINT), ListOf(DOUBLE)) == ListOf(DOUBLE)
    assert widen(ListOf(BIGINT), StructOf((("a", BIGINT),))) == JSON


_SCALARS = st.sampled_from([VARCHAR, BIGINT, DOUBLE, BOOLEAN, TIMESTAMPTZ, DATE, JSON])
_NAMES = st.sampled_from(["a", "b", "c", "Weird name", 'q"uote'])
column_types: st.SearchStrategy[ColumnType] = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.builds(ListOf, inner),
        st.lists(st.tuples(_NAMES, inner), min_size=1, max_size=4, unique_by=lambda f: f[0]).map(
            lambda fields: StructOf(tuple(fields))
        ),
    ),
    max_leaves=8,
)


def _canonical(t: ColumnType) -> Any:
    """The type with struct fields sorted, to compare types up to field order."""
    if isinstance(t, StructOf):
        return ("struct", tuple(sorted((n, _canonical(f)) for n, f in t.fields)))
    if isinstance(t, ListOf):
        return ("list", _canonical(t.item))
    return t.name


@given(column_types, column_types)
def test_widen_is_an_upper_bound_and_never_narrows(a: ColumnType, b: ColumnType) -> None:
    """widen(a, b) absorbs both inputs (widening again changes nothing) and is symmetric up to field order."""
    w = widen(a, b)
    assert _canonical(widen(w, a)) == _canonical(w)
    assert _canonical(widen(w, b)) == _canonical(w)
    assert _canonical(widen(b, a)) == _canonical(w)
    assert widen(a, a) == a


@given(column_types)
def test_types_survive_their_stored_form_and_are_valid_duckdb(t: ColumnType) -> None:
    """DuckDB stores each column's type as JSON and reads it back unchanged; its spelling is a type DuckDB accepts."""
    assert type_from_stored(stored_type(t)) == t
    duckdb.sql(f"SELECT CAST(NULL AS {duckdb_type(t)}) AS x").fetchall()


def test_the_stored_form_keeps_duckdb_type_names() -> None:
    """`_eventkit_columns` rows written before the logical types existed read back as the same types."""
    old = {"struct": [["sku", "VARCHAR"], ["rating", "DOUBLE"], ["at", "TIMESTAMPTZ"], ["tags", {"list": "VARCHAR"}]]}
    t = type_from_stored(old)
    assert t == StructOf((("sku", STRING), ("rating", FLOAT), ("at", TIMESTAMP), ("tags", ListOf(STRING))))
    assert stored_type(t) == old
    assert duckdb_type(t) == 'STRUCT("sku" VARCHAR, "rating" DOUBLE, "at" TIMESTAMPTZ, "tags" VARCHAR[])'


@pytest.mark.parametrize(
    ("uri", "kind", "expected"),
    [
        ("iglu:com.acme/checkout/jsonschema/1-0-0", "unstruct_event", "unstruct_event_com_acme_checkout_1"),
        ("iglu:com.acme-shop/userContext/jsonschema/2-1-0", "contexts", "contexts_com_acme_shop_user_context_2"),
        (
            "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
            "contexts",
            "contexts_com_snowplowanalytics_snowplow_web_page_1",
        ),
        ("iglu:com.Acme/LinkClick/jsonschema/1-0-1", "unstruct_event", "unstruct_event_com_acme_link_click_1"),
    ],
)
def test_column_names_follow_the_analytics_sdk(uri: str, kind: str, expected: str) -> None:
    """Vendor `.`/`-` → `_`, CamelCase → snake_case, lower-case, model number (snowplow.md §3.2)."""
    assert column_name(kind, SchemaKey.parse(uri)) == expected


def test_unknown_column_kind_is_refused() -> None:
    """Only unstruct_event and contexts columns exist."""
    with pytest.raises(ValueError, match="column kind"):
        column_name("derived", SchemaKey.parse("iglu:a/b/jsonschema/1-0-0"))


def test_unknown_type_names_read_back_as_json() -> None:
    """A type name this version does not know is read as JSON (the widest), never as an error."""
    assert type_from_stored("HUGEINT") == JSON
    assert type_from_stored({"odd": 1}) == JSON
    assert isinstance(type_from_stored("VARCHAR"), Scalar)
