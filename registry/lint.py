"""Lint self-describing JSON Schemas the way igluctl does (same check names and levels), plus our own checks.

igluctl's checks (schema-ddl's Linter) keep their names and levels: WARNING/INFO checks can be
skipped, ERROR checks cannot. Ours add: `metaSchema` (valid against Iglu's self-desc meta-schema,
i.e. the `self` block plus draft-04), `selfPath` (file path equals `self`), `versionGaps` (a model
folder with 1-0-0 and 1-0-2 but no 1-0-1), `patternBacktracking` (ReDoS-prone `pattern`s) and
`refResolvable` (a `$ref` validation would never resolve: http(s)://, file://, relative; registry.refs).
ERROR findings block publishing and make `eventkit schema lint` exit 1. As in igluctl,
`stringMaxLengthRange` (a Redshift column limit) runs only when asked for (`--include-checks`; igluctl's
`static deploy` `includedChecks`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import Draft4Validator
from jsonschema.exceptions import SchemaError

from core.iglu import SchemaKey, SchemaVer
from registry.refs import ref_refusal, schema_refs
from registry.regex_safety import analyse_pattern
from registry.version_order import order_problem

__all__ = [
    "CHECKS",
    "SELF_DESC_URI",
    "Finding",
    "Level",
    "has_errors",
    "lint_schema",
    "lint_versions",
]

Level = Literal["ERROR", "WARNING", "INFO"]

SELF_DESC_URI = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"

# name -> (level, skippable)
CHECKS: dict[str, tuple[Level, bool]] = {
    "rootObject": ("WARNING", True),
    "unknownFormats": ("WARNING", True),
    "numericMinMax": ("WARNING", True),
    "stringLength": ("WARNING", True),
    "optionalNull": ("INFO", True),
    "description": ("INFO", True),
    "notJsonSchema": ("INFO", True),
    "stringMaxLengthRange": ("WARNING", True),
    "patternSyntax": ("WARNING", True),
    "numericMinimumMaximum": ("ERROR", False),
    "stringMinMaxLength": ("ERROR", False),
    "arrayMinMaxItems": ("ERROR", False),
    "numericProperties": ("ERROR", False),
    "stringProperties": ("ERROR", False),
    "arrayProperties": ("ERROR", False),
    "objectProperties": ("ERROR", False),
    "requiredPropertiesExist": ("ERROR", False),
    "schemaUri": ("ERROR", False),
    "selfDescribing": ("ERROR", False),
    "metaSchema": ("ERROR", False),
    "selfPath": ("ERROR", False),
    "versionGaps": ("ERROR", False),
    "patternBacktracking": ("ERROR", False),
    "refResolvable": ("ERROR", False),
}

# Checks igluctl runs only when included (its deploy config's `includedChecks`), not by default.
OPT_IN_CHECKS = frozenset({"stringMaxLengthRange"})

KNOWN_FORMATS = frozenset({"date-time", "date", "email", "hostname", "ipv4", "ipv6", "uri", "uuid"})
REDSHIFT_VARCHAR_MAX = 65535

_TYPE_KEYWORDS: dict[str, tuple[str, dict[str, tuple[type, ...]]]] = {
    "numericProperties": (
        "number",
        {"minimum": (int, float), "maximum": (int, float), "multipleOf": (int, float)},
    ),
    "stringProperties": ("string", {"minLength": (int,), "maxLength": (int,), "pattern": (str,), "format": (str,)}),
    "arrayProperties": ("array", {"minItems": (int,), "maxItems": (int,), "uniqueItems": (bool,)}),
    "objectProperties": (
        "object",
        {"properties": (dict,), "required": (list,), "patternProperties": (dict,), "minProperties": (int,)},
    ),
}

_SELF_VALIDATOR = Draft4Validator(
    {
        "type": "object",
        "required": ["self"],
        "properties": {
            "self": {
                "type": "object",
                "properties": {
                    "vendor": {"type": "string", "pattern": "^[a-zA-Z0-9-_.]+$"},
                    "name": {"type": "string", "pattern": "^[a-zA-Z0-9-_]+$"},
                    "format": {"type": "string", "pattern": "^[a-zA-Z0-9-_]+$"},
                    "version": {"type": "string", "pattern": "^[0-9]+-[0-9]+-[0-9]+$"},
                },
                "required": ["vendor", "name", "format", "version"],
                "additionalProperties": False,
            }
        },
    }
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One lint result: which check, how bad, where (JSON pointer) and why."""

    check: str
    level: Level
    pointer: str
    message: str

    def to_json(self) -> dict[str, str]:
        """Iglu Server's report item shape (`message`, `level`, `pointer`) plus the check name."""
        return {"message": self.message, "level": self.level, "pointer": self.pointer, "check": self.check}


def has_errors(findings: list[Finding]) -> bool:
    return any(f.level == "ERROR" for f in findings)


def schema_key_of(schema: Any) -> SchemaKey | None:
    """The key a schema's `self` block declares, or None when it declares none (or an invalid one)."""
    return _declared(schema)[0]


