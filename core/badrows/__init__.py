"""Bad rows as values: every failure kind the pipeline emits, serialised to Snowplow's bad-row JSON.

    row = SchemaViolations(processor, now_ms, (IgluErrorMessage(key, error),), EnrichmentPayload(enriched, raw))
    line = row.encode()                      # compact SDJ, valid against the published schema
    assert parse_bad_row(line) == row

Modules: `raw_rows`, `event_rows`, `loader_rows` (the types, built on `base`), `messages` (failure
messages), `payloads` (CollectorPayload fitting, RawEvent, EnrichmentPayload), `iglu_errors`
(IgluClientError JSON), `loader_failures`, `atomic` (the 131 fields as the schemas type them),
`limits` (schema size limits and lossless chunking), `processor`.
"""

from __future__ import annotations

from typing import Any

import orjson

from core.badrows.base import BadRowBase
from core.badrows.event_rows import EnrichmentFailures, SchemaViolations
from core.badrows.iglu_errors import (
    DataReport,
    RepositoryLookup,
    normalise_iglu_client_error,
    resolution_error,
    schema_issues_error,
    validation_error,
)
from core.badrows.loader_rows import LoaderIgluError, LoaderParsingError, LoaderRuntimeError, RecoveryError
from core.badrows.messages import (
    AdapterMessage,
    CriterionMismatchMessage,
    EnrichmentErrorMessage,
    EnrichmentFailureMessage,
    EnrichmentInformation,
    EnrichmentMessage,
    FailureMessage,
    IgluErrorMessage,
    InputDataMessage,
    NotIgluMessage,
    NotJsonMessage,
    SchemaMappingMessage,
    SchemaViolationMessage,
    TrackerProtocolMessage,
)
from core.badrows.payloads import EnrichmentPayload, RawEvent
from core.badrows.processor import EVENTKIT_PROCESSOR_VERSION, Processor, eventkit_processor
from core.badrows.raw_rows import (
    LOADERS,
    AdapterFailures,
    CollectorPayloadFormatViolation,
    GenericError,
    SizeViolation,
    TrackerProtocolViolations,
)

__all__ = [
    "BAD_ROW_TYPES",
    "EVENTKIT_PROCESSOR_VERSION",
    "LOADERS",
    "AdapterFailures",
    "AdapterMessage",
    "BadRow",
    "BadRowBase",
    "CollectorPayloadFormatViolation",
    "CriterionMismatchMessage",
    "DataReport",
    "EnrichmentErrorMessage",
    "EnrichmentFailureMessage",
    "EnrichmentFailures",
    "EnrichmentInformation",
    "EnrichmentMessage",
    "EnrichmentPayload",
    "FailureMessage",
    "GenericError",
    "IgluErrorMessage",
    "InputDataMessage",
    "LoaderIgluError",
    "LoaderParsingError",
    "LoaderRuntimeError",
    "NotIgluMessage",
    "NotJsonMessage",
    "Processor",
    "RawEvent",
    "RecoveryError",
    "RepositoryLookup",
    "SchemaMappingMessage",
    "SchemaViolationMessage",
    "SchemaViolations",
    "SizeViolation",
    "TrackerProtocolMessage",
    "TrackerProtocolViolations",
    "eventkit_processor",
    "normalise_iglu_client_error",
    "parse_bad_row",
    "resolution_error",
    "schema_issues_error",
    "validation_error",
]

BadRow = (
    SizeViolation
    | CollectorPayloadFormatViolation
    | AdapterFailures
    | TrackerProtocolViolations
    | SchemaViolations
    | EnrichmentFailures
    | LoaderParsingError
    | LoaderIgluError
    | LoaderRuntimeError
    | RecoveryError
    | GenericError
)

# The wire's type name (the schema's `name`) → its class; the lake's bad/<type>/ folders use the same names.
BAD_ROW_TYPES: dict[str, type[BadRow]] = {
    "size_violation": SizeViolation,
    "collector_payload_format_violation": CollectorPayloadFormatViolation,
    "adapter_failures": AdapterFailures,
    "tracker_protocol_violations": TrackerProtocolViolations,
    "schema_violations": SchemaViolations,
    "enrichment_failures": EnrichmentFailures,
    "loader_parsing_error": LoaderParsingError,
    "loader_iglu_error": LoaderIgluError,
    "loader_runtime_error": LoaderRuntimeError,
    "recovery_error": RecoveryError,
    "generic_error": GenericError,
}

_BY_URI = {cls.schema.uri: cls for cls in BAD_ROW_TYPES.values()}


def parse_bad_row(data: bytes | str | dict[str, Any]) -> BadRow:
    """Inverse of `to_json` / `encode` for every type at its current version; anything else raises ValueError."""
    doc: Any = data
    if isinstance(data, bytes | str):
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise ValueError(f"bad row is not JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise ValueError("bad row: expected {schema, data}")
    schema = doc.get("schema")
    cls = _BY_URI.get(schema) if isinstance(schema, str) else None
    if cls is None:
        raise ValueError(f"bad row schema {schema!r} is not one this version reads ({sorted(_BY_URI)})")
    return cls.from_data(doc["data"])
