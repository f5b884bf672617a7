"""The destination port: the warehouse side of a load, so the loader's orchestration knows no warehouse's SQL.

A destination owns the events table and its bookkeeping: it creates and evolves the table from the
schema models a batch carries (typed through the `ColumnTyping` the loader passes), loads a batch of
good Parquet files exactly once (its manifest of loaded files, and dedup by `(event_id,
event_fingerprint)` within the batch and against the table, all in one transaction), and keeps the
quarantine of files the loader could not read. Which files are new, batching, probing a failed
batch file by file and when to retry a quarantined file are the loader's (loader/load.py), the same
for every destination. Implementations: `duckdb.py`; each is proved by
tests/loader/destinations/test_contract.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.lake import Lake, local_path
from core.process_lock import ProcessLock
from loader.columns import ColumnTyping, ModelColumn

__all__ = ["BatchTooLarge", "Destination", "DestinationKind", "LoadBatch", "LoadReport", "QuarantinedFile"]


class BatchTooLarge(Exception):
    """The warehouse ran out of memory for one batch (past its `memory_mb`): the loader loads it in smaller ones."""


@dataclass(frozen=True, slots=True)
class LoadBatch:
    """Good Parquet files of one lake to load in one transaction, by their names in the lake (the manifest's keys)."""

    lake: Lake
    files: tuple[str, ...]

    def local_path(self, name: str) -> Path | None:
        """The file on this machine, if the lake is a folder (else read its bytes)."""
        return local_path(self.lake, name)

    def read(self, name: str) -> bytes:
        return self.lake.read(name)


@dataclass(frozen=True, slots=True)
class QuarantinedFile:
    """A lake file the loader could not read, why, and (folder lakes) its size/mtime when it was quarantined."""

    file: str
    error: str
    signature: str | None = None

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "error": self.error}


@dataclass(slots=True)
class LoadReport:
    """What one or more loads did (a destination fills files, rows and columns; the loader the rest)."""

    files: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    columns_added: list[str] = field(default_factory=list)
    columns_widened: list[str] = field(default_factory=list)
    quarantined: list[QuarantinedFile] = field(default_factory=list)  # newly quarantined by this load
    skipped_quarantined: int = 0  # files quarantined by an earlier load, left alone by this one
    seconds: float = 0.0

    @property
    def duplicates(self) -> int:
        return self.rows_read - self.rows_loaded

    def add(self, other: LoadReport) -> None:
        self.files += other.files
        self.rows_read += other.rows_read
        self.rows_loaded += other.rows_loaded
        self.columns_added += other.columns_added
        self.columns_widened += other.columns_widened
        self.quarantined += other.quarantined
        self.skipped_quarantined = other.skipped_quarantined  # a count of what is held now, not a sum
        self.seconds += other.seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "duplicates": self.duplicates,
            "columns_added": self.columns_added,
            "columns_widened": self.columns_widened,
            "quarantined": [q.to_json() for q in self.quarantined],
            "skipped_quarantined": self.skipped_quarantined,
            "seconds": round(self.seconds, 3),
        }


@runtime_checkable
class Destination(Protocol):
    """One open warehouse, for one or more loads; `close` lets other processes at it.

    `load` is all or nothing: it records the batch's files in the manifest in the same transaction
    as their rows, skips files the manifest already lists (so a repeated or overlapping batch loads
    nothing twice), inserts each `(event_id, event_fingerprint)` at most once (in the batch the row
    with the earliest `etl_tstamp` wins; a pair already in the table is a duplicate), and adds or
    widens one column per schema model seen — never narrows one. It reports `files` and `rows_read`
    for the files it read, `rows_loaded`, and the columns added or widened. A batch it cannot read
    raises an error that is not a `TransientError`, leaving nothing behind; infrastructure failures
    (warehouse busy or unreachable) raise `TransientError`.
    """

    url: str

    def loaded_files(self) -> set[str]:
        """The manifest: every lake file a load has committed."""

    def load(self, batch: LoadBatch, typing: ColumnTyping) -> LoadReport: ...

    def columns(self) -> dict[str, ModelColumn]:
        """The per-model columns the events table has now, by name, with their logical types."""

    def quarantine(self, files: Sequence[QuarantinedFile]) -> None:
        """Record files as unreadable (replacing an earlier record of the same file); a later load of one clears it."""

    def quarantined(self) -> list[QuarantinedFile]:
        """The files held in quarantine, by name."""

    def close(self) -> None: ...


class DestinationKind(Protocol):
    """One kind of warehouse (a URL scheme): how to open one, lock it for one loader, and list its quarantine."""

    def open(
        self,
        url: str,
        *,
        wait_s: float,
        threads: int | None,
        create: bool = True,
        memory_mb: int | None = None,
        merge_small_loads: bool = True,
    ) -> Destination:
        """Open (creating the tables if missing). `wait_s` bounds waiting for a busy warehouse; `threads`
        and `memory_mb` cap worker threads and memory where the warehouse computes on this machine (None:
        its defaults; a batch that needs more memory raises BatchTooLarge); with
        `create` False a warehouse that does not exist yet (file, dataset) is a ConfigError instead.
        `merge_small_loads` False: a warehouse that rewrites its storage to merge small loads into the
        ones before (DuckDB's row groups) leaves them as they are, for a loader of many small loads."""

    def hold_lock(self, url: str, what: str, role: str) -> ProcessLock:
        """One loader per warehouse: `Locked` (a ConfigError naming the holder) if another process holds it."""

    def read_quarantine(self, url: str, *, wait_s: float) -> list[QuarantinedFile]:
        """The quarantined files, read without creating anything ([] if the warehouse does not exist yet)."""
