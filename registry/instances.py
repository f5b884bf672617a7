"""Generate valid instances of a JSON Schema, edge values first, to test compatibility verdicts on real data.

Deterministic (no randomness): for each subschema it lists candidate values — enum members, both
ends of numeric and length bounds, `null` where allowed, format samples, every optional property
present and absent — combines them into objects and arrays, and keeps only what the schema itself
accepts (draft-04). If the old schema accepts an instance the new one rejects, the change is not an
ADDITION, whatever the structural diff said. Patterns are met by trying a fixed set of typical
strings, so a schema with exotic patterns may yield few instances (`generate` then returns fewer).
`probes` (from another schema, `probes_from`) add what that schema makes interesting: objects that
allow undeclared properties get its property names holding values of every JSON type (historical
data may carry them in any shape), strings and numbers get lengths and values just past its bounds.
Validation is enrich's (`validator_for`): draft-04, checked formats, decimal `multipleOf`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft4Validator

from registry.patterns import PatternTimeout, matcher

__all__ = ["Probes", "accepts", "candidates", "generate", "probes_from", "validator_for"]

_FORMAT_SAMPLES: dict[str, list[str]] = {
    "date-time": ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123+01:00"],
    "date": ["2024-01-02"],
    "email": ["someone@example.com"],
    "hostname": ["example.com"],
    "ipv4": ["192.0.2.1"],
    "ipv6": ["2001:db8::1"],
    "uri": ["https://example.com/path?q=1"],
    "uuid": ["123e4567-e89b-42d3-a456-426614174000"],
}
_STRING_SAMPLES = [
    "a",
    "abc",
    "ABC",
    "1",
    "1-0-0",
    "a.b",
    "a_b-c",
    "x y",
    "123e4567-e89b-42d3-a456-426614174000",
    "iglu:com.acme/event/jsonschema/1-0-0",
    "https://example.com",
    "2024-01-02T03:04:05Z",
]
_MAX_PER_NODE = 24
_MAX_AT_ROOT = 400
_MAX_STRING = 512
_PROBE_VALUES: list[Any] = [None, "a", 0, 1.5, True, [], {}]
_MAX_PROBES = 8
_MAX_PROBE_STRING = 1 << 17  # past a Redshift-sized maxLength (65535), still cheap to validate


def validator_for(schema: dict[str, Any]) -> Any:
    """The validator enrich uses for `schema` (Iglu metadata stripped, checked formats, decimal multipleOf).

    Its registry retrieves nothing: without one, jsonschema would fetch an `http(s)://` `$ref` itself.
    """
    import referencing

    from registry.schema_compiler import FORMAT_CHECKER, IgluDraft4Validator, validation_schema

    nothing: referencing.Registry[Any] = referencing.Registry()
    return IgluDraft4Validator(validation_schema(schema), registry=nothing, format_checker=FORMAT_CHECKER)


@dataclass(frozen=True, slots=True)
class Probes:
    """Values another schema makes interesting: its property names, and lengths and numbers just past its bounds."""

    names: tuple[str, ...] = ()
    lengths: tuple[int, ...] = ()
    numbers: tuple[float, ...] = ()


_NO_PROBES = Probes()


def probes_from(other: Any, names: list[str]) -> Probes:
    """Probes for instances meant to test `other`: `names`, and each of its bounds crossed by one."""
    lengths: set[int] = set()
    numbers: set[float] = set()

    def walk(node: Any, depth: int) -> None:
        if depth > 12:
            return
        if isinstance(node, dict):
            for keyword, step in (("maxLength", 1), ("minLength", -1)):
                bound = node.get(keyword)
                if isinstance(bound, int) and not isinstance(bound, bool) and 0 <= bound + step <= _MAX_PROBE_STRING:
                    lengths.add(bound + step)
            for keyword, step in (("maximum", 1), ("minimum", -1)):
                bound = node.get(keyword)
                if isinstance(bound, int | float) and not isinstance(bound, bool):
                    numbers.update((bound + step, bound + step / 2))
            for value in node.values():
                walk(value, depth + 1)
        elif isinstance(node, list):
            for value in node:
                walk(value, depth + 1)

    walk(other, 0)
    return Probes(tuple(names[:_MAX_PROBES]), tuple(sorted(lengths))[:6], tuple(sorted(numbers))[:8])


def generate(schema: dict[str, Any], *, limit: int = 200, probes: Probes | None = None) -> list[Any]:
    """Up to `limit` distinct instances that `schema` accepts (edge values first)."""
    validator = validator_for(schema)
    out: list[Any] = []
    seen: set[str] = set()
    for value in candidates(schema, schema, depth=0, probes=probes):
        fingerprint = repr(value)
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        if accepts(validator, value):
            out.append(value)
            if len(out) >= limit:
                break
    return out


def accepts(validator: Draft4Validator, value: Any) -> bool:
    """`validator.is_valid`, but a schema that cannot be evaluated (dangling `$ref`, recursion) accepts nothing."""
    try:
        return validator.is_valid(value)
    except Exception:  # jsonschema raises referencing errors of several families
        return False


def _strip(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in ("$schema", "self", "$supersedes", "$supersededBy")}


def candidates(sub: Any, root: dict[str, Any], depth: int, probes: Probes | None = None) -> list[Any]:
    """Candidate values for one subschema (not all necessarily valid: the caller filters)."""
    if not isinstance(sub, dict) or depth > 8:
        return [None, "a", 0, True]
    ref = sub.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, dict) else None
        return candidates(target, root, depth + 1, probes)
    if "enum" in sub and isinstance(sub["enum"], list):
        return list(sub["enum"])
    for keyword in ("anyOf", "oneOf"):
        if isinstance(sub.get(keyword), list):
            merged = [
                {**{k: v for k, v in sub.items() if k != keyword}, **b} for b in sub[keyword] if isinstance(b, dict)
            ]
            return _cap(_round_robin([candidates(b, root, depth + 1, probes) for b in merged]), depth)
    if isinstance(sub.get("allOf"), list):
        merged_all: dict[str, Any] = {k: v for k, v in sub.items() if k != "allOf"}
        for part in sub["allOf"]:
            if isinstance(part, dict):
                merged_all = {**part, **merged_all}
        return candidates(merged_all, root, depth + 1, probes)
    types = sub.get("type")
    type_list = [types] if isinstance(types, str) else list(types) if isinstance(types, list) else []
    if not type_list:
        type_list = ["object"] if "properties" in sub else ["null", "string", "integer", "boolean", "object", "array"]
    return _cap(_round_robin([_of_type(t, sub, root, depth, probes or _NO_PROBES) for t in type_list]), depth)


def _round_robin(groups: list[list[Any]]) -> list[Any]:
    """Interleave candidate lists so every branch/type keeps its edge values when the list is capped."""
    marker = object()
    out: list[Any] = []
    for row in itertools.zip_longest(*groups, fillvalue=marker):
        out.extend(v for v in row if v is not marker)
    return out


def _cap(values: list[Any], depth: int) -> list[Any]:
    return values[: _MAX_AT_ROOT if depth == 0 else _MAX_PER_NODE]


def _of_type(t: str, sub: dict[str, Any], root: dict[str, Any], depth: int, probes: Probes) -> list[Any]:
    if t == "null":
        return [None]
    if t == "boolean":
        return [True, False]
    if t in ("integer", "number"):
        return _numbers(sub, integer=t == "integer", probes=probes)
    if t == "string":
        return _strings(sub, probes)
    if t == "array":
        return _arrays(sub, root, depth, probes)
    if t == "object":
        return _objects(sub, root, depth, probes)
    return []


def _numbers(sub: dict[str, Any], *, integer: bool, probes: Probes = _NO_PROBES) -> list[Any]:
    lo, hi = sub.get("minimum"), sub.get("maximum")
    step = 1 if integer else 0.5
    values: list[Any] = []  # edge values first: callers keep only the first few per property
    if isinstance(lo, int | float):
        values += [lo + step if sub.get("exclusiveMinimum") else lo, lo + step]
    if isinstance(hi, int | float):
        values += [hi - step if sub.get("exclusiveMaximum") else hi, hi - step]
    values += [0, 1, -1, *probes.numbers, 2**31, -(2**31)]
    if isinstance(lo, int | float) and isinstance(hi, int | float):
        values.append((lo + hi) // 2 if integer else (lo + hi) / 2)
    if not integer:
        values += [0.25, 1.5]
    if integer:
        values = [int(v) for v in values]
    mult = sub.get("multipleOf")
    if isinstance(mult, int | float) and mult > 0:
        values += [mult, mult * 2]
    return values


def _strings(sub: dict[str, Any], probes: Probes = _NO_PROBES) -> list[str]:
    lo: int = _int_or(sub.get("minLength"), 0)
    hi = _int_or(sub.get("maxLength"), None)
    fmt = sub.get("format")
    values: list[str] = []  # edge values first: callers keep only the first few per property
    if hi is not None:
        values.append("a" * min(hi, _MAX_STRING))
        values.append("é" * min(hi, _MAX_STRING))  # length counts code points, not bytes
    values += ["a" * lo, "a" * max(lo, 1), *("a" * n for n in probes.lengths)]
    values += list(_FORMAT_SAMPLES.get(fmt, [])) if isinstance(fmt, str) else []
    values += _STRING_SAMPLES
    pattern = sub.get("pattern")
    if isinstance(pattern, str):
        try:
            compiled = matcher(pattern)
            matching = [v for v in values if compiled.search(v)]
        except (re.error, PatternTimeout):
            return values
        return matching + [v for v in values if v not in matching]
    return values


def _int_or(value: Any, default: int | None) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _arrays(sub: dict[str, Any], root: dict[str, Any], depth: int, probes: Probes) -> list[list[Any]]:
    items = sub.get("items")
    item_values = candidates(items, root, depth + 1, probes) if isinstance(items, dict) else [None, "a", 1]
    lo: int = _int_or(sub.get("minItems"), 0)
    hi = _int_or(sub.get("maxItems"), None)
    out: list[list[Any]] = [[]]
    for v in item_values[:6]:
        out.append([v] * max(lo, 1))
        if hi is not None:
            out.append([v] * min(hi, 20))
    if len(item_values) > 1:
        out.append(item_values[: max(lo, 2)])
    if item_values:
        out.append([item_values[0]] * max(lo, 2))  # repeated items, for uniqueItems
    return out


def _objects(sub: dict[str, Any], root: dict[str, Any], depth: int, probes: Probes) -> list[dict[str, Any]]:
    raw_props = sub.get("properties")
    props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
    required = (
        [r for r in sub.get("required", []) if isinstance(r, str)] if isinstance(sub.get("required"), list) else []
    )
    per_prop = {name: candidates(p, root, depth + 1, probes) for name, p in props.items()}
    definitions = {"definitions": root.get("definitions", {})}
    validators = {name: validator_for({**definitions, **p} if isinstance(p, dict) else {}) for name, p in props.items()}
    # prefer values valid for the property itself so the base object is usually valid
    valid = {name: [v for v in vals if accepts(validators[name], v)] or vals for name, vals in per_prop.items()}
    base = {name: valid[name][0] for name in required if valid.get(name)}
    for name in required:
        if name not in props:
            base[name] = "a"
    out: list[dict[str, Any]] = [dict(base)]
    everything = dict(base)
    for name, vals in valid.items():
        if vals:
            everything[name] = vals[0]
    out.append(everything)
    # Property by property in turn, so a capped list still varies every property, not only the first few.
    per_name = [
        [o for v in vals[:8] for o in ({**base, name: v}, {**everything, name: v})] for name, vals in valid.items()
    ]
    variants = _round_robin(per_name)
    # Undeclared names another schema declares, in every shape: what historical data may hold under them.
    extra = sub.get("additionalProperties", True)
    probed: list[dict[str, Any]] = []
    if extra is not False:
        values = candidates(extra, root, depth + 1) if isinstance(extra, dict) else _PROBE_VALUES
        for name in probes.names:
            if name not in props:
                probed.extend({**base, name: v} for v in values[: len(_PROBE_VALUES)])
                probed.extend({**everything, name: v} for v in values[:2])
    return out + _round_robin([variants, probed])
