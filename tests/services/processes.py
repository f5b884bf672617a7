"""Child processes for tests, each in its own process group: a free port, waiting until it answers HTTP, stopping it.

Every external process a test starts (emulators, `eventkit` commands) is started with
`start_new_session=True`, so its pid is also its process group id and one signal reaches the
whole tree (a server's own children included).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

__all__ = ["free_port", "session_members", "stop_process_group", "wait_until_answering"]


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes of a session (one started with start_new_session and all it started), from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state not in ("Z", "X"):
            members.append(int(entry))
    return members


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(
    process: subprocess.Popen[bytes],
    url: str,
    *,
    name: str,
    log: Callable[[], str],
    timeout: float,
    interval: float,
) -> None:
    """Return once GET `url` answers 200; RuntimeError (with `log()`) if `process` exits or `timeout` passes first.

    On time-out the process group is stopped before raising, so a failed start leaves nothing running.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {log()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(interval)
    stop_process_group(process)
    raise RuntimeError(f"{name} did not answer {url} within {timeout}s: {log()}")


def stop_process_group(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process's whole group, SIGKILL it if the leader has not ended within `grace` seconds, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
