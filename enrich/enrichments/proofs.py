"""Schema verdicts proven once per shape, for entities whose shape the enrichment that builds them knows.

An enrichment builds its entities (derived contexts; the PII enrichment's pii_transformation event)
from parts it controls and from strings their schemas constrain by type alone: a cookie's value, a
user agent's family. It names the shape: what the verdict can depend on. The first entity of a
shape is validated as any other; once a validator accepted it, later entities of that shape get the
same verdict from that validator without validation. A rejected shape is never remembered: each of
its entities is validated and reported with its own values. Published schemas do not change, so a
verdict holds for as long as the validator lives, or until its resolver is invalidated (which bumps
its `generation`: someone said schemas may have changed).

A shape is `Shape(name, proofs, strings_free)`: `strings_free` says the verdict depends on no string's
content, so an entity whose strings were replaced by other strings (PII pseudonymisation) keeps it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from core.badrows import NotIgluMessage
from core.errors import IgluParseError
from core.iglu import SchemaKey
from enrich.entities import Entities, declared_uri, parse_entity, validate_entity
from registry.validator import SchemaValidator

__all__ = ["MAX_PROOFS", "Proof", "Proofs", "Shape", "Shapes", "checked_entity", "proven", "validator_generation"]

MAX_PROOFS = 4096  # shapes remembered per enrichment; beyond that, entities are validated each time


@dataclass(frozen=True, slots=True)
class Proof:
    """A validator's acceptance of every entity of one shape: what validating one returns."""

    validator: SchemaValidator  # whose verdict it is (another validator may resolve another schema)
    declared: str  # the schema URI the entities declare
    key: SchemaKey  # the key validated with (the superseding one, if any)
    uri: str  # the output entity's schema URI
    derived: tuple[dict[str, Any], ...]  # validation_info contexts validation left (a superseded schema)
    generation: int | None  # the validator's resolver generation when proven (None without one)


Proofs = dict[Hashable, Proof]  # one enrichment's proofs, by shape name


class Shape:
    """What an entity's verdict depends on (`name`), where its proof is kept, and whether strings are free.

    (A plain class, not a frozen dataclass: some are made per event, and this one is cheap to make.)
    """

    __slots__ = ("name", "proofs", "strings_free", "template")

    def __init__(self, name: Hashable, proofs: Proofs, *, strings_free: bool = False) -> None:
        self.name = name
        self.proofs = proofs
        self.strings_free = strings_free  # no string's content matters: replacing strings keeps the shape
        # What a builder that writes its entities as text keeps of this shape: the text around the strings that
        # vary (enrich/pii_event.py), with what else it depends on.
        self.template: tuple[str, list[str]] | None = None

    def __repr__(self) -> str:
        return f"Shape({self.name!r}, strings_free={self.strings_free})"


class Shapes:
    """One enrichment's shapes by name, sharing one book of proofs; at most MAX_PROOFS names are remembered
    (past that a name's shape is made afresh each time, so its entities are validated)."""

    __slots__ = ("_by_name", "proofs", "strings_free")

    def __init__(self, *, strings_free: bool = False) -> None:
        self.proofs: Proofs = {}
        self.strings_free = strings_free
        self._by_name: dict[Hashable, Shape] = {}

    def of(self, name: Hashable) -> Shape:
        shape = self._by_name.get(name)
        if shape is None:
            shape = Shape(name, self.proofs, strings_free=self.strings_free)
            if len(self._by_name) < MAX_PROOFS:
                self._by_name[name] = shape
        return shape


def checked_entity(
    sdj: Any, shape: Shape | None, validator: SchemaValidator, checked: Entities, generation: int | None
) -> tuple[SchemaKey, dict[str, Any]] | None:
    """One entity checked against its schema: (the key used, its output JSON), or None after reporting why.

    By the proof of its shape when `validator` gave one, else validated (and proven for its shape when
    accepted). The same result as validation either way. `generation` is `validator_generation(validator)`,
    read by the caller once for all the entities it checks and before validating any: a proof recorded under
    it is at worst stale (validated again), never newer than the schemas it was proven with.
    """
    if shape is not None and type(sdj) is dict and "data" in sdj:
        declared = sdj.get("schema")
        proof = proven(shape, validator, generation, declared) if type(declared) is str else None
        if proof is not None:
            if proof.derived:
                checked.derived.extend(proof.derived)
            if proof.uri is proof.declared and len(sdj) == 2:  # already the output entity: {schema, data}
                return proof.key, sdj
            return proof.key, {"schema": proof.uri, "data": sdj["data"]}
    try:
        entity = parse_entity(sdj)
    except IgluParseError as e:
        checked.errors.append(NotIgluMessage.from_parse_error(sdj, e))
        return None
    before = len(checked.derived)
    validated = validate_entity(entity, validator, checked, declared_uri(sdj))
    if validated is not None and shape is not None:
        proofs = shape.proofs
        if shape.name in proofs or len(proofs) < MAX_PROOFS:
            key, output = validated
            derived = tuple(checked.derived[before:])
            declared = sdj["schema"]
            uri = declared if output["schema"] == declared else output["schema"]
            proofs[shape.name] = Proof(validator, declared, key, uri, derived, generation)
    return validated


def proven(shape: Shape | None, validator: SchemaValidator, generation: int | None, declared: str) -> Proof | None:
    """The proof `validator` gave at `generation` for entities of `shape` declaring schema `declared`, if any:
    with it an entity of that shape passes as `{"schema": proof.uri, "data": its data}` (checked_entity)."""
    if shape is None:
        return None
    proof = shape.proofs.get(shape.name)
    if proof is None or proof.validator is not validator or proof.generation != generation:
        return None
    return proof if proof.declared == declared else None


def validator_generation(validator: SchemaValidator) -> int | None:
    """The generation of the validator's resolver (registry.validation.Validator has one), else None."""
    return getattr(getattr(validator, "resolver", None), "generation", None)
