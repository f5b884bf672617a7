"""What enriching one raw record yields: a Good enriched event or a bad row, one per event found in it.

A good event whose fields the PII enrichment pseudonymised with `emitEvent` also carries the
pii_transformation event derived from it (`Good.pii`, written to the lake's `pii/` stream). It rides
on its parent rather than being an outcome of its own: Snowplow emits it only for good events, and
"one outcome per tracked event" stays true for every consumer of the outcome list.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.badrows import BadRow, RawEvent, SchemaViolations
from core.raw import CollectorPayload
from enrich.event import EnrichedEvent
from enrich.pii_event import PiiEvent

__all__ = ["Good", "Outcome"]


class Good:
    """An event that passed every check; `raw` is its own tracker parameters (Micro's rawEvent, replay).

    The pipeline builds `raw` only when someone reads it (the lake writer never does), from the
    payload and parameters it keeps; `Good(event, raw)` gives it directly. `pii` is the
    pii_transformation event emitted for it (PII enrichment with emitEvent), or the schema_violations
    bad row that event became if it failed validation; None when nothing was emitted.
    """

    __slots__ = ("_params", "_payload", "_raw", "event", "pii")

    def __init__(
        self, event: EnrichedEvent, raw: RawEvent | None = None, *, pii: PiiEvent | SchemaViolations | None = None
    ) -> None:
        self.event = event
        self.pii = pii
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
    def source(self) -> tuple[CollectorPayload, Mapping[str, str | None]] | None:
        """The payload and this event's parameters that `raw` is built from; None when the RawEvent was given.

        The events of one payload share the payload object, so a reader can do its per-payload work once."""
        return None if self._payload is None else (self._payload, self._params)

    @property
    def raw(self) -> RawEvent:
        if self._raw is None:
            assert self._payload is not None, "Good needs a RawEvent or the payload to build it from"
            self._raw = RawEvent.from_collector_payload(self._payload, tuple(self._params.items()))
        return self._raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Good):
            return NotImplemented
        return self.event == other.event and self.pii == other.pii and self.raw == other.raw

    __hash__ = None  # type: ignore[assignment]  # mutable event inside

    def __repr__(self) -> str:
        return f"Good({self.event!r})" if self.pii is None else f"Good({self.event!r}, pii={self.pii!r})"


Outcome = Good | BadRow
