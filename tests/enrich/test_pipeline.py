"""The per-event pipeline: phase order and bad-row choice, enrichment plug-ins, conservation, outages, raw bytes."""

from __future__ import annotations

import base64
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.badrows import (
    AdapterFailures,
    CollectorPayloadFormatViolation,
    EnrichmentErrorMessage,
    EnrichmentFailureMessage,
    EnrichmentFailures,
    EnrichmentInformation,
    InputDataMessage,
    SchemaViolations,
    TrackerProtocolViolations,
)
from core.errors import ConfigError, QueueUnavailable, RegistryUnavailable
from core.iglu import SchemaKey
from core.raw import CollectorPayload
from enrich.enrichments.base import EnrichmentContext
from enrich.environment import Environment, FingerprintConfig
from enrich.event import EnrichedEvent
from enrich.outcome import Good, Outcome
from enrich.pipeline import ATOMIC_SCHEMA, enrich_payload, enrich_record
from registry.resolver import Resolver
from registry.validation import Validator
from tests.enrich.pipeline_env import ETL_TSTAMP, REPO_ROOT, make_env, shared_validator

SP = "com.snowplowanalytics.snowplow"
PD = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
UE = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CONFIG = SchemaKey.parse("iglu:com.acme/test_enrichment_config/jsonschema/1-0-0")
USER = "iglu:com.acme/user_context/jsonschema/1-0-0"


def get(*params: tuple[str, str], **changes: Any) -> CollectorPayload:
    fields: dict[str, Any] = {
        "vendor": SP,
        "version": "tp1",
        "querystring": params,
        "content_type": None,
        "body": None,
        "collector": "eventkit-test-collector",
        "encoding": "UTF-8",
        "hostname": "c.example",
        "timestamp": 1_795_690_798_000,
        "ip_address": "203.0.113.9",
        "useragent": "UA/1",
        "referer_uri": None,
        "headers": (),
        "network_user_id": "7a4c3b1e-1f7e-4e38-9a43-0f5f0c7d2f11",
    }
    fields.update(changes)
    return CollectorPayload(**fields)


def post(*events: dict[str, str], qs: tuple[tuple[str, str], ...] = ()) -> CollectorPayload:
    body = json.dumps({"schema": PD, "data": list(events)})
    return get(*qs, version="tp2", content_type="application/json", body=body)


PV = (("e", "pv"), ("p", "web"), ("tv", "t"), ("url", "https://shop.example.com/p?utm_source=x"))


def good(outcomes: list[Outcome]) -> Good:
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], Good), outcomes[0]
    return outcomes[0]


@dataclass
class Recording:
    """A test enrichment: sets a field, adds contexts, reports failures or raises, as told."""

    identifier: str = "recording"
    config_schema: SchemaKey = CONFIG
    sets: dict[str, Any] = field(default_factory=dict)
    contexts: list[dict[str, Any]] = field(default_factory=list)
    failures: list[EnrichmentFailureMessage] = field(default_factory=list)
    raises: Exception | None = None
    seen: list[dict[str, Any]] = field(default_factory=list)

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        self.seen.append(
            {
                "params": dict(ctx.params),
                "page_query": list(ctx.page_query),
                "ua_header": ctx.header("user-agent"),
                "event_vendor": event.event_vendor,
                "app_id": event.app_id,
                "tracker_event_id": ctx.tracker_event_id,
                "is_the_event_id": ctx.tracker_event_id is event.event_id,
            }
        )
        for name, value in self.sets.items():
            setattr(event, name, value)
        for sdj in self.contexts:
            ctx.add_derived_context(sdj)
        if self.raises is not None:
            raise self.raises
        return self.failures or None


