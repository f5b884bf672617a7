"""Bad rows as values: every generated row of every type validates against its published schema and parses back."""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.atomic import ATOMIC_FIELDS
from core.atomic import FIELD_NAMES as ATOMIC_FIELD_NAMES
from core.badrows import (
    BAD_ROW_TYPES,
    EVENTKIT_PROCESSOR_VERSION,
    AdapterFailures,
    BadRowBase,
    CollectorPayloadFormatViolation,
    CriterionMismatchMessage,
    DataReport,
    EnrichmentErrorMessage,
    EnrichmentFailureMessage,
    EnrichmentFailures,
    EnrichmentInformation,
    EnrichmentPayload,
    GenericError,
    IgluErrorMessage,
    InputDataMessage,
    LoaderIgluError,
    LoaderParsingError,
    LoaderRuntimeError,
    NotIgluMessage,
    NotJsonMessage,
    Processor,
    RawEvent,
    RecoveryError,
    RepositoryLookup,
    SchemaMappingMessage,
    SchemaViolations,
    SizeViolation,
    TrackerProtocolViolations,
    eventkit_processor,
    parse_bad_row,
    resolution_error,
    schema_issues_error,
    validation_error,
)
from core.badrows.limits import chunk_pairs, unchunk_pairs
from core.badrows.loader_rows import RECOVERABLE_SCHEMAS
from core.badrows.raw_rows import LOADERS
from core.iglu import SchemaCriterion, SchemaKey, SchemaVer
from core.locations import BUNDLED_SCHEMAS
from core.raw import CollectorPayload, format_instant
from tests.badrow_schemas import bad_row_validator, is_date_time, is_uuid
from tests.raw_records import raw_record

GOLDEN = Path(__file__).resolve().parent.parent / "cases" / "badrows"
REGENERATE = os.environ.get("EVENTKIT_REGEN_GOLDEN") == "1"

# ---------------------------------------------------------------------------------------------
# Validation against the published schemas (tests/badrow_schemas.py checks the formats strictly)


def _schema_errors(row: BadRowBase) -> list[str]:
    doc = row.to_json()
    assert doc["schema"] == row.schema.uri
    errors = bad_row_validator(row.schema.path).iter_errors(doc["data"])
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors]


# ---------------------------------------------------------------------------------------------
# Strategies

_long_texts = st.builds(lambda c, n: c * n, st.characters(codec="utf-8"), st.integers(0, 1300))
texts = st.one_of(st.text(max_size=24), _long_texts)
short_texts = st.text(max_size=24)
opt_texts = st.none() | texts
instants = st.integers(0, 253402300799999)
versions = st.from_regex(r"\A[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}([-+][a-z0-9.]{0,12})?\Z")
processors = st.builds(Processor, texts, versions)

_vendor = st.from_regex(r"\A[a-zA-Z0-9\-_][a-zA-Z0-9\-_.]{0,19}\Z")  # a vendor never starts with "." (core.iglu)
_name = st.from_regex(r"\A[a-zA-Z0-9\-_]{1,20}\Z")
schema_vers = st.builds(SchemaVer, st.integers(1, 30), st.integers(0, 30), st.integers(0, 30))
schema_keys = st.builds(SchemaKey, _vendor, _name, st.just("jsonschema") | _name, schema_vers)
_part = st.none() | st.integers(0, 9)
criteria = st.builds(SchemaCriterion, _vendor, _name, _name, st.none() | st.integers(1, 9), _part, _part)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | short_texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_texts, inner, max_size=3),
    max_leaves=8,
)

_repo_errors = st.tuples(st.just("NotFound"), st.none()) | st.tuples(
    st.sampled_from(["RepoFailure", "ClientFailure"]), st.none() | texts
)
lookups = st.builds(
    RepositoryLookup,
    short_texts,
    st.lists(_repo_errors, min_size=1, max_size=3).map(tuple),
    st.integers(0, 10),
    instants,
)
data_reports = st.builds(
    DataReport, texts, st.none() | short_texts, st.none() | short_texts, st.none() | st.tuples(short_texts)
)
iglu_errors = st.one_of(
    st.lists(lookups, min_size=1, max_size=3).map(resolution_error),
    st.builds(validation_error, st.lists(data_reports, min_size=1, max_size=3), st.none() | texts),
    st.builds(schema_issues_error, st.lists(st.tuples(short_texts, texts), min_size=1, max_size=3), st.none() | texts),
    # the dict form a registry may build by hand, with over-long texts the normaliser must cut
    st.builds(
        lambda repo, msg, ts: {
            "error": "ResolutionError",
            "lookupHistory": [
                {
                    "repository": repo,
                    "errors": [{"error": "RepoFailure", "message": msg}],
                    "attempts": 2,
                    "lastAttempt": format_instant(ts),
                }
            ],
        },
        short_texts,
        texts,
        instants,
    ),
)

