"""Micro's records of committed outcomes (GoodEvent, BadEvent) and the listener that stores them, without the web app.

Split from embedded/micro.py so the enrich worker processes of `eventkit up`, which only write the
store, do not import FastAPI (a large share of a worker's start-up); the shapes are documented there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from core.badrows import BadRowBase
from core.badrows.limits import PAIR_LIMIT
from core.badrows.payloads import RawEvent
from core.raw import CollectorPayload, RawRecordError, format_instant, parse_instant
from core.sdk_json import to_sdk_json
from embedded.micro_documents import storable_tsv
from embedded.micro_store import MicroRecord, MicroStore
from enrich.event import EnrichedEvent
from enrich.outcome import Good
from loader.selection import describe_errors

if TYPE_CHECKING:  # the server imports this module for its records; only a worker commits (and loads Arrow)
    from enrich.worker import CommittedMessage

__all__ = ["GoodRecords", "MicroListener", "bad_record", "good_record", "micro_raw_event"]


def micro_raw_event(raw: RawEvent) -> dict[str, Any]:
    """Micro's RawEvent object for one event's raw parameters."""
    return {
        "api": {"vendor": raw.vendor, "version": raw.version},
        "parameters": {name: value for name, value in raw.parameters},
        "contentType": raw.content_type,
        "source": {"name": raw.loader_name, "encoding": raw.encoding, "hostname": raw.hostname},
        "context": {
            "timestamp": None if raw.timestamp_ms is None else format_instant(raw.timestamp_ms),
            "ipAddress": raw.ip_address,
            "useragent": raw.useragent,
            "refererUri": raw.referer_uri,
            "headers": list(raw.headers),
            "userId": raw.user_id,
        },
    }


class GoodRecords:
    """Micro store records of good events, with what the events of one payload share worked out once per payload.

    Only `parameters` differs between the rawEvents of a POST's events; the rest (api, contentType,
    source, context with its headers) was built and encoded again for each of them, about a tenth of
    an `eventkit up` worker's time. Each record is the one good_record(good.event, good.raw) gives.
    """

    __slots__ = ("_head", "_payload", "_raw", "_tail")

    def __init__(self) -> None:
        self._payload: CollectorPayload | None = None
        self._raw: RawEvent | None = None  # the payload's RawEvent without parameters
        self._head = self._tail = b""

    def record(self, good: Good) -> MicroRecord:
        source = good.source
        if source is None or any(len(name) > PAIR_LIMIT for name in source[1]):  # RawEvent cuts such names
            return good_record(good.event, good.raw)
        payload, params = source
        if payload is not self._payload:
            self._raw = RawEvent.from_collector_payload(payload, ())
            shared = micro_raw_event(self._raw)
            api = orjson.dumps({"api": shared.pop("api")})
            del shared["parameters"]
            self._head = api[:-1] + b',"parameters":'
            self._tail = b"," + orjson.dumps(shared)[1:]
            self._payload = payload
        assert self._raw is not None
        raw_json = self._head + orjson.dumps(params) + self._tail
        return _good_record(good.event, raw_json, self._raw.vendor, self._raw.version)


def _raw_event_from_badrow(raw: Any) -> dict[str, Any] | None:
    """Micro's RawEvent from the bad-row RawEvent JSON (`payload.raw`)."""
    if not isinstance(raw, dict):
        return None
    params = raw.get("parameters") or []
    return {
        "api": {"vendor": raw.get("vendor"), "version": raw.get("version")},
        "parameters": {p.get("name"): p.get("value") for p in params if isinstance(p, dict)},
        "contentType": raw.get("contentType"),
        "source": {"name": raw.get("loaderName"), "encoding": raw.get("encoding"), "hostname": raw.get("hostname")},
        "context": {
            "timestamp": raw.get("timestamp"),
            "ipAddress": raw.get("ipAddress"),
            "useragent": raw.get("useragent"),
            "refererUri": raw.get("refererUri"),
            "headers": raw.get("headers") or [],
            "userId": raw.get("userId"),
        },
    }


def _entity_schemas(text: str | None) -> list[str]:
    if not text:
        return []
    data = orjson.loads(text).get("data") or []
    return [e["schema"] for e in data if isinstance(e, dict) and isinstance(e.get("schema"), str)]


def _unstruct_schema(text: str | None) -> str | None:
    if not text:
        return None
    inner = orjson.loads(text).get("data")
    schema = inner.get("schema") if isinstance(inner, dict) else None
    return schema if isinstance(schema, str) else None


