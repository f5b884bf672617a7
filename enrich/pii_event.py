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

import orjson

from core.badrows import (
    EnrichmentPayload,
    IgluErrorMessage,
    RawEvent,
    SchemaViolationMessage,
    SchemaViolations,
)
from core.raw import CollectorPayload
from enrich.atomic import FIELD_NAMES, LengthLimits
from enrich.derive import ATOMIC_SCHEMA, length_reports
from enrich.enrichments.proofs import Shape, checked_entity, proven, validator_generation
from enrich.entities import CONTEXTS_OUTPUT, UNSTRUCT_OUTPUT, Entities, contexts_column, dumps_json, unstruct_column
from enrich.environment import Environment, SchemaValidator
from enrich.event import EnrichedEvent

__all__ = [
    "LIMITED_FIELDS",
    "PARENT_EVENT",
    "PII_COLUMNS",
    "PII_EVENT_TYPE",
    "PII_FIELDS",
    "PII_PLATFORM",
    "PII_TRANSFORMATION",
    "PiiChanges",
    "PiiEvent",
    "PiiTransformation",
    "is_canonical_uuid",
    "pii_event",
]

PII_EVENT_TYPE: Final = "pii_transformation"
PII_TRANSFORMATION: Final = "iglu:com.snowplowanalytics.snowplow/pii_transformation/jsonschema/1-0-0"
PARENT_EVENT: Final = "iglu:com.snowplowanalytics.snowplow/parent_event/jsonschema/1-0-0"
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
# The contexts column of a pii event, around its parent id when that needs no JSON escaping.
_PARENT_CONTEXTS_HEAD: Final = (
    '{"schema":"' + CONTEXTS_OUTPUT + '","data":[{"schema":"' + PARENT_EVENT + '","data":{"parentEventId":"'
)
_PARENT_CONTEXTS_TAIL: Final = '"}}]}'
# The unstruct_event column of a pii_transformation entity, up to its `pii` block.
_UNSTRUCT_HEAD: Final = (
    '{"schema":"' + UNSTRUCT_OUTPUT + '","data":{"schema":"' + PII_TRANSFORMATION + '","data":{"pii":'
)


def is_canonical_uuid(text: str) -> bool:
    """8-4-4-4-12 hex digits: exactly what the validator's `uuid` format (registry.json_formats.is_uuid) accepts,
    checked without a regular expression."""
    if len(text) != 36 or text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
        return False
    try:  # 32 characters make 16 bytes only if every one is a hex digit (fromhex skips whitespace, refuses the rest)
        return len(bytes.fromhex(text.replace("-", ""))) == 16
    except ValueError:
        return False


# id(limits) -> (those limits, kept alive so the id stays theirs; the field lengths that passed them)
_passed: dict[int, tuple[LengthLimits, set[tuple[Any, ...]]]] = {}


def _plain(texts: list[str]) -> bool:
    """Whether JSON writes each of `texts` between its quotes as it is: ASCII with no quote, backslash or control
    character. Checked in one pass in C: serialised together, such texts gain only their quotes, commas and
    brackets (an escape, or a character of more than one UTF-8 byte, would add to the length)."""
    if not texts:
        return True
    size = 3 * len(texts) + 1
    for text in texts:
        size += len(text)
    try:
        return len(orjson.dumps(texts)) == size
    except TypeError:  # a lone surrogate: not text JSON can hold as it is either
        return False


class PiiChanges:
    """What pseudonymising one event changed, in order: the `pii` block of its pii_transformation event.

    Kept as tuples rather than the block's nested objects: the block is built (`block()`) only when the
    entity has to be validated or shown, and once its shape is proven the entity's JSON text is written from
    its values (`values()`) and the text around them, which depends on the shape alone (`template()`), exactly
    as serialising the block would write it.
    """

    __slots__ = ("fields", "paths")

    def __init__(self) -> None:
        self.fields: list[tuple[str, str, str]] = []  # atomic fields: (fieldName, originalValue, modifiedValue)
        # JSON paths: (fieldName, jsonPath, originalValue, modifiedValue, schema of the entity)
        self.paths: list[tuple[str, str, str, str, str]] = []

    def __bool__(self) -> bool:
        return bool(self.fields) or bool(self.paths)

    def block(self) -> dict[str, Any]:
        """`{"pojo": [...], "json": [...]}` as pii_transformation/1-0-0 has it (an empty list is left out)."""
        block: dict[str, Any] = {}
        if self.fields:
            block["pojo"] = [
                {"fieldName": name, "originalValue": original, "modifiedValue": hashed}
                for name, original, hashed in self.fields
            ]
        if self.paths:
            block["json"] = [
                {
                    "fieldMapping": {
                        "fieldName": field,
                        "jsonPath": path,
                        "originalValue": original,
                        "modifiedValue": hashed,
                        "schema": schema,
                    }
                }
                for field, path, original, hashed, schema in self.paths
            ]
        return block

    def values(self) -> list[str]:
        """The strings that vary between events of one shape: each original value and its hash, in order."""
        values: list[str] = []
        for _, original, hashed in self.fields:
            values.append(original)
            values.append(hashed)
        for _, _, original, hashed, _ in self.paths:
            values.append(original)
            values.append(hashed)
        return values

    def template(self, strategy_json: str) -> list[str]:
        """The unstruct_event text of the entity (with this strategy) around `values()`: it is template[0] +
        values[0] + template[1] + ... + template[-1], provided the values need no escaping. It depends only on
        the shape (names, paths, schemas) and the strategy."""
        template: list[str] = []
        pending = _UNSTRUCT_HEAD + "{"
        if self.fields:
            pending += '"pojo":['
            for i, (name, _, _) in enumerate(self.fields):
                pending += "," if i else ""
                template.append(pending + '{"fieldName":' + dumps_json(name) + ',"originalValue":"')
                template.append('","modifiedValue":"')
                pending = '"}'
            pending += "]"
        if self.paths:
            pending += ',"json":[' if self.fields else '"json":['
            for i, (field, path, _, _, schema) in enumerate(self.paths):
                pending += "," if i else ""
                template.append(pending + '{"fieldMapping":{"fieldName":' + dumps_json(field) + ',"jsonPath":'
                                + dumps_json(path) + ',"originalValue":"')  # fmt: skip
                template.append('","modifiedValue":"')
                pending = '","schema":' + dumps_json(schema) + "}}"
            pending += "]"
        template.append(pending + '},"strategy":' + strategy_json + "}}}")
        return template

    def shape_name(self) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]:
        """Everything the entity's verdict can depend on: field names, paths and schemas, in order (the originals
        are constrained by type alone, the hashes by a length no hash offered reaches)."""
        return tuple([f[0] for f in self.fields]), tuple([(p[0], p[1], p[4]) for p in self.paths])


