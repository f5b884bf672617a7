"""Where output files go in the lake: hour partitions by processing time, part names never reused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.lake.partitions import PartNamer, hour_partition, parse_part_name

T0 = 1_795_690_794_412  # 2026-11-26T...Z


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_hour_partition_matches_utc_calendar(ms: int) -> None:
    """The partition of an instant is its UTC date and hour."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    assert hour_partition(ms) == f"date={dt.date().isoformat()}/hour={dt.hour:02d}"


def test_part_names_are_unique_sortable_and_parseable() -> None:
    """One namer never repeats a name; names carry open time, writer id and sequence; other namers differ."""
    namer, other = PartNamer(), PartNamer()
    names = [namer.next_name("good", T0 + i, "parquet") for i in range(50)]
    assert len(set(names)) == 50 and names == sorted(names)
    assert other.next_name("good", T0, "parquet") not in names
    first = names[0]
    assert first.startswith("good/date=2026-11-26/hour=")
    parsed = parse_part_name(first.rsplit("/", 1)[1])
    assert parsed is not None
    assert (parsed.opened_ms, parsed.writer, parsed.seq, parsed.ext) == (T0, namer.writer_id, 1, "parquet")
    assert parse_part_name("not-a-part.parquet") is None
    with pytest.raises(ValueError):
        PartNamer("XYZ")
