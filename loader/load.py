"""Loading good events into the warehouse: new lake files, set-wise, typed per model, deduplicated, exactly once.

One load = one DuckDB transaction over a batch of good Parquet files not yet in the manifest:

    discover the schemas the batch's unstruct_event / contexts / derived_contexts carry
    add or widen one typed column per schema model (types from every version the registry knows)
    INSERT … SELECT over read_parquet(files): atomic columns as they are, typed columns through
        json_transform, rows deduplicated by (event_id, event_fingerprint) within the batch and
        against the table (anti-join)
    record the files in the manifest
    COMMIT

A crash anywhere before COMMIT leaves nothing behind, so the next run loads the same files again;
after COMMIT the manifest says they are done, so a rerun loads nothing twice.

**Quarantine.** A file that cannot be read as an enriched-event Parquet file (truncated, corrupt,
not Parquet, missing the atomic columns) would otherwise fail every batch it is in, forever. When a
batch fails, each of its files is read on its own; the unreadable ones are recorded in
`_eventkit_quarantine` (file, error, size/mtime signature, time) and the batch is loaded without
them. A quarantined file is skipped by later loads until it changes (another size or mtime: a
folder lake only) or the load is asked to `retry_quarantined`; it leaves the quarantine when it
loads. A batch that fails while every file reads fine is not the files' fault: the error is raised. Entities of
`derived_contexts` go into the same `contexts_…` columns as the tracker's contexts (as Snowplow's
loaders do). Registry outages raise (`RegistryUnavailable`): the load is retried, never half done.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from core.atomic import ATOMIC_FIELDS
from core.errors import IgluParseError, TransientError
from core.iglu import SchemaKey
from core.lake import Lake, local_path, open_lake
from core.process_lock import ProcessLock, hold_lock
from loader.columns import JSON, ColumnType, ListOf, column_name, model_prefix, quote_identifier, schema_type, widen
from loader.warehouse import (
    EVENTS_TABLE,
    MANIFEST_TABLE,
    QUARANTINE_TABLE,
    TypedColumn,
    apply_column,
    dumps_type_spec,
    ensure_tables,
    open_warehouse,
    typed_columns,
)
from registry.resolver import Resolver, SchemaNotFound

__all__ = [
    "GOOD_PREFIX",
    "LoadReport",
    "Loader",
    "Quarantined",
    "continuous_loader",
    "hold_loader_lock",
    "pending_files",
    "quarantined_files",
]

GOOD_PREFIX = "good/"
log = structlog.get_logger("loader.load")
_ATOMIC = [f.name for f in ATOMIC_FIELDS]
_BATCH_VIEW = "_eventkit_batch"
_ARROW_SOURCE = re.compile(r"^Could not open Parquet input source '.*?': ")
# Columns every batch query names: a Parquet file without them is not an enriched-event file.
_REQUIRED_COLUMNS = ("event_id", "event_fingerprint", "etl_tstamp", "collector_tstamp", "unstruct_event", "contexts")


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A lake file the loader could not read, and why."""

    file: str
    error: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "error": self.error}


@dataclass(slots=True)
class LoadReport:
    """What one or more loads did."""

    files: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    columns_added: list[str] = field(default_factory=list)
    columns_widened: list[str] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)  # newly quarantined by this load
    skipped_quarantined: int = 0  # files quarantined by an earlier load, left alone by this one
    seconds: float = 0.0

    @property
    def duplicates(self) -> int:
        return self.rows_read - self.rows_loaded

    def add(self, other: LoadReport) -> None:
        self.files += other.files
        self.rows_read += other.rows_read
        self.rows_loaded += other.rows_loaded
        self.columns_added += other.columns_added
        self.columns_widened += other.columns_widened
        self.quarantined += other.quarantined
        self.skipped_quarantined = other.skipped_quarantined  # a count of what is held now, not a sum
        self.seconds += other.seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "duplicates": self.duplicates,
            "columns_added": self.columns_added,
            "columns_widened": self.columns_widened,
            "quarantined": [q.to_json() for q in self.quarantined],
            "skipped_quarantined": self.skipped_quarantined,
            "seconds": round(self.seconds, 3),
        }


