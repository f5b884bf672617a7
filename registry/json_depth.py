"""A bound on JSON nesting depth, checked iteratively so hostile instances cannot exhaust the stack."""

from __future__ import annotations

from typing import Any

__all__ = ["nesting_depth_exceeds"]


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
