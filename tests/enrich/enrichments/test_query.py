"""The page-query parser shared by the enrichments agrees with urllib's parse_qsl, only faster."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st

from enrich.enrichments.base import parse_query

_QUERY_CHARS = st.sampled_from([*"ab=&+%;?/#09AFfzé ", "%2", "%E9", "%e9%9e%8b", "%ZZ", "%ff"])


@given(st.lists(_QUERY_CHARS, max_size=40).map("".join))
def test_parse_query_equals_parse_qsl_with_blank_values(query: str) -> None:
    """For any query text (escapes broken or not), the pairs are exactly parse_qsl(keep_blank_values=True)'s."""
    assert parse_query(query) == parse_qsl(query, keep_blank_values=True)


def test_documented_examples() -> None:
    """`+` is a space, escapes are decoded, a bare name has an empty value, empty pairs vanish."""
    assert parse_query("q=red+shoes&x&&k=%E9%9E%8B") == [("q", "red shoes"), ("x", ""), ("k", "鞋")]