def test_a_good_event_has_collector_and_environment_values() -> None:
    """Phase 1 fills event_id, v_collector, v_etl, etl/collector timestamps, IP, UA and network_userid."""
    event = good(enrich_payload(get(*PV, headers=("User-Agent: UA/1",)), make_env(), ETL_TSTAMP)).event
    assert event.event_id == "00000000-0000-4000-8000-000000000001"
    assert (event.v_collector, event.v_etl) == ("eventkit-test-collector", "eventkit-test")
    assert (event.etl_tstamp, event.collector_tstamp, event.derived_tstamp) == (
        ETL_TSTAMP,
        1_795_690_798_000,
        1_795_690_798_000,
    )
    assert (event.user_ipaddress, event.useragent) == ("203.0.113.9", "UA/1")
    assert event.network_userid == "7a4c3b1e-1f7e-4e38-9a43-0f5f0c7d2f11"
    assert event.event_fingerprint is not None and len(event.event_fingerprint) == 32
    assert event.contexts is None and event.derived_contexts is None


def test_the_etl_timestamp_is_shared_and_defaults_to_the_clock() -> None:
    """Every event of a payload gets the same etl_tstamp; without one the environment's clock is read once."""
    ticks = iter(range(1_000, 2_000))
    env = make_env(clock=lambda: next(ticks))
    outcomes = enrich_payload(post(dict(PV), dict(PV), dict(PV)), env)
    assert {o.event.etl_tstamp for o in outcomes if isinstance(o, Good)} == {1_000}


def test_phase1_errors_make_one_schema_violation_with_every_message() -> None:
    """Atomic parse errors and entity errors are reported together, atomic ones first, with the raw event kept."""
    ue = json.dumps({"schema": UE, "data": {"schema": "iglu:com.acme/absent/jsonschema/1-0-0", "data": {}}})
    params = (("e", "ue"), ("p", "web"), ("tv", "t"), ("dtm", "x"), ("eid", "nope"), ("ue_pr", ue))
    (row,) = enrich_payload(get(*params), make_env(), ETL_TSTAMP)
    assert isinstance(row, SchemaViolations)
    atomic, resolution = row.messages
    assert atomic.to_json() == {
        "schemaKey": ATOMIC_SCHEMA.uri,
        "error": {
            "error": "ValidationError",
            "dataReports": [
                {
                    "message": "Not in the expected format: ms since epoch",
                    "path": "dtm",
                    "keyword": "atomic_field_parse_error",
                    "targets": [],
                },
                {"message": "Not a valid UUID", "path": "eid", "keyword": "atomic_field_parse_error", "targets": []},
            ],
        },
    }
    assert resolution.to_json()["error"]["error"] == "ResolutionError"
    assert row.payload.raw.parameters == params
    assert row.payload.enriched["event"] == "unstruct"
    assert row.payload.enriched["event_id"] == "00000000-0000-4000-8000-000000000001"


def test_phase1_failure_skips_the_enrichments() -> None:
    """An event that failed validation never reaches the enrichments."""
    recording = Recording()
    (row,) = enrich_payload(get(("e", "pv"), ("p", "nope")), make_env(enrichments=[recording]), ETL_TSTAMP)
    assert isinstance(row, SchemaViolations)
    assert recording.seen == []


def test_the_context_names_the_tracker_event_id_only_when_the_tracker_sent_one() -> None:
    """An eid phase 1 accepted reaches the enrichments as tracker_event_id (canonical: lower case), the very event id;
    an id enrich made up is not the tracker's."""
    recording = Recording()
    env = make_env(enrichments=[recording])
    good(enrich_payload(get(*PV, ("eid", "2B1C2F54-5D3E-4BDB-9A7A-0D3F43F6A001")), env, ETL_TSTAMP))
    good(enrich_payload(get(*PV), env, ETL_TSTAMP))
    (sent, made) = recording.seen
    assert sent["tracker_event_id"] == "2b1c2f54-5d3e-4bdb-9a7a-0d3f43f6a001" and sent["is_the_event_id"]
    assert made["tracker_event_id"] is None


