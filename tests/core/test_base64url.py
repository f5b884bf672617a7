"""Lenient base64 for `ue_px` / `cx`: both alphabets, optional padding, stray characters skipped, never failing."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from core.base64url import decode_lenient, encode_base64url


@given(st.binary(max_size=200), st.booleans(), st.booleans())
def test_base64_accepts_both_alphabets_with_or_without_padding(data: bytes, urlsafe: bool, pad: bool) -> None:
    """Whatever the alphabet and padding, decoding gives the original bytes back."""
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()
    assert decode_lenient(encoded if pad else encoded.rstrip("=")) == data
    assert decode_lenient(encode_base64url(data)) == data


def test_base64_ignores_stray_characters_and_stops_at_padding() -> None:
    """Characters outside the alphabet are skipped, decoding stops at '=', a lone trailing sextet is dropped."""
    assert decode_lenient("eyJh\nIjox fQ") == b'{"a":1}'
    assert decode_lenient("eyJhIjoxfQ==junk") == b'{"a":1}'
    assert decode_lenient("eyJhIjoxa") == b'{"a":1'
    assert decode_lenient("") == b""


@given(st.text(max_size=50))
def test_base64_decoding_never_raises(text: str) -> None:
    """Decoding is total: junk decodes to some bytes, and a NotJson error comes later."""
    assert isinstance(decode_lenient(text), bytes)
