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

Both validators match `pattern` and `patternProperties` through `registry.patterns` (RE2, or
`regex` with a timeout), never through `re`: a catastrophic pattern cannot stall validation. Every
keyword of the full validator also checks the event's time budget (`registry.patterns.check_budget`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urldefrag

import fastjsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema import Draft4Validator, FormatChecker
from jsonschema._utils import extras_msg
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.validators import extend

from core.errors import IgluParseError
from core.iglu import SchemaKey
from registry.flat_records import flat_record_check
from registry.json_formats import FORMAT_CHECKS
from registry.patterns import check_budget, matcher
from registry.refs import DRAFT4_META_URI, ref_refusal

__all__ = [
    "DRAFT4_META_URI",
    "CompiledSchema",
    "IgluDraft4Validator",
    "RefRefused",
    "SchemaIssue",
    "compile_schema",
    "validation_schema",
]

IGLU_METADATA = ("self", "$schema", "$supersedes", "$supersededBy")
_FASTJSONSCHEMA_DOLLAR = re.compile(r"(?<!\\)\$")  # how fastjsonschema finds the `$` it rewrites to `\Z`
_DRAFT4 = "http://json-schema.org/draft-04/schema#"


def _strings_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    """jsonschema calls format checks on every type; formats only constrain strings (as in fastjsonschema)."""
    return lambda value: not isinstance(value, str) or check(value)


FORMAT_CHECKER = FormatChecker(formats=())
for _name, _check in FORMAT_CHECKS.items():
    FORMAT_CHECKER.checkers[_name] = (_strings_only(_check), ())

SchemaLookup = Callable[[SchemaKey], dict[str, Any]]