def pending_files(lake: Lake, loaded: set[str]) -> list[str]:
    """Good Parquet files in the lake that the manifest does not list, in name (≈ time) order."""
    return [n for n in lake.list(GOOD_PREFIX) if n.endswith(".parquet") and n not in loaded]


@dataclass(frozen=True, slots=True)
class _Model:
    kind: str  # unstruct_event | contexts
    vendor: str
    name: str
    format: str
    model: int


class Loader:
    """Loads one lake into one DuckDB warehouse, typing self-describing data through `resolver`."""

    def __init__(
        self,
        lake: Lake,
        warehouse_url: str,
        resolver: Resolver,
        *,
        lock_wait_s: float = 60.0,
        threads: int | None = None,
        retry_quarantined: bool = False,
    ) -> None:
        self.lake = lake
        self.warehouse_url = warehouse_url
        self.resolver = resolver
        self.lock_wait_s = lock_wait_s
        self.threads = threads  # DuckDB worker threads (None = DuckDB's default: every core)
        self.retry_quarantined = retry_quarantined

    def load(
        self, *, max_files_per_batch: int = 500, on_batch: Callable[[LoadReport], None] | None = None
    ) -> LoadReport:
        """Load every pending file, in batches of at most `max_files_per_batch`; one transaction per batch."""
        total = LoadReport()
        con = open_warehouse(self.warehouse_url, wait_s=self.lock_wait_s)
        try:
            if self.threads is not None:
                con.execute(f"SET threads = {int(self.threads)}")
            ensure_tables(con)
            loaded = {row[0] for row in con.execute(f"SELECT file FROM {MANIFEST_TABLE}").fetchall()}
            held = dict(con.execute(f"SELECT file, signature FROM {QUARANTINE_TABLE}").fetchall())
            pending = pending_files(self.lake, loaded)
            files = [name for name in pending if not self._still_quarantined(name, held)]
            total.skipped_quarantined = len(pending) - len(files)
            for start in range(0, len(files), max_files_per_batch):
                report = self._load_readable(con, files[start : start + max_files_per_batch])
                total.add(report)
                if on_batch is not None:
                    on_batch(report)
        finally:
            con.close()
        return total

    def _still_quarantined(self, name: str, held: dict[str, str | None]) -> bool:
        """Skip a quarantined file unless asked to retry it or it changed since (a file put right by hand)."""
        if name not in held or self.retry_quarantined:
            return False
        return held[name] == self._signature(name)

    def _signature(self, name: str) -> str | None:
        """Size and mtime of a folder lake's file (None elsewhere: object stores never rewrite a name)."""
        path = local_path(self.lake, name)
        if path is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        return f"{st.st_size}:{st.st_mtime_ns}"

    def _load_readable(self, con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> LoadReport:
        """Load `files` in one transaction; if that fails, quarantine the unreadable ones and load the rest."""
        remaining = list(files)
        report = LoadReport()
        while remaining:
            try:
                report.add(self.load_batch(con, remaining))
                return report
            except TransientError:
                raise  # registry, lake or warehouse unavailable: retried, never blamed on a file
            except Exception:
                unreadable = [q for q in map(self._probe, remaining) if q is not None]
                if not unreadable:
                    raise
            self._quarantine(con, unreadable)
            report.quarantined += unreadable
            gone = {q.file for q in unreadable}
            remaining = [name for name in remaining if name not in gone]
        return report

    def _probe(self, name: str) -> Quarantined | None:
        """Read one file alone: why it cannot be loaded, or None if it reads as enriched events."""
        try:
            path = local_path(self.lake, name)
            if path is not None:
                schema = pq.read_table(str(path)).schema
            else:
                schema = pq.read_table(pa.BufferReader(self.lake.read(name))).schema
        except TransientError:
            raise
        except (pa.ArrowException, OSError, ValueError) as e:
            return Quarantined(name, _one_line(e))
        missing = [c for c in _REQUIRED_COLUMNS if c not in schema.names]
        if missing:
            return Quarantined(name, f"not an enriched-event file: no column {', '.join(missing)}")
        return None

    def _quarantine(self, con: duckdb.DuckDBPyConnection, files: Sequence[Quarantined]) -> None:
        con.executemany(
            f"INSERT OR REPLACE INTO {QUARANTINE_TABLE} VALUES (?, ?, ?, now())",
            [[q.file, q.error, self._signature(q.file)] for q in files],
        )

    def load_batch(self, con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> LoadReport:
        """Load `files` in one transaction (the caller checked they are not in the manifest)."""
        started = time.perf_counter()
        report = LoadReport(files=len(files))
        if not files:
            return report
        source, counts = self._source(con, files)
        report.rows_read = sum(counts.values())
        try:
            con.execute("BEGIN TRANSACTION")
            models = self._discover(con, source)
            existing = typed_columns(con)
            columns: list[TypedColumn] = []
            for model, keys in sorted(models.items(), key=lambda item: _model_sort_key(item[0])):
                wanted = self._column_for(model, keys)
                before = existing.get(wanted.name)
                after = apply_column(con, wanted, before)
                if before is None:
                    report.columns_added.append(wanted.name)
                elif after.type != before.type:
                    report.columns_widened.append(wanted.name)
                columns.append(after)
            inserted = con.execute(_insert_sql(source, columns, self._has_duplicates(con, source))).fetchone()
            report.rows_loaded = int(inserted[0]) if inserted else 0
            load_id = uuid.uuid4().hex
            con.executemany(
                f"INSERT INTO {MANIFEST_TABLE} VALUES (?, ?, ?, now())",
                [[name, counts[name], load_id] for name in files],
            )
            con.execute(
                f"DELETE FROM {QUARANTINE_TABLE} WHERE file IN (SELECT file FROM {MANIFEST_TABLE} WHERE load_id = ?)",
                [load_id],
            )
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
        finally:
            if source == _BATCH_VIEW:
                con.unregister(_BATCH_VIEW)
        report.seconds = time.perf_counter() - started
        log.info("loaded", **report.to_json())
        return report

    # -- steps --------------------------------------------------------------------------------

    def _source(self, con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> tuple[str, dict[str, int]]:
        """A SQL table expression over the batch's files, and each file's row count."""
        paths = [local_path(self.lake, name) for name in files]
        if all(p is not None for p in paths):
            counts = {name: pq.read_metadata(str(p)).num_rows for name, p in zip(files, paths, strict=True)}
            listed = ", ".join(_sql_string(str(p)) for p in paths)
            return f"read_parquet([{listed}])", counts
        # No local files (GCS): read the bytes, then let DuckDB scan the Arrow table.
        tables = [pq.read_table(pa.BufferReader(self.lake.read(name))) for name in files]
        counts = {name: t.num_rows for name, t in zip(files, tables, strict=True)}
        con.register(_BATCH_VIEW, pa.concat_tables(tables))
        return _BATCH_VIEW, counts

    def _has_duplicates(self, con: duckdb.DuckDBPyConnection, source: str) -> bool:
        """Whether the batch repeats an (event_id, event_fingerprint) pair (a cheap two-column hash count)."""
        found = con.execute(
            f"SELECT count(*) <> count(DISTINCT (event_id, event_fingerprint)) FROM {source}"
        ).fetchone()
        return bool(found and found[0])

    def _discover(self, con: duckdb.DuckDBPyConnection, source: str) -> dict[_Model, set[SchemaKey]]:
        """The schema models (and versions) the batch's self-describing columns carry."""
        sql = f"""
            SELECT DISTINCT 'unstruct_event', json_extract_string(unstruct_event, '$.data.schema')
              FROM {source} WHERE unstruct_event IS NOT NULL
            UNION
            SELECT DISTINCT 'contexts', unnest(json_extract_string(c, '$.data[*].schema'))
              FROM (SELECT contexts AS c FROM {source} UNION ALL SELECT derived_contexts FROM {source})
             WHERE c IS NOT NULL
        """
        models: dict[_Model, set[SchemaKey]] = {}
        for kind, uri in con.execute(sql).fetchall():
            if uri is None:
                continue
            try:
                key = SchemaKey.parse(uri)
            except IgluParseError:
                continue  # enrich only writes valid keys; anything else is not ours to type
            model = _Model(kind, key.vendor, key.name, key.format, key.version.model)
            models.setdefault(model, set()).add(key)
        return models

    def _column_for(self, model: _Model, seen: Iterable[SchemaKey]) -> TypedColumn:
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
        return TypedColumn(column_name(model.kind, first), model.kind, model_prefix(first), column_type)


def hold_loader_lock(warehouse_url: str, what: str, role: str) -> ProcessLock:
    """One loader per warehouse: the lock file beside it (`warehouse.duckdb.lock`); `Locked` if another holds it."""
    from core.locations import parse_warehouse_url

    path = Path(parse_warehouse_url(warehouse_url).path).resolve()
    return hold_lock(path.with_name(path.name + ".lock"), what, role)


def quarantined_files(warehouse_url: str, *, wait_s: float = 10.0) -> list[Quarantined]:
    """The files a warehouse's loads have quarantined (none if the warehouse does not exist yet)."""
    from core.locations import parse_warehouse_url

    if not Path(parse_warehouse_url(warehouse_url).path).exists():
        return []
    con = open_warehouse(warehouse_url, wait_s=wait_s, read_only=True)
    try:
        tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if QUARANTINE_TABLE not in tables:
            return []
        rows = con.execute(f"SELECT file, error FROM {QUARANTINE_TABLE} ORDER BY file").fetchall()
    finally:
        con.close()
    return [Quarantined(file, error) for file, error in rows]


def _one_line(error: BaseException) -> str:
    """An exception as one line of text (Arrow's messages may span lines and repeat the file's local path)."""
    text = " ".join(str(error).split())
    text = _ARROW_SOURCE.sub("", text)
    return text or type(error).__name__


def _model_sort_key(model: _Model) -> tuple[str, str, str, int]:
    return (model.kind, model.vendor, model.name, model.model)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed_expression(column: TypedColumn) -> str:
    prefix = _sql_string(column.prefix)
    if column.kind == "unstruct_event":
        data = "s._ue.data"
        value = data if column.type == JSON else f"json_transform({data}, '{dumps_type_spec(column.type)}')"
        return f"CASE WHEN starts_with(s._ue.schema, {prefix}) THEN {value} END"
    assert isinstance(column.type, ListOf)
    item = column.type.item
    value = "e.data" if item == JSON else f"json_transform(e.data, '{dumps_type_spec(item)}')"
    matching = f"list_filter(s._entities, lambda e: starts_with(e.schema, {prefix}))"
    return f"nullif(list_transform({matching}, lambda e: {value}), [])"


# Each self-describing column is parsed once per row into (schema, data as JSON text); per-model
# columns then filter on the schema string and parse only the data they keep.
_UNSTRUCT = """json_transform(unstruct_event, '{"data": {"schema": "VARCHAR", "data": "JSON"}}').data"""
_ENTITIES = """coalesce(json_transform({col}, '{{"data": [{{"schema": "VARCHAR", "data": "JSON"}}]}}').data, [])"""


def _insert_sql(source: str, columns: Sequence[TypedColumn], dedup_batch: bool = True) -> str:
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


def continuous_loader(
    lake_url: str, warehouse_url: str, registry: str, *, interval_s: float = 2.0
) -> Callable[[threading.Event], None]:
    """A loop for `eventkit up`: load what is new every `interval_s` until `stop` is set (failures logged, retried)."""

    def load_continuously(stop: threading.Event) -> None:
        resolver = Resolver.from_locations(registry, cache_ttl=interval_s)
        loader = Loader(open_lake(lake_url), warehouse_url, resolver, lock_wait_s=interval_s)
        while not stop.is_set():
            try:
                report = loader.load()
                for q in report.quarantined:
                    log.warning(f"quarantined {q.file}: {q.error}", file=q.file)
            except Exception as e:  # the loop must outlive any one failed load; it is retried next round
                log.warning("load failed; retrying", error=f"{type(e).__name__}: {e}")
            stop.wait(interval_s)

    return load_continuously
