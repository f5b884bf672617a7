"""Real eventkit processes for the enrich end-to-end tests: started in their own process group, killed as a group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.services.processes import free_port, stop_process_group, wait_until_answering

__all__ = ["EVENTKIT", "REPO", "EventkitProcess", "free_port"]

EVENTKIT = [str(Path(sys.executable).parent / "eventkit")]
REPO = Path(__file__).resolve().parents[2]


class EventkitProcess:
    """One `eventkit ...` command running in its own session; logs go to a file beside the data."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [*EVENTKIT, *args],
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        """Wait until `url` answers 200 (or fail with the process log, leaving nothing running)."""
        wait_until_answering(self.proc, url, name="eventkit", log=self.log, timeout=timeout, interval=0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM the group (graceful: enrich commits and acks), SIGKILL it if it does not end in time."""
        if self.proc.poll() is None:
            stop_process_group(self.proc, grace=timeout)
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the whole group: no flush, no ack (a crash)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
