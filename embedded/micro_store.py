"""The Micro event store: good and bad outcomes as Micro shows them, in SQLite, bounded and surviving restarts.

Unlike Snowplow Micro's in-memory cache, the store is a file (`DATA/micro.db`, WAL mode) so the
events of a previous run are still there after a restart, and it is bounded: after each insert
only the newest `max_events` records (good and bad together) are kept. Each record keeps the JSON
document Micro returns (GoodEvent or BadEvent) plus the columns its filters look at. Results are
newest first, as Micro lists them, and `limit` keeps the newest n.

The console (embedded/console) lists the store a page at a time with filters by app, event name,
schema, validity, time and event id / URL; those columns and their indexes were added later, so
opening a store made by an earlier version adds them and fills them from the stored JSON once
(`PRAGMA user_version` says which layout a file has).

Writing is on the hot path of every enrich worker of `eventkit up`, so a good event is kept as its
enriched TSV line and rawEvent, and its GoodEvent is built when read (embedded.micro_documents);
the counts are kept by `add` itself, one statement per batch, rather than by a trigger per row.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from core.sqlite_wal import use_wal
from embedded.micro_documents import good_event

__all__ = ["MicroCounts", "MicroRecord", "MicroStore", "eid_bucket"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS micro_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    valid INTEGER NOT NULL,
    event_type TEXT,
    schema TEXT,
    contexts TEXT NOT NULL DEFAULT '[]',
    vendor TEXT,
    version TEXT,
    body BLOB NOT NULL
)
"""
# Columns added since layout 1 (by `_migrate`): what the console filters on (layout 2), the TSV line (layout 3),
# the event id's search key (layout 4).
_ADDED_COLUMNS = {
    "app_id": "TEXT",
    "event_name": "TEXT",
    "event_id": "TEXT",
    "page_url": "TEXT",
    "bad_type": "TEXT",
    "tstamp_ms": "INTEGER",  # collector time (good) or failure time (bad), as the console shows it
    "stored_ms": "INTEGER",  # when the store received it: the console's time filter and per-minute counts
    "event_tsv": "TEXT",  # a good event's enriched TSV line; NULL when `body` is the whole GoodEvent
    "eid_bucket": "INTEGER",  # the event id's first hex digit, 0-15 (NULL: none, or not hex): see _EID_INDEX
}
_CONSOLE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS micro_events_app ON micro_events(app_id, id)",
    "CREATE INDEX IF NOT EXISTS micro_events_name ON micro_events(event_name, id)",
    "CREATE INDEX IF NOT EXISTS micro_events_schema ON micro_events(schema, id, valid)",
    "CREATE INDEX IF NOT EXISTS micro_events_stored ON micro_events(stored_ms)",
)
# The console's event-id search. An index on event_id itself put each new (random) id at a random place in it:
# ~16 µs of the ~50 µs an add cost a record. Keyed by (first hex digit, id) it grows at 16 ends, ~2 µs; a
# search reads 1/16 of the entries (event_id is in them: no row is fetched), ~10 ms at 1,000,000 events.
_EID_INDEX = (
    "DROP INDEX IF EXISTS micro_events_eid",
    "CREATE INDEX IF NOT EXISTS micro_events_eid_bucket ON micro_events(eid_bucket, id, event_id)",
)
_HEX = "0123456789abcdef"
# Counts kept by every write (`add` with its eviction, `reset`), whichever process makes it: `/micro/all` and the
# console's header read one row instead of counting a million, and the health chart reads per-minute arrivals.
# Layout 2 kept them by triggers, a statement per row; layout 3 drops those.
_COUNTERS = (
    "CREATE TABLE IF NOT EXISTS micro_counts (one INTEGER PRIMARY KEY CHECK (one = 1), good INTEGER NOT NULL,"
    " bad INTEGER NOT NULL)",
    "INSERT OR REPLACE INTO micro_counts (one, good, bad)"
    " SELECT 1, COALESCE(SUM(valid), 0), COALESCE(SUM(1 - valid), 0) FROM micro_events",
    "CREATE TABLE IF NOT EXISTS micro_minutes"
    " (minute INTEGER PRIMARY KEY, good INTEGER NOT NULL, bad INTEGER NOT NULL)",
    "DROP TRIGGER IF EXISTS micro_events_counted",
    "DROP TRIGGER IF EXISTS micro_events_uncounted",
)
_MINUTES_KEPT = 24 * 60
# Filling the new columns of rows stored before them, from the Micro JSON they kept.
_BACKFILL = """
UPDATE micro_events SET
    app_id = CASE WHEN valid = 1 THEN json_extract(body, '$.event.app_id')
                  ELSE json_extract(body, '$.rawEvent.parameters.aid') END,
    event_name = CASE WHEN valid = 1 THEN json_extract(body, '$.event.event_name') END,
    event_id = CASE WHEN valid = 1 THEN json_extract(body, '$.event.event_id')
                    ELSE json_extract(body, '$.rawEvent.parameters.eid') END,
    page_url = CASE WHEN valid = 1 THEN json_extract(body, '$.event.page_url')
                    ELSE json_extract(body, '$.rawEvent.parameters.url') END
WHERE stored_ms IS NULL
"""
_BACKFILL_EID = f"""
UPDATE micro_events SET eid_bucket = instr('{_HEX}', lower(substr(event_id, 1, 1))) - 1
WHERE event_id IS NOT NULL AND eid_bucket IS NULL AND instr('{_HEX}', lower(substr(event_id, 1, 1))) > 0
"""
LAYOUT = 4
_COLUMNS = (
    "valid, event_type, schema, contexts, vendor, version, body, app_id, event_name, event_id, page_url, bad_type,"
    " tstamp_ms, stored_ms, event_tsv, eid_bucket"
)


