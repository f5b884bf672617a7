"""The resolver: an ordered chain of schema repositories behind an LRU cache with a TTL, as Iglu's client does.

Order (iglu-scala-client): repositories whose `vendorPrefixes` match the key's vendor first, then by
class (local folder before HTTP / gs://), then by `priority`. Each is tried until one has the schema.
Fallback repositories (the bundled schemas `with_bundled_schemas` appends) come after all of them,
whatever their class and priority: a configured repository always wins, as in an Iglu resolver.

    found anywhere                        -> the schema (cached until the TTL)
    every repository said not-found       -> SchemaNotFound (cached until the TTL, so a schema
                                             published later is seen without a restart)
    none found it and one could not answer -> core.errors.RegistryUnavailable (never cached;
                                             callers retry: an outage is never a verdict on data)

`$ref`s go through `lookup_as(reader)`: a schema its repository marks private (PrivateSchema) that
`reader` may not read (registry.keys.may_read) is not found, so one vendor's schema never pulls
another vendor's private schema into validation or into bad-row messages.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import IgluParseError, RegistryUnavailable
from core.iglu import SchemaKey, SchemaVer, check_parts
from core.locations import BUNDLED_SCHEMAS
from core.raw import format_instant
from registry.cache_ttl import NOT_SET, NotSet, Ttl
from registry.keys import Principal, may_read
from registry.repositories import PrivateSchema, RepoFailure, Repository
from registry.resolver_config import ResolverConfig, parse_resolver_config, read_locations

__all__ = [
    "DEFAULT_CACHE_TTL_S",
    "Resolution",
    "Resolver",
    "SchemaNotFound",
    "configured_cache_ttl",
    "with_bundled_schemas",
]

DEFAULT_CACHE_TTL_S = 600.0  # a command's default when neither the user nor a resolver config sets one

MAX_ERRORS_PER_REPOSITORY = 32  # Iglu keeps a bounded set of errors per repository
MAX_SUPERSEDING_HOPS = 16


def with_bundled_schemas(locations: str) -> str:
    """`locations` (comma-separated) with the bundled schemas (Snowplow's own: payload_data, contexts, bad
    rows, enrichment configs) consulted last, unless a local location already is that folder.

    Every composition root (`eventkit up`, `enrich`, `load`, `replay`) goes through this, so a team's
    registry never has to copy Snowplow's schemas to validate tracker payloads. "Last" holds whatever
    the other repositories' class and priority: `Resolver.from_locations` makes the bundled folder,
    when it ends a chain of several locations, a fallback consulted after every configured repository.
    """
    parts = [p.strip() for p in locations.split(",") if p.strip()]
    if not any(_is_bundled(p) for p in parts):
        parts.append(str(BUNDLED_SCHEMAS.resolve()))
    return ",".join(parts)


def _is_bundled(location: str) -> bool:
    try:
        return "://" not in location and Path(location).expanduser().resolve() == BUNDLED_SCHEMAS.resolve()
    except (OSError, RuntimeError, ValueError):
        return False


def configured_cache_ttl(flag: float | None, settings: Any) -> Ttl:
    """The cache TTL a command was told to use: `--cache-ttl` first, then `registry.cache_ttl` when set in
    eventkit.toml or EVENTKIT_REGISTRY__CACHE_TTL; NOT_SET when neither (a resolver config's `cacheTtl`, then
    the command's default apply). `settings` is registry.settings.RegistrySettings.
    """
    if flag is not None:
        return flag
    if "cache_ttl" in settings.model_fields_set:
        ttl: int | None = settings.cache_ttl
        return None if ttl is None else float(ttl)
    return NOT_SET


class SchemaNotFound(Exception):
    """No repository has the schema (or it is unusable); a value for bad rows, carried as Iglu's ResolutionError."""

    def __init__(self, key: SchemaKey, lookup_history: list[dict[str, Any]]) -> None:
        super().__init__(f"{key.uri} not found in {len(lookup_history)} repositories")
        self.key = key
        self.lookup_history = lookup_history

    def to_json(self) -> dict[str, Any]:
        """IgluClientError JSON: `{"error": "ResolutionError", "lookupHistory": [...]}`."""
        return {"error": "ResolutionError", "lookupHistory": self.lookup_history}


@dataclass(frozen=True, slots=True)
class Resolution:
    """A schema resolved with supersession applied: `key` is the version to validate with."""

    key: SchemaKey
    original: SchemaKey
    schema: dict[str, Any]

    @property
    def superseded(self) -> bool:
        return self.key != self.original


@dataclass(slots=True)
class _History:
    errors: list[dict[str, str]] = field(default_factory=list)
    attempts: int = 0
    last_attempt: str = ""

    def record(self, error: dict[str, str], at: str) -> None:
        if error not in self.errors and len(self.errors) < MAX_ERRORS_PER_REPOSITORY:
            self.errors.append(error)
        self.attempts += 1
        self.last_attempt = at


@dataclass(slots=True)
class _Entry:
    value: Any  # schema dict, list of keys, or None for not-found
    source: str | None  # the repository that answered
    history: dict[str, _History]
    expires: float | None


def _history_json(history: dict[str, _History]) -> list[dict[str, Any]]:
    return [
        {"repository": name, "errors": list(h.errors), "attempts": h.attempts, "lastAttempt": h.last_attempt}
        for name, h in history.items()
    ]


def _now_iso() -> str:
    return format_instant(time.time_ns() // 1_000_000)


class Resolver:
    """Looks schemas up through an ordered repository chain, with a thread-safe LRU + TTL cache."""

    def __init__(
        self,
        repositories: Sequence[Repository],
        *,
        fallbacks: Sequence[Repository] = (),
        cache_size: int = 500,
        cache_ttl: float | None = 600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fallbacks = tuple(fallbacks)  # consulted after every other repository, in this order
        self.repositories = (*repositories, *self.fallbacks)
        self.configured = tuple(repositories)  # in the order given; ordered_for() sorts them Iglu's way
        self.cache_size = max(1, cache_size)
        self.cache_ttl = cache_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[Any, _Entry] = OrderedDict()
        self.generation = 0  # bumped by invalidate(), so holders of derived data (validators) can notice

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_locations(
        cls,
        locations: str | Sequence[str],
        *,
        cache_size: int = 500,
        cache_ttl: Ttl = NOT_SET,
        default_ttl: float | None = DEFAULT_CACHE_TTL_S,
        api_key: str | None = None,
    ) -> Resolver:
        """A resolver over location strings (folders, file://, http(s)://, …/api, gs://, resolver-config files).

        The given order is the `priority` order; Iglu's vendor-prefix and class ordering still apply
        first. The bundled schemas, when they end a chain of several locations, are a fallback tried
        after every other repository. The TTL (seconds, None = never expire; hits and not-found alike)
        is `cache_ttl` when given, else the `cacheTtl` of a resolver-config file, else `default_ttl`.
        """
        parsed = read_locations(locations, api_key=api_key)
        if not isinstance(cache_ttl, NotSet):
            ttl = cache_ttl
        elif parsed.ttl_configured:
            ttl = parsed.cache_ttl
        else:
            ttl = default_ttl
        specs = list(parsed.repositories)
        fallbacks: list[Repository] = []
        if len(specs) > 1 and specs[-1].kind == "local" and _is_bundled(specs[-1].location):
            fallbacks.append(specs.pop().build())
        return cls([spec.build() for spec in specs], fallbacks=fallbacks, cache_size=cache_size, cache_ttl=ttl)

    @classmethod
    def from_config(cls, config: dict[str, Any], *, base_dir: Path | None = None) -> Resolver:
        """A resolver from an Iglu resolver-config SDJ (1-0-0 … 1-0-3), with its cacheSize and cacheTtl."""
        parsed: ResolverConfig = parse_resolver_config(config, base_dir=base_dir)
        return cls(
            [spec.build() for spec in parsed.repositories], cache_size=parsed.cache_size, cache_ttl=parsed.cache_ttl
        )

    @property
    def clock(self) -> Callable[[], float]:
        """The monotonic clock cache expiry is measured with."""
        return self._clock

    def close(self) -> None:
        """Close repository connections."""
        for repository in self.repositories:
            repository.close()

    # -- ordering -----------------------------------------------------------------------------

    def ordered_for(self, vendor: str) -> list[Repository]:
        """Iglu's lookup order for a vendor: prefix match first, then class priority, then priority."""

        def rank(repository: Repository) -> tuple[bool, int, int]:
            matches = any(vendor.startswith(prefix) for prefix in repository.vendor_prefixes)
            return (not matches, repository.class_priority, repository.priority)

        return [*sorted(self.configured, key=rank), *self.fallbacks]

    # -- cache --------------------------------------------------------------------------------

    def _cached(self, cache_key: Any) -> _Entry | None:
        """The live entry for a cache key, or None; expired entries are returned via `_stale` only."""
        with self._lock:
            entry = self._cache.get(cache_key)
            if entry is None:
                return None
            if entry.expires is not None and self._clock() >= entry.expires:
                return None
            self._cache.move_to_end(cache_key)
            return entry

    def _stale_history(self, cache_key: Any) -> dict[str, _History]:
        with self._lock:
            entry = self._cache.get(cache_key)
            if entry is None or entry.value is not None:
                return {}
            return {name: _History(list(h.errors), h.attempts, h.last_attempt) for name, h in entry.history.items()}

    def _store(self, cache_key: Any, entry: _Entry) -> None:
        with self._lock:
            self._cache[cache_key] = entry
            self._cache.move_to_end(cache_key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _expiry(self) -> float | None:
        return None if self.cache_ttl is None else self._clock() + self.cache_ttl

    def invalidate(self, key: SchemaKey | None = None) -> None:
        """Forget one schema (and its model's version list) or, with no key, everything cached."""
        with self._lock:
            self.generation += 1
            if key is None:
                self._cache.clear()
                return
            self._cache.pop(key, None)
            self._cache.pop(("list", key.vendor, key.name, key.version.model), None)

    # -- lookups ------------------------------------------------------------------------------

    def lookup(self, key: SchemaKey) -> dict[str, Any]:
        """The schema JSON for `key` (shared: do not mutate it); SchemaNotFound or RegistryUnavailable otherwise."""
        schema, _ = self._lookup_timed(key)
        return schema

    def _lookup_timed(self, key: SchemaKey) -> tuple[dict[str, Any], float | None]:
        """The schema and the clock time its cache entry expires (None: never)."""
        entry = self._cached(key)
        if entry is None:
            entry = self._fetch(key)
        if entry.value is None:
            raise SchemaNotFound(key, _history_json(entry.history))
        schema: dict[str, Any] = entry.value
        return schema, entry.expires

    def lookup_as(self, reader: Principal) -> Callable[[SchemaKey], dict[str, Any]]:
        """lookup() for `reader`: a private schema it may not read raises SchemaNotFound (existence not told)."""

        def lookup(key: SchemaKey) -> dict[str, Any]:
            schema = self.lookup(key)
            if isinstance(schema, PrivateSchema) and not may_read(reader, key, is_public=False):
                at = _now_iso()  # answered as every repository not having it, so existence is not told
                history = {
                    repository.name: _History([{"error": "NotFound"}], 1, at) for repository in self.repositories
                }
                raise SchemaNotFound(key, _history_json(history))
            return schema

        return lookup

    def source_of(self, key: SchemaKey) -> str | None:
        """The name of the repository that served the cached schema for `key`, if cached."""
        entry = self._cached(key)
        return None if entry is None else entry.source

    def _fetch(self, key: SchemaKey) -> _Entry:
        history = self._stale_history(key)
        failures: list[str] = []
        for repository in self.ordered_for(key.vendor):
            at = _now_iso()
            try:
                schema = repository.fetch(key)
            except RepoFailure as e:
                history.setdefault(repository.name, _History()).record(e.to_json(), at)
                failures.append(f"{repository.name}: {e.message}")
                continue
            if schema is not None:
                entry = _Entry(schema, repository.name, {}, self._expiry())
                self._store(key, entry)
                return entry
            history.setdefault(repository.name, _History()).record({"error": "NotFound"}, at)
        if failures:
            raise RegistryUnavailable(f"cannot resolve {key.uri}: " + "; ".join(failures))
        entry = _Entry(None, None, history, self._expiry())
        self._store(key, entry)
        return entry

    def resolve(self, key: SchemaKey) -> Resolution:
        """Look `key` up and follow `$supersededBy` to the version that must be used for validation.

        A `$supersededBy` that is not a greater version of the same schema is a ClientFailure
        (SchemaNotFound naming the repository that served it), as in Iglu.
        """
        return self.resolve_timed(key)[0]

    def resolve_timed(self, key: SchemaKey) -> tuple[Resolution, float | None]:
        """resolve() plus the `clock` time until which the answer may be reused (None: until invalidate())."""
        current = key
        schema, expires = self._lookup_timed(current)
        for _ in range(MAX_SUPERSEDING_HOPS):
            successor = schema.get("$supersededBy")
            if successor is None:
                break
            try:
                version = SchemaVer.parse(successor) if isinstance(successor, str) else None
            except IgluParseError:
                version = None
            if version is None or version <= current.version:
                message = f"{current.uri} has $supersededBy {successor!r}, which is not a greater SchemaVer"
                history = _History()
                history.record({"error": "ClientFailure", "message": message}, _now_iso())
                raise SchemaNotFound(key, _history_json({self.source_of(current) or "resolver": history}))
            current = SchemaKey(current.vendor, current.name, current.format, version)
            schema, successor_expires = self._lookup_timed(current)
            if successor_expires is not None:
                expires = successor_expires if expires is None else min(expires, successor_expires)
        return Resolution(current, key, schema), expires

    def list_versions(self, vendor: str, name: str, model: int) -> list[SchemaKey]:
        """Every known `jsonschema` version of `vendor/name` in MODEL, ascending, merged over all repositories.

        RegistryUnavailable if any repository could not answer (a partial list could misorder columns);
        IgluParseError when vendor or name is not a valid Iglu part (they name folders and URLs).
        """
        check_parts(vendor, name, "jsonschema")
        cache_key = ("list", vendor, name, model)
        entry = self._cached(cache_key)
        if entry is None:
            found: set[SchemaKey] = set()
            failures: list[str] = []
            for repository in self.ordered_for(vendor):
                try:
                    listed = repository.list_versions(vendor, name, model)
                except RepoFailure as e:
                    failures.append(f"{repository.name}: {e.message}")
                    continue
                found.update(listed or ())
            if failures:
                raise RegistryUnavailable(f"cannot list {vendor}/{name} model {model}: " + "; ".join(failures))
            entry = _Entry(sorted(found, key=lambda k: k.version), None, {}, self._expiry())
            self._store(cache_key, entry)
        return list(entry.value)
