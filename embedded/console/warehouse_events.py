"""Events from a DuckDB warehouse, for `eventkit console --warehouse` without a Micro store (a team's pipeline).

The warehouse holds good events only, as loaded (so it lags the collector by a load). Pages are read
with one bounded query each (`ORDER BY collector_tstamp DESC LIMIT`, keyset on the timestamp), on a
read-only connection that waits at most a moment for the loader's turn on DuckDB's lock. One event
is shown with the same view as a Micro GoodEvent: its atomic columns, and its `unstruct_event`,
`contexts` and `derived_contexts` JSON columns as the self-describing event and contexts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from embedded.console.events import PAGE_SIZE, EventFilters, _ms

__all__ = ["WarehouseRow", "fetch", "list_events", "readable"]

_COLUMNS = "event_id, app_id, event_name, event, collector_tstamp, page_url, unstruct_event"


@dataclass(frozen=True, slots=True)
class WarehouseRow:
    """One line of the live list, read from the warehouse (always a good event)."""

    event_id: str | None
    app_id: str | None
    event_name: str | None
    event_type: str | None
    collector: datetime | None
    page_url: str | None
    schema: str | None
    valid: bool = True
    bad_type: None = None

    @property
    def id(self) -> str:
        return self.event_id or ""

    @property
    def href(self) -> str:
        return f"/console/warehouse/{self.event_id}"

    @property
    def when(self) -> str:
        if self.collector is None:
            return ""
        return self.collector.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]

    @property
    def label(self) -> str:
        return self.event_name or self.event_type or "event"

    @property
    def cursor(self) -> str:
        return "" if self.collector is None else self.collector.astimezone(UTC).isoformat()


def _connect(url: str) -> Any:
    from loader.destinations.duckdb_tables import EVENTS_TABLE, open_warehouse, warehouse_path

    if not warehouse_path(url).exists():
        return None
    con = open_warehouse(url, wait_s=1.0, read_only=True)
    tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if EVENTS_TABLE not in tables:
        con.close()
        return None
    return con


def list_events(url: str, filters: EventFilters, *, before: str | None = None) -> list[WarehouseRow]:
    """A page of loaded events, newest first (older than the `before` timestamp); [] for bad-only filters."""
    if filters.validity == "bad":
        return []
    where: list[str] = []
    params: list[Any] = []
    if filters.app:
        where.append("app_id = ?")
        params.append(filters.app)
    if filters.event:
        where.append("event_name = ?")
        params.append(filters.event)
    if filters.schema:
        uri = filters.schema if filters.schema.startswith("iglu:") else f"iglu:{filters.schema}"
        where.append("starts_with(json_extract_string(unstruct_event, '$.data.schema'), ?)")
        params.append(uri)
    for text, name, op in ((filters.since, "since", ">="), (filters.until, "until", "<")):
        if text:
            where.append(f"collector_tstamp {op} to_timestamp(? / 1000.0)")
            params.append(_ms(text, name))
    if filters.q:
        where.append("(event_id = ? OR contains(page_url, ?))")
        params.extend([filters.q, filters.q])
    if before:
        where.append("collector_tstamp < ?::TIMESTAMPTZ")
        params.append(before)
    sql = f"SELECT {_COLUMNS} FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY collector_tstamp DESC LIMIT {PAGE_SIZE}"
    con = _connect(url)
    if con is None:
        return []
    try:
        rows = con.execute(sql, params).fetchall()
    finally:
        con.close()
    return [WarehouseRow(r[0], r[1], r[2], r[3], r[4], r[5], _schema(r[6])) for r in rows]


def _schema(unstruct: Any) -> str | None:
    if not isinstance(unstruct, str) or not unstruct:
        return None
    try:
        inner = orjson.loads(unstruct).get("data")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    schema = inner.get("schema") if isinstance(inner, dict) else None
    return schema if isinstance(schema, str) else None


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return value


def fetch(url: str, event_id: str) -> dict[str, Any] | None:
    """The event as a Micro-like GoodEvent (`event`, `contexts`, decodable entities), or None."""
    con = _connect(url)
    if con is None:
        return None
    try:
        cursor = con.execute("SELECT * FROM events WHERE event_id = ? LIMIT 1", [event_id])
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
    finally:
        con.close()
    if row is None:
        return None
    event = {name: _iso(value) for name, value in zip(names, row, strict=True)}
    derived: list[str] = []
    try:
        found = orjson.loads(event.get("derived_contexts") or "{}").get("data") or []
        derived = [e["schema"] for e in found if isinstance(e, dict) and isinstance(e.get("schema"), str)]
    except (orjson.JSONDecodeError, AttributeError):
        derived = []
    # The entity columns are the tracker's JSON as enrich kept it: shown through the view's ue_pr / co decoding.
    entities = {p: event[k] for p, k in (("ue_pr", "unstruct_event"), ("co", "contexts")) if event.get(k)}
    return {
        "event": {k: v for k, v in event.items() if k not in ("unstruct_event", "contexts", "derived_contexts")},
        "eventType": event.get("event"),
        "contexts": derived,
        "rawEvent": {"parameters": entities},
    }


def readable(url: str | None) -> bool:
    """Whether the console can list events from this warehouse URL (a DuckDB file)."""
    return url is not None and url.startswith("duckdb://")
