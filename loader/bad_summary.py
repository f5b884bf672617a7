"""`eventkit bad`: what is failing, grouped by type, schema and error, with counts per day or hour.

The first thing to run before a replay: it shows which schemas and errors account for the bad rows
and when they started, so the `--type/--schema/--error/--since` filters of `eventkit replay` can be
chosen from what is actually there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from loader.selection import BadRowEntry

__all__ = ["BadSummary", "render_summary", "summarise"]


@dataclass(slots=True)
class BadSummary:
    """Counts per (type, schema, error) and per time bucket (`day` = YYYY-MM-DD, `hour` = YYYY-MM-DD HH:00)."""

    bucket: str = "day"
    total: int = 0
    groups: dict[tuple[str, str, str], Counter[str]] = field(default_factory=dict)
    buckets: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "bucket": self.bucket,
            "groups": [
                {"type": t, "schema": s, "error": e, "rows": sum(c.values()), "by_time": dict(sorted(c.items()))}
                for (t, s, e), c in sorted(self.groups.items(), key=lambda item: -sum(item[1].values()))
            ],
        }


def _bucket(when: datetime | None, bucket: str) -> str:
    if when is None:
        return "unknown"
    return f"{when:%Y-%m-%d}" if bucket == "day" else f"{when:%Y-%m-%d %H}:00"


def summarise(entries: Iterable[BadRowEntry], *, bucket: str = "day") -> BadSummary:
    """Group bad rows by type, first schema and first error (keyword: message)."""
    if bucket not in ("day", "hour"):
        raise ValueError("bucket must be day or hour")
    summary = BadSummary(bucket)
    seen: set[str] = set()
    for entry in entries:
        schema = entry.schemas[0] if entry.schemas else "-"
        keyword, message = entry.errors[0] if entry.errors else ("-", "-")
        error = message if keyword in message else f"{keyword}: {message}"
        when = _bucket(entry.failed_at, bucket)
        summary.groups.setdefault((entry.type_name, schema, error), Counter())[when] += 1
        summary.total += 1
        seen.add(when)
    summary.buckets = sorted(seen)
    return summary


def render_summary(summary: BadSummary, console: Console, *, max_buckets: int = 8) -> None:
    """A rich table: one row per group, the most recent `max_buckets` time buckets as columns, then the total."""
    if summary.total == 0:
        console.print("no bad rows match")
        return
    shown = summary.buckets[-max_buckets:]
    table = Table(title=f"bad rows: {summary.total}", show_lines=False)
    table.add_column("type", style="bold")
    table.add_column("schema")
    table.add_column("error", overflow="fold", max_width=60)
    for b in shown:
        table.add_column(b, justify="right")
    table.add_column("total", justify="right", style="bold")
    for (type_name, schema, error), counts in sorted(summary.groups.items(), key=lambda item: -sum(item[1].values())):
        cells = [str(counts.get(b, 0) or "") for b in shown]
        table.add_row(type_name, schema.removeprefix("iglu:"), error, *cells, str(sum(counts.values())))
    console.print(table)
    if len(summary.buckets) > len(shown):
        console.print(f"(older buckets not shown: {len(summary.buckets) - len(shown)}; totals include them)")
