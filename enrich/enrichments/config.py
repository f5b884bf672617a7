"""Enrichment configuration files: one self-describing JSON per enrichment, validated through the registry.

A folder (`--enrichments DIR`, `./enrichments/` for `eventkit up`) holds `*.json` files shaped as
Snowplow's: `{"schema": "iglu:<vendor>/<name>/jsonschema/<ver>", "data": {"vendor", "name", "enabled",
"parameters": {...}}}`. Bad configuration is an operator error found at start-up, so it raises
ConfigError naming the file; it is never discovered per event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from core.errors import ConfigError, IgluParseError
from core.iglu import SchemaKey, parse_self_describing
from registry.validator import SchemaValidator

__all__ = ["EnrichmentConfig", "read_config", "read_folder"]


@dataclass(frozen=True, slots=True)
class EnrichmentConfig:
    """One enrichment's validated configuration."""

    schema: SchemaKey
    name: str  # `data.name`: the identifier shown in enrichment_failures
    enabled: bool
    parameters: dict[str, Any]
    data: dict[str, Any] = field(repr=False)  # the whole `data` object (some options sit beside `parameters`)
    source: Path | None = None  # the file it came from (relative database paths resolve against its folder)
    # The validator it was read with (the registry enrich uses): what a user's enrichment checks its contexts with.
    validator: SchemaValidator | None = field(default=None, repr=False, compare=False)

    @property
    def folder(self) -> Path:
        return self.source.parent if self.source is not None else Path.cwd()


def read_config(document: Any, validator: SchemaValidator, source: Path | None = None) -> EnrichmentConfig:
    """Validate one parsed config document against its declared schema; raises ConfigError when unusable."""
    where = str(source) if source is not None else "enrichment config"
    try:
        sdj = parse_self_describing(document)
    except IgluParseError as e:
        raise ConfigError(f"{where}: not a self-describing JSON ({e})") from None
    result = validator.validate(sdj.schema, sdj.data)
    if not result.ok:
        detail = orjson.dumps(result.error).decode() if result.error is not None else "invalid"
        raise ConfigError(f"{where}: does not validate against {sdj.schema.uri}: {detail}")
    data = sdj.data
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: data must be an object")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: data.name must be a non-empty string")
    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict):
        raise ConfigError(f"{where}: data.parameters must be an object")
    return EnrichmentConfig(sdj.schema, name, data.get("enabled") is True, parameters, data, source, validator)


def read_folder(folder: Path, validator: SchemaValidator) -> list[EnrichmentConfig]:
    """Every `*.json` file of `folder` (sorted by name), validated; a missing folder is a ConfigError."""
    if not folder.is_dir():
        raise ConfigError(f"--enrichments: {folder} is not a folder")
    configs: list[EnrichmentConfig] = []
    for path in sorted(folder.glob("*.json")):
        try:
            document = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as e:
            raise ConfigError(f"{path}: not JSON ({e})") from None
        except OSError as e:
            raise ConfigError(f"{path}: cannot be read ({e})") from None
        configs.append(read_config(document, validator, path))
    return configs
