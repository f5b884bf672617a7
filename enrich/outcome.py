"""What enriching one raw record yields: a Good enriched event or a bad row, one per event found in it."""

from __future__ import annotations

from collections.abc import Mapping

from core.badrows import BadRow, RawEvent
from core.raw import CollectorPayload
from enrich.event import EnrichedEvent

__all__ = ["Good", "Outcome"]


class Good:
    """An event that passed every check; `raw` is its own tracker parameters (Micro's rawEvent, replay).

    The pipeline builds `raw` only when someone reads it (the lake writer never does), from the
    payload and parameters it keeps; `Good(event, raw)` gives it directly.
    """

    __slots__ = ("_params", "_payload", "_raw", "event")

    def __init__(self, event: EnrichedEvent, raw: RawEvent | None = None) -> None:
        self.event = event
        self._raw = raw
        self._payload: CollectorPayload | None = None
        self._params: Mapping[str, str | None] = {}

    @classmethod
    def of(cls, event: EnrichedEvent, payload: CollectorPayload, params: Mapping[str, str | None]) -> Good:
        """A good event whose RawEvent is built from `payload` and `params` on first access."""
        good = cls(event)
        good._payload = payload
        good._params = params
        return good

    @property
    def raw(self) -> RawEvent:
        if self._raw is None:
            assert self._payload is not None, "Good needs a RawEvent or the payload to build it from"
            self._raw = RawEvent.from_collector_payload(self._payload, tuple(self._params.items()))
        return self._raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Good):
            return NotImplemented
        return self.event == other.event and self.raw == other.raw

    __hash__ = None  # type: ignore[assignment]  # mutable event inside

    def __repr__(self) -> str:
        return f"Good({self.event!r})"


Outcome = Good | BadRow
