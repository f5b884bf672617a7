"""`eventkit bad`: what is failing, grouped by type, schema and error, with counts per day or hour.

The first thing to run before a replay: it shows which schemas and errors account for the bad rows
and when they started, so the `--type/--schema/--error/--since` filters of `eventkit replay` can be
chosen from what is actually there.

Rows are counted once each (a redelivered copy is the same row, see loader/selection.py) and with
their state after earlier replays: `failing` (nothing has recovered it yet), `replayed` (sent back
by a replay) or `recovery_error` (a replay tried it, it failed again, and a recovery_error row now
stands for it). Files that could not be read — good files the loader quarantined, bad-row files
with unreadable lines — are listed too, so nothing is silently left out of the picture.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from loader.selection import BadRowEntry, ReadStats, ReplayOutcomes, UnreadableFile

__all__ = ["STATUSES", "BadSummary", "render_summary", "summarise"]

# A row's state: still failing, sent back by a replay, or stood for by the recovery_error a replay wrote.
STATUSES = ("failing", "replayed", "recovery_error")
_STATUS_TEXT = {"failing": "failing", "replayed": "replayed", "recovery_error": "replay failed"}
RECOVERY_ERROR_NOTE = (
    "recovery_error rows: a replay tried these rows and they failed again (a fix step that could not apply, "
    "or the event still invalid); the error column says why. Publish the schema or write a fix, "
    "then `eventkit replay` retries them."
)


@dataclass(slots=True)
class BadSummary:
    """Counts per (type, schema, error, status) and per time bucket (`day` = YYYY-MM-DD, `hour` = YYYY-MM-DD HH:00)."""

    bucket: str = "day"
    total: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    groups: dict[tuple[str, str, str, str], Counter[str]] = field(default_factory=dict)
    buckets: list[str] = field(default_factory=list)
    duplicates: int = 0  # redelivered copies, counted once
    unreadable: list[UnreadableFile] = field(default_factory=list)  # bad-row files with unreadable lines
    quarantined: list[UnreadableFile] = field(default_factory=list)  # good files the loader could not read

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            **{status: self.statuses[status] for status in STATUSES},
            "duplicates": self.duplicates,
            "bucket": self.bucket,
            "groups": [
                {
                    "type": t,
                    "schema": s,
                    "error": e,
                    "status": status,
                    "rows": sum(c.values()),
                    "by_time": dict(sorted(c.items())),
                }
                for (t, s, e, status), c in self._ordered()
            ],
            "unreadable_files": [u.to_json() for u in self.unreadable],
            "quarantined_files": [q.to_json() for q in self.quarantined],
        }

    def _ordered(self) -> list[tuple[tuple[str, str, str, str], Counter[str]]]:
        """Failing groups first, then by size."""
        return sorted(self.groups.items(), key=lambda item: (STATUSES.index(item[0][3]), -sum(item[1].values())))


def _bucket(when: datetime | None, bucket: str) -> str:
    if when is None:
        return "unknown"
    return f"{when:%Y-%m-%d}" if bucket == "day" else f"{when:%Y-%m-%d %H}:00"


def summarise(
    entries: Iterable[BadRowEntry],
    *,
    bucket: str = "day",
    outcomes: ReplayOutcomes | None = None,
    stats: ReadStats | None = None,
    quarantined: Sequence[UnreadableFile] = (),
) -> BadSummary:
    """Group bad rows by type, first schema, first error (keyword: message) and replay status.

    `stats` is the `ReadStats` the entries were read with: its figures are taken once `entries` is used up.
    """
    if bucket not in ("day", "hour"):
        raise ValueError("bucket must be day or hour")
    summary = BadSummary(bucket)
    outcomes = outcomes if outcomes is not None else ReplayOutcomes()
    seen: set[str] = set()
    for entry in entries:
        schema = entry.schemas[0] if entry.schemas else "-"
        keyword, message = entry.errors[0] if entry.errors else ("-", "-")
        error = message if keyword in message else f"{keyword}: {message}"
        outcome = outcomes.of(entry)
        status = "failing" if outcome is None else "recovery_error" if outcome == "recovery_error" else "replayed"
        when = _bucket(entry.failed_at, bucket)
        summary.groups.setdefault((entry.type_name, schema, error, status), Counter())[when] += 1
        summary.total += 1
        summary.statuses[status] += 1
        seen.add(when)
    summary.buckets = sorted(seen)
    if stats is not None:
        summary.duplicates = stats.duplicates
        summary.unreadable = list(stats.unreadable)
    summary.quarantined = list(quarantined)
    return summary


def render_summary(summary: BadSummary, console: Console, *, max_buckets: int = 8) -> None:
    """A rich table: one row per group, the most recent `max_buckets` time buckets as columns, then the total."""
    _render_files(summary, console)
    if summary.total == 0:
        console.print("no bad rows match")
        return
    shown = summary.buckets[-max_buckets:]
    states = ", ".join(f"{summary.statuses[s]} {_STATUS_TEXT[s]}" for s in STATUSES if summary.statuses[s])
    title = f"bad rows: {summary.total} ({states})"
    table = Table(title=title, show_lines=False)
    table.add_column("type", style="bold")
    table.add_column("schema")
    table.add_column("error", overflow="fold", max_width=60)
    table.add_column("status")
    for b in shown:
        table.add_column(b, justify="right")
    table.add_column("total", justify="right", style="bold")
    for (type_name, schema, error, status), counts in summary._ordered():
        cells = [str(counts.get(b, 0) or "") for b in shown]
        table.add_row(
            type_name, schema.removeprefix("iglu:"), error, _STATUS_TEXT[status], *cells, str(sum(counts.values()))
        )
    console.print(table)
    if len(summary.buckets) > len(shown):
        console.print(f"(older buckets not shown: {len(summary.buckets) - len(shown)}; totals include them)")
    if summary.duplicates:
        console.print(f"({summary.duplicates} redelivered copies of these rows counted once)")
    if summary.statuses["replayed"]:
        console.print("replayed rows were sent back by `eventkit replay`; they are good once enrich has taken them.")
    if any(t == "recovery_error" for t, _, _, _ in summary.groups) or summary.statuses["recovery_error"]:
        console.print(RECOVERY_ERROR_NOTE)


def _render_files(summary: BadSummary, console: Console) -> None:
    for q in summary.quarantined:
        console.print(f"[red]quarantined[/red] {q.file}: {q.error}", soft_wrap=True)
    for u in summary.unreadable:
        console.print(f"[red]unreadable[/red] {u.file}: {u.error}", soft_wrap=True)
