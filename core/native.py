"""Runs the mypyc-compiled build of the hot modules when it matches the source exactly, else the source itself.

`make native` (tools/build_native.py) compiles the modules on the enrich path with mypyc into a
folder of its own under `build/native/` (named by what it was built from; `build/native/current`
names the newest) and writes `manifest.json` there: each module's source file, its SHA-256, and its
compiled file. A rebuild from changed sources leaves the build before it in place, so a running process
can still import from it.

`install()` (called by the `core`, `enrich` and `registry` packages on import) adds an import finder
that hands out those compiled files, but only when every listed source still has its recorded hash:
the compiled modules call each other directly, so one edited source makes the whole build stale, and
then nothing of it is used (a warning says so). The source tree never holds compiled files, so an
edit is never shadowed by an old binary.

`EVENTKIT_PURE=1` runs the source even when the build is fresh; `EVENTKIT_NATIVE_DIR` points at
another build folder (one build, or a folder with a `current` pointer).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec
from pathlib import Path
from types import ModuleType

__all__ = ["CURRENT", "ENVIRONMENT", "MANIFEST", "NativeBuild", "NativeFinder", "active", "build_dir", "default_dir",
           "install", "source_hash"]  # fmt: skip

MANIFEST = "manifest.json"
ENVIRONMENT = ("EVENTKIT_PURE", "EVENTKIT_NATIVE_DIR")  # the variables read here (settings accept them too)
CURRENT = "current"  # in the builds folder: the name of the newest build's folder
ROOT = Path(__file__).resolve().parent.parent  # the folder holding core/, enrich/, registry/


def default_dir() -> Path:
    """Where `make native` puts the build (`EVENTKIT_NATIVE_DIR` overrides)."""
    return Path(os.environ.get("EVENTKIT_NATIVE_DIR") or ROOT / "build" / "native")


def build_dir(folder: Path) -> Path | None:
    """The build `folder` holds: itself if it is one build, else the one its `current` pointer names."""
    if (folder / MANIFEST).is_file():
        return folder
    try:
        name = (folder / CURRENT).read_text().strip()
    except OSError:
        return None
    return folder / name if name and "/" not in name else None


def source_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class NativeBuild:
    """A compiled build as its manifest describes it: module name → compiled file, and what it was built from."""

    folder: Path
    binaries: dict[str, Path]  # module name (and the shared group library's) → compiled file
    sources: dict[str, tuple[Path, str]]  # module name → (source file, its SHA-256 when compiled)
    suffix: str  # the extension suffix it was built for (e.g. .cpython-311-x86_64-linux-gnu.so)

    @classmethod
    def read(cls, folder: Path, root: Path = ROOT) -> NativeBuild | None:
        """The build whose manifest is in `folder`; None if there is none or it cannot be read (never raises:
        every eventkit process reads it on import)."""
        try:
            doc = json.loads((folder / MANIFEST).read_text())
            binaries = {name: folder / entry["binary"] for name, entry in doc["modules"].items()}
            binaries[doc["group"]] = folder / doc["group_binary"]
            sources = {name: (root / entry["source"], entry["sha256"]) for name, entry in doc["modules"].items()}
            return cls(folder, binaries, sources, doc["suffix"])
        except (OSError, ValueError, LookupError, TypeError, AttributeError):
            return None

    @classmethod
    def find(cls, folder: Path) -> NativeBuild | None:
        """The build in `folder` (one build, or the one its `current` pointer names)."""
        found = build_dir(folder)
        return None if found is None else cls.read(found)

    def stale(self) -> list[str]:
        """The sources that differ from what was compiled (all of them if built for another interpreter)."""
        if self.suffix != EXTENSION_SUFFIXES[0]:
            return [str(path) for path, _ in self.sources.values()]
        out = []
        for path, digest in self.sources.values():
            try:
                if source_hash(path) != digest:
                    out.append(str(path))
            except OSError:
                out.append(str(path))
        missing = [str(b) for b in self.binaries.values() if not b.is_file()]
        return out + missing


class NativeFinder:
    """Finds the compiled file of each module of a fresh build (and nothing else): a `sys.meta_path` finder.

    (Not an importlib.abc subclass: importing that costs more start-up than this whole module.)"""

    def __init__(self, build: NativeBuild) -> None:
        self.build = build

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        binary = self.build.binaries.get(fullname)
        if binary is None:
            return None
        spec = ModuleSpec(fullname, ExtensionFileLoader(fullname, str(binary)), origin=str(binary))
        spec.has_location = True  # so the module gets its __file__
        return spec


_finder: NativeFinder | None = None
_checked = False


def install(folder: Path | None = None) -> NativeFinder | None:
    """Put the finder of a fresh build first on `sys.meta_path` (once per process); None if there is none."""
    global _finder, _checked
    if _checked:
        return _finder
    _checked = True
    if os.environ.get("EVENTKIT_PURE"):
        return None
    build = NativeBuild.find(folder or default_dir())
    if build is None:
        return None
    stale = build.stale()
    if stale:
        shown = ", ".join(stale[:3]) + (" …" if len(stale) > 3 else "")
        warnings.warn(
            f"eventkit: the compiled build in {build.folder} is stale ({shown} changed since): running the Python "
            "source; `make native` rebuilds it",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    _finder = NativeFinder(build)
    sys.meta_path.insert(0, _finder)
    return _finder


def active(module: ModuleType) -> bool:
    """Whether `module` was loaded from a compiled file of the native build."""
    return _finder is not None and getattr(module, "__file__", None) in {
        str(p) for p in _finder.build.binaries.values()
    }
