"""Starts bqemulator without DuckDB's spatial extension (it cannot be downloaded here; eventkit never uses GEOGRAPHY).

python -m tests.services.bqemulator_main --rest-port P --grpc-port Q --project PROJECT
"""

from __future__ import annotations

import sys

from bqemulator.cli import main
from bqemulator.storage.engine import DuckDBEngine


def _no_spatial(self: DuckDBEngine) -> None:
    """bqemulator installs `spatial` at start; without network that fails, and no eventkit column is GEOGRAPHY."""


if __name__ == "__main__":
    DuckDBEngine._load_spatial = _no_spatial  # type: ignore[method-assign]
    sys.argv = ["bqemulator", "start", *sys.argv[1:]]
    sys.exit(main())
