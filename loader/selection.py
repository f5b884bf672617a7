"""Choosing bad rows in the lake: by type, schema, error keyword/message and time window.

Bad rows live under `bad/<type>/date=YYYY-MM-DD/hour=HH/<part>.jsonl` (one bad-row JSON per line).
Each line becomes a `BadRowEntry` that knows where it came from (file, line), its identity (a hash
of the line, stable across runs), when it failed, the schemas its failure names and its errors as
`(keyword, message)` pairs — what `eventkit bad` groups by and `eventkit replay` filters on.
The time window reads the hour partition first (whole files are skipped) and then the failure's
own timestamp when it has one.

**Distinct rows.** A redelivered raw message is processed again and writes the same bad row again,
differing only in processing times (`failure.timestamp`, `etl_tstamp`, look-up times). Each entry
therefore carries a content `identity` — its type and the original request it holds (the payload
replay rebuilds from; for a recovery_error also its error and recovery count) — and
`read_bad_rows` yields each identity once, so counts and replays see one row per failed event.

**Unreadable lines.** A line that is not a JSON bad row (truncated, binary, not an object) is
skipped and reported per file in `ReadStats.unreadable`, never counted as a bad row nor replayed.

**Replay manifest.** Every replay records the rows it handled under `replayed/` (one JSON line per
row: row id, identity, outcome `sent` or `recovery_error`); `replay_outcomes` reads it back so
`eventkit bad` can show those rows as replayed and replay does not send them twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from core.errors import ConfigError
from core.lake import Lake
from core.raw import parse_instant

__all__ = [
    "BAD_PREFIX",
    "REPLAYED_PREFIX",
    "BadRowEntry",
    "ReadStats",
    "ReplayOutcomes",
    "Selection",
    "UnreadableFile",
    "describe_errors",
    "parse_when",
    "payload_identity",
    "read_bad_rows",
    "replay_outcomes",
    "unwrap",
]

BAD_PREFIX = "bad/"
REPLAYED_PREFIX = "replayed/"
_PARTITION = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/")
_AGO = re.compile(r"^(\d+)([dhm])$")


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """`7d` / `12h` / `30m` ago, or an ISO-8601 date or instant (UTC unless it says otherwise)."""
    text = text.strip()
    m = _AGO.match(text)
    if m is not None:
        n, unit = int(m.group(1)), m.group(2)
        try:
            delta = {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]
            return (now or datetime.now(tz=UTC)) - delta
        except (OverflowError, ValueError):  # `99999999999d`: before the year 1
            raise ConfigError(f"{text!r} reaches back before the year 1; use a smaller number") from None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{text!r} is not a time; accepted forms: 7d, 12h, 30m, 2026-11-26, 2026-11-26T10:00Z"
        ) from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BadRowEntry:
    """One bad-row line of the lake, with what selection and summaries need to know about it."""

    file: str
    line: int
    type_name: str
    row_id: str  # sha256 of the line: the same bad row has the same id in every run
    doc: dict[str, Any]
    failed_at: datetime | None
    schemas: tuple[str, ...]
    errors: tuple[tuple[str, str], ...]  # (keyword, message)
    wrapped_type: str | None = None  # a recovery_error's original type (it is selected by that type too)
    identity: str = ""  # the content identity: a redelivered copy of this bad row has the same one


@dataclass(frozen=True, slots=True)
class UnreadableFile:
    """A bad-row file (or some of its lines) that could not be read as bad rows, and why."""

    file: str
    error: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "error": self.error}


@dataclass(slots=True)
class ReadStats:
    """What `read_bad_rows` left out: redelivered copies of rows already yielded, and unreadable files."""

    duplicates: int = 0
    unreadable: list[UnreadableFile] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which bad rows to take; empty tuples mean "any". `error` matches a keyword exactly or a message by substring."""

    types: tuple[str, ...] = ()
    schemas: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def file_may_match(self, name: str) -> bool:
        type_name = name[len(BAD_PREFIX) :].split("/", 1)[0]
        if self.types and type_name not in self.types and type_name != "recovery_error":
            return False  # a recovery_error file may hold rows of any wrapped type
        m = _PARTITION.search(name)
        if m is None:
            return True
        hour_start = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}:00:00+00:00")
        if self.until is not None and hour_start >= self.until:
            return False
        # Files are partitioned by processing time, which is never before the failure itself.
        return self.since is None or hour_start + timedelta(hours=1) > self.since

    def matches(self, entry: BadRowEntry) -> bool:
        if self.types and entry.type_name not in self.types and entry.wrapped_type not in self.types:
            return False
        if self.schemas and not any(_schema_matches(want, have) for want in self.schemas for have in entry.schemas):
            return False
        if self.errors and not any(
            want == keyword or want.lower() in message.lower()
            for want in self.errors
            for keyword, message in entry.errors
        ):
            return False
        if entry.failed_at is not None:
            if self.since is not None and entry.failed_at < self.since:
                return False
            if self.until is not None and entry.failed_at >= self.until:
                return False
        return True


def _error_matches(want: str, keyword: str, message: str) -> bool:
    return want == keyword or want.lower() in message.lower()


