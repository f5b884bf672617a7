"""What one HTTP request becomes: the raw record (core.raw.CollectorPayload), built without judging content.

Decoding rules (documented because the wire allows anything):
- the query string is split on `&` and decoded as application/x-www-form-urlencoded in UTF-8; a
  parameter without `=` has the value None; bytes that are not UTF-8 become U+FFFD;
- the body is decoded with the Content-Type `charset` (UTF-8 when absent or unknown); undecodable
  bytes become U+FFFD, so a body is always recorded, never refused for its encoding;
- header names are written in canonical HTTP case (`User-Agent`): ASGI servers lower-case them and
  the original case is gone; values are decoded as Latin-1 (the HTTP default), losslessly.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from typing import TypedDict
from urllib.parse import unquote_plus

import orjson

from core.raw import RAW_RECORD_SCHEMA, CollectorPayload, format_instant

__all__ = [
    "RecordInput",
    "RequestFacts",
    "build_record",
    "canonical_header_name",
    "decode_body",
    "encode_record",
    "parse_query",
]

_SCHEMA_URI = RAW_RECORD_SCHEMA.uri


def parse_query(raw: bytes) -> tuple[tuple[str, str | None], ...]:
    """`a=1&b&c=%20` → (("a", "1"), ("b", None), ("c", " ")), in order, duplicates kept."""
    if not raw:
        return ()
    text = raw.decode("latin-1")
    out: list[tuple[str, str | None]] = []
    if "%" not in text:  # nothing to unquote: unquote_plus would only turn "+" into " " (it returns such text as is)
        for part in text.replace("+", " ").split("&"):
            if part:
                name, sep, value = part.partition("=")
                out.append((name, value if sep else None))
        return tuple(out)
    for part in text.split("&"):
        if not part:
            continue
        name, sep, value = part.partition("=")
        out.append(
            (
                unquote_plus(name, encoding="utf-8", errors="replace"),
                unquote_plus(value, encoding="utf-8", errors="replace") if sep else None,
            )
        )
    return tuple(out)


_NAME_CACHE: dict[bytes, str] = {}


def canonical_header_name(raw: bytes) -> str:
    """`user-agent` → `User-Agent` (cached: the same few names arrive on every request)."""
    name = _NAME_CACHE.get(raw)
    if name is None:
        name = "-".join(p[:1].upper() + p[1:] for p in raw.decode("latin-1").lower().split("-"))
        if len(_NAME_CACHE) < 4096:  # bounded: header names are attacker-controlled
            _NAME_CACHE[raw] = name
    return name


_CHARSETS: dict[str, str] = {}


def _charset(content_type: str | None) -> str:
    """The codec a Content-Type names (cached: trackers send the same two or three values)."""
    if not content_type:
        return "utf-8"
    known = _CHARSETS.get(content_type)
    if known is None:
        known = _lookup_charset(content_type)
        if len(_CHARSETS) < 256:  # bounded: the header is attacker-controlled
            _CHARSETS[content_type] = known
    return known


def _lookup_charset(content_type: str) -> str:
    if content_type:
        for param in content_type.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "charset":
                candidate = value.strip().strip('"')
                try:
                    return codecs.lookup(candidate).name
                except LookupError:
                    return "utf-8"
    return "utf-8"


def decode_body(body: bytes, content_type: str | None) -> str:
    """Body bytes → text with the request charset; undecodable bytes become U+FFFD (never an error)."""
    try:
        return body.decode(_charset(content_type), errors="replace")
    except (LookupError, UnicodeError):  # codecs that refuse errors="replace" (rare): fall back to UTF-8
        return body.decode("utf-8", errors="replace")


_HOST, _USER_AGENT, _REFERER, _CONTENT_TYPE, _COOKIE, _ORIGIN, _FORWARDED_FOR, _FORWARDED, _SP_ANONYMOUS = range(1, 10)
_CONTENT_LENGTH, _TRANSFER_ENCODING = 10, 11
_FACT_KINDS = {
    b"host": _HOST,
    b"user-agent": _USER_AGENT,
    b"referer": _REFERER,
    b"content-type": _CONTENT_TYPE,
    b"cookie": _COOKIE,
    b"origin": _ORIGIN,
    b"x-forwarded-for": _FORWARDED_FOR,
    b"forwarded": _FORWARDED,
    b"sp-anonymous": _SP_ANONYMOUS,
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
}
# raw header name → (lower-cased name, canonical name, fact kind or 0): one lookup per header per request
_HEADER_KINDS: dict[bytes, tuple[bytes, str, int]] = {}


def _header_kind(raw_name: bytes) -> tuple[bytes, str, int]:
    lname = raw_name.lower()
    known = (lname, canonical_header_name(lname), _FACT_KINDS.get(lname, 0))
    if len(_HEADER_KINDS) < 4096:  # bounded: header names are attacker-controlled
        _HEADER_KINDS[raw_name] = known
    return known


_HOSTNAMES: dict[str, str | None] = {}  # Host header → hostname (a collector sees a few Host values)
_NO_HOSTNAME = "\x00not cached"


def _hostname(host: str) -> str | None:
    if host.startswith("["):
        return host[1:].partition("]")[0] or None
    if host.count(":") == 1:
        return host.partition(":")[0] or None
    return host


class RequestFacts:
    """Header facts needed both for identity and for the record, extracted in one pass over the headers."""

    __slots__ = (
        "content_lengths",
        "content_type",
        "cookie_headers",
        "forwarded",
        "forwarded_for",
        "header_lines",
        "host",
        "origins",
        "referer",
        "sp_anonymous",
        "transfer_encoded",
        "useragent",
    )

    def __init__(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.content_lengths: list[str] = []  # every Content-Length value (a body above the drop size is refused)
        self.content_type: str | None = None
        self.cookie_headers: list[str] = []
        self.forwarded: list[str] = []
        self.forwarded_for: list[str] = []
        self.header_lines: list[tuple[bytes, str, str]] = []  # (lower name, canonical name, value)
        self.host: str | None = None
        self.origins: list[str] = []
        self.referer: str | None = None
        self.sp_anonymous = False
        self.transfer_encoded = False  # a Transfer-Encoding header is present (the body length is not known up front)
        self.useragent: str | None = None
        lines = self.header_lines
        for raw_name, raw_value in headers:
            known = _HEADER_KINDS.get(raw_name)
            if known is None:
                known = _header_kind(raw_name)
            lname, name, kind = known
            value = raw_value.decode("latin-1")
            lines.append((lname, name, value))
            if kind:  # one of the few headers a fact is taken from (most headers are not)
                if kind == _HOST:
                    self.host = value
                elif kind == _USER_AGENT:
                    self.useragent = value
                elif kind == _REFERER:
                    self.referer = value
                elif kind == _CONTENT_TYPE:
                    self.content_type = value.lower()
                elif kind == _COOKIE:
                    self.cookie_headers.append(value)
                elif kind == _ORIGIN:
                    self.origins.append(value)
                elif kind == _FORWARDED_FOR:
                    self.forwarded_for.append(value)
                elif kind == _FORWARDED:
                    self.forwarded.append(value)
                elif kind == _CONTENT_LENGTH:
                    self.content_lengths.append(value)
                elif kind == _TRANSFER_ENCODING:
                    self.transfer_encoded = True
                else:
                    self.sp_anonymous = True

    def hostname(self) -> str | None:
        """The Host header without its port (`[::1]:80` → `::1`)."""
        host = self.host
        if not host:
            return None
        known = _HOSTNAMES.get(host, _NO_HOSTNAME)
        if known is _NO_HOSTNAME:
            known = _hostname(host)
            if len(_HOSTNAMES) < 4096:  # bounded: the header is attacker-controlled
                _HOSTNAMES[host] = known
        return known

    def record_headers(self, *, anonymous: bool) -> tuple[str, ...]:
        """`Name: value` per header, one `Cookie: n=v` per cookie, then the bare lower-cased content type."""
        out: list[str] = []
        for lname, name, value in self.header_lines:
            if lname == b"cookie":
                if anonymous:
                    continue
                for part in value.split(";"):
                    piece = part.strip()
                    if piece:
                        out.append(f"Cookie: {piece}")
                continue
            if anonymous and lname in (b"x-forwarded-for", b"x-real-ip", b"forwarded"):
                continue
            out.append(f"{name}: {value}")
        if self.content_type is not None:
            out.append(self.content_type)
        return tuple(out)


class RecordInput(TypedDict):
    """The arguments of `build_record` and `encode_record`, so one request can be given to both."""

    facts: RequestFacts
    vendor: str
    version: str
    query: bytes
    body: bytes | None
    collector: str
    timestamp_ms: int
    ip_address: str | None
    network_user_id: str | None
    anonymous: bool


def build_record(
    *,
    facts: RequestFacts,
    vendor: str,
    version: str,
    query: bytes,
    body: bytes | None,
    collector: str,
    timestamp_ms: int,
    ip_address: str | None,
    network_user_id: str | None,
    anonymous: bool,
) -> CollectorPayload:
    """The raw record for one request; `body` is None for GET/HEAD (no body is recorded for them)."""
    return CollectorPayload(
        vendor=vendor,
        version=version,
        querystring=parse_query(query),
        content_type=facts.content_type if body is not None else None,
        body=decode_body(body, facts.content_type) if body is not None else None,
        collector=collector,
        encoding="UTF-8",
        hostname=facts.hostname(),
        timestamp=timestamp_ms,
        ip_address="unknown" if anonymous else (ip_address or "unknown"),
        useragent=facts.useragent,
        referer_uri=facts.referer,
        headers=facts.record_headers(anonymous=anonymous),
        network_user_id=network_user_id,
    )


def encode_record(
    *,
    facts: RequestFacts,
    vendor: str,
    version: str,
    query: bytes,
    body: bytes | None,
    collector: str,
    timestamp_ms: int,
    ip_address: str | None,
    network_user_id: str | None,
    anonymous: bool,
) -> bytes:
    """Exactly `build_record(...).encode()` (the queue message bytes), built straight from the request: the
    hot path, with no intermediate CollectorPayload. Field names and order are `CollectorPayload.to_json`'s."""
    return orjson.dumps(
        {
            "schema": _SCHEMA_URI,
            "data": {
                "vendor": vendor,
                "version": version,
                "querystring": [{"name": n, "value": v} for n, v in parse_query(query)],
                "contentType": facts.content_type if body is not None else None,
                "body": decode_body(body, facts.content_type) if body is not None else None,
                "collector": collector,
                "encoding": "UTF-8",
                "hostname": facts.hostname(),
                "timestamp": format_instant(timestamp_ms),
                "ipAddress": "unknown" if anonymous else (ip_address or "unknown"),
                "useragent": facts.useragent,
                "refererUri": facts.referer,
                "headers": facts.record_headers(anonymous=anonymous),
                "networkUserId": network_user_id,
            },
        }
    )
