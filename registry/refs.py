"""Which `$ref`s a registry schema may hold, and the Iglu schemas it names: one policy for lint, publish and validation.

Validation resolves `#/...` (same document), `iglu:vendor/name/format/M-R-A[#/...]` (through the
resolver) and the bundled draft-04 meta-schema, and nothing else: `http(s)://`, `file://` and relative
references are never fetched (registry.schema_compiler). A schema holding one could only fail every
event, so lint reports it as an ERROR and publishing refuses it, with this module's reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urldefrag, urlsplit

from core.errors import IgluParseError
from core.iglu import SchemaKey

__all__ = ["DRAFT4_META_URI", "iglu_refs", "ref_refusal", "schema_refs"]

DRAFT4_META_URI = "http://json-schema.org/draft-04/schema"

# Keywords whose value is a subschema, or an object / array of subschemas (draft-04).
_ONE = ("items", "additionalItems", "additionalProperties", "not")
_MANY = ("properties", "patternProperties", "definitions", "dependencies")
_LIST = ("items", "allOf", "anyOf", "oneOf")
_MAX_DEPTH = 256


def ref_refusal(ref: object) -> str | None:
    """Why the `$ref` value `ref` would never resolve, or None when validation resolves it."""
    if not isinstance(ref, str):
        return f"$ref must be a string, found {ref!r}"
    document, _fragment = urldefrag(ref)
    if document == "":
        return None
    if document.startswith("iglu:"):
        try:
            SchemaKey.parse(document)
        except IgluParseError as e:
            return f"$ref {ref!r} is not a valid Iglu URI: {e}"
        return None
    if document.rstrip("#") == DRAFT4_META_URI:
        return None
    scheme = urlsplit(document).scheme.lower()
    if scheme in ("http", "https", "file"):
        return (
            f"$ref {ref!r} is outside the registry and never fetched ({scheme}:// references are not resolved), "
            "so every event would fail; publish the target and refer to it as iglu:vendor/name/jsonschema/M-R-A"
        )
    return f"$ref {ref!r} is outside the registry; only iglu: and #/ references are resolved"


def schema_refs(schema: Any, pointer: str = "", _depth: int = 0) -> Iterator[tuple[str, Any]]:
    """(JSON pointer, `$ref` value) for every `$ref` at a schema position (not inside `enum` or `default` data)."""
    if not isinstance(schema, dict) or _depth > _MAX_DEPTH:
        return
    if "$ref" in schema:
        yield f"{pointer}/$ref", schema["$ref"]
    for keyword in _ONE:
        if isinstance(schema.get(keyword), dict):
            yield from schema_refs(schema[keyword], f"{pointer}/{keyword}", _depth + 1)
    for keyword in _MANY:
        group = schema.get(keyword)
        if isinstance(group, dict):
            for name, sub in group.items():
                escaped = str(name).replace("~", "~0").replace("/", "~1")
                yield from schema_refs(sub, f"{pointer}/{keyword}/{escaped}", _depth + 1)
    for keyword in _LIST:
        group = schema.get(keyword)
        if isinstance(group, list):
            for i, sub in enumerate(group):
                yield from schema_refs(sub, f"{pointer}/{keyword}/{i}", _depth + 1)


def iglu_refs(schema: Any) -> list[SchemaKey]:
    """The Iglu schemas `schema` refers to (`$ref`, or an `id` that rebases `#/...` references onto one), in order."""
    found: list[SchemaKey] = []
    for _pointer, ref in schema_refs(schema):
        key = _iglu_document(ref)
        if key is not None and key not in found:
            found.append(key)
    for key in _iglu_ids(schema, 0):
        if key not in found:
            found.append(key)
    return found


def _iglu_document(ref: Any) -> SchemaKey | None:
    if not isinstance(ref, str):
        return None
    document, _fragment = urldefrag(ref)
    if not document.startswith("iglu:"):
        return None
    try:
        return SchemaKey.parse(document)
    except IgluParseError:
        return None


def _iglu_ids(schema: Any, depth: int) -> Iterator[SchemaKey]:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return
    key = _iglu_document(schema.get("id"))
    if key is not None:
        yield key
    for value in schema.values():
        if isinstance(value, dict):
            yield from _iglu_ids(value, depth + 1)
        elif isinstance(value, list):
            for item in value:
                yield from _iglu_ids(item, depth + 1)
