"""Lenient base64 for `ue_px` / `cx`: both alphabets, optional padding, stray characters ignored.

Enrich decodes with commons-codec semantics: the URL-safe (`-_`) and standard (`+/`) alphabets
are both accepted, padding is optional, characters outside the alphabet are skipped, decoding stops
at the first `=`, and trailing bits that do not make a whole byte are dropped. Decoding therefore
never fails on its own; broken input shows up as text that is not JSON.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from typing import Final

__all__ = ["decode_base64_text", "decode_lenient", "encode_base64url"]

_TO_STANDARD = str.maketrans("-_", "+/")
_CLEAN = re.compile(r"[A-Za-z0-9+/]*")
_NOT_ALPHABET = re.compile(r"[^A-Za-z0-9+/]+")


def decode_lenient(text: str) -> bytes:
    """Decode base64 / base64url text the way enrich does (see the module docstring)."""
    data = text.translate(_TO_STANDARD)
    end = data.find("=")
    if end >= 0:
        data = data[:end]
    if _CLEAN.fullmatch(data) is None:
        data = _NOT_ALPHABET.sub("", data)
    usable = len(data) - len(data) % 4
    if len(data) % 4 == 1:  # a lone sextet cannot form a byte: commons-codec drops it
        data = data[:usable]
    data += "=" * (-len(data) % 4)
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):  # unreachable after cleaning; kept so decoding never raises
        return b""


def decode_base64_text(text: str) -> str:
    """Decode to text: UTF-8, with malformed sequences replaced (as Java's String constructor does).

    Short texts are cached (batches repeat the same encoded contexts); long ones are not, so the
    cache stays small in memory.
    """
    if len(text) <= _CACHED_LENGTH:
        return _decode_cached(text)
    return decode_lenient(text).decode("utf-8", errors="replace")


_CACHED_LENGTH: Final = 4096


@lru_cache(maxsize=2048)
def _decode_cached(text: str) -> str:
    return decode_lenient(text).decode("utf-8", errors="replace")


def encode_base64url(data: bytes) -> str:
    """URL-safe base64 without padding (what the JavaScript tracker sends)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