def _decimal_multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """`multipleOf` on the decimal values as written (0.6 is a multiple of 0.1), as Iglu's BigDecimal check does.

    jsonschema divides binary floats (0.6 / 0.1 = 5.999…, so "not a multiple"); fastjsonschema uses
    Decimal(repr(x)) like this, and also rejects quotients that overflow a float to infinity.
    """
    if not validator.is_type(instance, "number"):
        return
    if isinstance(instance, int) and isinstance(divisor, int):
        failed = instance % divisor != 0
    else:
        try:
            quotient = Decimal(repr(instance)) / Decimal(repr(divisor))
            failed = int(quotient) != quotient
        except (InvalidOperation, OverflowError, ValueError):
            failed = True
        try:
            failed = failed or instance / divisor == float("inf")
        except OverflowError:
            pass  # an int beyond float range: the decimal answer stands (the fast path defers to this one)
    if failed:
        yield ValidationError(f"{instance!r} is not a multiple of {divisor}")


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """jsonschema's `pattern`, matched in bounded time (registry.patterns)."""
    if validator.is_type(instance, "string") and not matcher(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """jsonschema's `patternProperties`, matched in bounded time."""
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        found = matcher(pattern)
        for name, value in instance.items():
            if found.search(name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def additional_properties(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The names neither `properties` nor a `patternProperties` pattern covers, in instance order."""
    properties = schema.get("properties", {})
    patterns = [matcher(p) for p in schema.get("patternProperties", {})]
    return [name for name in instance if name not in properties and not any(found.search(name) for found in patterns)]


def _additional_properties(validator: Any, allowed: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """jsonschema's draft-04 `additionalProperties` (same messages), its patterns matched in bounded time."""
    if not validator.is_type(instance, "object"):
        return
    extras = set(additional_properties(instance, schema))
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {patterns}")
        else:
            names, verb = extras_msg(sorted(extras, key=str))
            yield ValidationError(f"Additional properties are not allowed ({names} {verb} unexpected)")


def _budgeted(keyword: Callable[..., Any]) -> Callable[..., Any]:
    """The keyword, first checking the event's validation budget (a full report must not run unbounded)."""

    def check(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        check_budget()
        return keyword(validator, value, instance, schema)

    return check


_KEYWORDS: dict[str, Callable[..., Any]] = {
    **Draft4Validator.VALIDATORS,
    "multipleOf": _decimal_multiple_of,
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}

# The full-report validator: draft-04 with the decimal `multipleOf`, bounded-time patterns and the budget.
IgluDraft4Validator = extend(  # type: ignore[no-untyped-call]  # untyped in types-jsonschema
    Draft4Validator, validators={name: _budgeted(keyword) for name, keyword in _KEYWORDS.items()}
)


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


def python_dollar(pattern: str) -> str:
    """Spell every unescaped `$` so fastjsonschema keeps Python's (and Java's) meaning of it.

    fastjsonschema rewrites each unescaped `$` of a `pattern` to `\\Z` (ECMA-262: end of input only),
    even inside `[...]`; jsonschema and Iglu's Java validator let `$` also match before a final
    newline. We keep the Iglu meaning: `$` outside a class becomes `(?=\\n?\\Z)`, `$` inside one `\\$`.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if char == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            out.append("\\$" if char == "$" else char)
        elif char == "[":
            in_class = True
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
                continue
            out.append("[")
        else:
            out.append("(?=\\n?\\Z)" if char == "$" else char)
        i += 1
    return "".join(out)


def _fast_definition(schema: Any) -> Any:
    """A copy of `schema` with `python_dollar` applied to every `pattern` keyword at a schema position."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if isinstance(out.get("pattern"), str):
        out["pattern"] = python_dollar(out["pattern"])
    for keyword in ("properties", "patternProperties", "definitions", "dependencies"):
        if isinstance(out.get(keyword), dict):
            out[keyword] = {name: _fast_definition(sub) for name, sub in out[keyword].items()}
    for keyword in ("items", "additionalItems", "additionalProperties", "not"):
        if isinstance(out.get(keyword), dict):
            out[keyword] = _fast_definition(out[keyword])
    for keyword in ("items", "allOf", "anyOf", "oneOf"):
        if isinstance(out.get(keyword), list):
            out[keyword] = [_fast_definition(sub) for sub in out[keyword]]
    return out


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
    raise RefRefused(ref_refusal(uri) or f"$ref {uri!r} is outside the registry")


class _AllSchemes(Mapping[str, Callable[[str], Any]]):
    """fastjsonschema handler table that answers for every scheme, so urlopen is never reached."""

    def __init__(self, lookup: SchemaLookup) -> None:
        self._handler = lambda uri: _fast_definition(_referenced_schema(uri, lookup))

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
    full: Any  # an IgluDraft4Validator (a jsonschema Draft4Validator with decimal multipleOf)
    fallback: str | None = None  # why `fast` is the reference validator (fastjsonschema refused the schema)


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
    full = IgluDraft4Validator(definition, registry=_registry(lookup), format_checker=FORMAT_CHECKER)
    flat = flat_record_check(definition)
    if flat is not None:  # payload_data and other flat string records: set operations beat generated code
        return CompiledSchema(flat, full)
    try:
        fast = fastjsonschema.compile(
            _fast_definition(definition), handlers=_AllSchemes(lookup), formats=FORMAT_CHECKS, use_default=False
        )
    except RefRefused as e:
        raise SchemaIssue("$", str(e)) from e
    except (fastjsonschema.JsonSchemaDefinitionException, ValueError, TypeError, KeyError, IndexError) as e:
        # A valid draft-04 schema fastjsonschema will not compile (e.g. `required` names that
        # `additionalProperties: false` forbids): validate with the reference validator instead.
        return CompiledSchema(_reference_checker(full), full, f"{type(e).__name__}: {e}")
    _bounded_patterns(fast)
    return CompiledSchema(fast, full)


def _bounded_patterns(fast: Callable[[Any], Any]) -> None:
    """Swap the `re` objects fastjsonschema's code matches `pattern`/`patternProperties` with for our matchers.

    The generated code looks them up in its `REGEX_PATTERNS` global, keyed by the pattern text and
    called as `.search(text)` for truth. Its format regexes share that table under other keys
    (`<format>_re_pattern`, a different text) and are left alone.
    """
    function = getattr(fast, "func", fast)  # compile() wraps the function in a partial when given formats
    table = function.__globals__.get("REGEX_PATTERNS", {})
    for text, compiled in list(table.items()):
        if isinstance(compiled, re.Pattern) and compiled.pattern in (text, _FASTJSONSCHEMA_DOLLAR.sub(r"\\Z", text)):
            table[text] = matcher(text)


def _reference_checker(full: Any) -> Callable[[Any], Any]:
    """A fast-path stand-in that asks the full validator and raises like fastjsonschema code does."""

    def check(data: Any) -> Any:
        error = next(iter(full.iter_errors(data)), None)
        if error is not None:
            raise fastjsonschema.JsonSchemaValueException(error.message, rule=str(error.validator))
        return data

    return check
