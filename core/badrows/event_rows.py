"""Bad rows about one event after the adapter: schema_violations and enrichment_failures, carrying `{enriched, raw}`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from core.badrows.base import (
    TimestampedRow,
    badrow_schema,
    check_instant,
    checked_messages,
    parsed_messages,
    read_instant,
    read_object,
)
from core.badrows.messages import (
    SCHEMA_VIOLATION_MESSAGES,
    EnrichmentFailureMessage,
    SchemaViolationMessage,
    message_from_json,
)
from core.badrows.payloads import EnrichmentPayload
from core.badrows.processor import Processor
from core.iglu import SchemaKey
from core.raw import format_instant

__all__ = ["EnrichmentFailures", "SchemaViolations"]


_M = TypeVar("_M", SchemaViolationMessage, EnrichmentFailureMessage)


@dataclass(frozen=True, slots=True)
class _EventRow(TimestampedRow, Generic[_M]):
    """Shared shape of schema_violations and enrichment_failures: messages about one event, `{enriched, raw}`.

    The two types differ only in their name, schema, the message variants they allow and how a
    message is read back from JSON.
    """

    allowed: ClassVar[tuple[type, ...]]

    processor: Processor
    timestamp_ms: int
    messages: tuple[_M, ...]
    payload: EnrichmentPayload

    def __post_init__(self) -> None:
        check_instant(self.timestamp_ms)
        object.__setattr__(self, "messages", checked_messages(self.messages, self.allowed, self.type_name))

    def failure_json(self) -> dict[str, Any]:
        return {"timestamp": format_instant(self.timestamp_ms), "messages": [m.to_json() for m in self.messages]}

    def payload_json(self) -> dict[str, Any]:
        return self.payload.to_json()

    @classmethod
    def _read_message(cls, data: Any) -> Any:
        return message_from_json(data)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        f = read_object(data, "failure")
        return cls(
            Processor.from_json(data.get("processor")),
            read_instant(f),
            parsed_messages(f, cls._read_message),  # __post_init__ checks the variants
            EnrichmentPayload.from_json(data.get("payload")),
        )


@dataclass(frozen=True, slots=True)
class SchemaViolations(_EventRow[SchemaViolationMessage]):
    """One event's self-describing JSON (unstruct event, context) was not JSON, not Iglu, or invalid."""

    type_name: ClassVar[str] = "schema_violations"
    schema: ClassVar[SchemaKey] = badrow_schema("schema_violations", "2-0-1")
    recoverable: ClassVar[bool] = True
    allowed: ClassVar[tuple[type, ...]] = SCHEMA_VIOLATION_MESSAGES


@dataclass(frozen=True, slots=True)
class EnrichmentFailures(_EventRow[EnrichmentFailureMessage]):
    """One event failed in an enrichment (or in the atomic-field checks after them)."""

    type_name: ClassVar[str] = "enrichment_failures"
    schema: ClassVar[SchemaKey] = badrow_schema("enrichment_failures", "2-0-1")
    recoverable: ClassVar[bool] = True
    allowed: ClassVar[tuple[type, ...]] = (EnrichmentFailureMessage,)

    @classmethod
    def _read_message(cls, data: Any) -> Any:
        return EnrichmentFailureMessage.from_json(data)
