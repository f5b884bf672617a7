"""The registry as a tree (vendor → name → versions), one version's JSON, lint, and a diff with its SchemaVer verdict.

Read from the registry's store (a folder or `gs://` bucket, registry/store.py); the verdict is
`registry.compat.diff`, the same proof `eventkit schema diff` and publishing use, and the lint is
`registry.lint.lint_schema`. "Seen in the last 24 h" counts the Micro store's records of the schema
(its `(schema, id)` index), so it costs one index range per page.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import IgluParseError
from core.iglu import SchemaKey
from embedded.micro_store import MicroStore
from registry.compat import Diff, diff
from registry.lint import Finding, lint_schema
from registry.store import SchemaStore

__all__ = ["SchemaTree", "key_from_parts", "lint", "seen_last_day", "tree", "verdict"]

SchemaTree = dict[str, dict[str, list[SchemaKey]]]


def tree(store: SchemaStore) -> SchemaTree:
    """vendor → name → versions (jsonschema only, oldest first)."""
    out: SchemaTree = {}
    for key in store.list_keys():
        if key.format != "jsonschema":
            continue
        out.setdefault(key.vendor, {}).setdefault(key.name, []).append(key)
    return out


def key_from_parts(vendor: str, name: str, version: str) -> SchemaKey | None:
    """The key `iglu:vendor/name/jsonschema/version`, or None when the parts do not make one."""
    try:
        return SchemaKey.parse(f"iglu:{vendor}/{name}/jsonschema/{version}")
    except (IgluParseError, ValueError):
        return None


def lint(schema: dict[str, Any], key: SchemaKey) -> list[Finding]:
    return lint_schema(schema, path_key=key)


def verdict(old: dict[str, Any], new: dict[str, Any]) -> Diff:
    return diff(old, new)


@dataclass(frozen=True, slots=True)
class Seen:
    """Records of one schema received in the last 24 h."""

    good: int
    bad: int


def seen_last_day(store: MicroStore | None, key: SchemaKey) -> Seen | None:
    """Good events with this schema and bad rows naming it, received in the last 24 h (None without a store)."""
    if store is None:
        return None
    since = time.time_ns() // 1_000_000 - 86_400_000
    conn, lock = store.connection
    with lock:
        # Receive times grow with ids: the first id of the day by one seek, then the (schema, id, valid) index alone.
        first = conn.execute(
            "SELECT id FROM micro_events WHERE stored_ms >= ? ORDER BY stored_ms LIMIT 1", (since,)
        ).fetchone()
        if first is None:
            return Seen(0, 0)
        good, bad = conn.execute(
            "SELECT COALESCE(SUM(valid), 0), COALESCE(SUM(1 - valid), 0) FROM micro_events"
            " WHERE schema = ? AND id >= ?",
            (key.uri, first[0]),
        ).fetchone()
    return Seen(int(good), int(bad))


def versions(tree_: SchemaTree, key: SchemaKey) -> Sequence[SchemaKey]:
    return tree_.get(key.vendor, {}).get(key.name, [])
