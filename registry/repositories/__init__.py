"""Schema repositories the resolver chains: one small class per kind (local folder, HTTP, gs://), one Protocol.

Each repository answers a lookup with the schema JSON, `None` for a definitive not-found, or raises
`RepoFailure` when it could not answer (network down, 5xx, unreadable JSON, refused credentials).
The resolver turns "nobody found it, somebody failed" into `core.errors.RegistryUnavailable`.

Folders and buckets written by `eventkit schema publish` keep supersession in a sidecar
(`.meta/schemas/<vendor>/<name>/<format>/<version>.json`, registry/store.py) rather than in the
schema file; `with_sidecar` lets the static repositories serve it as `$supersededBy`, as the HTTP
API does. Plain Iglu static repos have no sidecar and are read unchanged.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import orjson

from core.iglu import SchemaKey

__all__ = ["EMBEDDED_CLASS", "REMOTE_CLASS", "RepoFailure", "Repository", "sidecar_name", "with_sidecar"]

SIDECAR_ROOT = ".meta/schemas"

# Iglu's class priorities (iglu-scala-client): in-memory 1 < embedded 2 < http 100; gs:// counts as remote.
EMBEDDED_CLASS = 2
REMOTE_CLASS = 100


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
    """`schema` plus the sidecar's `superseded_by` as `$supersededBy`; one written into the file by hand wins.

    No sidecar (a plain Iglu static repo) or none recorded leaves the schema as it is; a sidecar that is
    not a JSON object is a RepoFailure (this repository cannot say whether the schema is superseded).
    """
    if sidecar is None or "$supersededBy" in schema:
        return schema
    try:
        meta = orjson.loads(sidecar)
    except orjson.JSONDecodeError as e:
        raise RepoFailure(f"{where} is not JSON: {e}") from e
    if not isinstance(meta, dict):
        raise RepoFailure(f"{where} is not a JSON object")
    successor = meta.get("superseded_by")
    if not successor:
        return schema
    return {**schema, "$supersededBy": successor}
