"""Confinement for files named from outside input: a path built under a root must resolve inside that root.

Schema keys, object names and URL segments are checked where they are parsed (core.iglu refuses `.`
and `..` parts), but a file layer cannot rely on every caller having done so, nor on the folder
holding no symlink that leads elsewhere: `contained` resolves the final path and refuses it unless it
lies strictly under the resolved root.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import EventkitError

__all__ = ["OutsideRoot", "contained", "relative_name"]


class OutsideRoot(EventkitError, ValueError):
    """A name that would reach outside its root folder: the caller's input is at fault (answer 4xx, never retry)."""


def relative_name(name: str) -> str:
    """`name` if it is `/`-separated segments with no empty, `.` or `..` segment (no backslash, no NUL)."""
    if not name or "\\" in name or "\x00" in name or any(s in ("", ".", "..") for s in name.split("/")):
        raise OutsideRoot(f"{name!r} is not a plain relative name (empty, '.' or '..' segment, or absolute)")
    return name


def contained(root: Path, name: str) -> Path:
    """`root / name` resolved, or OutsideRoot when the name is not plain or the path resolves outside `root`.

    `root` must already be resolved (stores and repositories resolve it once when they open); a symlink
    inside it that leads elsewhere is refused like a `..`.
    """
    path = (root / relative_name(name)).resolve()
    if path == root or not path.is_relative_to(root):
        raise OutsideRoot(f"{name!r} resolves outside {root}")
    return path
