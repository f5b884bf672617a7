"""Publish schemas without harming historical data: lint, Iglu's version order, and an honest SchemaVer bump.

One `Publisher` serves the CLI and the HTTP API, so both refuse the same things for the same
reasons. A publish is refused when: the linter finds an ERROR; the version exists (unless the
registry is in development mode, Iglu's `patchesAllowed`); Iglu's VersionCursor order is broken
(gaps); `$supersedes` names versions that are missing or not lower; the group mixes public and
private; or the declared bump does not match the change under the schema's compatibility mode
(BACKWARD by default — new accepts old data — plus FORWARD, FULL, NONE and the *_TRANSITIVE forms
that compare against every earlier version of the model instead of the previous one); or an `iglu:`
`$ref` (followed through the store) names a private schema that the publishing key may not read, or
that the schema's own vendor may not read (validation would never resolve it: registry.keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from core.errors import IgluParseError, ObjectExists
from core.iglu import SchemaKey, SchemaVer
from registry.compat import Diff, allowed, diff
from registry.keys import Principal, may_read, schema_reader
from registry.lint import Finding, has_errors, lint_schema, schema_key_of
from registry.refs import iglu_refs
from registry.store import META, SchemaMeta, SchemaStore
from registry.version_order import order_problem

__all__ = [
    "COMPATIBILITY_MODES",
    "CompatibilityPolicy",
    "Outcome",
    "Publisher",
    "declared_bump",
]

COMPATIBILITY_MODES = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)
_POLICY_FILE = f"{META}/compatibility.json"
MAX_REFERENCED_SCHEMAS = 256  # a bound on the store walk through `$ref` chains

Status = Literal["created", "updated", "unchanged", "would-create", "would-update", "invalid", "conflict"]


def declared_bump(previous: SchemaVer | None, version: SchemaVer) -> Literal["ADDITION", "REVISION", "MODEL"]:
    """What a version claims relative to the previous one in its model (MODEL when it opens a model)."""
    if previous is None or previous.model != version.model:
        return "MODEL"
    return "REVISION" if version.revision != previous.revision else "ADDITION"


class CompatibilityPolicy:
    """Compatibility mode per schema (`vendor/name`) or per vendor prefix; BACKWARD when nothing is configured."""

    def __init__(self, modes: dict[str, str] | None = None, default: str = "BACKWARD") -> None:
        self.modes = dict(modes or {})
        self.default = default
        for target, mode in [*self.modes.items(), ("default", default)]:
            if mode not in COMPATIBILITY_MODES:
                raise ValueError(f"compatibility mode for {target!r} must be one of {', '.join(COMPATIBILITY_MODES)}")

    @classmethod
    def load(cls, store: SchemaStore) -> CompatibilityPolicy:
        """The policy kept in the store's sidecar (`.meta/compatibility.json`), if any."""
        raw = store.blobs.read(_POLICY_FILE)
        if raw is None:
            return cls()
        value = orjson.loads(raw)
        return cls(value.get("modes", {}), value.get("default", "BACKWARD"))

    def save(self, store: SchemaStore) -> None:
        store.blobs.write(_POLICY_FILE, orjson.dumps({"default": self.default, "modes": self.modes}), overwrite=True)

    def mode_for(self, key: SchemaKey) -> str:
        exact = self.modes.get(f"{key.vendor}/{key.name}")
        if exact is not None:
            return exact
        best = ""
        for prefix in self.modes:
            if (
                "/" not in prefix
                and (key.vendor == prefix or key.vendor.startswith(prefix + "."))
                and len(prefix) > len(best)
            ):
                best = prefix
        return self.modes[best] if best else self.default


@dataclass(slots=True)
class Outcome:
    """What happened to one schema: status, the key, and every reason (lint report, conflicts, diffs)."""

    status: Status
    key: SchemaKey | None
    message: str
    details: list[str] = field(default_factory=list)
    lint: list[Finding] = field(default_factory=list)
    diffs: dict[str, Diff] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("created", "updated", "unchanged", "would-create", "would-update")

    @property
    def http_status(self) -> int:
        statuses = {"created": 201, "would-create": 201, "updated": 200, "unchanged": 200, "would-update": 200}
        return statuses.get(self.status, 400 if self.status == "invalid" else 409)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "status": self.http_status}
        if self.key is not None:
            body["location"] = self.key.uri
        if self.ok:
            body["updated"] = self.status in ("updated", "would-update")
        if self.details:
            body["details"] = self.details
        if self.lint:
            body["report"] = [f.to_json() for f in self.lint]
        if self.diffs:
            body["compatibility"] = {against: d.to_json() for against, d in self.diffs.items()}
        return body


