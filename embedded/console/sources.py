"""Where the console reads from: the Micro store, the lake, the registry, the warehouse, the queue, the metrics.

`eventkit up` hands over its own (store, lake, registry, queue, warehouse, its own address for
metrics); `eventkit console` opens them from a data folder or from URLs. Each is optional: a page
whose source is missing says so instead of failing. The lake, resolver and schema store are opened
on first use and kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.lake import Lake, open_lake
from embedded.micro_store import MicroStore
from registry.resolver import Resolver, with_bundled_schemas
from registry.store import SchemaStore, open_store

__all__ = ["SELF", "ConsoleSources", "schema_store_location"]

SELF = "self"  # metrics_base: the server the console runs in (its own /metrics and /metrics/enrich)
SCHEMA_TTL_S = 2.0  # as `up`: a schema published a moment ago is seen on the next page


def schema_store_location(registry: str) -> str | None:
    """The first registry location when it is a store the console can list (a folder or gs://), else None."""
    first = registry.split(",", maxsplit=1)[0].strip()
    if first.startswith("gs://"):
        return first
    if "://" in first and not first.startswith("file://"):
        return None
    folder = Path(first.removeprefix("file://")).expanduser()
    return str(folder) if folder.is_dir() else None


@dataclass
class ConsoleSources:
    """The console's inputs; None means "not available here"."""

    store: MicroStore | None = None
    lake_url: str | None = None
    registry: str | None = None  # resolver locations (comma-separated), the bundled schemas added when read
    warehouse_url: str | None = None
    raw_url: str | None = None  # where a replay publishes; None: preview only
    metrics_base: str | None = None  # http://host:port serving /metrics and /metrics/enrich
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _opened: dict[str, Any] = field(default_factory=dict, repr=False)

    def lake(self) -> Lake | None:
        if self.lake_url is None:
            return None
        with self._lock:
            if "lake" not in self._opened:
                self._opened["lake"] = open_lake(self.lake_url)
            lake: Lake = self._opened["lake"]
            return lake

    def resolver(self) -> Resolver | None:
        if self.registry is None:
            return None
        with self._lock:
            if "resolver" not in self._opened:
                self._opened["resolver"] = Resolver.from_locations(
                    with_bundled_schemas(self.registry), cache_ttl=SCHEMA_TTL_S
                )
            resolver: Resolver = self._opened["resolver"]
            return resolver

    def fresh_resolver(self) -> Resolver | None:
        """A resolver with no cache, for a replay: today's registry exactly (as `eventkit replay` reads it)."""
        if self.registry is None:
            return None
        return Resolver.from_locations(with_bundled_schemas(self.registry), default_ttl=None)

    def schemas(self) -> SchemaStore | None:
        location = schema_store_location(self.registry) if self.registry is not None else None
        if location is None:
            return None
        with self._lock:
            if "schemas" not in self._opened:
                self._opened["schemas"] = open_store(location)
            store: SchemaStore = self._opened["schemas"]
            return store
