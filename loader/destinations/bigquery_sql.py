"""BigQuery spelling of the loader's logical column types, and the SQL that types JSON text into them.

    logical type (loader/columns.py)   BigQuery field
    STRING / JSON                      STRING (JSON kept as its text)
    INTEGER / FLOAT / BOOLEAN          INT64 / FLOAT64 / BOOL
    TIMESTAMP / DATE                   TIMESTAMP / DATE
    StructOf                           RECORD (NULLABLE)
    ListOf                             the item's field, mode REPEATED

BigQuery cannot hold everything a JSON Schema can describe: a field name must be a letter or `_`
then letters, digits and `_` (and names are case-insensitive), and a REPEATED field cannot repeat
again. `representable` turns such a part into JSON (its text, nothing lost) before anything is
created, so the type a column records is exactly the type its BigQuery field has.

Typed values are computed in SQL from the staged JSON text (`JSON_VALUE`, `JSON_QUERY_ARRAY`,
`SAFE_CAST`), so a value that does not fit its field is NULL rather than a failed load.
"""

from __future__ import annotations

import re
from typing import Any

from google.cloud import bigquery

from core.atomic import ATOMIC_FIELDS
from loader.columns import BOOLEAN, DATE, FLOAT, INTEGER, JSON, STRING, TIMESTAMP, ColumnType, ListOf, Scalar, StructOf

__all__ = [
    "ATOMIC_BIGQUERY_TYPES",
    "atomic_schema",
    "compatible",
    "ddl_type",
    "field_for",
    "quoted",
    "representable",
    "stored_type",
    "type_from_stored",
    "typed_value",
]

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")
_KIND_TYPES = {
    "str": "STRING",
    "json": "STRING",
    "int": "INT64",
    "dec": "NUMERIC",
    "float": "FLOAT64",
    "bool": "BOOL",
    "ts": "TIMESTAMP",
}
ATOMIC_BIGQUERY_TYPES: dict[str, str] = {f.name: _KIND_TYPES[f.kind] for f in ATOMIC_FIELDS}
_SCALAR_TYPES = {
    STRING: "STRING",
    JSON: "STRING",
    INTEGER: "INT64",
    FLOAT: "FLOAT64",
    BOOLEAN: "BOOL",
    TIMESTAMP: "TIMESTAMP",
    DATE: "DATE",
}
_STORED = {
    STRING: "string",
    JSON: "json",
    INTEGER: "integer",
    FLOAT: "float",
    BOOLEAN: "boolean",
    TIMESTAMP: "timestamp",
    DATE: "date",
}
_FROM_STORED = {v: k for k, v in _STORED.items()}


def atomic_schema() -> list[bigquery.SchemaField]:
    """The 131 atomic columns, in Snowplow's order, with BigQuery types (all nullable)."""
    return [bigquery.SchemaField(name, kind) for name, kind in ATOMIC_BIGQUERY_TYPES.items()]


def representable(t: ColumnType) -> ColumnType:
    """`t` with every part BigQuery cannot hold (bad or clashing field names, a list of lists) made JSON."""
    if isinstance(t, StructOf):
        names = [name for name, _ in t.fields]
        folded = {name.lower() for name in names}
        if not all(_FIELD_NAME.match(name) for name in names) or len(folded) != len(names):
            return JSON
        return StructOf(tuple((name, representable(f)) for name, f in t.fields))
    if isinstance(t, ListOf):
        item = representable(t.item)
        return ListOf(JSON if isinstance(item, ListOf) else item)
    return t if t in _SCALAR_TYPES else JSON


