"""The `lake` fixture: one contract suite, run once per implementation (local folder, fake-gcs-server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.lake import Lake, LocalLake


@pytest.fixture(params=["local", pytest.param("gcs", marks=pytest.mark.gcs)])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    """An empty lake: a fresh local folder, or a fresh bucket with a prefix on fake-gcs-server."""
    if request.param == "local":
        return LocalLake(tmp_path / "lake")
    from core.lake.gcs import GcsLake

    emulator = request.getfixturevalue("gcs_emulator")
    return GcsLake(emulator.create_bucket(), "tenant/lake", timeout=15)
