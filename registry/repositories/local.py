"""A schema repository on the local file system in Iglu static layout (`<root>/<vendor>/<name>/<format>/<M-R-A>`).

Supersession recorded by `eventkit schema publish` in the folder's `.meta/` sidecar is served as
`$supersededBy` (see registry.repositories.with_sidecar). Every file read must resolve inside the
folder (core.paths.contained): a name or symlink leading elsewhere reads as not-found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from core.errors import IgluParseError
from core.iglu import SchemaKey, SchemaVer
from core.paths import OutsideRoot, contained
from registry.repositories import EMBEDDED_CLASS, RepoFailure, sidecar_name, with_sidecar

__all__ = ["LocalRepository", "static_root"]


def static_root(path: Path) -> Path:
    """The folder holding vendor folders: `path/schemas` when present (Iglu's repo layout), else `path` itself."""
    nested = path / "schemas"
    return nested if nested.is_dir() else path


class LocalRepository:
    """Reads schema files (no extension) from a folder; Iglu's "embedded" repository kind."""

    class_priority = EMBEDDED_CLASS

    def __init__(
        self, path: Path | str, *, name: str | None = None, priority: int = 0, vendor_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.root = static_root(Path(path).expanduser().resolve())
        self.name = name or f"local:{self.root}"
        self.priority = priority
        self.vendor_prefixes = vendor_prefixes

    def fetch(self, key: SchemaKey) -> dict[str, Any] | None:
        try:
            file = contained(self.root, key.path)
        except OutsideRoot:
            return None  # not a file of this repository
        try:
            raw = file.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as e:
            raise RepoFailure(f"cannot read {file}: {e}") from e
        try:
            schema = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise RepoFailure(f"{file} is not JSON: {e}") from e
        if not isinstance(schema, dict):
            raise RepoFailure(f"{file} is not a JSON object")
        try:
            sidecar = contained(self.root, sidecar_name(key))
        except OutsideRoot:
            return None  # a sidecar leading out of the folder cannot say who may read the schema
        try:
            meta = sidecar.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return schema
        except OSError as e:
            raise RepoFailure(f"cannot read {sidecar}: {e}") from e
        return with_sidecar(schema, meta, str(sidecar))

    def list_versions(self, vendor: str, name: str, model: int) -> list[SchemaKey] | None:
        try:
            folder = contained(self.root, f"{vendor}/{name}/jsonschema")
        except OutsideRoot:
            return []
        if not folder.is_dir():
            return []
        found: list[SchemaKey] = []
        for file in folder.iterdir():
            try:
                version = SchemaVer.parse(file.name)
            except IgluParseError:
                continue  # schema-list files (`1`) and stray files are not versions
            if version.model == model and file.is_file():
                found.append(SchemaKey(vendor, name, "jsonschema", version))
        return found

    def close(self) -> None:
        return None
