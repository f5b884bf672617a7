"""The set of rolling output files one worker feeds: good Parquet, optional good TSV, pii Parquet, one per bad-row type.

The worker appends each outcome of a message with that message's token; `cut_due()` returns the
files whose count, bytes or age limit is reached, `cut_all()` everything (shutdown, tests).
Layout under the lake root:

    good/date=YYYY-MM-DD/hour=HH/<part>.parquet
    good-tsv/date=YYYY-MM-DD/hour=HH/<part>.tsv         (only with tsv=True)
    pii/date=YYYY-MM-DD/hour=HH/<part>.parquet          (pii_transformation events: their 16 columns of good's)
    bad/<bad-row type>/date=YYYY-MM-DD/hour=HH/<part>.jsonl
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.lake.jsonl import encode_jsonl
from core.lake.partitions import PartNamer
from enrich.event import EnrichedEvent
from enrich.outputs.parquet import encode_parquet
from enrich.outputs.rolling import CutPolicy, PendingFile, RollingFile
from enrich.outputs.tsv import encode_tsv
from enrich.pii_event import PII_COLUMNS, PiiEvent

__all__ = ["BAD_ROOT", "GOOD_ROOT", "GOOD_TSV_ROOT", "PII_ROOT", "LakeWriter"]

GOOD_ROOT = "good"
GOOD_TSV_ROOT = "good-tsv"
BAD_ROOT = "bad"
PII_ROOT = "pii"


class LakeWriter:
    """Rolling files for every output of one worker, named by one `PartNamer` (unique per worker)."""

    def __init__(
        self,
        policy: CutPolicy,
        *,
        tsv: bool = False,
        namer: PartNamer | None = None,
        on_nulled: Callable[[str], None] | None = None,
    ) -> None:
        self.policy = policy
        self.namer = namer if namer is not None else PartNamer()
        self._on_nulled = on_nulled
        self.good: RollingFile[EnrichedEvent] = RollingFile(GOOD_ROOT, "parquet", self._parquet, policy, self.namer)
        self.good_tsv: RollingFile[str] | None = (
            RollingFile(GOOD_TSV_ROOT, "tsv", encode_tsv, policy, self.namer) if tsv else None
        )
        self.bad: dict[str, RollingFile[bytes]] = {}
        self.pii: RollingFile[PiiEvent] | None = None  # opened with the first pii_transformation event

    def _parquet(self, events: Sequence[EnrichedEvent | PiiEvent], columns: Sequence[str] | None = None) -> bytes:
        nulled: list[str] = []
        data = encode_parquet(events, nulled, columns)
        if self._on_nulled is not None:
            for column in nulled:
                self._on_nulled(column)
        return data

    def _pii_parquet(self, events: list[PiiEvent]) -> bytes:
        return self._parquet(events, PII_COLUMNS)  # the columns a pii event can set; the others would be null

    def _files(self) -> list[RollingFile[Any]]:
        files: list[RollingFile[Any]] = [self.good]
        if self.good_tsv is not None:
            files.append(self.good_tsv)
        if self.pii is not None:
            files.append(self.pii)
        files.extend(self.bad.values())
        return files

    def add_good(self, event: EnrichedEvent, token: int, size: int, now_ms: int) -> int:
        """Append a good event; returns how many outputs (files it lands in) the message now owes."""
        collector_ms = event.collector_tstamp or 0
        self.good.append(event, token, size, now_ms, collector_ms)
        if self.good_tsv is not None:
            self.good_tsv.append(event.to_tsv(), token, size, now_ms, collector_ms)
            return 2
        return 1

    def add_pii(self, event: PiiEvent, token: int, size: int, now_ms: int) -> int:
        """Append a pii_transformation event (PII enrichment emitEvent); returns the outputs it adds (always 1)."""
        if self.pii is None:
            self.pii = RollingFile(PII_ROOT, "parquet", self._pii_parquet, self.policy, self.namer)
        self.pii.append(event, token, size, now_ms, event.collector_tstamp or 0)
        return 1

    def add_bad(self, type_name: str, line: bytes, token: int, now_ms: int, collector_ms: int) -> int:
        """Append one encoded bad row of type `type_name`; returns the outputs it adds (always 1)."""
        rolling = self.bad.get(type_name)
        if rolling is None:
            rolling = RollingFile(f"{BAD_ROOT}/{type_name}", "jsonl", encode_jsonl, self.policy, self.namer)
            self.bad[type_name] = rolling
        rolling.append(line, token, len(line), now_ms, collector_ms)
        return 1

    def next_deadline_ms(self) -> int | None:
        """The earliest age deadline over all open files (None when everything is empty)."""
        deadlines = [d for d in (f.deadline_ms() for f in self._files()) if d is not None]
        return min(deadlines) if deadlines else None

    def cut_due(self, now_ms: int) -> list[PendingFile]:
        """Cut every file that reached a limit."""
        out = []
        for rolling in self._files():
            if rolling.due(now_ms):
                pending = rolling.cut()
                if pending is not None:
                    out.append(pending)
        return out

    def cut_all(self) -> list[PendingFile]:
        """Cut every non-empty file (flush)."""
        out = []
        for rolling in self._files():
            pending = rolling.cut()
            if pending is not None:
                out.append(pending)
        return out

    @property
    def buffered(self) -> int:
        """Outputs held in open files."""
        return sum(len(f) for f in self._files())
