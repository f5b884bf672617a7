"""The hot-path encoder writes exactly the bytes of the structured raw record, for any request."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collector.record import RecordInput, RequestFacts, build_record, encode_record

_NAMES = st.sampled_from(
    [
        b"host",
        b"user-agent",
        b"referer",
        b"content-type",
        b"cookie",
        b"origin",
        b"x-forwarded-for",
        b"x-real-ip",
        b"forwarded",
        b"sp-anonymous",
        b"accept-language",
        b"x-custom-thing",
    ]
)
_LATIN1 = st.binary(max_size=40).map(lambda b: b.decode("latin-1").encode("latin-1"))
_CONTENT_TYPES = st.sampled_from(
    [b"application/json", b"application/json; charset=utf-8", b"text/plain; charset=iso-8859-1", b"x; charset=nope"]
)
_HEADERS = st.lists(
    st.one_of(st.tuples(_NAMES, _LATIN1), st.tuples(st.just(b"content-type"), _CONTENT_TYPES)), max_size=10
)
_INSTANTS = st.integers(min_value=0, max_value=4_102_444_800_000)  # 1970 .. 2100


@st.composite
def _requests(draw: st.DrawFn) -> RecordInput:
    return RecordInput(
        facts=RequestFacts(draw(_HEADERS)),
        vendor=draw(st.text(max_size=12)),
        version="tp2",
        query=draw(st.binary(max_size=60)),
        body=draw(st.one_of(st.none(), st.binary(max_size=80))),
        collector="eventkit-0.0.0-sqlite",
        timestamp_ms=draw(_INSTANTS),
        ip_address=draw(st.one_of(st.none(), st.sampled_from(["127.0.0.1", "2001:db8::1"]))),
        network_user_id=draw(st.one_of(st.none(), st.uuids().map(str))),
        anonymous=draw(st.booleans()),
    )


@given(_requests())
def test_encode_record_is_byte_identical_to_the_structured_record(request: RecordInput) -> None:
    """encode_record(...) equals build_record(...).encode() byte for byte, whatever the headers, query and body."""
    assert encode_record(**request) == build_record(**request).encode()
