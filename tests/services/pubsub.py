"""Session fixture that starts the real Pub/Sub emulator in its own process group, and lets tests stop and restart it.

API (for any test that needs Pub/Sub)::

    def test_something(pubsub_emulator: PubSubEmulator, pubsub_project: str) -> None:
        # PUBSUB_EMULATOR_HOST is already set for the whole session, so google-cloud-pubsub clients
        # (and core.queue.open_publisher("pubsub://...")) talk to the emulator.
        url = f"pubsub://{pubsub_project}/raw"
        ...
        pubsub_emulator.stop()      # kill the emulator (whole process group); the port refuses connections
        pubsub_emulator.start()     # start again on the SAME port (in-memory state is gone: topics too)
        pubsub_emulator.restart()   # stop() + start()
        pubsub_emulator.host        # "127.0.0.1:PORT"
        pubsub_emulator.port        # PORT
        pubsub_emulator.running     # True while the emulator answers

- ``pubsub_emulator`` (session scope): one emulator for the session, started on a free port;
  ``PUBSUB_EMULATOR_HOST`` is set for the session and restored at the end.
- ``pubsub_project`` (function scope): a fresh project id (``test-<hex>``) so tests never share
  topics or subscriptions; it also restarts the emulator if an earlier test left it stopped.
- ``PubSubEmulator(port=None, data_dir=None)`` can be used directly for a private emulator.

Stopping kills the whole session of the ``gcloud`` process (SIGTERM, then SIGKILL), because its
Java child outlives a killed ``gcloud`` parent. Zombies count as dead (PID 1 here may not reap).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.processes import free_port, session_members

__all__ = ["PubSubEmulator", "free_port", "pubsub_emulator", "pubsub_project"]

START_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0


class PubSubEmulator:
    """The gcloud Pub/Sub emulator as a child process group on a fixed port, stoppable and restartable."""

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="pubsub-emulator-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path = self.data_dir / "emulator.log"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._answers()

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start on `self.port` and return once it answers "Ok" (raises with the log tail otherwise)."""
        if self._process is not None:
            raise RuntimeError(f"pubsub emulator on {self.host} is already started")
        if shutil.which("gcloud") is None:
            raise RuntimeError("gcloud is not installed: the Pub/Sub emulator cannot start")
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    "gcloud",
                    "beta",
                    "emulators",
                    "pubsub",
                    "start",
                    f"--host-port={self.host}",
                    f"--data-dir={self.data_dir}",
                    "--quiet",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._answers():
                return
            if self._process.poll() is not None:
                break
            time.sleep(0.1)
        tail = self._log_path.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"pubsub emulator on {self.host} did not start:\n{tail}")

    def stop(self) -> None:
        """Kill the emulator's whole session (SIGTERM, then SIGKILL) and wait until the port is closed."""
        process, self._process = self._process, None
        if process is None:
            return
        sid = process.pid  # start_new_session: gcloud leads its own session (and process group)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sid, sig)
            for pid in session_members(sid):  # anything that left the group but not the session
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE_S / 2)
            deadline = time.monotonic() + STOP_GRACE_S / 2
            while session_members(sid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not session_members(sid):
                break
        process.wait()
        deadline = time.monotonic() + STOP_GRACE_S
        while self._port_open() and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> None:
        """Stop, then start again on the same port (all topics and subscriptions are gone)."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the data directory if this object made it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/", timeout=1.0) as response:
                return bool(response.read().strip() == b"Ok")
        except (urllib.error.URLError, OSError):
            return False

    def _port_open(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[PubSubEmulator]:
    """One Pub/Sub emulator for the test session, with PUBSUB_EMULATOR_HOST pointing at it."""
    emulator = PubSubEmulator()
    emulator.start()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
            yield emulator
    finally:
        emulator.close()


@pytest.fixture
def pubsub_project(pubsub_emulator: PubSubEmulator) -> str:
    """A project id no other test uses, on a running emulator."""
    if not pubsub_emulator.running:
        pubsub_emulator.stop()
        pubsub_emulator.start()
    return f"test-{uuid.uuid4().hex[:12]}"
