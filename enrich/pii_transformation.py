"""What the PII enrichment asks the pipeline to emit (`emitEvent`): what it changed, as a pii_transformation request.

The enrichment fills these in; `enrich.pii_event` builds and validates the pii event from them. They
live apart from that builder so the enrichment contract (`enrich.enrichments.base`) can name the
request without depending on the pipeline's `Environment`.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from enrich.enrichments.proofs import Shape
from enrich.entities import CONTEXTS_OUTPUT, UNSTRUCT_OUTPUT, contexts_column, dumps_json, unstruct_column

__all__ = ["PARENT_EVENT", "PII_TRANSFORMATION", "PiiChanges", "PiiTransformation", "is_canonical_uuid"]

PII_TRANSFORMATION: Final = "iglu:com.snowplowanalytics.snowplow/pii_transformation/jsonschema/1-0-0"
PARENT_EVENT: Final = "iglu:com.snowplowanalytics.snowplow/parent_event/jsonschema/1-0-0"
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
