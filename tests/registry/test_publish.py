"""Publishing: Iglu's version order, no overwrite, supersedes, and bumps matching the change per compatibility mode."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.iglu import SchemaKey, SchemaVer
from registry.publish import CompatibilityPolicy, Publisher, declared_bump
from registry.store import SchemaStore, open_store

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "compat"


def _case(name: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads((CASES / name).read_bytes())
    return value


def _at(schema: dict[str, Any], version: str) -> dict[str, Any]:
    out = copy.deepcopy(schema)
    out["self"]["version"] = version
    return out


@pytest.fixture
def store(tmp_path: Path) -> SchemaStore:
    return open_store(tmp_path)


def test_declared_bump() -> None:
    """The bump is read against the previous version in the same model."""
    assert declared_bump(None, SchemaVer.parse("1-0-0")) == "MODEL"
    assert declared_bump(SchemaVer.parse("1-0-0"), SchemaVer.parse("1-0-1")) == "ADDITION"
    assert declared_bump(SchemaVer.parse("1-0-3"), SchemaVer.parse("1-1-0")) == "REVISION"


def test_tightened_addition_is_refused_naming_each_change(store: SchemaStore) -> None:
    """A tightened 1-0-1 (new required field, narrowed type, lowered maxLength) is refused as an ADDITION."""
    publisher = Publisher(store)
    assert publisher.publish(_case("checkout-1-0-0.json")).status == "created"
    outcome = publisher.publish(_case("checkout-tightened.json"))
    assert outcome.status == "conflict" and outcome.http_status == 409
    text = "\n".join(outcome.details)
    assert "declared an ADDITION of 1-0-0" in text
    assert "property 'currency' added to required" in text
    assert "type narrowed from [null,string] to string" in text
    assert "maxLength lowered 100 → 50" in text
    assert store.list_keys() == [SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-0")]


def test_a_change_no_history_survives_needs_a_new_model(store: SchemaStore) -> None:
    """The tightened schema requires a property the closed 1-0-0 forbade: refused as 1-1-0, accepted as 2-0-0."""
    publisher = Publisher(store)
    publisher.publish(_case("checkout-1-0-0.json"))
    outcome = publisher.publish(_at(_case("checkout-tightened.json"), "1-1-0"))
    assert outcome.status == "conflict"
    text = "\n".join(outcome.details)
    assert "declared a REVISION of 1-0-0; the change is MODEL" in text
    assert "no historical instance can pass the new schema" in text and "'currency'" in text
    assert publisher.publish(_at(_case("checkout-tightened.json"), "2-0-0")).status == "created"


def test_a_tightening_that_keeps_some_history_is_a_revision(store: SchemaStore) -> None:
    """Narrowing a type and lowering a maxLength keep some old checkouts valid: accepted as 1-1-0."""
    publisher = Publisher(store)
    publisher.publish(_case("checkout-1-0-0.json"))
    tightened = _at(_case("checkout-tightened.json"), "1-1-0")
    tightened["required"] = ["order_id", "total"]
    assert publisher.publish(tightened).status == "created"


def test_type_change_needs_a_model(store: SchemaStore) -> None:
    """Changing a property's type to a disjoint one is refused even as a REVISION."""
    publisher = Publisher(store)
    publisher.publish(_case("checkout-1-0-0.json"))
    changed = _at(_case("checkout-1-0-0.json"), "1-1-0")
    changed["properties"]["total"] = {"type": "string", "maxLength": 20}
    outcome = publisher.publish(changed)
    assert outcome.status == "conflict"
    assert "the change is MODEL" in "\n".join(outcome.details)


def test_compatible_addition_is_accepted(store: SchemaStore) -> None:
    """A true ADDITION passes the BACKWARD check."""
    publisher = Publisher(store)
    publisher.publish(_case("checkout-1-0-0.json"))
    assert publisher.publish(_case("checkout-addition.json")).status == "created"


def test_existing_version_is_never_overwritten_outside_dev_mode(store: SchemaStore) -> None:
    """Re-publishing answers 'Schema already exists'; in development mode it updates instead."""
    schema = _case("checkout-1-0-0.json")
    Publisher(store).publish(schema)
    changed = {**schema, "description": "changed"}
    outcome = Publisher(store).publish(changed)
    assert (outcome.status, outcome.message) == ("conflict", "Schema already exists")
    key = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-0")
    stored = store.get(key)
    assert stored is not None and stored["description"] == schema["description"]
    assert Publisher(store, dev_mode=True).publish(changed).status == "updated"
    updated = store.get(key)
    assert updated is not None and updated["description"] == "changed"


def test_gaps_are_refused(store: SchemaStore) -> None:
    """1-0-2 without 1-0-1 is refused as out of order."""
    publisher = Publisher(store)
    publisher.publish(_case("checkout-1-0-0.json"))
    outcome = publisher.publish(_at(_case("checkout-addition.json"), "1-0-2"))
    assert outcome.status == "conflict" and "1-0-1" in outcome.details[0]


def test_lint_errors_block_publishing(store: SchemaStore) -> None:
    """A schema with an ERROR-level finding is invalid (400) with the report attached."""
    schema = _case("checkout-1-0-0.json")
    schema["properties"]["order_id"]["minLength"] = 500
    outcome = Publisher(store).publish(schema)
    assert outcome.status == "invalid" and outcome.http_status == 400
    assert any(f.check == "stringMinMaxLength" for f in outcome.lint)
    assert store.list_keys() == []


def test_dry_run_writes_nothing(store: SchemaStore) -> None:
    """--dry-run runs every check and leaves the store untouched."""
    outcome = Publisher(store).publish(_case("checkout-1-0-0.json"), dry_run=True)
    assert outcome.status == "would-create" and store.list_keys() == []


