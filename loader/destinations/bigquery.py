"""BigQuery behind the destination port: stage each batch's files as they are, then MERGE them in one transaction.

    drop the batch's files the manifest already lists (a repeated or overlapping batch)
    stage the files: a gs:// lake by one load job over their exact URIs (no data through the loader);
        any other lake uploads each file into a staging table whose columns are exactly the file's,
        in the file's order
    discover the schema models the staged unstruct_event / contexts / derived_contexts carry
    add or widen one typed column per model (RECORD / REPEATED RECORD; `update_table` with
        only nullable fields appended); a type BigQuery cannot widen in place gets a recovery column
    BEGIN TRANSACTION
      MERGE the staged rows (first by etl_tstamp per (event_id, event_fingerprint)) into the events
          table by (event_id, event_fingerprint), typing the JSON into the model columns in SQL
      INSERT the files into the manifest; DELETE them from the quarantine
    COMMIT TRANSACTION
    drop the staging tables

The events table is partitioned by DATE(collector_tstamp) and clustered by event_name, as
Snowplow's BigQuery Loader makes it. Bookkeeping lives beside it in the dataset
(`_eventkit_manifest`, `_eventkit_quarantine`, `_eventkit_columns`). `BIGQUERY_EMULATOR_HOST`
switches the client to an emulator with anonymous credentials. Type spelling: bigquery_sql.py.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import requests
from google.api_core import exceptions as api_errors
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import bigquery

from core.atomic import ATOMIC_FIELDS
from core.errors import ConfigError, TransientError
from core.lake.parquet import arrow_owned
from core.locations import WarehouseLocation, parse_warehouse_url
from core.process_lock import ProcessLock, hold_lock
from loader.columns import ColumnTyping, ListOf, ModelColumn, models_seen, widen
from loader.destinations.bigquery_sql import (
    atomic_schema,
    compatible,
    field_for,
    quoted,
    representable,
    sql_string,
    stored_type,
    type_from_stored,
    typed_value,
)
from loader.destinations.port import LoadBatch, LoadReport, QuarantinedFile

__all__ = [
    "ATOMIC",
    "BIGQUERY",
    "BigQueryDestination",
    "BigQueryKind",
    "BigQueryUnavailable",
    "bigquery_client",
    "call",
]

MANIFEST_TABLE = "_eventkit_manifest"
QUARANTINE_TABLE = "_eventkit_quarantine"
COLUMNS_TABLE = "_eventkit_columns"
STAGING_PREFIX = "_eventkit_staging_"
ATOMIC = [f.name for f in ATOMIC_FIELDS]
_STAGING_LIFETIME = timedelta(days=1)  # a crashed load's staging tables expire on their own
_T = TypeVar("_T")
_S = bigquery.SchemaField
_BOOKKEEPING = {
    MANIFEST_TABLE: [_S("file", "STRING"), _S("rows", "INT64"), _S("load_id", "STRING"), _S("loaded_at", "TIMESTAMP")],
    QUARANTINE_TABLE: [
        _S("file", "STRING"),
        _S("error", "STRING"),
        _S("signature", "STRING"),
        _S("quarantined_at", "TIMESTAMP"),
    ],
    COLUMNS_TABLE: [
        _S("name", "STRING"),
        _S("kind", "STRING"),
        _S("prefix", "STRING"),
        _S("type_json", "STRING"),
        _S("active", "BOOL"),
        _S("position", "INT64"),
    ],
}
# Failures worth retrying with backoff: quota and rate limits, BigQuery's own 5xx, a lost connection.
_TRANSIENT = (
    api_errors.TooManyRequests,
    api_errors.InternalServerError,
    api_errors.BadGateway,
    api_errors.ServiceUnavailable,
    api_errors.GatewayTimeout,
    api_errors.RetryError,
    ConnectionError,  # the builtin: refused, reset
    TimeoutError,
    requests.ConnectionError,
    requests.Timeout,
)
_QUOTA_REASONS = {"rateLimitExceeded", "quotaExceeded", "backendError"}


class BigQueryUnavailable(TransientError):
    """BigQuery kept failing (quota, rate limit, 5xx, unreachable) after retrying with backoff."""


def bigquery_client(location: WarehouseLocation) -> bigquery.Client:
    """A client for the URL's project: anonymous against `BIGQUERY_EMULATOR_HOST` if set, else ADC."""
    host = os.environ.get("BIGQUERY_EMULATOR_HOST")
    if host:
        # The client library would use the variable verbatim (no scheme) and still look for credentials.
        endpoint = host if "://" in host else f"http://{host}"
        return bigquery.Client(
            project=location.project,
            location=location.location,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]  # google-auth lacks hints here
            client_options=ClientOptions(api_endpoint=endpoint),
        )
    try:
        return bigquery.Client(project=location.project, location=location.location)
    except DefaultCredentialsError as e:
        raise ConfigError(f"warehouse: no Google credentials for BigQuery ({' '.join(str(e).split())})") from None


