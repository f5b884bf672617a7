"""The pii_transformation event: its entity proven once per shape, and the same verdicts as validating each one."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.atomic import ATOMIC_FIELDS, FIELD_NAMES, STRING_LIMITS
from core.badrows import IgluErrorMessage, SchemaViolations
from enrich.derive import length_reports
from enrich.enrichments.pii import PiiPseudonymiser
from enrich.enrichments.proofs import Shape
from enrich.entities import contexts_column, unstruct_column
from enrich.environment import Environment
from enrich.event import EnrichedEvent
from enrich.outcome import Good
from enrich.outputs.parquet import decode_parquet, encode_parquet
from enrich.pii_event import LIMITED_FIELDS, PII_COLUMNS, PII_FIELDS, PiiEvent, pii_event
from enrich.pii_transformation import PARENT_EVENT, PII_TRANSFORMATION, PiiChanges, PiiTransformation, is_canonical_uuid
from enrich.pipeline import enrich_payload
from registry.json_formats import is_uuid
from tests.enrich.enrichments.events import CountingValidator, build, payload, snowplow_config
from tests.enrich.pipeline_env import ETL_TSTAMP, REPO_ROOT, make_env

PARENT_ID = "2b1c2f54-5d3e-4bdb-9a7a-0d3f43f6a001"


def _chain() -> list[Any]:
    return [build(snowplow_config("pii_enrichment_config"))]


def _pii(chain: list[Any], env: Environment, uid: str) -> PiiEvent | SchemaViolations | None:
    (outcome,) = enrich_payload(payload({"uid": uid}, ip="81.2.69.160"), env, ETL_TSTAMP)
    assert isinstance(outcome, Good), outcome
    return outcome.pii


def test_one_shape_is_validated_once_per_validator() -> None:
    """Events whose pii entities differ only in original values share one verdict; another validator proves anew."""
    chain = _chain()
    counting = CountingValidator()
    env = make_env(enrichments=tuple(chain), validator=counting)
    for uid in ("alice", "bob", "a much longer user id than the others"):
        assert isinstance(_pii(chain, env, uid), PiiEvent)
    assert (counting.calls["pii_transformation"], counting.calls["parent_event"]) == (1, 1)

    other = CountingValidator()
    assert isinstance(_pii(chain, make_env(enrichments=tuple(chain), validator=other), "carol"), PiiEvent)
    assert other.calls["pii_transformation"] == 1


def test_another_shape_is_validated_on_its_own() -> None:
    """An event hashing another set of fields (here: no user_id) is a new shape, validated once."""
    chain = _chain()
    counting = CountingValidator()
    env = make_env(enrichments=tuple(chain), validator=counting)
    _pii(chain, env, "alice")
    (outcome,) = enrich_payload(payload({}, ip="81.2.69.160"), env, ETL_TSTAMP)  # only user_ipaddress hashed
    assert isinstance(outcome, Good) and isinstance(outcome.pii, PiiEvent)
    _pii(chain, env, "bob")
    assert counting.calls["pii_transformation"] == 2


_STRATEGY = {"pseudonymize": {"hashFunction": "SHA-256"}}


def _changes(field_name: str = "user_id", original: str = "u") -> PiiChanges:
    changes = PiiChanges()
    changes.fields.append((field_name, original, "0" * 64))
    return changes


def _request(field_name: str, original: str, proofs: dict[Any, Any]) -> PiiTransformation:
    return PiiTransformation(_changes(field_name, original), _STRATEGY, PARENT_ID, Shape(((field_name,), ()), proofs))


def _parent() -> EnrichedEvent:
    return EnrichedEvent(app_id="shop", v_etl="eventkit-test", collector_tstamp=ETL_TSTAMP, etl_tstamp=ETL_TSTAMP,
                         event_id=PARENT_ID)  # fmt: skip


def test_a_rejected_shape_is_never_proven_and_reported_every_time() -> None:
    """An entity its schema rejects (a field name outside the enum) is validated, and reported, each time."""
    counting = CountingValidator()
    env = make_env(validator=counting)
    proofs: dict[Any, Any] = {}
    for original in ("x", "y"):
        outcome = pii_event(_parent(), _request("app_id", original, proofs), env, ETL_TSTAMP, (payload({}), {}))
        assert isinstance(outcome, SchemaViolations), outcome
        (message,) = outcome.messages
        assert isinstance(message, IgluErrorMessage) and message.schema_key.uri == PII_TRANSFORMATION
    assert counting.calls["pii_transformation"] == 2 and proofs == {}


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=300).filter(lambda s: s.strip() and "\x00" not in s))
def test_a_proven_shape_gives_what_validating_gives(original: str) -> None:
    """For any original value, the event built under a proof equals the one built by validating its entity."""
    proven: dict[Any, Any] = {}
    env = make_env()
    pii_event(_parent(), _request("user_id", "seed", proven), env, ETL_TSTAMP, (payload({}), {}))  # proves it
    assert len(proven) == 1
    with_proof = pii_event(_parent(), _request("user_id", original, proven), make_env(), ETL_TSTAMP, (payload({}), {}))
    request = _request("user_id", original, {})
    plain = PiiTransformation.of_entities(request.event, request.parent)  # no shape: validated
    validated = pii_event(_parent(), plain, make_env(), ETL_TSTAMP, (payload({}), {}))
    assert isinstance(with_proof, PiiEvent) and isinstance(validated, PiiEvent)
    assert with_proof.enriched().to_tsv() == validated.enriched().to_tsv()


def _subschemas(node: Any, name: str) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = (
            [node["properties"][name]]
            if isinstance(node.get("properties"), dict) and name in node["properties"]
            else []
        )
        return found + [s for v in node.values() for s in _subschemas(v, name)]
    if isinstance(node, list):
        return [s for v in node for s in _subschemas(v, name)]
    return []


def test_the_schema_constrains_the_values_a_shape_leaves_out_by_type_and_length_alone() -> None:
    """What the shape omits (originals: any string; hashes: at most 128 hex digits) cannot change the verdict."""
    path = REPO_ROOT / "schemas" / "com.snowplowanalytics.snowplow" / "pii_transformation" / "jsonschema" / "1-0-0"
    schema = json.loads(path.read_text())
    originals, hashes = _subschemas(schema, "originalValue"), _subschemas(schema, "modifiedValue")
    assert len(originals) == len(hashes) == 2
    assert all(set(s) - {"description"} == {"type"} and s["type"] == "string" for s in originals)
    assert all(set(s) - {"description"} == {"type", "maxLength"} and s["type"] == "string" for s in hashes)
    assert min(s["maxLength"] for s in hashes) >= 128  # SHA-512, the longest hash offered, has 128 hex digits


def test_the_pii_event_lengths_are_checked_on_every_field_it_sets() -> None:
    """With every atomic field limited to one character, the pii event is refused naming each field it sets."""
    good = pii_event(_parent(), _request("user_id", "u", {}), make_env(), ETL_TSTAMP, (payload({}), {}))
    assert isinstance(good, PiiEvent)
    tiny = make_env(atomic_limits=dict.fromkeys(STRING_LIMITS, 1))
    bad = pii_event(_parent(), _request("user_id", "u", {}), tiny, ETL_TSTAMP, (payload({}), {}))
    assert isinstance(bad, SchemaViolations)
    message = bad.messages[0]
    assert isinstance(message, IgluErrorMessage)
    expected = length_reports(good.enriched(), tiny.length_limits)
    assert len(expected) >= 8 and message.error["dataReports"] == expected


def test_every_limited_field_a_pii_event_sets_is_one_its_length_check_covers() -> None:
    """The lengths that passed are remembered by LIMITED_FIELDS alone: a pii event sets no other limited field."""
    chain = _chain()
    (outcome,) = enrich_payload(
        payload({"uid": "alice", "aid": "shop"}, ip="81.2.69.160"), make_env(enrichments=tuple(chain)), ETL_TSTAMP
    )
    assert isinstance(outcome, Good) and isinstance(outcome.pii, PiiEvent)
    limited = {
        name for name, value in outcome.pii.enriched().to_dict().items() if value is not None and name in STRING_LIMITS
    }
    assert limited <= set(LIMITED_FIELDS) and {"app_id", "event_id"} <= limited


def test_lengths_that_passed_do_not_excuse_longer_ones() -> None:
    """After a short app_id passed, a longer one under the same limits is still refused."""
    env = make_env(atomic_limits={"app_id": 8})
    short, long = _parent(), _parent()
    long.app_id = "a-much-longer-app"
    assert isinstance(pii_event(short, _request("user_id", "u", {}), env, ETL_TSTAMP, (payload({}), {})), PiiEvent)
    refused = pii_event(long, _request("user_id", "u", {}), env, ETL_TSTAMP, (payload({}), {}))
    assert isinstance(refused, SchemaViolations)
    (message,) = refused.messages
    assert isinstance(message, IgluErrorMessage) and [r["path"] for r in message.error["dataReports"]] == ["app_id"]


def test_a_parent_id_that_is_not_a_uuid_is_validated_and_refused() -> None:
    """Only a UUID parent id has the proven shape; any other id is validated (and parent_event refuses it)."""
    enrichment = build(snowplow_config("pii_enrichment_config"))
    assert isinstance(enrichment, PiiPseudonymiser)
    assert enrichment.transformation(_changes(), PARENT_ID).parent_shape is not None
    request = enrichment.transformation(_changes(), "not-a-uuid")
    assert request.parent_shape is None
    refused = pii_event(_parent(), request, make_env(), ETL_TSTAMP, (payload({}), {}))
    assert isinstance(refused, SchemaViolations)
    (message,) = refused.messages
    assert isinstance(message, IgluErrorMessage) and message.schema_key.name == "parent_event"


_BUILT = build(snowplow_config("pii_enrichment_config"))
assert isinstance(_BUILT, PiiPseudonymiser)
_ENRICHMENT: PiiPseudonymiser = _BUILT


@given(st.from_regex(r"[0-9a-fA-FgG]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4,5}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\n?"))
def test_what_the_parent_shape_takes_for_a_uuid_the_schema_format_accepts(text: str) -> None:
    """An id the PII enrichment proves as a UUID is one the validator's `uuid` format accepts (never more)."""
    if _ENRICHMENT.transformation(PiiChanges(), text).parent_shape is not None:
        assert is_uuid(text)


