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
few strings a pii event sets, so lengths that passed once are not checked again. A pii event is a
`PiiEvent` holding just the sixteen fields it can set; `enriched()` makes the full EnrichedEvent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from core.atomic import FIELD_NAMES, LengthLimits
from core.badrows import (
    EnrichmentPayload,
    IgluErrorMessage,
    RawEvent,
    SchemaViolationMessage,
    SchemaViolations,
)
from core.raw import CollectorPayload
from enrich.derive import ATOMIC_SCHEMA, length_reports
from enrich.enrichments.proofs import checked_entity, proven, validator_generation
from enrich.entities import Entities, contexts_column, unstruct_column
from enrich.environment import Environment
from enrich.event import EnrichedEvent
from enrich.pii_transformation import PARENT_EVENT, PII_TRANSFORMATION, PiiTransformation
from registry.validator import SchemaValidator

__all__ = [
    "LIMITED_FIELDS",
    "PII_COLUMNS",
    "PII_EVENT_TYPE",
    "PII_FIELDS",
    "PII_PLATFORM",
    "PiiEvent",
    "pii_event",
]

PII_EVENT_TYPE: Final = "pii_transformation"
PII_PLATFORM: Final = "srv"
# Every length-limited atomic field a pii event sets (the others stay unset; a test keeps this true).
LIMITED_FIELDS: Final = ("app_id", "platform", "event", "event_id", "v_etl", "event_vendor", "event_name",
                         "event_format", "event_version")  # fmt: skip
# Every field a pii event can set (a test keeps this true): the attributes of a PiiEvent, and the columns of
# the pii stream's Parquet files.
PII_FIELDS: Final = frozenset((*LIMITED_FIELDS, "etl_tstamp", "collector_tstamp", "derived_tstamp", "true_tstamp",
                        "unstruct_event", "contexts", "derived_contexts"))  # fmt: skip
PII_COLUMNS = tuple(name for name in FIELD_NAMES if name in PII_FIELDS)  # in Snowplow's column order
_MAX_PASSED: Final = 4096
# id(limits) -> (those limits, kept alive so the id stays theirs; the field lengths that passed them)
_passed: dict[int, tuple[LengthLimits, set[tuple[Any, ...]]]] = {}


class PiiEvent:
    """A pii_transformation event: the sixteen atomic fields it can set (PII_FIELDS, same names), nothing else.

    One is made per pseudonymised event, so it is not a 131-slot EnrichedEvent: the lake writer reads
    its columns by name exactly as it reads an EnrichedEvent's, and `enriched()` gives the full event
    (every other field None) for the TSV form, a bad row's payload and comparisons.
    """

    # the names of PII_COLUMNS (test_a_pii_event_has_exactly_the_pii_columns_and_reads_as_the_full_event holds it)
    __slots__ = (
        "app_id",
        "collector_tstamp",
        "contexts",
        "derived_contexts",
        "derived_tstamp",
        "etl_tstamp",
        "event",
        "event_format",
        "event_id",
        "event_name",
        "event_vendor",
        "event_version",
        "platform",
        "true_tstamp",
        "unstruct_event",
        "v_etl",
    )  # fmt: skip

    app_id: str | None
    platform: str
    etl_tstamp: int | None
    collector_tstamp: int | None
    event: str
    event_id: str
    v_etl: str | None
    contexts: str | None
    unstruct_event: str | None
    derived_contexts: str | None
    derived_tstamp: int
    event_vendor: str | None
    event_name: str | None
    event_format: str | None
    event_version: str | None
    true_tstamp: int

    def __init__(
        self,
        parent: EnrichedEvent,
        event_id: str,
        now: int,
        *,
        unstruct_event: str | None,
        contexts: str | None,
        schema: tuple[str, str, str, str] | None,
        derived_contexts: str | None = None,
    ) -> None:
        """The pii event of `parent` (whose app_id, v_etl, etl and collector times it repeats), made at `now`;
        `schema` is its unstruct event's (vendor, name, format, version)."""
        self.app_id = parent.app_id
        self.platform = PII_PLATFORM
        self.etl_tstamp = parent.etl_tstamp
        self.collector_tstamp = parent.collector_tstamp
        self.event = PII_EVENT_TYPE
        self.event_id = event_id
        self.v_etl = parent.v_etl
        self.contexts = contexts
        self.unstruct_event = unstruct_event
        self.derived_tstamp = now
        if schema is None:
            self.event_vendor = self.event_name = self.event_format = self.event_version = None
        else:
            self.event_vendor, self.event_name, self.event_format, self.event_version = schema
        self.derived_contexts = derived_contexts
        self.true_tstamp = now

    def enriched(self) -> EnrichedEvent:
        """The same event as a full EnrichedEvent."""
        return EnrichedEvent(**{name: getattr(self, name) for name in PII_COLUMNS})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PiiEvent):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in PII_COLUMNS)

    __hash__ = None  # type: ignore[assignment]  # compared by value, like EnrichedEvent

    def __repr__(self) -> str:
        return f"PiiEvent(event_id={self.event_id!r}, app_id={self.app_id!r})"


