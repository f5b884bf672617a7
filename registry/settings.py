"""The registry's settings section (`[registry]`, `EVENTKIT_REGISTRY__*`), composed into `core.settings.Settings`."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from core.locations import BUNDLED_SCHEMAS
from core.section import Section, check_registry

__all__ = ["RegistrySettings"]


class RegistrySettings(Section):
    """The schema registry: where schemas live, the resolver cache, the HTTP API."""

    path_or_url: str = Field(default_factory=lambda: str(BUNDLED_SCHEMAS))
    cache_size: int = Field(default=500, ge=0)
    cache_ttl: int | None = Field(
        default=600,
        ge=0,
        description="seconds a schema or its absence is cached; None = never expire. Used only when set "
        "(eventkit.toml, EVENTKIT_REGISTRY__CACHE_TTL); unset: a resolver config's cacheTtl, else the command's",
    )
    api_master_key: SecretStr | None = Field(default=None, description="None = read-only API")
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)

    @field_validator("path_or_url")
    @classmethod
    def _where(cls, value: str) -> str:
        return check_registry("registry.path_or_url", value)
