"""The pii_transformation event emitted beside a pseudonymised event (PII enrichment `emitEvent`), built and validated.

Snowplow (snowplow.md §3.5) emits, for each good event whose fields were hashed, a separate event to
the pii stream: `event` = `pii_transformation`, platform `srv`, a fresh `event_id`, the parent's
`app_id`, `collector_tstamp` and `etl_tstamp`, `derived_tstamp` = `true_tstamp` = the processing
time, the pii_transformation/1-0-0 unstruct event and a parent_event/1-0-0 context whose
`parentEventId` is the original event's id. Like any event it is validated: its two entities
against their schemas, its atomic fields against the length limits; a failure makes it a
schema_violations bad row (it never takes its parent with it).

The pii_transformation entity is ours in all but its original values: the PII enrichment names its
shape, and its verdict is proven once per shape (enrich/enrichments/proofs.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.badrows import (
    EnrichmentPayload,
    IgluErrorMessage,
    RawEvent,
    SchemaViolationMessage,
    SchemaViolations,
)
from core.raw import CollectorPayload
from enrich.derive import ATOMIC_SCHEMA, length_reports
from enrich.enrichments.proofs import Shape, checked_entity
from enrich.entities import Entities, contexts_column, unstruct_column
from enrich.environment import Environment
from enrich.event import EnrichedEvent

__all__ = ["PII_EVENT_TYPE", "PII_PLATFORM", "PiiTransformation", "pii_event"]

PII_EVENT_TYPE = "pii_transformation"
PII_PLATFORM = "srv"


@dataclass(frozen=True, slots=True)
class PiiTransformation:
    """What emitEvent asks for: the pii_transformation entity, its parent_event context, and the entity's shape.

    Without a shape the entity is validated every time.
    """

    event: dict[str, Any]  # {"schema": pii_transformation, "data": {"pii": ..., "strategy": ...}}
    parent: dict[str, Any]  # {"schema": parent_event, "data": {"parentEventId": ...}}
    shape: Shape | None = None


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
    unstruct = checked_entity(unstruct_sdj, transformation.shape, env.validator, checked)
    context = checked_entity(parent_sdj, None, env.validator, checked)

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
    reports = length_reports(event, env.length_limits)
    if reports:
        messages.insert(0, IgluErrorMessage(ATOMIC_SCHEMA, {"error": "ValidationError", "dataReports": reports}))
    if messages:
        payload, params = source
        raw = RawEvent.from_collector_payload(payload, tuple(params.items()))
        return SchemaViolations(env.processor, now, tuple(messages), EnrichmentPayload(event.to_partial_json(), raw))
    return event