class PiiTransformation:
    """What emitEvent asks for: the pii_transformation entity, its parent_event context, and their shapes.

    The PII enrichment gives the parts (what it changed, the public strategy, the parent's id): the
    entities are built from them only when needed (validation, a bad row), and with proven shapes the
    columns are written from the parts. `of_entities` asks for given entities instead. An entity without a
    shape is validated every time.
    """

    __slots__ = ("_event", "_parent", "changes", "parent_event_id", "parent_is_uuid", "parent_shape", "shape",
                 "strategy", "strategy_json")  # fmt: skip

    def __init__(
        self,
        changes: PiiChanges | None,
        strategy: dict[str, Any],
        parent_event_id: str,
        shape: Shape | None = None,
        parent_shape: Shape | None = None,
        *,
        strategy_json: str | None = None,
        parent_is_uuid: bool = False,
    ) -> None:
        self.changes = changes  # None for of_entities
        self.strategy = strategy  # {"pseudonymize": {"hashFunction": ...}}: never the salt
        self.strategy_json = strategy_json  # dumps_json(strategy), when the caller has it
        self.parent_event_id = parent_event_id
        self.parent_is_uuid = parent_is_uuid  # known to be a canonical UUID (so JSON writes it as it is)
        self.shape = shape
        self.parent_shape = parent_shape
        self._event: dict[str, Any] | None = None
        self._parent: dict[str, Any] | None = None

    @classmethod
    def of_entities(
        cls,
        event: dict[str, Any],
        parent: dict[str, Any],
        shape: Shape | None = None,
        parent_shape: Shape | None = None,
    ) -> PiiTransformation:
        """A request for exactly these entities (any unstruct entity, any parent context)."""
        request = cls(None, {}, "", shape, parent_shape)
        request._event, request._parent = event, parent
        return request

    @property
    def event(self) -> dict[str, Any]:
        """`{"schema": pii_transformation, "data": {"pii": ..., "strategy": ...}}`."""
        if self._event is None:
            changes = self.changes
            block = changes.block() if changes is not None else {}
            self._event = {"schema": PII_TRANSFORMATION, "data": {"pii": block, "strategy": self.strategy}}
        return self._event

    @property
    def parent(self) -> dict[str, Any]:
        """`{"schema": parent_event, "data": {"parentEventId": ...}}`."""
        if self._parent is None:
            self._parent = {"schema": PARENT_EVENT, "data": {"parentEventId": self.parent_event_id}}
        return self._parent

    def unstruct_text(self) -> str | None:
        """unstruct_column(self.event): written from the parts when it can be (around their values, in the text
        its shape keeps), else serialised."""
        changes = self.changes
        if changes is not None:
            values = changes.values()
            if _plain(values):
                strategy = self.strategy_json
                if strategy is None:
                    strategy = dumps_json(self.strategy)
                shape = self.shape
                kept = shape.template if shape is not None else None
                if kept is not None and kept[0] == strategy:
                    template = kept[1]
                else:
                    template = changes.template(strategy)
                    if shape is not None:
                        shape.template = (strategy, template)
                parts = [template[0]]
                for i in range(len(values)):
                    parts.append(values[i])
                    parts.append(template[i + 1])
                return "".join(parts)
        return unstruct_column(self.event)

    def contexts_text(self) -> str | None:
        """contexts_column([self.parent]): written around the parent id when it can be, else serialised."""
        parent_id = self.parent_event_id
        if self.changes is not None and (self.parent_is_uuid or _plain([parent_id])):
            return _PARENT_CONTEXTS_HEAD + parent_id + _PARENT_CONTEXTS_TAIL
        return contexts_column([self.parent])


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
