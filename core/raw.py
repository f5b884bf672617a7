"""The raw record: the collector → enrich contract, a JSON twin of Snowplow's CollectorPayload.

One HTTP request becomes one `CollectorPayload`; on the wire it is a compact self-describing JSON
(`iglu:io.eventkit/collector_payload/jsonschema/1-0-0`, in `schemas/`). Its `data` has exactly the
fields of the bad-row CollectorPayload object (snowplow-badrows), so a collector-level bad row
carries it unchanged and replay republishes it as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from typing import Any, Final

import orjson

from core.iglu import SchemaKey

__all__ = [
    "RAW_RECORD_SCHEMA",
    "CollectorPayload",
    "RawRecordError",
    "format_instant",
    "parse_instant",
    "split_headers",
]

RAW_RECORD_SCHEMA = SchemaKey.parse("iglu:io.eventkit/collector_payload/jsonschema/1-0-0")
_SCHEMA_URI = RAW_RECORD_SCHEMA.uri


class RawRecordError(ValueError):
    """Bytes that are not a raw record (enrich turns this into collector_payload_format_violation)."""


def format_instant(ms: int) -> str:
    """Epoch milliseconds → ISO-8601 with milliseconds and `Z`, as bad rows and raw records carry."""
    second, millis = divmod(ms, 1000)
    return f"{_second_text(second)}.{millis:03d}Z"


@lru_cache(maxsize=1024)
def _second_text(second: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS` of an epoch second; cached, as requests and events arrive many to a second."""
    dt = datetime.fromtimestamp(second, tz=UTC)
    # Not strftime("%Y"): glibc does not zero-pad years below 1000, which would break RFC 3339.
    return f"{dt.year:04d}-{dt:%m-%dT%H:%M:%S}"


def parse_instant(text: str) -> int:
    """ISO-8601 instant (`...Z` or with offset) → epoch milliseconds."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class CollectorPayload:
    """What the collector saw of one request, without judging it."""

    vendor: str
    version: str
    querystring: tuple[tuple[str, str | None], ...]
    content_type: str | None
    body: str | None
    collector: str
    encoding: str
    hostname: str | None
    timestamp: int  # epoch ms at receipt; becomes collector_tstamp
    ip_address: str | None
    useragent: str | None
    referer_uri: str | None
    headers: tuple[str, ...] = field(default=())
    network_user_id: str | None = None

    def with_body(self, body: str | None) -> CollectorPayload:
        return replace(self, body=body)

    def to_json(self) -> dict[str, Any]:
        """The bad-row CollectorPayload object (field names and order as snowplow-badrows)."""
        return {
            "vendor": self.vendor,
            "version": self.version,
            "querystring": [{"name": n, "value": v} for n, v in self.querystring],
            "contentType": self.content_type,
            "body": self.body,
            "collector": self.collector,
            "encoding": self.encoding,
            "hostname": self.hostname,
            "timestamp": format_instant(self.timestamp),
            "ipAddress": self.ip_address,
            "useragent": self.useragent,
            "refererUri": self.referer_uri,
            "headers": list(self.headers),
            "networkUserId": self.network_user_id,
        }

    def encode(self) -> bytes:
        """The raw record as queue message bytes: compact self-describing JSON."""
        return orjson.dumps({"schema": _SCHEMA_URI, "data": self.to_json()})

    @classmethod
    def from_json(cls, data: Any) -> CollectorPayload:
        """Read the bad-row CollectorPayload object; raises RawRecordError naming the field."""
        if not isinstance(data, dict):
            raise RawRecordError("collector payload is not a JSON object")
        try:
            qs_raw = data.get("querystring") or []
            if isinstance(qs_raw, dict):  # snowplow-badrows decoders accept the object form too
                qs = tuple((str(k), None if v is None else str(v)) for k, v in qs_raw.items())
            else:
                qs = _pairs(qs_raw)
            ts = data.get("timestamp")
            headers = data.get("headers") or []
            if not isinstance(headers, list):
                raise RawRecordError("headers: expected a list of strings")
            if not _STRINGS.issuperset(map(type, headers)):
                headers = [_str(h, "headers") for h in headers]
            return cls(
                vendor=_str(data["vendor"], "vendor"),
                version=_str(data["version"], "version"),
                querystring=qs,
                content_type=_opt(data.get("contentType"), "contentType"),
                body=_opt(data.get("body"), "body"),
                collector=_str(data.get("collector", ""), "collector"),
                encoding=_str(data.get("encoding", "UTF-8"), "encoding"),
                hostname=_opt(data.get("hostname"), "hostname"),
                timestamp=parse_instant(ts) if isinstance(ts, str) else 0,
                ip_address=_opt(data.get("ipAddress"), "ipAddress"),
                useragent=_opt(data.get("useragent"), "useragent"),
                referer_uri=_opt(data.get("refererUri"), "refererUri"),
                headers=tuple(headers),
                network_user_id=_opt(data.get("networkUserId"), "networkUserId"),
            )
        except KeyError as e:
            raise RawRecordError(f"collector payload misses field {e.args[0]}") from None
        except (TypeError, ValueError) as malformed:
            if isinstance(malformed, RawRecordError):
                raise
            raise RawRecordError(f"collector payload is malformed: {malformed}") from None

    @classmethod
    def decode(cls, raw: bytes) -> CollectorPayload:
        """Queue message bytes → CollectorPayload; raises RawRecordError for anything else."""
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise RawRecordError(f"raw record is not JSON: {e}") from None
        if not isinstance(doc, dict) or doc.get("schema") != _SCHEMA_URI or "data" not in doc:
            found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
            raise RawRecordError(f"verifying record as {_SCHEMA_URI} failed: found {found}")
        return cls.from_json(doc["data"])

    @property
    def path(self) -> str:
        """The canonical request path this payload came in on."""
        if (self.vendor, self.version) == ("com.snowplowanalytics.snowplow", "tp1"):
            return "/i"
        return f"/{self.vendor}/{self.version}"


_DICTS: Final = frozenset((dict,))
_STRINGS: Final = frozenset((str,))
_OPTIONAL_STRINGS: Final = frozenset((str, type(None)))
_NAME = itemgetter("name")


def _pairs(items: Any) -> tuple[tuple[str, str | None], ...]:
    """The querystring list as (name, value) pairs: C-level when every item is a well-typed dict."""
    if type(items) is list and _DICTS.issuperset(map(type, items)):
        try:
            names = list(map(_NAME, items))
        except KeyError:
            names = None
        if names is not None:
            values = list(map(dict.get, items, repeat("value")))
            if _STRINGS.issuperset(map(type, names)) and _OPTIONAL_STRINGS.issuperset(map(type, values)):
                return tuple(zip(names, values, strict=True))
    # Anything unusual: item by item, so the first bad item is the one reported.
    return tuple((_str(p["name"], "querystring.name"), _opt(p.get("value"), "querystring.value")) for p in items)


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise RawRecordError(f"{name}: expected a string")
    return value


def _opt(value: Any, name: str) -> str | None:
    if value is None:
        return None
    return _str(value, name)


def split_headers(headers: Sequence[str]) -> list[tuple[str, str]]:
    """`Name: value` strings → pairs (the bare content-type entry has no name and is skipped)."""
    out = []
    for h in headers:
        colon = h.find(":")
        if colon >= 0:
            # the value without its surrounding whitespace, cut once (this runs for every header of every event)
            start, end = colon + 1, len(h)
            while start < end and h[start].isspace():
                start += 1
            while end > start and h[end - 1].isspace():
                end -= 1
            out.append((h[:colon].strip(), h[start:end]))
    return out