@given(
    st.from_regex(
        r"[0-9a-fA-FgG\-]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F\-]{4,5}-[0-9a-fA-F]{4}-[0-9a-fA-F٣]{12}\n?", fullmatch=True
    )
    | st.text(alphabet="0123456789abcdefABCDEF-g ", min_size=34, max_size=38)
)
def test_the_fast_uuid_check_accepts_exactly_what_the_uuid_format_accepts(text: str) -> None:
    assert is_canonical_uuid(text) == is_uuid(text)


@given(st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper()) | st.text(max_size=40))
def test_the_parent_contexts_column_is_the_json_contexts_column_gives(parent_id: str) -> None:
    """The text put around a UUID parent id is what serialising the context gives; other ids are serialised."""
    event = pii_event(
        _parent(), _ENRICHMENT.transformation(PiiChanges(), parent_id), make_env(), ETL_TSTAMP, (payload({}), {})
    )
    if isinstance(event, PiiEvent):
        context = {"schema": PARENT_EVENT, "data": {"parentEventId": parent_id}}
        assert event.contexts == contexts_column([context])


@given(st.text(max_size=40) | st.text(alphabet='a"\\\n\x7f\u2028é\ud800', max_size=8) | st.uuids().map(str))
@example('id"1')
@example("id\\1")
@example("id\n1")
def test_the_parent_contexts_text_is_what_serialising_gives_for_any_id(parent_id: str) -> None:
    """Whatever the id (quotes, backslashes, control or non-ASCII characters), the contexts column of an accepted
    parent_event context is exactly the JSON contexts_column writes."""
    context = {"schema": PARENT_EVENT, "data": {"parentEventId": parent_id}}
    request = PiiTransformation(PiiChanges(), _STRATEGY, parent_id)
    assert request.parent == context
    assert request.contexts_text() == contexts_column([context])
    assert PiiTransformation.of_entities({}, context).contexts_text() == contexts_column([context])


