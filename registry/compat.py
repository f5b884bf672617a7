"""Decide which SchemaVer bump a schema change needs, from what it does to the set of valid instances.

SchemaVer reads a change through the historical data: with S_old and S_new the instances each
version accepts, the change is an ADDITION when S_old ⊆ S_new (no historical instance rejected),
a MODEL when S_old ∩ S_new = ∅ (every historical instance rejected: "prevents interaction with
any historical data") and a REVISION otherwise (some rejected, some kept). Each of those claims
rests on a proof:

* S_old ⊆ S_new — a structural walk (`_compare`) lists every validation-relevant change with a
  JSON pointer, a sentence and a class, `compatible` (the old values stay valid), `breaking-for-old-data`
  (some may not) or `unknown` (pattern changed, `oneOf` changed, ...); all `compatible` proves it;
* S_old ∩ S_new = ∅ — structural rules (`_disjoint`): types that share no value, a property one side
  requires that the other forbids (`additionalProperties: false`) or types disjointly, bounds that
  leave no room, no enum value of one side valid under the other;
* an instance of S_old rejected by S_new (not an ADDITION) or accepted by it (not a MODEL) — concrete
  witnesses generated from both schemas (registry/instances.py) and validated as enrich validates.

A witness beats a rule. When the proofs leave more than one bump possible the verdict is UNSURE, and
`lowest`/`highest` say which bumps remain: publishing needs the highest, `--force` settles for the lowest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from registry.instances import generate, probes_from, validator_for

__all__ = ["Bump", "Change", "ChangeClass", "Diff", "Verdict", "allowed", "diff"]

ChangeClass = Literal["compatible", "breaking-for-old-data", "unknown"]
Bump = Literal["ADDITION", "REVISION", "MODEL"]
Verdict = Literal["ADDITION", "REVISION", "MODEL", "UNSURE"]
_RANK: dict[str, int] = {"ADDITION": 0, "REVISION": 1, "MODEL": 2}
_BUMPS: tuple[Bump, Bump, Bump] = ("ADDITION", "REVISION", "MODEL")

_METADATA = frozenset(
    {"description", "title", "self", "$schema", "$supersedes", "$supersededBy", "default", "examples", "id"}
)
_LOWER_BOUNDS = ("minimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "maxLength", "maxItems", "maxProperties")
_OPAQUE = ("$ref", "oneOf", "anyOf", "allOf", "not", "dependencies", "patternProperties")
_HANDLED = frozenset(
    {
        "type",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "additionalItems",
        "pattern",
        "format",
        "multipleOf",
        "uniqueItems",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "definitions",
        *_LOWER_BOUNDS,
        *_UPPER_BOUNDS,
        *_OPAQUE,
        *_METADATA,
    }
)
# Keywords that constrain only values of one JSON type: irrelevant where neither schema admits that type.
_FAMILY: dict[str, str] = {
    **dict.fromkeys(("minLength", "maxLength", "pattern", "format"), "string"),
    **dict.fromkeys(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"), "number"),
    **dict.fromkeys(("minItems", "maxItems", "uniqueItems", "items", "additionalItems"), "array"),
    **dict.fromkeys(
        ("minProperties", "maxProperties", "properties", "required", "additionalProperties", "patternProperties"),
        "object",
    ),
}
_WITNESSES = 3
_UNDECLARED = "undeclared_property"  # a name no schema declares: probes what open objects let through


@dataclass(frozen=True, slots=True)
class Change:
    """One validation-relevant difference between two schemas."""

    pointer: str
    description: str
    kind: ChangeClass

    def to_json(self) -> dict[str, Any]:
        return {"pointer": self.pointer, "description": self.description, "class": self.kind}


@dataclass(slots=True)
class Diff:
    """All changes from `old` to `new`, the proofs about their instance sets, the verdict and why."""

    changes: list[Change]
    counterexamples: list[dict[str, Any]] = field(default_factory=list)  # old-valid, rejected by new
    kept: list[Any] = field(default_factory=list)  # valid under both: not every historical instance breaks
    disjoint: str | None = None  # why no instance can be valid under both, when a rule proves it
    instances_tested: int = 0  # instances generated from the old schema
    instances_rejected: int = 0  # of those, how many the new schema rejects

    @property
    def subset_proven(self) -> bool:
        return all(c.kind == "compatible" for c in self.changes)

    @property
    def lowest(self) -> Bump:
        """The smallest bump the proofs leave possible."""
        if not self.counterexamples:
            return "ADDITION"  # (a disjointness proof without one rejected instance may mean the old set is empty)
        return "MODEL" if self.disjoint is not None and not self.kept else "REVISION"

    @property
    def highest(self) -> Bump:
        """The largest bump the proofs leave possible (what publishing must declare to be safe)."""
        if self.subset_proven and not self.counterexamples:
            top: Bump = "ADDITION"
        elif self.kept:
            top = "REVISION"
        else:
            top = "MODEL"
        return top if _RANK[top] >= _RANK[self.lowest] else self.lowest

    @property
    def verdict(self) -> Verdict:
        return self.lowest if self.lowest == self.highest else "UNSURE"

    @property
    def reasons(self) -> list[str]:
        out = [f"{c.pointer or '/'}: {c.description}" for c in self.changes if c.kind != "compatible"]
        if self.lowest == "MODEL" and self.disjoint is not None:
            out.append(f"no historical instance can pass the new schema: {self.disjoint}")
        for ce in self.counterexamples[:_WITNESSES]:
            out.append(
                f"an instance valid under the old schema is rejected by the new one: {_show_instance(ce['instance'])} "
                f"({_clip(ce['error'])})"
            )
        if self.kept and self.verdict in ("REVISION", "UNSURE") and self.counterexamples:
            out.append(f"an instance valid under both is kept: {_show_instance(self.kept[0])}")
        if self.verdict == "UNSURE":
            if self.lowest == "ADDITION":
                out.append("no generated instance shows old data rejected, but the changes above may reject some")
            elif self.highest == "MODEL":
                out.append(
                    f"all {self.instances_rejected} instances generated from the old schema are rejected, yet no rule "
                    "proves every historical instance is: it may need a new MODEL"
                )
            if self.counterexamples and self.lowest != "ADDITION":
                out.append("generated instances prove it is not an ADDITION")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "possible": [b for b in _BUMPS if _RANK[self.lowest] <= _RANK[b] <= _RANK[self.highest]],
            "reasons": self.reasons,
            "changes": [c.to_json() for c in self.changes],
            "disjoint": self.disjoint,
            "instancesTested": self.instances_tested,
            "instancesRejected": self.instances_rejected,
            "counterexamples": self.counterexamples[:10],
            "kept": self.kept[:_WITNESSES],
        }


def _clip(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _show_instance(instance: Any) -> str:
    """An instance for a reader: its repr, clipped (a witness may hold a string of 65536 characters)."""
    return _clip(repr(instance))


def allowed(bump: str, needed: str) -> bool:
    """Does a declared bump (ADDITION / REVISION / MODEL) cover the bump a change needs? UNSURE needs a MODEL."""
    return _RANK.get(bump, -1) >= _RANK.get(needed, _RANK["MODEL"])


def diff(old: dict[str, Any], new: dict[str, Any], *, confirm: bool = True) -> Diff:
    """What changed from `old` to `new` and the proofs about their instance sets; witnesses only when `confirm`."""
    changes: list[Change] = []
    try:
        _compare(old, new, "", changes, refs_differ=old.get("definitions") != new.get("definitions"), roots=(old, new))
    except (TypeError, ValueError, AttributeError, RecursionError) as e:
        # Malformed schemas (lint reports them): the walk cannot decide, so neither can we.
        changes.append(Change("", f"the schemas cannot be compared structurally ({type(e).__name__}: {e})", "unknown"))
    result = Diff(changes)
    try:
        result.disjoint = _disjoint(old, new, (old, new), "", 0)
    except (TypeError, ValueError, AttributeError, RecursionError):
        result.disjoint = None
    if confirm:
        _witness(result, old, new)
    return result


def _witness(result: Diff, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Validate instances generated from each schema against the other: rejections and shared instances."""
    try:
        old_instances = generate(old, probes=probes_from(new, [_UNDECLARED, *_property_names(new)]))
        new_instances = generate(new, probes=probes_from(old, [_UNDECLARED, *_property_names(old)]))
    except (TypeError, ValueError, AttributeError, RecursionError):
        old_instances, new_instances = [], []
    old_check, new_check = validator_for(old), validator_for(new)
    result.instances_tested = len(old_instances)
    seen: set[tuple[Any, ...]] = set()
    for instance in old_instances:
        try:
            errors = list(new_check.iter_errors(instance))
        except Exception as e:  # a new schema that cannot be evaluated (dangling $ref) is a finding
            result.changes.append(Change("", f"the new schema cannot be evaluated: {e}", "unknown"))
            return
        if not errors:
            if len(result.kept) < _WITNESSES:
                result.kept.append(instance)
            continue
        result.instances_rejected += 1
        # One counterexample per distinct kind of rejection (where + keyword), so each breakage is shown.
        for error in errors:
            kind = (tuple(error.absolute_path), str(error.validator))
            if kind in seen:
                continue
            seen.add(kind)
            where = "/" + "/".join(str(p) for p in error.absolute_path)
            result.counterexamples.append({"instance": instance, "error": f"{where}: {error.message}"})
    if not result.counterexamples or result.kept:
        return  # nothing rejected (no MODEL to rule out), or already ruled out
    for instance in new_instances:
        if _shared(old_check, new_check, instance):
            result.kept.append(instance)
            return
    if result.disjoint is None:  # (a proven disjointness cannot have a shared instance: skip the search)
        for instance in _merged(old_instances, new_instances):
            if _shared(old_check, new_check, instance):
                result.kept.append(instance)
                return


