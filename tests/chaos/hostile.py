"""The bad-input catalogue the chaos suite sends: every class of hostile or unlucky request a collector meets.

Each entry builds one request from a marker (a fresh UUID). Where the request can carry the marker
somewhere the pipeline keeps (the `eid` of its event, or a query parameter of the raw record) the
entry says so, and the chaos run then proves the request ended as exactly one good row or as bad
rows; every entry must be answered without a 5xx and without crashing or stalling any process.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["CATALOGUE", "REGEX_BOMBS", "Hostile", "HttpRequest", "RawBytes", "hostile_schemas"]

SP = "com.snowplowanalytics.snowplow"
TP2 = f"/{SP}/tp2"
PAYLOAD = f"iglu:{SP}/payload_data/jsonschema/1-0-4"
SELF_DESC = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"

# Patterns that backtrack catastrophically in Python's `re` on "a" * 29 + "!" (issue 15).
REGEX_BOMBS = {
    "bomb_nested_counted": "^(a{1,99})+$",
    "bomb_counted_plus": "^(a+){2,50}$",
    "bomb_dot_star": "^(.*a){20}$",
    "bomb_optional_counted": "(a{0,99}){0,99}$",
}
BOMB_INPUT = "a" * 29 + "!"


@dataclass(frozen=True)
class HttpRequest:
    """A well-formed HTTP request (httpx sends it)."""

    method: Literal["GET", "POST"]
    path: str
    params: list[tuple[str, str]] | None = None
    content: bytes | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class RawBytes:
    """Bytes written to a socket as they are: what no HTTP client would send."""

    data: bytes


Expect = Literal["event", "request", "none"]


@dataclass(frozen=True)
class Hostile:
    """One class of bad input: how to build it, and where its marker survives.

    `expect`: "event" — the marker is the event's `eid`, so the event ends as one good row or bad rows
    naming it; "request" — the marker is a query parameter of the raw record, so bad rows carry it;
    "none" — nothing is recorded (the HTTP edge refuses it), only the answer and the processes count.
    """

    name: str
    build: Callable[[str], HttpRequest | RawBytes]
    expect: Expect = "event"


def _b64(doc: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def _base(marker: str, e: str = "pv") -> list[tuple[str, str]]:
    return [("e", e), ("eid", marker), ("p", "web"), ("tv", "chaos-1"), ("aid", "chaos"),
            ("dtm", str(int(time.time() * 1000)))]  # fmt: skip


def _get(*extra: tuple[str, str], e: str = "pv") -> Callable[[str], HttpRequest]:
    return lambda m: HttpRequest("GET", "/i", [*_base(m, e), *extra])


def _ue_pr(text: str) -> Callable[[str], HttpRequest]:
    """A self-describing event whose `ue_pr` is the given JSON text, sent by GET."""
    return lambda m: HttpRequest("GET", "/i", [*_base(m, "ue"), ("ue_pr", text)])


def _unstruct(schema: str, data: object) -> str:
    return json.dumps(
        {"schema": f"iglu:{SP}/unstruct_event/jsonschema/1-0-0", "data": {"schema": schema, "data": data}}
    )


def _post(body: bytes, content_type: str = "application/json", **headers: str) -> Callable[[str], HttpRequest]:
    return lambda m: HttpRequest("POST", TP2, [("m", m)], body, {"Content-Type": content_type, **headers})


def _tp2(events: Callable[[str], list[dict[str, str]]]) -> Callable[[str], HttpRequest]:
    def build(m: str) -> HttpRequest:
        body = json.dumps({"schema": PAYLOAD, "data": events(m)}).encode()
        return HttpRequest("POST", TP2, None, body, {"Content-Type": "application/json; charset=utf-8"})

    return build


def _raw(data: bytes) -> Callable[[str], RawBytes]:
    return lambda m: RawBytes(data)


def _raw_request(head: str, body: bytes = b"") -> Callable[[str], RawBytes]:
    return lambda m: RawBytes(head.replace("{m}", m).encode("latin-1") + body)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


_HTTP = (
    Hostile("garbage-bytes", _raw(b"\x00\x01\x02\xff\xfe garbage \r\n\r\n"), "none"),
    Hostile("no-http-version", _raw_request("GET /i\r\n\r\n"), "none"),
    Hostile("bad-method-nul", _raw_request("G\x00T /i HTTP/1.1\r\nHost: x\r\n\r\n"), "none"),
    Hostile("space-in-target", _raw_request("GET /i x y HTTP/1.1\r\nHost: x\r\n\r\n"), "none"),
    Hostile("header-without-colon", _raw_request("GET /i HTTP/1.1\r\nHost x\r\n\r\n"), "none"),
    Hostile("header-nul", _raw_request("GET /i HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"), "none"),
    Hostile(
        "5000-headers",
        _raw_request(
            "GET /i?e=pv&m={m} HTTP/1.1\r\nHost: x\r\n" + "".join(f"X-H{i}: v\r\n" for i in range(5000)) + "\r\n"
        ),
        "none",
    ),
    Hostile("100kb-header", _raw_request("GET /i HTTP/1.1\r\nHost: x\r\nX-Big: " + "b" * 100_000 + "\r\n\r\n"), "none"),
    Hostile(
        "negative-content-length", _raw_request(f"POST {TP2} HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"), "none"
    ),
    Hostile(
        "text-content-length", _raw_request(f"POST {TP2} HTTP/1.1\r\nHost: x\r\nContent-Length: ab\r\n\r\n"), "none"
    ),
    Hostile(
        "conflicting-content-lengths",
        _raw_request(f"POST {TP2} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 9\r\n\r\nabc"),
        "none",
    ),
    Hostile(
        "bad-chunk-size",
        _raw_request(f"POST {TP2} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
        "none",
    ),
    Hostile(
        "chunked-and-content-length",
        _raw_request(
            f"POST {TP2} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ),
        "none",
    ),
    Hostile(
        "500kb-get", _raw_request("GET /i?e=pv&eid={m}&x=" + "q" * 500_000 + " HTTP/1.1\r\nHost: x\r\n\r\n"), "none"
    ),
    Hostile("invalid-utf8-target", _raw(b"GET /i?e=pv&url=\xff\xfe\xfd HTTP/1.1\r\nHost: x\r\n\r\n"), "none"),
    Hostile("http2-preface", _raw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "none"),
    Hostile("tls-client-hello", _raw(bytes.fromhex("160301020001000200030300") + b"\x00" * 64), "none"),
    Hostile("70kb-request-line", _raw_request("GET /i?" + "a=b&" * 17_500 + " HTTP/1.1\r\nHost: x\r\n\r\n"), "none"),
    Hostile("lf-only", _raw_request("GET /i?e=pv HTTP/1.1\nHost: x\n\n"), "none"),
    Hostile("obs-fold-header", _raw_request("GET /i HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n"), "none"),
    Hostile(
        "websocket-upgrade",
        _raw_request("GET /i HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
        "none",
    ),
    Hostile(
        "truncated-body",
        _raw_request(f"POST {TP2}?m={{m}} HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{{"),
        "none",
    ),
)

_EVENTS = (
    Hostile("invalid-utf8-params", lambda m: HttpRequest("GET", "/i?url=%FF%FE&page=%C3%28", _base(m)), "event"),
    Hostile("bad-base64", lambda m: HttpRequest("GET", "/i", [*_base(m, "ue"), ("ue_px", "!!not*base64!!")]), "event"),
    Hostile(
        "base64-not-json", lambda m: HttpRequest("GET", "/i", [*_base(m, "ue"), ("ue_px", "bm90IGpzb24")]), "event"
    ),
    Hostile("depth-10000-json", _ue_pr(_deep(10_000)), "event"),
    Hostile("depth-10000-context", _get(("co", '{"schema":"x","data":' + _deep(10_000) + "}")), "event"),
    Hostile("1e999", _ue_pr('{"schema":"iglu:' + SP + '/unstruct_event/jsonschema/1-0-0","data":1e999}'), "event"),
    Hostile("nan", _ue_pr('{"schema":"iglu:' + SP + '/unstruct_event/jsonschema/1-0-0","data":NaN}'), "event"),
    Hostile(
        "lone-surrogate", _ue_pr(_unstruct("iglu:com.acme/checkout/jsonschema/1-0-0", {"orderId": "\ud800"})), "event"
    ),
    Hostile(
        "300-contexts",
        _get(
            (
                "co",
                json.dumps(
                    {
                        "schema": f"iglu:{SP}/contexts/jsonschema/1-0-1",
                        "data": [
                            {"schema": "iglu:com.acme/user_context/jsonschema/1-0-0", "data": {"userId": str(i)}}
                            for i in range(300)
                        ],
                    }
                ),
            )
        ),
        "event",
    ),
    Hostile("unknown-event-type", _get(e="zz"), "event"),
    Hostile("no-event-type", lambda m: HttpRequest("GET", "/i", [("eid", m), ("p", "web"), ("tv", "x")]), "event"),
    Hostile("bad-platform", _get(("p", "toaster")), "event"),
    Hostile("dtm-text", _get(("dtm", "yesterday")), "event"),
    Hostile("dtm-huge", _get(("dtm", "1" + "0" * 30)), "event"),
    Hostile("stm-negative", _get(("stm", "-99999999999999")), "event"),
    Hostile("dot-dot-vendor", _ue_pr(_unstruct("iglu:../p11/jsonschema/1-0-0", {})), "event"),
    Hostile("encoded-dot-dot-vendor", _ue_pr(_unstruct("iglu:%2e%2e/p11/jsonschema/1-0-0", {})), "event"),
    Hostile("dot-vendor", _ue_pr(_unstruct("iglu:./p11/jsonschema/1-0-0", {})), "event"),
    Hostile("no-version", _ue_pr(_unstruct("iglu:com.acme/checkout/jsonschema", {})), "event"),
    Hostile("four-part-version", _ue_pr(_unstruct("iglu:com.acme/checkout/jsonschema/1-0-0-0", {})), "event"),
    Hostile("unknown-vendor-schema", _ue_pr(_unstruct("iglu:com.nobody/x/jsonschema/1-0-0", {})), "event"),
    *(
        Hostile(
            f"regex-{name}", _ue_pr(_unstruct(f"iglu:com.acme/{name}/jsonschema/1-0-0", {"code": BOMB_INPUT})), "event"
        )
        for name in REGEX_BOMBS
    ),
    Hostile(
        "regex-bomb-valid-value",
        _ue_pr(_unstruct("iglu:com.acme/bomb_counted_plus/jsonschema/1-0-0", {"code": "aaaa"})),
        "event",
    ),
    Hostile("remote-ref-schema", _ue_pr(_unstruct("iglu:com.acme/remote_ref/jsonschema/1-0-0", {"a": 1})), "event"),
    Hostile(
        "200kb-field",
        _tp2(
            lambda m: [
                {
                    **dict(_base(m, "ue")),
                    "ue_pr": _unstruct("iglu:com.acme/checkout/jsonschema/1-0-0", {"orderId": "o" * 200_000}),
                }
            ]
        ),
        "event",
    ),
    Hostile(
        "unicode-everywhere",
        _get(("page", "ﷺ\u202e 👩\u200d👩\u200d👧 \u200b"), ("url", "https://例え.jp/ü?q=ß")),
        "event",
    ),
    Hostile("control-characters", _get(("page", "a\x00b\x1bc\x7f\td\ne"), ("url", "https://x.example/\x01")), "event"),
    Hostile("script-title", _get(("page", "<script>alert(1)</script>"), ("url", "https://x.example/<img>")), "event"),
    Hostile("transaction-total-text", _get(("tr_id", "o"), ("tr_tt", "lots"), e="tr"), "event"),
    Hostile("struct-value-nan", _get(("se_ca", "c"), ("se_ac", "a"), ("se_va", "NaN"), e="se"), "event"),
    Hostile("page-ping-float", _get(("pp_mix", "1.5"), ("pp_max", "1e400"), e="pp"), "event"),
    Hostile("bad-ip-param", _get(("ip", "999.1.2.3"), ("url", "https://x.example/"))),
    Hostile("bad-resolution", _get(("res", "abcxdef"), ("vp", "-1x-1"))),
    Hostile("javascript-url", _get(("url", "javascript:alert(1)"), ("refr", "data:text/html,<b>"))),
    Hostile("10kb-query-url", _get(("url", "https://x.example/?" + "k=v&" * 2500))),
    Hostile("broken-referer", _get(("refr", "http://[::1"), ("url", "http://%zz/"))),
    Hostile("bad-uuid-duid", _get(("duid", "\x00" * 40), ("sid", "not-a-uuid"), ("vid", "-1"))),
    Hostile(
        "hostile-cookie", lambda m: HttpRequest("GET", "/i", _base(m), headers={"Cookie": "sp=%00%ff; sp=..; =;;"})
    ),
    Hostile(
        "forwarded-garbage", lambda m: HttpRequest("GET", "/i", _base(m), headers={"X-Forwarded-For": "zz, , ::g"})
    ),
    Hostile(
        "8kb-user-agent", lambda m: HttpRequest("GET", "/i", _base(m), headers={"User-Agent": "Mozilla/5.0 " * 700})
    ),
)

_BODIES = (
    Hostile("body-not-json", _post(b"{not json"), "request"),
    Hostile("body-json-array", _post(b"[1, 2, 3]"), "request"),
    Hostile("body-data-not-list", _post(json.dumps({"schema": PAYLOAD, "data": {"e": "pv"}}).encode()), "request"),
    Hostile("body-schema-not-string", _post(b'{"schema": 1, "data": []}'), "request"),
    Hostile(
        "body-text-plain",
        _post(json.dumps({"schema": PAYLOAD, "data": [{"e": "pv"}]}).encode(), "text/plain"),
        "request",
    ),
    Hostile(
        "body-utf16", _post('{"schema":"x","data":[]}'.encode("utf-16"), "application/json; charset=utf-16"), "request"
    ),
    Hostile("body-invalid-utf8", _post(b'{"schema":"\xff\xfe","data":[]}'), "request"),
    Hostile("body-bom", _post(b"\xef\xbb\xbf" + json.dumps({"schema": PAYLOAD, "data": []}).encode()), "request"),
    Hostile("body-empty", _post(b""), "request"),
    Hostile("body-gzip-garbage", _post(b"\x1f\x8b\x08\x00garbage", **{"Content-Encoding": "gzip"}), "request"),
    Hostile(
        "body-gzip-valid",
        _post(
            gzip.compress(json.dumps({"schema": PAYLOAD, "data": [{"e": "pv"}]}).encode()),
            **{"Content-Encoding": "gzip"},
        ),
        "request",
    ),
    Hostile("unknown-vendor-path", lambda m: HttpRequest("POST", "/com.foo/v1", [("m", m)], b'{"a":1}'), "request"),
    Hostile(
        "iglu-webhook-bad-schema",
        lambda m: HttpRequest(
            "GET", "/com.snowplowanalytics.iglu/v1", [("m", m), ("schema", "iglu:../x/jsonschema/1-0-0")]
        ),
        "request",
    ),
    Hostile(
        "tp2-non-object-event",
        _tp2(lambda m: [dict(_base(m)), 7, "x", None]),  # type: ignore[list-item]
        "event",
    ),
    Hostile("tp2-2000-events", _tp2(lambda m: [dict(_base(m))] + [{"e": "pv", "p": "web", "tv": "x"}] * 1999), "event"),
    Hostile("tp2-non-string-value", _tp2(lambda m: [{**dict(_base(m)), "page": ["x"]}]), "event"),
    Hostile(
        "redirect-javascript", lambda m: HttpRequest("GET", "/r/tp2", [*_base(m), ("u", "javascript:alert(1)")]), "none"
    ),
)

CATALOGUE: tuple[Hostile, ...] = (*_HTTP, *_EVENTS, *_BODIES)


def hostile_schemas() -> dict[str, dict[str, object]]:
    """Schemas a careless or hostile publisher could hand-copy into a folder registry: regex bombs, a remote `$ref`."""

    def schema(name: str, properties: dict[str, object]) -> dict[str, object]:
        return {
            "$schema": SELF_DESC,
            "self": {"vendor": "com.acme", "name": name, "format": "jsonschema", "version": "1-0-0"},
            "type": "object",
            "properties": properties,
        }

    out = {name: schema(name, {"code": {"type": "string", "pattern": p}}) for name, p in REGEX_BOMBS.items()}
    out["remote_ref"] = schema("remote_ref", {"a": {"$ref": "http://127.0.0.1:9/evil.json"}})
    return out
