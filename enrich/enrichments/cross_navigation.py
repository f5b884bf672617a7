"""Cross-navigation: the `_sp` page-URL parameter a tracker adds to links between sites, read into refr_* fields.

`_sp=<domain_userid>.<tstamp_ms>` (short form) or, from newer trackers,
`<domain_userid>.<tstamp_ms>.<session_id>.<b64 user_id>.<b64 source_id>.<source_platform>.<b64 reason>`
(snowplow.md §3.5). Snowplow always parses `_sp` (§3.1 step 11): `set_cross_navigation` is that
built-in step (the pipeline runs it for every event) and sets refr_domain_userid and refr_dvce_tstamp;
the enrichment, when enabled, only attaches `cross_navigation/1-0-0` from the same parse. Empty parts
are null; a timestamp that is not epoch milliseconds is an enrichment failure (the event goes to
enrichment_failures), naming this enrichment when it is enabled. The context's shape (`shape_name`)
is what its schema can refuse in it: lengths against maxLength, the session id's UUID form, the platform.
"""

from __future__ import annotations

from core.badrows import EnrichmentFailureMessage, InputDataMessage
from core.iglu import SchemaKey
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext, information, parse_query
from enrich.enrichments.config import EnrichmentConfig
from enrich.enrichments.cross_navigation_sp import CrossNavigationValue, read_sp
from enrich.enrichments.proofs import Shapes
from enrich.event import EnrichedEvent

__all__ = ["CrossNavigation", "build", "set_cross_navigation"]


def set_cross_navigation(event: EnrichedEvent) -> CrossNavigationValue | InputDataMessage | None:
    """The always-on step: refr_domain_userid / refr_dvce_tstamp from the page URL's `_sp`.

    Returns what was read (the problem when the timestamp is unreadable, None without `_sp`).
    """
    query = event.page_urlquery
    if query is None or "_sp=" not in query:
        return None
    parsed = read_sp(parse_query(query))
    if isinstance(parsed, CrossNavigationValue):
        event.refr_domain_userid = parsed.domain_user_id
        event.refr_dvce_tstamp = parsed.timestamp
    return parsed


class CrossNavigation(BuiltInEnrichment):
    """Attaches the cross_navigation context for the page URL's `_sp` (the first one wins).

    The refr_* fields and an unreadable timestamp are the built-in step's (`set_cross_navigation`),
    which names this enrichment in the failure when it is configured; the pipeline hands its reading
    over (`EnrichmentContext.known_sp`), so `_sp` is parsed once.
    """

    __slots__ = ("shapes",)

    def __init__(self, identifier: str, config_schema: SchemaKey) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self.shapes = Shapes()

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        parsed = ctx.sp  # as the built-in step read it
        if isinstance(parsed, CrossNavigationValue) and None not in (parsed.domain_user_id, parsed.timestamp):
            ctx.add_derived_context(parsed.context(), self.shapes.of(parsed.shape_name()))
        return None

    def failure(self, problem: InputDataMessage) -> EnrichmentFailureMessage:
        """An unreadable `_sp` as this enrichment's failure (reported by the built-in step)."""
        return EnrichmentFailureMessage(information(self), problem)


def build(config: EnrichmentConfig) -> CrossNavigation:
    return CrossNavigation(config.name, config.schema)
