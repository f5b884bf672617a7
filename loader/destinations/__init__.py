"""Warehouses the loader writes to, chosen by the warehouse URL's scheme: DuckDB and BigQuery.

A new kind of warehouse is a module implementing `Destination` and `DestinationKind` (port.py),
one entry in `_KINDS`, and one more param of the contract suite's fixture
(tests/loader/destinations/conftest.py). Its client is imported only when a URL names it.
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import ConfigError
from core.process_lock import ProcessLock
from loader.destinations.port import Destination, DestinationKind, LoadBatch, LoadReport, QuarantinedFile

__all__ = [
    "SUPPORTED",
    "Destination",
    "DestinationKind",
    "LoadBatch",
    "LoadReport",
    "QuarantinedFile",
    "destination_kind",
    "hold_loader_lock",
    "open_destination",
    "read_quarantine",
]


def _duckdb() -> DestinationKind:
    from loader.destinations.duckdb_kind import DUCKDB

    return DUCKDB


def _bigquery() -> DestinationKind:
    from loader.destinations.bigquery import BIGQUERY

    return BIGQUERY


# URL scheme → the kind of warehouse it names (a plain path is a DuckDB file, as before).
_KINDS: dict[str, Callable[[], DestinationKind]] = {"duckdb": _duckdb, "bigquery": _bigquery}
SUPPORTED = (
    "duckdb:///path/warehouse.duckdb (or a plain path ending in .duckdb), "
    "bigquery://PROJECT/DATASET[?table=events&location=EU]"
)


def destination_kind(url: str, key: str = "warehouse") -> DestinationKind:
    """The kind of warehouse `url` names; a ConfigError naming the supported ones for any other scheme."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "duckdb"
    kind = _KINDS.get(scheme)
    if kind is None:
        raise ConfigError(f"{key}: {url!r} is not a supported warehouse; supported: {SUPPORTED}")
    return kind()


def open_destination(
    url: str,
    *,
    wait_s: float = 60.0,
    threads: int | None = None,
    create: bool = True,
    memory_mb: int | None = None,
    merge_small_loads: bool = True,
) -> Destination:
    """Open the warehouse `url` names for loading, creating its tables (and with `create`, the warehouse itself:
    file, dataset) if missing (close it when done). Options: DestinationKind.open."""
    kind = destination_kind(url)
    return kind.open(
        url, wait_s=wait_s, threads=threads, create=create, memory_mb=memory_mb, merge_small_loads=merge_small_loads
    )


def hold_loader_lock(url: str, what: str, role: str) -> ProcessLock:
    """One loader per warehouse; `Locked` if another process loads it (`what` and `role` name us to a second)."""
    return destination_kind(url).hold_lock(url, what, role)


def read_quarantine(url: str, *, wait_s: float = 10.0) -> list[QuarantinedFile]:
    """The files the warehouse's loads quarantined, without creating anything (none if it does not exist yet)."""
    return destination_kind(url).read_quarantine(url, wait_s=wait_s)
