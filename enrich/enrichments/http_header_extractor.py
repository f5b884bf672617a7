"""HTTP header extractor: request headers whose name matches a pattern, each as an `org.ietf/http_header` context.

http_header_extractor_config 1-0-0: `parameters.headersPattern` is a regular expression that must
match the whole header name (Java `String.matches`); `.*` takes every header. The collector's
bare content-type entry has no name and is not a header here. Its schema constrains name and value
by type alone (strings), so every such context has one shape.
"""

from __future__ import annotations

import re
from typing import Final

from core.badrows import EnrichmentFailureMessage
from core.errors import ConfigError
from core.iglu import SchemaKey
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext
from enrich.enrichments.config import EnrichmentConfig
from enrich.enrichments.proofs import Shape
from enrich.event import EnrichedEvent

__all__ = ["HTTP_HEADER", "HttpHeaderExtractor", "build"]

HTTP_HEADER: Final = "iglu:org.ietf/http_header/jsonschema/1-0-0"


class HttpHeaderExtractor(BuiltInEnrichment):
    """Adds one http_header context per matching header, in arrival order."""

    __slots__ = ("_matches", "pattern", "shape")

    def __init__(self, identifier: str, config_schema: SchemaKey, pattern: re.Pattern[str]) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self.pattern = pattern
        self._matches: dict[str, bool] = {}  # header names repeat across events: match each name once
        self.shape = Shape(HTTP_HEADER, {}, strings_free=True)

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        matches = self._matches
        for name, value in ctx.headers:
            hit = matches.get(name)
            if hit is None:
                hit = self.pattern.fullmatch(name) is not None
                if len(matches) < 4096:
                    matches[name] = hit
            if hit:
                ctx.add_derived_context({"schema": HTTP_HEADER, "data": {"name": name, "value": value}}, self.shape)
        return None


def build(config: EnrichmentConfig) -> HttpHeaderExtractor:
    pattern = config.parameters.get("headersPattern", "")
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        raise ConfigError(
            f"{config.source or config.name}: headersPattern {pattern!r} is not a regular expression ({e})"
        ) from None
    return HttpHeaderExtractor(config.name, config.schema, compiled)
