"""The Snowplow Micro API on top of the pipeline: `/micro/all|good|bad|reset|iglu/...` with Micro's shapes.

Teams point their existing Micro-based tests at `eventkit up`. Shapes (Micro 4.x):

    GoodEvent = {"rawEvent": RawEvent, "eventType": str, "schema": str|null, "contexts": [str],
                 "event": <analytics-SDK JSON>}
    BadEvent  = {"collectorPayload": CollectorPayload|null, "rawEvent": RawEvent|null,
                 "errors": [<bad row JSON as a string>]}
    RawEvent  = {"api": {"vendor", "version"}, "parameters": {name: value}, "contentType",
                 "source": {"name", "encoding", "hostname"},
                 "context": {"timestamp", "ipAddress", "useragent", "refererUri", "headers", "userId"}}

Filters: `/micro/good` (POST `{"event_type", "schema", "contexts", "limit"}`, or the same as GET
query parameters), `/micro/bad` (`{"vendor", "version", "limit"}`). The Iglu endpoint resolves
through the pipeline's resolver: 200 with the schema, 404 with the ResolutionError when no
repository has it, 503 when a repository could not be reached (an outage is not a verdict).
It reads under the registry API's rule (registry.keys.may_read): a schema the registry marks private
is served only with an `apikey` header covering its vendor, and is otherwise not found, as on
`/api/schemas/...`; an unknown key answers 401 as there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from core.badrows import BadRowBase
from core.badrows.payloads import RawEvent
from core.errors import IgluParseError, RegistryUnavailable
from core.iglu import SchemaKey
from core.raw import CollectorPayload, RawRecordError, format_instant, parse_instant
from core.sdk_json import to_sdk_json
from embedded.micro_store import MicroRecord, MicroStore
from enrich.event import EnrichedEvent
from enrich.outcome import Good
from enrich.worker import CommittedMessage
from loader.selection import describe_errors
from registry.keys import ANONYMOUS, KeyRing
from registry.resolver import Resolver, SchemaNotFound

__all__ = ["ENDPOINTS", "MicroListener", "bad_record", "good_record", "micro_raw_event", "micro_router"]

ENDPOINTS = (
    "/micro/all",
    "/micro/good",
    "/micro/bad",
    "/micro/reset",
    "/micro/iglu/{vendor}/{name}/jsonschema/{version}",
)


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
    """The Micro store record (GoodEvent) of a good event."""
    contexts = _entity_schemas(event.contexts) + _entity_schemas(event.derived_contexts)
    schema = _unstruct_schema(event.unstruct_event)
    body = {
        "rawEvent": micro_raw_event(raw),
        "eventType": event.event,
        "schema": schema,
        "contexts": contexts,
        "event": to_sdk_json(event),
    }
    return MicroRecord(
        valid=True,
        body=orjson.dumps(body),
        event_type=event.event,
        schema=schema,
        contexts=tuple(contexts),
        vendor=raw.vendor,
        version=raw.version,
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


async def _filters(request: Request) -> dict[str, Any]:
    """POST JSON body or GET query parameters, as one dict of filters."""
    if request.method == "POST":
        raw = await request.body()
        if raw.strip():
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                doc = None
            if not isinstance(doc, dict):
                raise ValueError("the request body must be a JSON object of filters")
            return doc
        return {}
    params = request.query_params
    out: dict[str, Any] = {k: params[k] for k in params if k != "contexts"}
    if "contexts" in params:
        out["contexts"] = [c for v in params.getlist("contexts") for c in v.split(",") if c]
    return out


def _limit(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("limit must be an integer")
    return int(value)


def _opt_str(filters: dict[str, Any], key: str) -> str | None:
    value = filters.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _contexts(value: Any) -> Sequence[str]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("contexts must be a list of schema URIs")
    return value


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def micro_router(store: MicroStore, resolver: Resolver, keys: KeyRing | None = None) -> APIRouter:
    """The `/micro/...` routes over a store and the resolver the pipeline validates with.

    `keys` are the registry's API keys (None: no key store, so every caller reads as anonymous).
    """
    router = APIRouter()

    @router.api_route("/micro/all", methods=["GET", "POST"])
    def micro_all() -> JSONResponse:
        return JSONResponse(store.counts().to_json())

    @router.api_route("/micro/good", methods=["GET", "POST"])
    async def micro_good(request: Request) -> Response:
        try:
            f = await _filters(request)
            events = store.good(
                event_type=_opt_str(f, "event_type"),
                schema=_opt_str(f, "schema"),
                contexts=_contexts(f.get("contexts")),
                limit=_limit(f.get("limit")),
            )
        except ValueError as e:
            return _bad_request(str(e))
        return Response(orjson.dumps(events), media_type="application/json")

    @router.api_route("/micro/bad", methods=["GET", "POST"])
    async def micro_bad(request: Request) -> Response:
        try:
            f = await _filters(request)
            events = store.bad(
                vendor=_opt_str(f, "vendor"), version=_opt_str(f, "version"), limit=_limit(f.get("limit"))
            )
        except ValueError as e:
            return _bad_request(str(e))
        return Response(orjson.dumps(events), media_type="application/json")

    @router.api_route("/micro/reset", methods=["GET", "POST"])
    def micro_reset() -> PlainTextResponse:
        store.reset()
        return PlainTextResponse("Reset completed")

    @router.get("/micro/iglu/{vendor}/{name}/jsonschema/{version}")
    def micro_iglu(
        vendor: str, name: str, version: str, apikey: Annotated[str | None, Header(alias="apikey")] = None
    ) -> Response:
        try:
            key = SchemaKey.parse(f"iglu:{vendor}/{name}/jsonschema/{version}")
        except IgluParseError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        who = ANONYMOUS if keys is None or apikey is None else keys.authenticate(apikey)
        if who is None:
            return JSONResponse({"error": "Authentication error: invalid API key"}, status_code=401)
        try:
            schema = resolver.lookup_as(who)(key)
        except SchemaNotFound as e:
            return JSONResponse(e.to_json(), status_code=404)
        except RegistryUnavailable as e:
            return JSONResponse({"error": "RegistryUnavailable", "message": str(e)}, status_code=503)
        return Response(orjson.dumps(schema), media_type="application/json")

    @router.api_route("/micro/{rest:path}", methods=["GET", "POST"])
    def micro_unknown(rest: str) -> JSONResponse:
        return JSONResponse({"error": f"unknown endpoint /micro/{rest}", "endpoints": list(ENDPOINTS)}, 404)

    return router


class MicroListener:
    """Puts every committed outcome into the Micro store (called before the raw message is acked)."""

    def __init__(self, store: MicroStore) -> None:
        self.store = store

    def committed(self, messages: Sequence[CommittedMessage]) -> None:
        records: list[MicroRecord] = []
        for message in messages:
            for outcome in message.outcomes:
                if isinstance(outcome, Good):
                    records.append(good_record(outcome.event, outcome.raw))
                elif isinstance(outcome, BadRowBase):
                    records.append(bad_record(outcome.to_json(), message.data))
        self.store.add(records)