_INSERT = f"INSERT INTO micro_events ({_COLUMNS}) VALUES ({', '.join('?' * len(_COLUMNS.split(',')))})"

_DOCUMENT = "body, event_tsv, event_type, schema, contexts"  # what `_document` builds a record's JSON from


def _document(body: bytes, event_tsv: str | None, event_type: str | None, schema: str | None, contexts: str) -> Any:
    return orjson.loads(body) if event_tsv is None else good_event(body, event_tsv, event_type, schema, contexts)


def eid_bucket(event_id: str | None) -> int | None:
    """The `eid_bucket` of an event id: its first character as a hex digit (either case), else None."""
    if not event_id:
        return None
    digit = _HEX.find(event_id[0].lower())
    return digit if digit >= 0 else None


@dataclass(frozen=True, slots=True)
class MicroRecord:
    """One stored outcome: `body` is the BadEvent JSON, a good event's rawEvent JSON beside its `event_tsv` line,
    or its whole GoodEvent when it has no line; the rest is what filters match on."""

    valid: bool
    body: bytes
    event_type: str | None = None
    schema: str | None = None
    contexts: tuple[str, ...] = ()
    vendor: str | None = None
    version: str | None = None
    app_id: str | None = None
    event_name: str | None = None
    event_id: str | None = None
    page_url: str | None = None
    bad_type: str | None = None  # the bad-row type (schema_violations, ...) of a bad record
    tstamp_ms: int | None = None
    event_tsv: str | None = None


@dataclass(frozen=True, slots=True)
class MicroCounts:
    """`/micro/all`: how many events the store holds."""

    total: int
    good: int
    bad: int

    def to_json(self) -> dict[str, int]:
        return {"total": self.total, "good": self.good, "bad": self.bad}


