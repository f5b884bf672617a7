"""Schema repositories the resolver chains: one small class per kind (local folder, HTTP, gs://), one Protocol.

Each repository answers a lookup with the schema JSON, `None` for a definitive not-found, or raises
`RepoFailure` when it could not answer (network down, 5xx, unreadable JSON, refused credentials).
The resolver turns "nobody found it, somebody failed" into `core.errors.RegistryUnavailable`.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from core.iglu import SchemaKey

__all__ = ["EMBEDDED_CLASS", "REMOTE_CLASS", "RepoFailure", "Repository"]

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
