"""Referer parser: classifies the referer into refr_medium/source/term from a referer dataset.

Rules (snowplow.md §3.4, referer_parser 1-0-0 / 2-0-0): with no referer nothing is set; a referer
whose host is the page's host, or one of `internalDomains`, is `internal`; else the dataset is
searched by path prefix (on the host or a parent domain), then by host or parent domain, giving the
medium (search, social, email, paid) and source; a search referer's term is the first of its
source's query parameters present in the referer query; anything not found is `unknown`.
The dataset is enrich/enrichments/data/referers.json unless `database` names a readable file
(relative to the config's folder) in the same layout; nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

from core.badrows import EnrichmentFailureMessage
from core.errors import ConfigError
from core.iglu import SchemaKey
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext, parse_query
from enrich.enrichments.config import EnrichmentConfig
from enrich.event import EnrichedEvent

__all__ = ["BUNDLED_REFERERS", "Referer", "RefererDataset", "RefererParser", "build", "load_dataset"]

# The package's data file (package data in the wheel, beside the compiled module; in the source tree otherwise).
BUNDLED_REFERERS = Path(str(files("enrich.enrichments"))) / "data" / "referers.json"


@dataclass(frozen=True, slots=True)
class Referer:
    """What the dataset says about one referer domain."""

    medium: str
    source: str
    parameters: tuple[str, ...]


class RefererDataset:
    """Host → Referer and (host, path prefix) → Referer tables, built once."""

    __slots__ = ("_hosts", "by_host", "by_path")

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._hosts: dict[str, tuple[Referer | None, list[str] | None]] = {}  # memo: host -> (verdict, path hosts)
        self.by_host: dict[str, Referer] = {}
        self.by_path: dict[str, list[tuple[str, Referer]]] = {}
        for medium, sources in document.items():
            if medium.startswith("_") or not isinstance(sources, dict):
                continue  # comments such as `_source`
            for source, entry in sources.items():
                referer = Referer(medium, source, tuple(entry.get("parameters", ())))
                for domain in entry.get("domains", ()):
                    host, slash, path = domain.lower().partition("/")
                    if slash:
                        self.by_path.setdefault(host, []).append(("/" + path, referer))
                    else:
                        self.by_host.setdefault(host, referer)
        for entries in self.by_path.values():
            entries.sort(key=lambda e: -len(e[0]))  # longest prefix first

    def lookup(self, host: str, path: str | None) -> Referer | None:
        """The referer for `host` (lower-case) and `path`: path entries of the host and its parent domains
        first (they are the more specific), then the host and its parent domains."""
        memo = self._hosts.get(host)
        if memo is None:
            candidates = _candidates(host)
            by_host = next((self.by_host[c] for c in candidates if c in self.by_host), None)
            with_paths = [c for c in candidates if c in self.by_path] or None
            memo = (by_host, with_paths)
            if len(self._hosts) < 65_536:  # referer hosts repeat; the memo is bounded all the same
                self._hosts[host] = memo
        by_host, with_paths = memo
        if path and with_paths:
            for candidate in with_paths:
                for prefix, referer in self.by_path[candidate]:
                    if path.startswith(prefix):
                        return referer
        return by_host


def _candidates(host: str) -> list[str]:
    """`a.b.example.com` → [a.b.example.com, b.example.com, example.com] (never a bare top-level label)."""
    out = [host]
    while host.count(".") >= 2:
        host = host[host.index(".") + 1 :]
        out.append(host)
    return out


@cache
def load_dataset(path: Path) -> RefererDataset:
    """Read and index a referer dataset file (cached per path: every worker shares one index)."""
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise ConfigError(f"referer dataset {path}: cannot be read ({e})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"referer dataset {path}: expected an object of media")
    return RefererDataset(document)


class RefererParser(BuiltInEnrichment):
    """Sets refr_medium/source/term from refr_urlhost/path/query (already split by enrich.derive)."""

    __slots__ = ("dataset", "internal")

    def __init__(
        self, identifier: str, config_schema: SchemaKey, dataset: RefererDataset, internal_domains: Iterable[str]
    ) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self.dataset = dataset
        self.internal = frozenset(d.lower() for d in internal_domains)

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        host = event.refr_urlhost
        if host is None:
            return None
        host = host.lower()
        page_host = event.page_urlhost
        if (page_host is not None and host == page_host.lower()) or host in self.internal:
            event.refr_medium = "internal"
            return None
        referer = self.dataset.lookup(host, event.refr_urlpath)
        if referer is None:
            event.refr_medium = "unknown"
            return None
        event.refr_medium = referer.medium
        event.refr_source = referer.source
        if referer.parameters and event.refr_urlquery:
            wanted = referer.parameters
            for name, value in parse_query(event.refr_urlquery):
                if value and name in wanted:
                    event.refr_term = value
                    break
        return None


def build(config: EnrichmentConfig) -> RefererParser:
    """From referer_parser 1-0-0 (internalDomains) or 2-0-x (internalDomains, database, uri) parameters."""
    params = config.parameters
    path = BUNDLED_REFERERS
    database = params.get("database")
    if isinstance(database, str) and database:
        local = Path(database) if Path(database).is_absolute() else config.folder / database
        if local.is_file():
            path = local
    return RefererParser(config.name, config.schema, load_dataset(path.resolve()), params.get("internalDomains", ()))
