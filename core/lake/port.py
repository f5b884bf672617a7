"""The lake port: create-only objects (complete or absent, names never reused), listing and reading."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

__all__ = ["Lake"]


@runtime_checkable
class Lake(Protocol):
    """An object store under one root; names are `/`-separated and relative to that root.

    `create` raises `ObjectExists` if the name is taken and `LakeUnavailable` on infrastructure
    failure (the caller retries); after it returns the object is durable and complete.
    """

    url: str

    def create(self, name: str, data: bytes) -> None: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Names under `prefix`, in lexicographic order."""

    def read(self, name: str) -> bytes: ...

    def exists(self, name: str) -> bool: ...