def _schema_matches(want: str, have: str) -> bool:
    """`com.acme/checkout`, `iglu:com.acme/checkout/jsonschema/1-0-0` or any prefix of a URI."""
    bare = have.removeprefix("iglu:")
    return have.startswith(want) or bare.startswith(want.removeprefix("iglu:"))


def read_bad_rows(
    lake: Lake, selection: Selection = Selection(), stats: ReadStats | None = None
) -> Iterator[BadRowEntry]:
    """Every distinct bad row in the lake that `selection` takes, file by file in name order.

    Redelivered copies (same identity) and unreadable lines are left out and counted in `stats`.
    """
    stats = stats if stats is not None else ReadStats()
    taken = 0
    seen: set[str] = set()
    for name in lake.list(BAD_PREFIX):
        if not name.endswith(".jsonl") or not selection.file_may_match(name):
            continue
        type_name = name[len(BAD_PREFIX) :].split("/", 1)[0]
        try:
            content = lake.read(name)
        except FileNotFoundError:
            stats.unreadable.append(UnreadableFile(name, "vanished while being read"))
            continue
        bad_lines: list[tuple[int, str]] = []
        for number, line in enumerate(content.split(b"\n")):
            if not line.strip():
                continue
            entry = _entry(name, number, type_name, line)
            if isinstance(entry, str):
                bad_lines.append((number, entry))
                continue
            if not selection.matches(entry):
                continue
            if entry.identity in seen:
                stats.duplicates += 1
                continue
            seen.add(entry.identity)
            yield entry
            taken += 1
            if selection.limit is not None and taken >= selection.limit:
                return
        if bad_lines:
            number, reason = bad_lines[0]
            stats.unreadable.append(
                UnreadableFile(name, f"{len(bad_lines)} unreadable line(s), skipped (line {number + 1}: {reason})")
            )


@dataclass(slots=True)
class ReplayOutcomes:
    """What earlier replays did with rows, by row id and by content identity: `sent` or `recovery_error`."""

    by_row: dict[str, str] = field(default_factory=dict)
    by_identity: dict[str, str] = field(default_factory=dict)

    def of(self, entry: BadRowEntry) -> str | None:
        """The outcome of `entry` (or of a redelivered copy of it), None if no replay handled it."""
        return self.by_row.get(entry.row_id) or self.by_identity.get(entry.identity)


def replay_outcomes(lake: Lake) -> ReplayOutcomes:
    """Every row an earlier replay handled, with the outcome (`sent` or `recovery_error`).

    An unreadable manifest line is skipped: the rows it named are then only selectable again, and a
    replay's eids make a resend harmless (the load deduplicates).
    """
    outcomes = ReplayOutcomes()
    for name in lake.list(REPLAYED_PREFIX):
        if not name.endswith(".jsonl"):
            continue
        for line in lake.read(name).split(b"\n"):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(item, dict):
                continue
            outcome = str(item.get("outcome", "sent"))
            if isinstance(item.get("row_id"), str):
                outcomes.by_row[item["row_id"]] = outcome
            if isinstance(item.get("identity"), str):
                outcomes.by_identity[item["identity"]] = outcome
    return outcomes


def payload_identity(type_name: str, data: dict[str, Any]) -> str:
    """The identity of the original request a bad row's `data` holds (hex sha256 of its canonical JSON).

    The raw payload, not the row, so the same request failing twice (a redelivered message) or
    wrapped in a recovery_error has the same identity. Replay derives its stable eids from it.
    """
    payload = data.get("payload")
    if type_name in ("schema_violations", "enrichment_failures") and isinstance(payload, dict) and "raw" in payload:
        payload = payload["raw"]
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _identity(type_name: str, doc: dict[str, Any]) -> str:
    """A row's content identity: its type and original request (and for a recovery_error, which recovery)."""
    inner_type, original, recoveries = unwrap(type_name, doc)
    found = original.get("data")
    parts: list[Any] = [type_name, inner_type, payload_identity(inner_type, found if isinstance(found, dict) else {})]
    if type_name == "recovery_error":
        failure = _failure(doc)
        parts += [recoveries, failure.get("error") if isinstance(failure, dict) else None]
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()


def _type_of(row: dict[str, Any]) -> str:
    schema = str(row.get("schema", ""))
    return schema.split("/")[1] if schema.count("/") >= 3 else ""


def unwrap(type_name: str, doc: dict[str, Any]) -> tuple[str, dict[str, Any], int]:
    """The original bad row inside recovery_error rows (any depth): (its type, its SDJ, recoveries tried so far)."""
    recoveries = 0
    while type_name == "recovery_error":
        data = doc.get("data")
        data = data if isinstance(data, dict) else {}
        count = data.get("recoveries")
        recoveries = max(recoveries, count if isinstance(count, int) else 0)
        inner = data.get("payload")
        doc = inner if isinstance(inner, dict) else {}
        type_name = _type_of(doc)
    return type_name, doc, recoveries


def _failure(doc: dict[str, Any]) -> Any:
    data = doc.get("data")
    return data.get("failure") if isinstance(data, dict) else None


