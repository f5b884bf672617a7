"""The bad-row types: one frozen dataclass per failure kind, serialised to Snowplow's bad-row JSON.

Every row is `{"schema": <its current iglu URI>, "data": {"processor", "failure", "payload"}}`
and validates against the published schema in `schemas/` (a property test proves it): the
constructors fit every value to the schema limits, so building a row never fails on bad *input*
(only on a programming error, e.g. a message variant the type does not allow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from core.badrows.atomic import normalise_loader_event
from core.badrows.limits import fit
from core.badrows.loader_failures import normalise_loader_iglu_failure, normalise_parsing_failure
from core.badrows.messages import (
    ADAPTER_MESSAGES,
    SCHEMA_VIOLATION_MESSAGES,
    TRACKER_PROTOCOL_MESSAGES,
    AdapterMessage,
    EnrichmentFailureMessage,
    SchemaViolationMessage,
    TrackerProtocolMessage,
    message_from_json,
)
from core.badrows.payloads import (
    EnrichmentPayload,
    collector_payload_from_json,
    collector_payload_to_json,
    fit_collector_payload,
)
from core.badrows.processor import Processor
from core.iglu import SchemaKey
from core.raw import CollectorPayload, format_instant, parse_instant

__all__ = [
    "AdapterFailures",
    "BadRowBase",
    "CollectorPayloadFormatViolation",
    "EnrichmentFailures",
    "GenericError",
    "LoaderIgluError",
    "LoaderParsingError",
    "LoaderRuntimeError",
    "RecoveryError",
    "SchemaViolations",
    "SizeViolation",
    "TrackerProtocolViolations",
]

_VENDOR = "com.snowplowanalytics.snowplow.badrows"
_MAX_INSTANT_MS = 253402300799999  # 9999-12-31T23:59:59.999Z, the last instant ISO-8601 can write
_MAX_SIZE = 1073741824  # size_violation's maximum for both byte counts
_EXPECTATION_LIMIT = 256
_FORMAT_ERROR_LIMIT = 512
_PAYLOAD_FIELD_LIMIT = 64
_ADAPTER_VENDOR_LIMIT = 64
_ADAPTER_VERSION_LIMIT = 16
LOADERS = ("clj-tomcat", "cloudfront", "ndjson", "thrift", "tsv")


def _schema(name: str, version: str) -> SchemaKey:
    return SchemaKey.parse(f"iglu:{_VENDOR}/{name}/jsonschema/{version}")


def _check_instant(ms: int) -> None:
    if not 0 <= ms <= _MAX_INSTANT_MS:
        raise ValueError(f"timestamp {ms} ms is outside 1970..9999")


class BadRowBase:
    """What every bad row offers: its type name, schema, JSON form, bytes, and whether replay can use it."""

    __slots__ = ()
    type_name: ClassVar[str]
    schema: ClassVar[SchemaKey]
    recoverable: ClassVar[bool]
    processor: Processor

    @property
    def failure_timestamp_ms(self) -> int | None:
        """When the failure happened (epoch ms); None for types whose failure has no timestamp."""
        return None

    def failure_json(self) -> Any:
        raise NotImplementedError

    def payload_json(self) -> Any:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        data = {"processor": self.processor.to_json(), "failure": self.failure_json(), "payload": self.payload_json()}
        return {"schema": self.schema.uri, "data": data}

    def encode(self) -> bytes:
        """Compact JSON, one line of a bad/<type>/ file."""
        return orjson.dumps(self.to_json())


class _Timestamped(BadRowBase):
    __slots__ = ()
    timestamp_ms: int

    @property
    def failure_timestamp_ms(self) -> int | None:
        return self.timestamp_ms


@dataclass(frozen=True, slots=True)
class SizeViolation(_Timestamped):
    """A record too big to process; the payload is its truncated text (not replayable)."""

    type_name: ClassVar[str] = "size_violation"
    schema: ClassVar[SchemaKey] = _schema("size_violation", "1-0-0")
    recoverable: ClassVar[bool] = False

    processor: Processor
    timestamp_ms: int
    maximum_allowed_size_bytes: int
    actual_size_bytes: int
    expectation: str
    payload: str

    def __post_init__(self) -> None:
        _check_instant(self.timestamp_ms)
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
        f = _obj(data, "failure")
        return cls(
            Processor.from_json(data.get("processor")),
            _instant(f),
            _int(f, "maximumAllowedSizeBytes"),
            _int(f, "actualSizeBytes"),
            _str({"expectation": f.get("expectation", "")}, "expectation"),
            _str(data, "payload"),
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
class CollectorPayloadFormatViolation(_Timestamped):
    """Queue bytes that are not a raw record; the payload is those bytes as text.

    `loader` is one of LOADERS (eventkit's JSON raw records: "ndjson"); `message` is
    `{"error": text}` or `{"payloadField", "value", "expectation"}`.
    """

    type_name: ClassVar[str] = "collector_payload_format_violation"
    schema: ClassVar[SchemaKey] = _schema("collector_payload_format_violation", "1-0-0")
    recoverable: ClassVar[bool] = True

    processor: Processor
    timestamp_ms: int
    loader: str
    message: dict[str, Any]
    payload: str

    def __post_init__(self) -> None:
        _check_instant(self.timestamp_ms)
        if self.loader not in LOADERS:
            raise ValueError(f"loader must be one of {LOADERS}, not {self.loader!r}")
        object.__setattr__(self, "message", _normalise_format_message(self.message))

    def failure_json(self) -> dict[str, Any]:
        return {"timestamp": format_instant(self.timestamp_ms), "loader": self.loader, "message": self.message}

    def payload_json(self) -> str:
        return self.payload

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CollectorPayloadFormatViolation:
        f = _obj(data, "failure")
        return cls(
            Processor.from_json(data.get("processor")),
            _instant(f),
            _str(f, "loader"),
            _obj(f, "message"),
            _str(data, "payload"),
        )


class _AdapterRow(_Timestamped):
    """Shared shape of adapter_failures and tracker_protocol_violations: messages about a whole raw record."""

    __slots__ = ()
    allowed: ClassVar[tuple[type, ...]]
    vendor: str
    version: str
    messages: tuple[Any, ...]
    payload: CollectorPayload

    def _fit(self) -> None:
        _check_instant(self.timestamp_ms)
        object.__setattr__(self, "vendor", fit(self.vendor, _ADAPTER_VENDOR_LIMIT))
        object.__setattr__(self, "version", fit(self.version, _ADAPTER_VERSION_LIMIT))
        object.__setattr__(self, "messages", _messages(self.messages, self.allowed, self.type_name))
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


@dataclass(frozen=True, slots=True)
class AdapterFailures(_AdapterRow):
    """An adapter (webhook, unknown vendor/version) could not turn a raw record into events."""

    type_name: ClassVar[str] = "adapter_failures"
    schema: ClassVar[SchemaKey] = _schema("adapter_failures", "1-0-0")
    recoverable: ClassVar[bool] = True
    allowed: ClassVar[tuple[type, ...]] = ADAPTER_MESSAGES

    processor: Processor
    timestamp_ms: int
    vendor: str
    version: str
    messages: tuple[AdapterMessage, ...]
    payload: CollectorPayload

    def __post_init__(self) -> None:
        self._fit()

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> AdapterFailures:
        f = _obj(data, "failure")
        return cls(
            Processor.from_json(data.get("processor")),
            _instant(f),
            _str(f, "vendor"),
            _str(f, "version"),
            _parsed_messages(f),  # _fit checks the variants
            collector_payload_from_json(data.get("payload")),
        )


@dataclass(frozen=True, slots=True)
class TrackerProtocolViolations(_AdapterRow):
    """A tp1/tp2/redirect request broke the tracker protocol (bad body, payload_data invalid, ...)."""

    type_name: ClassVar[str] = "tracker_protocol_violations"
    schema: ClassVar[SchemaKey] = _schema("tracker_protocol_violations", "1-0-1")
    recoverable: ClassVar[bool] = True
    allowed: ClassVar[tuple[type, ...]] = TRACKER_PROTOCOL_MESSAGES

    processor: Processor
    timestamp_ms: int
    vendor: str
    version: str
    messages: tuple[TrackerProtocolMessage, ...]
    payload: CollectorPayload

    def __post_init__(self) -> None:
        self._fit()

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> TrackerProtocolViolations:
        f = _obj(data, "failure")
        return cls(
            Processor.from_json(data.get("processor")),
            _instant(f),
            _str(f, "vendor"),
            _str(f, "version"),
            _parsed_messages(f),  # _fit checks the variants
            collector_payload_from_json(data.get("payload")),
        )


@dataclass(frozen=True, slots=True)
class SchemaViolations(_Timestamped):
    """One event's self-describing JSON (unstruct event, context) was not JSON, not Iglu, or invalid."""

    type_name: ClassVar[str] = "schema_violations"
    schema: ClassVar[SchemaKey] = _schema("schema_violations", "2-0-1")
    recoverable: ClassVar[bool] = True

    processor: Processor
    timestamp_ms: int
    messages: tuple[SchemaViolationMessage, ...]
    payload: EnrichmentPayload

    def __post_init__(self) -> None:
        _check_instant(self.timestamp_ms)
        object.__setattr__(self, "messages", _messages(self.messages, SCHEMA_VIOLATION_MESSAGES, self.type_name))

    def failure_json(self) -> dict[str, Any]:
        return {"timestamp": format_instant(self.timestamp_ms), "messages": [m.to_json() for m in self.messages]}

    def payload_json(self) -> dict[str, Any]:
        return self.payload.to_json()

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> SchemaViolations:
        f = _obj(data, "failure")
        return cls(
            Processor.from_json(data.get("processor")),
            _instant(f),
            _parsed_messages(f),  # __post_init__ checks the variants
            EnrichmentPayload.from_json(data.get("payload")),
        )


@dataclass(frozen=True, slots=True)
class EnrichmentFailures(_Timestamped):
    """One event failed in an enrichment (or in the atomic-field checks after them)."""

    type_name: ClassVar[str] = "enrichment_failures"
    schema: ClassVar[SchemaKey] = _schema("enrichment_failures", "2-0-1")
    recoverable: ClassVar[bool] = True

    processor: Processor
    timestamp_ms: int
    messages: tuple[EnrichmentFailureMessage, ...]
    payload: EnrichmentPayload

    def __post_init__(self) -> None:
        _check_instant(self.timestamp_ms)
        object.__setattr__(self, "messages", _messages(self.messages, (EnrichmentFailureMessage,), self.type_name))

    def failure_json(self) -> dict[str, Any]:
        return {"timestamp": format_instant(self.timestamp_ms), "messages": [m.to_json() for m in self.messages]}

    def payload_json(self) -> dict[str, Any]:
        return self.payload.to_json()

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EnrichmentFailures:
        f = _obj(data, "failure")
        raw = f.get("messages")
        if not isinstance(raw, list):
            raise ValueError("failure.messages: expected a list")
        return cls(
            Processor.from_json(data.get("processor")),
            _instant(f),
            tuple(EnrichmentFailureMessage.from_json(m) for m in raw),
            EnrichmentPayload.from_json(data.get("payload")),
        )


@dataclass(frozen=True, slots=True)
class LoaderParsingError(BadRowBase):
    """A lake line that is not an enriched event; the payload is the line."""

    type_name: ClassVar[str] = "loader_parsing_error"
    schema: ClassVar[SchemaKey] = _schema("loader_parsing_error", "2-0-0")
    recoverable: ClassVar[bool] = False

    processor: Processor
    failure: dict[str, Any]
    payload: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "failure", normalise_parsing_failure(self.failure))

    def failure_json(self) -> dict[str, Any]:
        return self.failure

    def payload_json(self) -> str:
        return self.payload

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> LoaderParsingError:
        return cls(Processor.from_json(data.get("processor")), _obj(data, "failure"), _str(data, "payload"))


