"""Iglu's publish order: which SchemaVer may be published next to the versions already there.

Shared by publishing (refuse a gap) and lint (`versionGaps` over a set of schemas), which is why it
is neither module's own.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.iglu import SchemaVer

__all__ = ["order_problem"]


def order_problem(version: SchemaVer, existing: Iterable[SchemaVer]) -> str | None:
    """Why Iglu Server's VersionCursor would refuse `version` next to `existing` (None when allowed)."""
    have = set(existing)
    m, r, a = version.model, version.revision, version.addition
    if (m, r, a) == (1, 0, 0):
        return None
    if r == 0 and a == 0:
        if not any(v.model == m - 1 for v in have):
            return f"{version} needs some {m - 1}-*-* published first (no gaps between models)"
        return None
    if a == 0:
        if not any(v.model == m and v.revision == r - 1 for v in have):
            return f"{version} needs some {m}-{r - 1}-* published first (no gaps between revisions)"
        return None
    if SchemaVer(m, r, a - 1) not in have:
        return f"{version} needs {m}-{r}-{a - 1} published first (no gaps between additions)"
    if any(v.model == m and v.revision == r + 1 for v in have):
        return f"Next revision in the group exists: {m}-{r + 1}-* is already published, so {version} cannot be added"
    return None
