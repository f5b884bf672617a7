"""Typed warehouse columns for self-describing data: JSON Schema → logical type, widening, names, models.

Shared by every destination (loader/destinations/): this module says *what* a column holds; each
destination spells it in its own SQL (DuckDB: `loader/destinations/duckdb_tables.py`).

One column per schema **model**: `unstruct_event_<vendor>_<name>_<model>` (a STRUCT) and
`contexts_<vendor>_<name>_<model>` (a LIST of STRUCT), named as Snowplow's analytics SDKs do
(vendor `.`/`-` → `_`, name CamelCase → snake_case, lower-case). Its type is derived from the JSON
Schema of every version of that model the registry knows, merged so that it only ever widens.

Mapping (a type that cannot be represented falls back to JSON, never to an error):

| JSON Schema                                         | logical type   | DuckDB        |
|-----------------------------------------------------|----------------|---------------|
| `string`                                            | STRING         | VARCHAR       |
| `string` + `format: date-time`                      | TIMESTAMP      | TIMESTAMPTZ   |
| `string` + `format: date`                           | DATE           | DATE          |
| `integer`                                           | INTEGER        | BIGINT        |
| `number`, or `integer` and `number` together        | FLOAT          | DOUBLE        |
| `boolean`                                           | BOOLEAN        | BOOLEAN       |
| `enum` of one JSON kind (no `type`)                 | that kind's type |             |
| `object` with `properties`                          | StructOf (property names kept as they are) | STRUCT |
| `array` with one `items` schema                     | ListOf the item type | LIST    |
| `["T", "null"]`                                     | T (every column is nullable) |       |
| anything else (mixed types, `oneOf`/`anyOf`, free-form objects, tuple arrays) | JSON | JSON |

Widening (`widen`), applied across versions and against the column already in the warehouse:
equal types stay; INTEGER and FLOAT give FLOAT; two structs give the union of their fields
(each common field widened); two lists widen their items; any other pair gives JSON. A type is
therefore never narrowed, and a load never fails because a later version changed a type: the
column becomes wider (an existing column is rebuilt through JSON, keeping every value).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import IgluParseError
from core.iglu import SchemaKey
from core.sdk_json import entity_column
from registry.data_reports import json_type
from registry.resolver import Resolver, SchemaNotFound

__all__ = [
    "BOOLEAN",
    "DATE",
    "FLOAT",
    "INTEGER",
    "JSON",
    "STRING",
    "TIMESTAMP",
    "ColumnType",
    "ColumnTyping",
    "EntityModel",
    "ListOf",
    "ModelColumn",
    "RegistryTyping",
    "Scalar",
    "StructOf",
    "column_name",
    "model_prefix",
    "models_seen",
    "schema_type",
    "widen",
]


@dataclass(frozen=True, slots=True)
class Scalar:
    """A scalar logical type by name (string, integer, float, boolean, timestamp, date, json)."""

    name: str


@dataclass(frozen=True, slots=True)
class StructOf:
    """A record; fields keep the order in which they were first seen (later versions append)."""

    fields: tuple[tuple[str, ColumnType], ...]


@dataclass(frozen=True, slots=True)
class ListOf:
    """A list (repeated values) of one item type."""

    item: ColumnType


ColumnType = Scalar | StructOf | ListOf

STRING = Scalar("string")
INTEGER = Scalar("integer")
FLOAT = Scalar("float")
BOOLEAN = Scalar("boolean")
TIMESTAMP = Scalar("timestamp")  # an instant (with time zone)
DATE = Scalar("date")
JSON = Scalar("json")  # any JSON value, kept as its text
SCALARS = (STRING, INTEGER, FLOAT, BOOLEAN, TIMESTAMP, DATE, JSON)
_MAX_DEPTH = 32  # deeper nesting (or a recursive $ref) is kept as JSON


def widen(a: ColumnType, b: ColumnType) -> ColumnType:
    """The narrowest type holding every value of `a` and of `b` (see the module's table)."""
    if a == b:
        return a
    if {a, b} == {INTEGER, FLOAT}:
        return FLOAT
    if isinstance(a, StructOf) and isinstance(b, StructOf):
        merged: dict[str, ColumnType] = dict(a.fields)
        for name, t in b.fields:
            merged[name] = widen(merged[name], t) if name in merged else t
        return StructOf(tuple(merged.items()))
    if isinstance(a, ListOf) and isinstance(b, ListOf):
        return ListOf(widen(a.item, b.item))
    return JSON


def schema_type(schema: Any, depth: int = 0) -> ColumnType:
    """The logical type of values valid against `schema` (a JSON Schema object); JSON when it cannot be typed."""
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
        return FLOAT
    if len(kinds) != 1:
        return JSON
    kind = next(iter(kinds))
    if kind == "string":
        fmt = schema.get("format")
        return TIMESTAMP if fmt == "date-time" else DATE if fmt == "date" else STRING
    if kind == "integer":
        return INTEGER
    if kind == "number":
        return FLOAT
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


@dataclass(frozen=True, slots=True)
class EntityModel:
    """One schema model of one kind of self-describing column (a model gets one typed column)."""

    kind: str  # unstruct_event | contexts
    vendor: str
    name: str
    format: str
    model: int

    def sort_key(self) -> tuple[str, str, str, int]:
        return (self.kind, self.vendor, self.name, self.model)


@dataclass(frozen=True, slots=True)
class ModelColumn:
    """One per-model column: `kind` is unstruct_event or contexts, `prefix` the model's Iglu URI prefix."""

    name: str
    kind: str
    prefix: str
    type: ColumnType


def models_seen(found: Iterable[tuple[str, str | None]]) -> dict[EntityModel, set[SchemaKey]]:
    """The models (and versions) behind `(kind, schema URI)` pairs a destination found in a batch.

    URIs that are not Iglu keys are skipped: enrich only writes valid keys, anything else is not ours to type.
    """
    models: dict[EntityModel, set[SchemaKey]] = {}
    for kind, uri in found:
        if uri is None:
            continue
        try:
            key = SchemaKey.parse(uri)
        except IgluParseError:
            continue
        model = EntityModel(kind, key.vendor, key.name, key.format, key.version.model)
        models.setdefault(model, set()).add(key)
    return models


class ColumnTyping(Protocol):
    """How a destination learns the column a model needs (the loader types through the registry)."""

    def column_for(self, model: EntityModel, seen: Iterable[SchemaKey]) -> ModelColumn: ...


class RegistryTyping:
    """Types a model's column from every version of it the registry knows, merged so it only widens."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def column_for(self, model: EntityModel, seen: Iterable[SchemaKey]) -> ModelColumn:
        """The column a model needs: its entity type merged over every known version (JSON if one is missing)."""
        keys = set(seen)
        first = next(iter(keys))
        keys.update(self.resolver.list_versions(model.vendor, model.name, model.model))
        entity: ColumnType | None = None
        for key in sorted(keys, key=lambda k: k.version):
            if key.format != model.format:
                continue
            try:
                schema = self.resolver.lookup(key)
            except SchemaNotFound:
                # A version we cannot see any more: keep every value rather than guess its shape.
                entity = JSON
                break
            t = schema_type(schema)
            entity = t if entity is None else widen(entity, t)
        assert entity is not None
        column_type: ColumnType = entity if model.kind == "unstruct_event" else ListOf(entity)
        return ModelColumn(column_name(model.kind, first), model.kind, model_prefix(first), column_type)