def _on_emulator() -> bool:
    return bool(os.environ.get("BIGQUERY_EMULATOR_HOST"))


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, _TRANSIENT):
        return True
    if isinstance(error, api_errors.Forbidden):
        return any(e.get("reason") in _QUOTA_REASONS for e in (error.errors or []) if isinstance(e, dict))
    return False


def call(what: str, action: Callable[[], _T], *, wait_s: float) -> _T:
    """Run `action`, retrying transient BigQuery failures with exponential backoff for up to `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    delay = 0.25
    while True:
        try:
            return action()
        except api_errors.Forbidden as e:
            if not _is_transient(e):
                raise ConfigError(f"warehouse: BigQuery refused to {what}: {_one_line(e)}") from None
            last: BaseException = e
        except Exception as e:
            if not _is_transient(e):
                raise
            last = e
        if time.monotonic() + delay > deadline:
            raise BigQueryUnavailable(f"BigQuery could not {what}: {_one_line(last)}") from last
        time.sleep(delay)
        delay = min(delay * 2, 8.0)


def _one_line(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error)
    return " ".join(str(text).split())[:500] or type(error).__name__


class BigQueryDestination:
    """The dataset and events table a `bigquery://` URL names, open for loads."""

    def __init__(self, url: str, *, wait_s: float = 60.0, create: bool = True) -> None:
        self.url = url
        self.location = parse_warehouse_url(url)
        assert self.location.project is not None and self.location.dataset is not None
        self.wait_s = max(wait_s, 1.0)
        # The client's own retry of one call, bounded like ours (its default keeps trying for 10 minutes).
        self.retry = bigquery.DEFAULT_RETRY.with_timeout(self.wait_s)
        self.client = bigquery_client(self.location)
        self.dataset = f"{self.location.project}.{self.location.dataset}"
        self.events = f"{self.dataset}.{self.location.table}"
        try:
            self._ensure_tables(create)
        except BaseException:
            self.client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here
            raise

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here

    def _table(self, name: str) -> str:
        return f"`{self.dataset}.{name}`"

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[bigquery.Row]:
        config = bigquery.QueryJobConfig(query_parameters=list(params))
        return call(
            "run a query",
            lambda: list(
                self.client.query(sql, job_config=config, retry=self.retry, job_retry=None).result(retry=self.retry)
            ),
            wait_s=self.wait_s,
        )

    # -- tables -------------------------------------------------------------------------------

    def _ensure_tables(self, create: bool) -> None:
        """The dataset (created unless `create` is False), the events table and the bookkeeping tables."""
        try:
            call(
                "read the dataset", lambda: self.client.get_dataset(self.dataset, retry=self.retry), wait_s=self.wait_s
            )
        except api_errors.NotFound:
            if not create:
                raise ConfigError(
                    f"warehouse: BigQuery dataset {self.dataset!r} does not exist (and creating it was turned off)"
                ) from None
            dataset = bigquery.Dataset(self.dataset)
            if self.location.location:
                dataset.location = self.location.location
            call(
                "create the dataset",
                lambda: self.client.create_dataset(dataset, exists_ok=True, retry=self.retry),
                wait_s=self.wait_s,
            )
        existing = {
            t.table_id
            for t in call(
                "list tables", lambda: list(self.client.list_tables(self.dataset, retry=self.retry)), wait_s=self.wait_s
            )
        }
        for name, schema in _BOOKKEEPING.items():
            if name not in existing:
                self._create(bigquery.Table(f"{self.dataset}.{name}", schema=schema))
        if self.location.table not in existing:
            self._create(self.events_definition(atomic_schema()))

    def events_definition(self, schema: list[bigquery.SchemaField]) -> bigquery.Table:
        """The events table with `schema`: partitioned by DATE(collector_tstamp), clustered by event_name."""
        table = bigquery.Table(self.events, schema=schema)
        table.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY, field="collector_tstamp"
        )
        table.clustering_fields = ["event_name"]
        return table

    def _create(self, table: bigquery.Table) -> None:
        call(
            "create a table",
            lambda: self.client.create_table(table, exists_ok=True, retry=self.retry),
            wait_s=self.wait_s,
        )

    # -- the port -----------------------------------------------------------------------------

    def loaded_files(self) -> set[str]:
        return {row["file"] for row in self._query(f"SELECT file FROM {self._table(MANIFEST_TABLE)}")}

    def columns(self) -> dict[str, ModelColumn]:
        return {c.name: c for c, _ in self._column_records()}

    def _column_records(self) -> list[tuple[ModelColumn, bool]]:
        """Every per-model column in table order, and whether its model loads into it now (False: superseded)."""
        rows = self._query(
            f"SELECT name, kind, prefix, type_json, active FROM {self._table(COLUMNS_TABLE)} ORDER BY position"
        )
        return [
            (
                ModelColumn(r["name"], r["kind"], r["prefix"], type_from_stored(orjson.loads(r["type_json"]))),
                bool(r["active"]),
            )
            for r in rows
        ]

    def quarantine(self, files: Sequence[QuarantinedFile]) -> None:
        if not files:
            return
        records = [(q.file, q.error, q.signature) for q in {q.file: q for q in files}.values()]
        values = ", ".join(
            f"({sql_string(f)}, {sql_string(e)}, {sql_string(s) if s is not None else 'NULL'}, CURRENT_TIMESTAMP())"
            for f, e, s in records
        )
        listed = ", ".join(sql_string(f) for f, _, _ in records)
        self._query(
            "BEGIN TRANSACTION; "
            f"DELETE FROM {self._table(QUARANTINE_TABLE)} WHERE file IN ({listed}); "
            f"INSERT INTO {self._table(QUARANTINE_TABLE)} (file, error, signature, quarantined_at) VALUES {values}; "
            "COMMIT TRANSACTION;"
        )

    def quarantined(self) -> list[QuarantinedFile]:
        return _read_quarantine(self, self._table(QUARANTINE_TABLE))

    def load(self, batch: LoadBatch, typing: ColumnTyping) -> LoadReport:
        """Stage, evolve, then MERGE and record the files in one transaction (see the module's outline)."""
        report = LoadReport()
        files = self._new_files(batch.files)
        if not files:
            return report
        load_id = uuid.uuid4().hex
        with self._staging(load_id) as staged:
            counts = self._stage(batch, files, load_id, staged)
            atomic = ", ".join(quoted(n) for n in ATOMIC)
            source = " UNION ALL ".join(f"SELECT {atomic} FROM {self._table(t)}" for t in staged)
            report.files = len(files)
            report.rows_read = self._count(source)
            columns = self._evolve(source, typing, report)
            report.rows_loaded = self._new_rows(source)
            manifest = ", ".join(
                f"({sql_string(name)}, {_sql_int(counts[name])}, {sql_string(load_id)}, CURRENT_TIMESTAMP())"
                for name in files
            )
            listed = ", ".join(sql_string(name) for name in files)
            self._query(
                "BEGIN TRANSACTION; "
                f"{self._merge_sql(source, columns)}; "
                f"INSERT INTO {self._table(MANIFEST_TABLE)} (file, rows, load_id, loaded_at) VALUES {manifest}; "
                f"DELETE FROM {self._table(QUARANTINE_TABLE)} WHERE file IN ({listed}); "
                "COMMIT TRANSACTION;"
            )
        return report

    # -- steps --------------------------------------------------------------------------------

    def _new_files(self, files: Sequence[str]) -> list[str]:
        """The batch's files the manifest does not list yet, each once, in batch order."""
        done = {
            row["file"]
            for row in self._query(
                f"SELECT file FROM {self._table(MANIFEST_TABLE)} WHERE file IN UNNEST(@files)",
                [bigquery.ArrayQueryParameter("files", "STRING", list(files))],
            )
        }
        return list(dict.fromkeys(name for name in files if name not in done))

    @contextmanager
    def _staging(self, load_id: str) -> Iterator[list[str]]:
        """The staging tables a load creates (names appended by `_stage`), dropped when it ends, however it ends."""
        staged: list[str] = []
        try:
            yield staged
        finally:
            for name in staged:
                try:
                    self.client.delete_table(f"{self.dataset}.{name}", not_found_ok=True)
                except Exception:
                    pass

    def _stage(self, batch: LoadBatch, files: Sequence[str], load_id: str, staged: list[str]) -> dict[str, int | None]:
        """Stage the batch: load jobs over exact gs:// URIs for a GCS lake, uploads for any other lake."""
        from core.lake.gcs import GcsLake

        if isinstance(batch.lake, GcsLake):
            return self._stage_uris(batch.lake, files, load_id, staged)
        return dict(self._stage_uploads(batch, files, load_id, staged))

    def _stage_uris(self, lake: Any, files: Sequence[str], load_id: str, staged: list[str]) -> dict[str, int | None]:
        """One load job over the files' exact gs:// URIs (no data through the loader); per-file counts unknown.

        The staging table is the enriched-event layout (BigQuery matches Parquet columns by name), then
        `date` and `hour`: the hive columns bqemulator adds for files under `good/date=…/hour=…/`
        (BigQuery leaves them NULL). Exact URIs, never a wildcard: the manifest names each file.
        """
        table = f"{STAGING_PREFIX}{load_id}_uris"
        definition = bigquery.Table(
            f"{self.dataset}.{table}", schema=[*atomic_schema(), _S("date", "STRING"), _S("hour", "STRING")]
        )
        definition.expires = datetime.now(UTC) + _STAGING_LIFETIME
        self._create(definition)
        staged.append(table)
        base = f"gs://{lake.bucket_name}/" + (f"{lake.prefix}/" if lake.prefix else "")
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET, write_disposition=bigquery.WriteDisposition.WRITE_APPEND
        )

        def load_job() -> None:
            uris = [base + name for name in files]
            self.client.load_table_from_uri(uris, f"{self.dataset}.{table}", job_config=config).result(retry=self.retry)

        try:
            call(f"load {len(files)} files from {base}", load_job, wait_s=self.wait_s)
        except api_errors.BadRequest as e:
            raise LoadFailed(f"{base}: {_one_line(e)}") from e
        return dict.fromkeys(files)

    def _stage_uploads(self, batch: LoadBatch, files: Sequence[str], load_id: str, staged: list[str]) -> dict[str, int]:
        """Upload each file into the staging table of its column layout (one per layout); each file's row count.

        Columns are given exactly as the file has them, in its order: a load fills columns by position
        on the emulator (BigQuery itself matches Parquet columns by name; both agree on this layout).
        """
        tables: dict[tuple[tuple[str, str], ...], str] = {}
        counts: dict[str, int] = {}
        for name in files:
            path = batch.local_path(name)
            data = None if path is not None else batch.read(name)
            source: Any = str(path) if path is not None else arrow_owned(data or b"")
            metadata = pq.read_metadata(source)
            schema = metadata.schema.to_arrow_schema()
            layout = tuple((field.name, _staging_type(field.type, name)) for field in schema)
            table = tables.get(layout)
            if table is None:
                table = f"{STAGING_PREFIX}{load_id}_{len(tables)}"
                definition = bigquery.Table(f"{self.dataset}.{table}", schema=[_S(n, t) for n, t in layout])
                definition.expires = datetime.now(UTC) + _STAGING_LIFETIME
                self._create(definition)
                staged.append(table)
                tables[layout] = table
            self._upload(name, path, data, table)
            counts[name] = metadata.num_rows
        return counts

    def _upload(self, name: str, path: Path | None, data: bytes | None, table: str) -> None:
        """Append one Parquet file to a staging table (an unreadable file is a LoadFailed naming it)."""
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET, write_disposition=bigquery.WriteDisposition.WRITE_APPEND
        )

        def upload() -> None:
            with path.open("rb") if path is not None else io.BytesIO(data or b"") as stream:
                self.client.load_table_from_file(stream, f"{self.dataset}.{table}", job_config=config).result()

        try:
            call(f"load {name}", upload, wait_s=self.wait_s)
        except api_errors.BadRequest as e:
            raise LoadFailed(f"{name}: {_one_line(e)}") from e

    def _evolve(self, source: str, typing: ColumnTyping, report: LoadReport) -> list[ModelColumn]:
        """Add or widen one column per model the batch carries (noted in `report`); the columns loaded into."""
        records = self._column_records()
        active = {c.prefix + c.kind: c for c, is_active in records if is_active}
        found = [(row["kind"], row["uri"]) for row in self._query(_DISCOVER.format(source=source))]
        models = models_seen(found)
        changes: list[tuple[ModelColumn, ModelColumn | None]] = []  # (column after, column before or None)
        for model, keys in sorted(models.items(), key=lambda item: item[0].sort_key()):
            wanted = typing.column_for(model, keys)
            wanted = ModelColumn(wanted.name, wanted.kind, wanted.prefix, representable(wanted.type))
            before = active.get(wanted.prefix + wanted.kind)
            if before is None:
                changes.append((wanted, None))
                report.columns_added.append(wanted.name)
                continue
            after_type = representable(widen(before.type, wanted.type))
            if after_type == before.type:
                changes.append((before, before))
            elif compatible(before.type, after_type):
                changes.append((ModelColumn(before.name, before.kind, before.prefix, after_type), before))
                report.columns_widened.append(before.name)
            else:
                # BigQuery cannot change a field's type in place: new rows of this model go to a recovery
                # column of the widened type; the old column keeps the rows it has (Snowplow does the same).
                digest = hashlib.sha256(orjson.dumps(stored_type(after_type))).hexdigest()[:8]
                recovery = ModelColumn(f"{before.name}_recovered_{digest}", before.kind, before.prefix, after_type)
                changes.append((recovery, None))
                report.columns_added.append(recovery.name)
        if any(after != before for after, before in changes):
            self._apply(records, changes)
        return [after for after, _ in changes]

    def _apply(
        self, records: list[tuple[ModelColumn, bool]], changes: list[tuple[ModelColumn, ModelColumn | None]]
    ) -> None:
        """Change the events table's schema, then record the columns (the schema first: a crash leaves a column
        BigQuery has but the records lack, which the next load adds again harmlessly as `exists`)."""
        current = {c.name: c for c, _ in records}
        was_active = {c.name: is_active for c, is_active in records}
        for after, before in changes:
            if before is None or after.name != before.name:
                # A recovery column supersedes the column its model loaded into until now.
                for name, column in current.items():
                    if column.prefix == after.prefix and column.kind == after.kind and name != after.name:
                        was_active[name] = False
            current[after.name] = after
            was_active[after.name] = True
        table = call(
            "read the events table", lambda: self.client.get_table(self.events, retry=self.retry), wait_s=self.wait_s
        )
        by_name = {f.name: f for f in table.schema}
        old_types = {c.name: c.type for c, _ in records}
        for column in current.values():
            by_name[column.name] = field_for(column.name, column.type)
        table.schema = list(by_name.values())
        if _on_emulator():
            from loader.destinations.bigquery_emulator import emulator_apply_schema

            emulator_apply_schema(self, table, old_types, current)
        else:
            call(
                "change the events table's schema",
                lambda: self.client.update_table(table, ["schema"], retry=self.retry),
                wait_s=self.wait_s,
            )
        rows = ", ".join(
            f"({sql_string(c.name)}, {sql_string(c.kind)}, {sql_string(c.prefix)}, "
            f"{sql_string(orjson.dumps(stored_type(c.type)).decode())}, {str(was_active[c.name]).upper()}, {i})"
            for i, c in enumerate(current.values())
        )
        self._query(
            "BEGIN TRANSACTION; "
            f"DELETE FROM {self._table(COLUMNS_TABLE)} WHERE TRUE; "
            f"INSERT INTO {self._table(COLUMNS_TABLE)} (name, kind, prefix, type_json, active, position) "
            f"VALUES {rows}; "
            "COMMIT TRANSACTION;"
        )

    def _deduplicated(self, source: str) -> str:
        """The staged rows, the first copy (by etl_tstamp) of each (event_id, event_fingerprint) only."""
        return (
            f"SELECT * EXCEPT (_copy) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id, event_fingerprint "
            f"ORDER BY etl_tstamp, collector_tstamp) AS _copy FROM ({source})) WHERE _copy = 1"
        )

    def _count(self, source: str) -> int:
        """The staged rows (files read)."""
        (row,) = self._query(f"SELECT COUNT(*) AS n FROM ({source})")
        return int(row["n"])

    def _new_rows(self, source: str) -> int:
        """How many staged events the table lacks (what the MERGE will insert; one loader per warehouse)."""
        (row,) = self._query(
            f"SELECT COUNT(*) AS n FROM ({self._deduplicated(source)}) AS s "
            f"WHERE NOT EXISTS (SELECT 1 FROM `{self.events}` AS t WHERE {_SAME_EVENT})"
        )
        return int(row["n"])

    def _merge_sql(self, source: str, columns: Sequence[ModelColumn]) -> str:
        """MERGE … WHEN NOT MATCHED THEN INSERT (cols) VALUES (cols): each (event_id, event_fingerprint) once."""
        typed = [f"{_model_value(c)} AS {quoted(c.name)}" for c in columns]
        selected = ", ".join([*(f"s.{quoted(n)}" for n in ATOMIC), *typed])
        names = [*ATOMIC, *(c.name for c in columns)]
        targets = ", ".join(quoted(n) for n in names)
        values = ", ".join(f"s.{quoted(n)}" for n in names)
        return (
            f"MERGE `{self.events}` AS t "
            f"USING (SELECT {selected} FROM ({self._deduplicated(source)}) AS s) AS s "
            f"ON {_SAME_EVENT} "
            f"WHEN NOT MATCHED THEN INSERT ({targets}) VALUES ({values})"
        )


