"""The raw record (collector → enrich): golden bytes for real tracker requests, exact round trips, clear refusals."""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft4Validator, FormatChecker

from core.locations import BUNDLED_SCHEMAS
from core.raw import (
    RAW_RECORD_SCHEMA,
    CollectorPayload,
    RawRecordError,
    format_instant,
    parse_instant,
    split_headers,
)

CASES = Path(__file__).resolve().parent.parent / "cases" / "raw"
REGENERATE = os.environ.get("EVENTKIT_REGEN_GOLDEN") == "1"
MAX_INSTANT_MS = 253402300799999


_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    """RFC 3339, checked here because jsonschema skips date-time without an optional package."""
    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value
    ):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@cache
def _validator() -> Draft4Validator:
    schema = json.loads((BUNDLED_SCHEMAS / RAW_RECORD_SCHEMA.path).read_text())
    return Draft4Validator(schema, format_checker=_FORMATS)


def _schema_errors(record: bytes) -> list[str]:
    doc = orjson.loads(record)
    assert doc["schema"] == "iglu:io.eventkit/collector_payload/jsonschema/1-0-0"
    return [e.message for e in _validator().iter_errors(doc["data"])]


def _requests() -> list[dict[str, Any]]:
    lines = (CASES / "requests.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _as_recorded(request: dict[str, Any]) -> CollectorPayload:
    """The payload a collector records for a captured request (snowplow.md §2.2), built by hand.

    Vendor/version from the path (`/i` is tp1), the query string decoded in order, the
    content type lower-cased (POST only), every header as `Name: value` with the Cookie header
    split per cookie and the content type appended bare, the network user id from the `sp`
    cookie (or a fixed id derived from the request when there is none).
    """
    path = request["path"]
    vendor, version = ("com.snowplowanalytics.snowplow", "tp1") if path == "/i" else tuple(path.strip("/").split("/"))
    headers: list[str] = []
    cookies: dict[str, str] = {}
    content_type = None
    for name, value in request["headers"]:
        if name.lower() == "cookie":
            for cookie in value.split(";"):
                cookie_name, _, cookie_value = cookie.strip().partition("=")
                cookies[cookie_name] = cookie_value
                headers.append(f"Cookie: {cookie.strip()}")
            continue
        if name.lower() == "content-type":
            content_type = value.lower()
        headers.append(f"{name}: {value}")
    if content_type is not None:
        headers.append(content_type)
    lookup = {name.lower(): value for name, value in request["headers"]}
    return CollectorPayload(
        vendor=vendor,
        version=version,
        querystring=tuple(parse_qsl(request["query"], keep_blank_values=True)),
        content_type=content_type if request["method"] == "POST" else None,
        body=request["body"] if request["method"] == "POST" else None,
        collector="eventkit-0.1.0",
        encoding="UTF-8",
        hostname=lookup["host"].rsplit(":", 1)[0],
        timestamp=int(request["ts"] * 1000),
        ip_address="127.0.0.1",
        useragent=lookup.get("user-agent"),
        referer_uri=lookup.get("referer"),
        headers=tuple(headers),
        network_user_id=cookies.get("sp") or str(uuid.uuid5(uuid.NAMESPACE_URL, str(request["seq"]))),
    )


CASE_NAMES = [r["case"] for r in _requests()]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_real_tracker_requests_encode_to_the_golden_record(case: str) -> None:
    """A payload built from a captured JS/Python request encodes byte for byte to tests/cases/raw/<case>.json."""
    request = next(r for r in _requests() if r["case"] == case)
    payload = _as_recorded(request)
    record = payload.encode()
    golden = CASES / f"{case}.json"
    if REGENERATE:
        golden.write_bytes(record + b"\n")
    assert golden.read_bytes() == record + b"\n"
    assert _schema_errors(record) == []
    assert CollectorPayload.decode(golden.read_bytes()) == payload


def test_golden_records_carry_what_the_captures_carried() -> None:
    """The recorded querystring/body/cookies are the request's own (guards the hand-built mapping itself)."""
    for request in _requests():
        payload = CollectorPayload.decode((CASES / f"{request['case']}.json").read_bytes())
        if request["method"] == "GET":
            assert payload.path == "/i" and payload.body is None
            assert dict(payload.querystring) == {k: v[-1] for k, v in request["query_params"].items()}
        else:
            assert payload.path == request["path"] and payload.body == request["body"]
            assert payload.content_type is not None and payload.content_type == payload.content_type.lower()
            assert payload.headers[-1] == payload.content_type
        cookie_headers = [h for h in payload.headers if h.startswith("Cookie: ")]
        raw_cookie = next((v for n, v in request["headers"] if n.lower() == "cookie"), "")
        assert len(cookie_headers) == (raw_cookie.count(";") + 1 if raw_cookie else 0)


# ---------------------------------------------------------------------------------------------

_text = st.text(max_size=40)
_opt = st.none() | _text
payloads = st.builds(
    CollectorPayload,
    vendor=_text,
    version=_text,
    querystring=st.lists(st.tuples(_text, _opt), max_size=6).map(tuple),
    content_type=_opt,
    body=_opt,
    collector=_text,
    encoding=_text,
    hostname=_opt,
    timestamp=st.integers(0, MAX_INSTANT_MS),
    ip_address=_opt,
    useragent=_opt,
    referer_uri=_opt,
    headers=st.lists(_text, max_size=4).map(tuple),
    network_user_id=st.none() | st.uuids().map(str) | _text,
)


@given(payloads)
def test_decode_inverts_encode(payload: CollectorPayload) -> None:
    """decode(encode(p)) == p for any payload, including unicode, nulls, duplicates and empty values."""
    assert CollectorPayload.decode(payload.encode()) == payload


@given(payloads)
def test_every_encoded_record_validates_against_its_schema(payload: CollectorPayload) -> None:
    """encode() output is a compact SDJ valid against schemas/io.eventkit/collector_payload/jsonschema/1-0-0."""
    record = payload.encode()
    assert b"\n" not in record and record == orjson.dumps(orjson.loads(record))
    assert _schema_errors(record) == []
    assert _schema_errors(record.replace(b'"timestamp":"', b'"timestamp":"x')) != []  # the format check has teeth


@given(st.integers(0, MAX_INSTANT_MS))
def test_instants_round_trip_at_millisecond_precision(ms: int) -> None:
    """format_instant writes ISO-8601 with milliseconds and Z; parse_instant reads it back exactly."""
    text = format_instant(ms)
    assert len(text) == 24 and text.endswith("Z") and text[19] == "."
    assert parse_instant(text) == ms


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"e=pv&p=web", "not JSON"),
        (b"[]", "found list"),
        (
            b'{"schema":"iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0","data":{}}',
            "CollectorPayload",
        ),
        (b'{"schema":"iglu:io.eventkit/collector_payload/jsonschema/1-0-0"}', "found"),
        (b'{"schema":"iglu:io.eventkit/collector_payload/jsonschema/1-0-0","data":[]}', "not a JSON object"),
        (b'{"schema":"iglu:io.eventkit/collector_payload/jsonschema/1-0-0","data":{"version":"tp2"}}', "vendor"),
        (
            b'{"schema":"iglu:io.eventkit/collector_payload/jsonschema/1-0-0","data":{"vendor":1,"version":"tp2"}}',
            "vendor",
        ),
        (
            b'{"schema":"iglu:io.eventkit/collector_payload/jsonschema/1-0-0","data":{"vendor":"v","version":"1",'
            b'"headers":"Host: x"}}',
            "headers",
        ),
        (
            b'{"schema":"iglu:io.eventkit/collector_payload/jsonschema/1-0-0","data":{"vendor":"v","version":"1",'
            b'"querystring":[{"value":"x"}]}}',
            "name",
        ),
        (
            b'{"schema":"iglu:io.eventkit/collector_payload/jsonschema/1-0-0","data":{"vendor":"v","version":"1",'
            b'"timestamp":"yesterday"}}',
            "malformed",
        ),
        (
            b'{"schema":"iglu:io.eventkit/collector_payload/jsonschema/1-0-0","data":{"vendor":"v","version":"1",'
            b'"body":{"e":"pv"}}}',
            "body",
        ),
    ],
)
def test_decode_refuses_junk_with_a_useful_message(raw: bytes, says: str) -> None:
    """Bytes that are not a raw record raise RawRecordError whose message names what is wrong."""
    with pytest.raises(RawRecordError, match=says):
        CollectorPayload.decode(raw)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_fields = st.sampled_from(
    [
        "vendor",
        "version",
        "querystring",
        "contentType",
        "body",
        "collector",
        "encoding",
        "hostname",
        "timestamp",
        "ipAddress",
        "useragent",
        "refererUri",
        "headers",
        "networkUserId",
    ]
)


