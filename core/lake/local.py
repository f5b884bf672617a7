"""The lake as a local folder: create-only files made atomic with write-temp, fsync, link(2), fsync-directory.

A file is published by hard-linking a fully written, fsynced temporary file to its final name:
link(2) fails with EEXIST when the name is taken, so exactly one of several concurrent writers
(threads or processes) wins and nobody ever sees a partial file. Temporary files are dot-prefixed
(`.tmp-<uuid>`) beside their target; object names may not start a segment with `.`, so `list()`
never shows them. A writer killed mid-write leaves at most an orphaned temp file, never an object.

Limitations of a folder (not of the contract): a name cannot be both an object and a "folder"
(`a` and `a/b`); such a clash raises ObjectExists. The file system must support hard links.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from core.errors import LakeUnavailable, ObjectExists
from core.lake.names import check_name, check_prefix

__all__ = ["TEMP_PREFIX", "LocalLake"]

TEMP_PREFIX = ".tmp-"


class LocalLake:
    """A lake rooted at a local folder (created on first write)."""

    def __init__(self, root: Path | str, url: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.url = url if url is not None else self.root.as_uri()

    def __repr__(self) -> str:
        return f"LocalLake({str(self.root)!r})"

    def create(self, name: str, data: bytes) -> None:
        """Write `data` as a new object; ObjectExists if the name is taken, LakeUnavailable on I/O failure."""
        target = self.root / check_name(name)
        try:
            self._make_parents(target.parent)
            tmp = target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                try:
                    view = memoryview(data)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.link(tmp, target)
            finally:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
            _fsync_dir(target.parent)
        except FileExistsError as e:
            raise ObjectExists(f"{self.url}: object {name!r} already exists") from e
        except NotADirectoryError as e:
            raise ObjectExists(f"{self.url}: {name!r} clashes with an existing object used as a folder") from e
        except OSError as e:
            raise LakeUnavailable(f"{self.url}: cannot create {name!r}: {_describe(e)}") from e

    def list(self, prefix: str = "") -> Iterator[str]:
        """Names starting with `prefix` (a plain string prefix), sorted; temp files never appear."""
        check_prefix(prefix)
        folder, _, _ = prefix.rpartition("/")
        start = self.root / folder if folder else self.root
        names: list[str] = []

        def fail(e: OSError) -> None:
            if e.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise e

        try:
            for dirpath, dirnames, filenames in os.walk(start, onerror=fail):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                rel = Path(dirpath).relative_to(self.root).as_posix()
                base = "" if rel == "." else rel + "/"
                for filename in filenames:
                    if filename.startswith("."):
                        continue
                    candidate = base + filename
                    if candidate.startswith(prefix):
                        names.append(candidate)
        except OSError as e:
            raise LakeUnavailable(f"{self.url}: cannot list {prefix!r}: {_describe(e)}") from e
        names.sort()
        return iter(names)

    def read(self, name: str) -> bytes:
        """The object's bytes; FileNotFoundError if there is no such object."""
        path = self.root / check_name(name)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise FileNotFoundError(errno.ENOENT, f"{self.url}: no object {name!r}") from e
        except OSError as e:
            raise LakeUnavailable(f"{self.url}: cannot read {name!r}: {_describe(e)}") from e

    def exists(self, name: str) -> bool:
        path = self.root / check_name(name)
        try:
            return path.is_file()
        except OSError as e:
            raise LakeUnavailable(f"{self.url}: cannot check {name!r}: {_describe(e)}") from e

    def local_path(self, name: str = "") -> Path | None:
        """Optional capability: the local file (or folder, for `""` or a prefix ending in `/`) behind a name.

        Readers such as DuckDB use it to read files directly instead of through `read()`. Lakes
        without local files (GCS) return None, so callers must fall back to `read()`.
        """
        check_prefix(name)
        return self.root / name if name else self.root

    def _make_parents(self, folder: Path) -> None:
        """Create missing folders and fsync each new folder's parent so the new entries survive a crash."""
        missing: list[Path] = []
        probe = folder
        while not probe.is_dir():
            missing.append(probe)
            if probe.parent == probe:
                break
            probe = probe.parent
        if not missing:
            return
        folder.mkdir(parents=True, exist_ok=True)
        for created in reversed(missing):
            _fsync_dir(created.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(e: OSError) -> str:
    code = errno.errorcode.get(e.errno, str(e.errno)) if e.errno is not None else "?"
    return f"{code} {e.strerror or e}"
