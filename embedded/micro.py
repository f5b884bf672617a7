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

from core.errors import IgluParseError, RegistryUnavailable
from core.iglu import SchemaKey
from embedded.micro_records import MicroListener, bad_record, good_record, micro_raw_event
from embedded.micro_store import MicroStore
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
