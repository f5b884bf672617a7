"""The `_sp` cross-navigation value: read once per event, shared by the built-in step, the context and the enrichment.

`_sp=<domain_userid>.<tstamp_ms>` (short form) or, from newer trackers,
`<domain_userid>.<tstamp_ms>.<session_id>.<b64 user_id>.<b64 source_id>.<source_platform>.<b64 reason>`
(snowplow.md §3.5). It lives below the enrichment contract (`enrich.enrichments.base` hands the
pipeline's reading to enrichments) and the cross-navigation enrichment, which both use it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Final

from core.badrows import InputDataMessage
from core.base64url import decode_base64_text
from core.raw import format_instant
from enrich.tracker_protocol import MAX_TSTAMP_MS, MIN_TSTAMP_MS
from registry.json_formats import is_uuid

__all__ = ["CROSS_NAVIGATION", "CrossNavigationValue", "parse_sp", "read_sp"]

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