def compatible(old: ColumnType, new: ColumnType) -> bool:
    """Whether BigQuery can change `old` into `new` in place: the same field types (JSON is STRING there),
    or only nullable record fields appended."""
    if old == new:
        return True
    if isinstance(old, Scalar) and isinstance(new, Scalar):
        return _SCALAR_TYPES.get(old) == _SCALAR_TYPES.get(new)
    if isinstance(old, StructOf) and isinstance(new, StructOf):
        if len(new.fields) < len(old.fields):
            return False
        return all(
            o_name == n_name and compatible(o_t, n_t)
            for (o_name, o_t), (n_name, n_t) in zip(old.fields, new.fields[: len(old.fields)], strict=True)
        )
    if isinstance(old, ListOf) and isinstance(new, ListOf):
        return compatible(old.item, new.item)
    return False


def field_for(name: str, t: ColumnType) -> bigquery.SchemaField:
    """The schema field of a (representable) logical type."""
    mode = "NULLABLE"
    if isinstance(t, ListOf):
        mode, t = "REPEATED", t.item
    if isinstance(t, StructOf):
        return bigquery.SchemaField(name, "RECORD", mode=mode, fields=[field_for(n, f) for n, f in t.fields])
    return bigquery.SchemaField(name, _SCALAR_TYPES.get(t, "STRING") if isinstance(t, Scalar) else "STRING", mode=mode)


def ddl_type(t: ColumnType) -> str:
    """The type in BigQuery DDL (`STRUCT<label STRING>`, `ARRAY<STRUCT<id STRING>>`)."""
    if isinstance(t, StructOf):
        return "STRUCT<" + ", ".join(f"{quoted(name)} {ddl_type(f)}" for name, f in t.fields) + ">"
    if isinstance(t, ListOf):
        return f"ARRAY<{ddl_type(t.item)}>"
    return _SCALAR_TYPES.get(t, "STRING")


def stored_type(t: ColumnType) -> Any:
    """The type as the columns table keeps it (JSON: `{"struct": [["label", "string"]]}`)."""
    if isinstance(t, StructOf):
        return {"struct": [[name, stored_type(f)] for name, f in t.fields]}
    if isinstance(t, ListOf):
        return {"list": stored_type(t.item)}
    return _STORED.get(t, "json")


def type_from_stored(value: Any) -> ColumnType:
    """Inverse of `stored_type`; anything unknown reads as JSON (the widest), never an error."""
    if isinstance(value, str):
        return _FROM_STORED.get(value, JSON)
    if isinstance(value, dict) and "list" in value:
        return ListOf(type_from_stored(value["list"]))
    if isinstance(value, dict) and isinstance(value.get("struct"), list):
        return StructOf(tuple((str(name), type_from_stored(t)) for name, t in value["struct"]))
    return JSON


def quoted(name: str) -> str:
    """An identifier in backticks (a field may be named like a keyword: `at`, `from`)."""
    return f"`{name}`"


def sql_string(text: str) -> str:
    """A BigQuery string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def typed_value(t: ColumnType, parent: str, path: str, depth: int = 0) -> str:
    """SQL typing the JSON at `path` of the JSON text `parent` as `t` (NULL where it does not fit)."""
    if isinstance(t, StructOf):
        fields = ", ".join(
            f"{typed_value(f, parent, f'{path}.{name}', depth)} AS {quoted(name)}" for name, f in t.fields
        )
        return f"IF(JSON_QUERY({parent}, {sql_string(path)}) IS NULL, NULL, STRUCT({fields}))"
    if isinstance(t, ListOf):
        element, offset = f"_e{depth}", f"_o{depth}"
        item = typed_value(t.item, element, "$", depth + 1)
        return (
            f"ARRAY(SELECT {item} FROM UNNEST(JSON_QUERY_ARRAY({parent}, {sql_string(path)})) AS {element} "
            f"WITH OFFSET AS {offset} WHERE {item} IS NOT NULL ORDER BY {offset})"
        )
    if t == JSON:
        return f"JSON_QUERY({parent}, {sql_string(path)})"
    value = f"JSON_VALUE({parent}, {sql_string(path)})"
    return value if t == STRING else f"SAFE_CAST({value} AS {_SCALAR_TYPES[t]})"
