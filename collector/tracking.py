"""The tracking routes as one lean ASGI handler: pixel GET/HEAD, POST, redirect, CORS preflight (§2.1).

These are the hot path, so they bypass FastAPI's routing and middleware: one pass over the
headers, no per-request models, precomputed header bytes. Everything else (health, metrics,
robots.txt) is FastAPI's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from collector.durability import Acknowledger
from collector.forwarding import ClientAddress
from collector.identity import Identity, IdentityRules, parse_cookies
from collector.metrics import CollectorMetrics
from collector.record import RequestFacts, build_record, encode_record
from collector.responses import CORS_ALLOW_HEADERS, NO_CACHE, PIXEL
from collector.settings import CollectorSettings
from collector.sizing import SizeViolationFact, fit_record
from core.errors import LakeUnavailable, ObjectExists
from core.lake.port import Lake

__all__ = ["Answer", "Oversized", "Route", "TrackingEndpoint", "refused"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
WriteViolations = Callable[[Lake, list[SizeViolationFact], int], None]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body

_TP1 = ("com.snowplowanalytics.snowplow", "tp1")
_PIXEL_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"cache-control", NO_CACHE.encode()),
    (b"content-length", str(len(PIXEL)).encode()),
]
_OK_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2")]
_CREDENTIALS = (b"access-control-allow-credentials", b"true")


_ROUTES_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Route:
    """What a method + path means: `pixel`, `post`, `redirect`, `preflight`, or None (not a tracking route)."""

    kind: str
    vendor: str = ""
    version: str = ""


def _text(status: int, text: str, extra: list[tuple[bytes, bytes]]) -> Answer:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    return status, headers + extra, body


_UNKNOWN = Route("not yet routed")  # a sentinel: the route cache has no entry


class Oversized(NamedTuple):
    """A request whose record is over the queue's message size, as far as `TrackingEndpoint.prepare` got."""

    route: Route
    facts: RequestFacts
    query: bytes
    body: bytes | None
    now: int
    ip_address: str | None
    identity: Identity
    location: str | None
    origin: bytes


