"""Recovery: "what would pass today" for one bad-row group, and its replay once a person confirms.

The preview is `loader.replay.Replayer.plan` — the function `eventkit replay --dry-run` runs — over
the rows of the group (type, schema, error as `eventkit bad` groups them), with a fresh resolver so
the answer is today's registry. Sending is `Replayer.send`, as `eventkit replay --yes` does: rows
that pass go back to the raw queue, the others become recovery_error rows, and the replay manifest
remembers them so a second click sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.lake import Lake
from core.queue import open_publisher
from embedded.console.badrows import WINDOWS
from loader.replay import Replayer, ReplayPlan
from loader.selection import BadRowEntry, Selection, read_bad_rows
from registry.resolver import Resolver

__all__ = ["Group", "group_of", "plan", "send"]


@dataclass(frozen=True, slots=True)
class Group:
    """A bad-row group as the bad-rows page lists it."""

    type_name: str
    schema: str
    error: str
    window: str

    def query(self) -> dict[str, str]:
        return {"type": self.type_name, "schema": self.schema, "error": self.error, "window": self.window}


def group_of(entry: BadRowEntry) -> tuple[str, str, str]:
    """(type, schema, error) exactly as loader.bad_summary.summarise keys its groups."""
    schema = entry.schemas[0] if entry.schemas else "-"
    keyword, message = entry.errors[0] if entry.errors else ("-", "-")
    return entry.type_name, schema, message if keyword in message else f"{keyword}: {message}"


def _entries(lake: Lake, group: Group) -> Iterator[BadRowEntry]:
    span, _ = WINDOWS[group.window]
    selection = Selection(types=(group.type_name,), since=datetime.now(tz=UTC) - span)
    want = (group.type_name, group.schema, group.error)
    return (e for e in read_bad_rows(lake, selection) if group_of(e) == want)


def plan(lake: Lake, resolver: Resolver, group: Group) -> ReplayPlan:
    """The dry run of the group: each row fixed (no fixes here), rebuilt and re-checked; nothing sent."""
    return Replayer(lake, resolver).plan(entries=_entries(lake, group))


def send(lake: Lake, resolver: Resolver, group: Group, raw_url: str) -> dict[str, Any]:
    """Re-plan (the registry may have changed since the preview) and publish what passes; the report."""
    replayer = Replayer(lake, resolver)
    result = replayer.plan(entries=_entries(lake, group))
    publisher = open_publisher(raw_url)
    try:
        replayer.send(result, publisher)
    finally:
        publisher.close()
    return result.report()
