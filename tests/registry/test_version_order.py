"""Iglu's publish order (VersionCursor): which versions may follow the ones already published."""

from __future__ import annotations

import pytest

from core.iglu import SchemaVer
from registry.version_order import order_problem


def _vs(*versions: str) -> list[SchemaVer]:
    return [SchemaVer.parse(v) for v in versions]


@pytest.mark.parametrize(
    ("version", "existing", "fragment"),
    [
        ("1-0-0", [], None),
        ("2-0-0", ["1-0-0"], None),
        ("3-0-0", ["1-0-0"], "2-*-*"),
        ("1-1-0", ["1-0-0", "1-0-1"], None),
        ("1-2-0", ["1-0-0"], "1-1-*"),
        ("1-0-1", ["1-0-0"], None),
        ("1-0-2", ["1-0-0"], "1-0-1"),
        ("1-0-1", ["1-0-0", "1-1-0"], "Next revision in the group exists"),
    ],
)
def test_version_cursor_rules(version: str, existing: list[str], fragment: str | None) -> None:
    """VersionCursor: 1-0-0 always; no gaps in model, revision or addition; no addition under a newer revision."""
    problem = order_problem(SchemaVer.parse(version), _vs(*existing))
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem
