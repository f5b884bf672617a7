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

from collections.abc import Hashable, Sequence
from typing import Any, Final

from core.badrows import EnrichmentFailureMessage, InputDataMessage
from core.iglu import SchemaKey
from core.raw import format_instant
from enrich.base64url import decode_base64_text
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext, information, parse_query
from enrich.enrichments.config import EnrichmentConfig
from enrich.enrichments.proofs import Shapes
from enrich.event import EnrichedEvent
from enrich.tracker_protocol import MAX_TSTAMP_MS, MIN_TSTAMP_MS
from registry.json_formats import is_uuid

__all__ = [
    "CROSS_NAVIGATION",
    "CrossNavigation",
    "CrossNavigationValue",
    "build",
    "parse_sp",
    "read_sp",
    "set_cross_navigation",
]

CROSS_NAVIGATION: Final = "iglu:com.snowplowanalytics.snowplow/cross_navigation/jsonschema/1-0-0"
_EXPECTATION: Final = "not in the expected format: ms since epoch"


class CrossNavigationValue:
    """The parts of one `_sp` value."""

    __slots__ = ("domain_user_id", "reason", "session_id", "source_id", "source_platform", "timestamp", "user_id")

    def __init__(self, parts: list[str], timestamp: int | None) -> None:
        # Parts past the end, and empty ones, are null; 3, 4 and 6 are base64url text.
        n = len(parts)
        self.domain_user_id = parts[0] or None
        self.timestamp = timestamp
        self.session_id = parts[2] or None if n > 2 else None
        self.user_id = _decoded(parts[3]) if n > 3 else None
        self.source_id = _decoded(parts[4]) if n > 4 else None
        self.source_platform = parts[5] or None if n > 5 else None
        self.reason = _decoded(parts[6]) if n > 6 else None

    def shape_name(self) -> Hashable:
        """What cross_navigation/1-0-0 can refuse in this value's context (its timestamp, formatted from epoch
        milliseconds in range, is always a date-time): domain_user_id within 128 characters, session_id null or a
        UUID, user_id/source_id/reason null or within 4096, and source_platform itself (an enum)."""

        def within(value: str | None, limit: int) -> int:
            return 0 if value is None else 1 if len(value) <= limit else 2

        session = self.session_id
        return (
            self.timestamp is None,
            within(self.domain_user_id, 128),
            0 if session is None else 1 if is_uuid(session) else 2,  # the validator's own `uuid` format
            within(self.user_id, 4096),
            within(self.source_id, 4096),
            within(self.reason, 4096),
            self.source_platform,
        )

    def context(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "domain_user_id": self.domain_user_id,
            "timestamp": format_instant(self.timestamp) if self.timestamp is not None else None,
            "session_id": self.session_id,
            "user_id": self.user_id,
            "source_id": self.source_id,
            "source_platform": self.source_platform,
            "reason": self.reason,
        }
        return {"schema": CROSS_NAVIGATION, "data": data}


def _decoded(part: str) -> str | None:
    return decode_base64_text(part) if part else None


def parse_sp(value: str) -> CrossNavigationValue | InputDataMessage:
    """Split an `_sp` value; an unreadable timestamp is an InputDataMessage for field `sp_dtm`."""
    parts = value.split(".")
    stamp = parts[1] if len(parts) > 1 else ""
    timestamp: int | None = None
    if stamp:
        if not (stamp.isascii() and stamp.isdigit()) or not MIN_TSTAMP_MS <= int(stamp) <= MAX_TSTAMP_MS:
            return InputDataMessage("sp_dtm", stamp, _EXPECTATION)
        timestamp = int(stamp)
    return CrossNavigationValue(parts, timestamp)


def read_sp(page_query: Sequence[tuple[str, str]]) -> CrossNavigationValue | InputDataMessage | None:
    """The first `_sp` of the page URL's decoded query pairs, parsed; None when there is none."""
    for name, value in page_query:
        if name == "_sp":
            return parse_sp(value)
    return None


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
