"""Values enrich computes rather than reads: derived_tstamp, URL parts, client IP, schema, fingerprint, lengths.

Each is a small pure function over the event (or the raw parameters), following snowplow.md §3.1-§3.4
and §3.6 exactly; the pipeline decides when each runs and turns their complaints into failures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from operator import gt
from typing import Any, Final
from urllib.parse import urlsplit

from core.atomic import FIELD_INDEX, LengthLimits
from core.badrows import InputDataMessage
from core.iglu import SchemaKey
from enrich.environment import FingerprintConfig
from enrich.event import EnrichedEvent
from enrich.tracker_protocol import first_ip_token, sanitise

__all__ = [
    "ATOMIC_SCHEMA",
    "EVENT_SCHEMAS",
    "LENGTH_KEYWORD",
    "UrlParts",
    "client_ip",
    "derive_tstamp",
    "event_fingerprint",
    "length_reports",
    "set_event_schema",
    "set_page_url",
    "set_refr_url",
    "split_url",
]

LENGTH_KEYWORD: Final = "atomic_field_length_exceeded"
# What atomic-field parse and length errors are reported against.
ATOMIC_SCHEMA = SchemaKey.parse("iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0")

_SNOWPLOW: Final = "com.snowplowanalytics.snowplow"
EVENT_SCHEMAS: dict[str, tuple[str, str, str, str]] = {
    "page_view": (_SNOWPLOW, "page_view", "jsonschema", "1-0-0"),
    "page_ping": (_SNOWPLOW, "page_ping", "jsonschema", "1-0-0"),
    "struct": ("com.google.analytics", "event", "jsonschema", "1-0-0"),
    "transaction": (_SNOWPLOW, "transaction", "jsonschema", "1-0-0"),
    "transaction_item": (_SNOWPLOW, "transaction_item", "jsonschema", "1-0-0"),
}
# The constructors themselves: hashlib.new(name) costs a Python-level lookup per call.
_HASH_CONSTRUCTORS: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA384": hashlib.sha384,
    "SHA512": hashlib.sha512,
}
_FORWARDING_INITIALS: Final = frozenset("xXfF")


def derive_tstamp(collector: int | None, created: int | None, sent: int | None, true: int | None) -> int | None:
    """snowplow.md §3.3: true_tstamp; else collector - (sent - created) when created < sent; else collector."""
    if true is not None:
        return true
    if collector is not None and created is not None and sent is not None and created < sent:
        return collector - (sent - created)
    return collector


@dataclass(frozen=True, slots=True)
class UrlParts:
    """The raw (still percent-encoded) components of a URL, as the page_url* / refr_url* fields hold them."""

    url: str
    scheme: str | None
    host: str | None
    port: int
    path: str | None
    query: str | None
    fragment: str | None


def split_url(url: str) -> UrlParts:
    """Split a URL leniently (spaces become %20); raises ValueError when it cannot be read as a URI.

    Results for ordinary-length URLs are cached: a session's events repeat the same page URLs.
    """
    if len(url) <= _CACHED_URL_LENGTH:
        return _split_cached(url)
    return _split(url)


_CACHED_URL_LENGTH: Final = 2048


@lru_cache(maxsize=2048)
def _split_cached(url: str) -> UrlParts:
    return _split(url)


def _split(url: str) -> UrlParts:
    fixed = url.replace(" ", "%20") if " " in url else url
    parts = urlsplit(fixed)
    port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    netloc = parts.netloc.rpartition("@")[2]
    host = netloc[: netloc.find("]") + 1] if netloc.startswith("[") else netloc.partition(":")[0]
    scheme = parts.scheme or None
    if port is None:
        port = 443 if scheme == "https" else 80
    return UrlParts(fixed, scheme, host or None, port, parts.path or None, parts.query or None, parts.fragment or None)


def set_page_url(event: EnrichedEvent, referer_uri: str | None) -> InputDataMessage | None:
    """page_url from `url`, else the Referer header; then its parts. A URL that cannot be read is a failure."""
    url = event.page_url
    if url is None and referer_uri:
        url = sanitise(referer_uri)
    if url is None:
        return None
    try:
        parts = split_url(url)
    except ValueError as e:
        return InputDataMessage("page_url", url, f"could not be parsed as a URI: {e}")
    event.page_url = parts.url
    event.page_urlscheme = parts.scheme
    event.page_urlhost = parts.host
    event.page_urlport = parts.port
    event.page_urlpath = parts.path
    event.page_urlquery = parts.query
    event.page_urlfragment = parts.fragment
    return None


def set_refr_url(event: EnrichedEvent) -> InputDataMessage | None:
    """refr_url* from page_referrer (always done; referer classification is an enrichment)."""
    url = event.page_referrer
    if url is None:
        return None
    try:
        parts = split_url(url)
    except ValueError as e:
        return InputDataMessage("page_referrer", url, f"could not be parsed as a URI: {e}")
    event.refr_urlscheme = parts.scheme
    event.refr_urlhost = parts.host
    event.refr_urlport = parts.port
    event.refr_urlpath = parts.path
    event.refr_urlquery = parts.query
    event.refr_urlfragment = parts.fragment
    return None


def set_event_schema(event: EnrichedEvent, unstruct_key: SchemaKey | None) -> InputDataMessage | None:
    """event_vendor/name/format/version from the event type (unstruct: the event's own schema)."""
    if event.event == "unstruct" and unstruct_key is not None:
        event.event_vendor = unstruct_key.vendor
        event.event_name = unstruct_key.name
        event.event_format = unstruct_key.format
        event.event_version = str(unstruct_key.version)
        return None
    known = EVENT_SCHEMAS.get(event.event) if event.event is not None else None
    if known is None:
        expectation = "trying to extract the event's schema: the event type does not match any known schema"
        return InputDataMessage("event", event.event, expectation)
    event.event_vendor, event.event_name, event.event_format, event.event_version = known
    return None


def client_ip(headers: Sequence[str], ip_address: str | None) -> str | None:
    """First X-Forwarded-For address, else the Forwarded `for=` address, else the collector's peer address."""
    forwarded_for: str | None = None
    for header in headers:
        if header[:1] not in _FORWARDING_INITIALS:  # cheap skip: most headers are neither
            continue
        name, sep, value = header.partition(":")
        if not sep:
            continue
        lowered = name.strip().lower()
        if lowered == "x-forwarded-for":
            first = first_ip_token(value.strip())
            if first:
                return first
        elif lowered == "forwarded" and forwarded_for is None:
            forwarded_for = _forwarded_for(value.strip())
    if forwarded_for:
        return forwarded_for
    return sanitise(ip_address) if ip_address else None


def _forwarded_for(value: str) -> str | None:
    for element in value.replace(",", ";").split(";"):
        name, _, node = element.strip().partition("=")
        if name.lower() == "for" and node:
            node = node.strip('"')
            if node.startswith("["):
                end = node.find("]")
                return sanitise(node[1:end] if end > 0 else node[1:])
            if node.count(":") == 1:  # IPv4 with a port
                node = node.partition(":")[0]
            return sanitise(node)
    return None


def event_fingerprint(params: Mapping[str, str | None], config: FingerprintConfig) -> str:
    """Hash of the raw parameters sorted by name, excluded ones left out, each as key␟value␟."""
    excluded = config.exclude
    parts: list[str] = []
    for name in sorted(params):
        value = params[name]
        if value is not None and name not in excluded:
            parts += (name, value)
    text = "\x1f".join(parts) + "\x1f" if parts else ""
    digest: str = _HASH_CONSTRUCTORS[config.algorithm](text.encode("utf-8")).hexdigest()
    return digest


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def length_reports(event: EnrichedEvent, limits: LengthLimits) -> list[dict[str, Any]]:
    """One data report per string field longer than its limit (in UTF-16 code units, as Java counts)."""
    values = limits.values_of(event)
    present = tuple(filter(None, values))
    # C-level passes: `filter` and `compress` keep the same (truthy) values, so lengths and limits stay
    # aligned. An ASCII string's UTF-16 length is its length (str knows it is ASCII in O(1)); only an event
    # with a value over its limit in code points, or with a non-ASCII value, is checked field by field.
    if not any(map(gt, map(len, present), compress(limits.bounds, values))) and all(map(str.isascii, present)):
        return []
    reports: list[dict[str, Any]] = []
    # Only the set fields (the same truthy selection again): a short country code need not cost 84 steps.
    for name, limit, value in zip(
        compress(limits.names, values), compress(limits.bounds, values), present, strict=True
    ):
        if len(value) > limit or (len(value) * 2 > limit and not value.isascii() and _utf16_length(value) > limit):
            reports.append(
                {
                    "message": f"Field is longer than maximum allowed size {limit}",
                    "path": name,
                    "keyword": LENGTH_KEYWORD,
                    "targets": [],
                }
            )
    if len(reports) > 1:
        reports.sort(key=lambda r: FIELD_INDEX[r["path"]])
    return reports