def test_enrichments_run_in_order_and_see_context() -> None:
    """Enrichments run in the given order after the built-in derivations, with params, page query and headers."""
    first = Recording(identifier="first", sets={"app_id": "set-by-first"})
    second = Recording(identifier="second")
    payload = get(*PV, headers=("User-Agent: UA/header",))
    event = good(enrich_payload(payload, make_env(enrichments=[first, second]), ETL_TSTAMP)).event
    assert event.app_id == "set-by-first"
    (seen,) = second.seen
    assert seen["app_id"] == "set-by-first"
    assert seen["event_vendor"] == SP
    assert seen["page_query"] == [("utm_source", "x")]
    assert seen["ua_header"] == "UA/header"
    assert seen["params"]["e"] == "pv"


def test_enrichment_failures_are_collected_and_the_others_still_run() -> None:
    """A returned failure and a raised exception both become enrichment_failures messages; later ones still run."""
    reported = EnrichmentFailureMessage(
        EnrichmentInformation(CONFIG, "reporter"), InputDataMessage("page_url", "x", "something about x")
    )
    reporter = Recording(identifier="reporter", failures=[reported])
    crasher = Recording(identifier="crasher", raises=KeyError("boom"))
    last = Recording(identifier="last")
    (row,) = enrich_payload(get(*PV), make_env(enrichments=[reporter, crasher, last]), ETL_TSTAMP)
    assert isinstance(row, EnrichmentFailures)
    assert row.messages == (
        reported,
        EnrichmentFailureMessage(EnrichmentInformation(CONFIG, "crasher"), EnrichmentErrorMessage("KeyError: 'boom'")),
    )
    assert len(last.seen) == 1
    assert row.payload.enriched["event_fingerprint"] is not None


def test_transient_errors_from_enrichments_propagate() -> None:
    """An infrastructure error inside an enrichment is retried by the worker, never turned into a bad row."""
    with pytest.raises(QueueUnavailable):
        enrich_payload(get(*PV), make_env(enrichments=[Recording(raises=QueueUnavailable("down"))]), ETL_TSTAMP)


def test_derived_contexts_are_validated_in_phase3() -> None:
    """Valid derived contexts are kept in derived_contexts/1-0-1; an invalid one makes a schema violation."""
    valid = {"schema": USER, "data": {"userId": "u"}}
    event = good(enrich_payload(get(*PV), make_env(enrichments=[Recording(contexts=[valid])]), ETL_TSTAMP)).event
    assert json.loads(event.derived_contexts or "") == {
        "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
        "data": [valid],
    }
    invalid = {"schema": USER, "data": {"plan": "free"}}
    (row,) = enrich_payload(
        get(*PV), make_env(enrichments=[Recording(contexts=[valid, invalid, {"x": 1}])]), ETL_TSTAMP
    )
    assert isinstance(row, SchemaViolations)
    assert [m.to_json().get("schemaKey", "not-iglu") for m in row.messages] == [USER, "not-iglu"]


def test_enrichment_failures_take_precedence_over_phase3() -> None:
    """With both an enrichment failure and an over-long field, the bad row is enrichment_failures."""
    failing = Recording(sets={"geo_country": "GBR"}, raises=ValueError("x"))
    (row,) = enrich_payload(get(*PV), make_env(enrichments=[failing]), ETL_TSTAMP)
    assert isinstance(row, EnrichmentFailures)


def test_length_limits_apply_after_enrichments_and_can_be_overridden() -> None:
    """A field an enrichment made too long is a schema violation; atomic_limits tighten or relax limits."""
    too_long = Recording(sets={"geo_country": "GBR"})
    (row,) = enrich_payload(get(*PV), make_env(enrichments=[too_long]), ETL_TSTAMP)
    assert isinstance(row, SchemaViolations)
    report = row.messages[0].to_json()["error"]["dataReports"][0]
    assert (report["path"], report["keyword"]) == ("geo_country", "atomic_field_length_exceeded")
    good(enrich_payload(get(*PV), make_env(enrichments=[too_long], atomic_limits={"geo_country": 3}), ETL_TSTAMP))
    tight = make_env(atomic_limits={"v_tracker": 1})
    good(enrich_payload(get(*PV), tight, ETL_TSTAMP))  # "t" fits
    assert isinstance(enrich_payload(get(*PV, ("tv", "tt")), tight, ETL_TSTAMP)[0], SchemaViolations)
    with pytest.raises(ConfigError, match="not_a_field"):
        make_env(atomic_limits={"not_a_field": 3})
    with pytest.raises(ConfigError):
        make_env(atomic_limits={"app_id": 0})


