"""The DuckDB warehouse file: the `events` table (atomic columns + typed per-model columns) and its bookkeeping tables.

    events                       131 atomic columns (Snowplow names), then one column per schema model
    _eventkit_columns            each typed column's kind, model and type (as JSON), so widening knows the old type
    _eventkit_manifest           each lake file loaded (row count, load id), written in the load's own transaction
    _eventkit_quarantine         each lake file that could not be read (its error, size/mtime signature, when)

DuckDB lets one process write a database file at a time. The continuous loader inside `eventkit up`
opens the file only for each load and closes it after, and `open_warehouse` waits for the lock
(bounded), so readers (`eventkit bad`, a DuckDB shell) take turns with it instead of failing. A
second loader is refused before it gets here (the loader lock beside the file, `DuckDBKind.hold_lock`).

The logical column types (loader/columns.py) are spelled here in DuckDB's SQL; `_eventkit_columns`
keeps them in that spelling (`"BIGINT"`, `{"struct": [["sku", "VARCHAR"]]}`), as it always has.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from core.atomic import ATOMIC_FIELDS
from core.errors import ConfigError, TransientError
from core.locations import parse_warehouse_url
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
    ModelColumn,
    StructOf,
    widen,
)

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "ATOMIC_SQL_TYPES",
    "COLUMNS_TABLE",
    "EVENTS_TABLE",
    "MANIFEST_TABLE",
    "QUARANTINE_TABLE",
    "WarehouseBusy",
    "apply_column",
    "duckdb_type",
    "dumps_transform_spec",
    "ensure_tables",
    "open_warehouse",
    "quote_identifier",
    "stored_type",
    "transform_spec",
    "type_from_stored",
    "typed_columns",
    "warehouse_path",
]

EVENTS_TABLE = "events"
COLUMNS_TABLE = "_eventkit_columns"
MANIFEST_TABLE = "_eventkit_manifest"
QUARANTINE_TABLE = "_eventkit_quarantine"
_KIND_SQL = {
    "str": "VARCHAR",
    "json": "VARCHAR",
    "int": "BIGINT",
    "dec": "DECIMAL(38, 9)",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "ts": "TIMESTAMPTZ",
}
ATOMIC_SQL_TYPES: dict[str, str] = {f.name: _KIND_SQL[f.kind] for f in ATOMIC_FIELDS}
_SCALAR_SQL = {
    STRING: "VARCHAR",
    INTEGER: "BIGINT",
    FLOAT: "DOUBLE",
    BOOLEAN: "BOOLEAN",
    TIMESTAMP: "TIMESTAMPTZ",
    DATE: "DATE",
    JSON: "JSON",
}
_SQL_SCALAR = {sql: t for t, sql in _SCALAR_SQL.items()}


class WarehouseBusy(TransientError):
    """Another process held the warehouse's write lock for longer than we were willing to wait."""


def quote_identifier(name: str) -> str:
    """A SQL identifier in double quotes (any property name is allowed)."""
    return '"' + name.replace('"', '""') + '"'


def duckdb_type(t: ColumnType) -> str:
    """The DuckDB spelling of a logical type (`STRUCT("sku" VARCHAR)`, `BIGINT[]`)."""
    if isinstance(t, StructOf):
        inner = ", ".join(f"{quote_identifier(name)} {duckdb_type(f)}" for name, f in t.fields)
        return f"STRUCT({inner})"
    if isinstance(t, ListOf):
        return f"{duckdb_type(t.item)}[]"
    return _SCALAR_SQL.get(t, "JSON")


def transform_spec(t: ColumnType) -> Any:
    """The type as a json_transform structure (`{"sku": "VARCHAR"}`, `["BIGINT"]`)."""
    if isinstance(t, StructOf):
        return {name: transform_spec(f) for name, f in t.fields}
    if isinstance(t, ListOf):
        return [transform_spec(t.item)]
    return duckdb_type(t)


def dumps_transform_spec(t: ColumnType) -> str:
    """The json_transform structure, quoted for a SQL string literal."""
    return orjson.dumps(transform_spec(t)).decode().replace("'", "''")


