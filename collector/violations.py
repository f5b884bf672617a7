"""Size violations as bad rows in the lake: `bad/size_violation/date=…/hour=…/<unique>.jsonl`, create-only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from collector.sizing import SizeViolationFact
from core.badrows import Processor, SizeViolation
from core.lake.port import Lake
from core.raw import format_instant

__all__ = ["write_size_violations"]


def write_size_violations(
    lake: Lake, violations: Sequence[SizeViolationFact], *, processor: Processor, now_ms: int
) -> list[bytes]:
    """Write one JSON-lines object holding every violation of one request; returns the bad rows written.

    Raises LakeUnavailable (the request then gets 503 and the tracker retries). The name is
    unique (time + uuid4), so a retry never collides with an earlier attempt.
    """
    lines = [
        SizeViolation(
            processor=processor,
            timestamp_ms=now_ms,
            maximum_allowed_size_bytes=v.maximum_allowed_size_bytes,
            actual_size_bytes=v.actual_size_bytes,
            expectation=v.expectation,
            payload=v.payload,
        ).encode()
        for v in violations
    ]
    instant = format_instant(now_ms)  # 2026-11-26T11:26:28.123Z
    name = (
        f"bad/size_violation/date={instant[:10]}/hour={instant[11:13]}/"
        f"{instant[:19].replace(':', '').replace('-', '')}-{uuid.uuid4().hex}.jsonl"
    )
    rows = [line.rstrip(b"\n") for line in lines]
    lake.create(name, b"".join(row + b"\n" for row in rows))
    return rows
