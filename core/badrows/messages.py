"""The failure messages inside bad rows: one frozen dataclass per variant, each knowing its JSON form.

Which variants a bad-row type accepts follows its schema's `anyOf` (see the *_MESSAGES tuples).
Texts are cut to the schema limits at construction, so a message always serialises validly and
`message_from_json(m.to_json()) == m`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.badrows.iglu_errors import normalise_iglu_client_error
from core.badrows.limits import fit, fit_optional
from core.errors import IgluParseError
from core.iglu import SchemaCriterion, SchemaKey

__all__ = [
    "ADAPTER_MESSAGES",
    "ENRICHMENT_MESSAGES",
    "NOT_IGLU_ERRORS",
    "SCHEMA_VIOLATION_MESSAGES",
    "TRACKER_PROTOCOL_MESSAGES",
    "AdapterMessage",
    "CriterionMismatchMessage",
    "EnrichmentErrorMessage",
    "EnrichmentFailureMessage",
    "EnrichmentInformation",
    "EnrichmentMessage",
    "FailureMessage",
    "IgluErrorMessage",
    "InputDataMessage",
    "NotIgluMessage",
    "NotJsonMessage",
    "SchemaMappingMessage",
    "SchemaViolationMessage",
    "TrackerProtocolMessage",
    "message_from_json",
]

FIELD_LIMIT = 64
EXPECTATION_LIMIT = 256
ACTUAL_LIMIT = 256
IDENTIFIER_LIMIT = 256
ERROR_LIMIT = 512

NOT_IGLU_ERRORS = ("INVALID_SCHEMAVER", "INVALID_IGLUURI", "INVALID_DATA_PAYLOAD", "INVALID_SCHEMA")


@dataclass(frozen=True, slots=True)
class InputDataMessage:
    """A field did not meet the adapter's / enrichment's expectation: `{field, value, expectation}`."""

    field: str
    value: str | None
    expectation: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", fit(self.field, FIELD_LIMIT))
        object.__setattr__(self, "expectation", fit(self.expectation, EXPECTATION_LIMIT))

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "expectation": self.expectation}


@dataclass(frozen=True, slots=True)
class NotJsonMessage:
    """A string that should have been JSON was not: `{field, value, error}`."""

    field: str
    value: str | None
    error: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", fit(self.field, FIELD_LIMIT))

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "error": self.error}


@dataclass(frozen=True, slots=True)
class NotIgluMessage:
    """JSON that is not self-describing: `{json, error}`, error being iglu-core's ParseError code."""

    json: Any
    error: str

    def __post_init__(self) -> None:
        if self.error not in NOT_IGLU_ERRORS:
            raise ValueError(f"NotIgluMessage.error must be one of {NOT_IGLU_ERRORS}, not {self.error!r}")

    @classmethod
    def from_parse_error(cls, json: Any, error: IgluParseError) -> NotIgluMessage:
        """From what core.iglu.parse_self_describing raised."""
        return cls(json, error.code)

    def to_json(self) -> dict[str, Any]:
        return {"json": self.json, "error": self.error}


@dataclass(frozen=True, slots=True)
class CriterionMismatchMessage:
    """A self-describing JSON whose schema does not match the criterion its slot requires."""

    schema_key: SchemaKey
    schema_criterion: SchemaCriterion

    def to_json(self) -> dict[str, Any]:
        return {"schemaKey": self.schema_key.uri, "schemaCriterion": str(self.schema_criterion)}


@dataclass(frozen=True, slots=True)
class IgluErrorMessage:
    """Resolution or validation against `schema_key` failed; `error` is the IgluClientError JSON."""

    schema_key: SchemaKey
    error: dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "error", normalise_iglu_client_error(self.error))

    def to_json(self) -> dict[str, Any]:
        return {"schemaKey": self.schema_key.uri, "error": self.error}


@dataclass(frozen=True, slots=True)
class SchemaMappingMessage:
    """A webhook's event type has no schema: `{actual, expectedMapping, expectation}`."""

    actual: str | None
    expected_mapping: dict[str, str]
    expectation: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "actual", fit_optional(self.actual, ACTUAL_LIMIT))
        object.__setattr__(self, "expectation", fit(self.expectation, EXPECTATION_LIMIT))
        object.__setattr__(self, "expected_mapping", dict(self.expected_mapping))

    def to_json(self) -> dict[str, Any]:
        return {"actual": self.actual, "expectedMapping": self.expected_mapping, "expectation": self.expectation}


@dataclass(frozen=True, slots=True)
class EnrichmentErrorMessage:
    """An enrichment failed for a reason outside its input (e.g. a lookup could not connect): `{error}`."""

    error: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "error", fit(self.error, ERROR_LIMIT))

    def to_json(self) -> dict[str, Any]:
        return {"error": self.error}


@dataclass(frozen=True, slots=True)
class EnrichmentInformation:
    """Which enrichment failed: its configuration schema and its instance identifier."""

    schema_key: SchemaKey
    identifier: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "identifier", fit(self.identifier, IDENTIFIER_LIMIT))

    def to_json(self) -> dict[str, Any]:
        return {"schemaKey": self.schema_key.uri, "identifier": self.identifier}


