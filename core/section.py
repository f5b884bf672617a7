"""What every stage's settings section is built from, so a stage owns its model without `core` importing it.

A stage defines its section (`collector.settings.CollectorSettings`, ...) on `Section` and checks its
locations with `check_location`/`check_registry`; `core.settings` composes the sections into one
`Settings` by name. Location defaults live under `DEFAULT_DATA_DIR` until `data_dir` says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from core.errors import ConfigError

__all__ = [
    "DEFAULT_DATA_DIR",
    "REGISTRY_FORMS",
    "Section",
    "check_location",
    "check_registry",
    "lake_url",
    "queue_url",
    "warehouse_url",
]

DEFAULT_DATA_DIR = Path("data")
REGISTRY_FORMS = "a folder in Iglu static layout, file:///path, http(s)://HOST/PATH, gs://BUCKET/PREFIX"


class Section(BaseModel):
    """A settings section: unknown keys are refused, defaults are validated like set values."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


def queue_url(data_dir: Path) -> str:
    """The embedded raw queue under `data_dir`."""
    return f"sqlite://{(data_dir.resolve() / 'queue.db').as_posix()}"


def lake_url(data_dir: Path) -> str:
    """The embedded lake under `data_dir`."""
    return str((data_dir.resolve() / "lake").as_posix())


def warehouse_url(data_dir: Path) -> str:
    """The embedded warehouse under `data_dir`."""
    return f"duckdb://{(data_dir.resolve() / 'warehouse.duckdb').as_posix()}"


def check_location(parse: Callable[..., Any], key: str, value: str) -> str:
    """Run a `core.locations` parser; its ConfigError becomes the ValueError pydantic collects."""
    try:
        parse(value, key=key)
    except ConfigError as e:
        raise ValueError(str(e)) from None
    return value


def check_registry(key: str, value: str) -> str:
    """A registry location in one of REGISTRY_FORMS (a Windows drive path counts as a folder)."""
    scheme = urlsplit(value).scheme
    if not value or (scheme not in ("", "file", "http", "https", "gs") and not re.match(r"^[A-Za-z]:[\\/]", value)):
        raise ValueError(f"{key}: {value!r} is not a registry location; accepted forms: {REGISTRY_FORMS}")
    return value
