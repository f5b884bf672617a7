"""Where things live: queue, lake and warehouse URLs parsed once, with errors naming the accepted forms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from core.errors import ConfigError

__all__ = [
    "BUNDLED_SCHEMAS",
    "LakeLocation",
    "QueueLocation",
    "WarehouseLocation",
    "parse_lake_url",
    "parse_queue_url",
    "parse_warehouse_url",
]

# The project's own registry data (Iglu static layout): `schemas/` beside the packages in a checkout (and so in an
# editable install), `core/schemas/` in an installed wheel (setup.py copies it there).
_PACKAGED_SCHEMAS = Path(__file__).resolve().parent / "schemas"
BUNDLED_SCHEMAS = _PACKAGED_SCHEMAS if _PACKAGED_SCHEMAS.is_dir() else _PACKAGED_SCHEMAS.parent.parent / "schemas"

QUEUE_FORMS = "sqlite:///path/queue.db[?topic=NAME], pubsub://PROJECT/TOPIC[?subscription=NAME]"
LAKE_FORMS = "file:///path/lake, a plain path, gs://BUCKET/PREFIX"
WAREHOUSE_FORMS = (
    "duckdb:///path/warehouse.duckdb, a plain path ending in .duckdb, "
    "bigquery://PROJECT/DATASET[?table=events&location=EU]"
)
# Query parameters a bigquery:// warehouse URL understands.
BIGQUERY_PARAMS = ("table", "location")
# BigQuery names: project ids (with an optional `domain:` prefix), dataset and table ids.
BIGQUERY_PROJECT = re.compile(r"^([a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
BIGQUERY_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
BIGQUERY_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")

# Query parameters each queue scheme understands; anything else is a typo worth failing on.
QUEUE_PARAMS = {"sqlite": ("topic", "subscription"), "pubsub": ("subscription",)}
# GCS bucket names: 3-63 characters of lowercase letters, digits, '-', '_' and '.' (222 with dots).
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class QueueLocation:
    """A parsed queue URL: the embedded SQLite queue or a Pub/Sub topic (and subscription to consume)."""

    kind: Literal["sqlite", "pubsub"]
    url: str
    path: Path | None = None  # sqlite
    project: str | None = None  # pubsub
    topic: str = "raw"
    subscription: str | None = None


@dataclass(frozen=True, slots=True)
class LakeLocation:
    """A parsed lake URL: a local folder or a GCS bucket with an optional prefix."""

    kind: Literal["file", "gs"]
    url: str
    path: Path | None = None  # file
    bucket: str | None = None  # gs
    prefix: str = ""


@dataclass(frozen=True, slots=True)
class WarehouseLocation:
    """A parsed warehouse URL: a DuckDB file, or a BigQuery dataset (and the events table in it)."""

    kind: Literal["duckdb", "bigquery"]
    url: str
    path: Path | None = None  # duckdb
    project: str | None = None  # bigquery
    dataset: str | None = None  # bigquery
    table: str = "events"  # bigquery
    location: str | None = None  # bigquery: where a missing dataset is created (None: BigQuery's default)


def _split(url: str, key: str, forms: str) -> SplitResult:
    """urlsplit, with its ValueError (e.g. a broken `[IPv6]` host) reported as a ConfigError naming the key."""
    if "\x00" in url:
        raise ConfigError(f"{key}: {url!r} contains a NUL character; accepted forms: {forms}")
    try:
        return urlsplit(url)
    except ValueError as e:
        raise ConfigError(f"{key}: {url!r} is not a URL ({e}); accepted forms: {forms}") from None


def _resolve(path: str, key: str, forms: str) -> Path:
    """An absolute local path; a path the OS cannot resolve (symlink loop, ...) is a ConfigError naming the key."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError, ValueError) as e:
        raise ConfigError(f"{key}: cannot resolve local path {path!r} ({e}); accepted forms: {forms}") from None


def parse_queue_url(url: str, key: str = "queue") -> QueueLocation:
    parts = _split(url, key, QUEUE_FORMS)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - set(QUEUE_PARAMS.get(parts.scheme, query)))
    if unknown:
        raise ConfigError(
            f"{key}: {url!r} has unknown parameter(s) {', '.join(unknown)}; accepted forms: {QUEUE_FORMS}"
        )
    if parts.scheme == "sqlite":
        # sqlite:///abs/path -> netloc "" and path "/abs/path"; sqlite://rel/path is refused as ambiguous.
        if parts.netloc or not parts.path or parts.path == "/":
            raise ConfigError(f"{key}: {url!r} is not a queue URL; accepted forms: {QUEUE_FORMS}")
        return QueueLocation(
            kind="sqlite",
            url=url,
            path=Path(parts.path),
            topic=query.get("topic", "raw"),
            subscription=query.get("subscription"),
        )
    if parts.scheme == "pubsub":
        topic = parts.path.strip("/")
        if not parts.netloc or not topic or "/" in topic:
            raise ConfigError(f"{key}: {url!r} is not a queue URL; accepted forms: {QUEUE_FORMS}")
        return QueueLocation(
            kind="pubsub", url=url, project=parts.netloc, topic=topic, subscription=query.get("subscription")
        )
    raise ConfigError(f"{key}: {url!r} is not a queue URL; accepted forms: {QUEUE_FORMS}")


