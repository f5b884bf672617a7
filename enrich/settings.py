"""The enrich stage's settings section (`[enrich]`, `EVENTKIT_ENRICH__*`), composed into `core.settings.Settings`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from core.locations import BUNDLED_SCHEMAS, parse_lake_url, parse_queue_url
from core.section import DEFAULT_DATA_DIR, Section, check_location, check_registry, lake_url, queue_url

__all__ = ["EnrichSettings", "FileCutSettings"]


class FileCutSettings(Section):
    """When enrich closes a lake file: whichever limit is reached first."""

    max_events: int = Field(default=10_000, gt=0)
    max_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_age_seconds: float = Field(default=60.0, gt=0)


class EnrichSettings(Section):
    """The enrich worker: raw queue in, lake out, schemas from the registry."""

    raw: str = Field(default_factory=lambda: queue_url(DEFAULT_DATA_DIR), description="raw queue URL (consume)")
    lake: str = Field(default_factory=lambda: lake_url(DEFAULT_DATA_DIR), description="lake URL")
    registry: str = Field(default_factory=lambda: str(BUNDLED_SCHEMAS), description="registry path or URL")
    workers: int = Field(default=1, ge=1)
    enrichments: Path | None = Field(default=None, description="enrichment configs folder")
    write_tsv: bool = Field(default=False, description="also write Snowplow enriched TSV beside Parquet")
    file_cut: FileCutSettings = Field(default_factory=FileCutSettings)
    validation_budget_ms: int = Field(default=200, ge=0, description="per event; over it a schema_violations row")
    max_delivery_attempts: int = Field(default=3, ge=1, description="failed attempts before a generic_error row")

    @field_validator("raw")
    @classmethod
    def _raw(cls, value: str) -> str:
        return check_location(parse_queue_url, "enrich.raw", value)

    @field_validator("lake")
    @classmethod
    def _lake(cls, value: str) -> str:
        return check_location(parse_lake_url, "enrich.lake", value)

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str) -> str:
        return check_registry("enrich.registry", value)
