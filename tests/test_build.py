"""The compiled build is the wheel: every module setup.py lists is a C extension in an installed wheel, and the
Python source in an editable install; the wheel carries the bundled schemas and data files.

`make test` runs the suite on the wheel unpacked alone (EVENTKIT_EXPECT_COMPILED=1), then this module on the
editable install again.
"""

from __future__ import annotations

import importlib
import os
import runpy
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from core.locations import BUNDLED_SCHEMAS
from enrich.enrichments.referer_parser import BUNDLED_REFERERS

REPO = Path(__file__).resolve().parents[1]
COMPILED = os.environ.get("EVENTKIT_EXPECT_COMPILED") == "1"
MODULES: list[str] = runpy.run_path(str(REPO / "setup.py"), run_name="eventkit_setup")["MODULES"]
NAMES = [m.removesuffix(".py").replace("/", ".") for m in MODULES]
COMPILED_WHEEL = runpy.run_path(str(REPO / "tools" / "compiled_wheel.py"), run_name="compiled_wheel")
WHEEL_KEY = COMPILED_WHEEL["source_key"]


def test_the_wheel_is_rebuilt_for_what_goes_into_it_and_only_that() -> None:
    """The key `make` reuses the wheel by covers the build files, every package module and the bundled schemas, and
    nothing the wheel does not hold (tests, caches)."""
    files = {str(p.relative_to(REPO)) for p in COMPILED_WHEEL["sources"]()}
    for needed in ("setup.py", "pyproject.toml", "core/iglu.py", "enrich/enrichments/python.py", "loader/load.py"):
        assert needed in files
    assert "schemas/io.eventkit/python_enrichment_config/jsonschema/1-0-0" in files
    assert not [f for f in files if f.startswith(("tests/", "tools/", "build/")) or "__pycache__" in f]


def test_setup_lists_only_modules_that_exist() -> None:
    """Each compiled module of setup.py is a source file of the repository (a rename cannot drop one silently)."""
    assert MODULES
    assert [m for m in MODULES if not (REPO / m).is_file()] == []


@pytest.mark.parametrize("name", NAMES)
def test_each_listed_module_is_compiled_in_the_wheel_and_source_in_an_editable_install(name: str) -> None:
    """Under the compiled leg every listed module loads from a .so; under the editable install from the source."""
    module = importlib.import_module(name)
    path = module.__file__
    assert path is not None
    if COMPILED:
        assert path.endswith(sysconfig.get_config_var("EXT_SUFFIX")), path
        assert not Path(path).resolve().is_relative_to(REPO / name.split(".", maxsplit=1)[0]), path
    else:
        assert Path(path).resolve() == REPO / f"{name.replace('.', '/')}.py"


def test_the_bundled_schemas_and_data_files_are_where_the_build_puts_them() -> None:
    """The wheel carries schemas/ as core/schemas/ and the referer dataset; a checkout reads schemas/ in place."""
    if COMPILED:
        assert BUNDLED_SCHEMAS.parent.name == "core"
        assert not BUNDLED_SCHEMAS.is_relative_to(REPO / "core")
    else:
        assert BUNDLED_SCHEMAS == REPO / "schemas"
    config = BUNDLED_SCHEMAS / "io.eventkit" / "python_enrichment_config" / "jsonschema" / "1-0-0"
    assert config.read_bytes() == (REPO / "schemas" / config.relative_to(BUNDLED_SCHEMAS)).read_bytes()
    assert BUNDLED_REFERERS.is_file()


def test_pip_install_of_the_wheel_into_a_fresh_venv_outside_the_repository_runs_compiled_code(tmp_path: Path) -> None:
    """The wheel `make test` built, installed by pip into a new venv and run from outside the repository, loads the
    compiled modules and serves `eventkit --help` (dependencies borrowed from this venv, so nothing is downloaded)."""
    wheels = sorted((REPO / "build" / "wheels" / WHEEL_KEY()).glob("eventkit-*.whl"))
    if not wheels:
        assert not COMPILED, "the compiled leg runs on this wheel: it must exist"
        pytest.skip("no wheel of the current sources (`make test` builds it)")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The dev venv's packages as a plain path entry: its own .pth files (the editable install's) are not read.
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # Nothing of this process's path: pip would find the unpacked wheel on it and call eventkit installed already.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheels[0])],
        check=True,
        env=env,
        timeout=300,
    )
    probe = subprocess.run(
        [python, "-c", "import core.iglu, enrich.pipeline; print(core.iglu.__file__); print(enrich.pipeline.__file__)"],
        cwd=tmp_path,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    files = probe.stdout.split()
    assert len(files) == 2
    assert all(f.endswith(".so") and f.startswith(str(site)) for f in files), files
    help_text = subprocess.run(
        [venv / "bin" / "eventkit", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert help_text.returncode == 0, help_text.stderr
    assert "enrich" in help_text.stdout