@given(payloads, _fields, _json)
def test_decode_never_fails_with_anything_but_raw_record_error(
    payload: CollectorPayload, field: str, value: Any
) -> None:
    """A record with any one field replaced by any JSON value decodes or raises RawRecordError — never another error."""
    doc = orjson.loads(payload.encode())
    doc["data"][field] = value
    try:
        CollectorPayload.decode(orjson.dumps(doc))
    except RawRecordError:
        pass


@given(st.binary(max_size=64))
def test_decode_of_arbitrary_bytes_raises_only_raw_record_error(raw: bytes) -> None:
    """Arbitrary bytes from the queue either decode or raise RawRecordError (enrich's format-violation path)."""
    try:
        CollectorPayload.decode(raw)
    except RawRecordError:
        pass


def test_split_headers_skips_the_bare_content_type() -> None:
    """split_headers returns (name, value) pairs and ignores the bare content-type entry the collector appends."""
    pairs = split_headers(("Host: a:1", "Cookie: sp=x", "X-Forwarded-For: 1.2.3.4, 5.6.7.8", "text/plain"))
    assert pairs == [("Host", "a:1"), ("Cookie", "sp=x"), ("X-Forwarded-For", "1.2.3.4, 5.6.7.8")]


@given(st.lists(st.text(alphabet=st.sampled_from("ab: \t\u3000\u00a0\n-"), max_size=12), max_size=5))
def test_split_headers_is_partition_and_strip(headers: list[str]) -> None:
    """Any header text splits as `name, _, value = h.partition(":")` with both sides stripped of whitespace."""
    expected = [(h.partition(":")[0].strip(), h.partition(":")[2].strip()) for h in headers if ":" in h]
    assert split_headers(headers) == expected


