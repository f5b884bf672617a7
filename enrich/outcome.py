"""What enriching one raw record yields: a Good enriched event or a bad row, one per event found in it."""

from __future__ import annotations

from dataclasses import dataclass

from core.badrows import BadRow, RawEvent
from enrich.event import EnrichedEvent

__all__ = ["Good", "Outcome"]


@dataclass(frozen=True, slots=True)
class Good:
    """An event that passed every check; `raw` is its own tracker parameters (Micro's rawEvent, replay)."""

    event: EnrichedEvent
    raw: RawEvent


Outcome = Good | BadRow
