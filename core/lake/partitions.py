"""Where an output file goes in the lake: hive-style date/hour partitions and part names never reused.

Files are partitioned by **processing time** (the moment the file was opened by the writer, i.e. the
etl time of its first event), not by `collector_tstamp`. Reasons: a file holds whatever one worker
enriched in a short window, so one file = one partition and a batch never fans out into many tiny
files because of late-arriving mobile events; freshness is simple (new data always lands in the
current hour); replayed events land in the partition of their re-processing, so a replay never
writes into a partition a loader already considers closed. This is what Snowplow's loaders do.
Consumers that want event time use the `collector_tstamp` / `derived_tstamp` columns.

Part names are `<open_ms 13 digits>-<writer id>-<seq 6 digits>.<ext>`: the writer id is random per
writer instance (process lifetime), the sequence increases per writer, so a name is never reused and
names sort by open time within a partition.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["PartNamer", "hour_partition", "parse_part_name"]

_PART = re.compile(r"^(?P<ms>\d{13})-(?P<writer>[0-9a-f]{12})-(?P<seq>\d{6,})\.(?P<ext>[a-z]+)$")


def hour_partition(epoch_ms: int) -> str:
    """`date=YYYY-MM-DD/hour=HH` of an instant (UTC)."""
    dt = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return f"date={dt:%Y-%m-%d}/hour={dt:%H}"


@dataclass(frozen=True, slots=True)
class PartName:
    """The parts of a part file's base name."""

    opened_ms: int
    writer: str
    seq: int
    ext: str


def parse_part_name(base: str) -> PartName | None:
    """Split a part file's base name (no folders) into its fields; None if it is not one of ours."""
    m = _PART.match(base)
    if m is None:
        return None
    return PartName(int(m["ms"]), m["writer"], int(m["seq"]), m["ext"])


class PartNamer:
    """Hands out lake object names for one writer: `<root>/date=…/hour=…/<ms>-<writer>-<seq>.<ext>`."""

    def __init__(self, writer_id: str | None = None) -> None:
        self.writer_id = writer_id if writer_id is not None else uuid.uuid4().hex[:12]
        if not re.fullmatch(r"[0-9a-f]{12}", self.writer_id):
            raise ValueError(f"writer id {self.writer_id!r} must be 12 lower-case hex digits")
        self._seq = 0

    def next_name(self, root: str, opened_ms: int, ext: str) -> str:
        """A fresh object name under `root` (e.g. `good`, `bad/schema_violations`) for a file opened at `opened_ms`."""
        self._seq += 1
        return f"{root}/{hour_partition(opened_ms)}/{opened_ms:013d}-{self.writer_id}-{self._seq:06d}.{ext}"