def _item_by_item(doc: dict[str, Any]) -> tuple[Any, Any]:
    """The plain reading from_json must match: each querystring item and header checked in turn."""

    def text(value: Any, name: str) -> str:
        if not isinstance(value, str):
            raise RawRecordError(f"{name}: expected a string")
        return value

    try:
        pairs = tuple(
            (
                text(p["name"], "querystring.name"),
                None if p.get("value") is None else text(p["value"], "querystring.value"),
            )
            for p in doc["querystring"]
        )
        headers = tuple(text(h, "headers") for h in doc["headers"])
    except KeyError as e:
        return "error", f"collector payload misses field {e.args[0]}"
    except RawRecordError as e:
        return "error", str(e)
    except (TypeError, AttributeError) as e:
        return "error", f"collector payload is malformed: {e}"
    return pairs, headers


_qs_items = st.one_of(
    st.fixed_dictionaries({"name": st.text(max_size=3), "value": st.none() | st.text(max_size=3)}),
    st.fixed_dictionaries({"name": _json, "value": _json}),
    st.fixed_dictionaries({"value": st.text(max_size=2)}),
    _json,
)


@given(st.lists(_qs_items, max_size=4), st.lists(st.text(max_size=3) | _json, max_size=3))
def test_querystring_and_headers_read_exactly_as_item_by_item(items: list[Any], headers: list[Any]) -> None:
    """The C-level reading of querystring and headers gives the same pairs, or the same error, as checking each item."""
    doc = {"vendor": "v", "version": "tp2", "querystring": items or [{"name": "e", "value": "pv"}], "headers": headers}
    try:
        payload = CollectorPayload.from_json(doc)
    except RawRecordError as e:
        assert _item_by_item(doc) == ("error", str(e))
    else:
        assert _item_by_item(doc) == (payload.querystring, payload.headers)


@given(st.lists(st.integers(-62135596800000, MAX_INSTANT_MS), min_size=1, max_size=10), st.lists(st.integers(0, 2_500)))
def test_instants_formatted_once_per_second_match_a_fresh_datetime_format(starts: list[int], steps: list[int]) -> None:
    """format_instant (its second text cached) equals formatting a datetime afresh, for instants near or far apart."""
    for instant in starts:
        for step in [0, *steps]:
            instant = min(instant + step, MAX_INSTANT_MS)
            dt = datetime.fromtimestamp(instant // 1000, tz=UTC)
            assert format_instant(instant) == f"{dt.year:04d}-{dt:%m-%dT%H:%M:%S}.{instant % 1000:03d}Z"