class MicroStore:
    """A bounded, persistent list of outcomes; safe to share between threads (HTTP handlers) and between processes
    (each enrich worker of `eventkit up` writes through its own connection)."""

    def __init__(self, path: Path | str, max_events: int = 100_000) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.path = Path(path)
        self.max_events = max_events
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # timeout: SQLite's busy timeout, so a writer waits for another process's transaction instead of failing;
        # each add is one BEGIN IMMEDIATE transaction that also evicts, so the bound holds whoever writes.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        use_wal(self._conn)
        self._conn.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint every 32 MiB of WAL rather than SQLite's 4 MiB: the pages every add rewrites (the table's
        # tail, the indexes' upper levels) are copied once per checkpoint, so fewer copies per record
        # (store.add at the 100,000 bound: ~55 -> ~45 µs a record, compiled).
        self._conn.execute("PRAGMA wal_autocheckpoint=8192")
        self._conn.execute(_SCHEMA)
        self._conn.execute("CREATE INDEX IF NOT EXISTS micro_events_valid ON micro_events(valid, id)")
        self._migrate()

    def _migrate(self) -> None:
        """Bring a store of an earlier layout to this one: add the console's columns, fill them, index them."""
        (layout,) = self._conn.execute("PRAGMA user_version").fetchone()
        if layout >= LAYOUT:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            (layout,) = self._conn.execute("PRAGMA user_version").fetchone()
            if layout >= LAYOUT:  # another process migrated it while this one waited for the write lock
                self._conn.execute("COMMIT")
                return
            have = {row[1] for row in self._conn.execute("PRAGMA table_info(micro_events)")}
            for name, kind in _ADDED_COLUMNS.items():
                if name not in have:
                    self._conn.execute(f"ALTER TABLE micro_events ADD COLUMN {name} {kind}")
            self._conn.execute(_BACKFILL)
            self._conn.execute(_BACKFILL_EID)
            for statement in (*_CONSOLE_INDEXES, *_EID_INDEX, *_COUNTERS):  # counts recomputed, triggers dropped
                self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {LAYOUT}")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    @property
    def connection(self) -> tuple[sqlite3.Connection, threading.Lock]:
        """The connection and the lock that guards it, for the console's read-only queries."""
        return self._conn, self._lock

    def add(self, records: Sequence[MicroRecord]) -> None:
        """Store records (in order) in one transaction, then evict the oldest beyond `max_events`."""
        if not records:
            return
        now_ms = time.time_ns() // 1_000_000
        good = sum(1 for r in records if r.valid)
        bad = len(records) - good
        rows = [
            (
                int(r.valid),
                r.event_type,
                r.schema,
                orjson.dumps(list(r.contexts)).decode(),
                r.vendor,
                r.version,
                r.body,
                r.app_id,
                r.event_name,
                r.event_id,
                r.page_url,
                r.bad_type,
                r.tstamp_ms,
                now_ms,
                r.event_tsv,
                eid_bucket(r.event_id),
            )
            for r in records
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(_INSERT, rows)
                self._conn.execute(
                    "INSERT INTO micro_minutes (minute, good, bad) VALUES (?, ?, ?) ON CONFLICT (minute)"
                    " DO UPDATE SET good = good + excluded.good, bad = bad + excluded.bad",
                    (now_ms // 60000, good, bad),
                )
                self._conn.execute("DELETE FROM micro_minutes WHERE minute < ?", (now_ms // 60000 - _MINUTES_KEPT,))
                # The oldest beyond the bound go; the counts lose what they held (the id range is the primary key's).
                (newest,) = self._conn.execute("SELECT MAX(id) FROM micro_events").fetchone()
                cutoff = newest - self.max_events
                evicted_good, evicted = self._conn.execute(
                    "SELECT COALESCE(SUM(valid), 0), COUNT(*) FROM micro_events WHERE id <= ?", (cutoff,)
                ).fetchone()
                if evicted:
                    self._conn.execute("DELETE FROM micro_events WHERE id <= ?", (cutoff,))
                good, bad = good - evicted_good, bad - (evicted - evicted_good)
                self._conn.execute("UPDATE micro_counts SET good = good + ?, bad = bad + ?", (good, bad))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def counts(self) -> MicroCounts:
        with self._lock:
            good, bad = self._conn.execute("SELECT good, bad FROM micro_counts").fetchone()
        return MicroCounts(int(good) + int(bad), int(good), int(bad))

    def good(
        self,
        event_type: str | None = None,
        schema: str | None = None,
        contexts: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[Any]:
        """GoodEvents matching every given filter (contexts: the event has all of them), newest first."""
        where, params = ["valid = 1"], []
        if event_type is not None:
            where.append("event_type = ?")
            params.append(event_type)
        if schema is not None:
            where.append("schema = ?")
            params.append(schema)
        for uri in contexts:
            where.append("EXISTS (SELECT 1 FROM json_each(micro_events.contexts) WHERE json_each.value = ?)")
            params.append(uri)
        return self._select(where, params, limit)

    def bad(self, vendor: str | None = None, version: str | None = None, limit: int | None = None) -> list[Any]:
        """BadEvents whose collector payload matches vendor/version, newest first."""
        where, params = ["valid = 0"], []
        if vendor is not None:
            where.append("vendor = ?")
            params.append(vendor)
        if version is not None:
            where.append("version = ?")
            params.append(version)
        return self._select(where, params, limit)

    def _select(self, where: list[str], params: list[Any], limit: int | None) -> list[Any]:
        sql = f"SELECT {_DOCUMENT} FROM micro_events WHERE {' AND '.join(where)} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [_document(*row) for row in rows]

    def document(self, row_id: int) -> tuple[bool, Any] | None:
        """One stored record by its row id: (valid, its GoodEvent / BadEvent JSON), or None when not stored."""
        with self._lock:
            row = self._conn.execute(f"SELECT valid, {_DOCUMENT} FROM micro_events WHERE id = ?", (row_id,)).fetchone()
        return None if row is None else (bool(row[0]), _document(*row[1:]))

    def reset(self) -> None:
        """Forget every stored event (`/micro/reset`)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM micro_events")
                self._conn.execute("UPDATE micro_counts SET good = 0, bad = 0")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()