class LoadFailed(ValueError):
    """BigQuery could not read a batch file (not a transient failure: the loader probes and quarantines)."""


def _read_quarantine(destination: BigQueryDestination, table: str) -> list[QuarantinedFile]:
    rows = destination._query(f"SELECT file, error, signature FROM {table} ORDER BY file")
    return [QuarantinedFile(r["file"], r["error"], r["signature"]) for r in rows]


def _model_value(column: ModelColumn) -> str:
    """SQL typing one model's entities out of the staged JSON text (its unstruct event, or its contexts)."""
    prefix = sql_string(column.prefix)
    if column.kind == "unstruct_event":
        value = typed_value(column.type, "s.unstruct_event", "$.data.data")
        return f"IF(STARTS_WITH(JSON_VALUE(s.unstruct_event, '$.data.schema'), {prefix}), {value}, NULL)"
    assert isinstance(column.type, ListOf)
    item = typed_value(column.type.item, "e", "$.data", 1)
    matching = f"STARTS_WITH(JSON_VALUE(e, '$.schema'), {prefix}) AND {item} IS NOT NULL"
    tracker, derived = (
        f"ARRAY(SELECT {item} FROM UNNEST(JSON_QUERY_ARRAY(s.{source}, '$.data')) AS e WITH OFFSET AS o "
        f"WHERE {matching} ORDER BY o)"
        for source in ("contexts", "derived_contexts")
    )
    return f"ARRAY_CONCAT({tracker}, {derived})"


