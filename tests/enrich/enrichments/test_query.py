"""The page-query parser shared by the enrichments agrees with urllib's parse_qsl, only faster."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote

from hypothesis import given
from hypothesis import strategies as st

from enrich.enrichments.base import _unquote, parse_query

_QUERY_CHARS = st.sampled_from([*"ab=&+%;?/#09AFfzé ", "%2", "%E9", "%e9%9e%8b", "%ZZ", "%ff"])


@given(st.lists(_QUERY_CHARS, max_size=40).map("".join))
def test_parse_query_equals_parse_qsl_with_blank_values(query: str) -> None:
    """For any query text (escapes broken or not), the pairs are exactly parse_qsl(keep_blank_values=True)'s."""
    assert parse_query(query) == parse_qsl(query, keep_blank_values=True)


@given(
    st.lists(_QUERY_CHARS | st.sampled_from(["%", "%%41", "%4", "%c3%a9", "%C3", "%80", "\x7f"]), max_size=20).map(
        "".join
    )
)
def test_unquote_equals_urllib(text: str) -> None:
    """Percent decoding of any text (ASCII or not, escapes whole, broken or invalid UTF-8) is urllib's unquote."""
    assert _unquote(text) == unquote(text, errors="replace")


def test_documented_examples() -> None:
    """`+` is a space, escapes are decoded, a bare name has an empty value, empty pairs vanish."""
    assert parse_query("q=red+shoes&x&&k=%E9%9E%8B") == [("q", "red shoes"), ("x", ""), ("k", "鞋")]