def good_record(event: EnrichedEvent, raw: RawEvent) -> MicroRecord:
    """The Micro store record of a good event: its enriched TSV line and rawEvent, from which the store builds the
    GoodEvent when read (embedded.micro_documents), or the whole GoodEvent when the line would not read back."""
    return _good_record(event, orjson.dumps(micro_raw_event(raw)), raw.vendor, raw.version)


def _good_record(event: EnrichedEvent, raw_json: bytes, vendor: str, version: str) -> MicroRecord:
    contexts = _entity_schemas(event.contexts) + _entity_schemas(event.derived_contexts)
    schema = _unstruct_schema(event.unstruct_event)
    event_tsv = storable_tsv(event)
    body = raw_json
    if event_tsv is None:
        document = {
            "rawEvent": orjson.loads(raw_json),
            "eventType": event.event,
            "schema": schema,
            "contexts": contexts,
            "event": to_sdk_json(event),
        }
        body = orjson.dumps(document)
    return MicroRecord(
        valid=True,
        body=body,
        event_tsv=event_tsv,
        event_type=event.event,
        schema=schema,
        contexts=tuple(contexts),
        vendor=vendor,
        version=version,
        app_id=event.app_id,
        event_name=event.event_name,
        event_id=event.event_id,
        page_url=event.page_url,
        tstamp_ms=event.collector_tstamp,
    )


def bad_record(bad_row_json: dict[str, Any], raw_record: bytes | None) -> MicroRecord:
    """The Micro store record (BadEvent) of a bad row; `raw_record` is the queue message it came from."""
    payload = (bad_row_json.get("data") or {}).get("payload")
    collector_payload: dict[str, Any] | None = None
    if raw_record is not None:
        try:
            collector_payload = CollectorPayload.decode(raw_record).to_json()
        except RawRecordError:
            collector_payload = None
    if collector_payload is None and isinstance(payload, dict) and "querystring" in payload:
        collector_payload = payload
    raw_event = _raw_event_from_badrow(payload.get("raw")) if isinstance(payload, dict) else None
    vendor = version = None
    if collector_payload is not None:
        vendor, version = collector_payload.get("vendor"), collector_payload.get("version")
    elif raw_event is not None:
        vendor, version = raw_event["api"]["vendor"], raw_event["api"]["version"]
    body = {
        "collectorPayload": collector_payload,
        "rawEvent": raw_event,
        "errors": [orjson.dumps(bad_row_json).decode()],
    }
    parameters = raw_event["parameters"] if raw_event is not None else {}
    failure = (bad_row_json.get("data") or {}).get("failure")
    schemas, _ = describe_errors(failure)
    return MicroRecord(
        valid=False,
        body=orjson.dumps(body),
        schema=schemas[0] if schemas else None,
        vendor=vendor,
        version=version,
        app_id=_text(parameters.get("aid")),
        event_id=_text(parameters.get("eid")),
        page_url=_text(parameters.get("url")),
        bad_type=_bad_type(bad_row_json.get("schema")),
        tstamp_ms=_failure_ms(failure),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _bad_type(schema: Any) -> str | None:
    """`schema_violations` from `iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-0`."""
    if not isinstance(schema, str) or schema.count("/") < 3:
        return None
    return schema.split("/")[1]


def _failure_ms(failure: Any) -> int | None:
    ts = failure.get("timestamp") if isinstance(failure, dict) else None
    if not isinstance(ts, str):
        return None
    try:
        return parse_instant(ts)
    except ValueError:
        return None


class MicroListener:
    """Puts every committed outcome into the Micro store (called before the raw message is acked).

    Records are stored `chunk` at a time: a commit may settle tens of thousands of events, and building
    all their Micro documents before one insert made a worker's memory grow by ~150 MB that the
    allocator then kept.
    """

    def __init__(self, store: MicroStore, chunk: int = 500) -> None:
        self.store = store
        self.chunk = chunk

    def committed(self, messages: Sequence[CommittedMessage]) -> None:
        records: list[MicroRecord] = []
        good_records = GoodRecords()
        for message in messages:
            for outcome in message.outcomes:
                if isinstance(outcome, Good):
                    records.append(good_records.record(outcome))
                elif isinstance(outcome, BadRowBase):
                    records.append(bad_record(outcome.to_json(), message.data))
                if len(records) >= self.chunk:
                    self.store.add(records)
                    records = []
        self.store.add(records)
