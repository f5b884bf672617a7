"""Where schemas come from: Iglu resolver-config JSON (1-0-0 … 1-0-3) and location strings, as repository specs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from jsonschema import Draft4Validator

from core.errors import ConfigError, IgluParseError
from core.iglu import SchemaKey, parse_self_describing
from core.locations import BUNDLED_SCHEMAS
from registry.cache_ttl import NOT_SET, NotSet
from registry.repositories import Repository
from registry.repositories.gcs import GcsRepository
from registry.repositories.http import HttpRepository
from registry.repositories.local import LocalRepository

__all__ = [
    "LOCATION_FORMS",
    "NOT_SET",
    "NotSet",
    "RepositorySpec",
    "ResolverConfig",
    "parse_locations",
    "parse_resolver_config",
    "read_locations",
]

LOCATION_FORMS = (
    "a local folder (Iglu static layout), file:///path, http(s)://host[/path] (static repo), "
    "http(s)://host/api (Iglu Server), gs://bucket/prefix, or a resolver-config JSON file"
)
CONFIG_VENDOR = "com.snowplowanalytics.iglu"
CONFIG_NAME = "resolver-config"
CONFIG_VERSIONS = ("1-0-0", "1-0-1", "1-0-2", "1-0-3")
DEFAULT_CACHE_SIZE = 500


@dataclass(frozen=True, slots=True)
class RepositorySpec:
    """One repository as configured: Iglu's name/priority/vendorPrefixes plus where it lives."""

    name: str
    kind: Literal["local", "http", "gs"]
    location: str  # folder path, base URI, or gs://bucket/prefix
    priority: int = 0
    vendor_prefixes: tuple[str, ...] = ()
    apikey: str | None = None

    def build(self) -> Repository:
        """The live repository object for this spec."""
        if self.kind == "local":
            return LocalRepository(
                self.location, name=self.name, priority=self.priority, vendor_prefixes=self.vendor_prefixes
            )
        if self.kind == "http":
            return HttpRepository(
                self.location,
                apikey=self.apikey,
                name=self.name,
                priority=self.priority,
                vendor_prefixes=self.vendor_prefixes,
            )
        parts = urlsplit(self.location)
        return GcsRepository(
            parts.netloc, parts.path, name=self.name, priority=self.priority, vendor_prefixes=self.vendor_prefixes
        )


@dataclass(frozen=True, slots=True)
class ResolverConfig:
    """A parsed resolver configuration: cache bounds and the repositories in configuration order."""

    repositories: tuple[RepositorySpec, ...]
    cache_size: int = DEFAULT_CACHE_SIZE
    cache_ttl: float | None = None  # seconds; None = entries never expire (Iglu without cacheTtl)
    ttl_configured: bool = False  # whether the config says `cacheTtl` at all (null included)


def _spec_for_uri(
    uri: str, *, name: str, priority: int, prefixes: tuple[str, ...], apikey: str | None
) -> RepositorySpec:
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return RepositorySpec(name, "http", uri.rstrip("/"), priority, prefixes, apikey)
    if parts.scheme == "gs" and parts.netloc:
        return RepositorySpec(name, "gs", uri.rstrip("/"), priority, prefixes)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return RepositorySpec(name, "local", parts.path, priority, prefixes)
    raise ConfigError(f"registry: {uri!r} is not a repository location; accepted forms: {LOCATION_FORMS}")


