"""Session fixture that runs bqemulator (a DuckDB-backed BigQuery emulator) in its own process group.

It is started through tests/services/bqemulator_main.py (bqemulator without the `spatial`
extension it cannot download here) on free REST and gRPC ports, with its data in a temporary folder.

Fixtures (import them into the conftest of the tests that use them):

- `bigquery_emulator` (session): a started `BigQueryEmulator`. While the session runs,
  `BIGQUERY_EMULATOR_HOST` is `127.0.0.1:PORT` (no scheme, as users set it; restored afterwards),
  so `loader.destinations.bigquery.bigquery_client` talks to it anonymously.
- `gcs_on_disk` (session): a fake-gcs-server whose filesystem backend is the emulator's
  `BQEMU_GCS_LOCAL_ROOT` (both lay objects out as ROOT/BUCKET/NAME), so a load job over
  `gs://BUCKET/NAME` reads what a `GcsLake` on this server wrote: the production path, for real.
- `bigquery_dataset` (function): a `bigquery://PROJECT/DATASET` URL no other test uses (not created:
  the destination creates it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.gcs import FakeGcs
from tests.services.processes import free_port, stop_process_group, wait_until_answering

__all__ = ["PROJECT", "BigQueryEmulator", "FakeGcsOnDisk", "bigquery_dataset", "bigquery_emulator", "gcs_on_disk"]

PROJECT = "eventkit-test"
START_TIMEOUT_S = 60.0
_ROOT = Path(__file__).resolve().parent.parent.parent


class BigQueryEmulator:
    """bqemulator on 127.0.0.1 at free ports, one process group, its data and log in a temporary folder."""

    def __init__(self) -> None:
        self.port = free_port()
        self.grpc_port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="bqemulator-"))
        self._log_path = self.data_dir / "emulator.log"
        self.gcs_root = self.data_dir / "gcs"  # gs://BUCKET/NAME is read from gcs_root/BUCKET/NAME
        self.gcs_root.mkdir()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and return once its REST API lists the project's datasets (RuntimeError with the log otherwise)."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        env["HOME"] = str(self.data_dir)  # its DuckDB extension cache and any state stay in our folder
        env["BQEMU_GCS_LOCAL_ROOT"] = str(self.gcs_root)
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.services.bqemulator_main",
                    "--rest-port",
                    str(self.port),
                    "--grpc-port",
                    str(self.grpc_port),
                    "--project",
                    PROJECT,
                ],
                cwd=self.data_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_answering(
            self._process,
            f"http://{self.host}/bigquery/v2/projects/{PROJECT}/datasets",
            name="bqemulator",
            log=lambda: self._log_path.read_text(errors="replace")[-2000:],
            timeout=START_TIMEOUT_S,
            interval=0.2,
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process)


@pytest.fixture(scope="session")
def bigquery_emulator() -> Iterator[BigQueryEmulator]:
    """One BigQuery emulator for the test session, with BIGQUERY_EMULATOR_HOST pointing at it."""
    emulator = BigQueryEmulator()
    emulator.start()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("BIGQUERY_EMULATOR_HOST", emulator.host)
            yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def bigquery_dataset(bigquery_emulator: BigQueryEmulator) -> str:
    """A warehouse URL naming a dataset no other test uses, on the running emulator."""
    return f"bigquery://{PROJECT}/t_{uuid.uuid4().hex[:12]}"


class FakeGcsOnDisk(FakeGcs):
    """fake-gcs-server keeping its objects as files under `root` (ROOT/BUCKET/NAME)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def arguments(self) -> list[str]:
        flags = super().arguments()
        at = flags.index("-backend")
        flags[at + 1] = "filesystem"
        return [*flags, "-filesystem-root", str(self.root)]


@pytest.fixture(scope="session")
def gcs_on_disk(bigquery_emulator: BigQueryEmulator) -> Iterator[FakeGcsOnDisk]:
    """A fake-gcs-server storing objects where the BigQuery emulator's load jobs read gs:// URIs."""
    server = FakeGcsOnDisk(bigquery_emulator.gcs_root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