def stored_type(t: ColumnType) -> Any:
    """The type as `_eventkit_columns.type_json` keeps it (DuckDB type names)."""
    if isinstance(t, StructOf):
        return {"struct": [[name, stored_type(f)] for name, f in t.fields]}
    if isinstance(t, ListOf):
        return {"list": stored_type(t.item)}
    return duckdb_type(t)


def type_from_stored(value: Any) -> ColumnType:
    """Inverse of `stored_type`; a name this version does not know reads as JSON (the widest), never an error."""
    if isinstance(value, str):
        return _SQL_SCALAR.get(value, JSON)
    if isinstance(value, dict) and "list" in value:
        return ListOf(type_from_stored(value["list"]))
    if isinstance(value, dict) and "struct" in value:
        return StructOf(tuple((str(name), type_from_stored(t)) for name, t in value["struct"]))
    return JSON


def warehouse_path(url: str) -> Path:
    """The DuckDB file a `duckdb://` URL (or a plain .duckdb path) names."""
    location = parse_warehouse_url(url)
    if location.path is None:
        raise ConfigError(f"warehouse: {url!r} is not a DuckDB file")
    return location.path


def open_warehouse(url: str, *, wait_s: float = 60.0, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Connect to the DuckDB file a warehouse URL names, waiting up to `wait_s` for another writer to let go."""
    import duckdb  # here, not at the top: a process that only locks or names the warehouse does not load DuckDB

    path = warehouse_path(url)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as e:
            if "lock" not in str(e).lower():
                raise ConfigError(f"warehouse: cannot open {str(path)!r}: {e}") from e
            if time.monotonic() + delay > deadline:
                raise WarehouseBusy(f"warehouse {str(path)!r} is locked by another process: {e}") from e
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the events table and the bookkeeping tables if missing (idempotent)."""
    atomic = ", ".join(f"{quote_identifier(name)} {sql}" for name, sql in ATOMIC_SQL_TYPES.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} ({atomic})")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {COLUMNS_TABLE} "
        "(column_name VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, prefix VARCHAR NOT NULL, type_json VARCHAR NOT NULL)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {MANIFEST_TABLE} "
        "(file VARCHAR PRIMARY KEY, rows_in_file BIGINT NOT NULL, load_id VARCHAR NOT NULL, "
        "loaded_at TIMESTAMPTZ NOT NULL)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} "
        "(file VARCHAR PRIMARY KEY, error VARCHAR NOT NULL, signature VARCHAR, quarantined_at TIMESTAMPTZ NOT NULL)"
    )


def typed_columns(con: duckdb.DuckDBPyConnection) -> dict[str, ModelColumn]:
    """The per-model columns the events table has, by name."""
    rows = con.execute(f"SELECT column_name, kind, prefix, type_json FROM {COLUMNS_TABLE}").fetchall()
    return {
        name: ModelColumn(name, kind, prefix, type_from_stored(orjson.loads(tj))) for name, kind, prefix, tj in rows
    }


def apply_column(con: duckdb.DuckDBPyConnection, wanted: ModelColumn, existing: ModelColumn | None) -> ModelColumn:
    """Add the column or widen it to hold `wanted.type`; returns the column as it now is (never narrower)."""
    ident = quote_identifier(wanted.name)
    if existing is None:
        con.execute(f"ALTER TABLE {EVENTS_TABLE} ADD COLUMN {ident} {duckdb_type(wanted.type)}")
        final = wanted
    else:
        merged = widen(existing.type, wanted.type)
        if merged == existing.type:
            return existing
        # Rebuild through JSON: works for added STRUCT fields, BIGINT → DOUBLE and anything → JSON alike.
        if merged == JSON:
            using = f"to_json({ident})"
        else:
            using = f"json_transform(to_json({ident}), '{dumps_transform_spec(merged)}')"
        con.execute(f"ALTER TABLE {EVENTS_TABLE} ALTER {ident} TYPE {duckdb_type(merged)} USING {using}")
        final = ModelColumn(wanted.name, existing.kind, existing.prefix, merged)
    con.execute(
        f"INSERT OR REPLACE INTO {COLUMNS_TABLE} VALUES (?, ?, ?, ?)",
        [final.name, final.kind, final.prefix, orjson.dumps(stored_type(final.type)).decode()],
    )
    return final
