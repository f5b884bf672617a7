"""Building tracker events and running them through the real pipeline with a chosen enrichment chain."""

from __future__ import annotations

import base64
import json
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.iglu import SchemaKey
from core.raw import CollectorPayload
from enrich.enrichments.base import Enrichment
from enrich.enrichments.config import EnrichmentConfig, read_config
from enrich.enrichments.registry import ENRICHMENTS
from enrich.outcome import Outcome
from enrich.pipeline import enrich_payload
from registry.resolver import Resolver
from registry.validation import ValidationResult, Validator
from tests.enrich.pipeline_env import ETL_TSTAMP, REPO_ROOT, make_env, shared_validator

__all__ = [
    "SNOWPLOW_CONFIGS",
    "CountingValidator",
    "build",
    "config",
    "enrich_one",
    "payload",
    "snowplow_config",
    "staged_configs",
]

SNOWPLOW_CONFIGS = REPO_ROOT / "tests" / "cases" / "enrichments" / "snowplow"
COLLECTOR_TSTAMP = 1_795_690_796_000


def payload(
    params: dict[str, str],
    *,
    headers: Sequence[str] = (),
    ip: str | None = "203.0.113.9",
    useragent: str | None = None,
    referer: str | None = None,
) -> CollectorPayload:
    """A GET /i request carrying `params` (tp1), as the collector records it."""
    base = {"e": "pv", "p": "web", "tv": "js-4.10.1", "eid": "2b1c2f54-5d3e-4bdb-9a7a-0d3f43f6a001"}
    base.update(params)
    return CollectorPayload(
        vendor="com.snowplowanalytics.snowplow",
        version="tp1",
        querystring=tuple(base.items()),
        content_type=None,
        body=None,
        collector="eventkit-test-collector",
        encoding="UTF-8",
        hostname="collector.example.com",
        timestamp=COLLECTOR_TSTAMP,
        ip_address=ip,
        useragent=useragent,
        referer_uri=referer,
        headers=tuple(headers),
    )


def enrich_one(chain: Sequence[Enrichment], p: CollectorPayload) -> Outcome:
    """The single outcome of a one-event request under `chain`."""
    outcomes = enrich_payload(p, make_env(enrichments=tuple(chain)), ETL_TSTAMP)
    assert len(outcomes) == 1
    return outcomes[0]


def config(schema: str, parameters: dict[str, Any], *, folder: Path | None = None, **extra: Any) -> EnrichmentConfig:
    """A validated config for `schema` with `parameters` (name taken from the schema)."""
    key = SchemaKey.parse(schema)
    data = {"vendor": key.vendor, "name": key.name, "enabled": True, "parameters": parameters, **extra}
    source = folder / f"{key.name}.json" if folder is not None else None
    return read_config({"schema": schema, "data": data}, shared_validator(), source)


def build(cfg: EnrichmentConfig) -> Enrichment:
    """The enrichment the registry builds for `cfg`."""
    return ENRICHMENTS[(cfg.schema.vendor, cfg.schema.name)].build(cfg)


def snowplow_config(name: str, folder: Path | None = None) -> EnrichmentConfig:
    """The Snowplow-style example config tests/cases/enrichments/snowplow/<name>.json, read unchanged."""
    path = SNOWPLOW_CONFIGS / f"{name}.json"
    return read_config(json.loads(path.read_text()), shared_validator(), (folder or SNOWPLOW_CONFIGS) / path.name)


def staged_configs(target: Path) -> Path:
    """Copy every example config into `target` (so relative database paths resolve there)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in SNOWPLOW_CONFIGS.glob("*.json"):
        shutil.copy(path, target / path.name)
    return target


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


class CountingValidator:
    """A real validator, counting the instances it is asked about per schema name (no verdict is faked)."""

    def __init__(self, inner: Validator | None = None) -> None:
        self.inner = inner or shared_validator()
        self.calls: Counter[str] = Counter()

    @property
    def resolver(self) -> Resolver:
        return self.inner.resolver

    def validate(self, key: SchemaKey, data: Any) -> ValidationResult:
        self.calls[key.name] += 1
        return self.inner.validate(key, data)
