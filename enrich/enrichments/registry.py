"""The enrichment plug-ins: a literal map from configuration schema to module, with Snowplow's run order.

`load_enrichments(folder, registry)` is what the composition roots call (`eventkit enrich
--enrichments DIR`, `eventkit up` with `./enrichments/`): it validates each config file through the
registry and returns the enabled enrichments in order; `load_enrichment_setup` also returns the
`event_fingerprint_config` settings.

Keyed by the config schema's (vendor, name), as the wire says; each entry names the schema versions
it accepts (a criterion) and its place in snowplow.md §3.1 phase 2: the UA and referer steps before
campaign attribution, IP lookups before IP anonymisation, PII pseudonymisation last. A config whose
schema is not in the map, or whose version the entry does not accept, is a ConfigError at start-up.
`event_fingerprint_config` is accepted beside them: it configures the built-in fingerprint rather
than adding a step (enrich/enrichments/fingerprint.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from core.iglu import SchemaCriterion
from core.locations import BUNDLED_SCHEMAS
from enrich.enrichments import (
    anon_ip,
    campaign_attribution,
    cookie_extractor,
    cross_navigation,
    fingerprint,
    http_header_extractor,
    ip_lookups,
    pii,
    python,
    referer_parser,
    spiders_and_robots,
    ua_parser,
)
from enrich.enrichments.base import Enrichment
from enrich.enrichments.config import EnrichmentConfig, read_folder
from enrich.environment import FingerprintConfig
from registry.resolver import Resolver
from registry.validation import Validator
from registry.validator import SchemaValidator

__all__ = ["ENRICHMENTS", "Plugin", "build_chain", "load_enrichment_setup", "load_enrichments"]

_SP = "com.snowplowanalytics.snowplow"
_SPE = "com.snowplowanalytics.snowplow.enrichments"
_EK = "io.eventkit"


@dataclass(frozen=True, slots=True)
class Plugin:
    """One enrichment family: accepted config versions, position in the chain, and its builder."""

    accepts: tuple[SchemaCriterion, ...]
    order: int  # the step number of snowplow.md §3.1 phase 2
    build: Callable[[EnrichmentConfig], Enrichment]
    several: bool = False  # whether a chain may hold more than one of the family (each its own `name`)


def _c(*uris: str) -> tuple[SchemaCriterion, ...]:
    return tuple(SchemaCriterion.parse(u) for u in uris)


ENRICHMENTS: dict[tuple[str, str], Plugin] = {
    (_SPE, "iab_spiders_and_robots_enrichment"): Plugin(
        _c(f"iglu:{_SPE}/iab_spiders_and_robots_enrichment/jsonschema/1-0-*"), 4, spiders_and_robots.build
    ),
    (_SP, "ua_parser_config"): Plugin(_c(f"iglu:{_SP}/ua_parser_config/jsonschema/1-0-*"), 6, ua_parser.build),
    (_SP, "referer_parser"): Plugin(
        _c(f"iglu:{_SP}/referer_parser/jsonschema/1-0-*", f"iglu:{_SP}/referer_parser/jsonschema/2-0-*"),
        8,
        referer_parser.build,
    ),
    (_SP, "campaign_attribution"): Plugin(
        _c(f"iglu:{_SP}/campaign_attribution/jsonschema/1-0-*"), 10, campaign_attribution.build
    ),
    (_SPE, "cross_navigation_config"): Plugin(
        _c(f"iglu:{_SPE}/cross_navigation_config/jsonschema/1-0-*"), 11, cross_navigation.build
    ),
    (_SP, "cookie_extractor_config"): Plugin(
        _c(f"iglu:{_SP}/cookie_extractor_config/jsonschema/1-0-*"), 13, cookie_extractor.build
    ),
    (_SPE, "http_header_extractor_config"): Plugin(
        _c(f"iglu:{_SPE}/http_header_extractor_config/jsonschema/1-0-*"), 14, http_header_extractor.build
    ),
    (_SP, "ip_lookups"): Plugin(_c(f"iglu:{_SP}/ip_lookups/jsonschema/2-0-*"), 18, ip_lookups.build),
    # Users' own, where Snowplow runs its JavaScript enrichment (21): after the lookups, before anon_ip and PII.
    (_EK, "python_enrichment_config"): Plugin(
        _c(f"iglu:{_EK}/python_enrichment_config/jsonschema/1-0-*"), 21, python.build, several=True
    ),
    (_SP, "anon_ip"): Plugin(_c(f"iglu:{_SP}/anon_ip/jsonschema/1-0-*"), 24, anon_ip.build),
    (_SPE, "pii_enrichment_config"): Plugin(
        _c(
            f"iglu:{_SPE}/pii_enrichment_config/jsonschema/1-0-*", f"iglu:{_SPE}/pii_enrichment_config/jsonschema/2-0-*"
        ),
        25,
        pii.build,
    ),
}


def build_chain(configs: Sequence[EnrichmentConfig]) -> list[Enrichment]:
    """The enabled enrichments, built and sorted into Snowplow's order (one per family, but users' own)."""
    chosen: list[tuple[int, Enrichment]] = []
    seen: dict[tuple[str, ...], EnrichmentConfig] = {}
    for config in configs:
        family = (config.schema.vendor, config.schema.name)
        plugin = ENRICHMENTS.get(family)
        where = str(config.source) if config.source is not None else config.name
        if plugin is None and family != fingerprint.FAMILY:
            known = ", ".join(f"{v}/{n}" for v, n in (*ENRICHMENTS, fingerprint.FAMILY))
            raise ConfigError(f"{where}: no enrichment for {config.schema.uri} (known: {known})")
        accepts = plugin.accepts if plugin is not None else (fingerprint.ACCEPTS,)
        if not any(c.matches(config.schema) for c in accepts):
            accepted = ", ".join(str(c) for c in accepts)
            raise ConfigError(f"{where}: {config.schema.uri} is not an accepted version ({accepted})")
        # Several of a family run in the order of their files (the sort below keeps it), under distinct names.
        instance = (*family, config.name) if plugin is not None and plugin.several else family
        if instance in seen:
            raise ConfigError(f"{where}: a second {'/'.join(instance[1:])} config (first: {seen[instance].source})")
        seen[instance] = config
        if config.enabled and plugin is not None:
            chosen.append((plugin.order, plugin.build(config)))
    chosen.sort(key=lambda pair: pair[0])
    return [enrichment for _, enrichment in chosen]


def load_enrichments(folder: Path, registry: Resolver | SchemaValidator) -> list[Enrichment]:
    """The enabled enrichments configured in `folder`, in Snowplow's order; ConfigError on any bad file."""
    return load_enrichment_setup(folder, registry)[0]


def load_enrichment_setup(
    folder: Path, registry: Resolver | SchemaValidator
) -> tuple[list[Enrichment], FingerprintConfig | None]:
    """load_enrichments() plus the fingerprint settings of `folder` (`event_fingerprint_config`, else the default).

    Configs are validated through `registry`; given a resolver, Snowplow's enrichment config schemas
    (bundled in `schemas/`) are consulted after its chain.
    """
    if isinstance(registry, Resolver):
        # Snowplow's enrichment config schemas are bundled: consult them after the given chain
        # (composition roots already include them via with_bundled_schemas; don't add them twice).
        bundled = Resolver.from_locations(str(BUNDLED_SCHEMAS), cache_ttl=None)
        roots = {getattr(r, "root", None) for r in registry.repositories}
        extra = [r for r in bundled.repositories if getattr(r, "root", None) not in roots]
        if extra:
            registry = Resolver([*registry.repositories, *extra], cache_ttl=None)
        registry = Validator(registry)
    configs = read_folder(folder, registry)
    return build_chain(configs), fingerprint.fingerprint_config(configs)
