"""Schema repositories the resolver chains: one small class per kind (local folder, HTTP, gs://), one Protocol.

Each repository answers a lookup with the schema JSON, `None` for a definitive not-found, or raises
`RepoFailure` when it could not answer (network down, 5xx, unreadable JSON, refused credentials).
The resolver turns "nobody found it, somebody failed" into `core.errors.RegistryUnavailable`.

Folders and buckets written by `eventkit schema publish` keep supersession in a sidecar
(`.meta/schemas/<vendor>/<name>/<format>/<version>.json`, registry/store.py) rather than in the
schema file; `with_sidecar` lets the static repositories serve it as `$supersededBy`, as the HTTP
API does. Plain Iglu static repos have no sidecar and are read unchanged.

The sidecar (or an Iglu Server's `repr=meta`) also says whether a schema is private: repositories
then hand it out as a `PrivateSchema` — an ordinary dict to every reader — so the resolver can apply
registry.keys.may_read when a `$ref` asks for it (see docs/DESIGN.md, Registry).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import orjson

from core.iglu import SchemaKey

__all__ = [
    "EMBEDDED_CLASS",
    "REMOTE_CLASS",
    "PrivateSchema",
    "RepoFailure",
    "Repository",
    "sidecar_name",
    "with_sidecar",
]

SIDECAR_ROOT = ".meta/schemas"

# Iglu's class priorities (iglu-scala-client): in-memory 1 < embedded 2 < http 100; gs:// counts as remote.
EMBEDDED_CLASS = 2
REMOTE_CLASS = 100


class PrivateSchema(dict[str, Any]):
    """A schema its registry marks private (readable only with its vendor's keys); otherwise a plain dict."""


class RepoFailure(Exception):
    """A repository could not answer definitively; `kind` is Iglu's error name for the lookup history."""

    def __init__(self, message: str, kind: Literal["RepoFailure", "ClientFailure"] = "RepoFailure") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind

    def to_json(self) -> dict[str, str]:
        return {"error": self.kind, "message": self.message}


class Repository(Protocol):
    """One schema repository in a resolver chain, with the fields Iglu sorts by."""

    name: str
    priority: int
    vendor_prefixes: tuple[str, ...]
    class_priority: int

    def fetch(self, key: SchemaKey) -> dict[str, Any] | None:
        """The schema JSON object, or None when this repository definitively does not have it."""
        ...

    def list_versions(self, vendor: str, name: str, model: int) -> list[SchemaKey] | None:
        """Versions of `vendor/name` with this MODEL in `jsonschema` format (any order); None if unknown here."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def sidecar_name(key: SchemaKey) -> str:
    """Where the publish sidecar of `key` lives, relative to the folder holding the vendor folders."""
    return f"{SIDECAR_ROOT}/{key.path}.json"


def with_sidecar(schema: dict[str, Any], sidecar: bytes | None, where: str) -> dict[str, Any]:
    """`schema` plus the sidecar's `superseded_by` as `$supersededBy` (one written into the file by hand wins),
    as a PrivateSchema when the sidecar does not record it public.

    No sidecar (a plain Iglu static repo, or a schema placed by hand) leaves the schema as it is and
    public; a sidecar that is not a JSON object is a RepoFailure (this repository cannot say whether
    the schema is superseded, nor who may read it).
    """
    if sidecar is None:
        return schema
    try:
        meta = orjson.loads(sidecar)
    except orjson.JSONDecodeError as e:
        raise RepoFailure(f"{where} is not JSON: {e}") from e
    if not isinstance(meta, dict):
        raise RepoFailure(f"{where} is not a JSON object")
    successor = meta.get("superseded_by")
    if successor and "$supersededBy" not in schema:
        schema = {**schema, "$supersededBy": successor}
    # registry/store.py's SchemaMeta reads a missing is_public as private; so does this.
    return schema if bool(meta.get("is_public", False)) else PrivateSchema(schema)
