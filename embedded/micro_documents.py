"""Micro's GoodEvent documents, built when read from what the store keeps: the enriched TSV line and the raw event.

Building the analytics-SDK JSON of every event as it was stored cost an enrich worker of `eventkit up`
about as much CPU as enriching the event (about 80 µs of ~125 µs, plus writing 5 KB per row), for
documents almost nobody reads. So a good event is stored as its enriched TSV line (Snowplow's own
canonical form; Micro derives its `event` object from that line too) beside the Micro rawEvent JSON,
and the GoodEvent is assembled on the way out. A line that would not read back as the same event (an
enrichment left a tab or a line break in a value) is stored as the whole document instead, as every
row was before: `event_tsv` is then NULL and `body` is the GoodEvent.
"""

from __future__ import annotations

from typing import Any

import orjson

from core.atomic import FIELD_NAMES
from core.sdk_json import to_sdk_json
from enrich.event import EnrichedEvent

__all__ = ["good_event", "storable_tsv"]

_TABS = len(FIELD_NAMES) - 1


def storable_tsv(event: EnrichedEvent) -> str | None:
    """The event's enriched TSV line, or None when the line would not parse back into the same fields."""
    line = event.to_tsv()
    if line.count("\t") != _TABS or "\n" in line or "\r" in line:
        return None
    return line


def good_event(raw_event: bytes, event_tsv: str, event_type: str | None, schema: str | None, contexts: str) -> Any:
    """The GoodEvent of a row stored as TSV: `raw_event` is its rawEvent JSON, `contexts` the JSON list of URIs."""
    return {
        "rawEvent": orjson.loads(raw_event),
        "eventType": event_type,
        "schema": schema,
        "contexts": orjson.loads(contexts),
        "event": to_sdk_json(EnrichedEvent.from_tsv(event_tsv)),
    }
