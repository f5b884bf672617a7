"""Replay: bad rows back to the raw queue as per-event raw records, re-checked against today's registry first.

    plan = Replayer(lake, resolver, fixes=config).plan(Selection(types=("schema_violations",)))
    plan.report            # per failure (type, schema, error): rows, how many would now pass
    Replayer.send(plan, open_publisher(raw_url))   # publish what passes; remember it in the lake

What each bad-row type replays as (snowplow.md §4.4, §7):

| type                                    | raw record replayed                                  |
|-----------------------------------------|------------------------------------------------------|
| schema_violations, enrichment_failures  | `payload.raw` (one event) as a GET-style raw record   |
| adapter_failures, tracker_protocol_violations | the CollectorPayload (an Iglu-webhook JSON array: one per element) |
| collector_payload_format_violation      | the base64 payload, if it decodes to a raw record     |
| recovery_error                          | its wrapped bad row, replayed (and fixed) as that type |
| size_violation, loader_*, generic_error | not recoverable (truncated, or after enrichment): counted with the reason |

**Exactly once in the warehouse.** The loader deduplicates by `(event_id, event_fingerprint)`.
A replayed event keeps its `eid`; an event that had none gets one that cannot change between
runs: the `event_id` enrich gave it (kept in the bad row's partially enriched event), else a UUIDv5
of the original payload's content (`replay_seed`: the same request failing twice, or a
recovery_error wrapping it, gives the same id). The id is put where the adapter reads an atomic
`eid`: tp1/tp2/r-tp2 query strings and tp2 body events, and the Iglu webhook's query string
(passed through as an atomic parameter, snowplow.md §1.6). Other webhook vendors have no adapter
here, so their rows can only pass after a fix re-routes them to one of these. The fingerprint
leaves `eid` out, so the same row replayed twice (with the same fixes) gives the same pair, and
the warehouse keeps one. A replay manifest under `replayed/` in the lake lists the rows already
handled, so a second replay sends nothing new — a convenience only: correctness rests on the
load's dedup.

**Failed recoveries** (a fix step that cannot apply, a payload that still cannot be rebuilt, a row
that still fails the re-check) are written by `send`/`record_failures` as `recovery_error` bad rows
under `bad/recovery_error/date=…/hour=…/`, wrapping the original bad row with a `recoveries`
count (one more than the row they came from), and the rows they replace are marked handled in the
manifest. So each failed event has exactly one live bad row, which a later replay (after a schema
is published or a fix written) unwraps and replays like the original, as Snowplow's
event-recovery re-feeds its failed output.

**Re-check.** Every candidate runs through the real enrich pipeline (no enrichments configured)
with a fresh resolver; only events that would now be good are sent. The others are reported with
their new error, so nothing is sent that would only fail again.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from core.badrows import EnrichmentPayload, RecoveryError, eventkit_processor
from core.badrows.payloads import collector_payload_from_json
from core.lake import Lake
from core.lake.jsonl import encode_jsonl
from core.lake.partitions import PartNamer
from core.queue import Publisher
from core.raw import CollectorPayload, RawRecordError
from enrich.recheck import Recheck
from loader.fixes import FixConfig, FixResult
from loader.selection import (
    REPLAYED_PREFIX,
    BadRowEntry,
    ReadStats,
    Selection,
    describe_errors,
    payload_identity,
    read_bad_rows,
    replay_outcomes,
    unwrap,
)
from registry.resolver import Resolver
from registry.validation import Validator

__all__ = [
    "RECOVERY_ERROR_PREFIX",
    "REPLAYED_PREFIX",
    "UNRECOVERABLE",
    "Candidate",
    "NotRecoverable",
    "ReplayError",
    "ReplayPlan",
    "Replayer",
    "raw_records",
    "replay_seed",
    "replayed_ids",
    "unwrap",
]

RECOVERY_ERROR_PREFIX = "bad/recovery_error"
_EID_NAMESPACE = uuid.UUID("5b1d2c1e-9f0a-4c55-8e2b-6a7d3f1c0e42")  # eventkit replay ids
_SNOWPLOW = "com.snowplowanalytics.snowplow"
_IGLU_WEBHOOK = ("com.snowplowanalytics.iglu", "v1")
_QUERYSTRING_EID = frozenset({(_SNOWPLOW, "tp1"), (_SNOWPLOW, "tp2"), ("r", "tp2"), _IGLU_WEBHOOK})
UNRECOVERABLE: dict[str, str] = {
    "size_violation": "size_violation: the payload was truncated, the event cannot be rebuilt",
    "loader_parsing_error": "loader_parsing_error: produced after enrichment, nothing raw to replay",
    "loader_iglu_error": "loader_iglu_error: produced after enrichment, nothing raw to replay",
    "loader_runtime_error": "loader_runtime_error: produced after enrichment, nothing raw to replay",
    "loader_recovery_error": "loader_recovery_error: produced after enrichment, nothing raw to replay",
    "generic_error": "generic_error: the payload is free text, not a raw record",
}
_SEND_BATCH = 500


class ReplayError(ValueError):
    """A bad row that cannot be turned back into a raw record; the message is the reason."""


class NotRecoverable(ReplayError):
    """A bad-row type that is never replayable (truncated, post-enrichment or free text): no recovery is tried."""


@dataclass(slots=True)
class Candidate:
    """One selected bad row: the raw records it replays as, or why it cannot be replayed."""

    entry: BadRowEntry
    records: tuple[CollectorPayload, ...] = ()
    fix: FixResult | None = None
    reason: str | None = None  # set when not recoverable or the fix failed
    passes: bool = False
    new_errors: tuple[tuple[str, str], ...] = ()
    new_schemas: tuple[str, ...] = ()
    replayed_before: bool = False
    recoverable: bool = True  # False for types replay never tries (size_violation, loader_*, generic_error)
    recovery_error_written: bool = False
    handled_before: bool = False  # in a replay manifest (also when `include_replayed` re-checks it)

    @property
    def failed(self) -> bool:
        """Recovery was tried here and did not succeed: the row is due to become a recovery_error."""
        return self.recoverable and not self.handled_before and not self.passes

    def failure_text(self) -> str:
        """Why the recovery failed, for the recovery_error row's `failure.error`."""
        if self.reason is not None:
            return self.reason
        schema = self.new_schemas[0] if self.new_schemas else "-"
        errors = "; ".join(f"{keyword}: {message}" for keyword, message in self.new_errors[:3])
        return f"still failing after replay re-check: {schema} {errors or 'unknown error'}"


