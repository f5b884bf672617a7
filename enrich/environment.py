"""What every enrich step needs, built once by the composition root and passed down: no globals.

`Environment` carries the schema validator, the processor identity written into bad rows, the clock,
the enrichment chain and the configuration knobs of enrich (JSON depth, atomic length limits,
event fingerprint). Tests inject a fixed clock and a fixed event-id source for golden output.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from core.atomic import STRING_LIMITS, LengthLimits
from core.badrows.processor import EVENTKIT_PROCESSOR_VERSION, Processor, eventkit_processor
from core.errors import ConfigError
from core.ids import new_uuid4
from enrich.enrichments.base import Enrichment
from registry.validator import SchemaValidator

__all__ = [
    "DEFAULT_FINGERPRINT_EXCLUDES",
    "Environment",
    "FingerprintConfig",
    "HashAlgorithm",
    "wall_clock_ms",
]

HashAlgorithm = Literal["MD5", "SHA1", "SHA256", "SHA384", "SHA512"]
DEFAULT_FINGERPRINT_EXCLUDES: tuple[str, ...] = ("eid", "nuid", "stm", "cv")


def wall_clock_ms() -> int:
    """Current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class FingerprintConfig:
    """event_fingerprint_config: which hash, and which raw parameters are left out of it."""

    algorithm: HashAlgorithm = "MD5"
    exclude: tuple[str, ...] = DEFAULT_FINGERPRINT_EXCLUDES

    def __post_init__(self) -> None:
        if self.algorithm not in ("MD5", "SHA1", "SHA256", "SHA384", "SHA512"):
            raise ConfigError(f"event fingerprint hashAlgorithm {self.algorithm!r}: expected MD5, SHA1, SHA256, ...")


@dataclass(slots=True)
class Environment:
    """Everything enrich_payload needs; `fingerprint=None` disables event_fingerprint."""

    validator: SchemaValidator
    processor: Processor = field(default_factory=lambda: eventkit_processor("enrich"))
    clock: Callable[[], int] = wall_clock_ms
    enrichments: Sequence[Enrichment] = ()
    max_json_depth: int = 50
    atomic_limits: Mapping[str, int] = field(default_factory=dict)
    fingerprint: FingerprintConfig | None = field(default_factory=FingerprintConfig)
    new_event_id: Callable[[], str] = new_uuid4
    v_etl: str = f"eventkit-{EVENTKIT_PROCESSOR_VERSION}"
    validation_budget_ms: int = 200  # per event; over it the event is a schema_violations bad row (0: none)
    limits: dict[str, int] = field(init=False)
    length_limits: LengthLimits = field(init=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.atomic_limits) - set(STRING_LIMITS))
        if unknown:
            raise ConfigError(
                f"atomicFieldsLimits: unknown field(s) {', '.join(unknown)}; only string atomic fields have limits"
            )
        for name, limit in self.atomic_limits.items():
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise ConfigError(f"atomicFieldsLimits.{name}: expected a positive integer, got {limit!r}")
        if self.validation_budget_ms < 0:
            raise ConfigError(f"validation budget: expected milliseconds >= 0, got {self.validation_budget_ms!r}")
        if self.max_json_depth < 1:
            raise ConfigError(f"maxJsonDepth: expected a positive integer, got {self.max_json_depth!r}")
        self.limits = {**STRING_LIMITS, **self.atomic_limits}
        self.length_limits = LengthLimits.of(self.limits)
