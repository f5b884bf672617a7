"""The Iglu webhook (`/com.snowplowanalytics.iglu/v1`): any self-describing event, sent by GET or POST.

With `?schema=iglu:...` the event data comes from the other query parameters (GET), the JSON body
(an object, or an array = one event per element) or a form body. Without it the body must be a
self-describing JSON. Each event becomes `e=ue` with a `ue_pr` wrapper, `tv=com.snowplowanalytics.iglu-v1`,
`p` from the parameter or `app`; `nuid aid cv eid ttm url` pass through as atomic parameters and are
left out of the event data, as are `schema` and `p`.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl

import orjson

from core.badrows import InputDataMessage, NotJsonMessage
from core.errors import IgluParseError
from core.iglu import SchemaKey
from core.raw import CollectorPayload
from enrich.adapters.base import Params, Rejected, query_params, read_sdj_body, rejected
from registry.validator import SchemaValidator

__all__ = ["TRACKER_VERSION", "adapt"]

TRACKER_VERSION: Final = "com.snowplowanalytics.iglu-v1"
_UNSTRUCT: Final = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
_PASS_THROUGH: Final = ("nuid", "aid", "cv", "eid", "ttm", "url")
_NOT_DATA: Final = frozenset((*_PASS_THROUGH, "schema", "p"))
_JSON, _FORM = "application/json", "application/x-www-form-urlencoded"


def adapt(payload: CollectorPayload, validator: SchemaValidator) -> list[Params | Rejected]:
    qs = query_params(payload)
    schema_uri = qs.get("schema")
    body = payload.body or None
    media = (payload.content_type or "").partition(";")[0].strip().lower()
    if schema_uri is not None:
        try:
            key = SchemaKey.parse(schema_uri)
        except IgluParseError as e:
            return rejected(payload, InputDataMessage("schema", schema_uri, f"not a valid Iglu URI: {e}"))
        events: list[Any]
        if body is None:
            events = [{k: "" if v is None else v for k, v in qs.items() if k not in _NOT_DATA}]
        elif media == _JSON:
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError as bad_json:
                return rejected(payload, NotJsonMessage("body", body, f"invalid json: {bad_json}"))
            events = doc if isinstance(doc, list) else [doc]
            if not events:
                return rejected(payload, InputDataMessage("body", body, "empty list of events"))
        elif media == _FORM:
            events = [dict(parse_qsl(body, keep_blank_values=True))]
        else:
            expectation = f"expected one of {_JSON}, {_FORM}"
            return rejected(payload, InputDataMessage("contentType", payload.content_type, expectation))
        return [_params(qs, key.uri, data) for data in events]
    if body is None:
        return rejected(
            payload,
            InputDataMessage("body", None, "empty body: expected a self-describing JSON or a schema parameter"),
        )
    if media != _JSON:
        expectation = f"expected {_JSON} for a self-describing body"
        return rejected(payload, InputDataMessage("contentType", payload.content_type, expectation))
    sdj = read_sdj_body(payload, body)
    if isinstance(sdj, list):
        return sdj
    return [_params(qs, sdj.schema.uri, sdj.data)]


def _params(qs: Params, schema_uri: str, data: Any) -> Params:
    params: Params = {
        "e": "ue",
        "ue_pr": orjson.dumps({"schema": _UNSTRUCT, "data": {"schema": schema_uri, "data": data}}).decode(),
        "tv": TRACKER_VERSION,
        "p": qs.get("p") or "app",
    }
    for name in _PASS_THROUGH:
        value = qs.get(name)
        if value is not None:
            params[name] = value
    return params
