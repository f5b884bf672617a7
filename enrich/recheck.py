"""The one entry point from the loader into enrichment: re-run a replayed record and report what would fail.

Replay (`loader/replay.py`) must know whether a fixed bad row would now pass enrich before it
republishes it. It asks here, and only here, so the loader depends on enrich through one named door
rather than on the pipeline's internals (`Environment`, outcomes, `enrich_payload`).
"""

from __future__ import annotations

from typing import Any

from core.badrows.processor import Processor
from core.raw import CollectorPayload
from enrich.environment import Environment
from enrich.outcome import Good
from enrich.pipeline import enrich_payload
from registry.validator import SchemaValidator

__all__ = ["Recheck"]


class Recheck:
    """Enrich with the given validator and bad-row processor, keeping only what fails.

    Enrichments are not configured: a replay re-checks validation and the tracker protocol, as
    Snowplow's recovery does, and leaves enrichment to the pipeline the records are sent back to.
    """

    def __init__(self, validator: SchemaValidator, processor: Processor) -> None:
        self._env = Environment(validator, processor=processor)

    def failures(self, record: CollectorPayload) -> list[dict[str, Any]]:
        """The self-describing bad-row JSON of every event of `record` that enrich would reject (empty: all pass)."""
        return [outcome.to_json() for outcome in enrich_payload(record, self._env) if not isinstance(outcome, Good)]
