"""Fix steps: the opened payload view, conditions, and each step kind (their JSONPath: tests/core/test_json_path.py)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.base64url import decode_lenient
from core.errors import ConfigError
from loader.fixes import diff, load_fixes, parse_fixes
from loader.payload_view import close_view, open_view
from tests.loader.pipeline import b64

RAW_PARAMS = [
    {"name": "e", "value": "ue"},
    {
        "name": "ue_px",
        "value": b64(
            {
                "schema": "iglu:sp/unstruct_event/jsonschema/1-0-0",
                "data": {
                    "schema": "iglu:com.acme/order_placed/jsonschema/1-0-0",
                    "data": {"order_id": "o-1", "total": "9.50"},
                },
            }
        ),
    },
    {
        "name": "co",
        "value": json.dumps(
            {
                "schema": "iglu:sp/contexts/jsonschema/1-0-0",
                "data": [{"schema": "iglu:com.acme/c/jsonschema/1-0-0", "data": {"n": "1"}}],
            }
        ),
    },
    {"name": "aid", "value": "shop-web"},
]


def enrichment_payload(params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "enriched": {"event_id": "x"},
        "raw": {"vendor": "com.snowplowanalytics.snowplow", "parameters": params or RAW_PARAMS},
    }


def test_the_view_opens_encoded_parameters() -> None:
    """Parameters become an object; ue_px (base64) and co (JSON text) become JSON values."""
    view = open_view(enrichment_payload())
    params = view["raw"]["parameters"]
    assert params["ue_px"]["data"]["data"] == {"order_id": "o-1", "total": "9.50"}
    assert params["co"]["data"][0]["data"] == {"n": "1"}
    assert params["aid"] == "shop-web"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["e", "ue_px", "cx", "co", "ue_pr", "aid", "url"]),
            st.one_of(st.none(), st.text(max_size=600), st.just("e30"), st.just('{"a": 1}')),
        ),
        max_size=8,
        unique_by=lambda p: p[0],
    )
)
def test_an_untouched_view_closes_to_the_same_payload(pairs: list[tuple[str, str | None]]) -> None:
    """Opening and closing without an edit gives the exact original values (the fingerprint depends on them)."""
    from core.badrows.limits import chunk_pairs

    params = [{"name": n, "value": v} for n, v in chunk_pairs(pairs)]
    payload = enrichment_payload(params)
    assert close_view(open_view(payload), payload) == payload


def test_an_edited_value_is_reencoded_and_others_keep_their_text() -> None:
    """Changing inside ue_px re-encodes it as base64url JSON; co, untouched, keeps its exact text."""
    payload = enrichment_payload()
    view = open_view(payload)
    view["raw"]["parameters"]["ue_px"]["data"]["data"]["total"] = 9.5
    closed = close_view(view, payload)
    by_name = {p["name"]: p["value"] for p in closed["raw"]["parameters"]}
    assert json.loads(decode_lenient(by_name["ue_px"]))["data"]["data"] == {"order_id": "o-1", "total": 9.5}
    assert by_name["co"] == RAW_PARAMS[2]["value"]


def test_collector_payload_bodies_open_per_event() -> None:
    """A tp2 POST body is parsed and each event's cx is opened, then written back as JSON text."""
    body = {
        "schema": "iglu:sp/payload_data/jsonschema/1-0-4",
        "data": [{"e": "pv", "cx": b64({"data": [{"data": {"k": "v"}}]})}],
    }
    payload = {"querystring": [], "body": json.dumps(body)}
    view = open_view(payload)
    assert view["body"]["data"][0]["cx"]["data"][0]["data"] == {"k": "v"}
    view["body"]["data"][0]["cx"]["data"][0]["data"]["k"] = "w"
    closed = close_view(view, payload)
    event = json.loads(closed["body"])["data"][0]
    assert json.loads(base64.urlsafe_b64decode(event["cx"] + "==")) == {"data": [{"data": {"k": "w"}}]}


