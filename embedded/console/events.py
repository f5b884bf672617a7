"""Live events: the Micro store read a page at a time, filtered through its indexes, newest first.

Every query is keyset-paginated on the row id (`before`/`after`) with a LIMIT and reads only the
listed columns, never the bodies (except for the one event a detail page shows). Filters that an
index answers exactly (an event id) are one query. The others walk the ids backwards in growing
ranges, each an index or rowid range, until the page is full or the time budget is spent: a page
never costs more than the budget, however rare the match among 1,000,000 events, and when the
budget ends the scan the page says how far it searched and links to search further back. The time
filter becomes an id range (receive times grow with ids), found by one index seek each.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import ConfigError
from embedded.micro_store import MicroCounts, MicroStore, eid_bucket
from loader.selection import parse_when

__all__ = [
    "PAGE_SIZE",
    "EventFilters",
    "EventPage",
    "EventRow",
    "count",
    "fetch",
    "list_events",
    "minute_counts",
    "newest_id",
]

PAGE_SIZE = 50
SEARCH_BUDGET_S = 0.12  # the longest a page spends searching before it shows what it found
_FIRST_SPAN = 5_000  # ids in the first range searched; each next range is twice as wide
_MAX_SPAN = 400_000
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

    @property
    def exact(self) -> bool:
        """The filter is an event id: its index answers it at once, no range walk needed."""
        return bool(_UUID.match(self.q))

    def id_range(self, conn: sqlite3.Connection) -> tuple[int, int]:
        """[low, high) ids received within since/until; a time that cannot be read is a ConfigError."""
        low, high = 0, 1 << 62
        for text, name in ((self.since, "since"), (self.until, "until")):
            if not text:
                continue
            row = conn.execute(
                "SELECT id FROM micro_events WHERE stored_ms >= ? ORDER BY stored_ms LIMIT 1", (_ms(text, name),)
            ).fetchone()
            first = int(row[0]) if row is not None else 1 << 62
            if name == "since":
                low = first
            else:
                high = first
        return low, high

    def where(self) -> tuple[list[str], list[Any]]:
        """SQL conditions and parameters of every filter but the time window (`id_range`)."""
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
                # `+schema`: a prefix is checked row by row inside the id range, not walked through its index.
                where.append("+schema >= ? AND +schema < ?")
                params.extend([uri.rstrip("/") + "/", uri.rstrip("/") + "/\uffff"])
        if self.validity:
            where.append("valid = ?")
            params.append(_VALIDITY[self.validity])
        if self.q:
            if _UUID.match(self.q):
                event_id = self.q.lower()
                where.append("eid_bucket = ? AND event_id = ?")  # the event-id index (embedded.micro_store)
                params.extend([eid_bucket(event_id), event_id])
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
    def href(self) -> str:
        return f"/console/events/{self.id}"

    @property
    def label(self) -> str:
        """What happened, in a word: the event name, or the bad-row type."""
        if self.valid:
            return self.event_name or self.event_type or "event"
        return self.bad_type or "bad row"


_COLUMNS = "id, valid, app_id, event_name, schema, bad_type, event_id, page_url, tstamp_ms, stored_ms, event_type"


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of rows; `searched_to` is set when the time budget ended the search before the page was full:
    ids from it downwards were not searched yet (the "search older" link starts there)."""

    rows: list[EventRow]
    searched_to: int | None = None


def _query(conn: sqlite3.Connection, where: list[str], params: list[Any], limit: int) -> list[EventRow]:
    sql = f"SELECT {_COLUMNS} FROM micro_events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    rows = conn.execute(sql, [*params, limit]).fetchall()
    return [EventRow(r[0], bool(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]) for r in rows]


def list_events(
    store: MicroStore,
    filters: EventFilters,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
    budget_s: float = SEARCH_BUDGET_S,
) -> EventPage:
    """A page of events, newest first: older than `before`, or newer than `after` (the polling call)."""
    limit = max(1, min(limit, 500))
    where, params = filters.where()
    conn, lock = store.connection
    with lock:
        low, high = filters.id_range(conn)
        top = conn.execute("SELECT COALESCE(MAX(id), 0) FROM micro_events").fetchone()[0]
        bottom = conn.execute("SELECT COALESCE(MIN(id), 0) FROM micro_events").fetchone()[0]
    if before is not None:
        high = min(high, before)
    if after is not None:
        low = max(low, after + 1)
    low, high = max(low, bottom), min(high, top + 1)
    if filters.exact:
        with lock:
            return EventPage(_query(conn, [*where, "id >= ?", "id < ?"], [*params, low, high], limit))
    rows: list[EventRow] = []
    started = time.perf_counter()
    span = _FIRST_SPAN
    upper = high
    while len(rows) < limit and upper > low:
        lower = max(upper - span, low)
        with lock:  # per range, so the writer is never held off for a whole search
            rows += _query(conn, [*where, "id >= ?", "id < ?"], [*params, lower, upper], limit - len(rows))
        searched, elapsed = high - lower, time.perf_counter() - started
        upper = lower
        left = budget_s - elapsed
        if left <= 0:
            break
        # Twice as wide, but no wider than the ids this search gets through in the time left.
        span = max(_FIRST_SPAN, min(span * 2, _MAX_SPAN, int(searched / max(elapsed, 1e-6) * left)))
    return EventPage(rows, upper if len(rows) < limit and upper > low else None)


def newest_id(store: MicroStore) -> int:
    """The highest row id stored (0 when empty): where polling starts, whatever the filters match."""
    conn, lock = store.connection
    with lock:
        return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM micro_events").fetchone()[0])


def count(store: MicroStore) -> MicroCounts:
    """The header's counts: exactly what `/micro/all` answers."""
    return store.counts()


def fetch(store: MicroStore, row_id: int) -> tuple[bool, dict[str, Any]] | None:
    """One stored record (validity, Micro JSON) by its row id, or None when it is not (or no longer) stored."""
    found = store.document(row_id)
    if found is None:
        return None
    valid, body = found
    return valid, body if isinstance(body, dict) else {}


def minute_counts(store: MicroStore, since_ms: int) -> dict[int, tuple[int, int]]:
    """Good and bad records received per minute since `since_ms` (minute start in ms → (good, bad)).

    From the per-minute arrivals the store's trigger keeps (a day of them), so events evicted since still count.
    """
    conn, lock = store.connection
    with lock:
        rows = conn.execute(
            "SELECT minute, good, bad FROM micro_minutes WHERE minute >= ?", (since_ms // 60000,)
        ).fetchall()
    return {int(m) * 60000: (int(g), int(b)) for m, g, b in rows}
