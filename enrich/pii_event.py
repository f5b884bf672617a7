"""The pii_transformation event emitted beside a pseudonymised event (PII enrichment `emitEvent`), built and validated.

Snowplow (snowplow.md §3.5) emits, for each good event whose fields were hashed, a separate event to
the pii stream: `event` = `pii_transformation`, platform `srv`, a fresh `event_id`, the parent's
`app_id`, `collector_tstamp` and `etl_tstamp`, `derived_tstamp` = `true_tstamp` = the processing
time, the pii_transformation/1-0-0 unstruct event and a parent_event/1-0-0 context whose
`parentEventId` is the original event's id. Like any event it is validated: its two entities
against their schemas, its atomic fields against the length limits; a failure makes it a
schema_violations bad row (it never takes its parent with it).

The pii_transformation entity is ours in all but its original values, and the parent_event context
in all but the id: the PII enrichment names their shapes, and their verdicts are proven once per
shape (enrich/enrichments/proofs.py). The atomic fields' verdict depends only on the lengths of the
few strings a pii event sets, so lengths that passed once are not checked again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.badrows import (
    EnrichmentPayload,
    IgluErrorMessage,
    RawEvent,
    SchemaViolationMessage,
    SchemaViolations,
)
from core.raw import CollectorPayload
from enrich.atomic import LengthLimits
from enrich.derive import ATOMIC_SCHEMA, length_reports
from enrich.enrichments.proofs import Shape, checked_entity
from enrich.entities import Entities, contexts_column, unstruct_column
from enrich.environment import Environment
from enrich.event import EnrichedEvent

__all__ = ["LIMITED_FIELDS", "PII_EVENT_TYPE", "PII_FIELDS", "PII_PLATFORM", "PiiTransformation", "pii_event"]

PII_EVENT_TYPE = "pii_transformation"
PII_PLATFORM = "srv"
# Every length-limited atomic field a pii event sets (the others stay unset; a test keeps this true).
LIMITED_FIELDS = ("app_id", "platform", "event", "event_id", "v_etl", "event_vendor", "event_name", "event_format",
                  "event_version")  # fmt: skip
# Every field a pii event can set (a test keeps this true): the pii stream's Parquet files write the other
# columns as nulls without reading them from each event.
PII_FIELDS = frozenset((*LIMITED_FIELDS, "etl_tstamp", "collector_tstamp", "derived_tstamp", "true_tstamp",
                        "unstruct_event", "contexts", "derived_contexts"))  # fmt: skip
_MAX_PASSED = 4096
# id(limits) -> (those limits, kept alive so the id stays theirs; the field lengths that passed them)
_passed: dict[int, tuple[LengthLimits, set[tuple[Any, ...]]]] = {}


class PiiTransformation:
    """What emitEvent asks for: the pii_transformation entity, its parent_event context, and their shapes.

    An entity without a shape is validated every time.
    """

    __slots__ = ("event", "parent", "parent_shape", "shape")

    def __init__(
        self,
        event: dict[str, Any],
        parent: dict[str, Any],
        shape: Shape | None = None,
        parent_shape: Shape | None = None,
    ) -> None:
        self.event = event  # {"schema": pii_transformation, "data": {"pii": ..., "strategy": ...}}
        self.parent = parent  # {"schema": parent_event, "data": {"parentEventId": ...}}
        self.shape = shape
        self.parent_shape = parent_shape


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
    context = checked_entity(parent_sdj, transformation.parent_shape, env.validator, checked)

    event = EnrichedEvent()  # PII_FIELDS lists every field set here
    event.app_id = parent.app_id
    event.platform = PII_PLATFORM
    event.etl_tstamp = parent.etl_tstamp
    event.collector_tstamp = parent.collector_tstamp
    event.derived_tstamp = event.true_tstamp = now
    event.event = PII_EVENT_TYPE
    event.event_id = env.new_event_id()
    event.v_etl = parent.v_etl
    event.unstruct_event = unstruct_column(unstruct_sdj if unstruct is None else unstruct[1])
    event.contexts = contexts_column([parent_sdj if context is None else context[1]])
    if unstruct is not None:
        key, entity = unstruct
        # The entity's schema is the canonical URI of `key`: its last segment is the version text.
        event.event_vendor, event.event_name, event.event_format = key.vendor, key.name, key.format
        event.event_version = entity["schema"].rpartition("/")[2]
    if checked.derived:  # validated with a superseding schema
        event.derived_contexts = contexts_column(checked.derived)

    messages: list[SchemaViolationMessage] = list(checked.errors)
    reports = _length_reports(event, env.length_limits)
    if reports:
        messages.insert(0, IgluErrorMessage(ATOMIC_SCHEMA, {"error": "ValidationError", "dataReports": reports}))
    if messages:
        payload, params = source
        raw = RawEvent.from_collector_payload(payload, tuple(params.items()))
        return SchemaViolations(env.processor, now, tuple(messages), EnrichmentPayload(event.to_partial_json(), raw))
    return event


def _length_reports(event: EnrichedEvent, limits: LengthLimits) -> list[dict[str, Any]]:
    """enrich.derive.length_reports, skipped for lengths that passed these limits before (the verdict depends on
    the UTF-16 length of each limited field: an ASCII string's is its length, other strings count as themselves)."""
    e, eid = event, event.event_id
    # LIMITED_FIELDS, in order; all but the new event id repeat from event to event, and only its length matters.
    lengths = (e.app_id, e.platform, e.event, len(eid) if eid is not None and eid.isascii() else eid, e.v_etl,
               e.event_vendor, e.event_name, e.event_format, e.event_version)  # fmt: skip
    known = _passed.get(id(limits))
    if known is not None and lengths in known[1]:
        return []
    reports = length_reports(event, limits)
    if not reports:
        if known is None:
            if len(_passed) >= 16:  # environments are few; drop all rather than grow
                _passed.clear()
            known = _passed[id(limits)] = (limits, set())
        if len(known[1]) < _MAX_PASSED:
            known[1].add(lengths)
    return reports
