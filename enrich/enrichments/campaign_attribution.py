"""Campaign attribution: mkt_medium/source/term/content/campaign and click ids from the page URL's query.

Snowplow's rules (campaign_attribution 1-0-0/1-0-1): each mkt field takes the value of the first
parameter *listed in the configuration* that appears in the query; click-id parameters (gclid →
Google, msclkid → Microsoft, dclid → DoubleClick, plus the config's `mktClickId` map, which adds to
and overrides those) set `mkt_clickid` and `mkt_network` from the first one present in the query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.badrows import EnrichmentFailureMessage
from core.iglu import SchemaKey
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext
from enrich.enrichments.config import EnrichmentConfig
from enrich.event import EnrichedEvent

__all__ = ["DEFAULT_CLICK_IDS", "DEFAULT_FIELDS", "CampaignAttribution", "build"]

DEFAULT_CLICK_IDS: Mapping[str, str] = {"gclid": "Google", "msclkid": "Microsoft", "dclid": "DoubleClick"}
# config key -> atomic field, in the order Snowplow documents them
_FIELDS: tuple[tuple[str, str], ...] = (
    ("mktMedium", "mkt_medium"),
    ("mktSource", "mkt_source"),
    ("mktTerm", "mkt_term"),
    ("mktContent", "mkt_content"),
    ("mktCampaign", "mkt_campaign"),
)
DEFAULT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "mktMedium": ("utm_medium",),
    "mktSource": ("utm_source",),
    "mktTerm": ("utm_term",),
    "mktContent": ("utm_content",),
    "mktCampaign": ("utm_campaign",),
}


class CampaignAttribution(BuiltInEnrichment):
    """Fills the mkt_* fields; precompiled into one parameter → (priority, field) table."""

    __slots__ = ("_table", "click_ids", "fields")

    def __init__(
        self,
        identifier: str,
        config_schema: SchemaKey,
        fields: Mapping[str, Sequence[str]],
        click_ids: Mapping[str, str],
    ) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self.fields = fields
        self.click_ids = dict(click_ids)  # a dict: looked up for each query parameter of each event
        self._table: dict[str, list[tuple[int, str]]] = {}
        for key, field in _FIELDS:
            for rank, param in enumerate(fields.get(key, ())):
                self._table.setdefault(param, []).append((rank, field))

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        query = ctx.page_query
        if not query:
            return None
        table = self._table
        best: dict[str, tuple[int, str]] = {}
        clickid: tuple[str, str] | None = None
        for name, value in query:
            targets = table.get(name)
            if targets is not None:
                for rank, field in targets:
                    held = best.get(field)
                    if held is None or rank < held[0]:  # earlier in the config list wins
                        best[field] = (rank, value)
            if clickid is None:
                network = self.click_ids.get(name)
                if network is not None:
                    clickid = (value, network)
        for field, (_, value) in best.items():
            setattr(event, field, value or None)
        if clickid is not None and clickid[0]:
            event.mkt_clickid, event.mkt_network = clickid
        return None


def build(config: EnrichmentConfig) -> CampaignAttribution:
    """From campaign_attribution 1-0-x parameters (`fields`; `mktClickId` only in 1-0-1)."""
    fields = config.parameters.get("fields", {})
    chosen = {key: tuple(fields.get(key, ())) for key, _ in _FIELDS}
    click_ids = {**DEFAULT_CLICK_IDS, **fields.get("mktClickId", {})}
    return CampaignAttribution(config.name, config.schema, chosen, click_ids)