input_data = st.builds(InputDataMessage, texts, opt_texts, texts)
not_json = st.builds(NotJsonMessage, texts, opt_texts, texts)
not_iglu = st.builds(
    NotIgluMessage, json_values, st.sampled_from(["INVALID_SCHEMAVER", "INVALID_IGLUURI", "INVALID_DATA_PAYLOAD"])
)
mismatch = st.builds(CriterionMismatchMessage, schema_keys, criteria)
iglu_message = st.builds(IgluErrorMessage, schema_keys, iglu_errors)
mapping = st.builds(SchemaMappingMessage, opt_texts, st.dictionaries(short_texts, short_texts, max_size=3), texts)
enrichment_error = st.builds(EnrichmentErrorMessage, texts)
enrichment_messages = st.builds(
    EnrichmentFailureMessage,
    st.none() | st.builds(EnrichmentInformation, schema_keys, texts),
    st.one_of(input_data, enrichment_error, iglu_message, input_data.map(lambda m: m.to_json())),
)

_uuids = st.uuids().map(str)
_nuids = st.none() | _uuids | _uuids.map(str.upper) | short_texts  # junk ids are dropped, never invalid
_pair_names = st.one_of(st.sampled_from(["e", "ue_px", "cx", "co", "url"]), texts)
_pairs = st.lists(st.tuples(_pair_names, opt_texts), max_size=6).map(tuple)
_adjacent_duplicates = st.builds(
    lambda name, a, b: ((name, a), (name, b)), st.sampled_from(["cx", "e"]), _long_texts, opt_texts
)
querystrings = _pairs | _adjacent_duplicates
headers = st.lists(texts, max_size=4).map(tuple)

collector_payloads = st.builds(
    CollectorPayload,
    vendor=texts,
    version=texts,
    querystring=querystrings,
    content_type=opt_texts,
    body=opt_texts,
    collector=texts,
    encoding=st.just("UTF-8") | texts,
    hostname=opt_texts,
    timestamp=instants,
    ip_address=opt_texts,
    useragent=opt_texts,
    referer_uri=opt_texts,
    headers=headers,
    network_user_id=_nuids,
)
raw_events = st.builds(
    RawEvent,
    vendor=texts,
    version=texts,
    parameters=querystrings,
    content_type=opt_texts,
    loader_name=texts,
    encoding=texts,
    hostname=opt_texts,
    timestamp_ms=st.none() | instants,
    ip_address=opt_texts,
    useragent=opt_texts,
    referer_uri=opt_texts,
    headers=headers,
    user_id=_nuids,
)
_field_values = st.one_of(
    st.none(),
    short_texts,
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.booleans(),
    st.from_regex(r"\A-?[0-9]{1,6}\Z"),
    st.dictionaries(short_texts, short_texts, max_size=2),
    st.datetimes(timezones=st.just(UTC)),
)
enriched_events = st.dictionaries(st.sampled_from(ATOMIC_FIELD_NAMES), _field_values, max_size=20)
enrichment_payloads = st.builds(EnrichmentPayload, enriched_events, raw_events)

