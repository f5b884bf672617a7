"""PII pseudonymisation: salted hashes of atomic fields and JSON paths, Snowplow's config shape."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from core.errors import ConfigError
from core.iglu import SchemaKey
from enrich.enrichments.pii import PII_TRANSFORMATION, PiiPseudonymiser, hasher
from enrich.enrichments.registry import build_chain
from enrich.outcome import Good
from tests.enrich.enrichments.events import b64, build, config, enrich_one, payload, snowplow_config
from tests.enrich.pipeline_env import shared_validator

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
    from enrich.event import EnrichedEvent

    event = EnrichedEvent(user_id="alice", user_ipaddress="1.2.3.4")
    ctx = EnrichmentContext({}, payload({}), event)
    pii = enrichment.pseudonymise(event, ctx)
    body, parent = enrichment.transformation(pii, "2b1c2f54-5d3e-4bdb-9a7a-0d3f43f6a001")
    assert pii["pojo"][0] == {"fieldName": "user_id", "originalValue": "alice", "modifiedValue": sha256("alice")}
    assert SALT not in json.dumps(body)  # the salt is never published
    validator = shared_validator()
    assert validator.validate(SchemaKey.parse(PII_TRANSFORMATION), body["data"]).ok
    assert validator.validate(SchemaKey.parse(parent["schema"]), parent["data"]).ok
