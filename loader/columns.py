"""Typed warehouse columns for self-describing data: JSON Schema → DuckDB type, widening, and column names.

One column per schema **model**: `unstruct_event_<vendor>_<name>_<model>` (a STRUCT) and
`contexts_<vendor>_<name>_<model>` (a LIST of STRUCT), named as Snowplow's analytics SDKs do
(vendor `.`/`-` → `_`, name CamelCase → snake_case, lower-case). Its type is derived from the JSON
Schema of every version of that model the registry knows, merged so that it only ever widens.

Mapping (a type that cannot be represented falls back to JSON, never to an error):

| JSON Schema                                         | DuckDB                     |
|-----------------------------------------------------|----------------------------|
| `string`                                            | VARCHAR                    |
| `string` + `format: date-time`                      | TIMESTAMPTZ                |
| `string` + `format: date`                           | DATE                       |
| `integer`                                           | BIGINT                     |
| `number`, or `integer` and `number` together        | DOUBLE                     |
| `boolean`                                           | BOOLEAN                    |
| `enum` of one JSON kind (no `type`)                 | that kind's type           |
| `object` with `properties`                          | STRUCT (property names kept as they are) |
| `array` with one `items` schema                     | LIST of the item type      |
| `["T", "null"]`                                     | T (every column is nullable) |
| anything else (mixed types, `oneOf`/`anyOf`, free-form objects, tuple arrays) | JSON |

Widening (`widen`), applied across versions and against the column already in the warehouse:
equal types stay; BIGINT and DOUBLE give DOUBLE; two STRUCTs give the union of their fields
(each common field widened); two LISTs widen their items; any other pair gives JSON. A type is
therefore never narrowed, and a load never fails because a later version changed a type: the
column becomes wider (an existing column is rebuilt through JSON, keeping every value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from core.iglu import SchemaKey
from core.sdk_json import entity_column
from registry.data_reports import json_type

__all__ = [
    "BIGINT",
    "BOOLEAN",
    "DATE",
    "DOUBLE",
    "JSON",
    "TIMESTAMPTZ",
    "VARCHAR",
    "ColumnType",
    "ListOf",
    "Scalar",
    "StructOf",
    "column_name",
    "model_prefix",
    "schema_type",
    "type_from_json",
    "widen",
]


@dataclass(frozen=True, slots=True)
class Scalar:
    """A DuckDB scalar type by name (VARCHAR, BIGINT, DOUBLE, BOOLEAN, TIMESTAMPTZ, DATE, JSON)."""

    name: str

    def sql(self) -> str:
        return self.name

    def transform_spec(self) -> Any:
        return self.name

    def to_json(self) -> Any:
        return self.name


@dataclass(frozen=True, slots=True)
class StructOf:
    """A STRUCT; fields keep the order in which they were first seen (later versions append)."""

    fields: tuple[tuple[str, ColumnType], ...]

    def sql(self) -> str:
        inner = ", ".join(f"{quote_identifier(name)} {t.sql()}" for name, t in self.fields)
        return f"STRUCT({inner})"

    def transform_spec(self) -> Any:
        return {name: t.transform_spec() for name, t in self.fields}

    def to_json(self) -> Any:
        return {"struct": [[name, t.to_json()] for name, t in self.fields]}


@dataclass(frozen=True, slots=True)
class ListOf:
    """A LIST of one item type."""

    item: ColumnType

    def sql(self) -> str:
        return f"{self.item.sql()}[]"

    def transform_spec(self) -> Any:
        return [self.item.transform_spec()]

    def to_json(self) -> Any:
        return {"list": self.item.to_json()}


ColumnType = Scalar | StructOf | ListOf

VARCHAR = Scalar("VARCHAR")
BIGINT = Scalar("BIGINT")
DOUBLE = Scalar("DOUBLE")
BOOLEAN = Scalar("BOOLEAN")
TIMESTAMPTZ = Scalar("TIMESTAMPTZ")
DATE = Scalar("DATE")
JSON = Scalar("JSON")
_SCALARS = {t.name: t for t in (VARCHAR, BIGINT, DOUBLE, BOOLEAN, TIMESTAMPTZ, DATE, JSON)}
_MAX_DEPTH = 32  # deeper nesting (or a recursive $ref) is kept as JSON


def quote_identifier(name: str) -> str:
    """A SQL identifier in double quotes (any property name is allowed)."""
    return '"' + name.replace('"', '""') + '"'


def type_from_json(value: Any) -> ColumnType:
    """Inverse of `ColumnType.to_json` (the warehouse keeps each column's type in this form)."""
    if isinstance(value, str):
        return _SCALARS.get(value, JSON)
    if isinstance(value, dict) and "list" in value:
        return ListOf(type_from_json(value["list"]))
    if isinstance(value, dict) and "struct" in value:
        return StructOf(tuple((str(name), type_from_json(t)) for name, t in value["struct"]))
    return JSON


def dumps_type(t: ColumnType) -> str:
    return orjson.dumps(t.to_json()).decode()


def widen(a: ColumnType, b: ColumnType) -> ColumnType:
    """The narrowest type holding every value of `a` and of `b` (see the module's table)."""
    if a == b:
        return a
    if {a, b} == {BIGINT, DOUBLE}:
        return DOUBLE
    if isinstance(a, StructOf) and isinstance(b, StructOf):
        merged: dict[str, ColumnType] = dict(a.fields)
        for name, t in b.fields:
            merged[name] = widen(merged[name], t) if name in merged else t
        return StructOf(tuple(merged.items()))
    if isinstance(a, ListOf) and isinstance(b, ListOf):
        return ListOf(widen(a.item, b.item))
    return JSON


def schema_type(schema: Any, depth: int = 0) -> ColumnType:
    """The DuckDB type of values valid against `schema` (a JSON Schema object); JSON when it cannot be typed."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return JSON
    if any(k in schema for k in ("oneOf", "anyOf", "allOf", "$ref", "not")):
        return JSON
    declared = schema.get("type")
    if declared is None and isinstance(schema.get("enum"), list):
        kinds = {json_type(v) for v in schema["enum"]} - {"null"}
        declared = list(kinds)
    if declared is None:
        if isinstance(schema.get("properties"), dict):
            declared = "object"
        elif "items" in schema:
            declared = "array"
        else:
            return JSON
    kinds = {declared} if isinstance(declared, str) else set(declared) if isinstance(declared, list) else set()
    kinds.discard("null")
    if kinds == {"integer", "number"}:
        return DOUBLE
    if len(kinds) != 1:
        return JSON
    kind = next(iter(kinds))
    if kind == "string":
        fmt = schema.get("format")
        return TIMESTAMPTZ if fmt == "date-time" else DATE if fmt == "date" else VARCHAR
    if kind == "integer":
        return BIGINT
    if kind == "number":
        return DOUBLE
    if kind == "boolean":
        return BOOLEAN
    if kind == "object":
        props = schema.get("properties")
        if not isinstance(props, dict) or not props:
            return JSON
        return StructOf(tuple((str(name), schema_type(sub, depth + 1)) for name, sub in props.items()))
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, dict):
            return JSON
        return ListOf(schema_type(items, depth + 1))
    return JSON


def model_prefix(key: SchemaKey) -> str:
    """`iglu:vendor/name/format/MODEL-`: the prefix every schema URI of this key's model starts with."""
    return f"iglu:{key.vendor}/{key.name}/{key.format}/{key.version.model}-"


def column_name(kind: str, key: SchemaKey) -> str:
    """`unstruct_event_com_acme_checkout_1` / `contexts_com_acme_user_context_1` (kind: unstruct_event | contexts)."""
    if kind not in ("unstruct_event", "contexts"):
        raise ValueError(f"column kind must be unstruct_event or contexts, not {kind!r}")
    return entity_column(kind, key)
