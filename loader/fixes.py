"""Fix steps: a small declarative JSON file that repairs known tracking mistakes in bad rows before replay.

The user's guide, with an example per step, is docs/FIXES.md. Modelled on Snowplow's recovery
configuration (its Event Recovery `Test`/`Replace`/`Remove`/`Cast` steps). The file maps bad-row types to
ordered flows; the first flow whose conditions all hold is applied to a row, rows no flow takes
are replayed unchanged:

    {"schema_violations": [                                   # a type name, "*", or an Iglu
      {"name": "order_placed: orderId and total",             # criterion of the bad-row schema
       "conditions": [{"op": "Test", "path": "$.failure.messages[*].schemaKey",
                       "value": {"regex": "iglu:com.acme/order_placed/.*"}}],
       "steps": [
         {"op": "Rename",  "path": "$.raw.parameters.ue_px.data.data.order_id", "to": "orderId"},
         {"op": "Cast",    "path": "$.raw.parameters.ue_px.data.data.total", "from": "String", "to": "Numeric"},
         {"op": "Replace", "path": "$.raw.parameters.aid", "match": "^shop-(.*)$", "value": "$1"},
         {"op": "Remove",  "path": "$.raw.parameters.ue_px.data.data.debug"},
         {"op": "Add",     "path": "$.raw.parameters.ue_px.data.data.currency", "value": "EUR"}]}]}

Condition paths run over the bad row's `data` (`$.failure…`, `$.payload…`); step paths over its
payload (`$.raw.parameters…` for enrichment payloads, `$.querystring…` / `$.body.data[*]…` for
collector payloads). Encoded fields are opened (`loader.payload_view`): `ue_px`/`cx` base64 and
`ue_pr`/`co` JSON text are edited as JSON. Condition values: `{"value": exact JSON}`,
`{"regex": "…"}` (full match of a string), `{"size": {"eq"|"gt"|"lt": n}}` (string/list/object
length); a condition holds when any value found satisfies it. Casts: String, Numeric, Boolean,
Array; a value that already has the target
type is left alone. `Replace` with `match` rewrites the matched part of a string (`$1` = group 1,
`$0` = the whole match, `$$` = a literal `$`; other text, backslashes included, is literal). Every
step is checked when the file is read — regexes compile, each `$N` names a group its `match` has,
`Add` paths end in a member name — so a mistake in the file is one error naming the flow and step,
never a crash halfway through a replay. A step whose path finds nothing does nothing, except
`Add`, which creates the member (the preview marks such values as added, absent from the row); a
step that cannot apply to a row (a Cast from the wrong type) fails that row, which is then counted
as not recoverable with that reason. The Snowplow envelope
`{"schema": "iglu:…/recoveries/…", "data": {…}}` is accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from core.errors import ConfigError, IgluParseError
from core.iglu import SchemaCriterion
from core.json_path import JsonPath
from loader.payload_view import close_view, open_view

__all__ = ["Change", "Condition", "FixConfig", "FixResult", "Flow", "Step", "diff", "load_fixes", "parse_fixes"]

_OPS = ("Replace", "Remove", "Cast", "Add", "Rename")
_CASTS = ("String", "Numeric", "Boolean", "Array")
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
_GROUP_REF = re.compile(r"\$(\$|\d+)")


class FixError(ValueError):
    """A step could not be applied to this row (the row is reported, never sent)."""


@dataclass(frozen=True, slots=True)
class Condition:
    path: JsonPath
    kind: str  # value | regex | size
    expected: Any

    def holds(self, root: Any) -> bool:
        return any(self._test(v) for v in self.path.values(root))

    def _test(self, value: Any) -> bool:
        if self.kind == "value":
            return bool(value == self.expected)
        if self.kind == "regex":
            return isinstance(value, str) and re.fullmatch(self.expected, value) is not None
        if not isinstance(value, str | list | dict):
            return False
        ((op, n),) = self.expected.items()
        size = len(value)
        return bool(size == n if op == "eq" else size > n if op == "gt" else size < n)


@dataclass(frozen=True, slots=True)
class Step:
    op: str
    path: JsonPath
    value: Any = None
    match: str | None = None
    cast_from: str | None = None
    cast_to: str | None = None
    rename_to: str | None = None

    def apply(self, view: Any) -> None:
        if self.op == "Add":
            self.path.add(view, self.value)
            return
        for loc in self.path.find(view):
            if loc.container is None:
                raise FixError(f"{self.op} {self.path}: cannot change the whole payload")
            current = loc.value
            if self.op == "Replace":
                if self.match is None:
                    new: Any = self.value
                elif isinstance(current, str):
                    new = re.sub(self.match, _expand(str(self.value)), current)
                else:
                    raise FixError(f"Replace {self.path}: match needs a string, found {_kind(current)}")
                loc.container[loc.key] = new  # type: ignore[index]  # key fits its container
            elif self.op == "Remove":
                if self.match is not None and isinstance(current, str):
                    loc.container[loc.key] = re.sub(self.match, "", current)  # type: ignore[index]
                elif self.match is None:
                    loc.exact().remove(view)
            elif self.op == "Cast":
                loc.container[loc.key] = _cast(current, self.cast_from or "", self.cast_to or "", self.path)  # type: ignore[index]
            elif self.op == "Rename":
                if not isinstance(loc.container, dict) or not self.rename_to:
                    raise FixError(f"Rename {self.path}: only object members can be renamed")
                items = list(loc.container.items())
                loc.container.clear()
                for k, v in items:
                    loc.container[self.rename_to if k == loc.key else k] = v


def _expand(template: str) -> str:
    """A Replace value (`$N` group references, `$$` a dollar, all else literal) as a `re.sub` template."""

    def one(m: re.Match[str]) -> str:
        return "$" if m.group(1) == "$" else f"\\g<{int(m.group(1))}>"

    out: list[str] = []
    last = 0
    for m in _GROUP_REF.finditer(template):
        out.append(template[last : m.start()].replace("\\", "\\\\"))
        out.append(one(m))
        last = m.end()
    out.append(template[last:].replace("\\", "\\\\"))
    return "".join(out)


def _group_refs(template: str) -> list[int]:
    return [int(m.group(1)) for m in _GROUP_REF.finditer(template) if m.group(1) != "$"]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Numeric"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "null" if value is None else "Object"


def _cast(value: Any, source: str, target: str, path: JsonPath) -> Any:
    if _kind(value) == target:
        return value  # already right (e.g. a row the tracker got right): casting is idempotent
    if _kind(value) != source:
        raise FixError(f"Cast {path}: expected {source}, found {_kind(value)}")
    if target == source:
        return value
    if target == "Array":
        return [value]
    if target == "String":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return orjson.dumps(value).decode()
        return str(value)
    if target == "Numeric":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and _NUMBER.match(value.strip()):
            text = value.strip()
            return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        raise FixError(f"Cast {path}: {value!r} is not a number")
    if target == "Boolean":
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        raise FixError(f"Cast {path}: {value!r} is not a boolean")
    raise FixError(f"Cast {path}: cannot cast to {target}")


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    conditions: tuple[Condition, ...]
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """One value a fix changed, at a path of the opened payload."""

    path: str
    before: Any
    after: Any
    added: bool = False  # the row had no such member: the fix created it (an `Add`, never a typo to miss)
    removed: bool = False  # the fix removed the member

    def to_json(self) -> dict[str, Any]:
        out = {"path": self.path, "before": self.before, "after": self.after}
        if self.added or self.removed:
            out["added" if self.added else "removed"] = True
        return out


@dataclass(slots=True)
class FixResult:
    """The outcome for one bad row: the (possibly) changed payload JSON, which flow applied, or why it failed."""

    payload: Any
    flow: str | None = None
    changes: list[Change] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FixConfig:
    """Flows per bad-row type (`*` applies to every type after the type's own flows)."""

    flows: dict[str, tuple[Flow, ...]]

    def flows_for(self, type_name: str) -> tuple[Flow, ...]:
        return self.flows.get(type_name, ()) + self.flows.get("*", ())

    def apply(self, type_name: str, data: dict[str, Any]) -> FixResult:
        """Apply the first flow whose conditions hold to `data` (a bad row's `data`); the input is not changed."""
        payload = data.get("payload")
        flows = self.flows_for(type_name)
        if not flows:
            return FixResult(payload)
        view = open_view(payload)
        root = {**data, "payload": view}
        for flow in flows:
            if not all(c.holds(root) for c in flow.conditions):
                continue
            before = open_view(payload)
            try:
                for step in flow.steps:
                    step.apply(view)
            except (ValueError, TypeError, re.error) as e:  # FixError, and anything a hostile row still trips
                return FixResult(payload, flow.name, [], str(e))
            changes = diff(before, view)
            return FixResult(close_view(view, payload) if changes else payload, flow.name, changes)
        return FixResult(payload)


def diff(before: Any, after: Any, path: str = "$") -> list[Change]:
    """The leaf values that differ between two JSON documents, with their paths."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[Change] = []
        for key in list(before) + [k for k in after if k not in before]:
            sub = f"{path}.{key}"
            if key not in after:
                out.append(Change(sub, before[key], None, removed=True))
            elif key not in before:
                out.append(Change(sub, None, after[key], added=True))
            else:
                out.extend(diff(before[key], after[key], sub))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [c for i, (b, a) in enumerate(zip(before, after, strict=True)) for c in diff(b, a, f"{path}[{i}]")]
    if before == after and type(before) is type(after):
        return []
    return [Change(path, before, after)]


def load_fixes(path: Path) -> FixConfig:
    """Read a fix-step file; ConfigError naming the flow and step on anything invalid."""
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as e:
        raise ConfigError(f"--fixes: cannot read {str(path)!r}: {e}") from None
    except orjson.JSONDecodeError as e:
        raise ConfigError(f"--fixes: {str(path)!r} is not JSON: {e}") from None
    return parse_fixes(doc, source=str(path))


def parse_fixes(doc: Any, *, source: str = "fixes") -> FixConfig:
    if isinstance(doc, dict) and isinstance(doc.get("schema"), str) and "/recoveries/" in doc["schema"]:
        doc = doc.get("data")
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected an object mapping bad-row types to lists of flows")
    flows: dict[str, tuple[Flow, ...]] = {}
    for key, raw_flows in doc.items():
        type_name = _type_key(key, source)
        if not isinstance(raw_flows, list):
            raise ConfigError(f"{source}: {key}: expected a list of flows")
        flows[type_name] = flows.get(type_name, ()) + tuple(
            _flow(f, f"{source}: {key}[{i}]") for i, f in enumerate(raw_flows)
        )
    return FixConfig(flows)


def _type_key(key: str, source: str) -> str:
    if key == "*" or re.fullmatch(r"[a-z_]+", key):
        return key
    try:
        return SchemaCriterion.parse(key).name
    except IgluParseError:
        raise ConfigError(f"{source}: {key!r} is not a bad-row type name, '*' or an Iglu criterion") from None


def _path(value: Any, where: str) -> JsonPath:
    try:
        return JsonPath.parse(value)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def _check_template(value: Any, match: str, where: str) -> None:
    """A Replace-with-match value must be text whose `$N` references name groups `match` has."""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: Replace with match needs a string value (the replacement text)")
    groups = re.compile(match).groups
    for n in _group_refs(value):
        if n > groups:
            has = f"has {groups} group{'s' if groups != 1 else ''}" if groups else "has no groups"
            raise ConfigError(f"{where}: value refers to ${n} but match {match!r} {has}")


def _flow(raw: Any, where: str) -> Flow:
    if not isinstance(raw, dict) or not isinstance(raw.get("steps", []), list):
        raise ConfigError(f"{where}: expected {{name, conditions, steps}}")
    name = str(raw.get("name", where))
    conditions = tuple(_condition(c, f"{where}.conditions[{i}]") for i, c in enumerate(raw.get("conditions") or []))
    steps = tuple(_step(s, f"{where}.steps[{i}]") for i, s in enumerate(raw.get("steps") or []))
    return Flow(name, conditions, steps)


def _condition(raw: Any, where: str) -> Condition:
    if not isinstance(raw, dict) or "path" not in raw or raw.get("op", "Test") != "Test":
        raise ConfigError(f"{where}: expected {{op: Test, path, value}}")
    path = _path(raw["path"], where)
    value = raw.get("value")
    if isinstance(value, dict) and len(value) == 1:
        ((kind, expected),) = value.items()
        if kind == "value":
            return Condition(path, "value", expected)
        if kind == "regex" and isinstance(expected, str):
            try:
                re.compile(expected)
            except re.error as e:
                raise ConfigError(f"{where}: bad regex {expected!r}: {e}") from None
            return Condition(path, "regex", expected)
        if kind == "size" and isinstance(expected, dict) and len(expected) == 1:
            ((op, n),) = expected.items()
            if op in ("eq", "gt", "lt") and isinstance(n, int):
                return Condition(path, "size", {op: n})
    raise ConfigError(f'{where}: value must be {{"value": …}}, {{"regex": "…"}} or {{"size": {{"eq"|"gt"|"lt": n}}}}')


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict) or raw.get("op") not in _OPS or "path" not in raw:
        raise ConfigError(f"{where}: expected {{op: {'|'.join(_OPS)}, path, ...}}")
    op = raw["op"]
    path = _path(raw["path"], where)
    match = raw.get("match")
    if match is not None:
        if not isinstance(match, str):
            raise ConfigError(f"{where}: match must be a regex string")
        try:
            re.compile(match)
        except re.error as e:
            raise ConfigError(f"{where}: bad regex {match!r}: {e}") from None
    if op in ("Replace", "Add") and "value" not in raw:
        raise ConfigError(f"{where}: {op} needs a value")
    if op == "Replace" and match is not None:
        _check_template(raw["value"], match, where)
    if op == "Add" and not path.ends_in_name:
        raise ConfigError(f"{where}: Add needs a path ending in a member name (where to put the value)")
    if op not in ("Replace", "Remove") and match is not None:
        raise ConfigError(f"{where}: match is for Replace and Remove only")
    if op == "Cast" and (raw.get("from") not in _CASTS or raw.get("to") not in _CASTS):
        raise ConfigError(f"{where}: Cast needs from and to, each one of {', '.join(_CASTS)}")
    if op == "Rename" and not (isinstance(raw.get("to"), str) and raw["to"]):
        raise ConfigError(f"{where}: Rename needs to (the new member name)")
    return Step(
        op,
        path,
        value=raw.get("value"),
        match=match,
        cast_from=raw.get("from") if op == "Cast" else None,
        cast_to=raw.get("to") if op == "Cast" else None,
        rename_to=raw.get("to") if op == "Rename" else None,
    )
