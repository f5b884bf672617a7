"""Writable schema storage for publishing: a local folder or `gs://bucket/prefix`, in Iglu static layout.

Schema files go exactly where a static repository (and our resolver) reads them —
`<root>/<vendor>/<name>/<format>/<M-R-A>` locally (`<root>/schemas/...` when that folder exists),
`<prefix>/schemas/<vendor>/...` on GCS — and are written create-only (`O_EXCL` locally,
`ifGenerationMatch=0` on GCS) unless the registry is in development mode. Everything that is not
the schema itself (isPublic, createdAt/updatedAt, `$supersedes`/`$supersededBy`, API keys) lives in
a sidecar tree `.meta/` beside the layout, so static repos stay clean.

Every name is confined to the store's root: no `.`/`..` segment anywhere (locally or on GCS), and a
local path must resolve inside the root folder (core.paths.contained), so neither a crafted name nor
a symlink in the folder reads or writes a file elsewhere.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from core.errors import ConfigError, IgluParseError, ObjectExists, RegistryUnavailable
from core.iglu import SchemaKey
from core.paths import OutsideRoot, contained, relative_name
from registry.repositories import sidecar_name

__all__ = ["GcsBlobs", "LocalBlobs", "SchemaMeta", "SchemaStore", "open_store"]

META = ".meta"


class Blobs(Protocol):
    """Bytes by `/`-separated name under one root: the two storage kinds behind SchemaStore."""

    url: str

    def read(self, name: str) -> bytes | None: ...

    def write(self, name: str, data: bytes, *, overwrite: bool) -> None:
        """Raise ObjectExists when `name` exists and `overwrite` is false."""

    def delete(self, name: str) -> None: ...

    def list(self, prefix: str) -> Iterator[str]: ...


class LocalBlobs:
    """Files under a folder; create-only writes use O_EXCL on a temp file renamed with link()."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root.resolve()
        self.url = url

    def read(self, name: str) -> bytes | None:
        path = contained(self.root, name)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as e:
            raise RegistryUnavailable(f"cannot read {path}: {e}") from e

    def write(self, name: str, data: bytes, *, overwrite: bool) -> None:
        path = contained(self.root, name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(data)}.tmp")
            tmp.write_bytes(data)
            try:
                if overwrite:
                    os.replace(tmp, path)
                else:
                    os.link(tmp, path)  # atomic, fails if the name exists: complete-or-absent and create-only
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        except FileExistsError as e:
            raise ObjectExists(f"{path} already exists") from e
        except OSError as e:
            raise RegistryUnavailable(f"cannot write {path}: {e}") from e

    def delete(self, name: str) -> None:
        path = contained(self.root, name)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def list(self, prefix: str) -> Iterator[str]:
        base = contained(self.root, prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                name = path.relative_to(self.root).as_posix()
                try:
                    contained(self.root, name)
                except OutsideRoot:
                    continue  # a symlink leading out of the folder is not listed
                yield name


class GcsBlobs:
    """Objects under `gs://bucket/prefix`; create-only writes use ifGenerationMatch=0."""

    def __init__(self, bucket: str, prefix: str, client: Any | None = None) -> None:
        from core.lake.gcs import default_client

        self._client = client or default_client()
        self._bucket = self._client.bucket(bucket)
        self.prefix = prefix.strip("/")
        self.url = f"gs://{bucket}/{self.prefix}".rstrip("/")

    def _name(self, name: str) -> str:
        if name.strip("/"):
            relative_name(name.strip("/"))  # no `.`/`..` object names on GCS either
        return f"{self.prefix}/{name}" if self.prefix else name

    def read(self, name: str) -> bytes | None:
        from google.api_core import exceptions as gexc

        try:
            data: bytes = self._bucket.blob(self._name(name)).download_as_bytes(timeout=10)
            return data
        except gexc.NotFound:
            return None
        except (gexc.GoogleAPIError, OSError) as e:
            raise RegistryUnavailable(f"cannot read {self.url}/{name}: {e}") from e

    def write(self, name: str, data: bytes, *, overwrite: bool) -> None:
        from google.api_core import exceptions as gexc

        blob = self._bucket.blob(self._name(name))
        try:
            if overwrite:
                blob.upload_from_string(data, content_type="application/json", timeout=10)
            else:
                blob.upload_from_string(data, content_type="application/json", if_generation_match=0, timeout=10)
        except gexc.PreconditionFailed as e:
            raise ObjectExists(f"{self.url}/{name} already exists") from e
        except (gexc.GoogleAPIError, OSError) as e:
            raise RegistryUnavailable(f"cannot write {self.url}/{name}: {e}") from e

    def delete(self, name: str) -> None:
        from google.api_core import exceptions as gexc

        with contextlib.suppress(gexc.NotFound):
            self._bucket.blob(self._name(name)).delete(timeout=10)

    def list(self, prefix: str) -> Iterator[str]:
        from google.api_core import exceptions as gexc

        full = self._name(prefix)
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            names = sorted(b.name for b in self._client.list_blobs(self._bucket, prefix=full, timeout=10))
        except (gexc.GoogleAPIError, OSError) as e:
            raise RegistryUnavailable(f"cannot list {self.url}/{prefix}: {e}") from e
        for n in names:
            yield n[strip:]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(slots=True)
class SchemaMeta:
    """Sidecar facts about one published schema."""

    is_public: bool = False
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    supersedes: list[str] = field(default_factory=list)
    superseded_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SchemaMeta:
        return cls(
            is_public=bool(value.get("is_public", False)),
            created_at=str(value.get("created_at", _now())),
            updated_at=str(value.get("updated_at", _now())),
            supersedes=[str(v) for v in value.get("supersedes", [])],
            superseded_by=value.get("superseded_by"),
        )


class SchemaStore:
    """Schemas in static layout plus their sidecar metadata; also holds the API key records."""

    def __init__(self, blobs: Blobs, *, layout_prefix: str = "") -> None:
        self.blobs = blobs
        self.url = blobs.url
        self._layout = layout_prefix  # "" or "schemas/"

    def _schema_name(self, key: SchemaKey) -> str:
        return f"{self._layout}{key.path}"

    def _meta_name(self, key: SchemaKey) -> str:
        return sidecar_name(key)  # where the static repositories look for it too

    def list_keys(self) -> list[SchemaKey]:
        """Every published schema key, sorted."""
        found: list[SchemaKey] = []
        for name in self.blobs.list(self._layout):
            rel = name[len(self._layout) :]
            if rel.startswith(META + "/") or rel.startswith("."):
                continue
            try:
                found.append(SchemaKey.parse_path(rel))
            except IgluParseError:
                continue  # licence files, schema-list files (`.../jsonschema/1`)
        return sorted(found)

    def get(self, key: SchemaKey) -> dict[str, Any] | None:
        """The schema as published (without `$supersededBy`, which lives in the sidecar)."""
        raw = self.blobs.read(self._schema_name(key))
        if raw is None:
            return None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise RegistryUnavailable(f"{self.url}/{self._schema_name(key)} is not JSON: {e}") from e
        return value if isinstance(value, dict) else None

    def meta(self, key: SchemaKey) -> SchemaMeta:
        """Sidecar metadata; schemas placed in the folder by hand count as public (a static repo is readable by all)."""
        raw = self.blobs.read(self._meta_name(key))
        if raw is None:
            return SchemaMeta(is_public=True, created_at="", updated_at="")
        return SchemaMeta.from_json(orjson.loads(raw))

    def render(self, key: SchemaKey) -> dict[str, Any] | None:
        """What readers get: the schema plus `$supersededBy` when a later version supersedes it."""
        schema = self.get(key)
        if schema is None:
            return None
        superseded_by = self.meta(key).superseded_by
        if superseded_by:
            schema = {**schema, "$supersededBy": superseded_by}
        return schema

    def put(self, key: SchemaKey, schema: dict[str, Any], meta: SchemaMeta, *, overwrite: bool = False) -> None:
        """Write the schema (create-only unless `overwrite`), then its sidecar."""
        self.blobs.write(self._schema_name(key), orjson.dumps(schema, option=orjson.OPT_INDENT_2), overwrite=overwrite)
        self.put_meta(key, meta)

    def put_meta(self, key: SchemaKey, meta: SchemaMeta) -> None:
        self.blobs.write(self._meta_name(key), orjson.dumps(meta.to_json()), overwrite=True)

    def delete(self, key: SchemaKey) -> None:
        self.blobs.delete(self._schema_name(key))
        self.blobs.delete(self._meta_name(key))

    # API key records: one sidecar object per key, named by its public id.
    def key_records(self) -> list[dict[str, Any]]:
        out = []
        for name in self.blobs.list(f"{META}/apikeys/"):
            raw = self.blobs.read(name)
            if raw is not None:
                out.append(orjson.loads(raw))
        return out

    def put_key_record(self, key_id: str, record: dict[str, Any]) -> None:
        self.blobs.write(f"{META}/apikeys/{key_id}.json", orjson.dumps(record), overwrite=False)

    def delete_key_record(self, key_id: str) -> None:
        self.blobs.delete(f"{META}/apikeys/{key_id}.json")


def open_store(location: str | Path) -> SchemaStore:
    """A store for a folder path, `file://` URL or `gs://bucket/prefix`; ConfigError names the accepted forms."""
    text = str(location)
    if text.startswith("gs://"):
        bucket, _, prefix = text[5:].partition("/")
        if not bucket:
            raise ConfigError(
                f"registry: {text!r} names no bucket; accepted forms: a folder, file:///path, gs://BUCKET/PREFIX"
            )
        return SchemaStore(GcsBlobs(bucket, prefix), layout_prefix="schemas/")
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        raise ConfigError(
            f"registry: {text!r} is not writable storage; accepted forms: a folder, file:///path, gs://BUCKET/PREFIX"
        )
    root = Path(text).expanduser().resolve()
    if (root / "schemas").is_dir():
        root = root / "schemas"  # Iglu's repo layout: the vendor folders live under schemas/
    root.mkdir(parents=True, exist_ok=True)
    return SchemaStore(LocalBlobs(root, root.as_uri()))