_format_messages = st.one_of(
    st.builds(lambda e: {"error": e}, texts),
    st.builds(lambda f, v, x: {"payloadField": f, "value": v, "expectation": x}, texts, opt_texts, texts),
)
_parsing_failures = st.one_of(
    st.just({"type": "NotTSV"}),
    st.builds(lambda n: {"type": "FieldNumberMismatch", "fieldCount": n}, st.integers(0, 5000)),
    st.builds(
        lambda errors: {"type": "RowDecodingError", "errors": errors},
        st.lists(
            st.one_of(
                st.builds(
                    lambda k, v, m: {"type": "InvalidValue", "key": k, "value": v, "message": m}, texts, texts, texts
                ),
                st.builds(lambda m: {"type": "UnhandledRowDecodingError", "message": m}, texts),
            ),
            min_size=1,
            max_size=3,
        ),
    ),
)
_loader_iglu_failures = st.one_of(
    st.builds(lambda k, e: {"schemaKey": k.uri, "error": e}, schema_keys, iglu_errors),
    st.builds(lambda k, m: {"schemaKey": k.uri, "message": m}, schema_keys, texts),
    st.builds(lambda c, e: {"schemaCriterion": str(c), "error": e}, criteria, iglu_errors),
    st.builds(lambda k, v, x: {"schemaKey": k.uri, "value": v, "expected": x}, schema_keys, json_values, texts),
    st.builds(lambda k, key, v: {"schemaKey": k.uri, "key": key, "value": v}, schema_keys, json_values, json_values),
)

ROWS: dict[str, st.SearchStrategy[Any]] = {
    "size_violation": st.builds(
        SizeViolation, processors, instants, st.integers(0, 2**31), st.integers(0, 2**31), texts, texts
    ),
    "collector_payload_format_violation": st.builds(
        CollectorPayloadFormatViolation, processors, instants, st.sampled_from(LOADERS), _format_messages, texts
    ),
    "adapter_failures": st.builds(
        AdapterFailures,
        processors,
        instants,
        texts,
        texts,
        st.lists(st.one_of(input_data, not_json, not_iglu, mapping), max_size=4).map(tuple),
        collector_payloads,
    ),
    "tracker_protocol_violations": st.builds(
        TrackerProtocolViolations,
        processors,
        instants,
        texts,
        texts,
        st.lists(st.one_of(input_data, not_json, not_iglu, mismatch, iglu_message), max_size=4).map(tuple),
        collector_payloads,
    ),
    "schema_violations": st.builds(
        SchemaViolations,
        processors,
        instants,
        st.lists(st.one_of(not_json, not_iglu, mismatch, iglu_message), max_size=4).map(tuple),
        enrichment_payloads,
    ),
    "enrichment_failures": st.builds(
        EnrichmentFailures,
        processors,
        instants,
        st.lists(enrichment_messages, max_size=4).map(tuple),
        enrichment_payloads,
    ),
    "loader_parsing_error": st.builds(LoaderParsingError, processors, _parsing_failures, texts),
    "loader_iglu_error": st.builds(
        LoaderIgluError, processors, st.lists(_loader_iglu_failures, max_size=3).map(tuple), enriched_events
    ),
    "loader_runtime_error": st.builds(LoaderRuntimeError, processors, texts, enriched_events),
    "generic_error": st.builds(GenericError, processors, instants, st.lists(texts, min_size=1).map(tuple), texts),
}
_wrappable = st.one_of(*(s for name, s in ROWS.items() if BAD_ROW_TYPES[name].schema.uri in RECOVERABLE_SCHEMAS))
ROWS["recovery_error"] = st.builds(
    RecoveryError, processors, texts, st.none() | texts, _wrappable.map(lambda r: r.to_json()), st.integers(0, 100)
)
any_row = st.one_of(*ROWS.values())


# ---------------------------------------------------------------------------------------------
# Properties


def test_every_type_has_a_strategy_and_its_current_schema_is_bundled() -> None:
    """The generators cover every bad-row type, and each type's schema file is in schemas/."""
    assert set(ROWS) == set(BAD_ROW_TYPES)
    for name, cls in BAD_ROW_TYPES.items():
        assert cls.type_name == name == cls.schema.name
        assert (BUNDLED_SCHEMAS / cls.schema.path).is_file()


@pytest.mark.parametrize("type_name", sorted(BAD_ROW_TYPES))
def test_every_generated_row_validates_against_its_published_schema_and_parses_back(type_name: str) -> None:
    """Whatever goes into a constructor (unicode, over-long texts, junk ids, nulls), the row validates against
    its published schema, and parse_bad_row(encode()) == parse_bad_row(to_json()) == row with identical bytes."""

    @given(ROWS[type_name])
    def check(row: BadRowBase) -> None:
        assert row.type_name == type_name
        assert _schema_errors(row) == []
        line = row.encode()
        parsed = parse_bad_row(line)
        assert parsed == row
        assert parse_bad_row(row.to_json()) == row
        assert parsed.encode() == line

    check()