@dataclass(frozen=True, slots=True)
class LoaderIgluError(BadRowBase):
    """The loader could not type an event's self-describing data (schema missing, wrong type, ...)."""

    type_name: ClassVar[str] = "loader_iglu_error"
    schema: ClassVar[SchemaKey] = _schema("loader_iglu_error", "2-0-1")
    recoverable: ClassVar[bool] = False

    processor: Processor
    failures: tuple[dict[str, Any], ...]
    payload: dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "failures", tuple(normalise_loader_iglu_failure(f) for f in self.failures))
        object.__setattr__(self, "payload", normalise_loader_event(self.payload))

    def failure_json(self) -> list[dict[str, Any]]:
        return list(self.failures)

    def payload_json(self) -> dict[str, Any]:
        return self.payload

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> LoaderIgluError:
        failures = data.get("failure")
        if not isinstance(failures, list):
            raise ValueError("failure: expected a list")
        return cls(Processor.from_json(data.get("processor")), tuple(failures), _obj(data, "payload"))


@dataclass(frozen=True, slots=True)
class LoaderRuntimeError(BadRowBase):
    """The warehouse refused an event for a reason outside the data's shape; `error` is the message."""

    type_name: ClassVar[str] = "loader_runtime_error"
    schema: ClassVar[SchemaKey] = _schema("loader_runtime_error", "1-0-1")
    recoverable: ClassVar[bool] = False

    processor: Processor
    error: str
    payload: dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", normalise_loader_event(self.payload))

    def failure_json(self) -> str:
        return self.error

    def payload_json(self) -> dict[str, Any]:
        return self.payload

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> LoaderRuntimeError:
        return cls(Processor.from_json(data.get("processor")), _str(data, "failure"), _obj(data, "payload"))