def _validate_against_bundled(config: dict[str, Any], version: str) -> None:
    schema_file = BUNDLED_SCHEMAS / CONFIG_VENDOR / CONFIG_NAME / "jsonschema" / version
    schema = orjson.loads(schema_file.read_bytes())
    schema = {k: v for k, v in schema.items() if k not in ("self", "$schema")}
    errors = sorted(Draft4Validator(schema).iter_errors(config["data"]), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "data"
        raise ConfigError(f"resolver config: {where}: {errors[0].message}")


def parse_resolver_config(config: Any, *, base_dir: Path | None = None, priority_offset: int = 0) -> ResolverConfig:
    """Read an `iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-x` SDJ, checked against its schema.

    `embedded.path` is a folder (relative paths are taken from `base_dir`); `http.uri` may also be
    `gs://bucket/prefix` (a GCS static repo) — an eventkit extension the 1-0-x schemas accept as a URI.
    """
    try:
        sdj = parse_self_describing(config)
    except IgluParseError as e:
        raise ConfigError(f"resolver config: {e}") from e
    key: SchemaKey = sdj.schema
    if (key.vendor, key.name, key.format) != (CONFIG_VENDOR, CONFIG_NAME, "jsonschema") or str(
        key.version
    ) not in CONFIG_VERSIONS:
        raise ConfigError(
            f"resolver config: schema {key.uri} is not iglu:{CONFIG_VENDOR}/{CONFIG_NAME}/jsonschema/1-0-0..1-0-3"
        )
    _validate_against_bundled(config, str(key.version))
    data = sdj.data
    specs: list[RepositorySpec] = []
    for repo in data["repositories"]:
        name = repo["name"]
        priority = int(repo["priority"]) + priority_offset
        prefixes = tuple(repo["vendorPrefixes"])
        connection = repo["connection"]
        if "embedded" in connection:
            path = Path(connection["embedded"]["path"]).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            specs.append(RepositorySpec(name, "local", str(path), priority, prefixes))
        else:
            http = connection["http"]
            specs.append(
                _spec_for_uri(http["uri"], name=name, priority=priority, prefixes=prefixes, apikey=http.get("apikey"))
            )
    ttl = data.get("cacheTtl")
    return ResolverConfig(
        repositories=tuple(specs),
        cache_size=int(data.get("cacheSize", DEFAULT_CACHE_SIZE)),
        cache_ttl=None if ttl is None else float(ttl),
        ttl_configured="cacheTtl" in data,
    )


def parse_locations(locations: str | Sequence[str], *, api_key: str | None = None) -> list[RepositorySpec]:
    """Repository specs for location strings; list order becomes `priority` (0, 1, …), config files expand in place.

    A string holding commas is split, so one setting can name a chain (`./schemas,https://iglu.acme.com/api`).
    `api_key` is sent to every HTTP location given as a URL (resolver-config files carry their own keys).
    """
    return list(read_locations(locations, api_key=api_key).repositories)


def read_locations(locations: str | Sequence[str], *, api_key: str | None = None) -> ResolverConfig:
    """parse_locations() plus the cache TTL the first resolver-config file that states a `cacheTtl` sets.

    `ttl_configured` is False when no file states one, so the caller's own default applies.
    """
    items = [locations] if isinstance(locations, str) else list(locations)
    flat = [part.strip() for item in items for part in item.split(",") if part.strip()]
    if not flat:
        raise ConfigError(f"registry: no repository location given; accepted forms: {LOCATION_FORMS}")
    specs: list[RepositorySpec] = []
    ttl: ResolverConfig | None = None
    for index, location in enumerate(flat):
        parts = urlsplit(location)
        is_url = parts.scheme in ("http", "https", "gs", "file") and len(parts.scheme) > 1
        if is_url:
            specs.append(_spec_for_uri(location, name=location, priority=index, prefixes=(), apikey=api_key))
            continue
        path = Path(location).expanduser()
        if path.is_file():
            try:
                config = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError as e:
                raise ConfigError(f"registry: {location} is not a JSON resolver config: {e}") from e
            parsed = parse_resolver_config(config, base_dir=path.resolve().parent, priority_offset=index * 1000)
            specs.extend(parsed.repositories)
            if ttl is None and parsed.ttl_configured:
                ttl = parsed
        elif path.is_dir():
            specs.append(RepositorySpec(f"local:{path.resolve()}", "local", str(path), index))
        else:
            raise ConfigError(f"registry: {location!r} does not exist; accepted forms: {LOCATION_FORMS}")
    if ttl is None:
        return ResolverConfig(tuple(specs))
    return ResolverConfig(tuple(specs), ttl.cache_size, ttl.cache_ttl, ttl_configured=True)
