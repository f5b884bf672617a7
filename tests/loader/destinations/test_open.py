"""Choosing a destination by the warehouse URL's scheme: DuckDB for duckdb:// and .duckdb paths, BigQuery for
bigquery://, a clear one-line error for anything else (through the port's functions and through `eventkit load`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError
from loader.destinations import destination_kind, hold_loader_lock, open_destination, read_quarantine
from loader.destinations.duckdb_kind import DuckDBKind


@pytest.mark.parametrize("url", ["duckdb:///srv/w.duckdb", "/srv/w.duckdb", "DUCKDB:///srv/w.duckdb"])
def test_duckdb_urls_and_paths_name_the_duckdb_destination(url: str) -> None:
    """duckdb:// URLs (any case) and plain paths ending in .duckdb are DuckDB files."""
    assert isinstance(destination_kind(url), DuckDBKind)


def test_bigquery_urls_name_the_bigquery_destination() -> None:
    """bigquery://PROJECT/DATASET (any case of the scheme) is BigQuery."""
    from loader.destinations.bigquery import BigQueryKind

    assert isinstance(destination_kind("bigquery://my-project/events_ds?table=events"), BigQueryKind)
    assert isinstance(destination_kind("BIGQUERY://my-project/events_ds"), BigQueryKind)


@pytest.mark.parametrize("url", ["snowflake://account/db", "postgres://db/events", "s3://bucket/w.duckdb"])
def test_an_unknown_scheme_is_a_config_error_naming_the_supported_ones(url: str) -> None:
    """open, lock and quarantine listing all refuse a scheme no destination handles, naming what is supported."""
    for attempt in (
        lambda: open_destination(url),
        lambda: hold_loader_lock(url, "x", "load"),
        lambda: read_quarantine(url),
    ):
        with pytest.raises(ConfigError, match=r"is not a supported warehouse; supported: duckdb:///"):
            attempt()


def test_the_duckdb_quarantine_of_a_missing_warehouse_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    """Listing the quarantine of a warehouse no load has made yet is [] and leaves no file behind."""
    assert read_quarantine(f"duckdb://{tmp_path}/none/w.duckdb") == []
    assert not (tmp_path / "none").exists()


def test_eventkit_load_refuses_an_unsupported_warehouse_in_one_line(tmp_path: Path) -> None:
    """`eventkit load --warehouse snowflake://…` (no such destination) exits 2 with one line, no traceback."""
    (tmp_path / "lake").mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from core.cli import main; main()",
            "load",
            "--lake",
            str(tmp_path / "lake"),
            "--warehouse",
            "snowflake://account/db",
            "--registry",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: warehouse: 'snowflake://account/db' is not a supported warehouse; supported: "
        "duckdb:///path/warehouse.duckdb (or a plain path ending in .duckdb), "
        "bigquery://PROJECT/DATASET[?table=events&location=EU]"
    ]
    assert "Traceback" not in done.stderr
