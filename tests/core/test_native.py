"""The compiled build is used only while it matches the sources, and then it is what runs."""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.native import CURRENT, MANIFEST, NativeBuild, NativeFinder, build_dir, default_dir, source_hash
from tools.build_native import publish

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import warnings, enrich.pipeline, core.iglu; from core import native; "
    "print(native.active(enrich.pipeline), native.active(core.iglu), enrich.pipeline.__file__)"
)


def _probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EVENTKIT_")}
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", PROBE],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def _fake_build(tmp_path: Path) -> Path:
    """A build of one module, src/mod.py (its binary an empty file), recorded with the source's hash."""
    source = tmp_path / "src" / "mod.py"
    source.parent.mkdir()
    source.write_text("VALUE = 1\n")
    folder = tmp_path / "native"
    folder.mkdir()
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (folder / f"mod{suffix}").write_bytes(b"")
    (folder / f"group__mypyc{suffix}").write_bytes(b"")
    manifest = {
        "group": "group__mypyc",
        "group_binary": f"group__mypyc{suffix}",
        "suffix": suffix,
        "modules": {"mod": {"source": "src/mod.py", "sha256": source_hash(source), "binary": f"mod{suffix}"}},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


def test_a_build_matching_its_sources_is_fresh_and_found(tmp_path: Path) -> None:
    folder = _fake_build(tmp_path)
    build = NativeBuild.read(folder, root=tmp_path)
    assert build is not None and build.stale() == []
    spec = NativeFinder(build).find_spec("mod", None)
    assert spec is not None and spec.origin == str(folder / f"mod{build.suffix}")
    assert NativeFinder(build).find_spec("enrich.event", None) is None  # not in the build: the source


def test_an_edited_source_makes_the_build_stale(tmp_path: Path) -> None:
    folder = _fake_build(tmp_path)
    (tmp_path / "src" / "mod.py").write_text("VALUE = 2\n")
    build = NativeBuild.read(folder, root=tmp_path)
    assert build is not None and build.stale() == [str(tmp_path / "src" / "mod.py")]


def test_a_build_for_another_interpreter_is_stale(tmp_path: Path) -> None:
    folder = _fake_build(tmp_path)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["suffix"] = ".cpython-39-x86_64-linux-gnu.so"
    (folder / MANIFEST).write_text(json.dumps(manifest))
    build = NativeBuild.read(folder, root=tmp_path)
    assert build is not None and build.stale() != []


def test_no_manifest_no_build(tmp_path: Path) -> None:
    assert NativeBuild.read(tmp_path) is None


def test_a_new_build_gets_its_own_folder_and_the_one_before_it_stays(tmp_path: Path) -> None:
    """A process started on the previous build can still import from it while the next one is published."""
    builds = tmp_path / "native"
    for build_id in ("first", "second", "third"):
        staging = tmp_path / f"staging-{build_id}"
        staging.mkdir()
        (staging / MANIFEST).write_text(build_id)
        assert publish(staging, builds, build_id) == builds / build_id
        assert build_dir(builds) == builds / build_id
    assert (builds / CURRENT).read_text().strip() == "third"
    assert sorted(p.name for p in builds.iterdir() if p.is_dir()) == ["second", "third"]  # "first" is gone
    staging = tmp_path / "staging-again"
    staging.mkdir()
    (staging / MANIFEST).write_text("third, rebuilt")
    publish(staging, builds, "third")  # the same sources again (--force)
    assert (builds / "third" / MANIFEST).read_text() == "third, rebuilt"


def test_a_folder_with_a_manifest_is_one_build(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text("{}")
    assert build_dir(tmp_path) == tmp_path
    assert build_dir(tmp_path / "missing") is None


def test_an_unreadable_manifest_is_no_build(tmp_path: Path) -> None:
    """Every eventkit process reads the manifest on import: a broken one must mean "no build", not a crash."""
    folder = _fake_build(tmp_path)
    for broken in ("not json", "[]", '{"modules": {}}', '{"group": "g", "group_binary": "b", "suffix": ".so"}'):
        (folder / MANIFEST).write_text(broken)
        assert NativeBuild.read(folder, root=tmp_path) is None, broken


def _real_build() -> Path:
    build = NativeBuild.find(default_dir())
    if build is None:
        pytest.skip("no compiled build: `make native` makes one (`make test` does)")
    assert build.stale() == [], "the compiled build is stale: `make test` rebuilds it before running the tests"
    return build.folder


def test_the_fresh_build_is_what_runs() -> None:
    _real_build()
    out = _probe({})
    assert out.stdout.split()[:2] == ["True", "True"], out.stdout + out.stderr
    assert "RuntimeWarning" not in out.stderr


def test_eventkit_pure_runs_the_source() -> None:
    _real_build()
    out = _probe({"EVENTKIT_PURE": "1"})
    active_pipeline, active_iglu, path = out.stdout.split()
    assert (active_pipeline, active_iglu) == ("False", "False") and path == str(ROOT / "enrich" / "pipeline.py")


def test_a_stale_copy_of_the_build_is_not_used_and_says_so(tmp_path: Path) -> None:
    copy = tmp_path / "native"
    shutil.copytree(_real_build(), copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["modules"]["enrich.derive"]["sha256"] = "0" * 64  # as if enrich/derive.py had changed since
    (copy / MANIFEST).write_text(json.dumps(manifest))
    out = _probe({"EVENTKIT_NATIVE_DIR": str(copy)})
    assert out.stdout.split()[:2] == ["False", "False"]
    assert "stale" in out.stderr and "derive.py" in out.stderr
