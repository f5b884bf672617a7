"""The DuckDB warehouse: the `events` table (atomic columns + typed per-model columns) and its bookkeeping tables.

    events                       131 atomic columns (Snowplow names), then one column per schema model
    _eventkit_columns            each typed column's kind, model and type (as JSON), so widening knows the old type
    _eventkit_manifest           each lake file loaded (row count, load id), written in the load's own transaction
    _eventkit_quarantine         each lake file that could not be read (its error, size/mtime signature, when)

DuckDB lets one process write a database file at a time. The continuous loader inside `eventkit up`
opens the file only for each load and closes it after, and `open_warehouse` waits for the lock
(bounded), so readers (`eventkit bad`, a DuckDB shell) take turns with it instead of failing. A
second loader is refused before it gets here (the loader lock beside the file, loader/load.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson

from core.errors import ConfigError, TransientError
from core.locations import parse_warehouse_url
from enrich.atomic import ATOMIC_FIELDS
from loader.columns import ColumnType, dumps_type, quote_identifier, type_from_json, widen

__all__ = [
    "ATOMIC_SQL_TYPES",
    "COLUMNS_TABLE",
    "EVENTS_TABLE",
    "MANIFEST_TABLE",
    "QUARANTINE_TABLE",
    "TypedColumn",
    "WarehouseBusy",
    "apply_column",
    "dumps_type_spec",
    "ensure_tables",
    "open_warehouse",
    "typed_columns",
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


class WarehouseBusy(TransientError):
    """Another process held the warehouse's write lock for longer than we were willing to wait."""


@dataclass(frozen=True, slots=True)
class TypedColumn:
    """One per-model column: `kind` is unstruct_event or contexts, `prefix` the model's Iglu URI prefix."""

    name: str
    kind: str
    prefix: str
    type: ColumnType


def open_warehouse(url: str, *, wait_s: float = 60.0, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Connect to the DuckDB file a warehouse URL names, waiting up to `wait_s` for another writer to let go."""
    location = parse_warehouse_url(url)
    path = Path(location.path)
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


def typed_columns(con: duckdb.DuckDBPyConnection) -> dict[str, TypedColumn]:
    """The per-model columns the events table has, by name."""
    rows = con.execute(f"SELECT column_name, kind, prefix, type_json FROM {COLUMNS_TABLE}").fetchall()
    return {name: TypedColumn(name, kind, prefix, type_from_json(_loads(tj))) for name, kind, prefix, tj in rows}


def _loads(text: str) -> object:
    return orjson.loads(text)


def apply_column(con: duckdb.DuckDBPyConnection, wanted: TypedColumn, existing: TypedColumn | None) -> TypedColumn:
    """Add the column or widen it to hold `wanted.type`; returns the column as it now is (never narrower)."""
    ident = quote_identifier(wanted.name)
    if existing is None:
        con.execute(f"ALTER TABLE {EVENTS_TABLE} ADD COLUMN {ident} {wanted.type.sql()}")
        final = wanted
    else:
        merged = widen(existing.type, wanted.type)
        if merged == existing.type:
            return existing
        # Rebuild through JSON: works for added STRUCT fields, BIGINT → DOUBLE and anything → JSON alike.
        if merged.sql() == "JSON":
            using = f"to_json({ident})"
        else:
            spec = dumps_type_spec(merged)
            using = f"json_transform(to_json({ident}), '{spec}')"
        con.execute(f"ALTER TABLE {EVENTS_TABLE} ALTER {ident} TYPE {merged.sql()} USING {using}")
        final = TypedColumn(wanted.name, existing.kind, existing.prefix, merged)
    con.execute(
        f"INSERT OR REPLACE INTO {COLUMNS_TABLE} VALUES (?, ?, ?, ?)",
        [final.name, final.kind, final.prefix, dumps_type(final.type)],
    )
    return final


def dumps_type_spec(t: ColumnType) -> str:
    """The type as DuckDB's json_transform structure, quoted for a SQL string literal."""
    return orjson.dumps(t.transform_spec()).decode().replace("'", "''")