def _shared(old_check: Any, new_check: Any, instance: Any) -> bool:
    try:
        return bool(old_check.is_valid(instance) and new_check.is_valid(instance))
    except Exception:  # a schema that cannot be evaluated shares nothing we can show
        return False


def _merged(old_instances: list[Any], new_instances: list[Any], width: int = 16) -> list[dict[str, Any]]:
    """Objects carrying what both sides ask for (an old instance's properties over a new one's, and the reverse)."""
    olds = [i for i in old_instances if isinstance(i, dict)][:width]
    news = [i for i in new_instances if isinstance(i, dict)][:width]
    return [m for o in olds for n in news for m in ({**n, **o}, {**o, **n})]


def _property_names(schema: Any, out: set[str] | None = None, depth: int = 0) -> list[str]:
    """Every property name a schema declares anywhere: names to probe as undeclared ones in the other schema."""
    names = set() if out is None else out
    if depth < 12:
        if isinstance(schema, dict):
            props = schema.get("properties")
            if isinstance(props, dict):
                names.update(k for k in props if isinstance(k, str))
            required = schema.get("required")
            if isinstance(required, list):
                names.update(k for k in required if isinstance(k, str))
            for value in schema.values():
                _property_names(value, names, depth + 1)
        elif isinstance(schema, list):
            for value in schema:
                _property_names(value, names, depth + 1)
    return sorted(names)


