"""The resolver cache TTL a user may configure, in three states: seconds, None (never expire), or NOT_SET.

Its own small module so command-line modules can name NOT_SET without importing the resolver.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["NOT_SET", "NotSet", "Ttl"]


class NotSet(Enum):
    """The type of NOT_SET: a cache TTL nobody configured (None already means "never expires")."""

    NOT_SET = "not set"


NOT_SET = NotSet.NOT_SET

Ttl = float | NotSet | None