@given(any_row)
def test_encode_is_compact_deterministic_json(row: BadRowBase) -> None:
    """encode() is the compact JSON of to_json(): one line, no insignificant whitespace, same bytes every time."""
    line = row.encode()
    assert line == row.encode()
    assert b"\n" not in line
    assert line == orjson.dumps(orjson.loads(line))  # already in canonical compact form
    assert json.loads(line) == row.to_json()


@given(st.lists(st.tuples(st.sampled_from("ab"), st.none() | st.text("xy", max_size=9)), max_size=8))
def test_chunking_is_lossless_and_within_the_limit(pairs: list[tuple[str, str | None]]) -> None:
    """With a tiny limit to hit every edge: unchunk(chunk(x)) == x and every chunk fits."""
    chunked = chunk_pairs(pairs, limit=3)
    assert all(v is None or len(v) <= 3 for _, v in chunked)
    assert unchunk_pairs(chunked, limit=3) == pairs


def test_long_parameter_values_survive_the_512_character_limit() -> None:
    """A 1,300-character cx and a 512-character value followed by a same-name value round-trip exactly."""
    cx = "eyJ" * 433 + "x"
    params = (("e", "ue"), ("cx", cx), ("a", "q" * 512), ("a", ""), ("a", "r"))
    payload = CollectorPayload(
        "com.snowplowanalytics.snowplow", "tp1", params, None, None, "c", "UTF-8", None, 0, None, None, None
    )
    row = TrackerProtocolViolations(
        eventkit_processor("enrich"), 0, "com.snowplowanalytics.snowplow", "tp1", (), payload
    )
    wire = row.to_json()["data"]["payload"]["querystring"]
    assert max(len(p["value"]) for p in wire) == 512
    assert parse_bad_row(row.encode()).payload.querystring == params  # type: ignore[union-attr]
    assert _schema_errors(row) == []


# ---------------------------------------------------------------------------------------------
# Construction rules


@pytest.mark.parametrize("version", ["1.2", "v1.2.3", "1.2.3\n", "١.٢.٣", "1.2.3" + "x" * 40, ""])
def test_processor_refuses_versions_the_schema_pattern_refuses(version: str) -> None:
    """processor.version must match ^(\\d+\\.\\d+\\.\\d+.*)$ in ECMA terms (ASCII digits, no newline), ≤ 32 chars."""
    with pytest.raises(ValueError, match="processor version"):
        Processor("eventkit", version)


def test_processor_cuts_the_artifact_and_uses_the_package_version() -> None:
    """The artifact is cut to 512 characters; eventkit_processor carries the installed package version."""
    assert len(Processor("a" * 600, "1.0.0").artifact) == 512
    p = eventkit_processor("enrich")
    assert p == Processor("eventkit-enrich", EVENTKIT_PROCESSOR_VERSION)
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", EVENTKIT_PROCESSOR_VERSION)


