"""Bad rows for people: the lake's rows grouped (type → schema → error) over time, and one row explained.

Groups come from `loader.bad_summary.summarise` over `loader.selection.read_bad_rows` — the same
reading and counting as `eventkit bad` — bounded by a time window so only the hour partitions in it
are read. Lake objects are complete or absent and their names never reused, so `BadRowCache` reads
each bad-row file once and keeps its rows (without their documents) for the next page: a page then
costs the listing, the new files and the counting, not a re-read of every row in the window.
One row is addressed by its lake file and line (only `bad/**.jsonl` names are accepted) or
comes from the Micro store; it is explained as: each error in plain words at its JSON path, the value
found there in the decoded payload, the part of the schema that refused it, and the payload with
`ue_px`/`cx` decoded (loader.payload_view, as fix steps see it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson

from core.errors import IgluParseError, RegistryUnavailable
from core.iglu import SchemaKey
from core.lake import Lake
from loader.bad_summary import BadSummary, summarise
from loader.payload_view import open_view
from loader.selection import (
    BAD_PREFIX,
    BadRowEntry,
    ReadStats,
    Selection,
    UnreadableFile,
    read_bad_rows,
    replay_outcomes,
)
from registry.resolver import Resolver, SchemaNotFound

__all__ = [
    "WINDOWS",
    "BadRowCache",
    "BadRowView",
    "Issue",
    "explain",
    "group_rows",
    "read_row",
    "summary",
]

# The windows the bad-rows page offers, with the chart's bucket for each.
WINDOWS: dict[str, tuple[timedelta, str]] = {
    "6h": (timedelta(hours=6), "hour"),
    "24h": (timedelta(hours=24), "hour"),
    "7d": (timedelta(days=7), "day"),
    "30d": (timedelta(days=30), "day"),
}
_ROW_NAME = re.compile(r"^bad/[A-Za-z0-9_.=/-]+\.jsonl$")
_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")
_MISSING = object()


class _OneFile:
    """A view of the lake holding one object, so `read_bad_rows` reads that file alone."""

    def __init__(self, lake: Lake, name: str) -> None:
        self.lake, self.name, self.url = lake, name, lake.url

    def list(self, prefix: str = "") -> Iterator[str]:
        return iter([self.name] if self.name.startswith(prefix) else [])

    def read(self, name: str) -> bytes:
        return self.lake.read(name)


class BadRowCache:
    """The rows of each bad-row file read so far (documents dropped), by file name; at most `max_rows` kept."""

    def __init__(self, max_rows: int = 300_000) -> None:
        self.max_rows = max_rows
        self._files: dict[str, tuple[list[BadRowEntry], list[UnreadableFile]]] = {}
        self._rows = 0
        self._lock = threading.Lock()
        self.reads = 0  # files read from the lake (tests check the cache is used)

    def _file(self, lake: Lake, name: str) -> tuple[list[BadRowEntry], list[UnreadableFile]]:
        with self._lock:
            found = self._files.get(name)
        if found is not None:
            return found
        stats = ReadStats()
        rows = [replace(e, doc={}) for e in read_bad_rows(cast(Lake, _OneFile(lake, name)), Selection(), stats)]
        self.reads += 1
        with self._lock:
            if self._rows + len(rows) <= self.max_rows:
                self._files[name] = (rows, stats.unreadable)
                self._rows += len(rows)
        return rows, stats.unreadable

    def entries(self, lake: Lake, selection: Selection, stats: ReadStats) -> Iterator[BadRowEntry]:
        """What `read_bad_rows(lake, selection, stats)` yields, from the cache where it can."""
        seen: set[str] = set()
        for name in lake.list(BAD_PREFIX):
            if not name.endswith(".jsonl") or not selection.file_may_match(name):
                continue
            try:
                rows, unreadable = self._file(lake, name)
            except FileNotFoundError:
                stats.unreadable.append(UnreadableFile(name, "vanished while being read"))
                continue
            stats.unreadable.extend(unreadable)
            for entry in rows:
                if not selection.matches(entry):
                    continue
                if entry.identity in seen:
                    stats.duplicates += 1
                    continue
                seen.add(entry.identity)
                yield entry


def summary(lake: Lake, window: str, cache: BadRowCache | None = None) -> BadSummary:
    """The groups of the last `window` (a key of WINDOWS), counted as `eventkit bad` counts them."""
    span, bucket = WINDOWS[window]
    stats = ReadStats()
    selection = Selection(since=datetime.now(tz=UTC) - span)
    rows = cache.entries(lake, selection, stats) if cache is not None else read_bad_rows(lake, selection, stats)
    return summarise(rows, bucket=bucket, outcomes=replay_outcomes(lake), stats=stats)


def group_rows(
    lake: Lake, type_name: str, schema: str, window: str, *, limit: int = 50, cache: BadRowCache | None = None
) -> list[BadRowEntry]:
    """The newest rows of one type (and schema, `-` for none) in the window, at most `limit`."""
    span, _ = WINDOWS[window]
    selection = Selection(types=(type_name,), since=datetime.now(tz=UTC) - span)
    found = cache.entries(lake, selection, ReadStats()) if cache is not None else read_bad_rows(lake, selection)
    rows = [
        e
        for e in found
        if (e.schemas[0] if e.schemas else "-") == schema and type_name in (e.type_name, e.wrapped_type)
    ]
    rows.sort(key=lambda e: e.failed_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return rows[:limit]


def read_row(lake: Lake, file: str, line: int) -> dict[str, Any] | None:
    """The bad row at `file`:`line` of the lake, or None (a name outside `bad/`, a missing file or line)."""
    if not _ROW_NAME.match(file) or ".." in file or line < 0 or not file.startswith(BAD_PREFIX):
        return None
    try:
        lines = lake.read(file).split(b"\n")
    except FileNotFoundError:
        return None
    if line >= len(lines):
        return None
    try:
        doc = orjson.loads(lines[line])
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


@dataclass(frozen=True, slots=True)
class Issue:
    """One reason the row was refused, for a person."""

    schema: str | None
    path: str | None
    keyword: str | None
    message: str
    value: str | None  # the offending value as JSON text, when the path leads to one
    schema_excerpt: str | None  # the part of the schema at that path, as JSON text


@dataclass(slots=True)
class BadRowView:
    """Everything the one-bad-row page shows."""

    type_name: str
    schema: str
    failed_at: str | None
    processor: str | None
    issues: list[Issue] = field(default_factory=list)
    payload: str = ""  # the original request (the tracker's parameters), decoded, pretty JSON
    enriched: str = ""  # for rows refused during enrichment: the fields enrich had set (non-empty ones)
    row: str = ""  # the whole bad row, pretty JSON


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _walk(value: Any, path: str) -> Any:
    """The value at a `$.a.b[0]` path, or _MISSING."""
    if not path.startswith("$"):
        return _MISSING
    rest = path[1:]
    pos = 0
    while pos < len(rest):
        m = _PATH_TOKEN.match(rest, pos)
        if m is None:
            return _MISSING
        key: str | int = m.group(1) if m.group(1) is not None else int(m.group(2)) if m.group(2) else m.group(3)
        in_list = isinstance(key, int) and isinstance(value, list) and 0 <= key < len(value)
        if in_list or (isinstance(key, str) and isinstance(value, dict) and key in value):
            value = value[key]
        else:
            return _MISSING
        pos = m.end()
    return value


def _schema_at(schema: Any, path: str) -> Any:
    """The sub-schema that rules the value at `path` (properties for keys, items for indexes)."""
    rest = path[1:] if path.startswith("$") else ""
    pos = 0
    while pos < len(rest) and isinstance(schema, dict):
        m = _PATH_TOKEN.match(rest, pos)
        if m is None:
            break
        if m.group(2) is not None:
            schema = schema.get("items", {})
        else:
            name = m.group(1) if m.group(1) is not None else m.group(3)
            properties = schema.get("properties")
            schema = properties.get(name, {}) if isinstance(properties, dict) else {}
        pos = m.end()
    return schema


def _entities(payload: Any) -> dict[str, Any]:
    """The self-describing data a payload carries (event and contexts), by schema URI."""
    found: dict[str, Any] = {}

    def visit(value: Any, depth: int = 0) -> None:
        if depth > 12:
            return
        if isinstance(value, dict):
            if isinstance(value.get("schema"), str) and "data" in value and value["schema"].startswith("iglu:"):
                found.setdefault(value["schema"], value["data"])
            for child in value.values():
                visit(child, depth + 1)
        elif isinstance(value, list):
            for child in value:
                visit(child, depth + 1)

    visit(payload)
    return found


def _plain(keyword: str | None, message: str, path: str | None) -> str:
    """The validator's message as a sentence that says where."""
    where = f"at {path}" if path and path != "$" else "at the top level"
    if path and message.startswith(f"{path}: "):
        message = message[len(path) + 2 :]
    if keyword == "required":
        return f"a required field is missing {where}: {message}"
    return f"{where}: {message}"


