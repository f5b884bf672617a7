"""Which registry a data folder's events were validated against: `eventkit up` records it, the others read it.

`eventkit up --data-dir DIR --registry R` writes `DIR/eventkit.json` (`{"registry": R, ...}`, local
paths made absolute), so `bad`, `replay`, `load` and `schema check` given `--data-dir DIR` use the
registry `up` used: a schema published there is then found by a replay, as the README's recovery
recipe expects. An explicit `--registry` wins over the record. Each of those commands prints the
choice as its first line (`describe()`), so a user always knows which registry gave a verdict.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from core.errors import ConfigError
from core.locations import BUNDLED_SCHEMAS

__all__ = [
    "RECORD_FILE",
    "RegistryChoice",
    "absolute_registry",
    "choose_registry",
    "record_registry",
    "recorded_registry",
]

RECORD_FILE = "eventkit.json"


@dataclass(frozen=True, slots=True)
class RegistryChoice:
    """The registry a command uses (without the bundled fallback) and where that choice came from."""

    location: str
    origin: str

    def describe(self) -> str:
        """The first line a command prints: `registry: LOCATION (ORIGIN)`."""
        bundled = str(BUNDLED_SCHEMAS.resolve())
        if self.location == bundled:
            return f"registry: {self.location} (the bundled schemas; {self.origin})"
        return f"registry: {self.location} ({self.origin}), then the bundled schemas"


def absolute_registry(registry: str) -> str:
    """`registry` (comma-separated locations) with local paths made absolute; URLs unchanged."""
    parts = []
    for part in (p.strip() for p in registry.split(",")):
        if not part:
            continue
        if "://" in part:
            parts.append(part)
            continue
        try:
            parts.append(str(Path(part).expanduser().resolve()))
        except (OSError, RuntimeError, ValueError) as e:
            raise ConfigError(f"--registry: cannot resolve local path {part!r} ({e})") from None
    return ",".join(parts)


def _read(path: Path) -> dict[str, Any]:
    try:
        record = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e})") from None
    except orjson.JSONDecodeError as e:
        raise ConfigError(f"{path}: not JSON ({e}); delete it and run `eventkit up` again") from None
    if not isinstance(record, dict):
        raise ConfigError(f"{path}: expected a JSON object; delete it and run `eventkit up` again")
    return record


def record_registry(data_dir: Path, registry: str) -> Path:
    """Write `registry` (made absolute) into DATA_DIR/eventkit.json, keeping any other keys; returns the file."""
    path = data_dir / RECORD_FILE
    record = _read(path)
    record.update(
        registry=absolute_registry(registry),
        recorded_by="eventkit up",
        recorded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    # Written whole then renamed: a command reading it while `up` starts never sees half a file.
    fd, temporary = tempfile.mkstemp(prefix=".eventkit-", suffix=".json", dir=data_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(record, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def recorded_registry(data_dir: Path) -> str | None:
    """The registry `eventkit up` recorded in DATA_DIR/eventkit.json, or None when there is no record."""
    path = data_dir / RECORD_FILE
    registry = _read(path).get("registry")
    if registry is None:
        return None
    if not isinstance(registry, str) or not registry.strip():
        raise ConfigError(f"{path}: `registry` is not a location; delete the file and run `eventkit up` again")
    return registry


def choose_registry(flag: str | None, data_dir: Path | None, setting: str) -> RegistryChoice:
    """`--registry` if given, else what `eventkit up` recorded in `data_dir`, else the `enrich.registry` setting."""
    if flag:
        return RegistryChoice(flag, "from --registry")
    if data_dir is not None:
        record = data_dir.resolve() / RECORD_FILE
        recorded = recorded_registry(data_dir)
        if recorded is not None:
            return RegistryChoice(recorded, f"recorded by eventkit up in {record}")
        return RegistryChoice(setting, f"the enrich.registry setting: no registry recorded in {record}")
    return RegistryChoice(setting, "the enrich.registry setting")
