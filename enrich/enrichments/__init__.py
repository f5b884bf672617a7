"""Enrichments: configurable steps that add derived fields and contexts to an event.

`load_enrichments(folder, registry)` is what the composition roots call (`eventkit enrich
--enrichments DIR`, `eventkit up` with `./enrichments/`): it validates each config file through the
registry (Snowplow's config schemas ship in the bundled `schemas/`, consulted after the given
registry) and returns the enabled enrichments in Snowplow's order; `load_enrichment_setup` also
returns the `event_fingerprint_config` settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enrich.enrichments.base import Enrichment
    from enrich.environment import FingerprintConfig, SchemaValidator
    from registry.resolver import Resolver

__all__ = ["load_enrichment_setup", "load_enrichments"]


def load_enrichments(folder: Path, registry: Resolver | SchemaValidator) -> list[Enrichment]:
    """The enabled enrichments configured in `folder`; raises core.errors.ConfigError on any bad file."""
    return load_enrichment_setup(folder, registry)[0]


def load_enrichment_setup(
    folder: Path, registry: Resolver | SchemaValidator
) -> tuple[list[Enrichment], FingerprintConfig | None]:
    """load_enrichments() plus the fingerprint settings of `folder` (`event_fingerprint_config`, else the default)."""
    from core.locations import BUNDLED_SCHEMAS
    from enrich.enrichments.registry import load_setup as load
    from registry.resolver import Resolver
    from registry.validation import Validator

    if isinstance(registry, Resolver):
        # Snowplow's enrichment config schemas are bundled: consult them after the given chain
        # (composition roots already include them via with_bundled_schemas; don't add them twice).
        bundled = Resolver.from_locations(str(BUNDLED_SCHEMAS), cache_ttl=None)
        roots = {getattr(r, "root", None) for r in registry.repositories}
        extra = [r for r in bundled.repositories if getattr(r, "root", None) not in roots]
        if extra:
            registry = Resolver([*registry.repositories, *extra], cache_ttl=None)
        return load(folder, Validator(registry))
    return load(folder, registry)