def explain(doc: dict[str, Any], resolver: Resolver | None) -> BadRowView:
    """A bad row (JSON) explained: its issues with values and schema excerpts, and its decoded payload."""
    schema_uri = str(doc.get("schema", ""))
    type_name = schema_uri.split("/")[1] if schema_uri.count("/") >= 3 else "unknown"
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    assert isinstance(data, dict)
    failure = data.get("failure")
    processor = data.get("processor")
    view = BadRowView(
        type_name=type_name,
        schema=schema_uri,
        failed_at=failure.get("timestamp") if isinstance(failure, dict) else None,
        processor=f"{processor.get('artifact')} {processor.get('version')}" if isinstance(processor, dict) else None,
    )
    opened = open_view(data.get("payload"))
    if isinstance(opened, dict) and "raw" in opened:
        view.payload = _pretty(opened["raw"])
        enriched = opened.get("enriched")
        if isinstance(enriched, dict):
            view.enriched = _pretty({k: v for k, v in enriched.items() if v not in (None, "")})
    else:
        view.payload = _pretty(opened)
    view.row = _pretty(doc)
    entities = _entities(opened)
    messages = failure.get("messages") if isinstance(failure, dict) else None
    for message in messages if isinstance(messages, list) else []:
        view.issues.extend(_issues(message, entities, resolver))
    if not view.issues and failure is not None:
        text = failure if isinstance(failure, str) else _pretty(failure)
        view.issues.append(Issue(None, None, None, text[:2000], None, None))
    return view


