"""Validating instances against registry schemas: compiled fast path first, a full Iglu report only on failure.

    validate(key, data)
      resolve key (cache, `$supersededBy`)      not found  -> ok=False, ResolutionError
      nesting depth <= max_depth (1)              too deep   -> ok=False, ValidationError(maxDepth)
      compiled fastjsonschema code (per key)      passes     -> ok=True
      jsonschema Draft4Validator.iter_errors      failures   -> ok=False, ValidationError(dataReports)

Time: patterns are matched in bounded time (registry.patterns); inside an event's validation budget
(`registry.patterns.validation_budget`, set by enrich per event) a verdict that runs out of time
is a failure with a `timeBudget` data report, never a stall. Compiling a schema is not charged.

(1) checked before validation when the schema admits unbounded nesting; when it admits at most
    max_depth levels (registry.json_depth.admitted_depth) an accepted instance cannot be too deep,
    so the walk runs only before the full report.

Registry outages raise `core.errors.RegistryUnavailable` (retry); nothing else raises. Both
validators share draft-04 semantics, formats and the `$ref` policy (see `registry.schema_compiler`);
tests/registry/test_validation.py proves they agree on valid/invalid.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from fastjsonschema import JsonSchemaValueException
from referencing.exceptions import Unresolvable

from core.iglu import SchemaKey, SelfDescribing
from registry.data_reports import depth_report, reports_for
from registry.json_depth import admitted_depth, nesting_depth_exceeds
from registry.keys import schema_reader
from registry.patterns import PatternTimeout, budget_paused, check_budget
from registry.resolver import Resolution, Resolver, SchemaNotFound
from registry.schema_compiler import CompiledSchema, SchemaIssue, compile_schema

__all__ = ["ValidationResult", "Validator", "timeout_report"]

# Errors fastjsonschema's generated code can raise on extreme inputs (ints too large for a float):
# the instance then goes to the full validator, which decides.
_UNEVALUABLE: Final = (ArithmeticError, ValueError, TypeError, RecursionError)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The verdict on one instance; `error` is IgluClientError JSON when not ok."""

    ok: bool
    key: SchemaKey  # the key actually used (the superseding one when `$supersededBy` applies)
    original: SchemaKey  # the key the instance declared
    error: dict[str, Any] | None = None

    @property
    def superseded(self) -> bool:
        return self.key is not self.original and self.key != self.original


@dataclass(slots=True)
class _Compiled:
    schema: dict[str, Any]  # the resolver's object it was compiled from (identity check first)
    compiled: CompiledSchema | None
    issue: SchemaIssue | None = None
    expires: float | None = None  # failures caused by a missing `iglu:` $ref are retried after the TTL
    depth_first: bool = True  # walk the instance's nesting before the fast path (schema admits deeper)


@dataclass(slots=True)
class _Prepared:
    """Everything the hot path needs for one declared key, valid until `expires` or the next invalidate()."""

    resolution: Resolution
    entry: _Compiled
    expires: float | None
    generation: int
    valid: ValidationResult  # the verdict for any instance the fast path accepts (immutable, shared)


