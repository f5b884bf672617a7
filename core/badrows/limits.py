"""The published bad-row schemas' size limits, applied so every row we emit validates and replay loses nothing.

Two policies, chosen per field:

* **truncate** — metadata that replay does not need verbatim (an expectation text, a header, the
  user agent) is cut to the schema's `maxLength` (counted in code points, as JSON Schema does).
* **chunk** — query-string / parameter *values* carry the event itself (`ue_px`, `cx`), and real
  ones exceed the schemas' 512-character limit. They are split into consecutive entries with the
  same name, each at most 512 characters; a reader joins a run of same-name entries while the
  previous chunk is exactly full. When a value's length is a positive multiple of the limit and
  the *next original* entry has the same name and a string value, an empty terminator chunk is
  emitted so the two stay apart. The encoding is exact (`unchunk(chunk(x)) == x`) and is valid
  against the published schemas; Snowplow's own tools would see the chunks as repeated parameters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "PAIR_LIMIT",
    "chunk_pairs",
    "fit",
    "fit_optional",
    "is_instant",
    "is_uuid",
    "unchunk_pairs",
]

PAIR_LIMIT = 512  # maxLength of querystring/parameters name and value in every bad-row schema

_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# RFC 3339 date-time, which the schemas' `format: date-time` means.
_INSTANT_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)

Pair = tuple[str, str | None]


def fit(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` code points."""
    return text if len(text) <= limit else text[:limit]


def fit_optional(text: str | None, limit: int) -> str | None:
    return None if text is None else fit(text, limit)


def is_uuid(text: str) -> bool:
    """The canonical 8-4-4-4-12 hex form the schemas' `format: uuid` means."""
    return _UUID_RE.fullmatch(text) is not None


def is_instant(text: str) -> bool:
    """An RFC 3339 date-time string (what `format: date-time` accepts)."""
    return _INSTANT_RE.fullmatch(text) is not None


def chunk_pairs(pairs: Sequence[Pair], limit: int = PAIR_LIMIT) -> list[Pair]:
    """Split over-long values into same-name runs (see the module docstring); names must already fit."""
    out: list[Pair] = []
    for i, (name, value) in enumerate(pairs):
        if value is None or len(value) < limit:
            out.append((name, value))
            continue
        out.extend((name, value[start : start + limit]) for start in range(0, len(value), limit))
        last_chunk_full = len(value) % limit == 0
        if last_chunk_full and i + 1 < len(pairs) and pairs[i + 1][0] == name and pairs[i + 1][1] is not None:
            out.append((name, ""))  # terminator: the next same-name entry is a new parameter
    return out


def unchunk_pairs(pairs: Sequence[Pair], limit: int = PAIR_LIMIT) -> list[Pair]:
    """Inverse of chunk_pairs."""
    out: list[Pair] = []
    last_chunk_full = False
    for name, value in pairs:
        if last_chunk_full and value is not None and out and out[-1][0] == name:
            previous = out[-1][1]
            assert previous is not None  # a full chunk is a string
            out[-1] = (name, previous + value)
        else:
            out.append((name, value))
        last_chunk_full = value is not None and len(value) == limit
    return out
