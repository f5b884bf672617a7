"""Decide which SchemaVer bump a schema change needs: a structural diff, confirmed on generated instances.

`diff(old, new)` walks both schemas side by side and lists every validation-relevant change with a
JSON pointer, a sentence and a class:

* `compatible` — everything the old schema accepted is still accepted here (added optional
  property, widened type, relaxed bound, extended enum, ...);
* `breaking-for-old-data` — some old-valid data is now rejected (new required property, narrowed
  type, lowered maxLength, removed enum value, additionalProperties set to false, ...); when the
  old and new types share nothing at all the change needs a new MODEL;
* `unknown` — the walk cannot tell (pattern changed, `$ref`, `oneOf`/`anyOf`/`allOf`/`not` changed).

The verdict is ADDITION (nothing breaks), REVISION (some old data breaks), MODEL (a type changed to a
disjoint one) or UNSURE (something unknown). It is then tested: instances generated from the old
schema (registry/instances.py) are validated against the new one, and any rejection proves the
change is not an ADDITION even if the walk missed why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from jsonschema import Draft4Validator

from registry.instances import generate

__all__ = ["Change", "ChangeClass", "Diff", "Verdict", "allowed", "diff"]

ChangeClass = Literal["compatible", "breaking-for-old-data", "unknown"]
Verdict = Literal["ADDITION", "REVISION", "MODEL", "UNSURE"]

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


@dataclass(frozen=True, slots=True)
class Change:
    """One validation-relevant difference between two schemas."""

    pointer: str
    description: str
    kind: ChangeClass
    model_breaking: bool = False  # old and new share no value at this point: needs a new MODEL

    def to_json(self) -> dict[str, Any]:
        return {
            "pointer": self.pointer,
            "description": self.description,
            "class": self.kind,
            "modelBreaking": self.model_breaking,
        }


@dataclass(slots=True)
class Diff:
    """All changes from `old` to `new`, the verdict and why."""

    changes: list[Change]
    counterexamples: list[dict[str, Any]] = field(default_factory=list)
    instances_tested: int = 0

    @property
    def verdict(self) -> Verdict:
        if any(c.kind == "unknown" for c in self.changes):
            return "UNSURE"
        if any(c.model_breaking for c in self.changes):
            return "MODEL"
        if any(c.kind == "breaking-for-old-data" for c in self.changes) or self.counterexamples:
            return "REVISION"
        return "ADDITION"

    @property
    def reasons(self) -> list[str]:
        out = [f"{c.pointer or '/'}: {c.description}" for c in self.changes if c.kind != "compatible"]
        for ce in self.counterexamples[:3]:
            out.append(
                f"an instance valid under the old schema is rejected by the new one: {ce['instance']!r} ({ce['error']})"
            )
        if self.verdict == "UNSURE" and self.counterexamples:
            out.append("generated instances prove it is not an ADDITION")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": self.reasons,
            "changes": [c.to_json() for c in self.changes],
            "instancesTested": self.instances_tested,
            "counterexamples": self.counterexamples[:10],
        }


def allowed(bump: str, verdict: Verdict) -> bool:
    """Does a declared bump (ADDITION / REVISION / MODEL) cover a verdict? UNSURE is never an ADDITION."""
    if bump == "MODEL":
        return True
    if bump == "REVISION":
        return verdict in ("ADDITION", "REVISION", "UNSURE")
    return verdict == "ADDITION"


def diff(old: dict[str, Any], new: dict[str, Any], *, confirm: bool = True) -> Diff:
    """Structural diff from `old` to `new`, confirmed with instances generated from `old` when `confirm`."""
    changes: list[Change] = []
    try:
        _compare(old, new, "", changes, refs_differ=old.get("definitions") != new.get("definitions"))
    except (TypeError, ValueError, AttributeError, RecursionError) as e:
        # Malformed schemas (lint reports them): the walk cannot decide, so neither can we.
        changes.append(Change("", f"the schemas cannot be compared structurally ({type(e).__name__}: {e})", "unknown"))
    result = Diff(changes)
    if confirm:
        try:
            instances = generate(old)
        except (TypeError, ValueError, AttributeError, RecursionError):
            instances = []
        result.instances_tested = len(instances)
        validator = Draft4Validator({k: v for k, v in new.items() if k not in _METADATA}) if instances else None
        seen: set[tuple[Any, ...]] = set()
        for instance in instances:
            assert validator is not None
            try:
                errors = list(validator.iter_errors(instance))
            except Exception as e:  # a new schema that cannot be evaluated (dangling $ref) is a finding
                result.changes.append(Change("", f"the new schema cannot be evaluated: {e}", "unknown"))
                break
            # One counterexample per distinct kind of rejection (where + keyword), so each breakage is shown.
            for error in errors:
                kind = (tuple(error.absolute_path), str(error.validator))
                if kind in seen:
                    continue
                seen.add(kind)
                where = "/" + "/".join(str(p) for p in error.absolute_path)
                result.counterexamples.append({"instance": instance, "error": f"{where}: {error.message}"})
    return result


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


def _compare(old: Any, new: Any, ptr: str, out: list[Change], *, refs_differ: bool) -> None:
    if old == new:
        if refs_differ and _mentions_ref(old):
            out.append(Change(ptr, "a $ref here points into definitions that changed", "unknown"))
        return
    if not isinstance(old, dict) or not isinstance(new, dict):
        out.append(Change(ptr, "subschema changed shape", "unknown"))
        return
    _compare_types(old, new, ptr, out)
    _compare_enum(old, new, ptr, out)
    _compare_bounds(old, new, ptr, out)
    _compare_simple(old, new, ptr, out)
    _compare_object(old, new, ptr, out, refs_differ=refs_differ)
    _compare_array(old, new, ptr, out, refs_differ=refs_differ)
    for keyword in _OPAQUE:
        if old.get(keyword) != new.get(keyword):
            out.append(
                Change(f"{ptr}/{keyword}", f"{keyword} changed; its effect cannot be decided structurally", "unknown")
            )
    for keyword in sorted((set(old) | set(new)) - _HANDLED):
        if old.get(keyword) != new.get(keyword):
            out.append(Change(f"{ptr}/{keyword}", f"unrecognised keyword {keyword!r} changed", "unknown"))


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
        out.append(Change(f"{ptr}/type", text.format("changed"), "breaking-for-old-data", model_breaking=True))


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
        elif _num(om) and _num(nm) and om % nm == 0:
            out.append(Change(f"{ptr}/multipleOf", f"multipleOf relaxed {om} → {nm}", "compatible"))
        else:
            out.append(Change(f"{ptr}/multipleOf", f"multipleOf changed {om} → {nm}", "breaking-for-old-data"))
    if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
        kind: ChangeClass = "breaking-for-old-data" if new.get("uniqueItems") else "compatible"
        out.append(
            Change(f"{ptr}/uniqueItems", f"uniqueItems changed to {str(bool(new.get('uniqueItems'))).lower()}", kind)
        )


def _compare_object(
    old: dict[str, Any], new: dict[str, Any], ptr: str, out: list[Change], *, refs_differ: bool
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
    for name in sorted(set(oprops) | set(nprops)):
        p = f"{ptr}/properties/{name.replace('~', '~0').replace('/', '~1')}"
        if name in oprops and name in nprops:
            _compare(oprops[name], nprops[name], p, out, refs_differ=refs_differ)
        elif name in nprops:
            if oap is False:
                out.append(Change(p, f"property {name!r} added", "compatible"))
            elif isinstance(oap, dict):
                _compare(oap, nprops[name], p, out, refs_differ=refs_differ)
            elif nprops[name] in ({}, True):
                out.append(Change(p, f"property {name!r} added", "compatible"))
            else:
                # Iglu counts a new optional property as an ADDITION; strictly, old data could carry an undeclared
                # property of that name with another shape, which the generated instances cannot show.
                out.append(
                    Change(p, f"property {name!r} added (old schema allowed undeclared properties)", "compatible")
                )
        elif nap is False:
            out.append(
                Change(p, f"property {name!r} removed while additionalProperties is false", "breaking-for-old-data")
            )
        elif isinstance(nap, dict):
            _compare(oprops[name], nap, p, out, refs_differ=refs_differ)
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
            _compare(oap, nap, where, out, refs_differ=refs_differ)


def _names(value: Any) -> set[str]:
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _compare_array(old: dict[str, Any], new: dict[str, Any], ptr: str, out: list[Change], *, refs_differ: bool) -> None:
    oi, ni = old.get("items"), new.get("items")
    if oi != ni:
        if ni is None or ni == {}:
            out.append(Change(f"{ptr}/items", "items constraint removed", "compatible"))
        elif oi is None:
            out.append(Change(f"{ptr}/items", "items constraint added", "breaking-for-old-data"))
        elif isinstance(oi, dict) and isinstance(ni, dict):
            _compare(oi, ni, f"{ptr}/items", out, refs_differ=refs_differ)
        else:
            out.append(Change(f"{ptr}/items", "tuple items changed", "unknown"))
    if old.get("additionalItems", True) != new.get("additionalItems", True):
        out.append(Change(f"{ptr}/additionalItems", "additionalItems changed", "unknown"))