class TrackingEndpoint:
    """Answers tracking requests; `route()` says whether a request is one (else FastAPI handles it)."""

    def __init__(
        self,
        config: CollectorSettings,
        acknowledger: Acknowledger,
        *,
        lake: Lake | None,
        collector_name: str,
        metrics: CollectorMetrics,
        write_violations: WriteViolations,
        clock_ms: Callable[[], int] | None = None,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        self.ack = acknowledger
        self.lake = lake
        self.collector_name = collector_name
        self.metrics = metrics
        self._write_violations = write_violations
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._identity = IdentityRules(config, new_id=new_id)
        self._client = ClientAddress(config.trusted_proxies)
        self._paths = dict(config.paths)
        self._redirect_domains = tuple(d.lower().lstrip(".") for d in config.redirect.domains)
        self._routes: dict[tuple[str, str], Route | None] = {}
        self._preflight_tail = [
            _CREDENTIALS,
            (b"access-control-allow-headers", CORS_ALLOW_HEADERS.encode()),
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-max-age", str(config.cors.max_age).encode()),
            (b"content-length", b"0"),
        ]

    def route(self, method: str, path: str) -> Route | None:
        """The route of a method + path (remembered: trackers send the same few, so most requests skip the rules)."""
        key = (method, path)
        known = self._routes.get(key, _UNKNOWN)
        if known is not _UNKNOWN:
            return known
        route = self._route(method, path)
        if len(self._routes) < _ROUTES_KEPT:  # bounded: paths are attacker-controlled
            self._routes[key] = route
        return route

    def _route(self, method: str, path: str) -> Route | None:
        if method == "OPTIONS":
            return Route("preflight")
        path = self._paths.get(path, path)
        if method in ("GET", "HEAD"):
            if path in ("/i", "/ice.png"):
                return Route("pixel", *_TP1)
            if path.startswith("/r/"):
                return Route("redirect", "r", "tp2") if method == "GET" else None
        elif method != "POST":
            return None
        parts = path.split("/")
        if len(parts) != 3 or parts[0] or not parts[1] or not parts[2]:
            return None
        if method == "POST":
            return Route("post", parts[1], parts[2])
        return Route("pixel", parts[1], parts[2])

    async def __call__(self, scope: Scope, receive: Receive, send: Send, route: Route) -> None:
        started = time.perf_counter()
        answer = await self._answer(scope, receive, route)
        if answer is None:
            return  # the client left before its body arrived: nothing recorded, nobody to answer
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
        self.metrics.observe(route.kind, status, time.perf_counter() - started)

    async def _answer(self, scope: Scope, receive: Receive, route: Route) -> Answer | None:
        facts = RequestFacts(scope["headers"])
        body: bytes | None = None
        if route.kind == "post":
            read = await self._read_body(receive, facts)
            if read is None:
                return None
            if isinstance(read, str):
                return _text(413, read, _cors(_origin(facts)))
            body = read
        prepared = self.prepare(scope, route, facts, body)
        if isinstance(prepared, Oversized):  # rare: the record is too big for one queue message
            return await self.answer_oversized(prepared)
        answer, records, origin = prepared
        if records:
            if not await self.ack.store(records):
                return refused(origin)
            self.metrics.stored(len(records))
        return answer

    def prepare(
        self, scope: Mapping[str, Any], route: Route, facts: RequestFacts, body: bytes | None
    ) -> tuple[Answer, list[bytes], bytes] | Oversized:
        """Everything about a request up to its durable store, without waiting: (the answer once `records` are
        stored, the records — none to store when the answer needs no record —, the CORS origin for a refusal);
        or, when the record exceeds the queue's message size, what `_answer_oversized` needs to apply the size
        rules (which may write to the lake, so they are awaited)."""
        origin = _origin(facts)
        if route.kind == "preflight":
            return (200, [(b"access-control-allow-origin", origin), *self._preflight_tail], b""), [], origin
        query: bytes = scope.get("query_string", b"")
        location: str | None = None
        if route.kind == "redirect":
            if not self.config.redirect.enabled:
                return _text(404, "redirects disabled", _cors(origin)), [], origin
            location = self._redirect_target(query)
            if location is None:
                return _text(400, "redirect target missing or not in the allowed domains", _cors(origin)), [], origin
        now = self._clock_ms()  # one instant per request: the record's timestamp and the cookie's expiry
        identity = self._resolve(facts, query, now)
        records: list[bytes] = []
        if not identity.do_not_track:
            client = scope.get("client")
            ip_address = self._client.resolve(client[0] if client else None, facts.forwarded_for, facts.forwarded)
            encoded = encode_record(
                facts=facts,
                vendor=route.vendor,
                version=route.version,
                query=query,
                body=body,
                collector=self.collector_name,
                timestamp_ms=now,
                ip_address=ip_address,
                network_user_id=identity.network_user_id,
                anonymous=identity.anonymous,
            )
            if len(encoded) > self.config.sink_max_bytes:
                return Oversized(route, facts, query, body, now, ip_address, identity, location, origin)
            records.append(encoded)
        return self._success(route, origin, location, identity), records, origin

    def _resolve(self, facts: RequestFacts, query: bytes, now_ms: int) -> Identity:
        return self._identity.resolve(
            cookies=parse_cookies(facts.cookie_headers),
            nuid_param=_nuid_param(query) if b"nuid=" in query else None,
            anonymous=facts.sp_anonymous,
            origins=facts.origins,
            now=now_ms / 1000,
        )

    def _success(self, route: Route, origin: bytes, location: str | None, identity: Identity) -> Answer:
        if route.kind == "post":
            headers = [*_OK_HEADERS, (b"access-control-allow-origin", origin), _CREDENTIALS]
        elif location is not None:
            headers = [
                (b"location", location.encode("ascii")),
                (b"content-length", b"0"),
                (b"access-control-allow-origin", origin),
                _CREDENTIALS,
            ]
        else:
            headers = [*_PIXEL_HEADERS, (b"access-control-allow-origin", origin), _CREDENTIALS]
        for cookie in identity.set_cookies:
            headers.append((b"set-cookie", cookie.encode("latin-1")))
        if route.kind == "post":
            return 200, headers, b"ok"
        if location is not None:
            return 302, headers, b""
        return 200, headers, PIXEL

    async def answer_oversized(self, request: Oversized) -> Answer:
        """A request whose record exceeds one queue message: split (POST) or cut into size_violation bad rows."""
        identity, origin = request.identity, request.origin
        outcome = fit_record(
            build_record(
                facts=request.facts,
                vendor=request.route.vendor,
                version=request.route.version,
                query=request.query,
                body=request.body,
                collector=self.collector_name,
                timestamp_ms=request.now,
                ip_address=request.ip_address,
                network_user_id=identity.network_user_id,
                anonymous=identity.anonymous,
            ),
            sink_max_bytes=self.config.sink_max_bytes,
            max_payload_size=self.config.max_payload_size,
        )
        if outcome.violations:
            refusal = await self._record_violations(outcome.violations, request.now)
            if refusal is not None:
                return _text(refusal[0], refusal[1], _cors(origin))
        if not await self.ack.store(outcome.records):
            return refused(origin)
        self.metrics.stored(len(outcome.records))
        return self._success(request.route, origin, request.location, identity)

    async def _read_body(self, receive: Receive, facts: RequestFacts) -> bytes | str | None:
        """The whole body, a 413 reason once it exceeds the drop size (the rest is never read), or None if the
        client disconnected first."""
        limit = self.config.drop_payload_size
        for value in facts.content_lengths:
            if value.strip().isdigit() and int(value) > limit:
                return f"payload too large: {int(value)} bytes exceeds the drop size of {limit} bytes"
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):  # the usual: one message
            whole: bytes = message.get("body", b"")
            if len(whole) > limit:
                return f"payload too large: body exceeds the drop size of {limit} bytes"
            return whole
        chunks: list[bytes] = []
        size = 0
        while True:
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    return f"payload too large: body exceeds the drop size of {limit} bytes"
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
            message = await receive()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _redirect_target(self, query: bytes) -> str | None:
        from collector.record import parse_query

        target = next((v for n, v in parse_query(query) if n == "u"), None)
        if not target:
            return None
        try:
            parts = urlsplit(target)
            host = (parts.hostname or "").lower()
        except ValueError:
            return None
        if parts.scheme not in ("http", "https") or not host:
            return None
        if not any(host == d or host.endswith("." + d) for d in self._redirect_domains):
            return None
        return quote(target, safe=":/?#[]@!$&'()*+,;=%~")

    async def _record_violations(self, violations: list[SizeViolationFact], now: int) -> tuple[int, str] | None:
        if self.lake is None:
            return 413, "payload too large and no bad-row lake is configured to record it"
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._write_violations, self.lake, violations, now)
        except (LakeUnavailable, ObjectExists, OSError):
            return 503, "the size violation could not be recorded; retry later"
        self.metrics.violations(len(violations))
        return None


def _cors(origin: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"access-control-allow-origin", origin), _CREDENTIALS]


def _origin(facts: RequestFacts) -> bytes:
    return facts.origins[0].encode("latin-1") if facts.origins else b"*"


def refused(origin: bytes) -> Answer:
    """The answer when neither the queue nor the spool confirmed the records (the client should retry)."""
    return _text(503, "the raw record could not be stored durably; retry later", _cors(origin))


def _nuid_param(query: bytes) -> str | None:
    if b"nuid=" not in query:
        return None
    from collector.record import parse_query

    for name, value in parse_query(query):
        if name == "nuid" and value:
            return value
    return None
