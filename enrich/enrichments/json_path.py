"""The JSONPath subset PII configs use: `$`, `.name`, `['name']`, `[n]`, `[*]`, `.*` and `..name`.

Compiled once at config load into steps; `replace_strings` rewrites every string the path reaches
in place and reports (original, replacement) pairs; `replaced` does the same on a copy, copying only
the containers on the way to the one string a path of names and indexes reaches. Paths outside the
subset are a ConfigError at start-up rather than a silent no-op.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError

__all__ = ["JsonPath", "compile_path"]

_TOKEN = re.compile(
    r"""\.\.(?P<deep>[A-Za-z_$][\w$-]*)      # ..name
      | \.(?P<name>[A-Za-z_$][\w$-]*)        # .name
      | \.\*|\[\*\]                          # wildcard
      | \[(?P<index>-?\d+)\]                 # [n]
      | \[(?P<q>['"])(?P<quoted>(?:(?!(?P=q)).)*)(?P=q)\]   # ['name']
    """,
    re.VERBOSE,
)

Step = tuple[str, Any]  # ("key", name) | ("index", n) | ("all", None) | ("deep", name)


@dataclass(frozen=True, slots=True)
class JsonPath:
    text: str
    steps: tuple[Step, ...]
    single: bool = field(init=False, compare=False)  # names and indexes only: at most one value selected

    def __post_init__(self) -> None:
        object.__setattr__(self, "single", all(kind in ("key", "index") for kind, _ in self.steps))

    def replace_strings(self, document: Any, change: Callable[[str], str]) -> list[tuple[str, str]]:
        """Replace every string value the path selects in `document` (mutated); returns the changes made."""
        changes: list[tuple[str, str]] = []
        if not self.steps:
            return changes  # `$` alone selects the root, which has no parent to rewrite
        parents: list[tuple[Any, Any]] = []  # (container, key) pairs the path reaches
        _walk(document, self.steps, parents)
        for container, key in parents:
            value = container[key]
            if isinstance(value, str):
                new = change(value)
                container[key] = new
                changes.append((value, new))
        return changes

    def replaced(self, document: Any, change: Callable[[str], str]) -> tuple[Any, list[tuple[str, str]]]:
        """`replace_strings` on a copy: (the document with the selected strings replaced, the changes).

        `document` is left as it was (it may be shared, e.g. a cached context); unchanged parts are
        shared with it.
        """
        if not self.single:  # may select many: a private copy
            copy = _copied(document)
            return copy, self.replace_strings(copy, change)
        if not self.steps:
            return document, []
        if len(self.steps) == 1 and self.steps[0][0] == "key":  # `$.name`, the usual PII path
            name = self.steps[0][1]
            value = document.get(name) if isinstance(document, dict) else None
            if not isinstance(value, str):
                return document, []
            new = change(value)
            copy = document.copy()
            copy[name] = new
            return copy, [(value, new)]
        containers: list[Any] = []
        keys: list[Any] = []
        node = document
        for kind, arg in self.steps:
            if kind == "key":
                if not isinstance(node, dict) or arg not in node:
                    return document, []
                key = arg
            else:  # index
                if not isinstance(node, list) or not -len(node) <= arg < len(node):
                    return document, []
                key = arg % len(node)
            containers.append(node)
            keys.append(key)
            node = node[key]
        if not isinstance(node, str):
            return document, []
        new = change(node)
        rebuilt: Any = new
        for container, key in zip(reversed(containers), reversed(keys), strict=True):
            copy = container.copy()
            copy[key] = rebuilt
            rebuilt = copy
        return rebuilt, [(node, new)]


def _copied(node: Any) -> Any:
    """A copy of a JSON document's containers (strings and numbers are immutable: shared)."""
    if isinstance(node, dict):
        return {key: _copied(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_copied(value) for value in node]
    return node


def _walk(node: Any, steps: tuple[Step, ...], out: list[tuple[Any, Any]]) -> None:
    kind, arg = steps[0]
    rest = steps[1:]
    targets: list[tuple[Any, Any]] = []
    if kind == "key":
        if isinstance(node, dict) and arg in node:
            targets.append((node, arg))
    elif kind == "index":
        if isinstance(node, list) and -len(node) <= arg < len(node):
            targets.append((node, arg % len(node)))
    elif kind == "all":
        if isinstance(node, dict):
            targets.extend((node, k) for k in node)
        elif isinstance(node, list):
            targets.extend((node, i) for i in range(len(node)))
    else:  # deep: every key `arg` at any depth
        _deep(node, arg, targets)
    for container, key in targets:
        if rest:
            _walk(container[key], rest, out)
        else:
            out.append((container, key))


def _deep(node: Any, name: str, out: list[tuple[Any, Any]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == name:
                out.append((node, key))
            _deep(value, name, out)
    elif isinstance(node, list):
        for value in node:
            _deep(value, name, out)


def compile_path(text: str) -> JsonPath:
    """`$.a.b[0]['c']` → JsonPath; raises ConfigError outside the supported subset."""
    if not text.startswith("$"):
        raise ConfigError(f"jsonPath {text!r}: must start with $")
    steps: list[Step] = []
    pos = 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConfigError(f"jsonPath {text!r}: unsupported syntax at {text[pos:]!r}")
        if m.group("deep") is not None:
            steps.append(("deep", m.group("deep")))
        elif m.group("name") is not None:
            steps.append(("key", m.group("name")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("quoted") is not None:
            steps.append(("key", m.group("quoted")))
        else:
            steps.append(("all", None))
        pos = m.end()
    return JsonPath(text, tuple(steps))
