"""Object-name rules shared by every lake: what is accepted, what is refused and why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.lake.names import check_name, check_prefix

from .strategies import object_names, segments


@given(object_names())
def test_generated_valid_names_are_accepted(name: str) -> None:
    """Every name built from valid segments passes, unchanged, as a name and as a prefix."""
    assert check_name(name) == name
    assert check_prefix(name) == name
    assert check_prefix(name + "/") == name + "/"


@given(st.lists(segments(), min_size=1, max_size=3), st.sampled_from(["", ".", "..", ".x", "a\x00", "a\\b"]))
def test_one_bad_segment_spoils_a_name(good: list[str], bad: str) -> None:
    """Inserting an empty, dot-led, NUL or backslash segment anywhere makes the name invalid."""
    for position in range(len(good) + 1):
        with pytest.raises(ValueError):
            check_name("/".join([*good[:position], bad, *good[position:]]))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("/a", "absolute"),
        ("a/", "empty segment"),
        ("a" * 256, "longer than 255"),
        ("/".join(["a" * 200] * 6), "longer than 1024"),
        ("a\x7fb", "forbidden character"),
        ("\ud800", "forbidden character"),
    ],
)
def test_refusals_say_why(name: str, reason: str) -> None:
    """Each refusal's message names the rule that was broken."""
    with pytest.raises(ValueError, match=reason):
        check_name(name)


def test_the_empty_prefix_means_everything() -> None:
    """`""` is a valid prefix (list everything) though not a valid name."""
    assert check_prefix("") == ""
    with pytest.raises(ValueError):
        check_prefix("/")
