"""The schema-validator port: what stages need of a validator, so leaf modules depend on a protocol, not on its code.

`registry.validation.Validator` satisfies it; enrich's leaf modules (entities, proofs, enrichments)
and the pipeline's `Environment` are typed against it, and tests pass fakes.
"""

from __future__ import annotations

from typing import Any, Protocol

from core.iglu import SchemaKey

__all__ = ["SchemaValidator", "ValidationOutcome"]


class ValidationOutcome(Protocol):
    """What enrich reads from a validation result (registry.validation.ValidationResult satisfies it)."""

    @property
    def ok(self) -> bool: ...
    @property
    def key(self) -> SchemaKey: ...  # the schema actually used (the superseding one when superseded)
    @property
    def original(self) -> SchemaKey: ...
    @property
    def error(self) -> dict[str, Any] | None: ...  # IgluClientError JSON when not ok
    @property
    def superseded(self) -> bool: ...


class SchemaValidator(Protocol):
    """Validate an instance against an Iglu schema; raises core.errors.RegistryUnavailable on outages."""

    def validate(self, key: SchemaKey, data: Any) -> ValidationOutcome: ...
