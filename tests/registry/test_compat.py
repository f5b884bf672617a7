"""Compatibility: the diff names each change; the verdict is what the change does to the set of valid instances."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from registry.compat import allowed, diff
from registry.instances import generate
from registry.schema_compiler import FORMAT_CHECKER, IgluDraft4Validator
from tests.registry.schema_strategies import draft4_schemas, instances_for

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "compat"


def _case(name: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads((CASES / name).read_bytes())
    return value


def _obj(props: dict[str, Any], required: list[str] | None = None, additional: Any = False) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or [], "additionalProperties": additional}


def test_tightening_a_closed_object_with_a_new_required_property_is_a_model() -> None:
    """Every change is listed, and a required property the closed old object forbade rejects all history: MODEL."""
    result = diff(_case("checkout-1-0-0.json"), _case("checkout-tightened.json"))
    texts = {c.description for c in result.changes if c.kind == "breaking-for-old-data"}
    assert "property 'currency' added to required" in texts
    assert "type narrowed from [null,string] to string" in texts
    assert "maxLength lowered 100 → 50" in texts
    assert result.verdict == "MODEL", result.reasons
    assert result.disjoint is not None and "'currency'" in result.disjoint
    assert result.kept == []
    assert result.instances_tested > 10 and result.instances_rejected == result.instances_tested
    errors = " | ".join(ce["error"] for ce in result.counterexamples)
    assert "/order_id" in errors and "/coupon" in errors and "'currency' is a required property" in errors


@pytest.mark.parametrize(
    ("additional", "required", "verdict"),
    [
        (False, True, "MODEL"),  # the old object could never hold 'b': no historical instance passes
        (True, True, "REVISION"),  # old instances that happened to carry a string 'b' still pass
        (False, False, "ADDITION"),  # an optional property the old object could not hold breaks nothing
        (True, False, "REVISION"),  # old data may carry an undeclared 'b' that is not a string
    ],
)
def test_adding_a_property_depends_on_what_the_old_schema_allowed(
    additional: bool, required: bool, verdict: str
) -> None:
    """Adding property 'b': the verdict follows whether old instances could hold it and whether it is required."""
    old = _obj({"a": {"type": "string"}}, ["a"], additional=additional)
    new = _obj({"a": {"type": "string"}, "b": {"type": "string"}}, ["a", "b"] if required else ["a"], additional)
    result = diff(old, new)
    assert result.verdict == verdict, result.reasons
    old_check, new_check = Draft4Validator(old), Draft4Validator(new)
    for ce in result.counterexamples:
        assert old_check.is_valid(ce["instance"]) and not new_check.is_valid(ce["instance"])
    for kept in result.kept:
        assert old_check.is_valid(kept) and new_check.is_valid(kept)
    assert bool(result.counterexamples) == (verdict != "ADDITION")
    assert bool(result.kept) == (verdict != "MODEL")


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
        ({"type": "string"}, {"type": "integer"}, "REVISION", "type changed from string to integer"),
        ({"type": "number", "minimum": 0}, {"type": "number", "minimum": 5}, "REVISION", "minimum raised 0 → 5"),
        ({"type": "number", "maximum": 5}, {"type": "number"}, "ADDITION", "maximum 5 removed"),
        ({"type": "string"}, {"type": "string", "pattern": "^a"}, "REVISION", "pattern '^a' added"),
        ({"type": "string", "pattern": "^a"}, {"type": "string", "pattern": "^b"}, "REVISION", "pattern changed"),
        ({"$ref": "#/definitions/a"}, {"$ref": "#/definitions/b"}, "UNSURE", "$ref changed"),
        ({"oneOf": [{"type": "string"}]}, {"oneOf": [{"type": "integer"}]}, "REVISION", "oneOf changed"),
        ({"enum": ["a", "bb"]}, {"enum": ["a", "bb"], "maxLength": 1}, "REVISION", "old enum value 'bb' is rejected"),
        ({"enum": ["a", "b"]}, {"type": "string", "maxLength": 1}, "ADDITION", "every old enum value"),
        ({"type": "integer"}, {"type": "integer", "maxLength": 2}, "ADDITION", ""),
        ({"type": "string"}, {"type": "string", "maxLength": 65535}, "REVISION", "maxLength 65535 added"),
        ({"type": "number", "multipleOf": 4}, {"type": "number", "multipleOf": 2}, "ADDITION", "multipleOf relaxed"),
        ({"type": "array"}, {"type": "array", "uniqueItems": True}, "REVISION", "uniqueItems changed to true"),
    ],
)
def test_single_keyword_changes(old: dict[str, Any], new: dict[str, Any], verdict: str, text: str) -> None:
    """Each keyword change of an optional property gets the verdict and the wording a reviewer expects."""
    result = diff(_obj({"x": old}), _obj({"x": new}))
    assert result.verdict == verdict, result.reasons
    assert not text or any(text in c.description and c.pointer.startswith("/properties/x") for c in result.changes)


_STR, _INT = {"type": "string"}, {"type": "integer"}


@pytest.mark.parametrize(
    ("old", "new", "verdict"),
    [
        ({"type": "string"}, {"type": "integer"}, "MODEL"),
        ({"type": "integer", "minimum": 0, "maximum": 9}, {"type": "integer", "minimum": 10}, "MODEL"),
        ({"type": "integer", "minimum": 0, "maximum": 10}, {"type": "integer", "minimum": 10}, "REVISION"),
        ({"type": "string", "maxLength": 3}, {"type": "string", "minLength": 4}, "MODEL"),
        ({"enum": ["a", "b"]}, {"enum": ["c"]}, "MODEL"),
        ({"type": "array", "items": _STR, "minItems": 1}, {"type": "array", "items": _INT}, "MODEL"),
        ({"type": "array", "items": _STR}, {"type": "array", "items": _INT}, "REVISION"),
    ],
)
def test_required_property_changes_decide_model_or_revision(old: Any, new: Any, verdict: str) -> None:
    """On a required property, a change no old value survives is a MODEL; one that keeps some is a REVISION."""
    result = diff(_obj({"x": old}, ["x"]), _obj({"x": new}, ["x"]))
    assert result.verdict == verdict, result.reasons


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


def test_instances_decide_a_change_the_walk_cannot_see() -> None:
    """A change hidden in an opaque keyword is decided by witnesses: one old instance rejected, one kept."""
    old = _obj({"x": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]}})
    new = _obj({"x": {"anyOf": [{"type": "string", "maxLength": 5}]}})
    result = diff(old, new)
    assert any(c.kind == "unknown" for c in result.changes)
    assert result.verdict == "REVISION", result.reasons
    assert any(ce["instance"].get("x", 0) is None for ce in result.counterexamples)
    assert not allowed("ADDITION", result.highest)


def test_declaring_properties_on_an_object_that_held_none_is_an_addition() -> None:
    """`maxProperties: 0` let no property through, so declaring typed optional properties rejects nothing."""
    old = _obj({"p": {"type": "object", "maxProperties": 0}}, ["p"], additional=True)
    new = _obj({"p": {"type": "object", "properties": {"db": {"type": "string"}}}}, ["p"], additional=True)
    result = diff(old, new)
    assert result.verdict == "ADDITION", result.reasons


def test_reasons_clip_long_witnesses() -> None:
    """A witness string past a 65535 maxLength is shown clipped, never as 64 KiB of text."""
    result = diff(_obj({"x": {"type": "string"}}), _obj({"x": {"type": "string", "maxLength": 65535}}))
    assert result.counterexamples and all(len(r) < 600 for r in result.reasons)


def test_all_generated_instances_rejected_without_a_proof_is_unsure_up_to_model() -> None:
    """When every old instance fails but no rule proves disjointness, publishing must assume a MODEL."""
    old = _obj({"x": {"type": "string", "pattern": "^a$"}}, ["x"])
    new = _obj({"x": {"type": "string", "pattern": "^b$"}}, ["x"])
    result = diff(old, new)
    assert result.verdict == "UNSURE", result.reasons
    assert (result.lowest, result.highest) == ("REVISION", "MODEL")
    assert result.instances_rejected == result.instances_tested > 0
    assert not allowed("REVISION", result.highest) and allowed("REVISION", result.lowest)


def test_bump_rules() -> None:
    """ADDITION needs an ADDITION verdict; REVISION tolerates tightening; MODEL accepts anything."""
    assert allowed("ADDITION", "ADDITION")
    assert not allowed("ADDITION", "REVISION")
    assert not allowed("ADDITION", "UNSURE")
    assert allowed("REVISION", "REVISION")
    assert not allowed("REVISION", "MODEL")
    assert not allowed("REVISION", "UNSURE")
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


# Schema pairs for the verdict property: an object schema and an edited copy, as a publisher would write them.
_NAMES = st.sampled_from(["a", "b", "c", "d"])
_edit = st.one_of(
    st.tuples(st.just("add"), _NAMES, _scalar, st.booleans()),
    st.tuples(st.just("drop"), _NAMES),
    st.tuples(st.just("require"), _NAMES),
    st.tuples(st.just("unrequire"), _NAMES),
    st.tuples(st.just("retype"), _NAMES, _scalar),
    st.tuples(st.just("additional"), st.booleans()),
)


def _edited(old: dict[str, Any], edits: list[tuple[Any, ...]]) -> dict[str, Any]:
    new = orjson.loads(orjson.dumps(old))
    for edit in edits:
        op, name = edit[0], edit[1]
        if op == "add":
            new["properties"][name] = edit[2]
            if edit[3] and name not in new["required"]:
                new["required"].append(name)
        elif op == "drop" and name in new["properties"] and len(new["properties"]) > 1:
            del new["properties"][name]
            new["required"] = [r for r in new["required"] if r != name]
        elif op == "require" and name not in new["required"]:
            new["required"].append(name)
        elif op == "unrequire":
            new["required"] = [r for r in new["required"] if r != name]
        elif op == "retype" and name in new["properties"]:
            new["properties"][name] = edit[2]
        elif op == "additional":
            new["additionalProperties"] = name
    return new


def _enrich_validator(schema: dict[str, Any]) -> Any:
    """What S means: the instances enrich's validator accepts (draft-04, checked formats, decimal multipleOf)."""
    return IgluDraft4Validator(schema, format_checker=FORMAT_CHECKER)


