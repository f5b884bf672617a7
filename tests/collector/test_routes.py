"""Every collector route: status, body and headers as §2.1 describes, against the real SQLite queue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from collector.responses import PIXEL
from tests.collector.conftest import Rig
from tests.collector.driver import call, captured, lifespan, replay

TP2 = "/com.snowplowanalytics.snowplow/tp2"


def run(rig: Rig, *requests: tuple[str, str, dict[str, Any]]) -> list[Any]:
    async def go() -> list[Any]:
        async with lifespan(rig.app):
            return [await call(rig.app, m, p, **kw) for m, p, kw in requests]

    return asyncio.run(go())


def test_pixel_routes_answer_the_43_byte_gif_without_caching(make_rig: Callable[..., Rig]) -> None:
    """GET /i, /ice.png and /{vendor}/{version} answer the 1x1 GIF with no-cache headers and are recorded."""
    rig = make_rig()
    answers = run(rig, ("GET", "/i", {"query": b"e=pv"}), ("GET", "/ice.png", {}), ("GET", "/com.acme/v1", {}))
    for a in answers:
        assert a.status == 200
        assert a.body == PIXEL and len(PIXEL) == 43 and PIXEL.startswith(b"GIF89a")
        assert a.header("content-type") == "image/gif"
        assert a.header("cache-control") == "no-cache, no-store, must-revalidate"
    records = rig.records()
    assert [(r.vendor, r.version) for r in records] == [
        ("com.snowplowanalytics.snowplow", "tp1"),
        ("com.snowplowanalytics.snowplow", "tp1"),
        ("com.acme", "v1"),
    ]


def test_head_pixel_is_recorded_and_has_no_body(make_rig: Callable[..., Rig]) -> None:
    """HEAD on a pixel route is stored like GET but the response carries headers only."""
    rig = make_rig()
    (a,) = run(rig, ("HEAD", "/i", {"query": b"e=pv"}))
    assert a.status == 200 and a.body == b"" and a.header("content-length") == "43"
    assert len(rig.records()) == 1


def test_post_answers_ok_and_records_the_body(make_rig: Callable[..., Rig]) -> None:
    """POST /{vendor}/{version} answers `ok` as text/plain and records the body and lower-cased content type."""
    rig = make_rig()
    body = b'{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv"}]}'
    (a,) = run(rig, ("POST", TP2, {"headers": [("Content-Type", "Application/JSON; charset=UTF-8")], "body": body}))
    assert (a.status, a.body) == (200, b"ok")
    assert (
        a.header(
            "content-type",
        )
        == "text/plain; charset=utf-8"
    )
    (record,) = rig.records()
    assert record.body == body.decode() and record.content_type == "application/json; charset=utf-8"


def test_cors_headers_echo_the_origin_on_tracking_responses(make_rig: Callable[..., Rig]) -> None:
    """Tracking responses allow the first Origin with credentials, or `*` without an Origin."""
    rig = make_rig()
    with_origin, without = run(
        rig, ("GET", "/i", {"headers": [("Origin", "https://shop.example")]}), ("POST", TP2, {"body": b"x"})
    )
    assert with_origin.header("access-control-allow-origin") == "https://shop.example"
    assert with_origin.header("access-control-allow-credentials") == "true"
    assert without.header("access-control-allow-origin") == "*"


def test_preflight_matches_what_chromium_asked_for(make_rig: Callable[..., Rig]) -> None:
    """The captured browser OPTIONS request gets its Origin echoed, credentials, SP-Anonymous allowed, max-age."""
    rig = make_rig(cors={"max_age": 1234})
    (options,) = [r for r in captured("js") if r["method"] == "OPTIONS"]

    async def go() -> Any:
        async with lifespan(rig.app):
            return await replay(rig.app, options)

    a = asyncio.run(go())
    assert a.status == 200
    assert a.header("access-control-allow-origin") == "http://127.0.0.1:38473"
    assert a.header("access-control-allow-credentials") == "true"
    allowed = {h.strip().lower() for h in (a.header("access-control-allow-headers") or "").split(",")}
    assert {"content-type", "sp-anonymous"} <= allowed
    assert a.header("access-control-max-age") == "1234"
    assert rig.records() == []  # a preflight is not an event


def test_options_on_any_path_is_a_preflight(make_rig: Callable[..., Rig]) -> None:
    """OPTIONS on an arbitrary path also answers the CORS preflight."""
    (a,) = run(make_rig(), ("OPTIONS", "/anything/at/all", {"headers": [("Origin", "https://a.example")]}))
    assert a.status == 200 and a.header("access-control-allow-origin") == "https://a.example"


def test_redirect_is_off_by_default(make_rig: Callable[..., Rig]) -> None:
    """/r/tp2 answers 404 `redirects disabled` unless enabled, and records nothing."""
    rig = make_rig()
    (a,) = run(rig, ("GET", "/r/tp2", {"query": b"u=https%3A%2F%2Fshop.example%2F"}))
    assert (a.status, a.body) == (404, b"redirects disabled")
    assert rig.records() == []


def test_redirect_goes_only_to_allowed_domains(make_rig: Callable[..., Rig]) -> None:
    """When enabled, allowed targets get 302 and are recorded as r/tp2; others (or no u) get 400, unrecorded."""
    rig = make_rig(redirect={"enabled": True, "domains": ["shop.example"]})
    ok, sub, evil, missing, script = run(
        rig,
        ("GET", "/r/tp2", {"query": b"e=se&u=https%3A%2F%2Fshop.example%2Fp%3Fx%3D1"}),
        ("GET", "/r/tp2", {"query": b"u=https://www.shop.example/a"}),
        ("GET", "/r/tp2", {"query": b"u=https://evil.example/"}),
        ("GET", "/r/tp2", {}),
        ("GET", "/r/tp2", {"query": b"u=javascript:alert(1)"}),
    )
    assert ok.status == 302 and ok.header("location") == "https://shop.example/p?x=1"
    assert (
        ok.header(
            "set-cookie",
        )
        is not None
    )
    assert sub.status == 302
    assert (evil.status, missing.status, script.status) == (400, 400, 400)
    records = rig.records()
    assert [(r.vendor, r.version) for r in records] == [("r", "tp2"), ("r", "tp2")]


def test_configured_paths_map_to_standard_routes(make_rig: Callable[..., Rig]) -> None:
    """A configured custom path behaves exactly like the canonical path it maps to."""
    rig = make_rig(paths={"/acme/track": TP2, "/acme/iglu": "/com.snowplowanalytics.iglu/v1"})
    post, iglu = run(rig, ("POST", "/acme/track", {"body": b"{}"}), ("GET", "/acme/iglu", {"query": b"e=pv"}))
    assert (post.status, post.body, iglu.status) == (200, b"ok", 200)
    assert [(r.vendor, r.version) for r in rig.records()] == [
        ("com.snowplowanalytics.snowplow", "tp2"),
        ("com.snowplowanalytics.iglu", "v1"),
    ]


def test_operational_routes(make_rig: Callable[..., Rig]) -> None:
    """/health, /sink-health, /robots.txt and /metrics answer; /crossdomain.xml only when enabled; others 404."""
    rig = make_rig(crossdomain={"enabled": True, "domains": ["*.acme.com"]})
    health, sink, robots, metrics, cross, missing, deep = run(
        rig,
        ("GET", "/health", {}),
        ("GET", "/sink-health", {}),
        ("GET", "/robots.txt", {}),
        ("GET", "/metrics", {}),
        ("GET", "/crossdomain.xml", {}),
        ("GET", "/nope", {}),
        ("GET", "/a/b/c", {}),
    )
    assert (health.status, health.body) == (200, b"ok")
    assert (sink.status, sink.body) == (200, b"ok")
    assert robots.status == 200 and b"Disallow: /" in robots.body and b"AdsBot-Google" in robots.body
    assert metrics.status == 200 and b"collector_sink_healthy 1.0" in metrics.body
    assert cross.status == 200 and b'<allow-access-from domain="*.acme.com" secure="true" />' in cross.body
    assert cross.header(
        "content-type",
    ).startswith("text/xml")  # type: ignore[union-attr]
    assert (missing.status, deep.status) == (404, 404)
    (off,) = run(make_rig(), ("GET", "/crossdomain.xml", {}))
    assert off.status == 404


def test_metrics_count_tracking_requests(make_rig: Callable[..., Rig]) -> None:
    """After two pixel requests /metrics reports them by route and status, and the records stored."""
    rig = make_rig()
    *_, metrics = run(rig, ("GET", "/i", {}), ("GET", "/i", {}), ("GET", "/metrics", {}))
    assert b'collector_requests_total{route="pixel",status="200"} 2.0' in metrics.body
    assert b"collector_records_stored_total 2.0" in metrics.body