def test_parent_event_asks_only_for_a_uuid() -> None:
    """parent_event/1-0-0: one required property, a string of format uuid; nothing else can be refused."""
    path = REPO_ROOT / "schemas" / "com.snowplowanalytics.snowplow" / "parent_event" / "jsonschema" / "1-0-0"
    schema = json.loads(path.read_text())
    assert schema["properties"] == {"parentEventId": {"type": "string", "format": "uuid"}}
    assert schema["required"] == ["parentEventId"] and schema["additionalProperties"] is False


_ANY_VALUE = {"str": "x", "json": "{}", "int": 1, "dec": Decimal(1), "float": 1.0, "bool": True, "ts": ETL_TSTAMP}


def test_a_pii_event_sets_only_the_fields_its_stream_writes() -> None:
    """Whatever its parent holds, and with a superseded schema (derived_contexts), a pii event sets only PII_FIELDS:
    the pii stream's Parquet files write every other column as nulls without reading it."""
    parent = EnrichedEvent(**{f.name: _ANY_VALUE[f.kind] for f in ATOMIC_FIELDS})
    parent.event_id = PARENT_ID
    superseded = PiiTransformation.of_entities(  # com.acme/search 1-0-0 is superseded by 1-0-1 in the test registry
        {"schema": "iglu:com.acme/search/jsonschema/1-0-0", "data": {"terms": ["a"], "filters": {}}},
        _request("user_id", "u", {}).parent,
    )
    for request in (_request("user_id", "u", {}), superseded):
        event = pii_event(parent, request, make_env(), ETL_TSTAMP, (payload({}), {}))
        assert isinstance(event, PiiEvent)
        assert {name for name, value in event.enriched().to_dict().items() if value is not None} <= PII_FIELDS
    assert (
        isinstance(event, PiiEvent) and event.derived_contexts is not None
    )  # the superseded case reached the last field a pii event sets


