"""Cookie extractor: the request cookies named in the config, each as an `org.ietf/http_cookie` derived context.

cookie_extractor_config 1-0-0: `parameters.cookies` lists cookie names; every matching cookie of
every Cookie header becomes `{"name", "value"}` (a cookie sent twice gives two contexts). Its schema
constrains both by type alone (strings), so every such context has one shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from core.badrows import EnrichmentFailureMessage
from core.iglu import SchemaKey
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext
from enrich.enrichments.config import EnrichmentConfig
from enrich.enrichments.proofs import Shape
from enrich.event import EnrichedEvent

__all__ = ["HTTP_COOKIE", "CookieExtractor", "build", "parse_cookie_header"]

HTTP_COOKIE: Final = "iglu:org.ietf/http_cookie/jsonschema/1-0-0"


def parse_cookie_header(value: str) -> list[tuple[str, str]]:
    """`a=1; b="2"` → [("a", "1"), ("b", "2")]; pieces without `=` are skipped, quotes around values removed."""
    out: list[tuple[str, str]] = []
    for piece in value.split(";"):
        name, eq, val = piece.partition("=")
        name = name.strip()
        if not eq or not name:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == '"' and val[-1] == '"':
            val = val[1:-1]
        out.append((name, val))
    return out


class CookieExtractor(BuiltInEnrichment):
    """Adds one http_cookie context per wanted cookie present."""

    __slots__ = ("names", "shape")

    def __init__(self, identifier: str, config_schema: SchemaKey, names: Iterable[str]) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self.names = frozenset(names)
        self.shape = Shape(HTTP_COOKIE, {}, strings_free=True)

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        if not self.names:
            return None
        for header, value in ctx.headers:
            if len(header) == 6 and header.lower() == "cookie":
                for name, cookie in parse_cookie_header(value):
                    if name in self.names:
                        context = {"schema": HTTP_COOKIE, "data": {"name": name, "value": cookie}}
                        ctx.add_derived_context(context, self.shape)
        return None


def build(config: EnrichmentConfig) -> CookieExtractor:
    return CookieExtractor(config.name, config.schema, config.parameters.get("cookies", ()))
