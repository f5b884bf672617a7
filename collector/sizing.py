"""Record size rules (§2.4): one queue message per request if it fits, POST batches split greedily, else violations."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from core.raw import RAW_RECORD_SCHEMA, CollectorPayload

__all__ = ["SizeOutcome", "SizeViolationFact", "fit_record"]


@dataclass(frozen=True, slots=True)
class SizeViolationFact:
    """What a size_violation bad row says; `payload` is already cut to a tenth of the limit."""

    maximum_allowed_size_bytes: int
    actual_size_bytes: int
    expectation: str
    payload: str


@dataclass(slots=True)
class SizeOutcome:
    """The queue messages to publish and the violations to write as bad rows, for one request."""

    records: list[bytes] = field(default_factory=list)
    violations: list[SizeViolationFact] = field(default_factory=list)


def _violation(payload: CollectorPayload, size: int, limit: int, expectation: str) -> SizeViolationFact:
    """A violation whose payload is the record cut to a tenth of the limit, its request facts first and its body
    last, so the cut keeps what identifies the request (where, when, from whom) and the body's beginning."""
    fields = payload.to_json()
    body = fields.pop("body")
    fields["body"] = body
    text = orjson.dumps({"schema": RAW_RECORD_SCHEMA.uri, "data": fields}).decode("utf-8", errors="replace")
    return SizeViolationFact(limit, size, expectation, text[: max(limit // 10, 0)])


def _escaped_len(text: str) -> int:
    """Bytes `text` takes inside a JSON string literal (orjson escapes per character, so this is additive)."""
    return len(orjson.dumps(text)) - 2


def fit_record(payload: CollectorPayload, *, sink_max_bytes: int, max_payload_size: int) -> SizeOutcome:
    """Apply §2.4 to one request's raw record (sizes are serialized record bytes).

    Departure from Snowplow (docs/DESIGN.md): a POST whose events can be split is split whatever its
    total size (the drop size bounds the body); only a record that cannot be split and exceeds
    `max_payload_size`, or a single event that alone exceeds `sink_max_bytes`, is a size_violation.
    Snowplow refuses a whole batch above `maxPayloadSize`, losing thousands of valid small events.
    """
    encoded = payload.encode()
    size = len(encoded)
    if size <= sink_max_bytes:
        return SizeOutcome(records=[encoded])
    split = _split(payload, sink_max_bytes)
    if isinstance(split, SizeOutcome):
        return split
    if size > max_payload_size:
        expectation = (
            f"oversized collector payload: Payload exceeds max size of {max_payload_size}. Actual length: {size}"
        )
        return SizeOutcome(violations=[_violation(payload, size, max_payload_size, expectation)])
    return SizeOutcome(violations=[_violation(payload, size, sink_max_bytes, f"oversized collector payload: {split}")])


def _split(payload: CollectorPayload, limit: int) -> SizeOutcome | str:
    """The events of a POST packed greedily into records of at most `limit` bytes, each event whole and once,
    in order; each event that alone exceeds the limit a violation. A reason when the body cannot be split."""
    if payload.body is None:
        return "GET requests cannot be split"
    try:
        # The stdlib parser accepts everything JSON allows (orjson refuses integers beyond 64 bits);
        # re-serialising with ensure_ascii keeps lone surrogates (legal in JSON escapes) encodable.
        doc: Any = json.loads(payload.body)
    except (ValueError, RecursionError):
        return "cannot split POST requests which are not json"
    if not isinstance(doc, dict) or "schema" not in doc or "data" not in doc:
        return "cannot split POST requests which are not self-describing"
    events = doc["data"]
    if not isinstance(events, list):
        return "cannot split POST requests whose data is not an array"
    schema = doc["schema"]
    try:
        head = '{"schema":' + json.dumps(schema, ensure_ascii=True, separators=(",", ":")) + ',"data":['
    except (ValueError, RecursionError):
        return "cannot split POST requests whose schema cannot be re-serialised"
    empty = payload.with_body(head + "]}")
    base = len(empty.encode())
    if base >= limit:
        return "the request without its events is already too large"
    outcome = SizeOutcome()
    batch: list[str] = []
    batch_size = base

    def flush() -> None:
        if batch:
            record = payload.with_body(head + ",".join(batch) + "]}").encode()
            outcome.records.append(record)

    for event in events:
        try:
            text = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
        except (ValueError, RecursionError):
            return "cannot split POST requests whose events cannot be re-serialised"
        cost = _escaped_len(text)
        if base + cost > limit:
            single = payload.with_body(head + text + "]}")
            outcome.violations.append(
                _violation(
                    single,
                    base + cost,
                    limit,
                    "oversized collector payload: this POST request split is still too large",
                )
            )
            continue
        extra = cost + (1 if batch else 0)
        if batch_size + extra > limit:
            flush()
            batch = []
            batch_size = base
            extra = cost
        batch.append(text)
        batch_size += extra
    flush()
    return outcome
