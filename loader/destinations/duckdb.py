"""DuckDB behind the destination port: one transaction per batch, set-wise SQL over the batch's Parquet files.

    BEGIN
    drop the batch's files the manifest already lists (a repeated or overlapping batch)
    discover the schemas the batch's unstruct_event / contexts / derived_contexts carry
    add or widen one typed column per schema model (types from the loader's ColumnTyping)
    INSERT … SELECT over read_parquet(files): atomic columns as they are, typed columns through
        json_transform, rows deduplicated by (event_id, event_fingerprint) within the batch and
        against the table (anti-join)
    record the files in the manifest; clear them from the quarantine
    COMMIT

A crash anywhere before COMMIT leaves nothing behind, so the next run loads the same files again;
after COMMIT the manifest says they are done, so a rerun loads nothing twice. Entities of
`derived_contexts` go into the same `contexts_…` columns as the tracker's contexts (as Snowplow's
loaders do). Tables and type spelling: duckdb_tables.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from core.atomic import ATOMIC_FIELDS
from core.lake.parquet import read_parquet
from loader.columns import JSON, ColumnTyping, ListOf, ModelColumn, models_seen
from loader.destinations.duckdb_tables import (
    EVENTS_TABLE,
    MANIFEST_TABLE,
    QUARANTINE_TABLE,
    apply_column,
    dumps_transform_spec,
    ensure_tables,
    open_warehouse,
    quote_identifier,
    typed_columns,
)
from loader.destinations.port import BatchTooLarge, LoadBatch, LoadReport, QuarantinedFile

__all__ = ["DuckDBDestination"]

_ATOMIC = [f.name for f in ATOMIC_FIELDS]
_BATCH_VIEW = "_eventkit_batch"


class DuckDBDestination:
    """The DuckDB file a `duckdb://` URL names, open for loads (DuckDB's write lock is held until `close`).

    `merge_small_loads` False turns off the checkpoint's vacuum for this connection. A load appends its
    rows as new row groups; each checkpoint (at `close`, when the lock is let go) merges them into the
    table's last, partly filled row groups, rewriting those: the rewrite grows with that partial group
    (up to 122,880 rows), not with the load. For `eventkit up`'s loads of one or two 1-second files
    (~3,000-10,000 rows) the checkpoint cost more CPU than the load itself (measured per 5,400-row load:
    close 166 ms against 73 ms for the INSERT). Unmerged, the loads stay row groups of their own
    (more row groups and a larger file: ~1.8x at two files a load), which DuckDB scans as well.
    """

    def __init__(
        self,
        url: str,
        *,
        wait_s: float = 60.0,
        threads: int | None = None,
        memory_mb: int | None = None,
        merge_small_loads: bool = True,
    ) -> None:
        self.url = url
        self.con = open_warehouse(url, wait_s=wait_s)
        try:
            if threads is not None:
                self.con.execute(f"SET threads = {int(threads)}")
            if memory_mb is not None:
                self.con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
            if not merge_small_loads:
                self.con.execute("SET max_vacuum_tasks = 0")
            ensure_tables(self.con)
        except BaseException:
            self.con.close()
            raise

    def close(self) -> None:
        self.con.close()

    def loaded_files(self) -> set[str]:
        return {row[0] for row in self.con.execute(f"SELECT file FROM {MANIFEST_TABLE}").fetchall()}

    def columns(self) -> dict[str, ModelColumn]:
        return typed_columns(self.con)

    def quarantine(self, files: Sequence[QuarantinedFile]) -> None:
        self.con.executemany(
            f"INSERT OR REPLACE INTO {QUARANTINE_TABLE} VALUES (?, ?, ?, now())",
            [[q.file, q.error, q.signature] for q in files],
        )

    def quarantined(self) -> list[QuarantinedFile]:
        rows = self.con.execute(f"SELECT file, error, signature FROM {QUARANTINE_TABLE} ORDER BY file").fetchall()
        return [QuarantinedFile(file, error, signature) for file, error, signature in rows]

    def load(self, batch: LoadBatch, typing: ColumnTyping) -> LoadReport:
        """Load the batch's files in one transaction (see the module's outline)."""
        con = self.con
        report = LoadReport()
        if not batch.files:
            return report
        source = ""
        try:
            con.execute("BEGIN TRANSACTION")
            files = self._new_files(batch.files)
            if files:
                source, counts = self._source(batch, files)
                report.files = len(files)
                report.rows_read = sum(counts.values())
                columns = self._evolve(source, typing, report)
                inserted = con.execute(_insert_sql(source, columns, self._has_duplicates(source))).fetchone()
                report.rows_loaded = int(inserted[0]) if inserted else 0
                load_id = uuid.uuid4().hex
                con.executemany(
                    f"INSERT INTO {MANIFEST_TABLE} VALUES (?, ?, ?, now())",
                    [[name, counts[name], load_id] for name in files],
                )
                con.execute(
                    f"DELETE FROM {QUARANTINE_TABLE} "
                    f"WHERE file IN (SELECT file FROM {MANIFEST_TABLE} WHERE load_id = ?)",
                    [load_id],
                )
            con.execute("COMMIT")
        except BaseException as e:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            if isinstance(e, duckdb.OutOfMemoryException):
                raise BatchTooLarge(f"{len(batch.files)} files: {e}") from e
            raise
        finally:
            if source == _BATCH_VIEW:
                con.unregister(_BATCH_VIEW)
        return report

    # -- steps --------------------------------------------------------------------------------

    def _new_files(self, files: Sequence[str]) -> list[str]:
        """The batch's files the manifest does not list yet (read inside the load's transaction)."""
        done = {
            row[0]
            for row in self.con.execute(
                f"SELECT file FROM {MANIFEST_TABLE} WHERE file IN (SELECT unnest(?))", [list(files)]
            ).fetchall()
        }
        return list(dict.fromkeys(name for name in files if name not in done))

    def _source(self, batch: LoadBatch, files: Sequence[str]) -> tuple[str, dict[str, int]]:
        """A SQL table expression over the batch's files, and each file's row count."""
        paths = [batch.local_path(name) for name in files]
        if all(p is not None for p in paths):
            counts = {name: pq.read_metadata(str(p)).num_rows for name, p in zip(files, paths, strict=True)}
            listed = ", ".join(_sql_string(str(p)) for p in paths)
            return f"read_parquet([{listed}])", counts
        # No local files (GCS): read the bytes, then let DuckDB scan the Arrow table.
        tables = [read_parquet(batch.read(name)) for name in files]
        counts = {name: t.num_rows for name, t in zip(files, tables, strict=True)}
        self.con.register(_BATCH_VIEW, pa.concat_tables(tables))
        return _BATCH_VIEW, counts

    def _evolve(self, source: str, typing: ColumnTyping, report: LoadReport) -> list[ModelColumn]:
        """Add or widen one column per schema model the batch carries (noted in `report`); those columns."""
        existing = typed_columns(self.con)
        models = models_seen(self.con.execute(_DISCOVER.format(source=source)).fetchall())
        columns: list[ModelColumn] = []
        for model, keys in sorted(models.items(), key=lambda item: item[0].sort_key()):
            wanted = typing.column_for(model, keys)
            before = existing.get(wanted.name)
            after = apply_column(self.con, wanted, before)
            if before is None:
                report.columns_added.append(wanted.name)
            elif after.type != before.type:
                report.columns_widened.append(wanted.name)
            columns.append(after)
        return columns

    def _has_duplicates(self, source: str) -> bool:
        """Whether the batch repeats an (event_id, event_fingerprint) pair (a cheap two-column hash count)."""
        found = self.con.execute(
            f"SELECT count(*) <> count(DISTINCT (event_id, event_fingerprint)) FROM {source}"
        ).fetchone()
        return bool(found and found[0])


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_DISCOVER = """
    SELECT DISTINCT 'unstruct_event', json_extract_string(unstruct_event, '$.data.schema')
      FROM {source} WHERE unstruct_event IS NOT NULL
    UNION
    SELECT DISTINCT 'contexts', unnest(json_extract_string(c, '$.data[*].schema'))
      FROM (SELECT contexts AS c FROM {source} UNION ALL SELECT derived_contexts FROM {source})
     WHERE c IS NOT NULL
