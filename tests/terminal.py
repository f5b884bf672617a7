"""Run the real `eventkit` entry point with its stderr on a pseudo-terminal, as a user at a shell sees it."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
from dataclasses import dataclass

__all__ = ["OnTerminal", "eventkit_on_terminal", "progress_lines"]

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True, slots=True)
class OnTerminal:
    """Exit code, stdout (a pipe) and every byte the terminal (stderr) received."""

    returncode: int
    stdout: str
    terminal: str


def eventkit_on_terminal(
    *args: str, columns: int = 200, env: dict[str, str] | None = None, timeout: float = 120
) -> OnTerminal:
    """`eventkit ARGS` with stdout on a pipe, stdin empty and stderr on a `columns`-wide pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal has closed it
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "TERM": "xterm", **(env or {})},
        start_new_session=True,
    )
    os.close(slave)  # the child holds the only writer now: its exit ends the reader
    try:
        stdout, _ = proc.communicate(timeout=timeout)
        reader.join(timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    return OnTerminal(proc.returncode, stdout.decode(), b"".join(chunks).decode(errors="replace"))


def progress_lines(terminal: str, label: str) -> list[str]:
    """Each drawing of the `label:` progress line, without its `\\r` and terminal escapes."""
    drawn = (_ESCAPE.sub("", chunk.split("\n")[0]) for chunk in terminal.replace("\r\n", "\n").split("\r"))
    return [line for line in drawn if line.startswith(f"{label}: ")]