def _check_verdict(old: dict[str, Any], new: dict[str, Any], samples: list[Any]) -> str:
    """Hold a diff's verdict to its witnesses and to independently sampled old instances; returns the verdict."""
    result = diff(old, new)
    old_check, new_check = _enrich_validator(old), _enrich_validator(new)
    history = [s for s in samples if old_check.is_valid(s)]
    for ce in result.counterexamples:
        assert old_check.is_valid(ce["instance"]) and not new_check.is_valid(ce["instance"]), ce
    for kept in result.kept:
        assert old_check.is_valid(kept) and new_check.is_valid(kept), kept
    if result.verdict == "ADDITION":
        assert [s for s in history if not new_check.is_valid(s)] == [], result.changes
    if result.verdict in ("REVISION", "MODEL"):
        assert result.counterexamples, "a verdict above ADDITION needs a witness of rejection"
    if result.verdict == "REVISION":
        assert result.kept, "a REVISION needs a witness that some history survives"
    if result.verdict == "MODEL":
        assert [s for s in history if new_check.is_valid(s)] == [], result.disjoint
        assert result.kept == []
    assert result.instances_rejected >= len({repr(ce["instance"]) for ce in result.counterexamples})
    return result.verdict


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_schema, st.lists(_edit, min_size=1, max_size=3), st.data())
def test_verdicts_match_sampled_instances_of_edited_schemas(
    old: dict[str, Any], edits: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    """Edits of an object schema get a decided verdict consistent with witnesses and with sampled old instances."""
    new = _edited(old, edits)
    samples = data.draw(st.lists(instances_for(old, noise=False), min_size=10, max_size=30))
    verdict = _check_verdict(old, new, samples)
    if any(Draft4Validator(old).is_valid(s) for s in samples):  # (a schema nothing satisfies is moot)
        assert verdict != "UNSURE", diff(old, new).reasons  # every keyword of this language is decidable


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(draft4_schemas(), draft4_schemas(), st.data())
def test_verdicts_of_arbitrary_schema_pairs_are_never_contradicted(
    old: dict[str, Any], new: dict[str, Any], data: st.DataObject
) -> None:
    """For any pair of draft-04 schemas a decided verdict holds on sampled instances (UNSURE is allowed)."""
    samples = data.draw(st.lists(instances_for(old), min_size=5, max_size=20))
    _check_verdict(old, new, samples)