def _types(schema: dict[str, Any]) -> set[str] | None:
    t = schema.get("type")
    if t is None:
        return None
    return {t} if isinstance(t, str) else {x for x in t if isinstance(x, str)}


def _show(types: set[str] | None) -> str:
    if types is None:
        return "any"
    return sorted(types)[0] if len(types) == 1 else "[" + ",".join(sorted(types)) + "]"


def _covered(old: set[str], new: set[str]) -> bool:
    return all(t in new or (t == "integer" and "number" in new) for t in old)


def _overlap(old: set[str], new: set[str]) -> bool:
    return any(t in new or (t == "integer" and "number" in new) or (t == "number" and "integer" in new) for t in old)


def _admits(types: set[str] | None, family: str) -> bool:
    """Can a node with these types hold a value of this family (number covers integer)?"""
    if types is None:
        return True
    return family in types or (family == "number" and "integer" in types)


Roots = tuple[dict[str, Any], dict[str, Any]]


def _compare(old: Any, new: Any, ptr: str, out: list[Change], *, refs_differ: bool, roots: Roots) -> None:
    if old == new:
        if refs_differ and _mentions_ref(old):
            out.append(Change(ptr, "a $ref here points into definitions that changed", "unknown"))
        return
    if not isinstance(old, dict) or not isinstance(new, dict):
        out.append(Change(ptr, "subschema changed shape", "unknown"))
        return
    if isinstance(old.get("enum"), list) and "$ref" not in old and _compare_old_enum(old, new, ptr, out, roots):
        return
    # Keywords of a type neither side admits constrain nothing both could hold (e.g. maxLength on an integer).
    shared = [f for f in ("string", "number", "array", "object") if _admits(_types(old), f) and _admits(_types(new), f)]
    old_r = {k: v for k, v in old.items() if _FAMILY.get(k, "") in ("", *shared)}
    new_r = {k: v for k, v in new.items() if _FAMILY.get(k, "") in ("", *shared)}
    _compare_types(old, new, ptr, out)
    _compare_enum(old_r, new_r, ptr, out)
    _compare_bounds(old_r, new_r, ptr, out)
    _compare_simple(old_r, new_r, ptr, out)
    _compare_object(old_r, new_r, ptr, out, refs_differ=refs_differ, roots=roots)
    _compare_array(old_r, new_r, ptr, out, refs_differ=refs_differ, roots=roots)
    for keyword in _OPAQUE:
        if old_r.get(keyword) != new_r.get(keyword):
            out.append(
                Change(f"{ptr}/{keyword}", f"{keyword} changed; its effect cannot be decided structurally", "unknown")
            )
    for keyword in sorted((set(old_r) | set(new_r)) - _HANDLED):
        if old_r.get(keyword) != new_r.get(keyword):
            out.append(Change(f"{ptr}/{keyword}", f"unrecognised keyword {keyword!r} changed", "unknown"))


