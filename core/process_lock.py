"""One process per data folder (and per warehouse): an advisory lock file that the OS releases on any exit.

Two `eventkit up` on one data folder would share a queue, a spool and a Micro store without
knowing it, and two loaders on one warehouse would race each other for DuckDB's write lock on
every round. `hold_lock` takes `fcntl.flock(LOCK_EX | LOCK_NB)` on a lock file and writes the
holder's pid into it; a second taker gets `Locked` naming that pid at once, instead of waiting.
The lock belongs to the open file, so it is released when the process exits in any way —
kill -9 included — and a stale lock file never blocks a restart.

A command that works through child processes (`eventkit up`) turns its lock into a shared one
(`ProcessLock.share`, atomic on Linux) and each child joins it (`join_lock`): the folder then
counts as in use until the last of them has exited, even if the parent was killed first.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from core.errors import ConfigError

__all__ = ["Locked", "ProcessLock", "hold_lock", "join_lock"]


class Locked(ConfigError):
    """Another process holds the lock; the message names what it uses and its pid."""


class ProcessLock:
    """A held lock; `release` (or process exit) lets the next taker in."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def share(self) -> None:
        """Hold the lock shared from now on, so this command's children can `join_lock` it (a second
        taker, who asks for it exclusively, is still refused)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def __enter__(self) -> ProcessLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def hold_lock(path: Path, what: str, role: str) -> ProcessLock:
    """Take the lock file at `path` for this process (`role` says which command, for the message a second
    taker gets); `Locked` ("another eventkit is using WHAT (pid N, eventkit ROLE)") if it is held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    _take(fd, fcntl.LOCK_EX, what)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {role}\n".encode(), 0)
    return ProcessLock(path, fd)


def join_lock(path: Path, what: str) -> ProcessLock:
    """Hold, shared, a lock its owner shared with its children (`ProcessLock.share`); `Locked` if it is held
    exclusively (the owner is gone and another command took the lock) or the lock file is missing."""
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise Locked(f"the lock on {what} is gone ({path} was removed)") from None
    _take(fd, fcntl.LOCK_SH, what)
    return ProcessLock(path, fd)


def _take(fd: int, mode: int, what: str) -> None:
    """flock `fd` in `mode` without waiting; on failure close it, `Locked` naming the holder if it is held."""
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise Locked(f"another eventkit is using {what} ({holder})") from None
    except BaseException:
        os.close(fd)
        raise


def _read_holder(fd: int) -> str:
    """ "pid N, eventkit ROLE" from the holder's lock file ("pid unknown" while it is still writing it)."""
    pid, _, role = os.pread(fd, 200, 0).decode("utf-8", "replace").strip().partition(" ")
    if not pid.isdigit():
        return "pid unknown"
    return f"pid {pid}, eventkit {role}" if role else f"pid {pid}"