def pii_event(
    parent: EnrichedEvent,
    transformation: PiiTransformation,
    env: Environment,
    now: int,
    source: tuple[CollectorPayload, Mapping[str, str | None]],
) -> PiiEvent | SchemaViolations:
    """The pii event for `parent` from the enrichment's request; a bad row if invalid.

    `source` (the parent's collector payload and parameters) is only read for a bad row's raw event.
    """
    validator = env.validator
    checked = Entities()
    generation = validator_generation(validator)
    unstruct_event, schema = _unstruct(transformation, validator, checked, generation)
    contexts = _contexts(transformation, validator, checked, generation)
    event = PiiEvent(
        parent,
        env.new_event_id(),
        now,
        unstruct_event=unstruct_event,
        contexts=contexts,
        schema=schema,
        # validated with a superseding schema
        derived_contexts=contexts_column(checked.derived) if checked.derived else None,
    )

    messages: list[SchemaViolationMessage] = list(checked.errors)
    reports = _length_reports(event, env.length_limits)
    if reports:
        messages.insert(0, IgluErrorMessage(ATOMIC_SCHEMA, {"error": "ValidationError", "dataReports": reports}))
    if messages:
        payload, params = source
        raw = RawEvent.from_collector_payload(payload, tuple(params.items()))
        enriched = event.enriched().to_partial_json()
        return SchemaViolations(env.processor, now, tuple(messages), EnrichmentPayload(enriched, raw))
    return event


def _unstruct(
    transformation: PiiTransformation, validator: SchemaValidator, checked: Entities, generation: int | None
) -> tuple[str | None, tuple[str, str, str, str] | None]:
    """The unstruct_event column, and its entity's (vendor, name, format, version) when it passed (else None)."""
    if transformation.changes is not None:  # the entity is the parts' pii_transformation/1-0-0
        proof = proven(transformation.shape, validator, generation, PII_TRANSFORMATION)
        if proof is not None and proof.uri is proof.declared and not proof.derived:  # it passes as it is
            key = proof.key
            return transformation.unstruct_text(), (key.vendor, key.name, key.format, proof.uri.rpartition("/")[2])
    sdj = transformation.event
    unstruct = checked_entity(sdj, transformation.shape, validator, checked, generation)
    if unstruct is None:
        return unstruct_column(sdj), None
    key, entity = unstruct
    # The entity's schema is the canonical URI of `key`: its last segment is the version text.
    text = transformation.unstruct_text() if entity is sdj else unstruct_column(entity)
    return text, (key.vendor, key.name, key.format, entity["schema"].rpartition("/")[2])


def _contexts(
    transformation: PiiTransformation, validator: SchemaValidator, checked: Entities, generation: int | None
) -> str | None:
    """The contexts column holding the parent_event context (as checked, if it passed)."""
    if transformation.changes is not None:
        proof = proven(transformation.parent_shape, validator, generation, PARENT_EVENT)
        if proof is not None and proof.uri is proof.declared and not proof.derived:
            return transformation.contexts_text()
    sdj = transformation.parent
    context = checked_entity(sdj, transformation.parent_shape, validator, checked, generation)
    if context is not None and context[1] is sdj:
        return transformation.contexts_text()
    return contexts_column([sdj if context is None else context[1]])


def _length_reports(event: PiiEvent, limits: LengthLimits) -> list[dict[str, Any]]:
    """enrich.derive.length_reports, skipped for lengths that passed these limits before (the verdict depends on
    the UTF-16 length of each limited field: an ASCII string's is its length, other strings count as themselves)."""
    e, eid = event, event.event_id
    # LIMITED_FIELDS, in order; all but the new event id repeat from event to event, and only its length matters.
    lengths = (e.app_id, e.platform, e.event, len(eid) if eid.isascii() else eid, e.v_etl,
               e.event_vendor, e.event_name, e.event_format, e.event_version)  # fmt: skip
    known = _passed.get(id(limits))
    if known is not None and lengths in known[1]:
        return []
    reports = length_reports(event.enriched(), limits)
    if not reports:
        if known is None:
            if len(_passed) >= 16:  # environments are few; drop all rather than grow
                _passed.clear()
            known = _passed[id(limits)] = (limits, set())
        if len(known[1]) < _MAX_PASSED:
            known[1].add(lengths)
    return reports