# recovery_error 1-0-1 only wraps these bad-row schemas.
RECOVERABLE_SCHEMAS = frozenset(
    f"iglu:{_VENDOR}/{path}"
    for path in (
        "adapter_failures/jsonschema/1-0-0",
        "collector_payload_format_violation/jsonschema/1-0-0",
        "enrichment_failures/jsonschema/1-0-0",
        "enrichment_failures/jsonschema/2-0-0",
        "enrichment_failures/jsonschema/2-0-1",
        "loader_iglu_error/jsonschema/2-0-0",
        "loader_iglu_error/jsonschema/2-0-1",
        "loader_parsing_error/jsonschema/2-0-0",
        "loader_recovery_error/jsonschema/1-0-0",
        "loader_runtime_error/jsonschema/1-0-0",
        "loader_runtime_error/jsonschema/1-0-1",
        "relay_failure/jsonschema/1-0-0",
        "schema_violations/jsonschema/1-0-0",
        "schema_violations/jsonschema/2-0-0",
        "schema_violations/jsonschema/2-0-1",
        "size_violation/jsonschema/1-0-0",
        "snowflake_error/jsonschema/1-0-0",
        "tracker_protocol_violations/jsonschema/1-0-0",
        "tracker_protocol_violations/jsonschema/1-0-1",
    )
)


