"""Bad rows about one event after the adapter: schema_violations and enrichment_failures, carrying `{enriched, raw}`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from core.badrows.base import (
    TimestampedRow,
    badrow_schema,
    check_instant,
    checked_messages,
    parsed_messages,
    read_instant,
    read_object,
)
from core.badrows.messages import SCHEMA_VIOLATION_MESSAGES, EnrichmentFailureMessage, SchemaViolationMessage
from core.badrows.payloads import EnrichmentPayload
from core.badrows.processor import Processor
from core.iglu import SchemaKey
from core.raw import format_instant

__all__ = ["EnrichmentFailures", "SchemaViolations"]


@dataclass(frozen=True, slots=True)
class SchemaViolations(TimestampedRow):
    """One event's self-describing JSON (unstruct event, context) was not JSON, not Iglu, or invalid."""

    type_name: ClassVar[str] = "schema_violations"
    schema: ClassVar[SchemaKey] = badrow_schema("schema_violations", "2-0-1")
    recoverable: ClassVar[bool] = True

    processor: Processor
    timestamp_ms: int
    messages: tuple[SchemaViolationMessage, ...]
    payload: EnrichmentPayload

    def __post_init__(self) -> None:
        check_instant(self.timestamp_ms)
        object.__setattr__(self, "messages", checked_messages(self.messages, SCHEMA_VIOLATION_MESSAGES, self.type_name))

    def failure_json(self) -> dict[str, Any]:
        return {"timestamp": format_instant(self.timestamp_ms), "messages": [m.to_json() for m in self.messages]}

    def payload_json(self) -> dict[str, Any]:
        return self.payload.to_json()

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> SchemaViolations:
        f = read_object(data, "failure")
        return cls(
            Processor.from_json(data.get("processor")),
            read_instant(f),
            parsed_messages(f),  # __post_init__ checks the variants
            EnrichmentPayload.from_json(data.get("payload")),
        )


@dataclass(frozen=True, slots=True)
class EnrichmentFailures(TimestampedRow):
    """One event failed in an enrichment (or in the atomic-field checks after them)."""

    type_name: ClassVar[str] = "enrichment_failures"
    schema: ClassVar[SchemaKey] = badrow_schema("enrichment_failures", "2-0-1")
    recoverable: ClassVar[bool] = True

    processor: Processor
    timestamp_ms: int
    messages: tuple[EnrichmentFailureMessage, ...]
    payload: EnrichmentPayload

    def __post_init__(self) -> None:
        check_instant(self.timestamp_ms)
        object.__setattr__(
            self, "messages", checked_messages(self.messages, (EnrichmentFailureMessage,), self.type_name)
        )

    def failure_json(self) -> dict[str, Any]:
        return {"timestamp": format_instant(self.timestamp_ms), "messages": [m.to_json() for m in self.messages]}

    def payload_json(self) -> dict[str, Any]:
        return self.payload.to_json()

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EnrichmentFailures:
        f = read_object(data, "failure")
        raw = f.get("messages")
        if not isinstance(raw, list):
            raise ValueError("failure.messages: expected a list")
        return cls(
            Processor.from_json(data.get("processor")),
            read_instant(f),
            tuple(EnrichmentFailureMessage.from_json(m) for m in raw),
            EnrichmentPayload.from_json(data.get("payload")),
        )
