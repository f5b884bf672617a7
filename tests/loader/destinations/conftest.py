"""The `warehouse` fixture: one destination contract suite, run once per implementation (DuckDB, BigQuery).

A second implementation is one more param here: its URL, and how a test reads every row of its
events table without the port (the suite checks what the port wrote, so it must not read through it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.lake import Lake, LocalLake
from core.locations import parse_warehouse_url
from loader.destinations import Destination, open_destination
from tests.services.bigquery import bigquery_dataset, bigquery_emulator, gcs_on_disk

__all__ = ["bigquery_dataset", "bigquery_emulator", "gcs_on_disk"]  # session fixtures this suite's BigQuery param uses


@dataclass
class WarehouseUnderTest:
    """A fresh, empty warehouse of one kind: its URL, and a reader of its events table outside the port."""

    kind: str
    url: str
    read_events: Callable[[], list[dict[str, Any]]]
    _opened: list[Destination] = field(default_factory=list)

    def open(self) -> Destination:
        destination = open_destination(self.url, wait_s=5.0)
        self._opened.append(destination)
        return destination

    def events(self) -> list[dict[str, Any]]:
        """Every row of the events table (records as dicts, repeated records as lists), ordered by event_id."""
        return sorted(self.read_events(), key=lambda row: str(row["event_id"]))

    def close(self) -> None:
        for destination in self._opened:
            destination.close()


def _duckdb_rows(path: Path) -> Callable[[], list[dict[str, Any]]]:
    def read() -> list[dict[str, Any]]:
        # Same process, same configuration: DuckDB hands out another connection to the open database.
        with duckdb.connect(str(path)) as con:
            cursor = con.execute("SELECT * FROM events")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return read


def _bigquery_rows(url: str) -> Callable[[], list[dict[str, Any]]]:
    def read() -> list[dict[str, Any]]:
        from loader.destinations.bigquery import bigquery_client

        location = parse_warehouse_url(url)
        client = bigquery_client(location)
        try:
            table = f"{location.project}.{location.dataset}.{location.table}"
            return [dict(row.items()) for row in client.query(f"SELECT * FROM `{table}`").result()]
        finally:
            client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here

    return read


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WarehouseUnderTest]:
    """An empty warehouse of each kind (DuckDB: a new file in the test's folder; BigQuery: a new dataset on
    the session's emulator, which the destination creates)."""
    if request.param == "bigquery":
        url = request.getfixturevalue("bigquery_dataset")
        under_test = WarehouseUnderTest("bigquery", url, _bigquery_rows(url))
    else:
        path = tmp_path / "warehouse" / "warehouse.duckdb"
        under_test = WarehouseUnderTest("duckdb", f"duckdb://{path}", _duckdb_rows(path))
    try:
        yield under_test
    finally:
        under_test.close()


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """The lake the batches come from: a fresh folder (a destination that loads straight from object storage
    can pair its param with a gs:// lake here; the suite uses only the Lake port)."""
    return LocalLake(tmp_path / "lake")