def test_lookup_history_is_written_with_repository_not_the_schemas_misspelling() -> None:
    """The schemas' properties say `repostitory` but require `repository`: we write `repository`."""
    error = resolution_error([RepositoryLookup("Iglu Central", (("NotFound", None),), 1, 0)])
    assert error == {
        "error": "ResolutionError",
        "lookupHistory": [
            {
                "repository": "Iglu Central",
                "errors": [{"error": "NotFound"}],
                "attempts": 1,
                "lastAttempt": "1970-01-01T00:00:00.000Z",
            }
        ],
    }
    misspelt = {**error["lookupHistory"][0]}
    misspelt["repostitory"] = misspelt.pop("repository")
    key = SchemaKey.parse("iglu:com.acme/x/jsonschema/1-0-0")
    assert IgluErrorMessage(key, {"error": "ResolutionError", "lookupHistory": [misspelt]}).error == error


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (
            AdapterFailures,
            CriterionMismatchMessage(
                SchemaKey.parse("iglu:a/b/jsonschema/1-0-0"), SchemaCriterion.parse("iglu:a/b/jsonschema/2-*-*")
            ),
        ),
        (TrackerProtocolViolations, SchemaMappingMessage(None, {}, "x")),
        (SchemaViolations, InputDataMessage("f", None, "x")),
        (EnrichmentFailures, NotJsonMessage("f", None, "x")),
    ],
)
def test_a_row_refuses_message_variants_its_schema_does_not_allow(cls: type, message: object) -> None:
    """Each type accepts only the message variants in its schema's anyOf (a programming error otherwise)."""
    payload: object
    if cls in (AdapterFailures, TrackerProtocolViolations):
        cp = CollectorPayload("v", "1", (), None, None, "c", "UTF-8", None, 0, None, None, None)
        with pytest.raises(ValueError, match="cannot carry"):
            cls(eventkit_processor("enrich"), 0, "v", "1", (message,), cp)
        return
    payload = EnrichmentPayload({}, _raw_event())
    with pytest.raises(ValueError, match="cannot"):
        cls(eventkit_processor("enrich"), 0, (message,), payload)
    if cls is EnrichmentFailures:
        with pytest.raises(ValueError, match="cannot"):
            EnrichmentFailureMessage(None, message)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        {"error": "ResolutionError", "lookupHistory": []},
        {"error": "ValidationError", "dataReports": []},
        {"error": "ValidationError"},
        {"error": "Boom"},
        {
            "error": "ResolutionError",
            "lookupHistory": [
                {"repository": "r", "errors": [{"error": "NotFound"}], "attempts": 1, "lastAttempt": "yesterday"}
            ],
        },
    ],
)
def test_iglu_client_errors_of_an_unknown_shape_are_refused(bad: dict[str, Any]) -> None:
    """An IgluClientError the schemas would refuse is a programming error, reported at construction."""
    with pytest.raises(ValueError):
        IgluErrorMessage(SchemaKey.parse("iglu:a/b/jsonschema/1-0-0"), bad)


def test_partially_enriched_event_has_all_131_fields_typed_per_schema() -> None:
    """The enriched object lists all 131 atomic fields in order, numbers as numbers, junk as null."""
    payload = EnrichmentPayload(
        {"app_id": "shop", "domain_sessionidx": "3", "geo_latitude": "x", "txn_id": 5}, _raw_event()
    )
    assert tuple(payload.enriched) == ATOMIC_FIELD_NAMES
    assert len(ATOMIC_FIELDS) == 131
    assert payload.enriched["app_id"] == "shop"
    assert payload.enriched["domain_sessionidx"] == 3
    assert payload.enriched["geo_latitude"] is None
    assert payload.enriched["txn_id"] == "5"
    with pytest.raises(ValueError, match="not atomic fields"):
        EnrichmentPayload({"no_such_field": 1}, _raw_event())


def test_size_violation_caps_sizes_at_the_schema_maximum() -> None:
    """Byte counts above the schema's 1 GiB maximum are reported as the maximum; negative counts are refused."""
    row = SizeViolation(eventkit_processor("collector"), 0, 2**40, 2**41, "x", "")
    assert row.maximum_allowed_size_bytes == row.actual_size_bytes == 1073741824
    with pytest.raises(ValueError):
        SizeViolation(eventkit_processor("collector"), 0, -1, 0, "x", "")


def test_generic_error_needs_an_error_and_timestamps_must_be_writable() -> None:
    """generic_error's errors has minItems 1; timestamps outside 1970..9999 cannot be written as ISO-8601."""
    with pytest.raises(ValueError):
        GenericError(eventkit_processor("collector"), 0, (), "")
    with pytest.raises(ValueError):
        GenericError(eventkit_processor("collector"), -1, ("x",), "")


def test_recovery_error_only_wraps_rows_its_schema_lists() -> None:
    """recovery_error 1-0-1's payload.schema enum excludes generic_error and recovery_error itself."""
    generic = GenericError(eventkit_processor("replay"), 0, ("x",), "").to_json()
    with pytest.raises(ValueError, match="recovery_error payload"):
        RecoveryError(eventkit_processor("replay"), "no", None, generic, 1)


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/nope/jsonschema/1-0-0","data":{}}',
        b'{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/1-0-0","data":{}}',
        b'{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/generic_error/jsonschema/1-0-0","data":{}}',
        b'{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/generic_error/jsonschema/1-0-0","data":'
        b'{"processor":{"artifact":"a","version":"1.0.0"},"failure":{"timestamp":"x","errors":["e"]},"payload":""}}',
    ],
)
def test_parse_refuses_unknown_types_versions_and_malformed_rows(data: bytes) -> None:
    """Anything but a current-version bad row of a known type raises ValueError (never another exception)."""
    with pytest.raises(ValueError):
        parse_bad_row(data)


