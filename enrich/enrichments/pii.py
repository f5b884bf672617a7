"""PII pseudonymisation: salted hashes replace atomic fields and JSON-path values in unstruct/contexts.

pii_enrichment_config 1-0-0/2-0-0/2-0-1 (snowplow.md §3.5): `pii` lists `{"pojo": {"field"}}` atomic
fields and `{"json": {"field", "schemaCriterion", "jsonPath"}}` paths inside `unstruct_event`,
`contexts` or `derived_contexts` entities whose schema matches the criterion; `strategy.pseudonymize`
names the hash and the salt (2-0-x). Each value becomes the lower-case hex hash of value + salt. It
runs last, so it sees the output of every other enrichment. With `anonymousOnly` (2-0-1) it acts only
on requests carrying `SP-Anonymous`. With `emitEvent`, an event in which something was hashed asks
(through the EnrichmentContext) for a pii_transformation event listing each original → hashed value
and the hash function (never the salt), with a parent_event context naming the event; the pipeline
builds and validates it (enrich/pii_event.py) and the worker writes it to the lake's `pii/` stream.
Each request names its shape (everything but the original values) so that its schema verdict is
proven once per shape and configuration (`transformation`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Final

import orjson

from core.badrows import EnrichmentFailureMessage
from core.errors import ConfigError, IgluParseError
from core.iglu import SchemaCriterion, SchemaKey
from core.json_path import JsonPath, compile_path
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext
from enrich.enrichments.config import EnrichmentConfig
from enrich.enrichments.proofs import Shape, Shapes
from enrich.entities import dumps_json
from enrich.event import EnrichedEvent
from enrich.pii_transformation import PiiChanges, PiiTransformation, is_canonical_uuid

__all__ = ["MEMO_SIZE", "JsonField", "PiiPseudonymiser", "build", "hasher"]

MEMO_SIZE: Final = 8192  # hashed values remembered per configuration (see hasher)
_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def hasher(function: str, salt: str, memo_size: int = MEMO_SIZE) -> Callable[[str], str]:
    """value → hex(hash(value + salt)); MD2 is accepted by the schema but not offered by Python's hashlib.

    The same values come back event after event (a user's id and address over a session), so the last
    `memo_size` hashed values are remembered: a repeated one costs a dict look-up instead of a digest
    through OpenSSL (about 0.8 us). The memo starts over when full. It holds nothing an event in memory
    does not hold already, and never the salt on its own.
    """
    name = _HASHES.get(function)
    if name is None:
        raise ConfigError(f"pii hashFunction {function!r}: supported are {', '.join(_HASHES)}")
    salt_bytes = salt.encode("utf-8")
    constructor = getattr(hashlib, name)
    memo: dict[str, str] = {}

    def digest(value: str) -> str:
        hashed = memo.get(value)
        if hashed is None:
            hashed = constructor(value.encode("utf-8") + salt_bytes).hexdigest()
            if len(memo) >= memo_size:
                memo.clear()
            memo[value] = hashed
        return hashed

    return digest


@dataclass(frozen=True, slots=True)
class JsonField:
    """One `json` entry: which column, which entities, which path."""

    field: str  # contexts | derived_contexts | unstruct_event
    criterion: SchemaCriterion
    path: JsonPath
    verdicts: dict[str, bool] = dataclass_field(default_factory=dict, compare=False)  # schema URI -> criterion matches
    prefix: str = dataclass_field(init=False, compare=False)  # `iglu:vendor/name/`: in every matching entity's URI

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", f"iglu:{self.criterion.vendor}/{self.criterion.name}/")


class PiiPseudonymiser(BuiltInEnrichment):
    """Hashes the configured fields of one event in place."""

    __slots__ = (
        "_public_strategy",
        "_strategy_json",
        "_uuid_shape",
        "anonymous_only",
        "emit_event",
        "hash",
        "json_fields",
        "pojo_fields",
        "shapes",
        "strategy",
    )  # fmt: skip

    def __init__(
        self,
        identifier: str,
        config_schema: SchemaKey,
        pojo_fields: Sequence[str],
        json_fields: Sequence[JsonField],
        strategy: dict[str, Any],
        *,
        emit_event: bool = False,
        anonymous_only: bool = False,
    ) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self.pojo_fields = tuple(pojo_fields)
        self.json_fields = tuple(json_fields)
        self.strategy = strategy
        pseudonymize = strategy["pseudonymize"]
        self.hash = hasher(pseudonymize["hashFunction"], pseudonymize.get("salt", ""))
        self.emit_event = emit_event
        self.anonymous_only = anonymous_only
        self.shapes = Shapes()  # of pii_transformation entities
        self._uuid_shape = Shape("uuid", {})  # a parent_event naming a UUID
        # The salt stays secret: the event names the hash function only (as its schema requires). One dict is
        # shared by every event's entity, which is only validated and serialised, never changed.
        self._public_strategy = {"pseudonymize": {"hashFunction": pseudonymize["hashFunction"]}}
        self._strategy_json = dumps_json(self._public_strategy)

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        if self.anonymous_only and ctx.header("SP-Anonymous") is None:
            return None
        changes = self.pseudonymise(event, ctx, record=self.emit_event)
        parent_id = event.event_id
        if changes and parent_id is not None:  # Snowplow emits only when something was hashed
            # Still the very id the tracker sent (no enrichment replaced it): phase 1 proved it a canonical UUID.
            known = True if parent_id is ctx.tracker_event_id else None
            ctx.emit_pii_transformation(self.transformation(changes, parent_id, uuid=known))
        return None

    def pseudonymise(self, event: EnrichedEvent, ctx: EnrichmentContext, *, record: bool = True) -> PiiChanges:
        """Hash in place; with `record`, returns what changed (the pii block of a pii_transformation event), else
        nothing."""
        digest = self.hash
        changes = PiiChanges()
        fields = changes.fields
        for name in self.pojo_fields:
            value = getattr(event, name)
            if value and isinstance(value, str):
                hashed = digest(value)
                setattr(event, name, hashed)
                if record:
                    fields.append((name, value, hashed))
        paths = changes.paths if record else None
        for spec in self.json_fields:
            if spec.field == "derived_contexts":
                verdicts = spec.verdicts
                for i, sdj in enumerate(ctx.derived_contexts):
                    schema = sdj.get("schema")
                    verdict = verdicts.get(schema) if type(schema) is str else None
                    if verdict is None:
                        verdict = self._matches(schema, spec)
                    if verdict:  # paths replace strings by strings only
                        ctx.rewrite_derived_context(i, self._entity(sdj, spec, paths), strings_only=True)
                continue
            column = getattr(event, spec.field)
            if not column or spec.prefix not in column:
                continue  # no entity of the criterion's vendor/name can be in this column: skip parsing it
            document = orjson.loads(column)
            data = document.get("data")
            if spec.field == "unstruct_event" and isinstance(data, dict):
                document["data"] = self._entity(data, spec, paths) if self._matches(data.get("schema"), spec) else data
            elif spec.field == "contexts" and isinstance(data, list):
                document["data"] = [
                    self._entity(e, spec, paths) if isinstance(e, dict) and self._matches(e.get("schema"), spec) else e
                    for e in data
                ]
            setattr(event, spec.field, orjson.dumps(document).decode())
        return changes

    def _matches(self, schema: Any, spec: JsonField) -> bool:
        """Whether an entity's schema URI falls under the criterion (memoised per URI: they repeat)."""
        if not isinstance(schema, str):
            return False
        cache = spec.verdicts
        verdict = cache.get(schema)
        if verdict is None:
            try:
                verdict = spec.criterion.matches(SchemaKey.parse(schema))
            except IgluParseError:
                verdict = False
            if len(cache) < 1024:
                cache[schema] = verdict
        return verdict

    def _entity(
        self, sdj: dict[str, Any], spec: JsonField, paths: list[tuple[str, str, str, str, str]] | None
    ) -> dict[str, Any]:
        """A matching entity with the path's strings hashed (a new entity: the given one may be shared); each change
        recorded in `paths` when given."""
        data, changes = spec.path.replaced(sdj.get("data"), self.hash)
        if paths is not None:
            schema = sdj["schema"]
            for original, hashed in changes:
                paths.append((spec.field, spec.path.text, original, hashed, schema))
        return {**sdj, "data": data}

    def transformation(
        self, changes: PiiChanges, parent_event_id: str, *, uuid: bool | None = None
    ) -> PiiTransformation:
        """The pii_transformation event (unstruct SDJ) and its parent_event context, as emitEvent describes.

        Its shape is the field names, JSON paths and entity schemas, in order: the rest is this
        configuration's hash function and, per entry, the original string (which pii_transformation/1-0-0
        constrains by type alone) and its hash (hex of this configuration's fixed length, under the
        schema's maxLength), so two entities of one shape get one verdict. `uuid` says whether the parent id is
        known to be a canonical UUID (None: check it).
        """
        if uuid is None:
            uuid = is_canonical_uuid(parent_event_id)
        # parent_event/1-0-0 asks for a string of format uuid and nothing else: a UUID always passes.
        parent_shape = self._uuid_shape if uuid else None
        shape = self.shapes.of(changes.shape_name())
        return PiiTransformation(changes, self._public_strategy, parent_event_id, shape, parent_shape,
                                 strategy_json=self._strategy_json, parent_is_uuid=uuid)  # fmt: skip


def build(config: EnrichmentConfig) -> PiiPseudonymiser:
    """Precompile the field list, criteria and JSON paths."""
    params = config.parameters
    pojo: list[str] = []
    json_fields: list[JsonField] = []
    for entry in params.get("pii", ()):
        if "pojo" in entry:
            pojo.append(entry["pojo"]["field"])
        else:
            spec = entry["json"]
            try:
                criterion = SchemaCriterion.parse(spec["schemaCriterion"])
            except IgluParseError as e:
                raise ConfigError(f"{config.source or config.name}: schemaCriterion: {e}") from None
            json_fields.append(JsonField(spec["field"], criterion, compile_path(spec["jsonPath"])))
    strategy = params.get("strategy") or {}
    if "pseudonymize" not in strategy:
        raise ConfigError(f"{config.source or config.name}: strategy.pseudonymize is required")
    return PiiPseudonymiser(
        config.name,
        config.schema,
        pojo,
        json_fields,
        strategy,
        emit_event=config.data.get("emitEvent") is True,
        anonymous_only=config.data.get("anonymousOnly") is True,
    )