@dataclass(slots=True)
class ReplayPlan:
    """The outcome of selecting, fixing and re-checking; `send` publishes `to_send`."""

    candidates: list[Candidate] = field(default_factory=list)
    dry_run: bool = True
    sent_rows: int = 0
    sent_records: int = 0
    recovery_errors: int = 0
    seconds: float = 0.0
    read: ReadStats = field(default_factory=ReadStats)  # redelivered copies left out, unreadable files

    @property
    def failed(self) -> list[Candidate]:
        """Rows whose recovery failed and that have no recovery_error row yet."""
        return [c for c in self.candidates if c.failed and not c.recovery_error_written]

    @property
    def to_send(self) -> list[Candidate]:
        return [c for c in self.candidates if c.passes and not c.replayed_before]

    def report(self) -> dict[str, Any]:
        """The JSON report: totals, per original failure, per remaining error, reasons for skipping."""
        by_failure: dict[tuple[str, str, str], Counter[str]] = {}
        still: Counter[tuple[str, str]] = Counter()
        skipped: Counter[str] = Counter()
        for c in self.candidates:
            schema = c.entry.schemas[0] if c.entry.schemas else "-"
            keyword, message = c.entry.errors[0] if c.entry.errors else ("-", "-")
            counts = by_failure.setdefault((c.entry.type_name, schema, f"{keyword}: {message}"), Counter())
            counts["rows"] += 1
            if c.replayed_before:
                counts["already_replayed"] += 1
            elif c.reason is not None:
                skipped[c.reason] += 1
                counts["not_recoverable"] += 1
            elif c.passes:
                counts["would_pass"] += 1
            else:
                counts["still_failing"] += 1
                new_schema = c.new_schemas[0] if c.new_schemas else "-"
                new_kw, new_msg = c.new_errors[0] if c.new_errors else ("-", "-")
                still[(new_schema, f"{new_kw}: {new_msg}")] += 1
        totals = Counter[str]()
        for counts in by_failure.values():
            totals.update(counts)
        return {
            "dry_run": self.dry_run,
            "selected": len(self.candidates),
            "would_pass": totals["would_pass"],
            "still_failing": totals["still_failing"],
            "not_recoverable": totals["not_recoverable"],
            "already_replayed": totals["already_replayed"],
            "fixed": sum(1 for c in self.candidates if c.fix is not None and c.fix.changes),
            "sent_rows": self.sent_rows,
            "sent_records": self.sent_records,
            "recovery_errors": self.recovery_errors,
            "duplicates_skipped": self.read.duplicates,
            "unreadable_files": [u.to_json() for u in self.read.unreadable],
            "seconds": round(self.seconds, 3),
            "by_failure": [
                {"type": t, "schema": s, "error": e, **{k: counts[k] for k in sorted(counts)}}
                for (t, s, e), counts in sorted(by_failure.items())
            ],
            "still_failing_errors": [
                {"schema": s, "error": e, "rows": n} for (s, e), n in sorted(still.items(), key=lambda x: -x[1])
            ],
            "skipped": [{"reason": r, "rows": n} for r, n in sorted(skipped.items())],
        }