# ---------------------------------------------------------------------------------------------
# RawEvent ⇄ CollectorPayload (what replay relies on)


def _raw_event(vendor: str = "com.snowplowanalytics.snowplow", version: str = "tp2") -> RawEvent:
    return RawEvent(
        vendor=vendor,
        version=version,
        parameters=(("e", "pv"), ("url", "https://shop.example/"), ("p", "web"), ("tv", "js-4.10.1")),
        content_type="application/json; charset=utf-8",
        loader_name="eventkit-0.1.0",
        encoding="UTF-8",
        hostname="collector.example",
        timestamp_ms=1795690796275,
        ip_address="203.0.113.7",
        useragent="Mozilla/5.0",
        referer_uri="https://shop.example/",
        headers=("Host: collector.example", "Cookie: sp=a94c1e3a-bbc7-455f-9290-a5cabafb5f22"),
        user_id="a94c1e3a-bbc7-455f-9290-a5cabafb5f22",
    )


@pytest.mark.parametrize("version", ["tp1", "tp2"])
def test_raw_event_replays_as_a_get_style_single_event_payload(version: str) -> None:
    """to_collector_payload: parameters become the query string, no body, vendor/version kept for tp1/tp2."""
    raw = _raw_event(version=version)
    payload = raw.to_collector_payload()
    assert (payload.vendor, payload.version) == ("com.snowplowanalytics.snowplow", version)
    assert payload.querystring == raw.parameters
    assert payload.body is None and payload.content_type is None
    assert payload.network_user_id == raw.user_id and payload.timestamp == raw.timestamp_ms
    assert RawEvent.from_collector_payload(payload, payload.querystring) == _fields(raw, content_type=None)


def test_webhook_raw_events_replay_through_tp2() -> None:
    """A webhook adapter's event already holds tracker-protocol parameters, so it replays as tp2, not to the webhook."""
    payload = _raw_event(vendor="com.mandrill", version="v1").to_collector_payload()
    assert (payload.vendor, payload.version, payload.path) == (
        "com.snowplowanalytics.snowplow",
        "tp2",
        "/com.snowplowanalytics.snowplow/tp2",
    )


@given(raw_events)
def test_raw_event_from_its_own_replay_payload_keeps_every_replayed_field(raw: RawEvent) -> None:
    """Rebuilding a RawEvent from its replay payload keeps parameters, headers, ids and network facts."""
    payload = raw.to_collector_payload()
    again = RawEvent.from_collector_payload(payload, payload.querystring)
    assert again.parameters == raw.parameters
    assert (again.hostname, again.ip_address, again.useragent, again.referer_uri) == (
        raw.hostname,
        raw.ip_address,
        raw.useragent,
        raw.referer_uri,
    )
    assert (again.headers, again.user_id, again.loader_name, again.encoding) == (
        raw.headers,
        raw.user_id,
        raw.loader_name,
        raw.encoding,
    )


def test_raw_event_keeps_the_last_duplicate_parameter_like_a_map() -> None:
    """Parameter names are unique: a later duplicate replaces the earlier value in place."""
    raw = RawEvent("v", "1", (("e", "pv"), ("p", "web"), ("e", "ue")), None, "c", "UTF-8", None, 0, None, None, None)
    assert raw.parameters == (("e", "ue"), ("p", "web"))


def _fields(raw: RawEvent, **changes: Any) -> RawEvent:
    values = {name: getattr(raw, name) for name in RawEvent.__dataclass_fields__}
    return RawEvent(**{**values, **changes})


# ---------------------------------------------------------------------------------------------
# Golden files: one realistic row per type, byte for byte


