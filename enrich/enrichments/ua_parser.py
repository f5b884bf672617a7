"""User-agent parsing: the `ua_parser_context/1-0-0` derived context, from the maintained ua-parser package.

Parsing a user agent costs ~30 us with ua-parser's native resolver (ua-parser-rs, a dependency; ~1 ms
with its pure-Python one), and traffic repeats a few thousand agents, so each finished
context is kept in an LRU cache keyed by the agent string: a repeated agent costs one dict look-up.
An event without a user agent gets no context (nothing to parse is not a failure). The context's
schema constrains each field by type alone (string, or string or null), so its shape is which fields
are null.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

import ua_parser as uap

from core.badrows import EnrichmentFailureMessage
from core.iglu import SchemaKey
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext
from enrich.enrichments.config import EnrichmentConfig
from enrich.enrichments.proofs import Shapes
from enrich.event import EnrichedEvent

__all__ = ["CACHE_SIZE", "UA_PARSER_CONTEXT", "UaParser", "build", "parsed_agent", "ua_context"]

UA_PARSER_CONTEXT: Final = "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0"
CACHE_SIZE: Final = 16_384
OTHER: Final = "Other"


def _version(family: str, parts: tuple[str | None, ...]) -> str:
    """`Family 1.2.3`: the family, then the version parts present up to the first missing one."""
    numbers: list[str] = []
    for part in parts:
        if part is None:
            break
        numbers.append(part)
    return f"{family} {'.'.join(numbers)}" if numbers else family


def ua_context(useragent: str) -> dict[str, Any]:
    """The ua_parser_context SDJ for one agent (cached; callers must not mutate it)."""
    return parsed_agent(useragent)[0]


@lru_cache(maxsize=CACHE_SIZE)
def parsed_agent(useragent: str) -> tuple[dict[str, Any], tuple[bool, ...]]:
    """The context for one agent (cached: callers must not mutate it) and which of its fields are null."""
    context = _context(useragent)
    return context, tuple(value is None for value in context["data"].values())


def _context(useragent: str) -> dict[str, Any]:
    result = uap.parse(useragent)
    ua, os, device = result.user_agent, result.os, result.device
    ua_family = ua.family if ua is not None else OTHER
    ua_parts = (ua.major, ua.minor, ua.patch) if ua is not None else (None, None, None)
    os_family = os.family if os is not None else OTHER
    os_parts = (os.major, os.minor, os.patch, os.patch_minor) if os is not None else (None, None, None, None)
    return {
        "schema": UA_PARSER_CONTEXT,
        "data": {
            "useragentFamily": ua_family,
            "useragentMajor": ua_parts[0],
            "useragentMinor": ua_parts[1],
            "useragentPatch": ua_parts[2],
            "useragentVersion": _version(ua_family, ua_parts),
            "osFamily": os_family,
            "osMajor": os_parts[0],
            "osMinor": os_parts[1],
            "osPatch": os_parts[2],
            "osPatchMinor": os_parts[3],
            "osVersion": _version(os_family, os_parts),
            "deviceFamily": device.family if device is not None else OTHER,
        },
    }


def is_spider(useragent: str) -> bool:
    """ua-parser's verdict that the agent is a crawler (its device family `Spider`)."""
    family: str = ua_context(useragent)["data"]["deviceFamily"]
    return family == "Spider"


class UaParser(BuiltInEnrichment):
    """Attaches ua_parser_context for the event's user agent."""

    __slots__ = ("shapes",)

    def __init__(self, identifier: str, config_schema: SchemaKey) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self.shapes = Shapes(strings_free=True)  # by null fields (at most 2**7 of them)

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        if event.useragent:
            context, nulls = parsed_agent(event.useragent)
            ctx.add_derived_context(context, self.shapes.of(nulls))
        return None


def build(config: EnrichmentConfig) -> UaParser:
    """From ua_parser_config 1-0-0/1-0-1 (`database`/`uri` name regex files; the package's maintained set is used)."""
    return UaParser(config.name, config.schema)
