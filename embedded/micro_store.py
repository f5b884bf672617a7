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

__all__ = ["MicroCounts", "MicroRecord", "MicroStore"]

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
# Columns the console filters on (layout 2), added to stores of layout 1 by `_migrate`.
_CONSOLE_COLUMNS = {
    "app_id": "TEXT",
    "event_name": "TEXT",
    "event_id": "TEXT",
    "page_url": "TEXT",
    "bad_type": "TEXT",
    "tstamp_ms": "INTEGER",  # collector time (good) or failure time (bad), as the console shows it
    "stored_ms": "INTEGER",  # when the store received it: the console's time filter and per-minute counts
}
_CONSOLE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS micro_events_app ON micro_events(app_id, id)",
    "CREATE INDEX IF NOT EXISTS micro_events_name ON micro_events(event_name, id)",
    "CREATE INDEX IF NOT EXISTS micro_events_schema ON micro_events(schema, id, valid)",
    "CREATE INDEX IF NOT EXISTS micro_events_eid ON micro_events(event_id)",
    "CREATE INDEX IF NOT EXISTS micro_events_stored ON micro_events(stored_ms)",
)
# Counts kept by triggers, whoever writes (enrich, eviction, reset, another process): `/micro/all` and the
# console's header read one row instead of counting a million, and the health chart reads per-minute arrivals.
_COUNTERS = (
    "CREATE TABLE IF NOT EXISTS micro_counts (one INTEGER PRIMARY KEY CHECK (one = 1), good INTEGER NOT NULL,"
    " bad INTEGER NOT NULL)",
    "INSERT OR REPLACE INTO micro_counts (one, good, bad)"
    " SELECT 1, COALESCE(SUM(valid), 0), COALESCE(SUM(1 - valid), 0) FROM micro_events",
    "CREATE TABLE IF NOT EXISTS micro_minutes"
    " (minute INTEGER PRIMARY KEY, good INTEGER NOT NULL, bad INTEGER NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS micro_events_counted AFTER INSERT ON micro_events BEGIN"
    " UPDATE micro_counts SET good = good + NEW.valid, bad = bad + 1 - NEW.valid;"
    " INSERT INTO micro_minutes (minute, good, bad) VALUES (NEW.stored_ms / 60000, NEW.valid, 1 - NEW.valid)"
    " ON CONFLICT (minute) DO UPDATE SET good = good + excluded.good, bad = bad + excluded.bad; END",
    "CREATE TRIGGER IF NOT EXISTS micro_events_uncounted AFTER DELETE ON micro_events BEGIN"
    " UPDATE micro_counts SET good = good - OLD.valid, bad = bad - 1 + OLD.valid; END",
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
LAYOUT = 2


@dataclass(frozen=True, slots=True)
class MicroRecord:
    """One stored outcome: `body` is the GoodEvent / BadEvent JSON, the rest what filters match on."""

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
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
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
            for name, kind in _CONSOLE_COLUMNS.items():
                if name not in have:
                    self._conn.execute(f"ALTER TABLE micro_events ADD COLUMN {name} {kind}")
            self._conn.execute(_BACKFILL)
            for statement in (*_CONSOLE_INDEXES, *_COUNTERS):
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
            )
            for r in records
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO micro_events (valid, event_type, schema, contexts, vendor, version, body,"
                    " app_id, event_name, event_id, page_url, bad_type, tstamp_ms, stored_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._conn.execute(
                    "DELETE FROM micro_events WHERE id <= (SELECT MAX(id) FROM micro_events) - ?",
                    (self.max_events,),
                )
                self._conn.execute("DELETE FROM micro_minutes WHERE minute < ?", (now_ms // 60000 - _MINUTES_KEPT,))
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
        sql = f"SELECT body FROM micro_events WHERE {' AND '.join(where)} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [orjson.loads(body) for (body,) in rows]

    def reset(self) -> None:
        """Forget every stored event (`/micro/reset`)."""
        with self._lock:
            self._conn.execute("DELETE FROM micro_events")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