def _compare_old_enum(old: dict[str, Any], new: dict[str, Any], ptr: str, out: list[Change], roots: Roots) -> bool:
    """An old enum makes the old values a finite list: decide exactly by validating each. False when it cannot."""
    try:
        old_check = validator_for(_in_root(old, roots[0]))
        new_check = validator_for(_in_root(new, roots[1]))
        values = [v for v in old["enum"] if old_check.is_valid(v)]
        rejected = [v for v in values if not new_check.is_valid(v)]
    except Exception:  # a node that cannot be evaluated on its own (dangling $ref): the walk decides
        return False
    new_enum = new.get("enum") if isinstance(new.get("enum"), list) else None
    for v in rejected:
        text = f"enum value {v!r} removed" if new_enum is not None and v not in new_enum else None
        out.append(Change(f"{ptr}/enum", text or f"old enum value {v!r} is rejected", "breaking-for-old-data"))
    for v in new_enum or []:
        if v not in old["enum"]:
            out.append(Change(f"{ptr}/enum", f"enum value {v!r} added", "compatible"))
    if not rejected:
        out.append(Change(f"{ptr}/enum", f"every old enum value {values!r} is still accepted", "compatible"))
    return True


def _admits_nothing(sub: Any, root: dict[str, Any]) -> bool:
    """Provably no value passes `sub`: an enum none of whose values passes the rest of it."""
    if not isinstance(sub, dict) or not isinstance(sub.get("enum"), list) or "$ref" in sub:
        return False
    try:
        check = validator_for(_in_root(sub, root))
        return not any(check.is_valid(v) for v in sub["enum"])
    except Exception:  # cannot be evaluated on its own: claim nothing
        return False