FIX_FILE = {
    "schema_violations": [
        {
            "name": "other vendor",
            "conditions": [{"op": "Test", "path": "$.payload.raw.vendor", "value": {"value": "com.acme"}}],
            "steps": [{"op": "Remove", "path": "$.raw.parameters.aid"}],
        },
        {
            "name": "order_placed",
            "conditions": [
                {
                    "op": "Test",
                    "path": "$.payload.raw.parameters.ue_px.data.schema",
                    "value": {"regex": "iglu:com.acme/order_placed/.*"},
                },
                {"op": "Test", "path": "$.payload.raw.parameters", "value": {"size": {"gt": 2}}},
            ],
            "steps": [
                {"op": "Rename", "path": "$.raw.parameters.ue_px.data.data.order_id", "to": "orderId"},
                {"op": "Cast", "path": "$.raw.parameters.ue_px.data.data.total", "from": "String", "to": "Numeric"},
                {"op": "Replace", "path": "$.raw.parameters.aid", "match": "^shop-(.*)$", "value": "$1"},
                {"op": "Add", "path": "$.raw.parameters.ue_px.data.data.currency", "value": "EUR"},
                {"op": "Cast", "path": "$.raw.parameters.co.data[*].data.n", "from": "String", "to": "Numeric"},
            ],
        },
    ]
}


def test_the_first_matching_flow_applies_every_step() -> None:
    """Conditions pick the flow; Rename, Cast, Replace with a group, Add and a Cast inside co all apply."""
    config = parse_fixes(FIX_FILE)
    result = config.apply("schema_violations", {"failure": {}, "payload": enrichment_payload()})
    assert result.flow == "order_placed" and result.error is None
    params = open_view(result.payload)["raw"]["parameters"]
    assert params["ue_px"]["data"]["data"] == {"orderId": "o-1", "total": 9.5, "currency": "EUR"}
    assert params["aid"] == "web"
    assert params["co"]["data"][0]["data"] == {"n": 1}
    assert {c.path for c in result.changes} >= {
        "$.raw.parameters.ue_px.data.data.order_id",
        "$.raw.parameters.ue_px.data.data.orderId",
        "$.raw.parameters.aid",
    }


def test_rows_no_flow_takes_are_unchanged_and_other_types_untouched() -> None:
    """A row whose conditions fail, or of a type without flows, keeps its payload object as it was."""
    config = parse_fixes(FIX_FILE)
    other = enrichment_payload([{"name": "e", "value": "pv"}])
    assert config.apply("schema_violations", {"payload": other}).payload is other
    assert config.apply("adapter_failures", {"payload": other}).flow is None


def test_a_step_that_cannot_apply_fails_the_row() -> None:
    """Casting a value that is neither the source nor the target type is an error with the path, not a crash."""
    params = [dict(p) for p in RAW_PARAMS]
    params[1]["value"] = b64(
        {"data": {"schema": "iglu:com.acme/order_placed/jsonschema/1-0-0", "data": {"total": [1]}}}
    )
    result = parse_fixes(FIX_FILE).apply("schema_violations", {"payload": enrichment_payload(params)})
    assert result.error is not None and "expected String, found Array" in result.error


def test_cast_is_idempotent_for_values_already_right() -> None:
    """A number where the step casts String → Numeric is left alone (rows the tracker got right pass through)."""
    params = [dict(p) for p in RAW_PARAMS]
    params[1]["value"] = b64(
        {"data": {"schema": "iglu:com.acme/order_placed/jsonschema/1-0-0", "data": {"orderId": "o", "total": 3}}}
    )
    result = parse_fixes(FIX_FILE).apply("schema_violations", {"payload": enrichment_payload(params)})
    assert result.error is None
    assert open_view(result.payload)["raw"]["parameters"]["ue_px"]["data"]["data"]["total"] == 3


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "expected an object"),
        ({"Bad Type!": []}, "not a bad-row type"),
        ({"schema_violations": {}}, "list of flows"),
        ({"schema_violations": [{"steps": [{"op": "Explode", "path": "$.a"}]}]}, "op: Replace"),
        ({"schema_violations": [{"steps": [{"op": "Cast", "path": "$.a", "from": "String"}]}]}, "Cast needs"),
        ({"schema_violations": [{"steps": [{"op": "Replace", "path": "$.a"}]}]}, "needs a value"),
        ({"schema_violations": [{"steps": [{"op": "Remove", "path": "a"}]}]}, "must start with"),
        ({"schema_violations": [{"conditions": [{"path": "$.a", "value": {"regex": "("}}]}]}, "bad regex"),
        ({"schema_violations": [{"conditions": [{"path": "$.a", "value": 3}]}]}, "value must be"),
    ],
)
def test_invalid_fix_files_name_the_problem(doc: Any, message: str) -> None:
    """Every invalid construct is a ConfigError naming where it is."""
    with pytest.raises(ConfigError, match=message):
        parse_fixes(doc)