def _golden_rows() -> dict[str, BadRowBase]:
    enrich = Processor("eventkit-enrich", "0.1.0")
    collector = Processor("eventkit-collector", "0.1.0")
    loader = Processor("eventkit-loader", "0.1.0")
    at = 1795690796300
    nuid = "a94c1e3a-bbc7-455f-9290-a5cabafb5f22"
    ue_px = (
        "eyJzY2hlbWEiOiJpZ2x1OmNvbS5zbm93cGxvd2FuYWx5dGljcy5zbm93cGxvdy91bnN0cnVjdF9ldmVudC9qc29uc2NoZW1hLzEtMC0wIn0"
    )
    get = raw_record(
        version="tp1",
        querystring=(("e", "ue"), ("ue_px", ue_px), ("p", "srv"), ("tv", "py-1.1.0"), ("aid", "harness-py")),
        collector="eventkit-0.1.0",
        hostname="127.0.0.1",
        timestamp=1795690794415,
        ip_address="127.0.0.1",
        useragent="python-requests/2.32.3",
        headers=("Host: 127.0.0.1:9190", "User-Agent: python-requests/2.32.3", "Accept: */*"),
        network_user_id=nuid,
    )
    post = raw_record(
        content_type="text/plain",
        body='{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv"}]}',
        collector="eventkit-0.1.0",
        hostname="127.0.0.1",
        timestamp=1795690796281,
        ip_address="203.0.113.7",
        useragent="Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156.0.0.0",
        referer_uri="http://127.0.0.1:38473/",
        headers=("Host: 127.0.0.1:9190", "Cookie: _sp_ses.dc78=*", "text/plain"),
        network_user_id=nuid,
    )
    webhook = raw_record(
        vendor="com.mandrill",
        version="v1",
        content_type="application/x-www-form-urlencoded",
        body="mandrill_events=%5B%7B%22event%22%3A%22spam_report%22%7D%5D",
        collector="eventkit-0.1.0",
        hostname="collector.example",
        timestamp=1795690796281,
        ip_address="198.51.100.9",
        useragent="Mandrill-Webhook/1.0",
    )
    raw = RawEvent.from_collector_payload(
        get, (("e", "ue"), ("ue_px", ue_px), ("p", "srv"), ("tv", "py-1.1.0"), ("aid", "harness-py"))
    )
    enriched = {
        "app_id": "harness-py",
        "platform": "srv",
        "etl_tstamp": "2026-11-26 11:00:01.000",
        "collector_tstamp": "2026-11-26 11:00:00.415",
        "event": "unstruct",
        "event_id": "612901bd-4220-5943-9f5e-53d625bfbb4c",
        "v_tracker": "py-1.1.0",
        "v_collector": "eventkit-0.1.0",
        "v_etl": "eventkit-0.1.0",
        "user_ipaddress": "127.0.0.1",
        "network_userid": nuid,
        "domain_sessionidx": 1,
    }
    checkout = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-0")
    good_event = {
        "app_id": "harness-js",
        "platform": "web",
        "collector_tstamp": "2026-11-26T11:00:00.415Z",
        "event": "unstruct",
        "event_id": "31a7048e-0944-4c10-860e-38d844a2ef73",
        "v_collector": "eventkit-0.1.0",
        "v_etl": "eventkit-0.1.0",
        "unstruct_event": {"schema": checkout.uri, "data": {"orderId": "order-2", "total": "21.5"}},
        "br_cookies": True,
    }
    tpv = TrackerProtocolViolations(
        enrich,
        at,
        "com.snowplowanalytics.snowplow",
        "tp2",
        (
            IgluErrorMessage(
                SchemaKey.parse("iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"),
                validation_error(
                    [DataReport("$.data[0].p: is missing but it is required", "$.data[0]", "required", ("p",))]
                ),
            ),
        ),
        post,
    )
    return {
        "size_violation": SizeViolation(
            collector, at, 1000000, 1048576, "oversized collector payload: GET requests cannot be split", "e=pv&url=h"
        ),
        "collector_payload_format_violation": CollectorPayloadFormatViolation(
            enrich,
            at,
            "ndjson",
            {"error": "verifying record as iglu:io.eventkit/collector_payload/jsonschema/1-0-0 failed: found None"},
            '{"vendor":"com.acme"}',
        ),
        "adapter_failures": AdapterFailures(
            enrich,
            at,
            "com.mandrill",
            "v1",
            (
                SchemaMappingMessage(
                    "spam_report",
                    {"send": "iglu:com.mandrill/message_sent/jsonschema/1-0-0"},
                    "no schema associated with the provided type parameter",
                ),
            ),
            webhook,
        ),
        "tracker_protocol_violations": tpv,
        "schema_violations": SchemaViolations(
            enrich,
            at,
            (
                IgluErrorMessage(
                    checkout,
                    resolution_error([RepositoryLookup("Iglu Central", (("NotFound", None),), 1, at - 5)]),
                ),
                NotIgluMessage({"orderId": "order-2"}, "INVALID_DATA_PAYLOAD"),
            ),
            EnrichmentPayload(enriched, raw),
        ),
        "enrichment_failures": EnrichmentFailures(
            enrich,
            at,
            (
                EnrichmentFailureMessage(
                    EnrichmentInformation(
                        SchemaKey.parse("iglu:com.snowplowanalytics.snowplow/ip_lookups/jsonschema/2-0-0"),
                        "ip_lookups",
                    ),
                    InputDataMessage("user_ipaddress", "not-an-ip", "a valid IPv4 or IPv6 address"),
                ),
                EnrichmentFailureMessage(None, InputDataMessage("app_id", "x" * 300, "at most 255 characters")),
            ),
            EnrichmentPayload(enriched, raw),
        ),
        "loader_parsing_error": LoaderParsingError(loader, {"type": "FieldNumberMismatch", "fieldCount": 3}, "a\tb\tc"),
        "loader_iglu_error": LoaderIgluError(
            loader,
            ({"schemaKey": checkout.uri, "value": "21.5", "expected": "number"},),
            good_event,
        ),
        "loader_runtime_error": LoaderRuntimeError(loader, "Binder Error: column total is DOUBLE", good_event),
        "recovery_error": RecoveryError(
            Processor("eventkit-replay", "0.1.0"), "payload_data still invalid", "default", tpv.to_json(), 2
        ),
        "generic_error": GenericError(collector, at, ("Invalid query string: malformed percent-encoding",), "e=%zz"),
    }


