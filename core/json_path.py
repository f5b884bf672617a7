"""The one JSONPath of eventkit: PII configs pseudonymise strings at paths, replay's fix steps edit bad rows at paths.

Syntax (the union of what Snowplow's PII enrichment configs and recovery configurations use):

    $                       the root
    .name  ['name']         an object member (["name"] too; any characters inside quotes)
    [3]  [-1]               a list element (negative from the end)
    .*  [*]                 every member / element
    ..name                  every member called `name` at any depth below (document order)
    [?(@.a.b == 'x')]       the elements (of a list, or members of an object) whose sub-path equals a
                            JSON literal or a quoted or bare string (`@` alone is the element itself)
    [?(@.schema =~ regex)]  … whose sub-path is a string the regex matches in full

A bare name is letters, digits, `_`, `-`, `$`, `@` and `:` (letters and digits in any script).
`.[?(...)]` (a dot before the bracket, as Snowplow writes it) is accepted. Paths are parsed once:
`JsonPath.parse` raises JsonPathError (a ValueError with the position), `compile_path` turns it into
the ConfigError a configuration file reports. Reading (`find`, `values`) and editing (`set`,
`remove`, `add`) serve fix steps; `replace_strings` / `replaced` rewrite the strings a path reaches
for the PII enrichment, on its per-event path, without building `Location`s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from core.errors import ConfigError

__all__ = ["JsonPath", "JsonPathError", "Location", "compile_path"]

_NAME = re.compile(r"[\w\-$@:]+")


class JsonPathError(ValueError):
    """A path outside the syntax; `reason` says what is wrong and where."""

    def __init__(self, text: object, reason: str) -> None:
        super().__init__(f"path {text!r}: {reason}")
        self.text = text
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Key:
    name: str


@dataclass(frozen=True, slots=True)
class _Index:
    index: int


@dataclass(frozen=True, slots=True)
class _Wildcard:
    pass


@dataclass(frozen=True, slots=True)
class _Deep:
    name: str


@dataclass(frozen=True, slots=True)
class _Filter:
    path: tuple[str, ...]
    op: str  # "==" | "=~"
    value: Any
    pattern: re.Pattern[str] | None


_Segment = _Key | _Index | _Wildcard | _Deep | _Filter


@dataclass(frozen=True, slots=True)
class Location:
    """Where a found value sits: its container and the key or index inside it (container None = the root)."""

    container: dict[str, Any] | list[Any] | None
    key: str | int | None
    value: Any
    path: str  # for people: `$.a.b[0]`
    steps: tuple[str | int, ...] = ()  # for programs: the exact keys and indexes from the root

    def exact(self) -> JsonPath:
        """A path that finds exactly this location (whatever characters its keys hold)."""
        segments = tuple(_Index(s) if isinstance(s, int) else _Key(s) for s in self.steps)
        return JsonPath(self.path, segments)


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed path; `text` is what the user wrote."""

    text: str
    segments: tuple[_Segment, ...]
    single: bool = field(init=False, compare=False)  # names and indexes only: at most one value selected

    def __post_init__(self) -> None:
        object.__setattr__(self, "single", all(isinstance(s, _Key | _Index) for s in self.segments))

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        """The path `text` names; JsonPathError (a ValueError) saying where it leaves the syntax."""
        if not isinstance(text, str) or not text.startswith("$"):
            raise JsonPathError(text, "must start with $")
        segments: list[_Segment] = []
        i = 1
        while i < len(text):
            ch = text[i]
            if ch == "." and text[i + 1 : i + 2] == "[":
                i += 1
                continue
            if ch == "." and text[i + 1 : i + 2] == ".":
                m = _NAME.match(text, i + 2)
                if m is None:
                    raise JsonPathError(text, f"expected a name after .. at position {i + 2}")
                segments.append(_Deep(m.group(0)))
                i = m.end()
            elif ch == ".":
                if text[i + 1 : i + 2] == "*":
                    segments.append(_Wildcard())
                    i += 2
                    continue
                m = _NAME.match(text, i + 1)
                if m is None:
                    raise JsonPathError(text, f"expected a name at position {i + 1}")
                segments.append(_Key(m.group(0)))
                i = m.end()
            elif ch == "[":
                segment, i = _bracket(text, i)
                segments.append(segment)
            else:
                raise JsonPathError(text, f"unexpected {ch!r} at position {i}")
        return cls(text, tuple(segments))

    def __str__(self) -> str:
        return self.text

    # -- reading ------------------------------------------------------------------------------

    def find(self, root: Any) -> list[Location]:
        """Every location the path reaches in `root`, in document order."""
        found = [Location(None, None, root, "$")]
        for segment in self.segments:
            found = [nxt for loc in found for nxt in _step(loc, segment)]
        return found

    def values(self, root: Any) -> list[Any]:
        return [loc.value for loc in self.find(root)]

    # -- writing ------------------------------------------------------------------------------

    def set(self, root: Any, value: Any) -> int:
        """Replace the value at every location found; returns how many were replaced."""
        locations = self.find(root)
        for loc in locations:
            if loc.container is None:
                raise ValueError("cannot replace the root")
            loc.container[loc.key] = value  # type: ignore[index]  # key type matches its container
        return len(locations)

    def remove(self, root: Any) -> int:
        """Delete every location found (list elements from the back, so indexes stay right)."""
        locations = self.find(root)
        for loc in sorted(locations, key=lambda x: x.key if isinstance(x.key, int) else 0, reverse=True):
            if isinstance(loc.container, dict):
                loc.container.pop(str(loc.key), None)
            elif isinstance(loc.container, list) and isinstance(loc.key, int):
                del loc.container[loc.key]
        return len(locations)

    @property
    def ends_in_name(self) -> bool:
        """Whether the last segment is a member name (what `add` needs to know where to put a value)."""
        return bool(self.segments) and isinstance(self.segments[-1], _Key)

    def add(self, root: Any, value: Any) -> int:
        """Set the value at the path, creating missing objects on the way (the last segment must be a name)."""
        last = self.segments[-1] if self.segments else None
        if not isinstance(last, _Key):
            raise ValueError(f"path {self.text!r}: Add needs a path ending in a member name")
        parents = JsonPath(self.text, self.segments[:-1])
        containers = parents.find(root) if parents.segments else [Location(None, None, root, "$")]
        if not containers and parents.segments:
            parents._create(root)
            containers = parents.find(root)
        count = 0
        for loc in containers:
            if isinstance(loc.value, dict):
                loc.value[last.name] = value
                count += 1
        return count

    def _create(self, root: Any) -> None:
        node = root
        for segment in self.segments:
            if not isinstance(segment, _Key) or not isinstance(node, dict):
                return
            node = node.setdefault(segment.name, {})

    # -- rewriting strings (the PII enrichment) -------------------------------------------------

    def replace_strings(self, document: Any, change: Callable[[str], str]) -> list[tuple[str, str]]:
        """Replace every string value the path selects in `document` (mutated); returns the changes made."""
        changes: list[tuple[str, str]] = []
        if not self.segments:
            return changes  # `$` alone selects the root, which has no parent to rewrite
        parents: list[tuple[Any, Any]] = []  # (container, key) pairs the path reaches
        _walk(document, self.segments, 0, parents)
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
        shared with it, copying only the containers on the way to the one string a path of names and
        indexes reaches.
        """
        if not self.single:  # may select many: a private copy
            copy = _copied(document)
            return copy, self.replace_strings(copy, change)
        if not self.segments:
            return document, []
        first = self.segments[0]
        if len(self.segments) == 1 and isinstance(first, _Key):  # `$.name`, the usual PII path
            value = document.get(first.name) if isinstance(document, dict) else None
            if not isinstance(value, str):
                return document, []
            new = change(value)
            copy = document.copy()
            copy[first.name] = new
            return copy, [(value, new)]
        containers: list[Any] = []
        keys: list[Any] = []
        node = document
        for segment in self.segments:
            key: Any
            if isinstance(segment, _Key):
                if not isinstance(node, dict) or segment.name not in node:
                    return document, []
                key = segment.name
            else:  # an index (`single` holds only names and indexes)
                assert isinstance(segment, _Index)
                if not isinstance(node, list) or not -len(node) <= segment.index < len(node):
                    return document, []
                key = segment.index % len(node)
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


def compile_path(text: str) -> JsonPath:
    """`$.a.b[0]['c']` → JsonPath, for configuration files: ConfigError outside the syntax."""
    try:
        return JsonPath.parse(text)
    except JsonPathError as e:
        raise ConfigError(f"jsonPath {text!r}: {e.reason}") from None


def _bracket(text: str, i: int) -> tuple[_Segment, int]:
    end_quote = text[i + 1 : i + 2]
    if end_quote in ("'", '"'):
        close = text.find(end_quote + "]", i + 2)
        if close < 0:
            raise JsonPathError(text, f"unclosed quoted name at position {i}")
        return _Key(text[i + 2 : close]), close + 2
    if text.startswith("[?(", i):
        close = text.find(")]", i)
        if close < 0:
            raise JsonPathError(text, f"unclosed filter at position {i}")
        return _parse_filter(text, text[i + 3 : close]), close + 2
    close = text.find("]", i)
    if close < 0:
        raise JsonPathError(text, f"unclosed [ at position {i}")
    inner = text[i + 1 : close].strip()
    if inner == "*":
        return _Wildcard(), close + 1
    try:
        return _Index(int(inner)), close + 1
    except ValueError:
        raise JsonPathError(text, f"{inner!r} is not an index, '*', a quoted name or a filter") from None


def _parse_filter(text: str, body: str) -> _Filter:
    m = re.fullmatch(r"\s*@((?:\.[\w\-$:]+)*)\s*(==|=~)\s*(.*?)\s*", body, re.DOTALL)
    if m is None:
        raise JsonPathError(text, f"filter {body!r} must look like @.a.b == value or @.a =~ regex")
    path = tuple(p for p in m.group(1).split(".") if p)
    op, raw = m.group(2), m.group(3)
    if op == "=~":
        pattern_text = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"/" else raw
        try:
            return _Filter(path, op, pattern_text, re.compile(pattern_text))
        except re.error as e:
            raise JsonPathError(text, f"bad regex {pattern_text!r}: {e}") from None
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return _Filter(path, op, raw[1:-1], None)
    try:
        return _Filter(path, op, orjson.loads(raw), None)
    except orjson.JSONDecodeError:
        return _Filter(path, op, raw, None)


def _child(loc: Location, key: str | int) -> Location:
    value: Any = loc.value
    path = f"{loc.path}[{key}]" if isinstance(key, int) else f"{loc.path}.{key}"
    return Location(value, key, value[key], path, (*loc.steps, key))


def _children(loc: Location) -> Iterator[Location]:
    value = loc.value
    if isinstance(value, dict):
        for k in value:
            yield _child(loc, k)
    elif isinstance(value, list):
        for n in range(len(value)):
            yield _child(loc, n)


def _descendants_named(loc: Location, name: str) -> Iterator[Location]:
    """Every member called `name` at or below `loc`'s value, in document order (a match's own value is searched too)."""
    for child in _children(loc):
        if isinstance(loc.value, dict) and child.key == name:
            yield child
        yield from _descendants_named(child, name)


def _step(loc: Location, segment: _Segment) -> Iterator[Location]:
    value = loc.value
    if isinstance(segment, _Key):
        if isinstance(value, dict) and segment.name in value:
            yield _child(loc, segment.name)
    elif isinstance(segment, _Index):
        if isinstance(value, list) and -len(value) <= segment.index < len(value):
            yield _child(loc, segment.index % len(value))
    elif isinstance(segment, _Wildcard):
        yield from _children(loc)
    elif isinstance(segment, _Deep):
        yield from _descendants_named(loc, segment.name)
    else:
        for child in _children(loc):
            if _holds(child.value, segment):
                yield child


def _holds(value: Any, f: _Filter) -> bool:
    for name in f.path:
        if not isinstance(value, dict) or name not in value:
            return False
        value = value[name]
    if f.pattern is not None:
        return isinstance(value, str) and f.pattern.fullmatch(value) is not None
    return bool(value == f.value)


def _copied(node: Any) -> Any:
    """A copy of a JSON document's containers (strings and numbers are immutable: shared)."""
    if isinstance(node, dict):
        return {key: _copied(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_copied(value) for value in node]
    return node


def _walk(node: Any, segments: tuple[_Segment, ...], at: int, out: list[tuple[Any, Any]]) -> None:
    """The (container, key) pairs `segments[at:]` reach from `node`, in document order (no Locations built)."""
    segment = segments[at]
    targets: list[tuple[Any, Any]] = []
    if isinstance(segment, _Key):
        if isinstance(node, dict) and segment.name in node:
            targets.append((node, segment.name))
    elif isinstance(segment, _Index):
        if isinstance(node, list) and -len(node) <= segment.index < len(node):
            targets.append((node, segment.index % len(node)))
    elif isinstance(segment, _Wildcard):
        if isinstance(node, dict):
            targets.extend((node, k) for k in node)
        elif isinstance(node, list):
            targets.extend((node, i) for i in range(len(node)))
    elif isinstance(segment, _Deep):
        _deep(node, segment.name, targets)
    elif isinstance(node, dict):
        targets.extend((node, k) for k, v in node.items() if _holds(v, segment))
    elif isinstance(node, list):
        targets.extend((node, i) for i, v in enumerate(node) if _holds(v, segment))
    last = at + 1 == len(segments)
    for container, key in targets:
        if last:
            out.append((container, key))
        else:
            _walk(container[key], segments, at + 1, out)


def _deep(node: Any, name: str, out: list[tuple[Any, Any]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == name:
                out.append((node, key))
            _deep(value, name, out)
    elif isinstance(node, list):
        for value in node:
            _deep(value, name, out)
