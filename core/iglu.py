"""Iglu identities: SchemaVer, SchemaKey, SchemaCriterion and self-describing JSON, with iglu-core's exact rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import total_ordering
from typing import Any

from core.errors import IgluParseError

__all__ = [
    "SchemaCriterion",
    "SchemaKey",
    "SchemaVer",
    "SelfDescribing",
    "check_parts",
    "is_vendor",
    "key_problem",
    "parse_self_describing",
]

# Iglu's characters; a vendor may not start with '.', so no segment is ever `.`, `..` or a hidden name
# (schemas live in folders named after these parts, beside the registry's own `.meta/` tree).
_VENDOR = r"[a-zA-Z0-9\-_][a-zA-Z0-9\-_.]*"
_NAME = r"[a-zA-Z0-9\-_]+"
_FORMAT = r"[a-zA-Z0-9\-_]+"
_MODEL = r"[1-9][0-9]*"
_REV = r"0|[1-9][0-9]*"

# `\Z`, not `$`: Python's `$` also matches before a trailing newline, which iglu-core refuses.
_SCHEMAVER_RE = re.compile(rf"^({_MODEL})-({_REV})-({_REV})\Z")
_KEY_RE = re.compile(rf"^iglu:({_VENDOR})/({_NAME})/({_FORMAT})/({_MODEL})-({_REV})-({_REV})\Z")
_PATH_RE = re.compile(rf"^({_VENDOR})/({_NAME})/({_FORMAT})/({_MODEL})-({_REV})-({_REV})\Z")
_CRIT_PART = rf"(?:{_REV}|\*)"
_CRITERION_RE = re.compile(rf"^iglu:({_VENDOR})/({_NAME})/({_FORMAT})/({_MODEL}|\*)-({_CRIT_PART})-({_CRIT_PART})\Z")
_PARTS_RE = re.compile(rf"{_VENDOR}/{_NAME}/{_FORMAT}")
_VENDOR_RE = re.compile(_VENDOR)
_NAME_RE = re.compile(_NAME)
# A URI whose vendor/name/format are valid, so only its version segment can be at fault.
_URI_WITHOUT_VERSION_RE = re.compile(rf"^iglu:{_VENDOR}/{_NAME}/{_FORMAT}/[^/]*\Z")


@total_ordering
@dataclass(frozen=True, slots=True)
class SchemaVer:
    """MODEL-REVISION-ADDITION; no leading zeros, MODEL >= 1, ordered numerically."""

    model: int
    revision: int
    addition: int

    def __post_init__(self) -> None:
        if self.model < 1 or self.revision < 0 or self.addition < 0:
            raise IgluParseError(f"invalid SchemaVer {self.model}-{self.revision}-{self.addition}")

    @classmethod
    def parse(cls, text: str) -> SchemaVer:
        m = _SCHEMAVER_RE.match(text)
        if m is None:
            raise IgluParseError(f"invalid SchemaVer {text!r}: expected MODEL-REVISION-ADDITION, e.g. 1-0-0")
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)))

    def __str__(self) -> str:
        return f"{self.model}-{self.revision}-{self.addition}"

    def _tuple(self) -> tuple[int, int, int]:
        return (self.model, self.revision, self.addition)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SchemaVer):
            return NotImplemented
        return self._tuple() < other._tuple()


@total_ordering
@dataclass(frozen=True, slots=True)
class SchemaKey:
    """`iglu:vendor/name/format/M-R-A` — the identity of one published schema.

    Its hash is worked out once: keys are looked up in caches several times per event, and the generated
    dataclass hash re-hashed all four parts (the version's through another Python call) every time.
    """

    vendor: str
    name: str
    format: str
    version: SchemaVer
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Checked here, not only in parse(): keys are also built from URL segments and `self` blocks, and
        # their parts become folder names, so an invalid part must be unrepresentable.
        vendor, name, format = self.vendor, self.name, self.format
        if (
            type(vendor) is not str
            or type(name) is not str
            or type(format) is not str
            or type(self.version) is not SchemaVer
            or _PARTS_RE.fullmatch(f"{vendor}/{name}/{format}") is None
        ):
            raise IgluParseError(f"invalid schema key: {key_problem(vendor, name, format)}")
        object.__setattr__(self, "_hash", hash((self.vendor, self.name, self.format, self.version)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[SchemaKey], tuple[str, str, str, SchemaVer]]:
        # Rebuilt from its parts: string hashes differ between processes, so the cached one must not travel.
        return SchemaKey, (self.vendor, self.name, self.format, self.version)

    @classmethod
    def parse(cls, uri: str) -> SchemaKey:
        m = _KEY_RE.match(uri) if isinstance(uri, str) else None
        if m is None:
            raise IgluParseError(f"invalid Iglu URI {uri!r}: {_shape_problem(uri, 'iglu:')}")
        return cls._from_match(m)

    @classmethod
    def parse_path(cls, path: str) -> SchemaKey:
        """Parse the static-repository path form `vendor/name/format/M-R-A`."""
        m = _PATH_RE.match(path) if isinstance(path, str) else None
        if m is None:
            raise IgluParseError(f"invalid Iglu path {path!r}: {_shape_problem(path, '')}")
        return cls._from_match(m)

    @classmethod
    def _from_match(cls, m: re.Match[str]) -> SchemaKey:
        ver = SchemaVer(int(m.group(4)), int(m.group(5)), int(m.group(6)))
        return cls(m.group(1), m.group(2), m.group(3), ver)

    @property
    def uri(self) -> str:
        return f"iglu:{self.path}"

    @property
    def path(self) -> str:
        return f"{self.vendor}/{self.name}/{self.format}/{self.version}"

    def __str__(self) -> str:
        return self.uri

    def _tuple(self) -> tuple[str, str, str, SchemaVer]:
        return (self.vendor, self.name, self.format, self.version)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SchemaKey):
            return NotImplemented
        return self._tuple() < other._tuple()


def check_parts(vendor: str, name: str, format: str) -> None:
    """Raise IgluParseError unless vendor/name/format could form a schema key (they are about to name a path)."""
    if _PARTS_RE.fullmatch(f"{vendor}/{name}/{format}") is None:
        raise IgluParseError(f"invalid schema key: {key_problem(vendor, name, format)}")


def is_vendor(text: str) -> bool:
    """Is `text` a valid Iglu vendor (Iglu's characters, not starting with '.')?"""
    return _VENDOR_RE.fullmatch(text) is not None


def key_problem(vendor: object, name: object, format: object) -> str:
    """Why these vendor/name/format parts cannot form a schema key (Iglu's characters, no leading '.')."""
    if not isinstance(vendor, str) or _VENDOR_RE.fullmatch(vendor) is None:
        return (
            f"vendor {vendor!r} must be letters, digits, '-', '_' and '.', not starting with '.' (so never '.' or '..')"
        )
    if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
        return f"name {name!r} must be letters, digits, '-' and '_'"
    if not isinstance(format, str) or _NAME_RE.fullmatch(format) is None:
        return f"format {format!r} must be letters, digits, '-' and '_'"
    return "version must be a SchemaVer (MODEL-REVISION-ADDITION, e.g. 1-0-0)"


def _shape_problem(text: object, scheme: str) -> str:
    """The most specific reason `text` is not `<scheme>vendor/name/format/M-R-A`."""
    expected = f"expected {scheme}vendor/name/format/M-R-A"
    if not isinstance(text, str) or not text.startswith(scheme):
        return expected
    parts = text[len(scheme) :].split("/")
    if len(parts) != 4:
        return expected
    if _PARTS_RE.fullmatch("/".join(parts[:3])) is None:
        return key_problem(parts[0], parts[1], parts[2])
    return f"version {parts[3]!r} is not a SchemaVer (MODEL-REVISION-ADDITION, e.g. 1-0-0)"


@dataclass(frozen=True, slots=True)
class SchemaCriterion:
    """A partial SchemaVer (`1-*-*`, `1-0-*`) that matches a family of schema keys."""

    vendor: str
    name: str
    format: str
    model: int | None
    revision: int | None
    addition: int | None

    @classmethod
    def parse(cls, uri: str) -> SchemaCriterion:
        m = _CRITERION_RE.match(uri) if isinstance(uri, str) else None
        if m is None:
            raise IgluParseError(f"invalid Iglu criterion {uri!r}: expected iglu:vendor/name/format/M-R-A with * parts")
        parts = [None if p == "*" else int(p) for p in (m.group(4), m.group(5), m.group(6))]
        return cls(m.group(1), m.group(2), m.group(3), parts[0], parts[1], parts[2])

    def matches(self, key: SchemaKey) -> bool:
        v = key.version
        return (
            key.vendor == self.vendor
            and key.name == self.name
            and key.format == self.format
            and (self.model is None or self.model == v.model)
            and (self.revision is None or self.revision == v.revision)
            and (self.addition is None or self.addition == v.addition)
        )

    def __str__(self) -> str:
        def part(x: int | None) -> str:
            return "*" if x is None else str(x)

        version = f"{part(self.model)}-{part(self.revision)}-{part(self.addition)}"
        return f"iglu:{self.vendor}/{self.name}/{self.format}/{version}"


@dataclass(frozen=True, slots=True)
class SelfDescribing:
    """A self-describing JSON instance: `{"schema": "iglu:...", "data": ...}`."""

    schema: SchemaKey
    data: Any

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema.uri, "data": self.data}


def parse_self_describing(value: Any) -> SelfDescribing:
    """Read `{schema, data}`; anything else raises IgluParseError naming the Iglu error kind.

    The error codes follow iglu-core's ParseError names, which bad rows carry
    (INVALID_DATA_PAYLOAD, INVALID_IGLUURI, INVALID_SCHEMAVER).
    """
    if not isinstance(value, dict) or "schema" not in value or "data" not in value:
        raise IgluParseError(
            "not a self-describing JSON: expected an object with schema and data", "INVALID_DATA_PAYLOAD"
        )
    schema = value["schema"]
    if not isinstance(schema, str):
        raise IgluParseError("schema is not a string", "INVALID_IGLUURI")
    m = _KEY_RE.match(schema)
    if m is None:
        code = "INVALID_SCHEMAVER" if _URI_WITHOUT_VERSION_RE.match(schema) else "INVALID_IGLUURI"
        raise IgluParseError(f"invalid Iglu URI {schema!r}", code)
    return SelfDescribing(SchemaKey._from_match(m), value["data"])
