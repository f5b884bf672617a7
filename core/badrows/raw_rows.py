"""Bad rows about a whole request or raw record; the replayable ones carry the CollectorPayload itself.

size_violation, collector_payload_format_violation, adapter_failures, tracker_protocol_violations,
generic_error.
"""

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
    read_int,
    read_object,
    read_string,
)
from core.badrows.limits import fit
from core.badrows.messages import (
    ADAPTER_MESSAGES,
    TRACKER_PROTOCOL_MESSAGES,
    AdapterMessage,
    FailureMessage,
    TrackerProtocolMessage,
)
from core.badrows.payloads import collector_payload_from_json, collector_payload_to_json, fit_collector_payload
from core.badrows.processor import Processor
from core.iglu import SchemaKey
from core.raw import CollectorPayload, format_instant

__all__ = [
    "LOADERS",
    "AdapterFailures",
    "CollectorPayloadFormatViolation",
    "GenericError",
    "SizeViolation",
    "TrackerProtocolViolations",
]

_MAX_SIZE = 1073741824  # size_violation's maximum for both byte counts
_EXPECTATION_LIMIT = 256
_FORMAT_ERROR_LIMIT = 512
_PAYLOAD_FIELD_LIMIT = 64
_ADAPTER_VENDOR_LIMIT = 64
_ADAPTER_VERSION_LIMIT = 16
LOADERS = ("clj-tomcat", "cloudfront", "ndjson", "thrift", "tsv")


@dataclass(frozen=True, slots=True)
class SizeViolation(TimestampedRow):
    """A record too big to process; the payload is its truncated text (not replayable)."""

    type_name: ClassVar[str] = "size_violation"
    schema: ClassVar[SchemaKey] = badrow_schema("size_violation", "1-0-0")
    recoverable: ClassVar[bool] = False

    processor: Processor
    timestamp_ms: int
    maximum_allowed_size_bytes: int
    actual_size_bytes: int
    expectation: str
    payload: str

    def __post_init__(self) -> None:
        check_instant(self.timestamp_ms)
        if self.maximum_allowed_size_bytes < 0 or self.actual_size_bytes < 0:
            raise ValueError("sizes are byte counts >= 0")
        # The schema caps both counts at 1 GiB; a larger record is reported as that cap.
        object.__setattr__(self, "maximum_allowed_size_bytes", min(self.maximum_allowed_size_bytes, _MAX_SIZE))
        object.__setattr__(self, "actual_size_bytes", min(self.actual_size_bytes, _MAX_SIZE))
        object.__setattr__(self, "expectation", fit(self.expectation, _EXPECTATION_LIMIT))

    def failure_json(self) -> dict[str, Any]:
        return {
            "timestamp": format_instant(self.timestamp_ms),
            "maximumAllowedSizeBytes": self.maximum_allowed_size_bytes,
            "actualSizeBytes": self.actual_size_bytes,
            "expectation": self.expectation,
        }

    def payload_json(self) -> str:
        return self.payload

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> SizeViolation:
        f = read_object(data, "failure")
        return cls(
            Processor.from_json(data.get("processor")),
            read_instant(f),
            read_int(f, "maximumAllowedSizeBytes"),
            read_int(f, "actualSizeBytes"),
            read_string({"expectation": f.get("expectation", "")}, "expectation"),
            read_string(data, "payload"),
        )


def _normalise_format_message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise ValueError("format violation message: expected a JSON object")
    if set(message) == {"error"} and isinstance(message["error"], str):
        return {"error": fit(message["error"], _FORMAT_ERROR_LIMIT)}
    keys = set(message)
    if keys <= {"payloadField", "value", "expectation"} and {"payloadField", "expectation"} <= keys:
        field, value, expectation = message["payloadField"], message.get("value"), message["expectation"]
        if isinstance(field, str) and isinstance(expectation, str) and (value is None or isinstance(value, str)):
            return {
                "payloadField": fit(field, _PAYLOAD_FIELD_LIMIT),
                "value": value,
                "expectation": fit(expectation, _EXPECTATION_LIMIT),
            }
    raise ValueError('format violation message: expected {"error"} or {"payloadField", "value", "expectation"}')