def _failed_at(failure: Any) -> datetime | None:
    ts = failure.get("timestamp") if isinstance(failure, dict) else None
    if isinstance(ts, str):
        try:
            return datetime.fromtimestamp(parse_instant(ts) / 1000, tz=UTC)
        except ValueError:
            return None
    return None


def _entry(name: str, number: int, type_name: str, line: bytes) -> BadRowEntry | str:
    """The entry for one line, or why the line is not a bad row."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return f"not JSON: {e}"
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        return "not a bad row (expected a JSON object with a data object)"
    failure = _failure(doc)
    schemas, errors = describe_errors(failure)
    wrapped_type = None
    failed_at = _failed_at(failure)
    if type_name == "recovery_error":
        # Selected, grouped and time-filtered as the row it wraps, with the recovery's error first.
        wrapped_type, original, _ = unwrap(type_name, doc)
        inner_schemas, inner_errors = describe_errors(_failure(original))
        schemas = tuple(dict.fromkeys((*inner_schemas, *schemas)))
        errors = tuple(dict.fromkeys((*errors, *inner_errors)))
        failed_at = _failed_at(_failure(original))
    row_id = hashlib.sha256(line.strip()).hexdigest()
    identity = _identity(type_name, doc)
    return BadRowEntry(name, number, type_name, row_id, doc, failed_at, schemas, errors, wrapped_type, identity)


def describe_errors(failure: Any) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The schema URIs a failure names and its errors as (keyword, message), for every bad-row type."""
    schemas: list[str] = []
    errors: list[tuple[str, str]] = []
    if isinstance(failure, str):
        return (), (("error", failure[:200]),)
    if isinstance(failure, list):  # loader_iglu_error
        messages: Sequence[Any] = failure
    elif isinstance(failure, dict):
        raw = failure.get("messages")
        messages = raw if isinstance(raw, list) else [failure]
        if isinstance(failure.get("errors"), list):  # generic_error
            errors.extend(("error", str(e)[:200]) for e in failure["errors"])
        if "maximumAllowedSizeBytes" in failure:
            errors.append(("size", str(failure.get("expectation", "too large"))))
        if isinstance(failure.get("type"), str):  # loader_parsing_error
            detail = {k: v for k, v in failure.items() if k != "type"}
            errors.append((failure["type"], str(detail)[:200] if detail else failure["type"]))
    else:
        return (), ()
    for message in messages:
        _describe_message(message, schemas, errors)
    return tuple(dict.fromkeys(schemas)), tuple(dict.fromkeys(errors))


def _describe_message(message: Any, schemas: list[str], errors: list[tuple[str, str]]) -> None:
    if not isinstance(message, dict):
        return
    if isinstance(message.get("message"), dict):  # enrichment_failures wrap the real message
        _describe_message(message["message"], schemas, errors)
        return
    key = message.get("schemaKey")
    if isinstance(key, str):
        schemas.append(key)
    criterion = message.get("schemaCriterion")
    if isinstance(criterion, str) and not isinstance(key, str):
        schemas.append(criterion)
    error = message.get("error")
    if isinstance(error, dict):
        kind = str(error.get("error", "error"))
        reports = error.get("dataReports")
        if isinstance(reports, list) and reports:
            for report in reports:
                if isinstance(report, dict):
                    keyword = report.get("keyword") or kind
                    errors.append((str(keyword), str(report.get("message", ""))[:200]))
        elif isinstance(error.get("schemaIssues"), list):
            errors.append(("schemaIssues", "the schema itself is unusable"))
        else:
            errors.append((kind, _resolution_text(error) if kind == "ResolutionError" else kind))
        return
    if isinstance(error, str):  # NotJson / NotIglu / enrichment error text
        json_doc = message.get("json")
        if isinstance(json_doc, dict) and isinstance(json_doc.get("schema"), str):
            schemas.append(json_doc["schema"])
        errors.append((error if error.isupper() else "error", error[:200]))
        return
    if isinstance(criterion, str):
        errors.append(("CriterionMismatch", f"{key} does not match {criterion}"))
        return
    if "expected" in message:  # loader_iglu_error WrongType / NotAnArray
        errors.append(("WrongType", f"{message.get('value')!r}: {message['expected']} expected"[:200]))
        return
    if "key" in message and "value" in message:  # loader_iglu_error MissingInValue
        errors.append(("MissingInValue", f"{message['key']} missing"[:200]))
        return
    if isinstance(message.get("message"), str):  # loader_iglu_error InvalidSchema
        errors.append(("InvalidSchema", message["message"][:200]))
        return
    expectation = message.get("expectation")
    if isinstance(expectation, str):
        field_name = message.get("field") or message.get("payloadField") or "input"
        errors.append((str(field_name), expectation[:200]))


def _resolution_text(error: dict[str, Any]) -> str:
    history = error.get("lookupHistory")
    kinds = {
        str(e.get("error"))
        for item in (history if isinstance(history, list) else [])
        if isinstance(item, dict)
        for e in (item.get("errors") or [])
        if isinstance(e, dict)
    }
    return "schema not found" if kinds <= {"NotFound"} else "schema lookup failed: " + ", ".join(sorted(kinds))