def test_supersedes(store: SchemaStore) -> None:
    """$supersedes must name lower existing versions; the old schema is then served with $supersededBy."""
    publisher = Publisher(store)
    publisher.publish(_case("checkout-1-0-0.json"))
    missing = {**_case("checkout-addition.json"), "$supersedes": ["1-0-5"]}
    assert "do not exist" in publisher.publish(missing).message
    ok = {**_case("checkout-addition.json"), "$supersedes": ["1-0-0"]}
    assert publisher.publish(ok).status == "created"
    old = store.render(SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-0"))
    assert old is not None and old["$supersededBy"] == "1-0-1"


def test_public_private_must_agree_within_a_schema(store: SchemaStore) -> None:
    """A private 1-0-1 under a public 1-0-0 is refused."""
    publisher = Publisher(store)
    publisher.publish(_case("checkout-1-0-0.json"), is_public=True)
    outcome = publisher.publish(_case("checkout-addition.json"), is_public=False)
    assert outcome.status == "conflict" and "not private" in outcome.message


def test_forward_mode_refuses_what_old_readers_cannot_read(store: SchemaStore) -> None:
    """Under FORWARD, adding a property to a closed object breaks old readers, so the ADDITION is refused."""
    policy = CompatibilityPolicy({"com.acme": "FORWARD"})
    publisher = Publisher(store, policy=policy)
    publisher.publish(_case("checkout-1-0-0.json"))
    outcome = publisher.publish(_case("checkout-addition.json"))
    assert outcome.status == "conflict" and "FORWARD" in outcome.message
    assert "new data under the old schema" in "\n".join(outcome.details)


def test_none_mode_skips_compatibility(store: SchemaStore) -> None:
    """Under NONE the tightened ADDITION is accepted (ordering still applies)."""
    publisher = Publisher(store, policy=CompatibilityPolicy({"com.acme/checkout": "NONE"}))
    publisher.publish(_case("checkout-1-0-0.json"))
    assert publisher.publish(_case("checkout-tightened.json")).status == "created"


def test_transitive_mode_checks_every_earlier_version(tmp_path: Path) -> None:
    """An ADDITION compatible with 1-1-0 but not with 1-0-0 passes BACKWARD and fails BACKWARD_TRANSITIVE."""
    base = _case("checkout-1-0-0.json")
    base["properties"]["kind"] = {"type": "string", "enum": ["a", "b"]}
    narrowed = _at(base, "1-1-0")
    narrowed["properties"]["kind"]["enum"] = ["a"]
    widened = _at(base, "1-1-1")
    widened["properties"]["kind"]["enum"] = ["a", "c"]
    for mode, expected in (("BACKWARD", "created"), ("BACKWARD_TRANSITIVE", "conflict")):
        target = open_store(tmp_path / mode)
        publisher = Publisher(target, policy=CompatibilityPolicy({"com.acme": mode}))
        assert publisher.publish(base).status == "created"
        assert publisher.publish(narrowed).status == "created"
        outcome = publisher.publish(widened)
        assert outcome.status == expected, outcome.details
        if expected == "conflict":
            assert "enum value 'b' removed" in "\n".join(outcome.details)


def test_policy_is_most_specific_first(store: SchemaStore) -> None:
    """Schema setting beats the longest vendor prefix, which beats the default; it round-trips through the store."""
    policy = CompatibilityPolicy({"com.acme": "FULL", "com.acme.web": "NONE", "com.acme/checkout": "FORWARD"})
    policy.save(store)
    loaded = CompatibilityPolicy.load(store)
    assert loaded.mode_for(SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-0")) == "FORWARD"
    assert loaded.mode_for(SchemaKey.parse("iglu:com.acme.web/page/jsonschema/1-0-0")) == "NONE"
    assert loaded.mode_for(SchemaKey.parse("iglu:com.acme/other/jsonschema/1-0-0")) == "FULL"
    assert loaded.mode_for(SchemaKey.parse("iglu:com.acmex/other/jsonschema/1-0-0")) == "BACKWARD"
    with pytest.raises(ValueError, match="one of"):
        CompatibilityPolicy({"com.acme": "SIDEWAYS"})


def test_bad_input_is_an_outcome_not_an_exception(store: SchemaStore) -> None:
    """Non-objects and self-less documents come back as invalid outcomes."""
    for document in (None, [], {"type": "object"}):
        assert Publisher(store).publish(document).status == "invalid"


def test_the_same_schema_again_is_unchanged_and_a_visibility_change_is_refused(store: SchemaStore) -> None:
    """Republishing identical content is a no-op; the same body with another visibility is still a conflict."""
    publisher = Publisher(store)
    assert publisher.publish(_case("checkout-1-0-0.json")).status == "created"
    again = publisher.publish(_case("checkout-1-0-0.json"))
    assert (again.status, again.ok, again.http_status) == ("unchanged", True, 200)
    hidden = publisher.publish(_case("checkout-1-0-0.json"), is_public=False)
    assert hidden.status == "conflict" and "same body but is public" in hidden.details[0]


def test_visibility_defaults_to_public_or_to_the_published_siblings(store: SchemaStore) -> None:
    """Without a choice a new schema is public, and a new version takes its published versions' visibility."""
    publisher = Publisher(store)
    publisher.publish(_case("checkout-1-0-0.json"), is_public=False)
    assert publisher.publish(_case("checkout-addition.json")).status == "created"
    assert [store.meta(k).is_public for k in store.list_keys()] == [False, False]
    other = _case("checkout-1-0-0.json")
    other["self"]["name"] = "refund"
    publisher.publish(other)
    assert store.meta(SchemaKey.parse("iglu:com.acme/refund/jsonschema/1-0-0")).is_public is True
