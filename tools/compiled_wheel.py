"""The compiled wheel of the current sources, built once per state of them, and the two ways the Makefile uses it.

    python tools/compiled_wheel.py install VENV   # make run: VENV (made if missing) holds the wheel and its
                                                  # dependencies, as `pip install .` would give them
    python tools/compiled_wheel.py unpack DIR     # make test, make bench: DIR/site holds the wheel's files alone (the
                                                  # dev venv has the dependencies), DIR/path a link to tests/ alone

The wheel is `build/wheels/<key>/eventkit-*.whl`, the key a digest of every file it is built from (setup.py,
pyproject.toml, MANIFEST.in, README.md, the packages, schemas/), so a warm `make run` only hashes the sources and
a changed source builds the wheel again (`pip wheel .`: setup.py compiles with mypyc, about a minute). When the
compiled build fails (no C compiler), `install` goes on with the pure-Python wheel and says so; `unpack` fails.

DIR/path holds no package: Python run with `PYTHONSAFEPATH=1` and `PYTHONPATH=DIR/site:DIR/path` imports eventkit
from the wheel and `tests` from the repository, never the source packages beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / "build" / "wheels"
BUILD_FILES = ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md")
STAMP = ".eventkit-wheel"  # in an installed venv or unpacked folder: the key of the wheel it holds


def sources() -> list[Path]:
    """Every file the wheel is built from: the build files, the packages (top-level folders with an __init__.py)
    and the bundled schemas."""
    folders = [p for p in sorted(ROOT.iterdir()) if (p / "__init__.py").is_file() and p.name not in ("tests", "tools")]
    files = [ROOT / name for name in BUILD_FILES if (ROOT / name).is_file()]
    for folder in [*folders, ROOT / "schemas"]:
        files.extend(
            sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
        )
    return files


def source_key() -> str:
    digest = hashlib.sha256()
    for path in sources():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def wheel(pip: list[str], key: str, *, compiled: bool = True) -> Path:
    """The wheel of the sources whose key is `key`, built with `pip` unless it already is."""
    folder = WHEELS / (key if compiled else f"{key}-pure")
    found = sorted(folder.glob("eventkit-*.whl"))
    if found:
        return found[0]
    shutil.rmtree(WHEELS, ignore_errors=True)  # wheels of older sources are of no further use
    env = {**os.environ, "EVENTKIT_COMPILE": "1" if compiled else "0"}
    kind = "compiled with mypyc, about a minute" if compiled else "pure Python"
    print(f"building the eventkit wheel ({kind}) into {folder.relative_to(ROOT)}", flush=True)
    staging = folder.with_name(folder.name + ".incoming")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(staging), str(ROOT)], check=True, env=env)
    staging.rename(folder)
    (built,) = folder.glob("eventkit-*.whl")
    return built


def dependencies() -> list[str]:
    return list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def install(venv: Path) -> None:
    """`venv` with the wheel of the current sources and its dependencies (skipped when it holds that wheel)."""
    key = source_key()
    stamp = venv / STAMP
    if stamp.is_file() and stamp.read_text().strip() == key:
        return
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    fresh = not (venv / "bin" / "python").is_file()
    if fresh:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([*pip, "install", "-q", "--upgrade", "pip"], check=True)
    # The dependencies install while mypyc compiles: a cold `make run` waits for the longer of the two only.
    deps = subprocess.Popen([*pip, "install", "-q", *dependencies()])
    try:
        built = wheel(pip, key)
    except subprocess.CalledProcessError:
        print("eventkit: the compiled build failed (above); installing the pure-Python wheel, which is slower")
        built = wheel(pip, key, compiled=False)
    finally:
        if deps.wait() != 0:
            raise SystemExit(f"installing eventkit's dependencies into {venv} failed")
    subprocess.run([*pip, "install", "-q", "--no-deps", "--force-reinstall", str(built)], check=True)
    stamp.write_text(key + "\n")


def unpack(folder: Path) -> None:
    """`folder/site` with the wheel's files alone, `folder/path` with a link to tests/ alone."""
    key = source_key()
    site = folder / "site"
    stamp = site / STAMP
    if not (stamp.is_file() and stamp.read_text().strip() == key):
        built = wheel([sys.executable, "-m", "pip"], key)
        staging = folder / "site.incoming"
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(staging), str(built)],
            check=True,
        )
        (staging / STAMP).write_text(key + "\n")
        shutil.rmtree(site, ignore_errors=True)
        staging.rename(site)
    link = folder / "path" / "tests"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT / "tests", target_is_directory=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="a venv with the wheel and its dependencies").add_argument("venv", type=Path)
    commands.add_parser("unpack", help="the wheel's files alone, for the dev venv").add_argument("folder", type=Path)
    commands.add_parser("key", help="print the sources' key")
    args = parser.parse_args()
    if args.command == "install":
        install(args.venv.resolve())
    elif args.command == "unpack":
        unpack(args.folder.resolve())
    else:
        print(source_key())


if __name__ == "__main__":
    main()
