"""Click redirects (`/r/tp2?u=<target>`): the redirect becomes a uri_redirect event or context.

Without an `e` parameter the event is `e=ue` with a uri_redirect unstruct event; with one, the
uri_redirect entity is prepended to the event's contexts (`co`, or the decoded `cx`, re-encoded).
`tv` is forced to `r-tp2`, `p` defaults to `web`, `u` is removed.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from core.badrows import InputDataMessage, NotJsonMessage
from core.base64url import decode_base64_text, encode_base64url
from core.raw import CollectorPayload
from enrich.adapters.base import Params, Rejected, query_params, query_text, rejected
from registry.validator import SchemaValidator

__all__ = ["URI_REDIRECT", "adapt"]

URI_REDIRECT: Final = "iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0"
_UNSTRUCT: Final = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
_CONTEXTS: Final = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"


def adapt(payload: CollectorPayload, validator: SchemaValidator) -> list[Params | Rejected]:
    qs = query_params(payload)
    if not qs:
        return rejected(payload, InputDataMessage("querystring", None, "empty querystring: not a valid URI redirect"))
    target = qs.pop("u", None)
    if target is None:
        return rejected(
            payload,
            InputDataMessage("querystring", query_text(payload), "missing `u` parameter: not a valid URI redirect"),
        )
    redirect = {"schema": URI_REDIRECT, "data": {"uri": target}}
    params: Params = dict(qs)
    if not params.get("e"):
        params["e"] = "ue"
        params["ue_pr"] = orjson.dumps({"schema": _UNSTRUCT, "data": redirect}).decode()
    elif params.get("co"):
        merged = _prepend(params["co"] or "", redirect)
        if isinstance(merged, NotJsonMessage):
            return rejected(payload, NotJsonMessage("co", params["co"], merged.error))
        params["co"] = merged
    elif params.get("cx"):
        decoded = decode_base64_text(params["cx"] or "")
        merged = _prepend(decoded, redirect)
        if isinstance(merged, NotJsonMessage):
            return rejected(payload, NotJsonMessage("cx", decoded, merged.error))
        params["cx"] = encode_base64url(merged.encode())
    else:
        params["co"] = orjson.dumps({"schema": _CONTEXTS, "data": [redirect]}).decode()
    params["tv"] = "r-tp2"
    if not params.get("p"):
        params["p"] = "web"
    return [params]


def _prepend(contexts_text: str, redirect: dict[str, Any]) -> str | NotJsonMessage:
    """Put the redirect entity first in a contexts SDJ's data array."""
    try:
        doc = orjson.loads(contexts_text)
    except orjson.JSONDecodeError as e:
        return NotJsonMessage("contexts", None, f"invalid json: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        return NotJsonMessage("contexts", None, "invalid json: expected a contexts self-describing JSON")
    doc["data"] = [redirect, *doc["data"]]
    return orjson.dumps(doc).decode()