@dataclass(frozen=True, slots=True)
class CollectorPayloadFormatViolation(TimestampedRow):
    """Queue bytes that are not a raw record; the payload is those bytes as text.

    `loader` is one of LOADERS (eventkit's JSON raw records: "ndjson"); `message` is
    `{"error": text}` or `{"payloadField", "value", "expectation"}`.
    """

    type_name: ClassVar[str] = "collector_payload_format_violation"
    schema: ClassVar[SchemaKey] = badrow_schema("collector_payload_format_violation", "1-0-0")
    recoverable: ClassVar[bool] = True

    processor: Processor
    timestamp_ms: int
    loader: str
    message: dict[str, Any]
    payload: str

    def __post_init__(self) -> None:
        check_instant(self.timestamp_ms)
        if self.loader not in LOADERS:
            raise ValueError(f"loader must be one of {LOADERS}, not {self.loader!r}")
        object.__setattr__(self, "message", _normalise_format_message(self.message))

    def failure_json(self) -> dict[str, Any]:
        return {"timestamp": format_instant(self.timestamp_ms), "loader": self.loader, "message": self.message}

    def payload_json(self) -> str:
        return self.payload

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CollectorPayloadFormatViolation:
        f = read_object(data, "failure")
        return cls(
            Processor.from_json(data.get("processor")),
            read_instant(f),
            read_string(f, "loader"),
            read_object(f, "message"),
            read_string(data, "payload"),
        )


_M = TypeVar("_M", bound=FailureMessage)


@dataclass(frozen=True, slots=True)
class _AdapterRow(TimestampedRow, Generic[_M]):
    """Shared shape of adapter_failures and tracker_protocol_violations: messages about a whole raw record.

    The two types differ only in their name, schema and the message variants they allow.
    """

    allowed: ClassVar[tuple[type, ...]]

    processor: Processor
    timestamp_ms: int
    vendor: str
    version: str
    messages: tuple[_M, ...]
    payload: CollectorPayload

    def __post_init__(self) -> None:
        check_instant(self.timestamp_ms)
        object.__setattr__(self, "vendor", fit(self.vendor, _ADAPTER_VENDOR_LIMIT))
        object.__setattr__(self, "version", fit(self.version, _ADAPTER_VERSION_LIMIT))
        object.__setattr__(self, "messages", checked_messages(self.messages, self.allowed, self.type_name))
        object.__setattr__(self, "payload", fit_collector_payload(self.payload))

    def failure_json(self) -> dict[str, Any]:
        return {
            "timestamp": format_instant(self.timestamp_ms),
            "vendor": self.vendor,
            "version": self.version,
            "messages": [m.to_json() for m in self.messages],
        }

    def payload_json(self) -> dict[str, Any]:
        return collector_payload_to_json(self.payload)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        f = read_object(data, "failure")
        return cls(
            Processor.from_json(data.get("processor")),
            read_instant(f),
            read_string(f, "vendor"),
            read_string(f, "version"),
            parsed_messages(f),  # __post_init__ checks the variants
            collector_payload_from_json(data.get("payload")),
        )


@dataclass(frozen=True, slots=True)
class AdapterFailures(_AdapterRow[AdapterMessage]):
    """An adapter (webhook, unknown vendor/version) could not turn a raw record into events."""

    type_name: ClassVar[str] = "adapter_failures"
    schema: ClassVar[SchemaKey] = badrow_schema("adapter_failures", "1-0-0")
    recoverable: ClassVar[bool] = True
    allowed: ClassVar[tuple[type, ...]] = ADAPTER_MESSAGES


@dataclass(frozen=True, slots=True)
class TrackerProtocolViolations(_AdapterRow[TrackerProtocolMessage]):
    """A tp1/tp2/redirect request broke the tracker protocol (bad body, payload_data invalid, ...)."""

    type_name: ClassVar[str] = "tracker_protocol_violations"
    schema: ClassVar[SchemaKey] = badrow_schema("tracker_protocol_violations", "1-0-1")
    recoverable: ClassVar[bool] = True
    allowed: ClassVar[tuple[type, ...]] = TRACKER_PROTOCOL_MESSAGES


@dataclass(frozen=True, slots=True)
class GenericError(TimestampedRow):
    """A failure no other type describes; the payload is the stringified input (not replayable)."""

    type_name: ClassVar[str] = "generic_error"
    schema: ClassVar[SchemaKey] = badrow_schema("generic_error", "1-0-0")
    recoverable: ClassVar[bool] = False

    processor: Processor
    timestamp_ms: int
    errors: tuple[str, ...]
    payload: str

    def __post_init__(self) -> None:
        check_instant(self.timestamp_ms)
        object.__setattr__(self, "errors", tuple(self.errors))
        if not self.errors:
            raise ValueError("generic_error needs at least one error")

    def failure_json(self) -> dict[str, Any]:
        return {"timestamp": format_instant(self.timestamp_ms), "errors": list(self.errors)}

    def payload_json(self) -> str:
        return self.payload

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> GenericError:
        f = read_object(data, "failure")
        errors = f.get("errors")
        if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
            raise ValueError("failure.errors: expected a list of strings")
        return cls(
            Processor.from_json(data.get("processor")), read_instant(f), tuple(errors), read_string(data, "payload")
        )