def test_fingerprint_configuration() -> None:
    """The fingerprint can be switched off or use another hash and exclusions."""
    assert good(enrich_payload(get(*PV), make_env(fingerprint=None), ETL_TSTAMP)).event.event_fingerprint is None
    sha = good(enrich_payload(get(*PV), make_env(fingerprint=FingerprintConfig("SHA1")), ETL_TSTAMP))
    assert len(sha.event.event_fingerprint or "") == 40
    with pytest.raises(ConfigError):
        FingerprintConfig("CRC32")  # type: ignore[arg-type]


def test_empty_collector_name_is_an_enrichment_failure() -> None:
    """v_collector must be set (by the collector or cv)."""
    (row,) = enrich_payload(get(*PV, collector=""), make_env(), ETL_TSTAMP)
    assert isinstance(row, EnrichmentFailures)
    assert row.messages[0].message == InputDataMessage("v_collector", None, "should be set")
    good(enrich_payload(get(*PV, ("cv", "custom-1"), collector=""), make_env(), ETL_TSTAMP))


def test_adapter_refusals_choose_the_row_type_by_adapter() -> None:
    """tp2 and r/tp2 refusals are tracker_protocol_violations; tp1, webhooks and unknown paths adapter_failures."""
    env = make_env()
    assert isinstance(enrich_payload(get(), env, ETL_TSTAMP)[0], AdapterFailures)
    assert isinstance(enrich_payload(get(version="tp2"), env, ETL_TSTAMP)[0], TrackerProtocolViolations)
    assert isinstance(enrich_payload(get(vendor="r", version="tp2"), env, ETL_TSTAMP)[0], TrackerProtocolViolations)
    assert isinstance(enrich_payload(get(vendor="x", version="tp2"), env, ETL_TSTAMP)[0], AdapterFailures)


def test_one_bad_event_leaves_its_neighbours_good() -> None:
    """In a batch, an invalid event becomes its own bad row carrying only its parameters; the rest are good."""
    bad = dict(PV) | {"eid": "not-a-uuid"}
    outcomes = enrich_payload(post(dict(PV), bad, dict(PV)), make_env(), ETL_TSTAMP)
    assert [type(o).__name__ for o in outcomes] == ["Good", "SchemaViolations", "Good"]
    row = outcomes[1]
    assert isinstance(row, SchemaViolations)
    assert dict(row.payload.raw.parameters) == bad
    replay = row.payload.raw.to_collector_payload()
    assert [type(o).__name__ for o in enrich_payload(replay, make_env(), ETL_TSTAMP)] == ["SchemaViolations"]


event_params = st.fixed_dictionaries(
    {"e": st.sampled_from(["pv", "se", "zz"]), "p": st.sampled_from(["web", "mob", "nope"]), "tv": st.just("t")},
    optional={"eid": st.uuids().map(str) | st.just("bad"), "vid": st.sampled_from(["1", "x"]), "cv": st.just("c")},
)


@settings(max_examples=50, deadline=None)
@given(st.lists(event_params, min_size=1, max_size=8))
def test_conservation_every_event_ends_as_exactly_one_outcome(events: list[dict[str, str]]) -> None:
    """A readable POST of N events yields exactly N outcomes, in order, whatever each event's fate."""
    outcomes = enrich_payload(post(*events), make_env(), ETL_TSTAMP)
    assert len(outcomes) == len(events)
    for outcome, params in zip(outcomes, events, strict=True):
        if isinstance(outcome, Good):
            assert dict(outcome.raw.parameters) == params
        elif isinstance(outcome, TrackerProtocolViolations):
            assert json.loads(outcome.payload.body or "")["data"] == [params]
        else:
            assert isinstance(outcome, SchemaViolations | EnrichmentFailures)
            assert dict(outcome.payload.raw.parameters) == params