def _check_recovered_row(row: Any) -> None:
    if not isinstance(row, dict) or row.get("schema") not in RECOVERABLE_SCHEMAS:
        raise ValueError("recovery_error payload: expected a bad row of a type recovery_error 1-0-1 can wrap")
    data = row.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("processor"), dict) or "failure" not in data:
        raise ValueError("recovery_error payload: the bad row needs data.processor and data.failure")
    if not isinstance(data["failure"], dict | list | str):
        raise ValueError("recovery_error payload: data.failure must be an object, array or string")
    if "payload" in data and not isinstance(data["payload"], dict | str):
        raise ValueError("recovery_error payload: data.payload must be an object or string")


@dataclass(frozen=True, slots=True)
class RecoveryError(BadRowBase):
    """Replay could not recover a bad row; the payload is that original bad row (SDJ) and the attempt count."""

    type_name: ClassVar[str] = "recovery_error"
    schema: ClassVar[SchemaKey] = _schema("recovery_error", "1-0-1")
    recoverable: ClassVar[bool] = True

    processor: Processor
    error: str
    config_name: str | None
    payload: dict[str, Any]
    recoveries: int

    def __post_init__(self) -> None:
        _check_recovered_row(self.payload)

    def failure_json(self) -> dict[str, Any]:
        return {"error": self.error, "configName": self.config_name}

    def payload_json(self) -> dict[str, Any]:
        return self.payload

    def to_json(self) -> dict[str, Any]:
        doc = BadRowBase.to_json(self)
        doc["data"]["recoveries"] = self.recoveries
        return doc

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RecoveryError:
        f = _obj(data, "failure")
        config = f.get("configName")
        if config is not None and not isinstance(config, str):
            raise ValueError("failure.configName: expected a string or null")
        return cls(
            Processor.from_json(data.get("processor")),
            _str(f, "error"),
            config,
            _obj(data, "payload"),
            _int(data, "recoveries"),
        )


@dataclass(frozen=True, slots=True)
class GenericError(_Timestamped):
    """A failure no other type describes; the payload is the stringified input (not replayable)."""

    type_name: ClassVar[str] = "generic_error"
    schema: ClassVar[SchemaKey] = _schema("generic_error", "1-0-0")
    recoverable: ClassVar[bool] = False

    processor: Processor
    timestamp_ms: int
    errors: tuple[str, ...]
    payload: str

    def __post_init__(self) -> None:
        _check_instant(self.timestamp_ms)
        object.__setattr__(self, "errors", tuple(self.errors))
        if not self.errors:
            raise ValueError("generic_error needs at least one error")

    def failure_json(self) -> dict[str, Any]:
        return {"timestamp": format_instant(self.timestamp_ms), "errors": list(self.errors)}

    def payload_json(self) -> str:
        return self.payload

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> GenericError:
        f = _obj(data, "failure")
        errors = f.get("errors")
        if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
            raise ValueError("failure.errors: expected a list of strings")
        return cls(Processor.from_json(data.get("processor")), _instant(f), tuple(errors), _str(data, "payload"))


def _messages(messages: Any, allowed: tuple[type, ...], type_name: str) -> tuple[Any, ...]:
    out = tuple(messages)
    for m in out:
        if not isinstance(m, allowed):
            raise ValueError(f"{type_name} cannot carry a {type(m).__name__}")
    return out


def _parsed_messages(failure: dict[str, Any]) -> tuple[Any, ...]:
    raw = failure.get("messages")
    if not isinstance(raw, list):
        raise ValueError("failure.messages: expected a list")
    return tuple(message_from_json(m) for m in raw)


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"{key}: expected a JSON object")
    return value


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string")
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key}: expected an integer")
    return value


def _instant(failure: dict[str, Any]) -> int:
    return parse_instant(_str(failure, "timestamp"))
