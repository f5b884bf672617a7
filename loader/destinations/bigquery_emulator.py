"""EMULATOR ONLY: how bqemulator 1.4 is brought to a new events-table schema (real BigQuery needs `update_table`).

bqemulator keeps a table's schema twice: its metadata (changed by `update_table`) and a DuckDB
table (changed by DDL). A new top-level column needs both; a record gaining a field cannot be
altered in its DuckDB storage at all, so the table is rebuilt in one CREATE OR REPLACE … AS SELECT.
`BigQueryDestination._apply` calls this only when `BIGQUERY_EMULATOR_HOST` is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.cloud import bigquery

from loader.columns import ListOf, ModelColumn
from loader.destinations.bigquery import ATOMIC, call
from loader.destinations.bigquery_sql import ddl_type, quoted

if TYPE_CHECKING:
    from loader.destinations.bigquery import BigQueryDestination

__all__ = ["emulator_apply_schema"]


def emulator_apply_schema(
    destination: BigQueryDestination,
    table: bigquery.Table,
    old_types: dict[str, Any],
    columns: dict[str, ModelColumn],
) -> None:
    """EMULATOR ONLY: bqemulator 1.4 changes only its metadata on `update_table` and only its storage on DDL.

    A widened record cannot be altered in its storage there, so the table is rebuilt in one
    statement (CREATE OR REPLACE TABLE … AS SELECT, each record reshaped to its new fields); then
    the metadata gets the new schema and the storage each new top-level column. Real BigQuery needs
    only `update_table` (the production path, `BigQueryDestination._apply`).
    """
    client, wait_s, retry = destination.client, destination.wait_s, destination.retry
    widened = {name: c for name, c in columns.items() if name in old_types and old_types[name] != c.type}
    if widened:
        kept = [*ATOMIC, *(name for name in old_types if name in columns)]
        values = [
            f"{_reshape(f'b.{quoted(name)}', old_types[name], widened[name].type)} AS {quoted(name)}"
            if name in widened
            else f"b.{quoted(name)}"
            for name in kept
        ]
        destination._query(
            f"CREATE OR REPLACE TABLE `{destination.events}` "
            "PARTITION BY DATE(collector_tstamp) CLUSTER BY event_name "
            f"AS SELECT {', '.join(values)} FROM `{destination.events}` AS b"
        )
        fresh = call("read the events table", lambda: client.get_table(destination.events, retry=retry), wait_s=wait_s)
        fresh.schema = table.schema
        table = fresh
    call("change the events table's schema", lambda: client.update_table(table, ["schema"], retry=retry), wait_s=wait_s)
    for column in columns.values():
        if column.name not in old_types:
            destination._query(
                f"ALTER TABLE `{destination.events}` ADD COLUMN {quoted(column.name)} {ddl_type(column.type)}"
            )


def _reshape(value: str, old: Any, new: Any, depth: int = 0) -> str:
    """SQL turning a value of record type `old` into `new` (fields appended as NULL); used by the emulator rebuild."""
    if old == new:
        return value
    if isinstance(new, ListOf) and isinstance(old, ListOf):
        element = f"_r{depth}"
        return f"ARRAY(SELECT {_reshape(element, old.item, new.item, depth + 1)} FROM UNNEST({value}) AS {element})"
    old_fields = dict(old.fields)
    fields = ", ".join(
        f"{_reshape(f'{value}.{quoted(name)}', old_fields[name], t, depth)} AS {quoted(name)}"
        if name in old_fields
        else f"CAST(NULL AS {ddl_type(t)}) AS {quoted(name)}"
        for name, t in new.fields
    )
    return f"IF({value} IS NULL, NULL, STRUCT({fields}))"
