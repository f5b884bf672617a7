"""The data folder's lock: one command at a time, and a command's child processes keep it held after it dies."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from core.process_lock import Locked, hold_lock, join_lock


def _hold_shared_until_told(
    path: Path, joined: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event
) -> None:
    lock = join_lock(path, "the folder")
    joined.set()
    done.wait(60)
    lock.release()


def test_a_shared_lock_stays_held_by_the_children_after_the_owner_lets_go(tmp_path: Path) -> None:
    """An owner that shares its lock lets child processes join it; a second owner is refused while the owner or
    any child holds it, with the first owner's pid, and gets it once the last child has let go."""
    path = tmp_path / "eventkit.lock"
    owner = hold_lock(path, "the folder", "up")
    with pytest.raises(Locked, match="another eventkit"):
        join_lock(path, "the folder")  # held exclusively: nobody joins until it is shared
    owner.share()
    ctx = multiprocessing.get_context("spawn")
    joined, done = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold_shared_until_told, args=(path, joined, done))
    child.start()
    try:
        assert joined.wait(60)
        with pytest.raises(Locked, match=f"another eventkit is using the folder \\(pid {os.getpid()}, eventkit up\\)"):
            hold_lock(path, "the folder", "up")
        owner.release()  # the owner is gone (as if killed): its child still holds the folder
        with pytest.raises(Locked):
            hold_lock(path, "the folder", "up")
    finally:
        done.set()
        child.join(60)
    assert child.exitcode == 0
    hold_lock(path, "the folder", "up").release()


def test_joining_a_missing_lock_file_is_refused(tmp_path: Path) -> None:
    """A child asked to join a lock whose file is gone is refused rather than creating a lock nobody holds."""
    with pytest.raises(Locked, match="was removed"):
        join_lock(tmp_path / "gone.lock", "the folder")
