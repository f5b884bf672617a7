"""Bad rows written after enrich: the loader's (parsing, Iglu, runtime) and replay's recovery_error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from core.badrows.atomic import normalise_loader_event
from core.badrows.base import BADROWS_VENDOR, BadRowBase, badrow_schema, read_int, read_object, read_string
from core.badrows.loader_failures import normalise_loader_iglu_failure, normalise_parsing_failure
from core.badrows.processor import Processor
from core.iglu import SchemaKey

__all__ = ["RECOVERABLE_SCHEMAS", "LoaderIgluError", "LoaderParsingError", "LoaderRuntimeError", "RecoveryError"]


@dataclass(frozen=True, slots=True)
class LoaderParsingError(BadRowBase):
    """A lake line that is not an enriched event; the payload is the line."""

    type_name: ClassVar[str] = "loader_parsing_error"
    schema: ClassVar[SchemaKey] = badrow_schema("loader_parsing_error", "2-0-0")
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
        return cls(
            Processor.from_json(data.get("processor")), read_object(data, "failure"), read_string(data, "payload")
        )


@dataclass(frozen=True, slots=True)
class LoaderIgluError(BadRowBase):
    """The loader could not type an event's self-describing data (schema missing, wrong type, ...)."""

    type_name: ClassVar[str] = "loader_iglu_error"
    schema: ClassVar[SchemaKey] = badrow_schema("loader_iglu_error", "2-0-1")
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
        return cls(Processor.from_json(data.get("processor")), tuple(failures), read_object(data, "payload"))


@dataclass(frozen=True, slots=True)
class LoaderRuntimeError(BadRowBase):
    """The warehouse refused an event for a reason outside the data's shape; `error` is the message."""

    type_name: ClassVar[str] = "loader_runtime_error"
    schema: ClassVar[SchemaKey] = badrow_schema("loader_runtime_error", "1-0-1")
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
        return cls(
            Processor.from_json(data.get("processor")), read_string(data, "failure"), read_object(data, "payload")
        )


# recovery_error 1-0-1 only wraps these bad-row schemas.
RECOVERABLE_SCHEMAS = frozenset(
    f"iglu:{BADROWS_VENDOR}/{path}"
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
    schema: ClassVar[SchemaKey] = badrow_schema("recovery_error", "1-0-1")
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
        f = read_object(data, "failure")
        config = f.get("configName")
        if config is not None and not isinstance(config, str):
            raise ValueError("failure.configName: expected a string or null")
        return cls(
            Processor.from_json(data.get("processor")),
            read_string(f, "error"),
            config,
            read_object(data, "payload"),
            read_int(data, "recoveries"),
        )