def _declared(schema: Any) -> tuple[SchemaKey | None, str]:
    """The key the `self` block declares, or None and why not."""
    if not isinstance(schema, dict) or not isinstance(schema.get("self"), dict):
        return None, "no self block"
    s = schema["self"]
    try:
        uri = f"iglu:{s.get('vendor')}/{s.get('name')}/{s.get('format')}/{s.get('version')}"
        return SchemaKey.parse(uri), ""
    except ValueError as e:
        return None, str(e)


def lint_schema(
    schema: Any,
    *,
    path_key: SchemaKey | None = None,
    skip: frozenset[str] = frozenset(),
    include: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Every finding for one schema document; `path_key` is the key its file path implies, if any.

    `include` turns on checks of OPT_IN_CHECKS; `skip` turns off skippable ones.
    """
    out: list[Finding] = []

    def add(check: str, pointer: str, message: str) -> None:
        if check in OPT_IN_CHECKS and check not in include:
            return
        if check not in skip or not CHECKS[check][1]:
            out.append(Finding(check, CHECKS[check][0], pointer, message))

    if not isinstance(schema, dict):
        add("selfDescribing", "/", "a schema must be a JSON object")
        return out
    declared = schema_key_of(schema)
    fmt = declared.format if declared is not None else path_key.format if path_key is not None else "jsonschema"
    if fmt != "jsonschema":
        # igluctl lints only jsonschema; other formats get the self/path checks alone, and only when they carry a
        # self block (Iglu Central's avro schemas are plain Avro records, their format known from the path).
        if declared is not None:
            for finding in _self_findings(schema, path_key):
                if finding.check in ("selfDescribing", "selfPath"):
                    out.append(finding)
        where = "/self/format" if declared is not None else "/"
        beyond = "beyond its self block" if declared is not None else "(only jsonschema is)"
        add("notJsonSchema", where, f"format {fmt!r} is not linted {beyond}")
        return out
    _lint_self_describing(schema, path_key, add)
    try:
        Draft4Validator.check_schema(_without_metadata(schema))
    except SchemaError as e:
        pointer = "/" + "/".join(str(p) for p in e.path)
        add("metaSchema", pointer, f"not a valid JSON Schema draft-04: {e.message}")
    if schema.get("type") != "object" or "properties" not in schema:
        add("rootObject", "/", "root of a schema should be an object with properties")
    if not isinstance(schema.get("description"), str):
        add("description", "/", "schema should have a description")
    for pointer, sub, required_by_parent in [("", schema, None), *_subschemas(schema)]:
        _lint_subschema(pointer, sub, required_by_parent, add)
    for pointer, ref in schema_refs(schema):
        refusal = ref_refusal(ref)
        if refusal is not None:
            add("refResolvable", pointer, refusal)
    return out


def _self_findings(schema: dict[str, Any], path_key: SchemaKey | None) -> list[Finding]:
    found: list[Finding] = []

    def add(check: str, pointer: str, message: str) -> None:
        found.append(Finding(check, CHECKS[check][0], pointer, message))

    _lint_self_describing(schema, path_key, add)
    return found


def _lint_self_describing(schema: dict[str, Any], path_key: SchemaKey | None, add: Any) -> None:
    if schema.get("$schema") != SELF_DESC_URI:
        add("schemaUri", "/$schema", f"$schema must be {SELF_DESC_URI!r}, found {schema.get('$schema')!r}")
    errors = sorted(_SELF_VALIDATOR.iter_errors(schema), key=lambda e: list(e.path))
    for e in errors:
        add("selfDescribing", "/" + "/".join(str(p) for p in e.path), f"invalid self block: {e.message}")
    key, why = _declared(schema)
    if not errors and key is None:
        add("selfDescribing", "/self", f"invalid self block: {why}")
    if path_key is not None and key is not None and key != path_key:
        add("selfPath", "/self", f"self declares {key.path} but the file path is {path_key.path}")


def _without_metadata(schema: dict[str, Any]) -> dict[str, Any]:
    # `self`, `$supersedes` and `$supersededBy` are Iglu metadata; draft-04 ignores unknown root keys anyway,
    # and `$schema` names the Iglu meta-schema, which draft-04's own meta-schema accepts as a URI string.
    return {k: v for k, v in schema.items() if k not in ("$supersedes", "$supersededBy")}


def _types(sub: dict[str, Any]) -> set[str]:
    t = sub.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def _subschemas(schema: dict[str, Any], pointer: str = "") -> Iterator[tuple[str, dict[str, Any], bool | None]]:
    """(pointer, subschema, is-required-by-its-parent-object or None) for every nested subschema."""
    props = schema.get("properties")
    raw_required = schema.get("required")
    required: list[Any] = raw_required if isinstance(raw_required, list) else []
    if isinstance(props, dict):
        for name, sub in props.items():
            if isinstance(sub, dict):
                p = f"{pointer}/properties/{_escape(name)}"
                yield p, sub, name in required
                yield from _subschemas(sub, p)
    for keyword in ("patternProperties", "definitions"):
        group = schema.get(keyword)
        if isinstance(group, dict):
            for name, sub in group.items():
                if isinstance(sub, dict):
                    p = f"{pointer}/{keyword}/{_escape(name)}"
                    yield p, sub, None
                    yield from _subschemas(sub, p)
    for keyword in ("additionalProperties", "items", "additionalItems", "not"):
        sub = schema.get(keyword)
        if isinstance(sub, dict):
            yield f"{pointer}/{keyword}", sub, None
            yield from _subschemas(sub, f"{pointer}/{keyword}")
    for keyword in ("items", "allOf", "anyOf", "oneOf"):
        group = schema.get(keyword)
        if isinstance(group, list):
            for i, sub in enumerate(group):
                if isinstance(sub, dict):
                    p = f"{pointer}/{keyword}/{i}"
                    yield p, sub, None
                    yield from _subschemas(sub, p)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _lint_subschema(pointer: str, sub: dict[str, Any], required: bool | None, add: Any) -> None:
    types = _types(sub)
    for check, (type_name, keywords) in _TYPE_KEYWORDS.items():
        for keyword, accepted in keywords.items():
            if keyword in sub and not _has_type(sub[keyword], accepted):
                add(check, f"{pointer}/{keyword}", f"{keyword} must be a {type_name} keyword value of the right type")
    _lint_bounds(pointer, sub, add)
    fmt = sub.get("format")
    if isinstance(fmt, str) and fmt not in KNOWN_FORMATS:
        add("unknownFormats", f"{pointer}/format", f"unknown format {fmt!r}")
    if types & {"number", "integer"} and "enum" not in sub and ("minimum" not in sub or "maximum" not in sub):
        add("numericMinMax", pointer, "numeric property should have both minimum and maximum")
    if (
        "string" in types
        and "maxLength" not in sub
        and "enum" not in sub
        and not (isinstance(fmt, str) and fmt in KNOWN_FORMATS)
    ):
        add("stringLength", pointer, "string property should have maxLength (or a bounding format or enum)")
    max_length = sub.get("maxLength")
    if isinstance(max_length, int) and max_length > REDSHIFT_VARCHAR_MAX:
        add("stringMaxLengthRange", f"{pointer}/maxLength", f"maxLength {max_length} exceeds {REDSHIFT_VARCHAR_MAX}")
    if required is False and types and "null" not in types:
        add("optionalNull", pointer, "optional property should allow null")
    props = sub.get("properties")
    req = sub.get("required")
    if sub.get("additionalProperties") is False and isinstance(req, list):
        names = props if isinstance(props, dict) else {}
        for name in req:
            if isinstance(name, str) and name not in names and not sub.get("patternProperties"):
                add("requiredPropertiesExist", f"{pointer}/required", f"required property {name!r} is not defined")
    pattern = sub.get("pattern")
    if isinstance(pattern, str):
        for risk in analyse_pattern(pattern):
            check = "patternSyntax" if risk.kind == "syntax" else "patternBacktracking"
            add(check, f"{pointer}/pattern", risk.message)
    named = sub.get("patternProperties")
    for key in named if isinstance(named, dict) else ():
        for risk in analyse_pattern(key):  # property-name patterns are matched against event keys too
            check = "patternSyntax" if risk.kind == "syntax" else "patternBacktracking"
            add(check, f"{pointer}/patternProperties", risk.message)


def _has_type(value: Any, accepted: tuple[type, ...]) -> bool:
    if bool in accepted:
        return isinstance(value, bool)
    return isinstance(value, accepted) and not isinstance(value, bool)


def _lint_bounds(pointer: str, sub: dict[str, Any], add: Any) -> None:
    pairs = (
        ("numericMinimumMaximum", "minimum", "maximum"),
        ("stringMinMaxLength", "minLength", "maxLength"),
        ("arrayMinMaxItems", "minItems", "maxItems"),
    )
    for check, low, high in pairs:
        lo, hi = sub.get(low), sub.get(high)
        if (
            isinstance(lo, int | float)
            and isinstance(hi, int | float)
            and _is_number(lo)
            and _is_number(hi)
            and lo > hi
        ):
            add(check, pointer, f"{low} {lo} is greater than {high} {hi}")


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def lint_versions(keys: list[SchemaKey]) -> list[tuple[SchemaKey, Finding]]:
    """`versionGaps` findings for a set of keys: every version must follow Iglu's publish order."""
    out: list[tuple[SchemaKey, Finding]] = []
    by_schema: dict[tuple[str, str, str], list[SchemaVer]] = {}
    for key in keys:
        by_schema.setdefault((key.vendor, key.name, key.format), []).append(key.version)
    for (vendor, name, fmt), versions in by_schema.items():
        ordered = sorted(versions)
        for i, version in enumerate(ordered):
            problem = order_problem(version, ordered[:i])
            if problem is not None:
                key = SchemaKey(vendor, name, fmt, version)
                out.append((key, Finding("versionGaps", "ERROR", "/self/version", problem)))
    return out
