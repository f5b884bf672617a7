"""Lakes hold enriched events and bad rows as create-only objects: a local folder or Google Cloud Storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lake.local import LocalLake
from core.lake.port import Lake
from core.locations import parse_lake_url

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Lake", "LocalLake", "local_path", "open_lake"]


def open_lake(url: str, *, key: str = "lake", create_bucket_if_missing: bool = False) -> Lake:
    """The lake a URL names: `file:///path`, a plain path, or `gs://BUCKET/PREFIX` (ConfigError otherwise).

    `key` names the setting in error messages. The GCS client is imported only for `gs://` URLs.
    """
    location = parse_lake_url(url, key=key)
    if location.kind == "gs":
        from core.lake.gcs import GcsLake

        assert location.bucket is not None  # parse_lake_url guarantees a bucket for gs://
        return GcsLake(location.bucket, location.prefix, url=url, create_bucket_if_missing=create_bucket_if_missing)
    assert location.path is not None  # and a path for file URLs
    return LocalLake(location.path, url=url)


def local_path(lake: Lake, name: str = "") -> Path | None:
    """The local file behind `name` if this lake has one (the optional `local_path` capability), else None."""
    capability = getattr(lake, "local_path", None)
    if capability is None:
        return None
    path: Path | None = capability(name)
    return path
