"""The pii_transformation event emitted beside a pseudonymised event (PII enrichment `emitEvent`), built and validated.

Snowplow (snowplow.md §3.5) emits, for each good event whose fields were hashed, a separate event to
the pii stream: `event` = `pii_transformation`, platform `srv`, a fresh `event_id`, the parent's
`app_id`, `collector_tstamp` and `etl_tstamp`, `derived_tstamp` = `true_tstamp` = the processing
time, the pii_transformation/1-0-0 unstruct event and a parent_event/1-0-0 context whose
`parentEventId` is the original event's id. Like any event it is validated: its two entities
against their schemas, its atomic fields against the length limits; a failure makes it a
schema_violations bad row (it never takes its parent with it).

The pii_transformation entity is ours in all but its original values, so its verdict is proven once
per shape: the emitter (enrich/enrichments/pii.py) names the shape, i.e. everything the verdict
depends on, and keeps the verdicts; an entity of a shape already accepted by the same validator is
not validated again (a shape that failed is validated every time, so its report names real values).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.badrows import (
    EnrichmentPayload,
    IgluErrorMessage,
    NotIgluMessage,
    RawEvent,
    SchemaViolationMessage,
    SchemaViolations,
)
from core.errors import IgluParseError
from core.iglu import SchemaKey
from core.raw import CollectorPayload
from enrich.atomic import LengthLimits
from enrich.derive import ATOMIC_SCHEMA, length_reports
from enrich.entities import Entities, contexts_column, declared_uri, parse_entity, unstruct_column, validate_entity
from enrich.environment import Environment, SchemaValidator
from enrich.event import EnrichedEvent

__all__ = ["MAX_PROOFS", "PII_EVENT_TYPE", "PII_PLATFORM", "PiiTransformation", "Proof", "pii_event"]

PII_EVENT_TYPE = "pii_transformation"
PII_PLATFORM = "srv"
MAX_PROOFS = 4096  # shapes remembered per configuration; beyond that, entities are validated each time
# The only limited atomic fields a pii event sets (the rest stay null): only these need their lengths checked.
_SET_FIELDS = ("app_id", "platform", "event", "event_id", "v_etl", "event_vendor", "event_name", "event_format",
               "event_version")  # fmt: skip
_own_limits: dict[int, tuple[LengthLimits, LengthLimits]] = {}  # id(environment's limits) -> (them, the subset)


@dataclass(frozen=True, slots=True)
class Proof:
    """A validator's acceptance of every pii_transformation entity of one shape: what validation would return."""

    validator: SchemaValidator  # whose verdict it is (another validator may resolve another schema)
    key: SchemaKey  # the key validated with (the superseding one, if any)
    uri: str  # the output entity's schema URI
    derived: tuple[dict[str, Any], ...]  # validation_info contexts the validation left (superseded schemas)


@dataclass(frozen=True, slots=True)
class PiiTransformation:
    """What emitEvent asks for: the pii_transformation entity, its parent_event context, and its shape.

    `shape` must determine the entity's verdict (it is everything in the entity but strings the
    schema constrains by type alone); `proofs` is the emitter's memo of accepted shapes. Without a
    shape the entity is validated every time.
    """

    event: dict[str, Any]  # {"schema": pii_transformation, "data": {"pii": ..., "strategy": ...}}
    parent: dict[str, Any]  # {"schema": parent_event, "data": {"parentEventId": ...}}
    shape: Hashable | None = None
    proofs: dict[Hashable, Proof] = field(default_factory=dict, compare=False)


def pii_event(
    parent: EnrichedEvent,
    transformation: PiiTransformation,
    env: Environment,
    now: int,
    source: tuple[CollectorPayload, Mapping[str, str | None]],
) -> EnrichedEvent | SchemaViolations:
    """The pii event for `parent` from the enrichment's request; a bad row if invalid.

    `source` (the parent's collector payload and parameters) is only read for a bad row's raw event.
    """
    unstruct_sdj, parent_sdj = transformation.event, transformation.parent
    checked = Entities()
    unstruct = _proven(transformation, env, checked)
    context = _validated(parent_sdj, env, checked)

    event = EnrichedEvent()
    event.app_id = parent.app_id
    event.platform = PII_PLATFORM
    event.etl_tstamp = parent.etl_tstamp
    event.collector_tstamp = parent.collector_tstamp
    event.derived_tstamp = now
    event.true_tstamp = now
    event.event = PII_EVENT_TYPE
    event.event_id = env.new_event_id()
    event.v_etl = parent.v_etl
    event.unstruct_event = unstruct_column(unstruct_sdj if unstruct is None else unstruct[1])
    event.contexts = contexts_column([parent_sdj if context is None else context[1]])
    if unstruct is not None:
        key = unstruct[0]
        event.event_vendor, event.event_name = key.vendor, key.name
        event.event_format, event.event_version = key.format, str(key.version)
    if checked.derived:  # validated with a superseding schema
        event.derived_contexts = contexts_column(checked.derived)

    messages: list[SchemaViolationMessage] = list(checked.errors)
    reports = length_reports(event, _limits_of_set_fields(env.length_limits))
    if reports:
        messages.insert(0, IgluErrorMessage(ATOMIC_SCHEMA, {"error": "ValidationError", "dataReports": reports}))
    if messages:
        payload, params = source
        raw = RawEvent.from_collector_payload(payload, tuple(params.items()))
        return SchemaViolations(env.processor, now, tuple(messages), EnrichmentPayload(event.to_partial_json(), raw))
    return event


def _limits_of_set_fields(limits: LengthLimits) -> LengthLimits:
    """The environment's limits on the fields a pii event sets (same reports, without reading 80 null fields)."""
    known = _own_limits.get(id(limits))
    if known is not None and known[0] is limits:
        return known[1]
    bounds = dict(zip(limits.names, limits.bounds, strict=True))
    subset = LengthLimits.of({name: bounds[name] for name in _SET_FIELDS if name in bounds})
    if len(_own_limits) >= 64:  # environments are few; never let stale ones pile up
        _own_limits.clear()
    _own_limits[id(limits)] = (limits, subset)
    return subset


def _proven(
    transformation: PiiTransformation, env: Environment, checked: Entities
) -> tuple[SchemaKey, dict[str, Any]] | None:
    """The pii_transformation entity checked: by the proof for its shape when this validator gave one, else
    validated (and, when accepted, proven for its shape)."""
    sdj, shape, proofs = transformation.event, transformation.shape, transformation.proofs
    proof = proofs.get(shape) if shape is not None else None
    if proof is not None and proof.validator is env.validator:
        checked.derived.extend(proof.derived)
        return proof.key, {"schema": proof.uri, "data": sdj["data"]}
    own = Entities()
    validated = _validated(sdj, env, own)
    checked.errors.extend(own.errors)
    checked.derived.extend(own.derived)
    if validated is not None and shape is not None and (shape in proofs or len(proofs) < MAX_PROOFS):
        key, entity = validated
        proofs[shape] = Proof(env.validator, key, entity["schema"], tuple(own.derived))
    return validated


def _validated(sdj: dict[str, Any], env: Environment, checked: Entities) -> tuple[SchemaKey, dict[str, Any]] | None:
    """One entity checked against its schema: (the key used, its output JSON), or None after reporting why."""
    try:
        entity = parse_entity(sdj)
    except IgluParseError as e:
        checked.errors.append(NotIgluMessage.from_parse_error(sdj, e))
        return None
    return validate_entity(entity, env.validator, checked, declared_uri(sdj))
