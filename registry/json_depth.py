"""A bound on JSON nesting depth, checked iteratively so hostile instances cannot exhaust the stack."""

from __future__ import annotations

from typing import Any

__all__ = ["admitted_depth", "nesting_depth_exceeds"]


def nesting_depth_exceeds(value: Any, max_depth: int) -> bool:
    """True when `value` nests objects/arrays more than `max_depth` levels (a scalar has depth 0, `{}` depth 1)."""
    if not isinstance(value, (dict, list)):
        return False
    if max_depth < 1:
        return True
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= max_depth:
                    return True
                push((child, depth + 1))
    return False


_SCALAR_TYPES = {"string", "number", "integer", "boolean", "null"}


def _value_depth(value: Any) -> int:
    """Nesting depth of a literal (enum members); recursion is fine: schemas are trusted, small documents."""
    if isinstance(value, dict):
        return 1 + max((_value_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_value_depth(v) for v in value), default=0)
    return 0


def admitted_depth(schema: Any, _level: int = 0) -> int | None:
    """The deepest nesting an instance valid against `schema` can have, or None when unbounded.

    Lets the validator skip the depth walk for instances the fast path accepts: if the schema
    admits at most N levels and N <= max_depth, no valid instance is too deep. Conservative:
    `$ref`, missing `type` with open object/array keywords, or additional properties/items that
    are allowed without a schema make the answer None.
    """
    if not isinstance(schema, dict) or _level > 64 or "$ref" in schema:
        return None
    bounds: list[int | None] = [_own_depth(schema, _level)]
    if isinstance(schema.get("enum"), list):
        bounds.append(max((_value_depth(v) for v in schema["enum"]), default=0))
    for sub in schema.get("allOf", []) if isinstance(schema.get("allOf"), list) else []:
        bounds.append(admitted_depth(sub, _level + 1))
    for combinator in ("anyOf", "oneOf"):
        subs = schema.get(combinator)
        if isinstance(subs, list) and subs:
            each = [admitted_depth(sub, _level + 1) for sub in subs]
            bounds.append(None if None in each else max(b for b in each if b is not None))
    known = [b for b in bounds if b is not None]
    return min(known) if known else None


def _own_depth(schema: dict[str, Any], level: int) -> int | None:
    types = schema.get("type")
    allowed = set(types) if isinstance(types, list) else {types} if isinstance(types, str) else None
    if allowed is not None and allowed <= _SCALAR_TYPES:
        return 0
    depths: list[int | None] = []
    if allowed is None or "object" in allowed:
        depths.append(_object_depth(schema, level))
    if allowed is None or "array" in allowed:
        depths.append(_array_depth(schema, level))
    if None in depths:
        return None
    return max((d for d in depths if d is not None), default=0)


def _object_depth(schema: dict[str, Any], level: int) -> int | None:
    children: list[Any] = []
    for keyword in ("properties", "patternProperties"):
        if isinstance(schema.get(keyword), dict):
            children.extend(schema[keyword].values())
    additional = schema.get("additionalProperties", True)
    if additional is True:
        return None
    if isinstance(additional, dict):
        children.append(additional)
    depths = [admitted_depth(child, level + 1) for child in children]
    if None in depths:
        return None
    return 1 + max((d for d in depths if d is not None), default=0)


def _array_depth(schema: dict[str, Any], level: int) -> int | None:
    items = schema.get("items")
    if isinstance(items, dict):
        children = [items]
    elif isinstance(items, list):
        additional = schema.get("additionalItems", True)
        if additional is True:
            return None
        children = [*items, *([additional] if isinstance(additional, dict) else [])]
    else:
        return None
    depths = [admitted_depth(child, level + 1) for child in children]
    if None in depths:
        return None
    return 1 + max((d for d in depths if d is not None), default=0)