def test_bytes_that_are_not_a_raw_record_are_a_format_violation() -> None:
    """Unreadable queue bytes become one collector_payload_format_violation carrying them in base64."""
    raw = b"\xff\xfe not json"
    (row,) = enrich_record(raw, make_env(), ETL_TSTAMP)
    assert isinstance(row, CollectorPayloadFormatViolation)
    assert row.loader == "ndjson"
    assert base64.b64decode(row.payload) == raw
    assert row.message["error"].startswith("raw record is not JSON")
    (wrong,) = enrich_record(b'{"schema": "iglu:x/y/jsonschema/1-0-0", "data": {}}', make_env(), ETL_TSTAMP)
    assert isinstance(wrong, CollectorPayloadFormatViolation)


def test_a_raw_record_enriches_like_its_payload() -> None:
    """enrich_record decodes a raw record and enriches it."""
    assert isinstance(enrich_record(get(*PV).encode(), make_env(), ETL_TSTAMP)[0], Good)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_registry_outage_raises_instead_of_making_bad_rows() -> None:
    """When a repository cannot be reached, enrich raises RegistryUnavailable so the message is retried.

    The outage is real: an HTTP repository on a closed local port, after the local schemas/ folder.
    """
    resolver = Resolver.from_locations(
        [str(REPO_ROOT / "schemas"), f"http://127.0.0.1:{_closed_port()}"], cache_ttl=None
    )
    env = Environment(validator=Validator(resolver), clock=lambda: ETL_TSTAMP)
    ue = json.dumps({"schema": UE, "data": {"schema": "iglu:com.acme/checkout/jsonschema/1-0-0", "data": {}}})
    with pytest.raises(RegistryUnavailable):
        enrich_payload(get(("e", "ue"), ("p", "web"), ("ue_pr", ue)), env)
    assert isinstance(enrich_payload(get(*PV), env)[0], Good)  # needs no remote schema


class _Stalling:
    """A real validator whose first `stalls` verdicts each first burn 30 ms of the thread's CPU, as a stall
    charged to the thread (the hypervisor taking the core, a page-fault storm) would: no verdict is faked."""

    def __init__(self, stalls: int) -> None:
        self.inner = shared_validator()
        self.stalls = stalls

    @property
    def resolver(self) -> Resolver:
        return self.inner.resolver

    def validate(self, key: SchemaKey, data: Any) -> Any:
        if self.stalls > 0:
            self.stalls -= 1
            until = time.thread_time() + 0.03
            while time.thread_time() < until:
                pass
        return self.inner.validate(key, data)


def test_an_event_out_of_budget_once_is_tried_again_before_it_is_a_bad_row() -> None:
    """One stall past the 20 ms budget: the event is confirmed with a fresh budget and is good. Stalls on every
    try: a schema_violations row naming the budget, after exactly two tries."""
    ue = json.dumps({"schema": UE, "data": {"schema": USER, "data": {"userId": "u"}}})
    params = (("e", "ue"), ("ue_pr", ue), *PV[1:])
    once = _Stalling(stalls=1)
    good(enrich_payload(get(*params), make_env(validator=once, validation_budget_ms=20), ETL_TSTAMP))
    assert once.stalls == 0

    always = _Stalling(stalls=10)
    (row,) = enrich_payload(get(*params), make_env(validator=always, validation_budget_ms=20), ETL_TSTAMP)
    assert isinstance(row, SchemaViolations), row
    assert "time budget of 20 ms" in row.encode().decode()
    assert always.stalls == 8  # the first try and its confirmation, one verdict each
