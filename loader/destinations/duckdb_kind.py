"""The `duckdb://` kind of warehouse: open one, lock it for one loader, read its quarantine.

DuckDB (and Arrow with it) is imported only to open a warehouse: `eventkit up`'s server takes the
loader lock for its loader child and never loads, so it does not carry either library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.process_lock import ProcessLock, hold_lock
from loader.destinations.duckdb_tables import QUARANTINE_TABLE, open_warehouse, warehouse_path
from loader.destinations.port import QuarantinedFile

if TYPE_CHECKING:
    from loader.destinations.duckdb import DuckDBDestination

__all__ = ["DUCKDB", "DuckDBKind"]


class DuckDBKind:
    """`duckdb:///path/warehouse.duckdb` (or a plain path ending in .duckdb): a file on this machine."""

    def open(
        self,
        url: str,
        *,
        wait_s: float = 60.0,
        threads: int | None = None,
        create: bool = True,
        memory_mb: int | None = None,
        merge_small_loads: bool = True,
    ) -> DuckDBDestination:
        from loader.destinations.duckdb import DuckDBDestination

        if not create and not warehouse_path(url).exists():
            raise ConfigError(
                f"warehouse: {str(warehouse_path(url))!r} does not exist (and creating it was turned off)"
            )
        return DuckDBDestination(
            url, wait_s=wait_s, threads=threads, memory_mb=memory_mb, merge_small_loads=merge_small_loads
        )

    def hold_lock(self, url: str, what: str, role: str) -> ProcessLock:
        """The lock file beside the warehouse (`warehouse.duckdb.lock`)."""
        path = warehouse_path(url).resolve()
        return hold_lock(path.with_name(path.name + ".lock"), what, role)

    def read_quarantine(self, url: str, *, wait_s: float = 10.0) -> list[QuarantinedFile]:
        if not warehouse_path(url).exists():
            return []
        con = open_warehouse(url, wait_s=wait_s, read_only=True)
        try:
            tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            if QUARANTINE_TABLE not in tables:
                return []
            rows = con.execute(f"SELECT file, error, signature FROM {QUARANTINE_TABLE} ORDER BY file").fetchall()
        finally:
            con.close()
        return [QuarantinedFile(file, error, signature) for file, error, signature in rows]


DUCKDB = DuckDBKind()
