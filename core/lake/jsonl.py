"""Bad rows as JSON-lines files: one compact self-describing bad-row JSON per line, one line per event.

Each line is the bad row's own encoding (valid against its published bad-row schema); files live
under `bad/<type>/…` where `<type>` is the bad-row schema name (e.g. `schema_violations`).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

__all__ = ["decode_jsonl", "encode_jsonl"]


def encode_jsonl(lines: Sequence[bytes]) -> bytes:
    """A JSON-lines file from already-encoded compact JSON documents (none may contain a raw newline)."""
    if not lines:
        return b""
    return b"\n".join(lines) + b"\n"


def decode_jsonl(data: bytes) -> list[object]:
    """The JSON documents of a JSON-lines file, in order."""
    return [orjson.loads(line) for line in data.split(b"\n") if line.strip()]
