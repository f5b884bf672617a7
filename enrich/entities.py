"""The event's self-describing entities: parse and validate `ue_pr/ue_px` and `co/cx` through the registry.

Per field (snowplow.md §1.5): decode (base64 for ue_px/cx) → JSON (depth-bounded) → self-describing
→ wrapper criterion → wrapper validated → each inner entity validated against its own schema.
Invalid contexts are dropped and reported, valid ones kept. An entity validated with a superseding
schema is rewritten to that schema and leaves a validation_info derived context behind.
Registry outages propagate as core.errors.RegistryUnavailable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

import orjson

from core.badrows import (
    CriterionMismatchMessage,
    IgluErrorMessage,
    NotIgluMessage,
    NotJsonMessage,
    SchemaViolationMessage,
)
from core.base64url import decode_base64_text
from core.errors import IgluParseError
from core.iglu import SchemaCriterion, SchemaKey, SelfDescribing, parse_self_describing
from registry.validator import SchemaValidator

__all__ = [
    "CONTEXTS_CRITERION",
    "CONTEXTS_OUTPUT",
    "UNSTRUCT_CRITERION",
    "UNSTRUCT_OUTPUT",
    "VALIDATION_INFO",
    "Entities",
    "JsonTextError",
    "contexts_column",
    "declared_uri",
    "dumps_json",
    "extract_entities",
    "loads_json",
    "message_json",
    "parse_entity",
    "unstruct_column",
    "validate_entity",
]

UNSTRUCT_CRITERION = SchemaCriterion.parse("iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-*")
CONTEXTS_CRITERION = SchemaCriterion.parse("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-*")
UNSTRUCT_OUTPUT: Final = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CONTEXTS_OUTPUT: Final = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
VALIDATION_INFO: Final = "iglu:com.snowplowanalytics.iglu/validation_info/jsonschema/1-0-0"

# The wrappers' `schema` pattern, applied with ECMA-262 `^...$` semantics (fullmatch: no newline before `$`).
_WRAPPED_SCHEMA = re.compile(r"iglu:[a-zA-Z0-9\-_.]+/[a-zA-Z0-9\-_]+/[a-zA-Z0-9\-_]+/[0-9]+-[0-9]+-[0-9]+")
_SDJ_KEYS: Final = frozenset(("schema", "data"))
_CACHED_URI_LENGTH: Final = 512  # caches keyed by URIs stay small even when a sender makes them long


class JsonTextError(ValueError):
    """Text that is not JSON, or nests deeper than allowed."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_HUGE = float(2**63)  # orjson reads integers outside the 64-bit range as floats at least this large


_WALKED: Final = frozenset((dict, list, float))  # the child types _scan must look at; other leaves are skipped in C


def _scan(value: Any, max_depth: int) -> tuple[bool, bool]:
    """(nests deeper than max_depth, holds a float that may be an overflowed integer), in one iterative walk."""
    huge = False
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        children = node.values() if type(node) is dict else node
        if _WALKED.isdisjoint(map(type, children)):  # only strings, ints, booleans, nulls here
            continue
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                if depth >= max_depth:
                    return True, huge
                push((child, depth + 1))
            elif kind is float and (child >= _HUGE or child <= -_HUGE):
                huge = True
    return False, huge


def loads_json(text: str, max_depth: int) -> Any:
    """Parse JSON with orjson, bounded in depth; integers beyond 64 bits keep every digit (stdlib re-parse)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise JsonTextError(f"invalid json: {e}") from None
    if isinstance(value, (dict, list)):
        too_deep, huge = _scan(value, max_depth)
        if too_deep:
            raise JsonTextError(f"invalid json: maximum allowed JSON depth of {max_depth} exceeded")
        if huge:
            value = json.loads(text, parse_constant=_no_constants)
    elif isinstance(value, float) and (value >= _HUGE or value <= -_HUGE):
        value = json.loads(text, parse_constant=_no_constants)
    return value


def dumps_json(value: Any) -> str:
    """Compact JSON text (circe noSpaces-like), exact for integers beyond 64 bits."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def message_json(value: Any) -> Any:
    """A parsed value as a failure message can carry it: integers beyond 64 bits become floats, as orjson reads."""
    try:
        orjson.dumps(value)
    except TypeError:
        return orjson.loads(dumps_json(value))
    return value


@lru_cache(maxsize=4096)
def _schema_key(uri: str) -> SchemaKey:
    """Parse an entity's schema URI once per process (events repeat the same few); failures are not cached."""
    return parse_self_describing({"schema": uri, "data": None}).schema


def parse_entity(value: Any) -> SelfDescribing:
    """core.iglu.parse_self_describing with the URI parse cached; raises IgluParseError the same way."""
    if isinstance(value, dict) and "data" in value:
        schema = value.get("schema")
        if isinstance(schema, str) and len(schema) <= _CACHED_URI_LENGTH:
            return SelfDescribing(_schema_key(schema), value["data"])
    return parse_self_describing(value)


def _is_entity(value: Any) -> bool:
    """The wrappers' item schema: exactly {schema, data}, schema a string matching the Iglu URI pattern."""
    return (
        isinstance(value, dict)
        and value.keys() == _SDJ_KEYS
        and isinstance(value["schema"], str)
        and (
            _wrapped_schema_ok(value["schema"])
            if len(value["schema"]) <= _CACHED_URI_LENGTH
            else _WRAPPED_SCHEMA.fullmatch(value["schema"]) is not None
        )
    )


@lru_cache(maxsize=4096)
def _wrapped_schema_ok(uri: str) -> bool:
    return _WRAPPED_SCHEMA.fullmatch(uri) is not None


