"""The lake on Google Cloud Storage: create-only objects through `ifGenerationMatch=0`.

GCS commits an object atomically (complete or absent) and the precondition `ifGenerationMatch=0`
makes the write fail with 412 when the name exists, so "names are never reused" holds even
between several enrich processes. Honours `STORAGE_EMULATOR_HOST` (fake-gcs-server in tests):
with it set, the default client uses anonymous credentials and a placeholder project.

Every request has a bounded timeout and retries stop at a deadline, so a GCS outage surfaces as
LakeUnavailable (the caller retries later) instead of hanging a worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import requests
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError, TransportError
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from core.errors import ConfigError, LakeUnavailable, ObjectExists
from core.lake.names import check_name, check_prefix

__all__ = ["GcsLake", "bucket_missing", "default_client"]

EMULATOR_PROJECT = "eventkit-local"
_CONTENT_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
    ".tsv": "text/tab-separated-values",
}
_TRANSIENT: tuple[type[BaseException], ...] = (
    gexc.TooManyRequests,
    gexc.InternalServerError,
    gexc.BadGateway,
    gexc.ServiceUnavailable,
    gexc.GatewayTimeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    TransportError,
    ConnectionError,
    TimeoutError,
)
_FAILURES: tuple[type[BaseException], ...] = (
    gexc.GoogleAPIError,
    requests.exceptions.RequestException,
    GoogleAuthError,
    OSError,
)


def bucket_missing(bucket: str) -> str:
    """The one message for a lake whose bucket is not there (readers too: enrich or load can create it)."""
    return f"bucket {bucket!r} does not exist (create it, or pass --create-bucket to enrich or load)"


def default_client() -> storage.Client:
    """A storage client: anonymous against `STORAGE_EMULATOR_HOST` if set, else application default credentials."""
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        project = os.environ.get("GOOGLE_CLOUD_PROJECT", EMULATOR_PROJECT)
        return storage.Client(project=project, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]  # google-auth lacks hints here
    try:
        return storage.Client()
    except DefaultCredentialsError as e:
        raise ConfigError(
            f"gs:// lake: no Google credentials found ({e}); set GOOGLE_APPLICATION_CREDENTIALS "
            "or run `gcloud auth application-default login`, or use a file:// lake"
        ) from e


class GcsLake:
    """A lake under `gs://bucket/prefix`. `timeout` bounds each call, retries included (seconds)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: storage.Client | None = None,
        *,
        timeout: float = 60.0,
        create_bucket_if_missing: bool = False,
        url: str | None = None,
    ) -> None:
        self.prefix = prefix.strip("/")
        if self.prefix:
            check_name(self.prefix)
        self.bucket_name = bucket
        self.url = url if url is not None else f"gs://{bucket}/{self.prefix}".rstrip("/")
        self.timeout = timeout
        self._client = client if client is not None else default_client()
        self._bucket = self._client.bucket(bucket)
        self._retry = DEFAULT_RETRY.with_timeout(timeout)
        if create_bucket_if_missing:
            self._ensure_bucket()
        else:
            self._check_bucket()

    def __repr__(self) -> str:
        return f"GcsLake({self.url!r})"

    def create(self, name: str, data: bytes) -> None:
        """Write `data` as a new object; ObjectExists if the name is taken, LakeUnavailable on failure.

        Retries transient failures until the deadline. If a retry meets 412 after an attempt whose
        answer was lost, the stored bytes are compared with ours: equal means our write landed.
        """
        key = self._key(name)
        deadline = time.monotonic() + self.timeout
        delay = 0.2
        attempt = 0
        content_type = _CONTENT_TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
        while True:
            attempt += 1
            blob = self._bucket.blob(key)
            try:
                blob.upload_from_string(
                    data,
                    content_type=content_type,
                    if_generation_match=0,
                    timeout=self._request_timeout(deadline),
                    retry=None,
                )
                return
            except gexc.PreconditionFailed as e:
                if attempt > 1 and self._holds(key, data):
                    return
                raise ObjectExists(f"{self.url}: object {name!r} already exists") from e
            except _TRANSIENT as e:
                if time.monotonic() + delay >= deadline:
                    raise LakeUnavailable(f"{self.url}: cannot create {name!r} after {attempt} attempts: {e}") from e
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except gexc.NotFound as e:  # an object create only 404s on its bucket
                raise LakeUnavailable(f"{self.url}: cannot create {name!r}: {bucket_missing(self.bucket_name)}") from e
            except _FAILURES as e:
                raise LakeUnavailable(f"{self.url}: cannot create {name!r}: {e}") from e

    def list(self, prefix: str = "") -> Iterator[str]:
        """Names starting with `prefix`, relative to the lake prefix, sorted."""
        check_prefix(prefix)
        base = f"{self.prefix}/" if self.prefix else ""
        try:
            blobs = self._client.list_blobs(
                self._bucket, prefix=base + prefix, timeout=self._request_timeout(None), retry=self._retry
            )
            names = [blob.name[len(base) :] for blob in blobs if not blob.name.endswith("/")]
        except gexc.NotFound as e:  # listing only 404s on the bucket
            raise LakeUnavailable(f"{self.url}: cannot list {prefix!r}: {bucket_missing(self.bucket_name)}") from e
        except _FAILURES as e:
            raise LakeUnavailable(f"{self.url}: cannot list {prefix!r}: {e}") from e
        names.sort()
        return iter(names)

    def read(self, name: str) -> bytes:
        """The object's bytes; FileNotFoundError if there is no such object."""
        blob = self._bucket.blob(self._key(name))
        try:
            data: bytes = blob.download_as_bytes(timeout=self._request_timeout(None), retry=self._retry)
        except gexc.NotFound as e:
            raise FileNotFoundError(f"{self.url}: no object {name!r}") from e
        except _FAILURES as e:
            raise LakeUnavailable(f"{self.url}: cannot read {name!r}: {e}") from e
        return data

    def exists(self, name: str) -> bool:
        blob = self._bucket.blob(self._key(name))
        try:
            return bool(blob.exists(timeout=self._request_timeout(None), retry=self._retry))
        except _FAILURES as e:
            raise LakeUnavailable(f"{self.url}: cannot check {name!r}: {e}") from e

    def local_path(self, name: str = "") -> None:
        """GCS objects have no local file: readers must use `read()`."""
        check_prefix(name)

    def _key(self, name: str) -> str:
        check_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _request_timeout(self, deadline: float | None) -> tuple[float, float]:
        """(connect, read) seconds for one HTTP request, never beyond the call's deadline."""
        budget = self.timeout if deadline is None else max(0.5, deadline - time.monotonic())
        return (min(10.0, budget), budget)

    def _holds(self, key: str, data: bytes) -> bool:
        try:
            blob = self._bucket.blob(key)
            stored: bytes = blob.download_as_bytes(timeout=self._request_timeout(None), retry=self._retry)
        except _FAILURES as e:
            raise LakeUnavailable(f"{self.url}: cannot verify {key!r} after a lost answer: {e}") from e
        return stored == data

    def _check_bucket(self) -> None:
        """ConfigError, once, when the bucket does not exist: every write and list would 404 forever.

        Only a definite "not found" fails: without permission to read bucket metadata (403: a writer
        granted object access only) or while GCS is unreachable, the lake is used as before and its
        calls report their own errors.
        """
        try:
            missing = not self._bucket.exists(timeout=self._request_timeout(None), retry=None)
        except _FAILURES:
            return
        if missing:
            raise ConfigError(f"{self.url}: {bucket_missing(self.bucket_name)}")

    def _ensure_bucket(self) -> None:
        try:
            self._client.create_bucket(self.bucket_name, timeout=self._request_timeout(None))
        except gexc.Conflict:
            pass  # already there (ours or created concurrently)
        except _FAILURES as e:
            raise LakeUnavailable(f"{self.url}: cannot create bucket {self.bucket_name!r}: {e}") from e
