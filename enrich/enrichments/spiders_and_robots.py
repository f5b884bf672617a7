"""Bot and spider flagging: the `com.iab.snowplow/spiders_and_robots` context for every event.

Accepts Snowplow's iab_spiders_and_robots_enrichment 1-0-0 config (ipFile, excludeUseragentFile,
includeUseragentFile, each `{database, uri}`), but the IAB/ABC lists themselves are licensed and not
shipped, so the verdict comes from (1) an IP list when `ipFile` names a local file of CIDR ranges, one
per line (`#` comments), and (2) the maintained crawler patterns of ua-parser (device family
`Spider`). The user-agent files are not read (their format is the IAB's), which the docstring of
`build` repeats. Outcome fields follow Snowplow's: spiderOrRobot, category, reason, primaryImpact.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from core.badrows import EnrichmentFailureMessage
from core.errors import ConfigError
from core.iglu import SchemaKey
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext
from enrich.enrichments.config import EnrichmentConfig
from enrich.enrichments.proofs import Shapes
from enrich.enrichments.ua_parser import is_spider
from enrich.event import EnrichedEvent

__all__ = ["SPIDERS_AND_ROBOTS", "SpidersAndRobots", "build", "read_ip_ranges"]

SPIDERS_AND_ROBOTS: Final = "iglu:com.iab.snowplow/spiders_and_robots/jsonschema/1-0-0"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _context(spider: bool, category: str, reason: str, impact: str) -> dict[str, Any]:
    data = {"spiderOrRobot": spider, "category": category, "reason": reason, "primaryImpact": impact}
    return {"schema": SPIDERS_AND_ROBOTS, "data": data}


_BROWSER = _context(False, "BROWSER", "PASSED_ALL", "NONE")
_BAD_IP = _context(True, "SPIDER_OR_ROBOT", "FAILED_IP_EXCLUDE", "UNKNOWN")
_BAD_UA = _context(True, "SPIDER_OR_ROBOT", "FAILED_UA_EXCLUDE", "UNKNOWN")


def read_ip_ranges(path: Path) -> tuple[Network, ...]:
    """CIDR ranges (or single addresses), one per line; blank lines and `#` comments ignored."""
    ranges: list[Network] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"spiders and robots ipFile {path}: cannot be read ({e})") from None
    for number, line in enumerate(lines, 1):
        text = line.partition("#")[0].strip()
        if text:
            try:
                ranges.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ConfigError(f"spiders and robots ipFile {path}:{number}: {text!r} is not a CIDR range") from None
    return tuple(ranges)


class SpidersAndRobots(BuiltInEnrichment):
    """Attaches one spiders_and_robots context per event (IP list first, then the user agent)."""

    __slots__ = ("_bad_ip", "_bad_ua", "_browser", "_ip_verdict", "ranges")

    def __init__(self, identifier: str, config_schema: SchemaKey, ranges: tuple[Network, ...]) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self.ranges = ranges
        self._ip_verdict = lru_cache(maxsize=8_192)(self._listed)
        shapes = Shapes()  # each of the three contexts is a constant: its own shape
        self._browser, self._bad_ip, self._bad_ua = (
            (context, shapes.of(name)) for name, context in (("browser", _BROWSER), ("ip", _BAD_IP), ("ua", _BAD_UA))
        )

    def _listed(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self.ranges)

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        if self.ranges and event.user_ipaddress and self._ip_verdict(event.user_ipaddress):
            verdict = self._bad_ip
        elif event.useragent and is_spider(event.useragent):
            verdict = self._bad_ua
        else:
            verdict = self._browser
        ctx.add_derived_context(*verdict)
        return None


def build(config: EnrichmentConfig) -> SpidersAndRobots:
    """`ipFile.database` is read when it names a local file (relative to the config's folder); the IAB
    user-agent files are not read: crawler user agents are recognised by ua-parser instead."""
    ranges: tuple[Network, ...] = ()
    entry = config.parameters.get("ipFile")
    if isinstance(entry, dict) and isinstance(entry.get("database"), str):
        database = Path(entry["database"])
        path = database if database.is_absolute() else config.folder / database
        if path.is_file():
            ranges = read_ip_ranges(path)
    return SpidersAndRobots(config.name, config.schema, ranges)
