"""The loader's settings section (`[loader]`, `EVENTKIT_LOADER__*`), composed into `core.settings.Settings`."""

from __future__ import annotations

from pydantic import Field, field_validator

from core.locations import parse_lake_url, parse_warehouse_url
from core.section import DEFAULT_DATA_DIR, Section, check_location, lake_url, warehouse_url

__all__ = ["LoaderSettings"]


class LoaderSettings(Section):
    """The loader: good events from the lake into the warehouse."""

    lake: str = Field(default_factory=lambda: lake_url(DEFAULT_DATA_DIR))
    warehouse: str = Field(default_factory=lambda: warehouse_url(DEFAULT_DATA_DIR))

    @field_validator("lake")
    @classmethod
    def _lake(cls, value: str) -> str:
        return check_location(parse_lake_url, "loader.lake", value)

    @field_validator("warehouse")
    @classmethod
    def _warehouse(cls, value: str) -> str:
        return check_location(parse_warehouse_url, "loader.warehouse", value)
