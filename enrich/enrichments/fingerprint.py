"""`event_fingerprint_config`: Snowplow's event fingerprint settings, read from the enrichments folder.

Not a step of the chain: it sets how enrich's built-in fingerprint (enrich/derive.py) hashes the raw
parameters. Absent, eventkit still fingerprints with MD5 and Snowplow's default exclusions (the loader
deduplicates by `(event_id, event_fingerprint)`); `enabled: false` turns the fingerprint off, as in
Snowplow.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import ConfigError
from core.iglu import SchemaCriterion
from enrich.enrichments.config import EnrichmentConfig
from enrich.environment import FingerprintConfig, HashAlgorithm

__all__ = ["ACCEPTS", "FAMILY", "fingerprint_config"]

FAMILY = ("com.snowplowanalytics.snowplow", "event_fingerprint_config")
HASH_ALGORITHMS: tuple[HashAlgorithm, ...] = ("MD5", "SHA1", "SHA256", "SHA384", "SHA512")
ACCEPTS = SchemaCriterion.parse("iglu:com.snowplowanalytics.snowplow/event_fingerprint_config/jsonschema/1-0-*")


def fingerprint_config(configs: Sequence[EnrichmentConfig]) -> FingerprintConfig | None:
    """The fingerprint settings among `configs`: the default when none is there, None when it is disabled."""
    found = [c for c in configs if (c.schema.vendor, c.schema.name) == FAMILY]
    if not found:
        return FingerprintConfig()
    config = found[0]
    where = str(config.source) if config.source is not None else config.name
    if not config.enabled:
        return None
    algorithm = config.parameters.get("hashAlgorithm")
    excluded = config.parameters.get("excludeParameters")
    if not isinstance(excluded, list) or not all(isinstance(name, str) for name in excluded):
        raise ConfigError(f"{where}: parameters.excludeParameters must be a list of parameter names")
    if algorithm not in HASH_ALGORITHMS:
        raise ConfigError(f"{where}: parameters.hashAlgorithm {algorithm!r}: expected {', '.join(HASH_ALGORITHMS)}")
    return FingerprintConfig(algorithm, tuple(excluded))