def _stable_eid(seed: str) -> str:
    return str(uuid.uuid5(_EID_NAMESPACE, seed))


def _is_uuid(text: Any) -> bool:
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


def _with_eid_params(params: Sequence[tuple[str, str | None]], eid: str) -> tuple[tuple[str, str | None], ...]:
    if any(name == "eid" and value for name, value in params):
        return tuple(params)
    return (*params, ("eid", eid))


def _with_querystring_eid(payload: CollectorPayload, eid: str) -> CollectorPayload:
    return CollectorPayload(**{**_fields(payload), "querystring": _with_eid_params(payload.querystring, eid)})


def _with_eids(payload: CollectorPayload, seed: str) -> tuple[CollectorPayload, ...]:
    """Give every event of a collector payload an eid stable per `seed`, where its adapter reads one."""
    key = (payload.vendor, payload.version)
    if key not in _QUERYSTRING_EID:
        return (payload,)  # no adapter here honours an eid (nor accepts the payload at all)
    if key == _IGLU_WEBHOOK:
        return _webhook_with_eids(payload, seed)
    if payload.body is None or key != (_SNOWPLOW, "tp2"):
        return (_with_querystring_eid(payload, _stable_eid(seed)),)
    try:
        body = orjson.loads(payload.body)
    except orjson.JSONDecodeError:
        return (payload,)
    events = body.get("data") if isinstance(body, dict) else None
    if not isinstance(events, list):
        return (payload,)
    changed = False
    for i, event in enumerate(events):
        if isinstance(event, dict) and not event.get("eid"):
            event["eid"] = _stable_eid(f"{seed}:{i}")
            changed = True
    return (payload.with_body(orjson.dumps(body).decode()),) if changed else (payload,)


def _webhook_with_eids(payload: CollectorPayload, seed: str) -> tuple[CollectorPayload, ...]:
    """The Iglu webhook passes a query-string `eid` through as the atomic one (snowplow.md §1.6).

    One query string serves every event of a JSON-array body, so such a body is split into one
    record per element (the adapter makes the same event of each), each with its own stable eid.
    """
    if any(name == "eid" and value for name, value in payload.querystring):
        return (payload,)
    media = (payload.content_type or "").partition(";")[0].strip().lower()
    has_schema = any(name == "schema" for name, _ in payload.querystring)
    elements: list[Any] = []
    if has_schema and payload.body and media == "application/json":
        try:
            doc = orjson.loads(payload.body)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, list) and len(doc) > 1:
            elements = doc
    if not elements:
        return (_with_querystring_eid(payload, _stable_eid(seed)),)
    return tuple(
        _with_querystring_eid(payload.with_body(orjson.dumps(element).decode()), _stable_eid(f"{seed}:{i}"))
        for i, element in enumerate(elements)
    )


def _fields(payload: CollectorPayload) -> dict[str, Any]:
    return {name: getattr(payload, name) for name in CollectorPayload.__dataclass_fields__}


def replay_seed(type_name: str, data: dict[str, Any]) -> str:
    """The identity of the original request a bad row's `data` holds: what its stable replay eids derive from.

    The raw payload, not the row, so the same request failing twice (a redelivered message) or
    wrapped in a recovery_error replays with the same eids. Fixes do not change it.
    """
    return payload_identity(type_name, data)