EnrichmentMessage = InputDataMessage | EnrichmentErrorMessage | IgluErrorMessage
ENRICHMENT_MESSAGES = (InputDataMessage, EnrichmentErrorMessage, IgluErrorMessage)


@dataclass(frozen=True, slots=True)
class EnrichmentFailureMessage:
    """One enrichment failure: `{enrichment: {schemaKey, identifier} | null, message}`.

    `message` may also be given as its JSON dict; it is stored as the typed variant.
    """

    enrichment: EnrichmentInformation | None
    message: EnrichmentMessage

    def __post_init__(self) -> None:
        message: Any = self.message
        if isinstance(message, dict):
            message = message_from_json(message)
        if not isinstance(message, ENRICHMENT_MESSAGES):
            raise ValueError(f"an enrichment failure message cannot be a {type(message).__name__}")
        object.__setattr__(self, "message", message)

    def to_json(self) -> dict[str, Any]:
        enrichment = None if self.enrichment is None else self.enrichment.to_json()
        return {"enrichment": enrichment, "message": self.message.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> EnrichmentFailureMessage:
        if not isinstance(data, dict) or "message" not in data:
            raise ValueError("enrichment failure message: expected {enrichment, message}")
        info = data.get("enrichment")
        enrichment = None
        if info is not None:
            if not isinstance(info, dict) or not isinstance(info.get("identifier"), str):
                raise ValueError("enrichment: expected {schemaKey, identifier}")
            enrichment = EnrichmentInformation(_key(info.get("schemaKey")), info["identifier"])
        message = message_from_json(data["message"])
        if not isinstance(message, ENRICHMENT_MESSAGES):
            raise ValueError(f"an enrichment failure message cannot be a {type(message).__name__}")
        return cls(enrichment, message)


FailureMessage = (
    InputDataMessage
    | NotJsonMessage
    | NotIgluMessage
    | CriterionMismatchMessage
    | IgluErrorMessage
    | SchemaMappingMessage
    | EnrichmentErrorMessage
)

AdapterMessage = InputDataMessage | NotJsonMessage | NotIgluMessage | SchemaMappingMessage
ADAPTER_MESSAGES = (InputDataMessage, NotJsonMessage, NotIgluMessage, SchemaMappingMessage)
TrackerProtocolMessage = (
    InputDataMessage | NotJsonMessage | NotIgluMessage | CriterionMismatchMessage | IgluErrorMessage
)
TRACKER_PROTOCOL_MESSAGES = (
    InputDataMessage,
    NotJsonMessage,
    NotIgluMessage,
    CriterionMismatchMessage,
    IgluErrorMessage,
)
SchemaViolationMessage = NotJsonMessage | NotIgluMessage | CriterionMismatchMessage | IgluErrorMessage
SCHEMA_VIOLATION_MESSAGES = (NotJsonMessage, NotIgluMessage, CriterionMismatchMessage, IgluErrorMessage)


def message_from_json(data: Any) -> FailureMessage:
    """Recognise a message variant by its keys (the schemas' anyOf branches are disjoint by keys)."""
    if not isinstance(data, dict):
        raise ValueError("failure message: expected a JSON object")
    keys = set(data)
    if keys <= {"field", "value", "expectation"} and {"field", "expectation"} <= keys:
        return InputDataMessage(_text(data, "field"), _opt_text(data, "value"), _text(data, "expectation"))
    if keys <= {"field", "value", "error"} and {"field", "error"} <= keys:
        return NotJsonMessage(_text(data, "field"), _opt_text(data, "value"), _text(data, "error"))
    if keys == {"json", "error"}:
        return NotIgluMessage(data["json"], _text(data, "error"))
    if keys == {"schemaKey", "schemaCriterion"}:
        return CriterionMismatchMessage(_key(data["schemaKey"]), _criterion(data["schemaCriterion"]))
    if keys == {"schemaKey", "error"}:
        return IgluErrorMessage(_key(data["schemaKey"]), data["error"])
    if keys == {"actual", "expectedMapping", "expectation"}:
        mapping = data["expectedMapping"]
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ValueError("expectedMapping: expected an object of strings")
        return SchemaMappingMessage(_opt_text(data, "actual"), mapping, _text(data, "expectation"))
    if keys == {"error"}:
        return EnrichmentErrorMessage(_text(data, "error"))
    raise ValueError(f"failure message with keys {sorted(keys)} matches no known variant")


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string")
    return value


def _opt_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key}: expected a string or null")
    return value


def _key(value: Any) -> SchemaKey:
    if not isinstance(value, str):
        raise ValueError("schemaKey: expected an Iglu URI string")
    return SchemaKey.parse(value)


def _criterion(value: Any) -> SchemaCriterion:
    if not isinstance(value, str):
        raise ValueError("schemaCriterion: expected a string")
    return SchemaCriterion.parse(value)