def _sql_int(value: int | None) -> str:
    return "NULL" if value is None else str(int(value))


def _staging_type(arrow: pa.DataType, name: str) -> str:
    """The BigQuery type a Parquet column is loaded as (LoadFailed for one an enriched file never has)."""
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "STRING"
    if pa.types.is_integer(arrow):
        return "INT64"
    if pa.types.is_floating(arrow):
        return "FLOAT64"
    if pa.types.is_boolean(arrow):
        return "BOOL"
    if pa.types.is_timestamp(arrow):
        return "TIMESTAMP"
    if pa.types.is_date(arrow):
        return "DATE"
    if pa.types.is_decimal(arrow):
        return "NUMERIC" if arrow.precision <= 38 and arrow.scale <= 9 else "BIGNUMERIC"
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return "BYTES"
    raise LoadFailed(f"{name}: column type {arrow} is not one an enriched-event file has")


_SAME_EVENT = (
    "t.event_id = s.event_id AND (t.event_fingerprint = s.event_fingerprint "
    "OR (t.event_fingerprint IS NULL AND s.event_fingerprint IS NULL))"
)
_DISCOVER = """
    SELECT DISTINCT 'unstruct_event' AS kind, JSON_VALUE(unstruct_event, '$.data.schema') AS uri
      FROM ({source}) WHERE unstruct_event IS NOT NULL
    UNION DISTINCT
    SELECT DISTINCT 'contexts' AS kind, JSON_VALUE(e, '$.schema') AS uri
      FROM ({source}) AS s, UNNEST(JSON_QUERY_ARRAY(s.contexts, '$.data')) AS e
    UNION DISTINCT
    SELECT DISTINCT 'contexts' AS kind, JSON_VALUE(e, '$.schema') AS uri
      FROM ({source}) AS s, UNNEST(JSON_QUERY_ARRAY(s.derived_contexts, '$.data')) AS e
"""


