"""Live events: the Micro store read a page at a time, filtered through its indexes, newest first.

Every query is keyset-paginated on the row id (`before`/`after`) with a LIMIT, so a page costs the
same with 1,000,000 events stored as with 10; only the listed columns are read, never the bodies,
except for the one event a detail page shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from core.errors import ConfigError
from embedded.micro_store import MicroCounts, MicroStore
from loader.selection import parse_when

__all__ = ["PAGE_SIZE", "EventFilters", "EventRow", "count", "fetch", "list_events", "minute_counts"]

PAGE_SIZE = 50
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_VALIDITY = {"good": 1, "bad": 0}


@dataclass(frozen=True, slots=True)
class EventFilters:
    """What the live-events form asks for; empty strings mean "any"."""

    app: str = ""
    event: str = ""
    schema: str = ""
    validity: str = ""  # "", "good" or "bad"
    since: str = ""  # 30m, 12h, 7d or an ISO instant (the store's receive time)
    until: str = ""
    q: str = ""  # an event id (exact) or text in the page URL

    @classmethod
    def from_query(cls, params: Any) -> EventFilters:
        def get(name: str) -> str:
            value = params.get(name)
            return value.strip()[:500] if isinstance(value, str) else ""

        validity = get("validity")
        return cls(
            app=get("app"),
            event=get("event"),
            schema=get("schema"),
            validity=validity if validity in _VALIDITY else "",
            since=get("since"),
            until=get("until"),
            q=get("q"),
        )

    def query_items(self) -> list[tuple[str, str]]:
        """The non-empty filters as query parameters (for links that keep them)."""
        items = [
            ("app", self.app),
            ("event", self.event),
            ("schema", self.schema),
            ("validity", self.validity),
            ("since", self.since),
            ("until", self.until),
            ("q", self.q),
        ]
        return [(k, v) for k, v in items if v]

    def where(self) -> tuple[list[str], list[Any]]:
        """SQL conditions and parameters; a time that cannot be read is a ConfigError naming the accepted forms."""
        where: list[str] = []
        params: list[Any] = []
        if self.app:
            where.append("app_id = ?")
            params.append(self.app)
        if self.event:
            where.append("event_name = ?")
            params.append(self.event)
        if self.schema:
            # A full URI is matched exactly (indexed); `com.acme/checkout` matches any of its versions.
            uri = self.schema if self.schema.startswith("iglu:") else f"iglu:{self.schema}"
            if uri.count("/") >= 3:
                where.append("schema = ?")
                params.append(uri)
            else:
                where.append("schema >= ? AND schema < ?")
                params.extend([uri, uri + "\uffff"])
        if self.validity:
            where.append("valid = ?")
            params.append(_VALIDITY[self.validity])
        if self.since:
            where.append("stored_ms >= ?")
            params.append(_ms(self.since, "since"))
        if self.until:
            where.append("stored_ms < ?")
            params.append(_ms(self.until, "until"))
        if self.q:
            if _UUID.match(self.q):
                where.append("event_id = ?")
                params.append(self.q.lower())
            else:
                where.append("(instr(page_url, ?) > 0 OR event_id = ?)")
                params.extend([self.q, self.q])
        return where, params


def _ms(text: str, name: str) -> int:
    try:
        return int(parse_when(text).timestamp() * 1000)
    except ConfigError as e:
        raise ConfigError(f"{name}: {e}") from None


@dataclass(frozen=True, slots=True)
class EventRow:
    """One line of the live list."""

    id: int
    valid: bool
    app_id: str | None
    event_name: str | None
    schema: str | None
    bad_type: str | None
    event_id: str | None
    page_url: str | None
    tstamp_ms: int | None
    stored_ms: int | None
    event_type: str | None

    @property
    def when(self) -> str:
        ms = self.tstamp_ms if self.tstamp_ms is not None else self.stored_ms
        if ms is None:
            return ""
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]

    @property
    def label(self) -> str:
        """What happened, in a word: the event name, or the bad-row type."""
        if self.valid:
            return self.event_name or self.event_type or "event"
        return self.bad_type or "bad row"


_COLUMNS = "id, valid, app_id, event_name, schema, bad_type, event_id, page_url, tstamp_ms, stored_ms, event_type"


def list_events(
    store: MicroStore,
    filters: EventFilters,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> list[EventRow]:
    """A page of events, newest first: older than `before`, or newer than `after` (the polling call)."""
    where, params = filters.where()
    if before is not None:
        where.append("id < ?")
        params.append(before)
    if after is not None:
        where.append("id > ?")
        params.append(after)
    sql = f"SELECT {_COLUMNS} FROM micro_events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(max(1, min(limit, 500)))
    conn, lock = store.connection
    with lock:
        rows = conn.execute(sql, params).fetchall()
    return [EventRow(r[0], bool(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]) for r in rows]


def count(store: MicroStore) -> MicroCounts:
    """The header's counts: exactly what `/micro/all` answers."""
    return store.counts()


def fetch(store: MicroStore, row_id: int) -> tuple[bool, dict[str, Any]] | None:
    """One stored record (validity, Micro JSON) by its row id, or None when it is not (or no longer) stored."""
    conn, lock = store.connection
    with lock:
        row = conn.execute("SELECT valid, body FROM micro_events WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        return None
    body = orjson.loads(row[1])
    return bool(row[0]), body if isinstance(body, dict) else {}


def minute_counts(store: MicroStore, since_ms: int) -> dict[int, tuple[int, int]]:
    """Good and bad records received per minute since `since_ms` (minute start in ms → (good, bad))."""
    conn, lock = store.connection
    with lock:
        rows = conn.execute(
            "SELECT stored_ms / 60000, SUM(valid), SUM(1 - valid) FROM micro_events"
            " WHERE stored_ms >= ? GROUP BY stored_ms / 60000",
            (since_ms,),
        ).fetchall()
    return {int(m) * 60000: (int(g), int(b)) for m, g, b in rows}
