"""The raw record each captured tracker request becomes (golden files), and the decoding rules behind it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.record import RequestFacts, canonical_header_name, decode_body, parse_query
from core.raw import CollectorPayload
from tests.collector.conftest import Rig
from tests.collector.driver import CASES, captured, lifespan, replay

UPDATE = os.environ.get("EVENTKIT_REGEN_GOLDEN") == "1"  # the explicit flag that rewrites golden files


def replay_all(make_rig: Callable[..., Rig], name: str) -> tuple[list[Any], list[CollectorPayload]]:
    """Replay every captured request of one tracker with a pinned clock and id source."""
    requests = captured(name)
    clock = iter(round(r["ts"] * 1000) for r in requests if r["method"] != "OPTIONS")
    ids = iter(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}-{i}")) for i in range(1000))
    rig = make_rig(clock_ms=lambda: next(clock), new_id=lambda: next(ids))

    async def go() -> list[Any]:
        async with lifespan(rig.app):
            return [await replay(rig.app, r) for r in requests]

    return asyncio.run(go()), rig.records()


@pytest.mark.parametrize("name", ["python", "js"])
def test_captured_requests_become_the_golden_raw_records(make_rig: Callable[..., Rig], name: str) -> None:
    """Each captured request is answered 200 and recorded exactly as tests/cases/collector/<name>-tracker-records."""
    answers, records = replay_all(make_rig, name)
    assert all(a.status == 200 for a in answers)
    got = [r.to_json() for r in records]
    for g in got:  # the collector field carries the package version; its shape is what is pinned
        assert re.fullmatch(r"eventkit-[0-9][^-]*-sqlite", g["collector"]), g["collector"]
        g["collector"] = "eventkit-<version>-sqlite"
    golden = CASES / f"{name}-tracker-records.jsonl"
    if UPDATE:
        golden.write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in got), encoding="utf-8")
    expected = [json.loads(line) for line in golden.read_text(encoding="utf-8").splitlines()]
    assert got == expected


def test_records_round_trip_through_the_wire_format(make_rig: Callable[..., Rig]) -> None:
    """Every recorded message decodes back to the same CollectorPayload (encode/decode are inverse)."""
    _, records = replay_all(make_rig, "js")
    assert records and all(CollectorPayload.decode(r.encode()) == r for r in records)


def test_cookie_header_is_split_and_content_type_appended() -> None:
    """Cookie headers become one entry per cookie; the lower-cased content type closes the list."""
    facts = RequestFacts([(b"cookie", b"a=1; b=2"), (b"content-type", b"Application/JSON"), (b"x-thing", b"v")])
    assert facts.record_headers(anonymous=False) == (
        "Cookie: a=1",
        "Cookie: b=2",
        "Content-Type: Application/JSON",
        "X-Thing: v",
        "application/json",
    )


def test_hostname_drops_the_port() -> None:
    """The recorded hostname is the Host header without a port, IPv6 brackets removed."""
    assert RequestFacts([(b"host", b"c.example:8080")]).hostname() == "c.example"
    assert RequestFacts([(b"host", b"[::1]:80")]).hostname() == "::1"
    assert RequestFacts([]).hostname() is None


def test_header_names_are_canonical_case() -> None:
    """ASGI's lower-case names are written in canonical HTTP case."""
    assert canonical_header_name(b"user-agent") == "User-Agent"
    assert canonical_header_name(b"sec-ch-ua-platform") == "Sec-Ch-Ua-Platform"


pair = st.tuples(st.text(min_size=1), st.one_of(st.none(), st.text()))


@given(st.lists(pair, max_size=8))
def test_query_parsing_inverts_form_encoding(pairs: list[tuple[str, str | None]]) -> None:
    """Form-encoded pairs decode back to themselves, order and duplicates kept, `?a` meaning value None."""
    raw = "&".join(quote_plus(n) if v is None else f"{quote_plus(n)}={quote_plus(v)}" for n, v in pairs)
    # Lone surrogates cannot be UTF-8 encoded by trackers either; they are replaced on the way in.
    expected = [
        (n.encode("utf-8", "replace").decode(), None if v is None else v.encode("utf-8", "replace").decode())
        for n, v in pairs
    ]
    assert list(parse_query(raw.encode("ascii"))) == expected


@given(st.binary(max_size=200), st.sampled_from(["utf-8", "latin-1", "utf-16", "bogus-charset", "shift_jis", ""]))
def test_any_body_bytes_decode_without_error(body: bytes, charset: str) -> None:
    """Whatever the bytes and the declared charset, the body decodes (undecodable bytes become U+FFFD)."""
    text = decode_body(body, f"application/json; charset={charset}" if charset else "application/json")
    assert isinstance(text, str)
    if charset in ("utf-8", "") and body.decode("utf-8", "ignore").encode() == body:
        assert text == body.decode("utf-8")