def test_fix_files_load_from_disk_with_snowplow_envelope_and_criteria(tmp_path: Path) -> None:
    """The recoveries SDJ envelope and bad-row Iglu criteria as keys are accepted."""
    path = tmp_path / "fixes.json"
    path.write_text(
        json.dumps(
            {
                "schema": "iglu:com.snowplowanalytics.snowplow/recoveries/jsonschema/4-0-0",
                "data": {
                    "iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-*": FIX_FILE[
                        "schema_violations"
                    ]
                },
            }
        )
    )
    assert [f.name for f in load_fixes(path).flows_for("schema_violations")] == ["other vendor", "order_placed"]
    with pytest.raises(ConfigError, match="not JSON"):
        path.write_text("{")
        load_fixes(path)


def test_diff_lists_changed_leaves() -> None:
    """diff reports removed, added and changed leaves with their paths."""
    changes = diff({"a": 1, "b": {"c": [1, 2]}}, {"b": {"c": [1, 3]}, "d": None})
    assert [(c.path, c.before, c.after) for c in changes] == [("$.a", 1, None), ("$.b.c[1]", 2, 3), ("$.d", None, None)]


FIXES_DOC = Path(__file__).resolve().parents[2] / "docs" / "FIXES.md"


def test_every_example_in_the_fix_step_guide_is_a_valid_fix_file() -> None:
    """docs/FIXES.md stays true: its whole-file example, each step example and each condition example parse."""
    text = FIXES_DOC.read_text()
    blocks = [b.strip() for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert blocks
    parse_fixes(orjson.loads(blocks[0]))
    steps = [orjson.loads(line) for block in blocks[1:] for line in block.splitlines()]
    assert {s["op"] for s in steps} == {"Replace", "Remove", "Cast", "Add", "Rename"}
    for step in steps:
        parse_fixes({"schema_violations": [{"name": "doc", "steps": [step]}]})
    conditions = [orjson.loads(c) for c in re.findall(r'`(\{"op": "Test".*?\})` \|', text)]
    assert len(conditions) == 3
    parse_fixes({"*": [{"name": "doc", "conditions": conditions, "steps": []}]})
    with pytest.raises(ConfigError, match=re.escape("value refers to $9 but match '^shop-(.*)$' has 1 group")):
        parse_fixes({"schema_violations": [{"steps": [{**steps[1], "value": "$9"}]}]})


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"op": "Add", "path": "$.raw.parameters.list[0]", "value": 1}, "Add needs a path ending in a member name"),
        ({"op": "Cast", "path": "$.a", "from": "String", "to": "Numeric", "match": "x"}, "match is for Replace"),
        ({"op": "Replace", "path": "$.a", "match": "(x)", "value": 1}, "needs a string value"),
        ({"op": "Replace", "path": "$.a", "match": "x", "value": "$1"}, "refers to $1 but match 'x' has no groups"),
    ],
)
def test_steps_that_could_only_fail_later_are_refused_when_read(step: dict[str, Any], message: str) -> None:
    """Mistakes a replay would only hit row by row (or crash on) are one ConfigError when the file is read."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_fixes({"schema_violations": [{"name": "f", "steps": [step]}]})


def test_replace_templates_take_groups_whole_match_and_dollars_literally() -> None:
    """`$0` is the whole match, `$$` a dollar, `$10` group ten, and backslashes are plain text."""
    steps = [
        {"op": "Replace", "path": "$.raw.parameters.a", "match": "^(b)(c)$", "value": "[$0|$2$1|$$|\\1]"},
        {"op": "Replace", "path": "$.raw.parameters.t", "match": "^" + "(.)" * 10 + "$", "value": "$10$1"},
    ]
    config = parse_fixes({"schema_violations": [{"name": "f", "steps": steps}]})
    data = {"payload": {"raw": {"parameters": [{"name": "a", "value": "bc"}, {"name": "t", "value": "0123456789"}]}}}
    result = config.apply("schema_violations", data)
    assert result.error is None
    fixed = {p["name"]: p["value"] for p in result.payload["raw"]["parameters"]}
    assert fixed == {"a": "[bc|cb|$|\\1]", "t": "90"}