def _in_root(sub: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """A subschema with its document's definitions, so its local `$ref`s resolve on their own."""
    defs = root.get("definitions")
    return {**sub, "definitions": defs} if isinstance(defs, dict) and "definitions" not in sub else sub


def _mentions_ref(value: Any) -> bool:
    if isinstance(value, dict):
        return "$ref" in value or any(_mentions_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_ref(v) for v in value)
    return False


def _compare_types(old: dict[str, Any], new: dict[str, Any], ptr: str, out: list[Change]) -> None:
    ot, nt = _types(old), _types(new)
    if ot == nt:
        return
    text = f"type {{}} from {_show(ot)} to {_show(nt)}"
    if nt is None or (ot is not None and _covered(ot, nt)):
        out.append(Change(f"{ptr}/type", text.format("widened"), "compatible"))
    elif ot is None or _overlap(ot, nt):
        out.append(Change(f"{ptr}/type", text.format("narrowed"), "breaking-for-old-data"))
    else:
        out.append(Change(f"{ptr}/type", text.format("changed"), "breaking-for-old-data"))


def _compare_enum(old: dict[str, Any], new: dict[str, Any], ptr: str, out: list[Change]) -> None:
    oe, ne = old.get("enum"), new.get("enum")
    if oe == ne:
        return
    if not isinstance(oe, list | None) or not isinstance(ne, list | None):
        out.append(Change(f"{ptr}/enum", "enum is not a list", "unknown"))
        return
    if ne is None:
        out.append(Change(f"{ptr}/enum", "enum removed", "compatible"))
    elif oe is None:
        out.append(Change(f"{ptr}/enum", f"enum {ne!r} added", "breaking-for-old-data"))
    else:
        removed = [v for v in oe if v not in ne]
        added = [v for v in ne if v not in oe]
        for v in removed:
            out.append(Change(f"{ptr}/enum", f"enum value {v!r} removed", "breaking-for-old-data"))
        for v in added:
            out.append(Change(f"{ptr}/enum", f"enum value {v!r} added", "compatible"))


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _compare_bounds(old: dict[str, Any], new: dict[str, Any], ptr: str, out: list[Change]) -> None:
    for keyword, lower in [(k, True) for k in _LOWER_BOUNDS] + [(k, False) for k in _UPPER_BOUNDS]:
        ov, nv = old.get(keyword), new.get(keyword)
        if ov == nv:
            continue
        where = f"{ptr}/{keyword}"
        if nv is None:
            out.append(Change(where, f"{keyword} {ov} removed", "compatible"))
        elif ov is None:
            out.append(Change(where, f"{keyword} {nv} added", "breaking-for-old-data"))
        elif not (_num(ov) and _num(nv)):
            out.append(Change(where, f"{keyword} changed from {ov!r} to {nv!r}", "unknown"))
        else:
            tighter = nv > ov if lower else nv < ov
            verb = ("raised" if nv > ov else "lowered") + f" {ov} → {nv}"
            out.append(Change(where, f"{keyword} {verb}", "breaking-for-old-data" if tighter else "compatible"))
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        of, nf = bool(old.get(flag)), bool(new.get(flag))
        if of != nf and new.get(bound) is not None:
            same = old.get(bound) == new.get(bound)
            kind: ChangeClass = "breaking-for-old-data" if nf and same else "compatible" if same else "unknown"
            if not same and nf:
                kind = "breaking-for-old-data" if not _looser(old, new, bound) else "unknown"
            out.append(Change(f"{ptr}/{flag}", f"{flag} changed to {str(nf).lower()}", kind))


def _looser(old: dict[str, Any], new: dict[str, Any], bound: str) -> bool:
    ov, nv = old.get(bound), new.get(bound)
    if not (isinstance(ov, int | float) and isinstance(nv, int | float)):
        return False
    return bool(nv < ov) if bound == "minimum" else bool(nv > ov)


def _compare_simple(old: dict[str, Any], new: dict[str, Any], ptr: str, out: list[Change]) -> None:
    for keyword in ("pattern", "format"):
        ov, nv = old.get(keyword), new.get(keyword)
        if ov == nv:
            continue
        if nv is None:
            out.append(Change(f"{ptr}/{keyword}", f"{keyword} {ov!r} removed", "compatible"))
        elif ov is None:
            out.append(Change(f"{ptr}/{keyword}", f"{keyword} {nv!r} added", "breaking-for-old-data"))
        else:
            out.append(Change(f"{ptr}/{keyword}", f"{keyword} changed from {ov!r} to {nv!r}", "unknown"))
    om, nm = old.get("multipleOf"), new.get("multipleOf")
    if om != nm:
        if nm is None:
            out.append(Change(f"{ptr}/multipleOf", f"multipleOf {om} removed", "compatible"))
        elif om is None:
            out.append(Change(f"{ptr}/multipleOf", f"multipleOf {nm} added", "breaking-for-old-data"))
        elif isinstance(om, int) and isinstance(nm, int) and nm > 0 and om % nm == 0:
            out.append(Change(f"{ptr}/multipleOf", f"multipleOf relaxed {om} → {nm}", "compatible"))
        else:
            # Decimal multiples of fractions (0.3 of 0.1) are not decided here: the witnesses are.
            out.append(Change(f"{ptr}/multipleOf", f"multipleOf changed {om} → {nm}", "breaking-for-old-data"))
    if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
        kind: ChangeClass = "breaking-for-old-data" if new.get("uniqueItems") else "compatible"
        out.append(
            Change(f"{ptr}/uniqueItems", f"uniqueItems changed to {str(bool(new.get('uniqueItems'))).lower()}", kind)
        )


def _pattern_match(schema: dict[str, Any], name: str) -> bool | None:
    """Does a patternProperties regex of `schema` cover `name`? None when a pattern cannot be compiled."""
    import re

    patterns = schema.get("patternProperties")
    if not isinstance(patterns, dict):
        return False
    for pattern in patterns:
        try:
            if re.search(pattern, name):
                return True
        except re.error:
            return None
    return False


def _compare_object(
    old: dict[str, Any], new: dict[str, Any], ptr: str, out: list[Change], *, refs_differ: bool, roots: Roots
) -> None:
    oreq = _names(old.get("required"))
    nreq = _names(new.get("required"))
    for name in sorted(nreq - oreq):
        out.append(Change(f"{ptr}/required", f"property {name!r} added to required", "breaking-for-old-data"))
    for name in sorted(oreq - nreq):
        out.append(Change(f"{ptr}/required", f"property {name!r} no longer required", "compatible"))
    oprops: dict[str, Any] = old["properties"] if isinstance(old.get("properties"), dict) else {}
    nprops: dict[str, Any] = new["properties"] if isinstance(new.get("properties"), dict) else {}
    oap, nap = old.get("additionalProperties", True), new.get("additionalProperties", True)
    if old.get("maxProperties") == 0 and not isinstance(old.get("maxProperties"), bool):
        oap = False  # an object that may hold no property holds no undeclared one either
    for name in sorted(set(oprops) | set(nprops)):
        p = f"{ptr}/properties/{name.replace('~', '~0').replace('/', '~1')}"
        if name in oprops and name in nprops:
            _compare(oprops[name], nprops[name], p, out, refs_differ=refs_differ, roots=roots)
        elif name in nprops:
            if _pattern_match(old, name) is not False:
                out.append(Change(p, f"property {name!r} added where old patternProperties may cover it", "unknown"))
            elif oap is False:
                out.append(Change(p, f"property {name!r} added", "compatible"))
            else:
                # The old schema let any undeclared property through: historical data may already carry this
                # name in another shape, so the new declaration is compared with what the old one allowed.
                text = f"property {name!r} added (old schema allowed undeclared properties)"
                out.append(Change(p, text, "compatible"))
                before = oap if isinstance(oap, dict) else {}
                _compare(before, nprops[name], p, out, refs_differ=refs_differ, roots=roots)
        elif _pattern_match(new, name) is not False:
            out.append(Change(p, f"property {name!r} removed where new patternProperties may cover it", "unknown"))
        elif nap is False:
            if _admits_nothing(oprops[name], roots[0]):
                out.append(
                    Change(p, f"property {name!r} removed; the old schema admitted no value for it", "compatible")
                )
            else:
                text = f"property {name!r} removed while additionalProperties is false"
                out.append(Change(p, text, "breaking-for-old-data"))
        elif isinstance(nap, dict):
            _compare(oprops[name], nap, p, out, refs_differ=refs_differ, roots=roots)
        else:
            out.append(Change(p, f"property {name!r} removed (still allowed as an undeclared property)", "compatible"))
    if oap != nap:
        where = f"{ptr}/additionalProperties"
        if nap is False:
            out.append(Change(where, "additionalProperties changed to false", "breaking-for-old-data"))
        elif nap is True or nap == {}:
            out.append(Change(where, "additionalProperties relaxed to true", "compatible"))
        elif oap is False:
            out.append(Change(where, "additionalProperties relaxed from false to a schema", "compatible"))
        elif oap is True:
            out.append(Change(where, "additionalProperties restricted to a schema", "breaking-for-old-data"))
        else:
            _compare(oap, nap, where, out, refs_differ=refs_differ, roots=roots)


def _names(value: Any) -> set[str]:
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _compare_array(
    old: dict[str, Any], new: dict[str, Any], ptr: str, out: list[Change], *, refs_differ: bool, roots: Roots
) -> None:
    oi, ni = old.get("items"), new.get("items")
    if oi != ni:
        if ni is None or ni == {}:
            out.append(Change(f"{ptr}/items", "items constraint removed", "compatible"))
        elif oi is None:
            out.append(Change(f"{ptr}/items", "items constraint added", "breaking-for-old-data"))
        elif isinstance(oi, dict) and isinstance(ni, dict):
            _compare(oi, ni, f"{ptr}/items", out, refs_differ=refs_differ, roots=roots)
        else:
            out.append(Change(f"{ptr}/items", "tuple items changed", "unknown"))
    if old.get("additionalItems", True) != new.get("additionalItems", True):
        out.append(Change(f"{ptr}/additionalItems", "additionalItems changed", "unknown"))


# Disjointness: rules that prove no value satisfies both subschemas. Each rule may ignore keywords (that only
# shrinks the real sets), so a proof on the keywords it reads holds for the whole schemas.

_KINDS = ("null", "boolean", "integer", "fraction", "string", "array", "object")
_EMPTY = "empty"  # the subschema admits no value (a property additionalProperties: false forbids)


def _kinds(schema: dict[str, Any]) -> set[str]:
    types = _types(schema)
    if types is None:
        return set(_KINDS)
    out: set[str] = set()
    for t in types:
        out |= {"integer", "fraction"} if t == "number" else {t} if t in _KINDS else set()
    return out


def _resolve(schema: Any, root: dict[str, Any], depth: int) -> Any:
    """Follow local `$ref`s (draft-04: a `$ref` replaces its siblings); None when one cannot be followed."""
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if depth > 20 or not isinstance(ref, str) or not ref.startswith("#"):
            return None
        target: Any = root
        for part in [p for p in ref[1:].split("/") if p]:
            target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, dict) else None
        schema, depth = target, depth + 1
    return schema