"""


def _typed_expression(column: ModelColumn) -> str:
    prefix = _sql_string(column.prefix)
    if column.kind == "unstruct_event":
        data = "s._ue.data"
        value = data if column.type == JSON else f"json_transform({data}, '{dumps_transform_spec(column.type)}')"
        return f"CASE WHEN starts_with(s._ue.schema, {prefix}) THEN {value} END"
    assert isinstance(column.type, ListOf)
    item = column.type.item
    value = "e.data" if item == JSON else f"json_transform(e.data, '{dumps_transform_spec(item)}')"
    matching = f"list_filter(s._entities, lambda e: starts_with(e.schema, {prefix}))"
    return f"nullif(list_transform({matching}, lambda e: {value}), [])"


# Each self-describing column is parsed once per row into (schema, data as JSON text); per-model
# columns then filter on the schema string and parse only the data they keep.
_UNSTRUCT = """json_transform(unstruct_event, '{"data": {"schema": "VARCHAR", "data": "JSON"}}').data"""
_ENTITIES = """coalesce(json_transform({col}, '{{"data": [{{"schema": "VARCHAR", "data": "JSON"}}]}}').data, [])"""


def _insert_sql(source: str, columns: Sequence[ModelColumn], dedup_batch: bool = True) -> str:
    """One INSERT … SELECT: dedup within the batch (first by etl time) and against the table.

    The in-batch window sorts whole rows, so it is left out when the batch has no repeated pair.
    """
    atomic = ", ".join(quote_identifier(n) for n in _ATOMIC)
    selected = ", ".join(f"s.{quote_identifier(n)}" for n in _ATOMIC)
    targets = atomic + "".join(f", {quote_identifier(c.name)}" for c in columns)
    values = selected + "".join(f", {_typed_expression(c)}" for c in columns)
    extras = ""
    if any(c.kind == "unstruct_event" for c in columns):
        extras += f", {_UNSTRUCT} AS _ue"
    if any(c.kind == "contexts" for c in columns):
        contexts, derived = _ENTITIES.format(col="contexts"), _ENTITIES.format(col="derived_contexts")
        extras += f", list_concat({contexts}, {derived}) AS _entities"
    qualify = (
        "QUALIFY row_number() OVER (PARTITION BY event_id, event_fingerprint ORDER BY etl_tstamp, collector_tstamp) = 1"
        if dedup_batch
        else ""
    )
    return f"""
        INSERT INTO {EVENTS_TABLE} ({targets})
        SELECT {values}
          FROM (SELECT *{extras} FROM {source} {qualify}) AS s
         WHERE NOT EXISTS (SELECT 1 FROM {EVENTS_TABLE} AS t
                            WHERE t.event_id = s.event_id
                              AND t.event_fingerprint IS NOT DISTINCT FROM s.event_fingerprint)
    """
