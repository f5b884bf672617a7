"""IP anonymisation: masks the end of user_ipaddress with `x`, after every IP-based lookup has run.

anon_ip 1-0-0/1-0-1 (snowplow.md §3.5): the last `anonOctets` (1-4) IPv4 octets become `x`
(`1.2.3.x`; an IPv4-mapped `::ffff:` prefix is kept); an IPv6 address is written in full 8-segment
form (Java style: lower-case hex without leading zeros, no `::`) and its last `anonSegments` (1-8)
segments become `x`; without `anonSegments` (1-0-0), `anonOctets` applies to IPv6 too. A value
that is not an IP address is left as it is.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from core.badrows import EnrichmentFailureMessage
from core.iglu import SchemaKey
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext
from enrich.enrichments.config import EnrichmentConfig
from enrich.event import EnrichedEvent

__all__ = ["AnonIp", "anonymise_ip", "build"]


_IPV4 = re.compile(
    r"(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(?:25[0-5]|2[0-4]\d|1?\d?\d)"
)
_MASKS = {1: "{0}.{1}.{2}.x", 2: "{0}.{1}.x.x", 3: "{0}.x.x.x", 4: "x.x.x.x"}


def _anonymise_v4(ip: str, octets: int) -> str | None:
    m = _IPV4.fullmatch(ip)
    return _MASKS[octets].format(*m.groups()) if m is not None else None


@lru_cache(maxsize=8_192)  # client addresses repeat from event to event
def anonymise_ip(ip: str, octets: int, segments: int) -> str:
    """`ip` with its last octets (IPv4) or segments (IPv6) replaced by `x`; other strings unchanged."""
    v4 = _anonymise_v4(ip, octets)
    if v4 is not None:
        return v4
    if ":" not in ip:
        return ip
    lowered = ip.lower()
    for prefix in ("::ffff:", "0:0:0:0:0:ffff:"):
        if lowered.startswith(prefix):
            mapped = _anonymise_v4(ip[len(prefix) :], octets)
            if mapped is not None:
                return ip[: len(prefix)] + mapped
    try:
        address = ipaddress.IPv6Address(ip.partition("%")[0])
    except ValueError:
        return ip
    full = [format(int(h, 16), "x") for h in address.exploded.split(":")]
    return ":".join(full[: 8 - segments] + ["x"] * segments)


class AnonIp(BuiltInEnrichment):
    """Rewrites user_ipaddress in place."""

    __slots__ = ("octets", "segments")

    def __init__(self, identifier: str, config_schema: SchemaKey, octets: int, segments: int) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self.octets = octets
        self.segments = segments

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        if event.user_ipaddress:
            event.user_ipaddress = anonymise_ip(event.user_ipaddress, self.octets, self.segments)
        return None


def build(config: EnrichmentConfig) -> AnonIp:
    """anonOctets is required (1-4); anonSegments (1-8) defaults to anonOctets."""
    octets = int(config.parameters["anonOctets"])
    segments = int(config.parameters.get("anonSegments", octets))
    return AnonIp(config.name, config.schema, octets, segments)