def _disjoint(a: Any, b: Any, roots: Roots, ptr: str, depth: int) -> str | None:
    """Why no value is valid under both `a` (old) and `b` (new), or None when no rule proves it."""
    if depth > 24:
        return None
    a, b = _resolve(a, roots[0], depth), _resolve(b, roots[1], depth)
    if a is False or a == _EMPTY:
        return f"{ptr or '/'}: the old schema allows no value here"
    if b is False or b == _EMPTY:
        return f"{ptr or '/'}: the new schema allows no value here"
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    reason = _enum_disjoint("old", a, b, roots, ptr) or _enum_disjoint("new", b, a, (roots[1], roots[0]), ptr)
    if reason:
        return reason
    reason = _combinators_disjoint(a, b, roots, ptr, depth, old_side=True) or _combinators_disjoint(
        b, a, roots, ptr, depth, old_side=False
    )
    if reason:
        return reason
    common = _kinds(a) & _kinds(b)
    if not common:
        return f"{ptr or '/'}: type {_show(_types(a))} and type {_show(_types(b))} share no value"
    reasons = []
    for kind in sorted(common):
        reason = _kind_disjoint(kind, a, b, roots, ptr=ptr, depth=depth)
        if reason is None:
            return None
        reasons.append(reason)
    return "; ".join(dict.fromkeys(reasons))


