"""A schema repository in a GCS bucket in Iglu static layout (`gs://bucket/prefix/schemas/...`), as igluctl uploads.

Supersession recorded by `eventkit schema publish` in the bucket's `<prefix>/.meta/` sidecar is served
as `$supersededBy` (see registry.repositories.with_sidecar); buckets without one read as plain Iglu.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import orjson

from core.errors import IgluParseError
from core.iglu import SchemaKey, SchemaVer
from registry.repositories import REMOTE_CLASS, RepoFailure, sidecar_name, with_sidecar

__all__ = ["GcsRepository"]

TIMEOUT_SECONDS = 5.0
# No client-side retries: an unanswered read becomes RegistryUnavailable at once and the caller
# (enrich's retry loop) decides how long to wait, as with HTTP repositories.


class GcsRepository:
    """Reads `<prefix>/schemas/<vendor>/<name>/<format>/<version>` objects; STORAGE_EMULATOR_HOST is honoured."""

    class_priority = REMOTE_CLASS

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        name: str | None = None,
        priority: int = 0,
        vendor_prefixes: tuple[str, ...] = (),
        client: Any = None,
    ) -> None:
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.name = name or f"gs://{bucket}/{self.prefix}".rstrip("/")
        self.priority = priority
        self.vendor_prefixes = vendor_prefixes
        self._client = client
        self._lock = threading.Lock()

    def _object(self, path: str) -> str:
        return f"{self.prefix}/schemas/{path}" if self.prefix else f"schemas/{path}"

    def _sidecar(self, key: SchemaKey) -> str:
        # registry/store.py writes the sidecar beside `schemas/`, under the same prefix.
        name = sidecar_name(key)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _bucket(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _default_client()
            return self._client.bucket(self.bucket_name)

    def _download(self, name: str) -> bytes | None:
        """The object's bytes, None when it does not exist, RepoFailure when the bucket did not answer."""
        from google.api_core import exceptions as gexc

        try:
            data: bytes = self._bucket().blob(name).download_as_bytes(timeout=TIMEOUT_SECONDS, retry=None)
        except gexc.NotFound:
            return None
        except (gexc.Unauthorized, gexc.Forbidden) as e:
            raise RepoFailure(f"gs://{self.bucket_name}/{name}: access refused: {e}", "ClientFailure") from e
        except Exception as e:  # google-auth, requests and api_core errors all mean "no answer"
            raise RepoFailure(f"gs://{self.bucket_name}/{name}: {type(e).__name__}: {e}") from e
        return data

    def fetch(self, key: SchemaKey) -> dict[str, Any] | None:
        name = self._object(key.path)
        raw = self._download(name)
        if raw is None:
            return None
        try:
            schema = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise RepoFailure(f"gs://{self.bucket_name}/{name} is not JSON: {e}") from e
        if not isinstance(schema, dict):
            raise RepoFailure(f"gs://{self.bucket_name}/{name} is not a JSON object")
        sidecar = self._sidecar(key)
        return with_sidecar(schema, self._download(sidecar), f"gs://{self.bucket_name}/{sidecar}")

    def list_versions(self, vendor: str, name: str, model: int) -> list[SchemaKey] | None:
        folder = self._object(f"{vendor}/{name}/jsonschema/")
        try:
            names = [
                blob.name for blob in self._bucket().list_blobs(prefix=folder, timeout=TIMEOUT_SECONDS, retry=None)
            ]
        except Exception as e:  # any client error means the listing could not be read
            raise RepoFailure(f"gs://{self.bucket_name}/{folder}: listing failed: {type(e).__name__}: {e}") from e
        found: list[SchemaKey] = []
        for object_name in names:
            try:
                version = SchemaVer.parse(object_name[len(folder) :])
            except IgluParseError:
                continue
            if version.model == model:
                found.append(SchemaKey(vendor, name, "jsonschema", version))
        return found

    def close(self) -> None:
        return None


def _default_client() -> Any:
    """A storage client; anonymous against an emulator (STORAGE_EMULATOR_HOST), default credentials otherwise."""
    from google.cloud import storage

    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        from google.auth.credentials import AnonymousCredentials

        project = os.environ.get("GOOGLE_CLOUD_PROJECT", "eventkit")
        return storage.Client(
            project=project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]  # google-auth is untyped
            client_options={"api_endpoint": emulator},
        )
    return storage.Client()
