"""The data folder's layout and the path checks every reader shares, so a mistyped path fails naming it.

Readers (`load`, `bad`, `replay`, `schema check`) used to treat a folder that is not there as an empty
lake and report success. These checks make that a ConfigError (exit 2) naming the path, in one place:

- `--data-dir DIR` must be a folder holding something `eventkit up --data-dir DIR` writes;
- a local lake must be an existing folder, except the lake of such a data folder, which appears
  only with the first event (an empty, running pipeline is not a mistake).

GCS lakes are checked where they are opened (core.lake.gcs: the bucket must exist).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ConfigError
from core.locations import parse_lake_url

__all__ = ["DATA_DIR_ENTRIES", "check_data_dir", "is_data_dir", "readable_lake"]

# What `eventkit up --data-dir DIR` creates there (see embedded/up.py); any one of them marks the folder.
DATA_DIR_ENTRIES = ("queue.db", "spool.db", "lake", "micro.db", "warehouse.duckdb")


def is_data_dir(path: Path) -> bool:
    """Whether `path` is a folder holding at least one entry of eventkit's data layout."""
    return path.is_dir() and any((path / entry).exists() for entry in DATA_DIR_ENTRIES)


def check_data_dir(path: Path, key: str = "--data-dir") -> Path:
    """`path`, if it is an eventkit data folder; else a ConfigError naming it and what is wrong."""
    if not path.exists():
        raise ConfigError(f"{key}: {str(path)!r} does not exist")
    if not path.is_dir():
        raise ConfigError(f"{key}: {str(path)!r} is not a folder")
    if not is_data_dir(path):
        entries = ", ".join(DATA_DIR_ENTRIES)
        raise ConfigError(
            f"{key}: {str(path)!r} is not an eventkit data folder (it holds none of {entries}; "
            f"`eventkit up --data-dir {path}` makes one)"
        )
    return path


def readable_lake(url: str, key: str, data_dir: Path | None = None) -> str:
    """`url`, if it names a lake that can be read: a local lake must be an existing folder.

    The lake of an eventkit data folder (`data_dir/lake`) may be missing: nothing has been written yet.
    GCS lakes pass here; opening one checks its bucket.
    """
    location = parse_lake_url(url, key=key)
    path = location.path
    if location.kind != "file" or path is None or path.is_dir():
        return url
    if path.exists():
        raise ConfigError(f"{key}: lake {str(path)!r} is not a folder")
    if data_dir is not None and path == (data_dir.resolve() / "lake") and is_data_dir(data_dir):
        return url
    hint = "" if key.startswith("--") else " (from the settings; pass --lake or --data-dir)"
    raise ConfigError(f"{key}: lake {str(path)!r} does not exist{hint}")