def _combinators_disjoint(
    this: dict[str, Any], other: dict[str, Any], roots: Roots, ptr: str, depth: int, *, old_side: bool
) -> str | None:
    """`this` admits no value of `other` when one allOf part does not, or when no anyOf/oneOf branch does."""

    def apart(sub: Any) -> str | None:
        if old_side:
            return _disjoint(sub, other, roots, ptr, depth + 1)
        return _disjoint(other, sub, roots, ptr, depth + 1)

    parts = this.get("allOf")
    if isinstance(parts, list):
        for part in parts:
            reason = apart(part)
            if reason:
                return reason
    for keyword in ("anyOf", "oneOf"):
        branches = this.get(keyword)
        if isinstance(branches, list) and branches:
            rest = {k: v for k, v in this.items() if k != keyword}
            reasons = [apart({**rest, **branch} if isinstance(branch, dict) else branch) for branch in branches]
            if all(reasons):
                return f"{ptr or '/'}: no {keyword} branch shares a value ({reasons[0]})"
    return None


def _enum_disjoint(side: str, this: dict[str, Any], other: dict[str, Any], roots: Roots, ptr: str) -> str | None:
    """An enum lists every value its side admits: disjoint when none of them passes both schemas."""
    values = this.get("enum")
    if not isinstance(values, list):
        return None
    try:
        this_check = validator_for(_in_root(this, roots[0]))
        other_check = validator_for(_in_root(other, roots[1]))
        if any(this_check.is_valid(v) and other_check.is_valid(v) for v in values):
            return None
    except Exception:  # cannot be evaluated on its own: no proof
        return None
    return f"{ptr or '/'}: no value of the {side} enum {values!r} is valid under the other schema"