class Publisher:
    """Applies every publish rule against one store; `dev_mode` is Iglu's patchesAllowed."""

    def __init__(
        self, store: SchemaStore, *, dev_mode: bool = False, policy: CompatibilityPolicy | None = None
    ) -> None:
        self.store = store
        self.dev_mode = dev_mode
        self.policy = policy

    def publish(
        self,
        schema: Any,
        *,
        expected_key: SchemaKey | None = None,
        is_public: bool | None = None,
        dry_run: bool = False,
        force: bool = False,
        publisher: Principal | None = None,
    ) -> Outcome:
        """Check and (unless `dry_run`) write one self-describing schema; never raises on bad input.

        `publisher` is the API key publishing (None: the CLI, which reads the storage directly).
        `is_public=None` takes the visibility of the schema's published versions, public for a new schema
        (as a static repository is); republishing the very same schema is `unchanged`, not a conflict.
        """
        findings = lint_schema(schema, path_key=expected_key)
        key = schema_key_of(schema)
        if key is None or has_errors(findings):
            errors = [f for f in findings if f.level == "ERROR"]
            message = "The schema does not conform to a JSON Schema v4 specification"
            return Outcome("invalid", key, message, [f"{f.pointer}: {f.message}" for f in errors], lint=findings)
        assert isinstance(schema, dict)  # lint_schema reports non-objects as errors
        refused = self._unreadable_refs(schema, key, publisher)
        if refused:
            return Outcome("invalid", key, "The schema refers to schemas it may not read", refused)
        family = (key.vendor, key.name, key.format)
        group = [k for k in self.store.list_keys() if (k.vendor, k.name, k.format) == family]
        exists = key in group
        visibility = {self.store.meta(k).is_public for k in group if k != key}
        if is_public is None:
            is_public = self.store.meta(key).is_public if exists else visibility == {True} or not visibility
        same_body = exists and self._identical(key, schema)
        if same_body and self.store.meta(key).is_public == is_public:
            return Outcome("unchanged", key, "Schema unchanged: the same schema is already published")
        if exists and not self.dev_mode:
            published = "public" if self.store.meta(key).is_public else "private"
            what = f"the same body but is {published}" if same_body else "a different body"
            return Outcome("conflict", key, "Schema already exists", [f"{key.uri} is published with {what}"])
        others = [k.version for k in group if k != key]
        problem = None if exists else order_problem(key.version, others)
        if problem is not None:
            return Outcome("conflict", key, "Schema version is out of order", [problem])
        if visibility and visibility != {is_public}:
            wanted = "public" if is_public else "private"
            return Outcome("conflict", key, f"Schemas of {key.vendor}/{key.name} are not {wanted}", [])
        supersedes, problem = self._supersedes(schema, key, others)
        if problem is not None:
            return Outcome("conflict", key, problem, [])
        outcome = self._compatibility(schema, key, others, force=force)
        if outcome is not None:
            return outcome
        return self._write(schema, key, exists=exists, is_public=is_public, supersedes=supersedes, dry_run=dry_run)

    def _unreadable_refs(self, schema: dict[str, Any], key: SchemaKey, publisher: Principal | None) -> list[str]:
        """Why each private schema reached through `iglu:` refs (in this store) may not be referred to."""
        own = schema_reader(key.vendor)
        problems: list[str] = []
        seen: set[SchemaKey] = {key}
        pending = [(key, ref) for ref in iglu_refs(schema)]
        while pending and len(seen) <= MAX_REFERENCED_SCHEMAS:
            referrer, target = pending.pop(0)
            if target in seen:
                continue
            seen.add(target)
            found = self.store.get(target)
            if found is None:
                continue  # not in this store: another repository may hold it; the resolver's rule still applies
            is_public = self.store.meta(target).is_public
            via = "" if referrer == key else f" (through {referrer.uri})"
            if publisher is not None and not may_read(publisher, target, is_public=is_public):
                problems.append(f"$ref {target.uri}{via}: not a schema this API key may read")
                continue
            if not may_read(own, target, is_public=is_public):
                problems.append(
                    f"$ref {target.uri}{via}: private to {target.vendor}, so validation never resolves it for "
                    f"{key.vendor} schemas; make it public or refer to a {key.vendor} schema"
                )
                continue
            pending.extend((target, ref) for ref in iglu_refs(found))
        return problems

    def _identical(self, key: SchemaKey, schema: dict[str, Any]) -> bool:
        stored = self.store.get(key)
        return stored is not None and stored == {k: v for k, v in schema.items() if k != "$supersededBy"}

    def _supersedes(
        self, schema: dict[str, Any], key: SchemaKey, others: list[SchemaVer]
    ) -> tuple[list[SchemaVer], str | None]:
        raw = schema.get("$supersedes")
        if raw is None:
            return [], None
        if not isinstance(raw, list):
            return [], "$supersedes must be a list of versions"
        try:
            versions = [SchemaVer.parse(v) for v in raw]
        except (IgluParseError, TypeError):
            return [], f"$supersedes holds an invalid version: {raw!r}"
        missing = [str(v) for v in versions if v not in others]
        if missing:
            return [], f"Superseded schema version(s) do not exist: {', '.join(missing)}"
        higher = [str(v) for v in versions if not v < key.version]
        if higher:
            return (
                [],
                f"Superseded schema version(s) {', '.join(higher)} must be below the superseding version {key.version}",
            )
        return versions, None

    def _compatibility(
        self, schema: dict[str, Any], key: SchemaKey, others: list[SchemaVer], *, force: bool
    ) -> Outcome | None:
        policy = self.policy or CompatibilityPolicy.load(self.store)
        mode = policy.mode_for(key)
        earlier = sorted(v for v in others if v.model == key.version.model and v < key.version)
        if mode == "NONE" or not earlier:
            return None
        bump = declared_bump(earlier[-1], key.version)
        targets = earlier if mode.endswith("_TRANSITIVE") else earlier[-1:]
        directions = {"BACKWARD": ("backward",), "FORWARD": ("forward",), "FULL": ("backward", "forward")}[
            mode.removesuffix("_TRANSITIVE")
        ]
        diffs: dict[str, Diff] = {}
        refusals: list[str] = []
        for version in targets:
            previous = self.store.get(SchemaKey(key.vendor, key.name, key.format, version))
            if previous is None:
                continue
            for direction in directions:
                d = diff(previous, schema) if direction == "backward" else diff(schema, previous)
                diffs[f"{direction} {version}"] = d
                if allowed(bump, d.highest):
                    continue
                if d.verdict == "UNSURE" and force and allowed(bump, d.lowest):
                    continue
                what = "old data" if direction == "backward" else "new data under the old schema"
                article = "an" if bump == "ADDITION" else "a"
                head = f"{key.version} is declared {article} {bump} of {version}; the change is {d.verdict} for {what}"
                if d.verdict == "MODEL" or d.highest == "MODEL":
                    head += f"; publish it as {key.version.model + 1}-0-0 if the change is meant"
                if d.verdict == "UNSURE":
                    head += f" (it may need a {d.highest})"
                    if allowed(bump, d.lowest):
                        head += f"; publish with --force to accept it as {article} {bump}"
                refusals.append(head)
                refusals.extend(f"  {reason}" for reason in d.reasons)
        if refusals:
            return Outcome("conflict", key, f"Incompatible change under {mode} compatibility", refusals, diffs=diffs)
        return None

    def _write(
        self,
        schema: dict[str, Any],
        key: SchemaKey,
        *,
        exists: bool,
        is_public: bool,
        supersedes: list[SchemaVer],
        dry_run: bool,
    ) -> Outcome:
        stored = {k: v for k, v in schema.items() if k != "$supersededBy"}
        if dry_run:
            return Outcome(
                "would-update" if exists else "would-create", key, "Dry run: all checks passed, nothing written"
            )
        meta = SchemaMeta(is_public=is_public, supersedes=[str(v) for v in supersedes])
        if exists:
            old_meta = self.store.meta(key)
            meta.created_at = old_meta.created_at or meta.created_at
            meta.superseded_by = old_meta.superseded_by
        try:
            self.store.put(key, stored, meta, overwrite=exists)
        except ObjectExists:
            return Outcome("conflict", key, "Schema already exists", [f"{key.uri} was published concurrently"])
        for version in supersedes:
            old_key = SchemaKey(key.vendor, key.name, key.format, version)
            old_meta = self.store.meta(old_key)
            current = old_meta.superseded_by
            if current is None or SchemaVer.parse(current) < key.version:
                old_meta.superseded_by = str(key.version)
                self.store.put_meta(old_key, old_meta)
        return Outcome("updated" if exists else "created", key, "Schema updated" if exists else "Schema created")
