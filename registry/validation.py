"""Validating instances against registry schemas: compiled fast path first, a full Iglu report only on failure.

    validate(key, data)
      resolve key (cache, `$supersededBy`)      not found  -> ok=False, ResolutionError
      nesting depth <= max_depth                  too deep   -> ok=False, ValidationError(maxDepth)
      compiled fastjsonschema code (per key)      passes     -> ok=True
      jsonschema Draft4Validator.iter_errors      failures   -> ok=False, ValidationError(dataReports)

Registry outages raise `core.errors.RegistryUnavailable` (retry); nothing else raises. Both
validators share draft-04 semantics, formats and the `$ref` policy (see `registry.schema_compiler`);
tests/registry/test_validation.py proves they agree on valid/invalid.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fastjsonschema import JsonSchemaValueException
from referencing.exceptions import Unresolvable

from core.iglu import SchemaKey, SelfDescribing
from registry.data_reports import depth_report, reports_for
from registry.json_depth import nesting_depth_exceeds
from registry.resolver import Resolution, Resolver, SchemaNotFound
from registry.schema_compiler import CompiledSchema, SchemaIssue, compile_schema

__all__ = ["ValidationResult", "Validator"]


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The verdict on one instance; `error` is IgluClientError JSON when not ok."""

    ok: bool
    key: SchemaKey  # the key actually used (the superseding one when `$supersededBy` applies)
    original: SchemaKey  # the key the instance declared
    error: dict[str, Any] | None = None

    @property
    def superseded(self) -> bool:
        return self.key != self.original


@dataclass(slots=True)
class _Compiled:
    schema: dict[str, Any]  # the resolver's object it was compiled from (identity check first)
    compiled: CompiledSchema | None
    issue: SchemaIssue | None = None
    expires: float | None = None  # failures caused by a missing `iglu:` $ref are retried after the TTL


class Validator:
    """Validates data against schema keys through a Resolver, caching compiled validators per key."""

    def __init__(self, resolver: Resolver, *, max_depth: int = 50) -> None:
        self.resolver = resolver
        self.max_depth = max_depth
        self._lock = threading.Lock()
        self._compiled: OrderedDict[SchemaKey, _Compiled] = OrderedDict()

    # -- compiled validators ------------------------------------------------------------------

    def _validators(self, resolution: Resolution) -> _Compiled:
        """Compiled validators for the resolved schema, rebuilt when the resolver hands out a different schema."""
        key, schema = resolution.key, resolution.schema
        with self._lock:
            entry = self._compiled.get(key)
            if entry is not None:
                fresh = entry.expires is None or time.monotonic() < entry.expires
                if entry.schema is schema and fresh:
                    return entry
                if fresh and entry.schema == schema:  # re-fetched after the TTL but unchanged
                    entry.schema = schema
                    return entry
        try:
            entry = _Compiled(schema, compile_schema(schema, self.resolver.lookup))
        except SchemaIssue as unusable:
            entry = _Compiled(schema, None, unusable)
        except SchemaNotFound as e:
            issue = SchemaIssue("$", f"$ref to {e.key.uri} cannot be resolved: not found in the registry")
            ttl = self.resolver.cache_ttl
            entry = _Compiled(schema, None, issue, None if ttl is None else time.monotonic() + ttl)
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
            resolution = self.resolver.resolve(key)
        except SchemaNotFound:
            return False
        compiled = self._validators(resolution).compiled
        if compiled is None or nesting_depth_exceeds(data, self.max_depth):
            return False
        try:
            compiled.fast(data)
        except JsonSchemaValueException:
            return False
        except (ArithmeticError, ValueError, TypeError, RecursionError):
            # fastjsonschema's generated code can raise on extreme numbers (int too large for a float):
            # the full validator decides.
            return not any(True for _ in compiled.full.iter_errors(data))
        return True

    def validate(self, key: SchemaKey, data: Any) -> ValidationResult:
        """The verdict with Iglu's error JSON; raises only RegistryUnavailable (retry later)."""
        try:
            resolution = self.resolver.resolve(key)
        except SchemaNotFound as e:
            return ValidationResult(False, key, key, e.to_json())
        used = resolution.key
        entry = self._validators(resolution)
        if entry.compiled is None:
            issue = entry.issue or SchemaIssue("$", "schema unusable")
            return ValidationResult(False, used, key, self._error({"schemaIssues": [issue.to_json()]}, resolution))
        if nesting_depth_exceeds(data, self.max_depth):
            return ValidationResult(
                False, used, key, self._error({"dataReports": [depth_report(self.max_depth)]}, resolution)
            )
        try:
            entry.compiled.fast(data)
        except (JsonSchemaValueException, ArithmeticError, ValueError, TypeError, RecursionError):
            pass  # invalid, or a case the generated code cannot evaluate: the full validator decides
        else:
            return ValidationResult(True, used, key)
        return self._full_report(entry.compiled, resolution, data)

    def validate_sdj(self, instance: SelfDescribing) -> ValidationResult:
        """Validate a self-describing JSON's data against its declared schema."""
        return self.validate(instance.schema, instance.data)

    def _full_report(self, compiled: CompiledSchema, resolution: Resolution, data: Any) -> ValidationResult:
        try:
            reports = reports_for(compiled.full.iter_errors(data))
        except Unresolvable as e:
            issue = SchemaIssue("$", f"$ref cannot be resolved: {e}")
            return ValidationResult(
                False, resolution.key, resolution.original, self._error({"schemaIssues": [issue.to_json()]}, resolution)
            )
        if not reports:
            # The fast path rejected what the reference validator accepts: the reference wins
            # (tests/registry/test_validation.py keeps this branch unreachable for known features).
            return ValidationResult(True, resolution.key, resolution.original)
        return ValidationResult(
            False, resolution.key, resolution.original, self._error({"dataReports": reports}, resolution)
        )

    @staticmethod
    def _error(body: dict[str, Any], resolution: Resolution) -> dict[str, Any]:
        error: dict[str, Any] = {"error": "ValidationError", **body}
        if resolution.superseded:
            error["supersededBy"] = str(resolution.key.version)
        return error