def _interval(a: dict[str, Any], b: dict[str, Any], low: str, high: str) -> tuple[float, bool, float, bool]:
    """The intersection of two schemas' bounds: (lo, lo exclusive, hi, hi exclusive)."""
    lo, lo_x, hi, hi_x = -math.inf, False, math.inf, False
    for s in (a, b):
        v, w = s.get(low), s.get(high)
        if isinstance(v, int | float) and _num(v) and (v > lo or (v == lo and s.get("exclusiveMinimum") is True)):
            lo, lo_x = v, low == "minimum" and s.get("exclusiveMinimum") is True
        if isinstance(w, int | float) and _num(w) and (w < hi or (w == hi and s.get("exclusiveMaximum") is True)):
            hi, hi_x = w, high == "maximum" and s.get("exclusiveMaximum") is True
    return lo, lo_x, hi, hi_x


def _count_empty(a: dict[str, Any], b: dict[str, Any], low: str, high: str) -> bool:
    lo, _, hi, _ = _interval(a, b, low, high)
    return lo > hi


def _kind_disjoint(
    kind: str, a: dict[str, Any], b: dict[str, Any], roots: Roots, *, ptr: str, depth: int
) -> str | None:
    """Do `a` and `b` share no value of one kind (integer, fraction, string, array, object)?"""
    where = ptr or "/"
    if kind in ("integer", "fraction"):
        lo, lo_x, hi, hi_x = _interval(a, b, "minimum", "maximum")
        if lo > hi or (lo == hi and (lo_x or hi_x)):
            empty = True
        elif kind == "integer" and math.isfinite(lo) and math.isfinite(hi):
            first = math.floor(lo) + 1 if lo_x or lo != math.floor(lo) else math.floor(lo)
            last = math.ceil(hi) - 1 if hi_x or hi != math.ceil(hi) else math.ceil(hi)
            empty = first > last
        else:
            empty = False  # a float such as 2.0 is a "number" value but not a draft-04 integer
        return f"{where}: the numeric bounds of old and new leave no common {kind} value" if empty else None
    if kind == "string":
        if _count_empty(a, b, "minLength", "maxLength"):
            return f"{where}: the length bounds of old and new leave no common string"
        return None
    if kind == "array":
        if _count_empty(a, b, "minItems", "maxItems"):
            return f"{where}: the item-count bounds of old and new leave no common array"
        ia, ib = a.get("items"), b.get("items")
        least = max(v for v in (a.get("minItems"), b.get("minItems"), 0) if isinstance(v, int))
        if least >= 1 and isinstance(ia, dict) and isinstance(ib, dict):
            reason = _disjoint(ia, ib, roots, f"{ptr}/items", depth + 1)
            if reason:
                return f"{where}: arrays need an item and {reason}"
        return None
    if kind == "object":
        if _count_empty(a, b, "minProperties", "maxProperties"):
            return f"{where}: the property-count bounds of old and new leave no common object"
        required = sorted(_names(a.get("required")) | _names(b.get("required")))
        ceiling = min((v for v in (a.get("maxProperties"), b.get("maxProperties")) if isinstance(v, int)), default=None)
        if ceiling is not None and len(required) > ceiling:
            return f"{where}: {len(required)} required properties exceed maxProperties {ceiling}"
        for name in required:
            p = f"{ptr}/properties/{name.replace('~', '~0').replace('/', '~1')}"
            sa, sb = _property_schema(a, name), _property_schema(b, name)
            if _EMPTY in (sa, sb):
                side = "old" if sa == _EMPTY else "new"
                other = "new" if side == "old" else "old"
                return (
                    f"{p}: property {name!r} is required by the {other} schema but the {side} one does not allow it "
                    "(additionalProperties: false)"
                )
            reason = _disjoint(sa, sb, roots, p, depth + 1)
            if reason:
                return reason
        return None
    return None  # null and boolean values have no keywords of their own to conflict on


def _property_schema(schema: dict[str, Any], name: str) -> Any:
    """What a schema demands of property `name` when present: its subschema, {} or _EMPTY (forbidden)."""
    props = schema.get("properties")
    if isinstance(props, dict) and name in props:
        return props[name]
    if _pattern_match(schema, name) is not False:
        return {}  # patternProperties (or an uncompilable one) may cover it: claim nothing
    extra = schema.get("additionalProperties", True)
    if extra is False:
        return _EMPTY
    return extra if isinstance(extra, dict) else {}
