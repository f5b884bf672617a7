"""Unstruct event and contexts: JSON and depth rules, wrappers, per-entity validation, supersession."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.badrows import CriterionMismatchMessage, IgluErrorMessage, NotIgluMessage, NotJsonMessage
from core.base64url import encode_base64url
from enrich.entities import (
    CONTEXTS_OUTPUT,
    VALIDATION_INFO,
    Entities,
    JsonTextError,
    contexts_column,
    dumps_json,
    extract_entities,
    loads_json,
    unstruct_column,
)
from tests.enrich.pipeline_env import shared_validator

UE = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CO0 = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"
CO1 = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
USER = "iglu:com.acme/user_context/jsonschema/1-0-0"
CHECKOUT = "iglu:com.acme/checkout/jsonschema/1-0-0"
CHECKOUT_DATA = {"orderId": "o-1", "total": 3.5, "currency": "EUR"}


def extract(unstruct: tuple[str, str] | None = None, contexts: tuple[str, str] | None = None) -> Entities:
    return extract_entities(unstruct, contexts, shared_validator(), 50)


def ue(data: Any, schema: str = CHECKOUT) -> str:
    return json.dumps({"schema": UE, "data": {"schema": schema, "data": data}})


def test_valid_unstruct_and_contexts_from_every_encoding() -> None:
    """ue_pr/co plain and ue_px/cx base64 (either alphabet) give the same validated entities."""
    contexts = json.dumps({"schema": CO0, "data": [{"schema": USER, "data": {"userId": "u"}}]})
    plain = extract(("ue_pr", ue(CHECKOUT_DATA)), ("co", contexts))
    encoded = extract(
        ("ue_px", base64.b64encode(ue(CHECKOUT_DATA).encode()).decode()),
        ("cx", encode_base64url(contexts.encode())),
    )
    for entities in (plain, encoded):
        assert entities.errors == []
        assert entities.unstruct == {"schema": CHECKOUT, "data": CHECKOUT_DATA}
        assert str(entities.unstruct_key) == CHECKOUT
        assert entities.contexts == [{"schema": USER, "data": {"userId": "u"}}]


def test_output_columns_use_fixed_wrappers() -> None:
    """unstruct_event is wrapped in unstruct_event/1-0-0, contexts always in contexts/1-0-1, none → empty column."""
    assert json.loads(unstruct_column({"schema": CHECKOUT, "data": {}}) or "") == {
        "schema": UE,
        "data": {"schema": CHECKOUT, "data": {}},
    }
    assert json.loads(contexts_column([{"schema": USER, "data": {}}]) or "")["schema"] == CONTEXTS_OUTPUT
    assert contexts_column([]) is None
    assert unstruct_column(None) is None


def test_not_json_reports_the_decoded_text() -> None:
    """Text that is not JSON is a NotJson message on the parameter, carrying the (decoded) value."""
    entities = extract(("ue_px", encode_base64url(b"{oops")))
    (message,) = entities.errors
    assert isinstance(message, NotJsonMessage)
    assert (message.field, message.value) == ("ue_px", "{oops")
    assert message.error.startswith("invalid json:")


def test_json_deeper_than_the_limit_is_not_json() -> None:
    """Nesting beyond max_json_depth is reported like unparseable JSON."""
    deep = json.dumps({"schema": CO1, "data": []}).replace("[]", "[" * 60 + "]" * 60)
    (message,) = extract(contexts=("co", deep)).errors
    assert isinstance(message, NotJsonMessage)
    assert "depth" in message.error


def test_wrapper_problems() -> None:
    """Not self-describing → NotIglu; wrong wrapper → CriterionMismatch; wrapper schema violated → IgluError."""
    (not_sdj,) = extract(("ue_pr", '{"data": 1}')).errors
    assert not_sdj == NotIgluMessage({"data": 1}, "INVALID_DATA_PAYLOAD")
    (mismatch,) = extract(("ue_pr", json.dumps({"schema": CO1, "data": []}))).errors
    assert isinstance(mismatch, CriterionMismatchMessage)
    assert str(mismatch.schema_criterion) == "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-*"
    (empty_1_0_0,) = extract(contexts=("co", json.dumps({"schema": CO0, "data": []}))).errors
    assert isinstance(empty_1_0_0, IgluErrorMessage)
    assert extract(contexts=("co", json.dumps({"schema": CO1, "data": []}))).errors == []


def test_invalid_inner_entities_are_reported_and_valid_ones_kept() -> None:
    """Each context is validated on its own: the invalid one is dropped and reported, the valid one kept."""
    data = [
        {"schema": USER, "data": {"userId": "u", "plan": "gold"}},
        {"schema": USER, "data": {"userId": "v"}},
        {"schema": "iglu:com.acme/x/jsonschema/1-01-0", "data": {}},
    ]
    entities = extract(contexts=("co", json.dumps({"schema": CO1, "data": data})))
    assert entities.contexts == [{"schema": USER, "data": {"userId": "v"}}]
    assert [type(m) for m in entities.errors] == [IgluErrorMessage, NotIgluMessage]
    invalid = entities.errors[0]
    assert isinstance(invalid, IgluErrorMessage)
    assert invalid.error["dataReports"][0]["path"] == "$.plan"


def test_unresolvable_schema_is_a_resolution_error() -> None:
    """An entity whose schema no repository has is an IgluError carrying the lookup history."""
    (message,) = extract(("ue_pr", ue({}, schema="iglu:com.acme/absent/jsonschema/1-0-0"))).errors
    assert isinstance(message, IgluErrorMessage)
    assert message.error["error"] == "ResolutionError"
    assert len(message.error["lookupHistory"]) == 2


def test_superseded_schema_is_rewritten_and_noted() -> None:
    """A superseded entity validates with the superseding schema, is rewritten to it, and leaves validation_info."""
    entities = extract(("ue_pr", ue({"terms": ["a"], "filters": {}}, schema="iglu:com.acme/search/jsonschema/1-0-0")))
    assert entities.errors == []
    assert entities.unstruct == {
        "schema": "iglu:com.acme/search/jsonschema/1-0-1",
        "data": {"terms": ["a"], "filters": {}},
    }
    assert entities.derived == [
        {
            "schema": VALIDATION_INFO,
            "data": {"originalSchema": "iglu:com.acme/search/jsonschema/1-0-0", "validatedWith": "1-0-1"},
        }
    ]


def test_superseded_schema_failure_names_the_superseding_version() -> None:
    """When even the superseding schema rejects the data, the ValidationError says supersededBy."""
    (message,) = extract(("ue_pr", ue({"terms": "x"}, schema="iglu:com.acme/search/jsonschema/1-0-0"))).errors
    assert isinstance(message, IgluErrorMessage)
    assert message.error.get("supersededBy") == "1-0-1"


def test_big_integers_survive_parsing_and_output() -> None:
    """Integers beyond 64 bits keep every digit through parsing and the output column; NaN is not JSON."""
    text = '{"a": 123456789012345678901234567890, "b": 1.5}'
    value = loads_json(text, 50)
    assert value["a"] == 123456789012345678901234567890
    assert dumps_json(value) == '{"a":123456789012345678901234567890,"b":1.5}'
    for bad in ('{"a": 12345678901234567890123, "b": NaN}', "[Infinity]"):
        try:
            loads_json(bad, 50)
        except ValueError:
            continue
        raise AssertionError(f"{bad} parsed")


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**25), max_value=10**25)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet="ab{[0123456789", max_size=25),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=30,
)


@given(_JSON, st.integers(min_value=1, max_value=8))
def test_loads_json_equals_a_depth_bounded_exact_parse(value: object, max_depth: int) -> None:
    """Any JSON: too deep (nesting above max_depth) is refused; otherwise the value equals Python's exact parse."""
    text = json.dumps(value)

    def depth(v: object) -> int:
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        return 0

    if depth(value) > max_depth:
        with pytest.raises(JsonTextError, match="maximum allowed JSON depth"):
            loads_json(text, max_depth)
    else:
        parsed = loads_json(text, max_depth)
        assert parsed == json.loads(text)
        assert json.dumps(parsed) == text  # every digit kept, and the same types (int stays int)