def _issues(message: Any, entities: dict[str, Any], resolver: Resolver | None) -> list[Issue]:
    if not isinstance(message, dict):
        return []
    if isinstance(message.get("message"), dict):  # enrichment_failures wrap the real message
        return _issues(message["message"], entities, resolver)
    key = message.get("schemaKey") if isinstance(message.get("schemaKey"), str) else None
    error = message.get("error")
    if isinstance(error, dict):
        reports = error.get("dataReports")
        if isinstance(reports, list) and reports:
            return [_report_issue(key, r, entities, resolver) for r in reports if isinstance(r, dict)]
        kind = str(error.get("error", "error"))
        if kind == "ResolutionError":
            looked = [
                str(item.get("repository"))
                for item in error.get("lookupHistory") or []
                if isinstance(item, dict) and item.get("repository")
            ]
            where = f" (looked up in: {', '.join(looked)})" if looked else ""
            return [Issue(key, None, kind, f"the schema {key} was not found in the registry{where}", None, None)]
        return [Issue(key, None, kind, _pretty(error)[:2000], None, None)]
    if isinstance(error, str):
        return [Issue(key, None, "error", error[:2000], None, None)]
    expectation = message.get("expectation")
    if isinstance(expectation, str):
        field_name = message.get("field") or message.get("payloadField")
        value = message.get("value")
        shown = None if value is None else orjson.dumps(value).decode()
        text = f"{field_name}: {expectation}" if field_name else expectation
        return [Issue(key, None, str(field_name) if field_name else None, text[:2000], shown, None)]
    return [Issue(key, None, None, _pretty(message)[:2000], None, None)]


def _report_issue(
    key: str | None, report: dict[str, Any], entities: dict[str, Any], resolver: Resolver | None
) -> Issue:
    path = report.get("path") if isinstance(report.get("path"), str) else None
    keyword = str(report.get("keyword")) if report.get("keyword") is not None else None
    message = str(report.get("message", ""))
    value_text = None
    if key is not None and key in entities and path is not None:
        value = _walk(entities[key], path)
        if value is not _MISSING:
            value_text = orjson.dumps(value).decode()[:2000]
    excerpt = None
    if key is not None and resolver is not None:
        try:
            schema = resolver.lookup(SchemaKey.parse(key))
        except (SchemaNotFound, RegistryUnavailable, IgluParseError):
            schema = None
        if schema is not None:
            sub = _schema_at(schema, path or "$")
            if keyword == "required" and isinstance(sub, dict):
                sub = {"required": sub.get("required"), "properties": sorted((sub.get("properties") or {}).keys())}
            excerpt = _pretty(sub)[:4000]
    return Issue(key, path, keyword, _plain(keyword, message, path), value_text, excerpt)