def parse_lake_url(url: str, key: str = "lake") -> LakeLocation:
    if not url:
        raise ConfigError(f"{key}: empty lake URL; accepted forms: {LAKE_FORMS}")
    parts = _split(url, key, LAKE_FORMS)
    if parts.scheme == "gs":
        if not parts.netloc:
            raise ConfigError(f"{key}: {url!r} names no bucket; accepted forms: {LAKE_FORMS}")
        if not BUCKET_NAME.match(parts.netloc) or ".." in parts.netloc:
            raise ConfigError(f"{key}: {parts.netloc!r} is not a GCS bucket name; accepted forms: {LAKE_FORMS}")
        prefix = parts.path.strip("/")
        if prefix and any(segment in ("", ".", "..") for segment in prefix.split("/")):
            raise ConfigError(f"{key}: {url!r} has an empty, '.' or '..' prefix segment; accepted forms: {LAKE_FORMS}")
        return LakeLocation(kind="gs", url=url, bucket=parts.netloc, prefix=prefix)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"{key}: {url!r} names a remote host; accepted forms: {LAKE_FORMS}")
        # file URLs percent-encode (Path.as_uri() writes %20 for a space): decode to the real path.
        return LakeLocation(kind="file", url=url, path=_resolve(unquote(parts.path), key, LAKE_FORMS))
    if parts.scheme == "" or (len(parts.scheme) == 1 and url[1:3] in (":\\", ":/")):
        return LakeLocation(kind="file", url=url, path=_resolve(url, key, LAKE_FORMS))
    raise ConfigError(f"{key}: {url!r} is not a lake URL; accepted forms: {LAKE_FORMS}")


def parse_warehouse_url(url: str, key: str = "warehouse") -> WarehouseLocation:
    parts = _split(url, key, WAREHOUSE_FORMS)
    if parts.scheme == "duckdb" and parts.path and not parts.netloc:
        return WarehouseLocation(kind="duckdb", url=url, path=Path(parts.path))
    if parts.scheme == "" and url.endswith(".duckdb"):
        return WarehouseLocation(kind="duckdb", url=url, path=_resolve(url, key, WAREHOUSE_FORMS))
    if parts.scheme.lower() == "bigquery":
        return _parse_bigquery(url, parts, key)
    raise ConfigError(f"{key}: {url!r} is not a warehouse URL; accepted forms: {WAREHOUSE_FORMS}")


def _parse_bigquery(url: str, parts: SplitResult, key: str) -> WarehouseLocation:
    """`bigquery://PROJECT/DATASET[?table=NAME&location=LOC]`, each name checked against BigQuery's rules."""
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - set(BIGQUERY_PARAMS))
    if unknown:
        raise ConfigError(
            f"{key}: {url!r} has unknown parameter(s) {', '.join(unknown)}; accepted forms: {WAREHOUSE_FORMS}"
        )
    project, dataset = parts.netloc, parts.path.strip("/")
    if not project or not dataset:
        raise ConfigError(f"{key}: {url!r} names no project and dataset; accepted forms: {WAREHOUSE_FORMS}")
    if not BIGQUERY_PROJECT.match(project):
        raise ConfigError(f"{key}: {project!r} is not a BigQuery project id; accepted forms: {WAREHOUSE_FORMS}")
    if not BIGQUERY_DATASET.match(dataset):
        raise ConfigError(
            f"{key}: {dataset!r} is not a BigQuery dataset name (letters, digits, _); accepted forms: {WAREHOUSE_FORMS}"
        )
    table = query.get("table", "events")
    if not BIGQUERY_TABLE.match(table) or table.startswith("_eventkit"):
        raise ConfigError(
            f"{key}: table {table!r} is not a usable BigQuery table name; accepted forms: {WAREHOUSE_FORMS}"
        )
    location = query.get("location") or None
    return WarehouseLocation(kind="bigquery", url=url, project=project, dataset=dataset, table=table, location=location)
