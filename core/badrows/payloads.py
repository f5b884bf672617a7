"""What a bad row carries for replay: the whole raw record (CollectorPayload) or one event (RawEvent + enriched).

Both are fitted to the bad-row schemas' limits when a bad row is built (see core.badrows.limits):
query-string / parameter values are chunked losslessly, other over-long texts are cut, a network
user id that is not a UUID is dropped. Fitting is idempotent, so a parsed bad row equals the one
that was written.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from core.badrows.atomic import normalise_partially_enriched
from core.badrows.limits import PAIR_LIMIT, chunk_pairs, fit, fit_optional, is_uuid, unchunk_pairs
from core.raw import CollectorPayload, format_instant, parse_instant

__all__ = [
    "REPLAY_CONTENT_TYPE",
    "EnrichmentPayload",
    "RawEvent",
    "collector_payload_from_json",
    "collector_payload_to_json",
    "fit_collector_payload",
]

SNOWPLOW_VENDOR = "com.snowplowanalytics.snowplow"
REPLAY_CONTENT_TYPE = None  # replayed single events travel as GET-style query strings, without a body

# maxLength of the payload fields in adapter_failures / tracker_protocol_violations / schema_violations.
_VENDOR, _VERSION, _CONTENT_TYPE, _COLLECTOR, _ENCODING = 64, 16, 256, 32, 32
_HOSTNAME, _IP, _USERAGENT, _REFERER, _HEADER = 8192, 128, 4096, 8192, 8192

Pair = tuple[str, str | None]


def _fit_pairs(pairs: tuple[Pair, ...]) -> tuple[Pair, ...]:
    return tuple((fit(name, PAIR_LIMIT), value) for name, value in pairs)


def _fit_uuid(value: str | None) -> str | None:
    return value if value is not None and is_uuid(value) else None


def fit_collector_payload(payload: CollectorPayload) -> CollectorPayload:
    """The payload as a bad row can carry it (texts cut to the schema limits; values are chunked later)."""
    return dataclasses.replace(
        payload,
        vendor=fit(payload.vendor, _VENDOR),
        version=fit(payload.version, _VERSION),
        querystring=_fit_pairs(payload.querystring),
        content_type=fit_optional(payload.content_type, _CONTENT_TYPE),
        collector=fit(payload.collector, _COLLECTOR),
        encoding=fit(payload.encoding, _ENCODING),
        hostname=fit_optional(payload.hostname, _HOSTNAME),
        ip_address=fit_optional(payload.ip_address, _IP),
        useragent=fit_optional(payload.useragent, _USERAGENT),
        referer_uri=fit_optional(payload.referer_uri, _REFERER),
        headers=tuple(fit(h, _HEADER) for h in payload.headers),
        network_user_id=_fit_uuid(payload.network_user_id),
    )


def collector_payload_to_json(payload: CollectorPayload) -> dict[str, Any]:
    """The bad-row CollectorPayload object of an already fitted payload, query-string values chunked."""
    data = payload.to_json()
    data["querystring"] = [{"name": n, "value": v} for n, v in chunk_pairs(payload.querystring)]
    return data


def collector_payload_from_json(data: Any) -> CollectorPayload:
    """Inverse of collector_payload_to_json; raises RawRecordError (a ValueError) naming the field."""
    payload = CollectorPayload.from_json(data)
    return dataclasses.replace(payload, querystring=tuple(unchunk_pairs(payload.querystring)))


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One event as the adapter produced it from a collector payload: what per-event replay needs.

    `parameters` are the tracker-protocol parameters of this one event. Names are unique (a later
    duplicate replaces the earlier value in place, as a map would) and cut to 512 characters.
    """

    vendor: str
    version: str
    parameters: tuple[Pair, ...]
    content_type: str | None
    loader_name: str
    encoding: str
    hostname: str | None
    timestamp_ms: int | None
    ip_address: str | None
    useragent: str | None
    referer_uri: str | None
    headers: tuple[str, ...] = ()
    user_id: str | None = None

    def __post_init__(self) -> None:
        params: dict[str, str | None] = {}
        for name, value in self.parameters:
            params[fit(name, PAIR_LIMIT)] = value
        fitted: dict[str, object] = {
            "vendor": fit(self.vendor, _VENDOR),
            "version": fit(self.version, _VERSION),
            "parameters": tuple(params.items()),
            "content_type": fit_optional(self.content_type, _CONTENT_TYPE),
            "loader_name": fit(self.loader_name, _COLLECTOR),
            "encoding": fit(self.encoding, _ENCODING),
            "hostname": fit_optional(self.hostname, _HOSTNAME),
            "ip_address": fit_optional(self.ip_address, _IP),
            "useragent": fit_optional(self.useragent, _USERAGENT),
            "referer_uri": fit_optional(self.referer_uri, _REFERER),
            "headers": tuple(fit(h, _HEADER) for h in self.headers),
            "user_id": _fit_uuid(self.user_id),
        }
        for attribute, fitted_value in fitted.items():
            object.__setattr__(self, attribute, fitted_value)

    @classmethod
    def from_collector_payload(cls, payload: CollectorPayload, parameters: tuple[Pair, ...]) -> RawEvent:
        """The raw event for one of the events the adapter found in `payload`."""
        return cls(
            vendor=payload.vendor,
            version=payload.version,
            parameters=parameters,
            content_type=payload.content_type,
            loader_name=payload.collector,
            encoding=payload.encoding,
            hostname=payload.hostname,
            timestamp_ms=payload.timestamp,
            ip_address=payload.ip_address,
            useragent=payload.useragent,
            referer_uri=payload.referer_uri,
            headers=payload.headers,
            user_id=payload.network_user_id,
        )

    def to_collector_payload(self) -> CollectorPayload:
        """A single-event raw record that replays this event: GET-style, parameters as the query string.

        The body is empty and there is no content type. Vendor/version stay tp1 or tp2 for Snowplow
        events; any other vendor (a webhook adapter) is replayed as tp2, because its parameters are
        already tracker-protocol parameters (re-running the webhook adapter on them would fail).
        Enrich's tp1 and tp2 adapters both read a body-less request's query string as one event, as
        Snowplow's do. A missing timestamp becomes 0.
        """
        keep = self.vendor == SNOWPLOW_VENDOR and self.version in ("tp1", "tp2")
        return CollectorPayload(
            vendor=self.vendor if keep else SNOWPLOW_VENDOR,
            version=self.version if keep else "tp2",
            querystring=self.parameters,
            content_type=REPLAY_CONTENT_TYPE,
            body=None,
            collector=self.loader_name,
            encoding=self.encoding,
            hostname=self.hostname,
            timestamp=0 if self.timestamp_ms is None else self.timestamp_ms,
            ip_address=self.ip_address,
            useragent=self.useragent,
            referer_uri=self.referer_uri,
            headers=self.headers,
            network_user_id=self.user_id,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "version": self.version,
            "parameters": [{"name": n, "value": v} for n, v in chunk_pairs(self.parameters)],
            "contentType": self.content_type,
            "loaderName": self.loader_name,
            "encoding": self.encoding,
            "hostname": self.hostname,
            "timestamp": None if self.timestamp_ms is None else format_instant(self.timestamp_ms),
            "ipAddress": self.ip_address,
            "useragent": self.useragent,
            "refererUri": self.referer_uri,
            "headers": list(self.headers),
            "userId": self.user_id,
        }

    @classmethod
    def from_json(cls, data: Any) -> RawEvent:
        if not isinstance(data, dict):
            raise ValueError("raw event: expected a JSON object")
        params_raw = data.get("parameters") or []
        if isinstance(params_raw, dict):  # the object form older rows used
            pairs = [(str(k), v) for k, v in params_raw.items()]
        elif isinstance(params_raw, list):
            pairs = [(_text(p, "name"), _opt(p, "value")) for p in params_raw if isinstance(p, dict)]
            if len(pairs) != len(params_raw):
                raise ValueError("raw event parameters: expected {name, value} objects")
        else:
            raise ValueError("raw event parameters: expected a list")
        headers = data.get("headers") or []
        if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
            raise ValueError("raw event headers: expected a list of strings")
        ts = data.get("timestamp")
        if ts is not None and not isinstance(ts, str):
            raise ValueError("raw event timestamp: expected an ISO-8601 string or null")
        return cls(
            vendor=_text(data, "vendor"),
            version=_text(data, "version"),
            parameters=tuple(unchunk_pairs(pairs)),
            content_type=_opt(data, "contentType"),
            loader_name=_text(data, "loaderName"),
            encoding=_text(data, "encoding"),
            hostname=_opt(data, "hostname"),
            timestamp_ms=None if ts is None else parse_instant(ts),
            ip_address=_opt(data, "ipAddress"),
            useragent=_opt(data, "useragent"),
            referer_uri=_opt(data, "refererUri"),
            headers=tuple(headers),
            user_id=_opt(data, "userId"),
        )


@dataclass(frozen=True, slots=True)
class EnrichmentPayload:
    """`{enriched, raw}`: the partially enriched event (all 131 fields, typed per schema) and its raw event."""

    enriched: dict[str, Any]
    raw: RawEvent

    def __post_init__(self) -> None:
        object.__setattr__(self, "enriched", normalise_partially_enriched(self.enriched))

    def to_json(self) -> dict[str, Any]:
        return {"enriched": self.enriched, "raw": self.raw.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> EnrichmentPayload:
        if not isinstance(data, dict) or not isinstance(data.get("enriched"), dict):
            raise ValueError("enrichment payload: expected {enriched, raw}")
        return cls(data["enriched"], RawEvent.from_json(data.get("raw")))


def _text(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string")
    return value


def _opt(data: Any, key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key}: expected a string or null")
    return value
