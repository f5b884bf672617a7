"""Compatibility: the diff names each change, the verdict follows SchemaVer, generated instances confirm it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from registry.compat import allowed, diff
from registry.instances import generate

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "compat"


def _case(name: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads((CASES / name).read_bytes())
    return value


def _obj(props: dict[str, Any], required: list[str] | None = None, additional: Any = False) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or [], "additionalProperties": additional}


def test_tightening_is_a_revision_naming_every_change() -> None:
    """New required field, narrowed type and lowered maxLength are each listed as breaking; verdict REVISION."""
    result = diff(_case("checkout-1-0-0.json"), _case("checkout-tightened.json"))
    texts = {c.description for c in result.changes if c.kind == "breaking-for-old-data"}
    assert "property 'currency' added to required" in texts
    assert "type narrowed from [null,string] to string" in texts
    assert "maxLength lowered 100 → 50" in texts
    assert result.verdict == "REVISION"
    errors = " | ".join(ce["error"] for ce in result.counterexamples)
    assert "/order_id" in errors and "/coupon" in errors and "'currency' is a required property" in errors


def test_compatible_changes_are_an_addition() -> None:
    """Added optional property, widened type, relaxed bound and dropped requirement give ADDITION, unrefuted."""
    result = diff(_case("checkout-1-0-0.json"), _case("checkout-addition.json"))
    assert result.verdict == "ADDITION", result.reasons
    assert {c.kind for c in result.changes} == {"compatible"}
    assert result.instances_tested > 10
    assert result.counterexamples == []


@pytest.mark.parametrize(
    ("old", "new", "verdict", "text"),
    [
        ({"enum": ["a", "b"]}, {"enum": ["a"]}, "REVISION", "enum value 'b' removed"),
        ({"enum": ["a"]}, {"enum": ["a", "b"]}, "ADDITION", "enum value 'b' added"),
        ({"type": "integer"}, {"type": "number"}, "ADDITION", "type widened from integer to number"),
        ({"type": "string"}, {"type": "integer"}, "MODEL", "type changed from string to integer"),
        ({"type": "number", "minimum": 0}, {"type": "number", "minimum": 5}, "REVISION", "minimum raised 0 → 5"),
        ({"type": "number", "maximum": 5}, {"type": "number"}, "ADDITION", "maximum 5 removed"),
        ({"type": "string"}, {"type": "string", "pattern": "^a"}, "REVISION", "pattern '^a' added"),
        ({"type": "string", "pattern": "^a"}, {"type": "string", "pattern": "^b"}, "UNSURE", "pattern changed"),
        ({"$ref": "#/definitions/a"}, {"$ref": "#/definitions/b"}, "UNSURE", "$ref changed"),
        ({"oneOf": [{"type": "string"}]}, {"oneOf": [{"type": "integer"}]}, "UNSURE", "oneOf changed"),
        ({"type": "number", "multipleOf": 4}, {"type": "number", "multipleOf": 2}, "ADDITION", "multipleOf relaxed"),
        ({"type": "array"}, {"type": "array", "uniqueItems": True}, "REVISION", "uniqueItems changed to true"),
    ],
)
def test_single_keyword_changes(old: dict[str, Any], new: dict[str, Any], verdict: str, text: str) -> None:
    """Each keyword change gets the class and the wording a reviewer expects."""
    result = diff(_obj({"x": old}), _obj({"x": new}))
    assert result.verdict == verdict, result.reasons
    assert any(text in c.description and c.pointer.startswith("/properties/x") for c in result.changes)


def test_additional_properties_false_is_breaking() -> None:
    """Closing an open object rejects old data with extra fields."""
    result = diff(_obj({"a": {"type": "string"}}, additional=True), _obj({"a": {"type": "string"}}, additional=False))
    assert "additionalProperties changed to false" in {c.description for c in result.changes}
    assert result.verdict == "REVISION"


def test_removed_property_of_closed_object_is_breaking() -> None:
    """Dropping a declared property while additionalProperties is false rejects data that used it."""
    result = diff(_obj({"a": {"type": "string"}, "b": {"type": "string"}}), _obj({"a": {"type": "string"}}))
    assert result.verdict == "REVISION"
    assert result.counterexamples


def test_instances_refute_an_addition_the_walk_cannot_see() -> None:
    """A change hidden in an opaque keyword is UNSURE, and instances prove it is not an ADDITION."""
    old = _obj({"x": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]}})
    new = _obj({"x": {"anyOf": [{"type": "string", "maxLength": 5}]}})
    result = diff(old, new)
    assert result.verdict == "UNSURE"
    assert any(ce["instance"].get("x", 0) is None for ce in result.counterexamples)
    assert "generated instances prove it is not an ADDITION" in result.reasons
    assert not allowed("ADDITION", result.verdict)


def test_bump_rules() -> None:
    """ADDITION needs an ADDITION verdict; REVISION tolerates tightening; MODEL accepts anything."""
    assert allowed("ADDITION", "ADDITION")
    assert not allowed("ADDITION", "REVISION")
    assert not allowed("ADDITION", "UNSURE")
    assert allowed("REVISION", "REVISION")
    assert not allowed("REVISION", "MODEL")
    assert allowed("MODEL", "MODEL")


def test_generated_instances_are_valid_for_every_repo_schema() -> None:
    """generate() only returns instances its schema accepts, and a schema is an ADDITION of itself."""
    files = [f for f in (ROOT / "schemas").rglob("*-*-*") if f.is_file() and "jsonschema" in f.parts]
    assert files
    for file in files[:40]:
        schema = orjson.loads(file.read_bytes())
        validator = Draft4Validator({k: v for k, v in schema.items() if k not in ("self", "$schema")})
        for instance in generate(schema, limit=30):
            assert validator.is_valid(instance)
        result = diff(schema, schema)
        assert result.changes == [] and result.verdict == "ADDITION"


# A small schema language for the soundness property: flat objects of scalar properties.
_scalar = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "number", ["string", "null"], ["integer", "null"]])},
    optional={
        "maxLength": st.integers(1, 20),
        "minLength": st.integers(0, 3),
        "minimum": st.integers(-5, 5),
        "maximum": st.integers(6, 50),
        "enum": st.lists(st.sampled_from(["a", "bb", 1, 2, None]), min_size=1, max_size=3, unique=True),
    },
)
_schema = st.builds(
    lambda props, req, closed: _obj(props, [r for r in req if r in props], additional=not closed),
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), _scalar, min_size=1, max_size=4),
    st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=3),
    st.booleans(),
)


@given(_schema, _schema)
def test_structural_additions_survive_generated_instances(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Soundness on samples: whenever the walk alone says ADDITION, no instance of the old schema is rejected."""
    structural = diff(old, new, confirm=False)
    if structural.verdict == "ADDITION":
        confirmed = diff(old, new)
        assert confirmed.counterexamples == [], (structural.changes, confirmed.counterexamples[:2])


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["type", "properties", "required", "maxLength", "minimum", "enum", "items", "additionalProperties"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(["type", "properties", "required", "enum", "items"]), _json, max_size=4), _json)
def test_diff_never_raises(old: dict[str, Any], new: Any) -> None:
    """Any pair of documents yields a verdict, never an exception (invalid schemas are UNSURE at worst)."""
    result = diff(old, new if isinstance(new, dict) else {"type": new})
    assert result.verdict in ("ADDITION", "REVISION", "MODEL", "UNSURE")