def test_a_pii_event_has_exactly_the_pii_columns_and_reads_as_the_full_event() -> None:
    """PiiEvent's attributes are PII_COLUMNS (every field a pii event can set, in column order); enriched() is the
    same event with all other fields None, and the lake writer reads the same values from either."""
    assert set(PII_COLUMNS) == PII_FIELDS
    assert list(PII_COLUMNS) == [name for name in FIELD_NAMES if name in PII_FIELDS]
    event = pii_event(_parent(), _request("user_id", "u", {}), make_env(), ETL_TSTAMP, (payload({}), {}))
    assert isinstance(event, PiiEvent)
    full = event.enriched()
    assert {name: getattr(event, name) for name in PII_COLUMNS} == {
        name: value for name, value in full.to_dict().items() if name in PII_FIELDS
    }
    assert all(value is None for name, value in full.to_dict().items() if name not in PII_FIELDS)
    for name in set(FIELD_NAMES) - PII_FIELDS:
        with pytest.raises(AttributeError):
            getattr(event, name)
    again = pii_event(_parent(), _request("user_id", "u", {}), make_env(), ETL_TSTAMP, (payload({}), {}))
    other = pii_event(_parent(), _request("user_id", "v", {}), make_env(), ETL_TSTAMP, (payload({}), {}))
    assert event == again and event != other  # compared by value (make_env's ids are fixed)
    table = decode_parquet(encode_parquet([event], columns=PII_COLUMNS))
    assert table.schema.names == list(PII_COLUMNS)
    assert table.to_pylist()[0]["unstruct_event"] == full.unstruct_event
    assert table.to_pylist()[0]["event_id"] == full.event_id


_TEXT = st.text(max_size=20) | st.text(alphabet='a"\\\n\x7f\u2028é\ud800', max_size=6)
_FIELD = st.tuples(st.sampled_from(["user_id", "user_ipaddress", 'we"ird']), _TEXT, _TEXT)
_SCHEMAS = ["iglu:org.ietf/http_cookie/jsonschema/1-0-0", 'iglu:x/"y/jsonschema/1-0-0']
_PATH = st.tuples(st.sampled_from(["contexts", "derived_contexts"]), st.sampled_from(["$.value", "$['a\"b']"]),
                  _TEXT, _TEXT, st.sampled_from(_SCHEMAS))  # fmt: skip


def _plain(values: list[str]) -> bool:
    return all(c.isascii() and c >= " " and c not in '"\\' for v in values for c in v)


@settings(max_examples=200)
@given(st.lists(_FIELD, max_size=3), st.lists(_PATH, max_size=3), st.data())
def test_the_entity_text_written_from_the_changes_is_what_serialising_the_entity_gives(
    fields: list[tuple[str, str, str]], paths: list[tuple[str, str, str, str, str]], data: st.DataObject
) -> None:
    """For any changes (quotes, backslashes, control and non-ASCII characters anywhere), the unstruct_event text the
    request writes from its parts is exactly the serialised entity; so is the text of a later event of the same
    shape with other values, written around them from what the shape kept, and of one with another strategy."""
    changes = PiiChanges()
    changes.fields.extend(fields)
    changes.paths.extend(paths)
    block = changes.block()
    assert [list(entry) for entry in block.get("pojo", [])] == [["fieldName", "originalValue", "modifiedValue"]] * len(
        fields
    )
    assert [entry["fieldMapping"]["originalValue"] for entry in block.get("json", [])] == [p[2] for p in paths]
    assert changes.values() == [v for f in fields for v in f[1:]] + [v for p in paths for v in p[2:4]]
    shape = Shape(changes.shape_name(), {})
    request = PiiTransformation(changes, _STRATEGY, PARENT_ID, shape)
    assert request.event == {"schema": PII_TRANSFORMATION, "data": {"pii": block, "strategy": _STRATEGY}}
    assert request.unstruct_text() == unstruct_column(request.event)
    # written around the values (not serialised) unless one is not ASCII or needs escaping; names, paths and
    # schemas are part of the text the shape keeps, escaped once whatever they hold
    assert (shape.template is not None) == _plain(changes.values())
    later = PiiChanges()
    later.fields.extend((name, data.draw(_TEXT), data.draw(_TEXT)) for name, _, _ in fields)
    later.paths.extend((field, path, data.draw(_TEXT), data.draw(_TEXT), schema) for field, path, _, _, schema in paths)
    for strategy in (_STRATEGY, {"pseudonymize": {"hashFunction": "MD5"}}):
        again = PiiTransformation(later, strategy, PARENT_ID, shape)
        assert again.unstruct_text() == unstruct_column(again.event)
    assert bool(changes) == bool(fields or paths)
