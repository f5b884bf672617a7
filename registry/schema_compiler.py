"""Turn a resolved Iglu schema into its two validators: compiled fastjsonschema code and a jsonschema Draft4Validator.

Both get the same inputs: the schema without Iglu's metadata (`self`, `$schema`, `$supersedes`,
`$supersededBy`), draft-04 semantics, the formats of `registry.json_formats`, and the same `$ref`
policy:

* `#/...` (same document) — resolved locally;
* `iglu:vendor/name/format/M-R-A[#/...]` — looked up through the resolver (metadata stripped too);
* `http://json-schema.org/draft-04/schema#` — the draft-04 meta-schema bundled with jsonschema;
* anything else (http, https, file, relative names) — refused with `RefRefused`, never fetched.

fastjsonschema falls back to `urllib.request.urlopen` for any URI scheme it has no handler for,
so its handler table claims every scheme.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag

import fastjsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from core.errors import IgluParseError
from core.iglu import SchemaKey
from registry.json_formats import FORMAT_CHECKS

__all__ = [
    "DRAFT4_META_URI",
    "CompiledSchema",
    "RefRefused",
    "SchemaIssue",
    "compile_schema",
    "validation_schema",
]

IGLU_METADATA = ("self", "$schema", "$supersedes", "$supersededBy")
DRAFT4_META_URI = "http://json-schema.org/draft-04/schema"
_DRAFT4 = "http://json-schema.org/draft-04/schema#"


def _strings_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    """jsonschema calls format checks on every type; formats only constrain strings (as in fastjsonschema)."""
    return lambda value: not isinstance(value, str) or check(value)


FORMAT_CHECKER = FormatChecker(formats=())
for _name, _check in FORMAT_CHECKS.items():
    FORMAT_CHECKER.checkers[_name] = (_strings_only(_check), ())

SchemaLookup = Callable[[SchemaKey], dict[str, Any]]


class RefRefused(Exception):
    """A `$ref` outside the registry (or malformed): never fetched."""


class SchemaIssue(Exception):
    """The resolved schema cannot be used for validation (not draft-04, bad pattern, refused `$ref`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def validation_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema as validators see it: Iglu metadata removed, draft-04 declared."""
    stripped = {k: v for k, v in schema.items() if k not in IGLU_METADATA}
    stripped["$schema"] = _DRAFT4
    return stripped


def _referenced_schema(uri: str, lookup: SchemaLookup) -> dict[str, Any]:
    """The document a non-local `$ref` points at, under the policy in the module docstring."""
    document, _fragment = urldefrag(uri)
    if document.startswith("iglu:"):
        try:
            key = SchemaKey.parse(document)
        except IgluParseError as e:
            raise RefRefused(f"$ref {uri!r} is not a valid Iglu URI") from e
        return validation_schema(lookup(key))
    if document.rstrip("#") == DRAFT4_META_URI:
        meta: dict[str, Any] = dict(Draft4Validator.META_SCHEMA)
        return meta
    raise RefRefused(f"$ref {uri!r} is outside the registry; only iglu: and #/ references are resolved")


class _AllSchemes(Mapping[str, Callable[[str], Any]]):
    """fastjsonschema handler table that answers for every scheme, so urlopen is never reached."""

    def __init__(self, lookup: SchemaLookup) -> None:
        self._handler = lambda uri: _referenced_schema(uri, lookup)

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return self._handler

    def __contains__(self, scheme: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    """The validators for one schema version; `fast` raises JsonSchemaValueException on invalid data."""

    fast: Callable[[Any], Any]
    full: Draft4Validator


def _registry(lookup: SchemaLookup) -> referencing.Registry[Any]:
    def retrieve(uri: str) -> referencing.Resource[Any]:
        try:
            contents = _referenced_schema(uri, lookup)
        except RefRefused as e:
            raise referencing.exceptions.NoSuchResource(ref=uri) from e  # type: ignore[call-arg]  # attrs init
        return referencing.jsonschema.DRAFT4.create_resource(contents)

    return referencing.Registry(retrieve=retrieve)  # type: ignore[call-arg]  # attrs init, untyped in stubs


def compile_schema(schema: Mapping[str, Any], lookup: SchemaLookup) -> CompiledSchema:
    """Both validators for `schema`; SchemaIssue if unusable (SchemaNotFound, RegistryUnavailable pass through).

    The schema is first checked against the draft-04 meta-schema, so the full validator never
    meets a keyword value it cannot interpret.
    """
    definition = validation_schema(schema)
    try:
        Draft4Validator.check_schema(definition)
    except SchemaError as e:
        where = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
        raise SchemaIssue(where, f"not a valid draft-04 JSON Schema: {e.message}") from e
    try:
        fast = fastjsonschema.compile(
            definition, handlers=_AllSchemes(lookup), formats=FORMAT_CHECKS, use_default=False
        )
    except RefRefused as e:
        raise SchemaIssue("$", str(e)) from e
    except (fastjsonschema.JsonSchemaDefinitionException, ValueError, TypeError, KeyError, IndexError) as e:
        raise SchemaIssue("$", f"cannot compile: {type(e).__name__}: {e}") from e
    full = Draft4Validator(definition, registry=_registry(lookup), format_checker=FORMAT_CHECKER)
    return CompiledSchema(fast, full)
