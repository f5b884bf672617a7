"""Adapters: which events each (vendor, version) yields from a collector payload, and every refusal with its message."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import orjson
import pytest

from core.badrows import (
    CriterionMismatchMessage,
    IgluErrorMessage,
    InputDataMessage,
    NotIgluMessage,
    NotJsonMessage,
)
from core.raw import CollectorPayload
from enrich.adapters import ADAPTERS, Params, Rejected, adapt, is_tracker_protocol
from enrich.adapters.iglu_webhook import TRACKER_VERSION
from enrich.adapters.tp2 import CONTENT_TYPES
from tests.enrich.pipeline_env import shared_validator
from tests.raw_records import raw_record

SP = "com.snowplowanalytics.snowplow"
PD = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
UE = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"


def payload(
    vendor: str = SP, version: str = "tp1", qs: Any = (), ct: str | None = None, body: str | None = None
) -> CollectorPayload:
    return raw_record(
        vendor=vendor, version=version, querystring=tuple(qs), content_type=ct, body=body, collector="c", hostname="h"
    )


def run(p: CollectorPayload) -> list[Params | Rejected]:
    return adapt(p, shared_validator())


def only_rejection(items: list[Params | Rejected]) -> Rejected:
    assert len(items) == 1
    assert isinstance(items[0], Rejected)
    return items[0]


def body(*events: dict[str, Any], schema: str = PD) -> str:
    return json.dumps({"schema": schema, "data": list(events)})


def test_the_adapter_map_is_literal_and_complete() -> None:
    """Exactly the four tracker-protocol/Iglu adapters are registered, keyed by (vendor, version)."""
    assert set(ADAPTERS) == {(SP, "tp1"), (SP, "tp2"), ("r", "tp2"), ("com.snowplowanalytics.iglu", "v1")}
    assert is_tracker_protocol(SP, "tp2") and is_tracker_protocol("r", "tp2")
    assert not is_tracker_protocol(SP, "tp1") and not is_tracker_protocol("com.snowplowanalytics.iglu", "v1")


def test_unknown_vendor_version_is_refused_whole() -> None:
    """A (vendor, version) with no adapter is refused with the vendor/version message and the payload kept."""
    p = payload("com.acme", "v1", qs=[("e", "pv")])
    rejection = only_rejection(run(p))
    assert rejection.messages == (
        InputDataMessage("vendor/version", "com.acme/v1", "vendor/version combination is not supported"),
    )
    assert rejection.payload == p


def test_tp1_reads_the_query_string_as_one_event() -> None:
    """GET /i: the (last-wins) query string is the event; without parameters it is refused."""
    assert run(payload(qs=[("e", "pv"), ("aid", "a"), ("aid", "b"), ("x", None)])) == [
        {"e": "pv", "aid": "b", "x": None}
    ]
    rejection = only_rejection(run(payload()))
    assert rejection.messages == (
        InputDataMessage("querystring", None, "empty querystring: not a valid tracker protocol event"),
    )


def test_tp2_get_and_empty_requests() -> None:
    """tp2 without a body reads the query string; with neither it is an empty-body violation."""
    assert run(payload(version="tp2", qs=[("e", "pv")])) == [{"e": "pv"}]
    rejection = only_rejection(run(payload(version="tp2")))
    assert rejection.messages == (InputDataMessage("body", None, "empty body: not a valid tracker protocol event"),)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_tp2_post_splits_the_batch_and_merges_the_query_string(content_type: str) -> None:
    """Each payload_data event becomes one event; query-string parameters join every event and win clashes."""
    events = [{"e": "pv", "p": "web", "tv": "t", "aid": "a"}, {"e": "se", "p": "web", "tv": "t"}]
    items = run(payload(version="tp2", qs=[("aid", "from-qs")], ct=content_type, body=body(*events)))
    assert items == [
        {"e": "pv", "p": "web", "tv": "t", "aid": "from-qs"},
        {"e": "se", "p": "web", "tv": "t", "aid": "from-qs"},
    ]


@pytest.mark.parametrize("version", ["1-0-0", "1-0-1", "1-0-2", "1-0-3", "1-0-4"])
def test_tp2_accepts_every_payload_data_version_with_its_own_keys(version: str) -> None:
    """Each payload_data version is validated as itself: ttm is allowed from 1-0-4 only."""
    schema = f"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/{version}"
    event = {"e": "pv", "p": "web", "tv": "t", "ttm": "1"}
    items = run(payload(version="tp2", ct="application/json", body=body(event, schema=schema)))
    assert isinstance(items[0], Rejected) == (version != "1-0-4")


def test_tp2_body_refusals_have_snowplow_messages() -> None:
    """Content type, JSON, self-describing, criterion and schema failures refuse the whole payload."""
    cases: list[tuple[str | None, str, Any]] = [
        (
            "text/plain",
            body({"e": "pv", "p": "web", "tv": "t"}),
            InputDataMessage(
                "contentType",
                "text/plain",
                "expected one of application/json, application/json; charset=utf-8, application/json; charset=UTF-8",
            ),
        ),
        ("application/json", "{nope", NotJsonMessage),
        ("application/json", '{"data": []}', NotIgluMessage({"data": []}, "INVALID_DATA_PAYLOAD")),
        ("application/json", '{"schema": "iglu:a/b/jsonschema/1-0", "data": []}', NotIgluMessage),
        ("application/json", body(schema="iglu:com.acme/x/jsonschema/1-0-0"), CriterionMismatchMessage),
        ("application/json", body(), IgluErrorMessage),
        ("application/json", json.dumps({"schema": PD, "data": {"e": "pv"}}), IgluErrorMessage),
    ]
    for content_type, text, expected in cases:
        p = payload(version="tp2", ct=content_type, body=text)
        rejection = only_rejection(run(p))
        (message,) = rejection.messages
        if isinstance(expected, type):
            assert isinstance(message, expected), text
        else:
            assert message == expected
        assert rejection.payload == p
    (message,) = only_rejection(run(payload(version="tp2", ct="application/json", body="{nope"))).messages
    assert isinstance(message, NotJsonMessage)
    assert message.field == "body"
    assert message.error.startswith("invalid json: ")


def test_tp2_refuses_only_the_events_that_break_payload_data() -> None:
    """A non-string value, a null or an unknown key refuses that event alone, with a payload re-sending just it."""
    good = {"e": "pv", "p": "web", "tv": "t"}
    bad_key = {"e": "pv", "p": "web", "tv": "t", "cv": "custom"}
    not_string = {"e": "pv", "p": "web", "tv": "t", "vid": 1}
    null = {"e": "pv", "p": "web", "tv": "t", "aid": None}
    p = payload(version="tp2", ct="application/json", body=body(good, bad_key, not_string, null, good))
    items = run(p)
    assert len(items) == 5
    assert items[0] == good and items[4] == good
    for item, event in zip(items[1:4], (bad_key, not_string, null), strict=True):
        assert isinstance(item, Rejected)
        (message,) = item.messages
        assert isinstance(message, IgluErrorMessage)
        assert message.error["error"] == "ValidationError"
        assert item.payload == dataclasses.replace(p, body=orjson.dumps({"schema": PD, "data": [event]}).decode())


def test_redirect_becomes_a_uri_redirect_event() -> None:
    """r/tp2 without e: e=ue with a uri_redirect unstruct event, tv=r-tp2, p=web, u removed."""
    (params,) = run(payload("r", "tp2", qs=[("u", "https://t.example/?a=1"), ("aid", "shop")]))
    assert isinstance(params, dict)
    assert params["tv"] == "r-tp2" and params["p"] == "web" and params["aid"] == "shop" and "u" not in params
    assert params["e"] == "ue"
    assert json.loads(params["ue_pr"] or "") == {
        "schema": UE,
        "data": {
            "schema": "iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0",
            "data": {"uri": "https://t.example/?a=1"},
        },
    }


def test_redirect_with_an_event_prepends_a_context() -> None:
    """r/tp2 with e: the uri_redirect entity goes first in co, in the decoded cx (re-encoded), or in a new co."""
    redirect = {"schema": "iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0", "data": {"uri": "u1"}}
    other = {"schema": "iglu:com.acme/x/jsonschema/1-0-0", "data": {}}
    contexts = {"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0", "data": [other]}
    (co,) = run(payload("r", "tp2", qs=[("u", "u1"), ("e", "pv"), ("co", json.dumps(contexts)), ("p", "mob")]))
    assert isinstance(co, dict)
    assert json.loads(co["co"] or "")["data"] == [redirect, other]
    assert co["p"] == "mob"
    cx_text = base64.urlsafe_b64encode(json.dumps(contexts).encode()).decode()
    (cx,) = run(payload("r", "tp2", qs=[("u", "u1"), ("e", "pv"), ("cx", cx_text)]))
    assert isinstance(cx, dict)
    assert json.loads(base64.urlsafe_b64decode((cx["cx"] or "") + "==="))["data"] == [redirect, other]
    (new,) = run(payload("r", "tp2", qs=[("u", "u1"), ("e", "pv")]))
    assert isinstance(new, dict)
    assert json.loads(new["co"] or "")["data"] == [redirect]


def test_redirect_refusals() -> None:
    """r/tp2 needs a query string with u, and readable contexts to prepend to."""
    empty = only_rejection(run(payload("r", "tp2")))
    assert empty.messages == (InputDataMessage("querystring", None, "empty querystring: not a valid URI redirect"),)
    no_u = only_rejection(run(payload("r", "tp2", qs=[("aid", "a b")])))
    assert no_u.messages == (
        InputDataMessage("querystring", "aid=a+b", "missing `u` parameter: not a valid URI redirect"),
    )
    broken = only_rejection(run(payload("r", "tp2", qs=[("u", "x"), ("e", "pv"), ("co", "{")])))
    assert isinstance(broken.messages[0], NotJsonMessage) and broken.messages[0].field == "co"


def test_iglu_webhook_get_uses_the_parameters_as_data() -> None:
    """GET ?schema=: the other parameters form the data; nuid aid cv eid ttm url pass through; p defaults to app."""
    qs = [("schema", "iglu:com.acme/user_context/jsonschema/1-0-0"), ("userId", "u"), ("aid", "crm"), ("url", "x")]
    (params,) = run(payload("com.snowplowanalytics.iglu", "v1", qs=qs))
    assert isinstance(params, dict)
    assert params["e"] == "ue" and params["tv"] == TRACKER_VERSION and params["p"] == "app"
    assert params["aid"] == "crm" and params["url"] == "x"
    assert json.loads(params["ue_pr"] or "")["data"] == {
        "schema": "iglu:com.acme/user_context/jsonschema/1-0-0",
        "data": {"userId": "u"},
    }


def test_iglu_webhook_post_bodies() -> None:
    """POST with ?schema=: a JSON object, a JSON array (one event each) or a form; without it, an SDJ body."""
    schema = [("schema", "iglu:com.acme/a/jsonschema/1-0-0"), ("p", "srv")]
    array = run(payload("com.snowplowanalytics.iglu", "v1", qs=schema, ct="application/json", body='[{"a":1},{"a":2}]'))
    assert [json.loads(p["ue_pr"] or "")["data"]["data"] for p in array if isinstance(p, dict)] == [{"a": 1}, {"a": 2}]
    assert all(isinstance(p, dict) and p["p"] == "srv" for p in array)
    form = run(
        payload("com.snowplowanalytics.iglu", "v1", qs=schema, ct="application/x-www-form-urlencoded", body="a=1&b=x+y")
    )
    assert isinstance(form[0], dict)
    assert json.loads(form[0]["ue_pr"] or "")["data"]["data"] == {"a": "1", "b": "x y"}
    sdj = '{"schema": "iglu:com.acme/b/jsonschema/1-0-0", "data": {"k": true}}'
    (event,) = run(payload("com.snowplowanalytics.iglu", "v1", ct="application/json; charset=utf-8", body=sdj))
    assert isinstance(event, dict)
    assert json.loads(event["ue_pr"] or "")["data"] == {
        "schema": "iglu:com.acme/b/jsonschema/1-0-0",
        "data": {"k": True},
    }


def test_iglu_webhook_refusals() -> None:
    """Bad schema parameter, bad JSON, wrong content type, missing body or a non-SDJ body are adapter failures."""
    v = ("com.snowplowanalytics.iglu", "v1")
    bad_schema = only_rejection(run(payload(*v, qs=[("schema", "nope")])))
    assert isinstance(bad_schema.messages[0], InputDataMessage) and bad_schema.messages[0].field == "schema"
    bad_json = only_rejection(
        run(payload(*v, qs=[("schema", "iglu:a/b/jsonschema/1-0-0")], ct="application/json", body="{"))
    )
    assert isinstance(bad_json.messages[0], NotJsonMessage)
    bad_type = only_rejection(run(payload(*v, qs=[("schema", "iglu:a/b/jsonschema/1-0-0")], ct="text/xml", body="<")))
    assert bad_type.messages[0] == InputDataMessage(
        "contentType", "text/xml", "expected one of application/json, application/x-www-form-urlencoded"
    )
    no_body = only_rejection(run(payload(*v)))
    assert isinstance(no_body.messages[0], InputDataMessage) and no_body.messages[0].field == "body"
    not_sdj = only_rejection(run(payload(*v, ct="application/json", body='{"a": 1}')))
    assert not_sdj.messages == (NotIgluMessage({"a": 1}, "INVALID_DATA_PAYLOAD"),)
