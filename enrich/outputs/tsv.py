"""Good events as Snowplow enriched TSV files: one event per line, 131 fields, `\n` after every line.

The line itself comes from `EnrichedEvent.to_tsv()` (byte-compatible with Snowplow's enriched format);
this module only frames lines into a file and back.
"""

from __future__ import annotations

from collections.abc import Sequence

from enrich.event import EnrichedEvent

__all__ = ["decode_tsv", "encode_tsv"]


def encode_tsv(lines: Sequence[str]) -> bytes:
    """A TSV file from enriched lines (as produced by `EnrichedEvent.to_tsv()`), UTF-8, newline-terminated."""
    if not lines:
        return b""
    return ("\n".join(lines) + "\n").encode("utf-8")


def decode_tsv(data: bytes) -> list[EnrichedEvent]:
    """Parse a TSV file back into events (raises TsvFormatError on a malformed line)."""
    return [EnrichedEvent.from_tsv(line) for line in data.decode("utf-8").split("\n") if line]
