"""Properties of enrich over arbitrary, mutated raw records: only values come out, every bad row is schema-valid.

Hypothesis builds collector payloads from random vendors, versions, query strings, bodies (including
payload_data batches with random keys and values and random base64), headers and timestamps.
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from typing import Any

import jsonschema
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.badrows import BadRowBase, CollectorPayloadFormatViolation
from core.badrows.limits import is_instant, is_uuid
from core.raw import CollectorPayload, format_instant
from enrich.event import EnrichedEvent
from enrich.outcome import Good
from enrich.pipeline import enrich_payload, enrich_record
from enrich.tracker_protocol import MAPPING, MAX_TSTAMP_MS
from tests.enrich.pipeline_env import ETL_TSTAMP, REPO_ROOT, make_env

PD = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-"
UE = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CO = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-"
ENTITY_SCHEMAS = [
    "iglu:com.acme/checkout/jsonschema/1-0-0",
    "iglu:com.acme/user_context/jsonschema/1-0-0",
    "iglu:com.acme/search/jsonschema/1-0-0",
    "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
    "iglu:com.acme/missing/jsonschema/1-0-0",
    "iglu:bad uri",
]
KNOWN = sorted(MAPPING)
VENDORS = [
    ("com.snowplowanalytics.snowplow", "tp1"),
    ("com.snowplowanalytics.snowplow", "tp2"),
    ("r", "tp2"),
    ("com.snowplowanalytics.iglu", "v1"),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
entity = st.fixed_dictionaries({"schema": st.sampled_from(ENTITY_SCHEMAS), "data": json_values}) | json_values
unstruct_json = st.fixed_dictionaries({"schema": st.sampled_from([UE, CO + "0"]), "data": entity}) | json_values
contexts_json = (
    st.fixed_dictionaries({"schema": st.sampled_from([CO + "0", CO + "1", UE]), "data": st.lists(entity, max_size=3)})
    | json_values
)


def _b64(text: str, urlsafe: bool, pad: bool) -> str:
    raw = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(text.encode("utf-8", "surrogatepass"))
    return (raw if pad else raw.rstrip(b"=")).decode()


def _dumps(value: Any) -> str:
    return json.dumps(value)


encoded_json = st.builds(_b64, unstruct_json.map(_dumps) | contexts_json.map(_dumps), st.booleans(), st.booleans())
param_value = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(["pv", "pp", "se", "ue", "tr", "ti", "ad", "ev", "web", "mob", "1", "0", "null", "", "1920x1080"]),
    st.integers(-(2**63), 2**63).map(str),
    st.uuids().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    unstruct_json.map(_dumps),
    contexts_json.map(_dumps),
    encoded_json,
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=", max_size=40),
)
param_name = st.sampled_from([*KNOWN, "u", "schema", "nuid", "tnuid"]) | st.text(max_size=8)
params = st.lists(st.tuples(param_name, param_value), max_size=12)
string_params = st.dictionaries(param_name, param_value.filter(lambda v: v is not None), max_size=10)
payload_data = st.builds(
    lambda version, events: _dumps({"schema": f"{PD}{version}", "data": events}),
    st.integers(0, 5),
    st.lists(string_params | json_values, max_size=4),
)
bodies = st.none() | st.text(max_size=60) | payload_data | json_values.map(_dumps)
content_types = st.none() | st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain"]
)
headers = st.lists(
    st.sampled_from(["X-Forwarded-For: ", "Forwarded: for=", "Cookie: sp=", "Referer: ", ""]).flatmap(
        lambda prefix: st.text(max_size=30).map(lambda t: prefix + t)
    ),
    max_size=4,
)
_LAST_ATTEMPT = re.compile(rb'"lastAttempt":"[^"]*"')
MIN_INSTANT_MS = -62_135_596_800_000  # the raw record's ISO timestamps cover years 1..9999


@st.composite
def collector_payloads(draw: st.DrawFn) -> CollectorPayload:
    vendor, version = draw(st.sampled_from(VENDORS) | st.tuples(st.text(max_size=10), st.text(max_size=5)))
    return CollectorPayload(
        vendor=vendor,
        version=version,
        querystring=tuple(draw(params)),
        content_type=draw(content_types),
        body=draw(bodies),
        collector=draw(st.sampled_from(["eventkit-test", ""]) | st.text(max_size=40)),
        encoding="UTF-8",
        hostname=draw(st.none() | st.text(max_size=20)),
        timestamp=draw(st.integers(MIN_INSTANT_MS, MAX_TSTAMP_MS)),
        ip_address=draw(st.none() | st.text(max_size=20)),
        useragent=draw(st.none() | st.text(max_size=40)),
        referer_uri=draw(st.none() | st.text(max_size=40) | st.just("https://a.example/p?q=1")),
        headers=tuple(draw(headers)),
        network_user_id=draw(st.none() | st.uuids().map(str) | st.text(max_size=10)),
    )


# jsonschema checks `date-time` and `uuid` only with optional packages; check them with the bad-row rules.
FORMATS = jsonschema.FormatChecker()
FORMATS.checks("date-time")(lambda v: not isinstance(v, str) or is_instant(v))
FORMATS.checks("uuid")(lambda v: not isinstance(v, str) or is_uuid(v))


VALID_EVENT = {
    "e": "ue",
    "p": "web",
    "tv": "js-4.10.1",
    "aid": "shop",
    "eid": "a0f1f3a2-9a61-4c39-bc41-7c0a3b0a0001",
    "dtm": "1795690797000",
    "stm": "1795690797500",
    "url": "https://shop.example.com/p?utm_source=x",
    "res": "1920x1080",
    "ue_pr": json.dumps(
        {
            "schema": UE,
            "data": {
                "schema": "iglu:com.acme/checkout/jsonschema/1-0-0",
                "data": {"orderId": "o-1", "total": 3.5, "currency": "EUR"},
            },
        }
    ),
    "cx": _b64(
        json.dumps(
            {"schema": CO + "1", "data": [{"schema": ENTITY_SCHEMAS[1], "data": {"userId": "u", "plan": "pro"}}]}
        ),
        urlsafe=True,
        pad=False,
    ),
}


@st.composite
def near_valid_events(draw: st.DrawFn) -> dict[str, str]:
    """A valid event with a few parameters dropped, replaced or added."""
    event = dict(VALID_EVENT)
    for name in draw(st.lists(st.sampled_from(sorted(VALID_EVENT)), max_size=2)):
        event.pop(name, None)
    for name, value in draw(st.lists(st.tuples(param_name, param_value.filter(lambda v: v is not None)), max_size=2)):
        event[name] = value
    return event


@st.composite
def near_valid_payloads(draw: st.DrawFn) -> CollectorPayload:
    """GET or POST payloads of mostly valid events, so that good events are exercised too."""
    events = draw(st.lists(near_valid_events(), min_size=1, max_size=4))
    post = draw(st.booleans())
    return CollectorPayload(
        vendor="com.snowplowanalytics.snowplow",
        version="tp2" if post else "tp1",
        querystring=() if post else tuple(events[0].items()),
        content_type="application/json" if post else None,
        body=_dumps({"schema": PD + "4", "data": events}) if post else None,
        collector="eventkit-test",
        encoding="UTF-8",
        hostname="collector.example.com",
        timestamp=draw(st.integers(MIN_INSTANT_MS, MAX_TSTAMP_MS)),
        ip_address="203.0.113.9",
        useragent=draw(st.none() | st.text(max_size=40)),
        referer_uri=None,
        headers=tuple(draw(headers)),
        network_user_id=None,
    )


@cache
def _schema(path: str) -> jsonschema.Draft4Validator:
    schema = json.loads((REPO_ROOT / "schemas" / path).read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=FORMATS)


def assert_valid_outcome(outcome: object) -> None:
    if isinstance(outcome, Good):
        line = outcome.event.to_tsv()
        assert line.count("\t") == 130
        assert "\n" not in line and "\r" not in line
        assert EnrichedEvent.from_tsv(line) == outcome.event
        return
    assert isinstance(outcome, BadRowBase)
    doc = orjson.loads(outcome.encode())
    errors = sorted(_schema(outcome.schema.path).iter_errors(doc["data"]), key=str)
    assert not errors, f"{outcome.type_name} does not validate: {errors[0].message}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collector_payloads() | near_valid_payloads())
def test_any_collector_payload_yields_only_valid_outcomes(payload: CollectorPayload) -> None:
    """However malformed the payload, enrich returns ≥ 1 outcome, each a Good event or a schema-valid bad row."""
    outcomes = enrich_payload(payload, make_env(), ETL_TSTAMP)
    assert outcomes
    for outcome in outcomes:
        assert_valid_outcome(outcome)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200) | collector_payloads().map(lambda p: p.encode()[: len(p.encode()) // 2]))
def test_any_bytes_yield_only_valid_outcomes(raw: bytes) -> None:
    """Arbitrary (or truncated) queue bytes become outcomes, never an exception; format violations keep the bytes."""
    outcomes = enrich_record(raw, make_env(), ETL_TSTAMP)
    assert outcomes
    for outcome in outcomes:
        assert_valid_outcome(outcome)
        if isinstance(outcome, CollectorPayloadFormatViolation):
            assert base64.b64decode(outcome.payload) == raw


@settings(max_examples=100, deadline=None)
@given(collector_payloads())
def test_every_encoded_payload_round_trips_through_enrich_record(payload: CollectorPayload) -> None:
    """Enriching the queue bytes of a payload gives the same outcomes as enriching the payload itself."""
    payload = CollectorPayload.from_json(payload.to_json())  # normalise through the wire form
    direct = [_view(o) for o in enrich_payload(payload, make_env(), ETL_TSTAMP)]
    via_bytes = [_view(o) for o in enrich_record(payload.encode(), make_env(), ETL_TSTAMP)]
    assert direct == via_bytes


def _view(outcome: object) -> Any:
    if isinstance(outcome, Good):
        return ("good", outcome.event.to_tsv())
    assert isinstance(outcome, BadRowBase)
    return ("bad", _LAST_ATTEMPT.sub(b"", outcome.encode()))  # lookup times are wall-clock


def test_format_instant_covers_the_payload_timestamp_range() -> None:
    """The property's timestamp bounds are ones a raw record can carry (ISO instants, years 1..9999)."""
    assert format_instant(MIN_INSTANT_MS).startswith("0001-01-01T00:00:00.000")
    assert format_instant(MAX_TSTAMP_MS) == "9999-12-31T23:59:59.999Z"
