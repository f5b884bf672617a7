"""PII pseudonymisation: salted hashes of atomic fields and JSON paths, Snowplow's config shape."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from core.badrows import IgluErrorMessage, SchemaViolations
from core.errors import ConfigError
from core.iglu import SchemaKey
from core.raw import CollectorPayload
from enrich.enrichments.pii import PiiPseudonymiser, hasher
from enrich.enrichments.registry import build_chain
from enrich.event import EnrichedEvent
from enrich.outcome import Good, Outcome
from enrich.pii_event import PiiEvent
from enrich.pii_transformation import PARENT_EVENT, PII_TRANSFORMATION
from enrich.pipeline import enrich_payload
from tests.enrich.enrichments.events import b64, build, config, enrich_one, payload, snowplow_config
from tests.enrich.pipeline_env import ETL_TSTAMP, make_env, shared_validator

SALT = "pepper123"
SCHEMA = "iglu:com.snowplowanalytics.snowplow.enrichments/pii_enrichment_config/jsonschema/2-0-0"


def sha256(value: str) -> str:
    return hashlib.sha256((value + SALT).encode()).hexdigest()


def _params() -> dict[str, str]:
    unstruct = {
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {
            "schema": "iglu:com.acme/checkout/jsonschema/1-0-0",
            "data": {"orderId": "o-1", "total": 3, "currency": "EUR"},
        },
    }
    contexts = {
        "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0",
        "data": [
            {"schema": "iglu:com.acme/user_context/jsonschema/1-0-0", "data": {"userId": "alice@example.com"}},
            {
                "schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
                "data": {"id": "3f1e0b0a-1a2b-4c3d-8e9f-001122334455"},
            },
        ],
    }
    return {
        "e": "ue",
        "url": "https://a.com/",
        "uid": "alice",
        "ue_px": b64(json.dumps(unstruct)),
        "cx": b64(json.dumps(contexts)),
    }


def _good(chain: list[Any], *, headers: tuple[str, ...] = ()) -> Good:
    outcome = enrich_one(chain, payload(_params(), ip="81.2.69.160", headers=headers))
    assert isinstance(outcome, Good), outcome
    return outcome


def test_snowplow_config_hashes_fields_and_json_paths_with_the_salt() -> None:
    """user_id, user_ipaddress, unstruct orderId, a context's userId, a derived cookie → SHA-256(value + salt)."""
    chain = build_chain([snowplow_config("cookie_extractor_config"), snowplow_config("pii_enrichment_config")])
    e = _good(chain, headers=("Cookie: sp=abc-123",)).event
    assert e.user_id == sha256("alice")
    assert e.user_ipaddress == sha256("81.2.69.160")
    assert json.loads(e.unstruct_event or "")["data"]["data"]["orderId"] == sha256("o-1")
    contexts = json.loads(e.contexts or "")["data"]
    assert contexts[0]["data"]["userId"] == sha256("alice@example.com")
    assert contexts[1]["data"]["id"] == "3f1e0b0a-1a2b-4c3d-8e9f-001122334455"  # criterion does not match
    (cookie,) = json.loads(e.derived_contexts or "")["data"]
    assert cookie["data"] == {"name": "sp", "value": sha256("abc-123")}


def test_entities_whose_schema_does_not_match_the_criterion_are_untouched() -> None:
    """A criterion for another model leaves the unstruct event as it was."""
    pii = [
        {
            "json": {
                "field": "unstruct_event",
                "schemaCriterion": "iglu:com.acme/checkout/jsonschema/2-*-*",
                "jsonPath": "$.orderId",
            }
        }
    ]
    strategy = {"pseudonymize": {"hashFunction": "MD5", "salt": SALT}}
    e = _good([build(config(SCHEMA, {"pii": pii, "strategy": strategy}, emitEvent=False))]).event
    assert json.loads(e.unstruct_event or "")["data"]["data"]["orderId"] == "o-1"


