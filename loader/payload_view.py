"""An editable view of a bad row's payload: tracker parameters as an object, with encoded JSON opened up.

Fix steps address what a person reads, not how the wire encodes it:

    payload.raw.parameters  [{name, value}, …]   →  {"e": "ue", "ue_px": {...decoded JSON...}, …}
    payload.querystring     [{name, value}, …]   →  the same for collector payloads
    payload.body            a tp2 JSON string    →  the parsed JSON, its events opened up as well

`ue_px` / `cx` (base64 JSON) and `ue_pr` / `co` (JSON text) become JSON values; `close_view`
writes changed ones back (base64url without padding, compact JSON) and turns the objects back into
`{name, value}` lists. A value that does not decode stays a string and is written back unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from core.badrows.limits import chunk_pairs, unchunk_pairs
from core.base64url import decode_lenient, encode_base64url

__all__ = ["BASE64_PARAMS", "JSON_PARAMS", "close_view", "open_view"]

BASE64_PARAMS = ("ue_px", "cx")
JSON_PARAMS = ("ue_pr", "co")


def _open_param(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if name in BASE64_PARAMS:
            return orjson.loads(decode_lenient(value))
        if name in JSON_PARAMS:
            return orjson.loads(value)
    except (ValueError, orjson.JSONDecodeError):
        return value
    return value


def _close_param(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if name in BASE64_PARAMS:
        return encode_base64url(orjson.dumps(value))
    # JSON_PARAMS as compact JSON; a number or boolean a step produced travels as its JSON text, as trackers send it.
    return orjson.dumps(value).decode()


def _pairs(pairs: Any) -> list[tuple[str, Any]]:
    """`{name, value}` objects as pairs, long values re-joined (bad rows split them into 512-character runs)."""
    if not isinstance(pairs, list):
        return []
    plain = [(p["name"], p.get("value")) for p in pairs if isinstance(p, dict) and isinstance(p.get("name"), str)]
    return unchunk_pairs(plain)


def _open_pairs(pairs: Any) -> Any:
    if not isinstance(pairs, list):
        return pairs
    return {name: _open_param(name, value) for name, value in _pairs(pairs)}


def _close_pairs(params: Any, original: Any) -> Any:
    if not isinstance(params, dict):
        return params
    before = dict(_pairs(original))
    out: list[tuple[str, str | None]] = []
    for name, value in params.items():
        kept = before.get(name)
        # An untouched value keeps its exact original text (the event fingerprint hashes it).
        if name in before and _open_param(name, kept) == value:
            out.append((name, kept))
        else:
            out.append((name, _close_param(name, value)))
    return [{"name": name, "value": value} for name, value in chunk_pairs(out)]


def _open_event(event: Any) -> Any:
    if not isinstance(event, dict):
        return event
    return {k: _open_param(k, v) for k, v in event.items()}


def _close_event(event: Any) -> Any:
    if not isinstance(event, dict):
        return event
    return {k: _close_param(k, v) for k, v in event.items()}


def open_view(payload: Any) -> Any:
    """A deep, editable copy of a bad row's payload with parameters as objects and encoded JSON decoded."""
    view = copy.deepcopy(payload)
    if not isinstance(view, dict):
        return view
    raw = view.get("raw")
    if isinstance(raw, dict) and "parameters" in raw:
        raw["parameters"] = _open_pairs(raw["parameters"])
    if "querystring" in view:
        view["querystring"] = _open_pairs(view["querystring"])
    body = view.get("body")
    if isinstance(body, str):
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("data"), list):
            parsed["data"] = [_open_event(e) for e in parsed["data"]]
            view["body"] = parsed
    return view


def close_view(view: Any, original: Any) -> Any:
    """The payload JSON again, encoded as the wire wants it; values left as they were keep their original text."""
    payload = copy.deepcopy(view)
    if not isinstance(payload, dict) or not isinstance(original, dict):
        return payload
    raw = payload.get("raw")
    if isinstance(raw, dict) and "parameters" in raw:
        before = original.get("raw")
        raw["parameters"] = _close_pairs(
            raw["parameters"], before.get("parameters") if isinstance(before, dict) else None
        )
    if "querystring" in payload:
        payload["querystring"] = _close_pairs(payload["querystring"], original.get("querystring"))
    body = payload.get("body")
    if isinstance(body, dict | list):
        if open_view({"body": original.get("body")}).get("body") == body:
            payload["body"] = original.get("body")
        else:
            if isinstance(body, dict) and isinstance(body.get("data"), list):
                body = {**body, "data": [_close_event(e) for e in body["data"]]}
            payload["body"] = orjson.dumps(body).decode()
    return payload
