"""Network user id, cookies, SP-Anonymous, do-not-track and trusted proxies (§2.3), through the real app."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

from collector.forwarding import ClientAddress
from collector.identity import ANONYMOUS_NUID, IdentityRules
from collector.settings import CollectorSettings, CookieSettings, DoNotTrackCookieSettings
from tests.collector.conftest import Rig
from tests.collector.driver import call, lifespan


def run(rig: Rig, *requests: tuple[str, str, dict[str, Any]]) -> list[Any]:
    async def go() -> list[Any]:
        async with lifespan(rig.app):
            return [await call(rig.app, m, p, **kw) for m, p, kw in requests]

    return asyncio.run(go())


def attributes(set_cookie: str) -> dict[str, str]:
    out = {}
    for part in set_cookie.split(";"):
        name, _, value = part.strip().partition("=")
        out[name] = value
    return out


def test_new_visitor_gets_a_uuid_cookie_with_secure_attributes(make_rig: Callable[..., Rig]) -> None:
    """Without sp cookie or nuid a UUID v4 is issued, recorded, and set Secure, HttpOnly, SameSite=None, Path=/."""
    rig = make_rig()
    (a,) = run(rig, ("GET", "/i", {}))
    cookie = a.header("set-cookie")
    assert cookie is not None
    attrs = attributes(cookie)
    nuid = attrs["sp"]
    assert uuid.UUID(nuid).version == 4
    assert attrs["Path"] == "/" and attrs["SameSite"] == "None" and "Secure" in attrs and "HttpOnly" in attrs
    assert "Domain" not in attrs
    assert rig.records()[0].network_user_id == nuid


def test_existing_cookie_is_kept_and_its_expiry_slides(make_rig: Callable[..., Rig]) -> None:
    """An incoming sp cookie is the recorded id and is re-issued with a fresh expiry a year ahead."""
    rig = make_rig()
    (a,) = run(rig, ("GET", "/i", {"headers": [("Cookie", "other=1; sp=abc-123")]}))
    attrs = attributes(a.header("set-cookie") or "")
    assert attrs["sp"] == "abc-123"
    expires = parsedate_to_datetime(attrs["Expires"]).timestamp()
    assert abs(expires - (time.time() + 365 * 86400)) < 120
    assert rig.records()[0].network_user_id == "abc-123"


def test_nuid_parameter_wins_over_the_cookie(make_rig: Callable[..., Rig]) -> None:
    """A `nuid` query parameter overrides the cookie value and becomes the cookie."""
    rig = make_rig()
    (a,) = run(rig, ("GET", "/i", {"query": b"e=pv&nuid=server-side-id", "headers": [("Cookie", "sp=old")]}))
    assert attributes(a.header("set-cookie") or "")["sp"] == "server-side-id"
    assert rig.records()[0].network_user_id == "server-side-id"


def test_cookie_domain_is_chosen_from_the_origin(make_rig: Callable[..., Rig]) -> None:
    """The first configured domain matching an Origin host (or its parent) is used, else the fallback."""
    cookie = CookieSettings(domains=["acme.com", "shop.example"], fallback_domain="fallback.example")
    rig = make_rig(cookie=cookie)
    sub, exact, other, none = run(
        rig,
        ("GET", "/i", {"headers": [("Origin", "https://www.shop.example")]}),
        ("GET", "/i", {"headers": [("Origin", "https://acme.com")]}),
        ("GET", "/i", {"headers": [("Origin", "https://notacme.com")]}),
        ("GET", "/i", {}),
    )
    assert attributes(sub.header("set-cookie") or "")["Domain"] == "shop.example"
    assert attributes(exact.header("set-cookie") or "")["Domain"] == "acme.com"
    assert attributes(other.header("set-cookie") or "")["Domain"] == "fallback.example"
    assert attributes(none.header("set-cookie") or "")["Domain"] == "fallback.example"


def test_client_cookie_twin_is_readable_by_scripts(make_rig: Callable[..., Rig]) -> None:
    """With client_cookie_name a second cookie carries the same id without HttpOnly."""
    rig = make_rig(cookie=CookieSettings(client_cookie_name="sp_client"))
    (a,) = run(rig, ("GET", "/i", {}))
    first, second = (attributes(c) for c in a.all("set-cookie"))
    assert first["sp"] == second["sp_client"]
    assert "HttpOnly" in first and "HttpOnly" not in second


def test_sp_anonymous_zeroes_identity_and_strips_forwarding(make_rig: Callable[..., Rig]) -> None:
    """SP-Anonymous records the zero id, ip `unknown`, no cookies or forwarding headers, and deletes sp."""
    rig = make_rig(trusted_proxies=["203.0.113.0/24"])
    headers = [
        ("SP-Anonymous", "*"),
        ("Cookie", "sp=known-user; x=1"),
        ("X-Forwarded-For", "198.51.100.7"),
        ("X-Real-Ip", "198.51.100.7"),
        ("Forwarded", "for=198.51.100.7"),
        ("User-Agent", "ua"),
    ]
    with_cookie, without_cookie = run(
        rig, ("GET", "/i", {"headers": headers}), ("GET", "/i", {"headers": [("SP-Anonymous", "1")]})
    )
    deleted = attributes(with_cookie.header("set-cookie") or "")
    assert deleted["sp"] == "" and "1970" in deleted["Expires"]
    assert without_cookie.header("set-cookie") is None
    record = rig.records()[0]
    assert record.network_user_id == ANONYMOUS_NUID and record.ip_address == "unknown"
    names = {h.partition(":")[0] for h in record.headers}
    assert names.isdisjoint({"Cookie", "X-Forwarded-For", "X-Real-Ip", "Forwarded"})
    assert "User-Agent: ua" in record.headers


def test_do_not_track_cookie_answers_normally_but_records_nothing(make_rig: Callable[..., Rig]) -> None:
    """A request whose DNT cookie value matches is answered (pixel/ok) without storing or setting cookies."""
    rig = make_rig(do_not_track_cookie=DoNotTrackCookieSettings(enabled=True, name="dnt", value="yes|1"))
    pixel, post, partial = run(
        rig,
        ("GET", "/i", {"headers": [("Cookie", "dnt=yes")]}),
        ("POST", "/com.snowplowanalytics.snowplow/tp2", {"headers": [("Cookie", "dnt=1")], "body": b"{}"}),
        ("GET", "/i", {"headers": [("Cookie", "dnt=yess")]}),  # full match only
    )
    assert pixel.status == 200 and post.body == b"ok"
    assert pixel.header("set-cookie") is None and post.header("set-cookie") is None
    assert partial.header("set-cookie") is not None
    assert len(rig.records()) == 1


def test_cookie_can_be_disabled() -> None:
    """With the cookie disabled no Set-Cookie is produced but a fresh id is still recorded."""
    rules = IdentityRules(CollectorSettings(cookie=CookieSettings(enabled=False)), new_id=lambda: "fixed")
    identity = rules.resolve(cookies=[], nuid_param=None, anonymous=False, origins=[])
    assert identity.set_cookies == () and identity.network_user_id == "fixed"


def test_forwarded_headers_count_only_from_trusted_proxies(make_rig: Callable[..., Rig]) -> None:
    """X-Forwarded-For is believed only when the TCP peer is a configured trusted proxy."""
    rig = make_rig(trusted_proxies=["10.0.0.0/8"])
    xff = [("X-Forwarded-For", "198.51.100.7, 10.1.1.1")]
    run(
        rig,
        ("GET", "/i", {"headers": xff, "client": ("10.0.0.5", 1)}),
        ("GET", "/i", {"headers": xff, "client": ("203.0.113.9", 1)}),
        ("GET", "/i", {"headers": [("Forwarded", 'for="[2001:db8::1]:4711"')], "client": ("10.0.0.5", 1)}),
    )
    assert [r.ip_address for r in rig.records()] == ["198.51.100.7", "203.0.113.9", "2001:db8::1"]


def test_client_address_chain_rules() -> None:
    """The chain is walked right to left past trusted hops; garbage stops the walk; no proxies means the peer."""
    trusting = ClientAddress(["10.0.0.0/8", "192.168.0.1"])
    assert trusting.resolve("10.0.0.1", ["1.2.3.4, 192.168.0.1, 10.9.9.9"], []) == "1.2.3.4"
    assert trusting.resolve("10.0.0.1", ["5.6.7.8, 1.2.3.4"], []) == "1.2.3.4"  # 5.6.7.8 could be forged
    assert trusting.resolve("10.0.0.1", ["nonsense, 10.2.2.2"], []) == "10.2.2.2"
    assert trusting.resolve("10.0.0.1", [], []) == "10.0.0.1"
    assert ClientAddress([]).resolve("10.0.0.1", ["1.2.3.4"], []) == "10.0.0.1"


def test_new_ids_are_distinct_canonical_uuid4_strings_across_random_reads() -> None:
    """Ids drawn from the pooled random bytes are canonical RFC 4122 version-4 UUID strings, all different."""
    rules = IdentityRules(CollectorSettings(cookie=CookieSettings(enabled=False)))
    ids = [rules.resolve(cookies=[], nuid_param=None, anonymous=False, origins=[]).network_user_id for _ in range(1000)]
    parsed = [uuid.UUID(i) for i in ids if i is not None]
    assert [str(u) for u in parsed] == ids
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len(set(ids)) == len(ids)