def raw_records(type_name: str, data: dict[str, Any], payload: Any, seed: str) -> tuple[CollectorPayload, ...]:
    """The raw records a bad row replays as (`payload` possibly fixed); ReplayError with the reason otherwise.

    `seed` (see `replay_seed`) makes the eids given to events that have none stable across runs.
    """
    if type_name in UNRECOVERABLE:
        raise NotRecoverable(UNRECOVERABLE[type_name])
    try:
        if type_name in ("schema_violations", "enrichment_failures"):
            enrichment = EnrichmentPayload.from_json(payload)
            given = enrichment.enriched.get("event_id")
            eid = str(given) if _is_uuid(given) else _stable_eid(seed)
            return (_with_querystring_eid(enrichment.raw.to_collector_payload(), eid),)
        if type_name in ("adapter_failures", "tracker_protocol_violations"):
            return _with_eids(collector_payload_from_json(payload), seed)
        if type_name == "collector_payload_format_violation":
            if not isinstance(payload, str):
                raise ReplayError("collector_payload_format_violation: payload is not base64 text")
            return _with_eids(_decode_format_violation(payload), seed)
        if type_name == "recovery_error":
            inner_type, inner, _ = unwrap(type_name, {"data": data})
            found = inner.get("data")
            inner_data: dict[str, Any] = found if isinstance(found, dict) else {}
            return raw_records(inner_type, inner_data, inner_data.get("payload"), seed)
    except ReplayError:
        raise
    except (RawRecordError, ValueError, KeyError, TypeError) as e:
        raise ReplayError(f"{type_name}: payload cannot be read ({e})") from None
    raise NotRecoverable(f"{type_name or 'unknown'}: not a bad-row type replay knows")


def _decode_format_violation(payload: str) -> CollectorPayload:
    """Enrich stores the message bytes as base64; other producers the text itself. Either may now decode."""
    candidates: list[bytes] = []
    try:
        candidates.append(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):
        pass
    candidates.append(payload.encode("utf-8", "surrogatepass"))
    error: Exception | None = None
    for data in candidates:
        try:
            return CollectorPayload.decode(data)
        except RawRecordError as e:
            error = e
    raise ReplayError(f"collector_payload_format_violation: still not a raw record ({error})")


def replayed_ids(lake: Lake) -> set[str]:
    """Row ids every earlier replay handled, sent or superseded by a recovery_error (manifests under `replayed/`)."""
    return set(replay_outcomes(lake).by_row)


def _same_failure(candidate: Candidate, config: str | None) -> bool:
    if candidate.entry.type_name != "recovery_error":
        return False
    data = candidate.entry.doc.get("data")
    failure = data.get("failure") if isinstance(data, dict) else None
    if not isinstance(failure, dict):
        return False
    return failure.get("error") == candidate.failure_text() and failure.get("configName") == config


