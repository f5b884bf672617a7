"""A small JSONPath for fix steps: find, set, remove and add values at paths like `$.raw.parameters.cx.data[0].data.x`.

Syntax (the subset Snowplow's recovery configurations use):

    $                       the root
    .name  ['name']         an object member (["name"] too; any characters inside quotes)
    [3]  [-1]               a list element
    .*  [*]                 every member / element
    [?(@.a.b == 'x')]       the elements (of a list, or members of an object) whose sub-path equals a
                            JSON literal or a quoted or bare string
    [?(@.schema =~ regex)]  … whose sub-path is a string the regex matches in full

`.[?(...)]` (a dot before the bracket, as Snowplow writes it) is accepted. Paths are parsed once
(`JsonPath.parse`, ValueError with the position on a syntax error).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["JsonPath", "Location"]

_NAME = re.compile(r"[A-Za-z0-9_\-$@:]+")


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
class _Filter:
    path: tuple[str, ...]
    op: str  # "==" | "=~"
    value: Any
    pattern: re.Pattern[str] | None


_Segment = _Key | _Index | _Wildcard | _Filter


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

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        if not isinstance(text, str) or not text.startswith("$"):
            raise ValueError(f"path {text!r} must start with $")
        segments: list[_Segment] = []
        i = 1
        while i < len(text):
            ch = text[i]
            if ch == "." and text[i + 1 : i + 2] == "[":
                i += 1
                continue
            if ch == ".":
                if text[i + 1 : i + 2] == "*":
                    segments.append(_Wildcard())
                    i += 2
                    continue
                m = _NAME.match(text, i + 1)
                if m is None:
                    raise ValueError(f"path {text!r}: expected a name at position {i + 1}")
                segments.append(_Key(m.group(0)))
                i = m.end()
            elif ch == "[":
                segment, i = _bracket(text, i)
                segments.append(segment)
            else:
                raise ValueError(f"path {text!r}: unexpected {ch!r} at position {i}")
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
        if not self.segments or not isinstance(self.segments[-1], _Key):
            raise ValueError(f"path {self.text!r}: Add needs a path ending in a member name")
        parents = JsonPath(self.text, self.segments[:-1])
        containers = parents.find(root) if parents.segments else [Location(None, None, root, "$")]
        if not containers and parents.segments:
            parents._create(root)
            containers = parents.find(root)
        name = self.segments[-1].name
        count = 0
        for loc in containers:
            if isinstance(loc.value, dict):
                loc.value[name] = value
                count += 1
        return count

    def _create(self, root: Any) -> None:
        node = root
        for segment in self.segments:
            if not isinstance(segment, _Key) or not isinstance(node, dict):
                return
            node = node.setdefault(segment.name, {})


def _bracket(text: str, i: int) -> tuple[_Segment, int]:
    end_quote = text[i + 1 : i + 2]
    if end_quote in ("'", '"'):
        close = text.find(end_quote + "]", i + 2)
        if close < 0:
            raise ValueError(f"path {text!r}: unclosed quoted name at position {i}")
        return _Key(text[i + 2 : close]), close + 2
    if text.startswith("[?(", i):
        close = text.find(")]", i)
        if close < 0:
            raise ValueError(f"path {text!r}: unclosed filter at position {i}")
        return _parse_filter(text, text[i + 3 : close]), close + 2
    close = text.find("]", i)
    if close < 0:
        raise ValueError(f"path {text!r}: unclosed [ at position {i}")
    inner = text[i + 1 : close].strip()
    if inner == "*":
        return _Wildcard(), close + 1
    try:
        return _Index(int(inner)), close + 1
    except ValueError:
        raise ValueError(f"path {text!r}: {inner!r} is not an index, '*', a quoted name or a filter") from None


def _parse_filter(text: str, body: str) -> _Filter:
    m = re.fullmatch(r"\s*@((?:\.[A-Za-z0-9_\-$:]+)*)\s*(==|=~)\s*(.*?)\s*", body, re.DOTALL)
    if m is None:
        raise ValueError(f"path {text!r}: filter {body!r} must look like @.a.b == value or @.a =~ regex")
    path = tuple(p for p in m.group(1).split(".") if p)
    op, raw = m.group(2), m.group(3)
    if op == "=~":
        pattern_text = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"/" else raw
        try:
            return _Filter(path, op, pattern_text, re.compile(pattern_text))
        except re.error as e:
            raise ValueError(f"path {text!r}: bad regex {pattern_text!r}: {e}") from None
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return _Filter(path, op, raw[1:-1], None)
    try:
        return _Filter(path, op, orjson.loads(raw), None)
    except orjson.JSONDecodeError:
        return _Filter(path, op, raw, None)


def _children(loc: Location) -> Iterator[Location]:
    value = loc.value
    if isinstance(value, dict):
        for k, v in value.items():
            yield Location(value, k, v, f"{loc.path}.{k}", (*loc.steps, k))
    elif isinstance(value, list):
        for n, v in enumerate(value):
            yield Location(value, n, v, f"{loc.path}[{n}]", (*loc.steps, n))


def _step(loc: Location, segment: _Segment) -> Iterator[Location]:
    value = loc.value
    if isinstance(segment, _Key):
        if isinstance(value, dict) and segment.name in value:
            name = segment.name
            yield Location(value, name, value[name], f"{loc.path}.{name}", (*loc.steps, name))
    elif isinstance(segment, _Index):
        if isinstance(value, list) and -len(value) <= segment.index < len(value):
            index = segment.index % len(value)
            yield Location(value, index, value[index], f"{loc.path}[{index}]", (*loc.steps, index))
    elif isinstance(segment, _Wildcard):
        yield from _children(loc)
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