class Validator:
    """Validates data against schema keys through a Resolver, caching compiled validators per key."""

    def __init__(self, resolver: Resolver, *, max_depth: int = 50) -> None:
        self.resolver = resolver
        self.max_depth = max_depth
        self._clock = resolver.clock
        self._lock = threading.Lock()
        self._compiled: OrderedDict[SchemaKey, _Compiled] = OrderedDict()
        self._prepared: dict[SchemaKey, _Prepared] = {}

    # -- compiled validators ------------------------------------------------------------------

    def _prepare(self, key: SchemaKey) -> _Prepared:
        """The resolution and validators for `key`; SchemaNotFound / RegistryUnavailable pass through."""
        prepared = self._prepared.get(key)
        if (
            prepared is not None
            and prepared.generation == self.resolver.generation
            and (prepared.expires is None or self._clock() < prepared.expires)
        ):
            return prepared
        generation = self.resolver.generation
        with budget_paused():  # resolving and compiling happen once per key, not per event
            resolution, expires = self.resolver.resolve_timed(key)
            entry = self._validators(resolution)
        if entry.expires is not None:
            expires = entry.expires if expires is None else min(expires, entry.expires)
        prepared = _Prepared(resolution, entry, expires, generation, ValidationResult(True, resolution.key, key))
        if len(self._prepared) >= self.resolver.cache_size:
            self._prepared.clear()  # rare: more live keys than the cache holds; rebuilt on demand
        self._prepared[key] = prepared
        return prepared

    def _validators(self, resolution: Resolution) -> _Compiled:
        """Compiled validators for the resolved schema, rebuilt when the resolver hands out a different schema."""
        key, schema = resolution.key, resolution.schema
        with self._lock:
            entry = self._compiled.get(key)
            if entry is not None:
                fresh = entry.expires is None or self._clock() < entry.expires
                if entry.schema is schema and fresh:
                    return entry
                if fresh and entry.schema == schema:  # re-fetched after the TTL but unchanged
                    entry.schema = schema
                    return entry
        try:
            # `$ref`s read as the schema's own vendor: never another vendor's private schema.
            compiled = compile_schema(schema, self.resolver.lookup_as(schema_reader(key.vendor)))
            bound = admitted_depth(schema)
            entry = _Compiled(schema, compiled, depth_first=bound is None or bound > self.max_depth)
        except SchemaIssue as unusable:
            entry = _Compiled(schema, None, unusable)
        except SchemaNotFound as e:
            issue = SchemaIssue("$", f"$ref to {e.key.uri} cannot be resolved: not found in the registry")
            ttl = self.resolver.cache_ttl
            entry = _Compiled(schema, None, issue, None if ttl is None else self._clock() + ttl)
        with self._lock:
            self._compiled[key] = entry
            self._compiled.move_to_end(key)
            while len(self._compiled) > self.resolver.cache_size:
                self._compiled.popitem(last=False)
        return entry

    # -- verdicts -----------------------------------------------------------------------------

    def is_valid(self, key: SchemaKey, data: Any) -> bool:
        """The fast path only: True when `data` is valid for `key` (False when the schema is missing or unusable)."""
        try:
            entry = self._prepare(key).entry
        except SchemaNotFound:
            return False
        compiled = entry.compiled
        if compiled is None or (entry.depth_first and nesting_depth_exceeds(data, self.max_depth)):
            return False
        try:
            compiled.fast(data)
            check_budget()
        except (JsonSchemaValueException, PatternTimeout):
            return False
        except _UNEVALUABLE:
            try:
                return not nesting_depth_exceeds(data, self.max_depth) and not any(
                    True for _ in compiled.full.iter_errors(data)
                )
            except PatternTimeout:
                return False
        return True

    def validate(self, key: SchemaKey, data: Any) -> ValidationResult:
        """The verdict with Iglu's error JSON; raises only RegistryUnavailable (retry later)."""
        try:
            prepared = self._prepare(key)
        except SchemaNotFound as e:
            return ValidationResult(False, key, key, e.to_json())
        resolution, entry = prepared.resolution, prepared.entry
        if entry.compiled is None:
            issue = entry.issue or SchemaIssue("$", "schema unusable")
            return self._failed(resolution, {"schemaIssues": [issue.to_json()]})
        if entry.depth_first and nesting_depth_exceeds(data, self.max_depth):
            return self._failed(resolution, {"dataReports": [depth_report(self.max_depth)]})
        try:
            entry.compiled.fast(data)
            check_budget()
        except (JsonSchemaValueException, *_UNEVALUABLE):
            pass  # invalid, or a case the generated code cannot evaluate: the full validator decides
        except PatternTimeout as e:
            return self._failed(resolution, {"dataReports": [timeout_report(e)]})
        else:
            return prepared.valid
        if not entry.depth_first and nesting_depth_exceeds(data, self.max_depth):
            return self._failed(resolution, {"dataReports": [depth_report(self.max_depth)]})
        try:
            return self._full_report(entry.compiled, resolution, data)
        except PatternTimeout as e:
            return self._failed(resolution, {"dataReports": [timeout_report(e)]})

    def validate_sdj(self, instance: SelfDescribing) -> ValidationResult:
        """Validate a self-describing JSON's data against its declared schema."""
        return self.validate(instance.schema, instance.data)

    def _full_report(self, compiled: CompiledSchema, resolution: Resolution, data: Any) -> ValidationResult:
        try:
            reports = reports_for(compiled.full.iter_errors(data))
        except Unresolvable as e:
            return self._failed(
                resolution, {"schemaIssues": [SchemaIssue("$", f"$ref cannot be resolved: {e}").to_json()]}
            )
        if not reports:
            # The fast path rejected what the reference validator accepts: the reference wins
            # (tests/registry/test_validation.py keeps this branch unreachable for known features).
            return ValidationResult(True, resolution.key, resolution.original)
        return self._failed(resolution, {"dataReports": reports})

    @staticmethod
    def _failed(resolution: Resolution, body: dict[str, Any]) -> ValidationResult:
        error: dict[str, Any] = {"error": "ValidationError", **body}
        if resolution.superseded:
            error["supersededBy"] = str(resolution.key.version)
        return ValidationResult(False, resolution.key, resolution.original, error)


def timeout_report(error: PatternTimeout) -> dict[str, Any]:
    """The report for a verdict that ran out of time (the event's budget, or one pattern match's cap)."""
    return {"message": f"$: {error}", "path": "$", "keyword": "timeBudget", "targets": []}