class Replayer:
    """Selects, fixes, re-checks and republishes bad rows of one lake; failed recoveries become recovery_error rows."""

    def __init__(self, lake: Lake, resolver: Resolver, *, fixes: FixConfig | None = None) -> None:
        self.lake = lake
        self.resolver = resolver
        self.fixes = fixes
        self.processor = eventkit_processor("replay")
        self.recheck = Recheck(Validator(resolver), self.processor)

    def candidate(self, entry: BadRowEntry) -> Candidate:
        """Fix (if configured), rebuild and re-check one bad row (a recovery_error as the row it wraps)."""
        candidate = Candidate(entry)
        type_name, original, _ = unwrap(entry.type_name, entry.doc)
        found = original.get("data")
        data: dict[str, Any] = found if isinstance(found, dict) else {}
        payload = data.get("payload")
        if self.fixes is not None and type_name not in UNRECOVERABLE:
            candidate.fix = self.fixes.apply(type_name, data)
            if candidate.fix.error is not None:
                candidate.reason = f"fix {candidate.fix.flow!r} failed: {candidate.fix.error}"
                return candidate
            payload = candidate.fix.payload
        try:
            candidate.records = raw_records(type_name, data, payload, replay_seed(type_name, data))
        except NotRecoverable as e:
            candidate.reason = str(e)
            candidate.recoverable = False
            return candidate
        except ReplayError as e:
            candidate.reason = str(e)
            return candidate
        self._recheck(candidate)
        return candidate

    def _recheck(self, candidate: Candidate) -> None:
        errors: list[tuple[str, str]] = []
        schemas: list[str] = []
        passes = True
        for record in candidate.records:
            for bad_row in self.recheck.failures(record):
                passes = False
                found_schemas, found_errors = describe_errors(bad_row["data"].get("failure"))
                schemas.extend(found_schemas)
                errors.extend(found_errors)
        candidate.passes = passes
        candidate.new_errors = tuple(errors)
        candidate.new_schemas = tuple(schemas)

    def plan(
        self,
        selection: Selection | None = None,
        *,
        include_replayed: bool = False,
        on_row: Callable[[Candidate], None] | None = None,
        entries: Iterable[BadRowEntry] | None = None,
    ) -> ReplayPlan:
        """Select bad rows and decide, row by row, what would be sent (nothing is sent or written)."""
        started = time.perf_counter()
        done = replay_outcomes(self.lake)
        plan = ReplayPlan()
        if entries is None:
            entries = read_bad_rows(self.lake, selection or Selection(), plan.read)
        for entry in entries:
            handled = done.of(entry) is not None
            if handled and not include_replayed:
                candidate = Candidate(entry, replayed_before=True)
            else:
                candidate = self.candidate(entry)
            candidate.handled_before = handled
            plan.candidates.append(candidate)
            if on_row is not None:
                on_row(candidate)
        plan.seconds = time.perf_counter() - started
        return plan

    def send(
        self,
        plan: ReplayPlan,
        publisher: Publisher,
        *,
        on_sent: Callable[[int], None] | None = None,
        record_failures: bool = True,
    ) -> ReplayPlan:
        """Publish the raw records of every row that passes, in batches, and record those rows as replayed;
        then (unless told not to) write the failed recoveries as recovery_error rows."""
        started = time.perf_counter()
        rows = plan.to_send
        plan.dry_run = False
        for start in range(0, len(rows), _SEND_BATCH):
            batch = rows[start : start + _SEND_BATCH]
            messages = [record.encode() for c in batch for record in c.records]
            publisher.publish(messages)
            plan.sent_rows += len(batch)
            plan.sent_records += len(messages)
            self._remember(batch, "sent")
            if on_sent is not None:
                on_sent(len(batch))
        if record_failures:
            self.record_failures(plan)
        plan.seconds += time.perf_counter() - started
        return plan

    def record_failures(self, plan: ReplayPlan) -> int:
        """Write each failed recovery as a recovery_error row wrapping its original bad row; mark the rows handled.

        The recovery_error file is created before the manifest names the rows it replaces, so a
        crash in between leaves both selectable (their replays share eids: the load keeps one).
        A row recovery_error cannot wrap (a bad-row schema version it does not list) stays as it is,
        and so does a recovery_error that fails again with the same error and configuration.
        """
        plan.dry_run = False
        lines: list[bytes] = []
        handled: list[Candidate] = []
        for c in plan.failed:
            _, original, recoveries = unwrap(c.entry.type_name, c.entry.doc)
            config = c.fix.flow if c.fix is not None else None
            if _same_failure(c, config):
                continue  # a recovery_error failing again as it did stays the live row: no growth per run
            try:
                row = RecoveryError(self.processor, c.failure_text(), config, original, recoveries + 1)
            except ValueError:
                continue
            lines.append(row.encode())
            handled.append(c)
        if lines:
            now_ms = time.time_ns() // 1_000_000
            self.lake.create(PartNamer().next_name(RECOVERY_ERROR_PREFIX, now_ms, "jsonl"), encode_jsonl(lines))
            self._remember(handled, "recovery_error")
            for c in handled:
                c.recovery_error_written = True
        plan.recovery_errors += len(lines)
        return len(lines)

    def _remember(self, batch: Sequence[Candidate], outcome: str) -> None:
        if not batch:
            return
        now_ms = time.time_ns() // 1_000_000
        lines = b"".join(
            orjson.dumps(
                {
                    "row_id": c.entry.row_id,
                    "identity": c.entry.identity,
                    "file": c.entry.file,
                    "line": c.entry.line,
                    "outcome": outcome,
                }
            )
            + b"\n"
            for c in batch
        )
        self.lake.create(PartNamer().next_name(REPLAYED_PREFIX.rstrip("/"), now_ms, "jsonl"), lines)