class BigQueryKind:
    """`bigquery://PROJECT/DATASET[?table=events&location=EU]`: a dataset in BigQuery (or its emulator)."""

    def open(
        self,
        url: str,
        *,
        wait_s: float = 60.0,
        threads: int | None = None,
        create: bool = True,
        memory_mb: int | None = None,
        merge_small_loads: bool = True,
    ) -> BigQueryDestination:  # threads, memory and storage layout: BigQuery's own
        return BigQueryDestination(url, wait_s=wait_s, create=create)

    def hold_lock(self, url: str, what: str, role: str) -> ProcessLock:
        """A lock file on this machine, named after the table (loaders on other machines are not seen)."""
        location = parse_warehouse_url(url)
        key = f"{location.project}/{location.dataset}/{location.table}".encode()
        digest = hashlib.sha256(key).hexdigest()[:16]
        return hold_lock(Path(tempfile.gettempdir()) / f"eventkit-bigquery-{digest}.lock", what, role)

    def read_quarantine(self, url: str, *, wait_s: float = 10.0) -> list[QuarantinedFile]:
        location = parse_warehouse_url(url)
        client = bigquery_client(location)
        try:
            table = f"{location.project}.{location.dataset}.{QUARANTINE_TABLE}"
            try:
                call("read the quarantine", lambda: client.get_table(table), wait_s=wait_s)
            except api_errors.NotFound:
                return []
            rows = call(
                "read the quarantine",
                lambda: list(client.query(f"SELECT file, error, signature FROM `{table}` ORDER BY file").result()),
                wait_s=wait_s,
            )
        finally:
            client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here
        return [QuarantinedFile(r["file"], r["error"], r["signature"]) for r in rows]


BIGQUERY = BigQueryKind()