@pytest.mark.parametrize("function", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_each_hash_function_is_the_lower_hex_of_value_plus_salt(function: str) -> None:
    """hashFunction names map to the same digest of value + salt."""
    name = function.replace("-", "").lower()
    assert hasher(function, "s")("v") == hashlib.new(name, b"vs").hexdigest()


def test_remembered_hashes_equal_fresh_ones_across_the_memo_starting_over() -> None:
    """Repeated values (answered from the memo) and values after it filled and started over hash as fresh."""
    digest = hasher("SHA-256", "pepper", memo_size=3)
    values = ["a", "b", "a", "c", "d", "a", "é", "b", "d", "e", "a", "a"]
    assert [digest(v) for v in values] == [hashlib.sha256(f"{v}pepper".encode()).hexdigest() for v in values]
    other = hasher("SHA-256", "salt2", memo_size=3)  # each configuration has its own memo
    assert other("a") == hashlib.sha256(b"asalt2").hexdigest() != digest("a")


def test_md2_is_refused_at_start_up() -> None:
    """MD2 is in Snowplow's enum but not available here: a ConfigError, not a silent other hash."""
    with pytest.raises(ConfigError, match="MD2"):
        hasher("MD2", "s")


def test_anonymous_only_acts_only_on_sp_anonymous_requests() -> None:
    """With anonymousOnly (2-0-1), fields are hashed only when the SP-Anonymous header is present."""
    schema = "iglu:com.snowplowanalytics.snowplow.enrichments/pii_enrichment_config/jsonschema/2-0-1"
    params = {
        "pii": [{"pojo": {"field": "user_id"}}],
        "strategy": {"pseudonymize": {"hashFunction": "SHA-256", "salt": SALT}},
    }
    enrichment = build(config(schema, params, emitEvent=False, anonymousOnly=True))
    assert _good([enrichment]).event.user_id == "alice"
    assert _good([enrichment], headers=("SP-Anonymous: *",)).event.user_id == sha256("alice")


def test_the_pii_transformation_event_validates_against_its_schema() -> None:
    """What emitEvent describes (original → hashed per field, the hash function) is a valid pii_transformation."""
    enrichment = build(snowplow_config("pii_enrichment_config"))
    assert isinstance(enrichment, PiiPseudonymiser)
    from enrich.enrichments.base import EnrichmentContext

    event = EnrichedEvent(user_id="alice", user_ipaddress="1.2.3.4")
    ctx = EnrichmentContext({}, payload({}), event)
    pii = enrichment.pseudonymise(event, ctx)
    request = enrichment.transformation(pii, "2b1c2f54-5d3e-4bdb-9a7a-0d3f43f6a001")
    body, parent = request.event, request.parent
    assert pii.block()["pojo"][0] == {
        "fieldName": "user_id",
        "originalValue": "alice",
        "modifiedValue": sha256("alice"),
    }
    assert SALT not in json.dumps(body)  # the salt is never published
    validator = shared_validator()
    assert validator.validate(SchemaKey.parse(PII_TRANSFORMATION), body["data"]).ok
    assert validator.validate(SchemaKey.parse(parent["schema"]), parent["data"]).ok


def _emitted(chain: list[Any], p: CollectorPayload | None = None, **env: Any) -> list[Outcome]:
    return enrich_payload(
        p or payload(_params(), ip="81.2.69.160", headers=("Cookie: sp=abc-123",)),
        make_env(enrichments=tuple(chain), **env),
        ETL_TSTAMP,
    )


def test_emit_event_yields_one_pii_transformation_event_per_pseudonymised_event() -> None:
    """emitEvent true: the good event carries a valid pii_transformation event listing every original → hash.

    Fields as Snowplow: `pii.pojo` {fieldName, originalValue, modifiedValue}, `pii.json` fieldMappings with
    jsonPath and schema, `strategy.pseudonymize.hashFunction`, a parent_event context naming the event, and
    never the salt.
    """
    chain = build_chain([snowplow_config("cookie_extractor_config"), snowplow_config("pii_enrichment_config")])
    (outcome,) = _emitted(chain)
    assert isinstance(outcome, Good), outcome
    parent, pii = outcome.event, outcome.pii
    assert isinstance(pii, PiiEvent), pii
    assert (pii.event, pii.platform, pii.app_id) == ("pii_transformation", "srv", parent.app_id)
    assert (pii.event_vendor, pii.event_name, pii.event_format, pii.event_version) == (
        "com.snowplowanalytics.snowplow",
        "pii_transformation",
        "jsonschema",
        "1-0-0",
    )
    assert pii.event_id is not None and pii.event_id != parent.event_id
    assert (pii.collector_tstamp, pii.etl_tstamp) == (parent.collector_tstamp, parent.etl_tstamp)
    assert pii.derived_tstamp == pii.true_tstamp == ETL_TSTAMP
    wrapper = json.loads(pii.unstruct_event or "")
    assert wrapper["schema"] == "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
    assert wrapper["data"]["schema"] == PII_TRANSFORMATION
    body = wrapper["data"]["data"]
    assert body["strategy"] == {"pseudonymize": {"hashFunction": "SHA-256"}}
    assert body["pii"]["pojo"] == [
        {"fieldName": "user_id", "originalValue": "alice", "modifiedValue": sha256("alice")},
        {"fieldName": "user_ipaddress", "originalValue": "81.2.69.160", "modifiedValue": sha256("81.2.69.160")},
    ]
    assert body["pii"]["json"] == [
        {
            "fieldMapping": {
                "fieldName": "unstruct_event",
                "jsonPath": "$.orderId",
                "originalValue": "o-1",
                "modifiedValue": sha256("o-1"),
                "schema": "iglu:com.acme/checkout/jsonschema/1-0-0",
            }
        },
        {
            "fieldMapping": {
                "fieldName": "contexts",
                "jsonPath": "$.userId",
                "originalValue": "alice@example.com",
                "modifiedValue": sha256("alice@example.com"),
                "schema": "iglu:com.acme/user_context/jsonschema/1-0-0",
            }
        },
        {
            "fieldMapping": {
                "fieldName": "derived_contexts",
                "jsonPath": "$.value",
                "originalValue": "abc-123",
                "modifiedValue": sha256("abc-123"),
                "schema": "iglu:org.ietf/http_cookie/jsonschema/1-0-0",
            }
        },
    ]
    assert json.loads(pii.contexts or "")["data"] == [
        {"schema": PARENT_EVENT, "data": {"parentEventId": parent.event_id}}
    ]
    assert SALT not in pii.enriched().to_tsv() and SALT not in parent.to_tsv()
    assert parent.user_id == sha256("alice")  # the parent itself is still pseudonymised as before


def test_each_event_of_a_batch_gets_its_own_pii_event_and_untouched_events_none() -> None:
    """In a POST batch each hashed event gets one pii event naming it; an event with nothing to hash gets none."""
    chain = [build(snowplow_config("pii_enrichment_config"))]
    events = [
        {
            "e": "pv",
            "p": "web",
            "tv": "js-4.10.1",
            "eid": "11111111-1111-4111-8111-111111111111",
            "uid": "alice",
            "url": "https://a.com/",
        },
        {
            "e": "pv",
            "p": "web",
            "tv": "js-4.10.1",
            "eid": "22222222-2222-4222-8222-222222222222",
            "url": "https://a.com/",
        },
        {
            "e": "pv",
            "p": "web",
            "tv": "js-4.10.1",
            "eid": "33333333-3333-4333-8333-333333333333",
            "uid": "bob",
            "url": "https://a.com/",
        },
    ]
    body = {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": events}
    p = CollectorPayload(
        vendor="com.snowplowanalytics.snowplow",
        version="tp2",
        querystring=(),
        content_type="application/json",
        body=json.dumps(body),
        collector="eventkit-test-collector",
        encoding="UTF-8",
        hostname="collector.example.com",
        timestamp=1_795_690_796_000,
        ip_address=None,
        useragent=None,
        referer_uri=None,
        headers=(),
    )
    outcomes = _emitted(chain, p)
    assert all(isinstance(o, Good) for o in outcomes), outcomes
    goods = [o for o in outcomes if isinstance(o, Good)]
    parents = []
    for good in goods:
        if good.pii is None:
            assert good.event.user_id is None
            continue
        assert isinstance(good.pii, PiiEvent)
        (parent,) = json.loads(good.pii.contexts or "")["data"]
        parents.append(parent["data"]["parentEventId"])
        (pojo,) = json.loads(good.pii.unstruct_event or "")["data"]["data"]["pii"]["pojo"]
        assert pojo["modifiedValue"] == good.event.user_id
    assert parents == [events[0]["eid"], events[2]["eid"]]
    assert len({g.pii.event_id for g in goods if isinstance(g.pii, PiiEvent)}) == 2


def test_emit_event_false_emits_nothing() -> None:
    """emitEvent false: fields are hashed but no pii_transformation event is emitted."""
    params = {
        "pii": [{"pojo": {"field": "user_id"}}],
        "strategy": {"pseudonymize": {"hashFunction": "SHA-256", "salt": SALT}},
    }
    (outcome,) = _emitted([build(config(SCHEMA, params, emitEvent=False))])
    assert isinstance(outcome, Good) and outcome.pii is None
    assert outcome.event.user_id == sha256("alice")


def test_an_invalid_pii_event_becomes_its_own_schema_violation_and_spares_its_parent() -> None:
    """Validated like any event: a pii event breaking an atomic length limit is a schema_violations bad row."""
    chain = [build(snowplow_config("pii_enrichment_config"))]
    # `event` limited to 10 characters: the parent's "unstruct" fits, "pii_transformation" does not.
    (outcome,) = _emitted(chain, atomic_limits={"event": 10})
    assert isinstance(outcome, Good), outcome
    assert isinstance(outcome.pii, SchemaViolations), outcome.pii
    (message,) = outcome.pii.messages
    assert isinstance(message, IgluErrorMessage)
    assert message.schema_key.uri == "iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0"
    assert [r["path"] for r in message.error["dataReports"]] == ["event"]
    assert outcome.pii.payload.enriched["event"] == "pii_transformation"
