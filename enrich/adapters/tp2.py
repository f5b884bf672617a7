"""Tracker protocol v2 (`/com.snowplowanalytics.snowplow/tp2`): a GET query string, or a POST payload_data batch.

POST rules (snowplow.md §1.1): exact JSON content types; the body is a payload_data SDJ
(criterion `payload_data/jsonschema/1-0-*`) validated against the version it declares, so events
hold string values and only that version's keys; query-string parameters are merged into every
event and win. A body that cannot be read is one tracker_protocol_violations row for the whole
payload. When the batch is readable but some events break the schema, only those events are
refused, each with a payload that re-sends just that event (Snowplow refuses the whole POST).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from core.badrows import (
    CriterionMismatchMessage,
    IgluErrorMessage,
    InputDataMessage,
)
from core.iglu import SchemaCriterion, SelfDescribing
from core.raw import CollectorPayload
from enrich.adapters.base import Params, Rejected, query_params, read_sdj_body, rejected
from registry.validator import SchemaValidator

__all__ = ["CONTENT_TYPES", "PAYLOAD_DATA", "adapt"]

CONTENT_TYPES: Final = ("application/json", "application/json; charset=utf-8", "application/json; charset=UTF-8")
PAYLOAD_DATA = SchemaCriterion.parse("iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*")
_CONTENT_TYPE_EXPECTATION = "expected one of " + ", ".join(CONTENT_TYPES)
_STRINGS: Final = frozenset((str,))


def adapt(payload: CollectorPayload, validator: SchemaValidator) -> list[Params | Rejected]:
    qs = query_params(payload)
    body = payload.body
    if not body:
        if not qs:
            return rejected(payload, InputDataMessage("body", None, "empty body: not a valid tracker protocol event"))
        return [qs]
    if payload.content_type not in CONTENT_TYPES:
        return rejected(payload, InputDataMessage("contentType", payload.content_type, _CONTENT_TYPE_EXPECTATION))
    sdj = read_sdj_body(payload, body)
    if isinstance(sdj, list):
        return sdj
    if not PAYLOAD_DATA.matches(sdj.schema):
        return rejected(payload, CriterionMismatchMessage(sdj.schema, PAYLOAD_DATA))
    result = validator.validate(sdj.schema, sdj.data)
    data = sdj.data
    if result.ok:
        return [_event_params(payload, sdj, event, qs) for event in data]
    assert result.error is not None
    if not isinstance(data, list) or not data or result.error.get("error") != "ValidationError":
        return rejected(payload, IgluErrorMessage(sdj.schema, result.error))
    return _one_by_one(payload, sdj, data, qs, validator)


def _one_by_one(
    payload: CollectorPayload, sdj: SelfDescribing, events: list[Any], qs: Params, validator: SchemaValidator
) -> list[Params | Rejected]:
    """Validate each event alone, so the invalid ones are refused without their neighbours."""
    out: list[Params | Rejected] = []
    for event in events:
        single = validator.validate(sdj.schema, [event])
        if single.ok:
            out.append(_event_params(payload, sdj, event, qs))
        else:
            assert single.error is not None
            out.append(Rejected((IgluErrorMessage(sdj.schema, single.error),), _single(payload, sdj, event)))
    return out


def _single(payload: CollectorPayload, sdj: SelfDescribing, event: Any) -> CollectorPayload:
    return payload.with_body(orjson.dumps({"schema": sdj.schema.uri, "data": [event]}).decode())


def _event_params(payload: CollectorPayload, sdj: SelfDescribing, event: Any, qs: Params) -> Params | Rejected:
    """One event's parameters; values must be strings (the schema says so; checked again here)."""
    if not isinstance(event, dict):
        return Rejected((InputDataMessage("data", None, "event is not a JSON object"),), _single(payload, sdj, event))
    if _STRINGS.issuperset(map(type, event.values())):  # the usual case, checked in one C-level pass
        params: Params = dict(event)
        if qs:
            params.update(qs)
        return params
    params = {}
    problems: list[InputDataMessage] = []
    for name, value in event.items():
        if isinstance(value, str):
            params[name] = value
        elif value is None:
            problems.append(InputDataMessage(name, None, "value cannot be null"))
        else:
            problems.append(InputDataMessage(name, orjson.dumps(value).decode(), "value is not a string"))
    if problems:
        return Rejected(tuple(problems), _single(payload, sdj, event))
    if qs:
        params.update(qs)
    return params