def _contexts_ok(data: Any, min_items: int) -> bool:
    return isinstance(data, list) and len(data) >= min_items and all(_is_entity(item) for item in data)


# In-code equivalents of the standard wrapper schemas (snowplow.md §1.5): a payload they accept is valid,
# so the registry is only asked when one rejects it (for the exact report) or for any other wrapper version.
_WRAPPER_CHECKS: dict[SchemaKey, Callable[[Any], bool]] = {
    SchemaKey.parse("iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"): _is_entity,
    SchemaKey.parse("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"): lambda d: _contexts_ok(d, 1),
    SchemaKey.parse("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"): lambda d: _contexts_ok(d, 0),
}


class Entities:
    """What the event's entity parameters yielded (two or three are made per event: a plain class is the cheapest)."""

    __slots__ = ("contexts", "derived", "errors", "unstruct", "unstruct_key")

    def __init__(self) -> None:
        self.unstruct: dict[str, Any] | None = None  # the inner SDJ, schema possibly rewritten to the superseding key
        self.unstruct_key: SchemaKey | None = None
        self.contexts: list[dict[str, Any]] = []
        self.derived: list[dict[str, Any]] = []  # validation_info entries
        self.errors: list[SchemaViolationMessage] = []


def validate_entity(
    sdj: SelfDescribing, validator: SchemaValidator, entities: Entities, uri: str | None = None
) -> tuple[SchemaKey, dict[str, Any]] | None:
    """Validate one entity; the (possibly superseding) key and its output JSON, or None after reporting why.

    `uri` is the schema string the entity was parsed from, if known: only canonical URIs parse, so it
    equals `sdj.schema.uri` and saves rebuilding that text.
    """
    result = validator.validate(sdj.schema, sdj.data)
    if not result.ok:
        assert result.error is not None
        entities.errors.append(IgluErrorMessage(sdj.schema, result.error))
        return None
    if result.superseded:
        entities.derived.append(
            {
                "schema": VALIDATION_INFO,
                "data": {"originalSchema": result.original.uri, "validatedWith": str(result.key.version)},
            }
        )
        uri = None
    return result.key, {"schema": result.key.uri if uri is None else uri, "data": sdj.data}


def declared_uri(value: Any) -> str | None:
    """The `schema` string of an entity that parsed (so a canonical Iglu URI)."""
    schema = value.get("schema") if type(value) is dict else None
    return schema if type(schema) is str else None


def _wrapper(
    param: str,
    raw: str,
    criterion: SchemaCriterion,
    *,
    validator: SchemaValidator,
    max_depth: int,
    entities: Entities,
) -> SelfDescribing | None:
    """Decode, parse and validate the wrapper SDJ (unstruct_event or contexts); None after reporting why."""
    text = decode_base64_text(raw) if param in ("ue_px", "cx") else raw
    try:
        doc = loads_json(text, max_depth)
    except JsonTextError as bad_json:
        entities.errors.append(NotJsonMessage(param, text, str(bad_json)))
        return None
    try:
        wrapper = parse_entity(doc)
    except IgluParseError as e:
        entities.errors.append(NotIgluMessage.from_parse_error(message_json(doc), e))
        return None
    if not criterion.matches(wrapper.schema):
        entities.errors.append(CriterionMismatchMessage(wrapper.schema, criterion))
        return None
    check = _WRAPPER_CHECKS.get(wrapper.schema)
    if check is not None and check(wrapper.data):
        return wrapper
    result = validator.validate(wrapper.schema, wrapper.data)
    if not result.ok:
        assert result.error is not None
        entities.errors.append(IgluErrorMessage(wrapper.schema, result.error))
        return None
    return wrapper


def _inner(value: Any, entities: Entities) -> SelfDescribing | None:
    try:
        return parse_entity(value)
    except IgluParseError as e:
        entities.errors.append(NotIgluMessage.from_parse_error(message_json(value), e))
        return None


def extract_entities(
    unstruct: tuple[str, str] | None,
    contexts: tuple[str, str] | None,
    validator: SchemaValidator,
    max_depth: int,
) -> Entities:
    """Parse and validate the unstruct event and the contexts (each given as (parameter, raw value))."""
    entities = Entities()
    if unstruct is not None:
        wrapper = _wrapper(
            unstruct[0], unstruct[1], UNSTRUCT_CRITERION, validator=validator, max_depth=max_depth, entities=entities
        )
        inner = None if wrapper is None else _inner(wrapper.data, entities)
        if wrapper is not None and inner is not None:
            validated = validate_entity(inner, validator, entities, declared_uri(wrapper.data))
            if validated is not None:
                entities.unstruct_key, entities.unstruct = validated
    if contexts is not None:
        wrapper = _wrapper(
            contexts[0], contexts[1], CONTEXTS_CRITERION, validator=validator, max_depth=max_depth, entities=entities
        )
        if wrapper is not None and isinstance(wrapper.data, list):
            for item in wrapper.data:
                inner = _inner(item, entities)
                if inner is not None:
                    validated = validate_entity(inner, validator, entities, declared_uri(item))
                    if validated is not None:
                        entities.contexts.append(validated[1])
    return entities


def unstruct_column(inner: dict[str, Any] | None) -> str | None:
    """The unstruct_event column: the inner SDJ in an unstruct_event/1-0-0 wrapper."""
    return None if inner is None else dumps_json({"schema": UNSTRUCT_OUTPUT, "data": inner})


def contexts_column(items: list[dict[str, Any]]) -> str | None:
    """A contexts / derived_contexts column: contexts/1-0-1 wrapper; no entities → empty column."""
    return dumps_json({"schema": CONTEXTS_OUTPUT, "data": items}) if items else None