@pytest.mark.parametrize("type_name", sorted(BAD_ROW_TYPES))
def test_golden_rows_match_byte_for_byte(type_name: str) -> None:
    """One realistic row per type encodes exactly to tests/cases/badrows/<type>.json (EVENTKIT_REGEN_GOLDEN=1)."""
    row = _golden_rows()[type_name]
    path = GOLDEN / f"{type_name}.json"
    line = row.encode() + b"\n"
    if REGENERATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_bytes(line)
    assert path.read_bytes() == line
    assert _schema_errors(row) == []
    assert parse_bad_row(path.read_bytes().strip()) == row


def test_lone_surrogates_are_replaced_instead_of_crashing_the_encoder() -> None:
    """Text with a lone surrogate (stdlib json.loads makes them) encodes as valid UTF-8 with U+FFFD."""
    row = GenericError(eventkit_processor("enrich"), 0, ("bad \ud800 text",), json.loads('"\\udc00"'))
    line = row.encode()
    line.decode("utf-8")
    assert parse_bad_row(line) == GenericError(eventkit_processor("enrich"), 0, ("bad \ufffd text",), "\ufffd")


def test_public_api_is_what_the_package_exports() -> None:
    """Every name in core.badrows.__all__ exists, and BAD_ROW_TYPES maps each type name to its class."""
    from core import badrows

    missing = [name for name in badrows.__all__ if not hasattr(badrows, name)]
    assert missing == []
    assert all(cls.type_name == name for name, cls in BAD_ROW_TYPES.items())
    assert {cls.schema.uri for cls in BAD_ROW_TYPES.values()} == {
        f"iglu:com.snowplowanalytics.snowplow.badrows/{name}/jsonschema/{version}"
        for name, version in [
            ("size_violation", "1-0-0"),
            ("collector_payload_format_violation", "1-0-0"),
            ("adapter_failures", "1-0-0"),
            ("tracker_protocol_violations", "1-0-1"),
            ("schema_violations", "2-0-1"),
            ("enrichment_failures", "2-0-1"),
            ("loader_parsing_error", "2-0-0"),
            ("loader_iglu_error", "2-0-1"),
            ("loader_runtime_error", "1-0-1"),
            ("recovery_error", "1-0-1"),
            ("generic_error", "1-0-0"),
        ]
    }


def test_uuid_checker_is_strict() -> None:
    """The test's own uuid format check refuses what the schema's format: uuid refuses (so the property can fail)."""
    assert is_uuid(str(uuid.uuid4()))
    assert not is_uuid("not-a-uuid")
    assert not is_date_time("2026-01-01 00:00:00")
