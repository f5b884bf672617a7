"""`--since`/`--until` times (loader.selection.parse_when): the accepted forms, and mistakes as one ConfigError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import ConfigError
from loader.selection import parse_when

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_relative_and_absolute_times() -> None:
    """7d, 12h and 30m count back from now; ISO dates and instants are UTC unless they say otherwise."""
    assert parse_when("7d", now=NOW) == NOW - timedelta(days=7)
    assert parse_when(" 12h ", now=NOW) == NOW - timedelta(hours=12)
    assert parse_when("30m", now=NOW) == NOW - timedelta(minutes=30)
    assert parse_when("2026-11-26") == datetime(2026, 11, 26, tzinfo=UTC)
    assert parse_when("2026-11-26T10:00Z") == datetime(2026, 11, 26, 10, tzinfo=UTC)


@pytest.mark.parametrize("text", ["yesterday", "7 days", "-3d", "", "99999999999999999999d", "3000000d", "%00"])
def test_mistakes_are_a_config_error_naming_the_text(text: str) -> None:
    """Words, signs, and counts reaching before the year 1 (which overflowed into a traceback) are refused."""
    with pytest.raises(ConfigError, match=r"is not a time|before the year 1"):
        parse_when(text, now=NOW)
