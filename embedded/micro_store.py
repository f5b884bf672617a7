"""The Micro event store: good and bad outcomes as Micro shows them, in SQLite, bounded and surviving restarts.

Unlike Snowplow Micro's in-memory cache, the store is a file (`DATA/micro.db`, WAL mode) so the
events of a previous run are still there after a restart, and it is bounded: after each insert
only the newest `max_events` records (good and bad together) are kept. Each record keeps the JSON
document Micro returns (GoodEvent or BadEvent) plus the columns its filters look at. Results are
newest first, as Micro lists them, and `limit` keeps the newest n.
"""

from __future__ import annotations

import sqlite3
import threading
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

    def add(self, records: Sequence[MicroRecord]) -> None:
        """Store records (in order) in one transaction, then evict the oldest beyond `max_events`."""
        if not records:
            return
        rows = [
            (int(r.valid), r.event_type, r.schema, orjson.dumps(list(r.contexts)).decode(), r.vendor, r.version, r.body)
            for r in records
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO micro_events (valid, event_type, schema, contexts, vendor, version, body)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._conn.execute(
                    "DELETE FROM micro_events WHERE id <= (SELECT MAX(id) FROM micro_events) - ?",
                    (self.max_events,),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def counts(self) -> MicroCounts:
        with self._lock:
            good, bad = self._conn.execute(
                "SELECT COALESCE(SUM(valid), 0), COALESCE(SUM(1 - valid), 0) FROM micro_events"
            ).fetchone()
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
