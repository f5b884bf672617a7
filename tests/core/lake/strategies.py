"""Hypothesis strategies for lake object names (valid by construction)."""

from __future__ import annotations

from hypothesis import strategies as st

_segment_chars = st.characters(
    blacklist_categories=("Cs", "Cc"),
    blacklist_characters="/\\\x7f",
)


def segments() -> st.SearchStrategy[str]:
    """One valid name segment: non-empty, not starting with '.', at most 255 UTF-8 bytes."""
    return st.text(_segment_chars, min_size=1, max_size=40).filter(
        lambda s: not s.startswith(".") and len(s.encode()) <= 255
    )


def object_names() -> st.SearchStrategy[str]:
    """A valid object name of one to four segments."""
    return st.lists(segments(), min_size=1, max_size=4).map("/".join)
