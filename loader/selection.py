"""Choosing bad rows in the lake: by type, schema, error keyword/message and time window.

Bad rows live under `bad/<type>/date=YYYY-MM-DD/hour=HH/<part>.jsonl` (one bad-row JSON per line).
Each line becomes a `BadRowEntry` that knows where it came from (file, line), its identity (a hash
of the line, stable across runs), when it failed, the schemas its failure names and its errors as
`(keyword, message)` pairs — what `eventkit bad` groups by and `eventkit replay` filters on.
The time window reads the hour partition first (whole files are skipped) and then the failure's
own timestamp when it has one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from core.errors import ConfigError
from core.lake import Lake
from core.raw import parse_instant

__all__ = ["BAD_PREFIX", "BadRowEntry", "Selection", "describe_errors", "parse_when", "read_bad_rows", "unwrap"]

BAD_PREFIX = "bad/"
_PARTITION = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/")
_AGO = re.compile(r"^(\d+)([dhm])$")


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """`7d` / `12h` / `30m` ago, or an ISO-8601 date or instant (UTC unless it says otherwise)."""
    text = text.strip()
    m = _AGO.match(text)
    if m is not None:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]
        return (now or datetime.now(tz=UTC)) - delta
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


def read_bad_rows(lake: Lake, selection: Selection = Selection()) -> Iterator[BadRowEntry]:
    """Every bad row in the lake that `selection` takes, file by file in name order."""
    taken = 0
    for name in lake.list(BAD_PREFIX):
        if not name.endswith(".jsonl") or not selection.file_may_match(name):
            continue
        type_name = name[len(BAD_PREFIX) :].split("/", 1)[0]
        for number, line in enumerate(lake.read(name).split(b"\n")):
            if not line.strip():
                continue
            entry = _entry(name, number, type_name, line)
            if entry is not None and selection.matches(entry):
                yield entry
                taken += 1
                if selection.limit is not None and taken >= selection.limit:
                    return


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


def _entry(name: str, number: int, type_name: str, line: bytes) -> BadRowEntry | None:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        doc = {"schema": None, "data": {"payload": line.decode("utf-8", "replace")}}
    if not isinstance(doc, dict):
        return None
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
    return BadRowEntry(name, number, type_name, row_id, doc, failed_at, schemas, errors, wrapped_type)


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
