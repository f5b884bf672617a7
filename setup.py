"""The wheel build: enrich's per-event path compiled with mypyc, as mypy and black ship themselves.

A wheel (`pip install .`, `pip wheel .`) compiles the modules of MODULES with mypyc into C extensions
that sit where their sources would; everything else, and every module of an editable install
(`pip install -e .`), is the Python source. `EVENTKIT_COMPILE=0` builds a pure-Python wheel (for a
machine without a C compiler). The metadata is in pyproject.toml; this file adds what it cannot say:
the compiled modules, and the bundled registry (`schemas/`) copied into the wheel as `core/schemas/`
(core/locations.py finds it there).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent

# The per-event path of enrich (adapters, mapping, validation, derived values, enrichments, the pii event).
# Not here: enrich/event.py (EnrichedEvent is read column-wise by pyarrow through attrgetter, which a native
# class makes slower), the outputs (their work is in pyarrow), enrich/enrichments/python.py (users' code runs
# there) and anything run once per process.
MODULES = [
    "core/base64url.py",
    "core/ids.py",
    "core/iglu.py",
    "core/json_path.py",
    "core/raw.py",
    "enrich/adapters/base.py",
    "enrich/adapters/iglu_webhook.py",
    "enrich/adapters/redirect.py",
    "enrich/adapters/tp1.py",
    "enrich/adapters/tp2.py",
    "enrich/derive.py",
    "enrich/enrichments/anon_ip.py",
    "enrich/enrichments/base.py",
    "enrich/enrichments/campaign_attribution.py",
    "enrich/enrichments/cookie_extractor.py",
    "enrich/enrichments/cross_navigation.py",
    "enrich/enrichments/cross_navigation_sp.py",
    "enrich/enrichments/http_header_extractor.py",
    "enrich/enrichments/ip_lookups.py",
    "enrich/enrichments/pii.py",
    "enrich/enrichments/proofs.py",
    "enrich/enrichments/referer_parser.py",
    "enrich/enrichments/spiders_and_robots.py",
    "enrich/enrichments/ua_parser.py",
    "enrich/entities.py",
    "enrich/environment.py",
    "enrich/outcome.py",
    "enrich/pii_event.py",
    "enrich/pii_transformation.py",
    "enrich/pipeline.py",
    "enrich/tracker_protocol.py",
    "registry/validation.py",
]
GROUP = "eventkit"  # the shared library every compiled module links to: eventkit__mypyc.<suffix>

# The commands that build extensions. The build backend also runs this file to read metadata (egg_info,
# dist_info) and for editable installs (editable_wheel): none of those compiles anything.
BUILDS = {"bdist_wheel", "build", "build_ext", "install"}


class BuildWithSchemas(build_py):  # type: ignore[misc]  # setuptools here has no types
    """build_py that also copies the bundled registry into the wheel's `core/schemas/`."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads schemas/ where it is
            return
        target = Path(self.build_lib) / "core" / "schemas"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "schemas", target)


def compiled() -> dict[str, Any]:
    """setup() arguments adding the compiled modules, when this run builds a wheel and compiling is not off."""
    if os.environ.get("EVENTKIT_COMPILE", "1") == "0" or not BUILDS.intersection(sys.argv[1:]):
        return {}
    from mypyc.build import mypycify

    # A fresh build folder per build: setuptools' default (build/ in the tree) keeps copies of deleted
    # modules and would put them into the next wheel.
    scratch = tempfile.mkdtemp(prefix="eventkit-build-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    # mypyc names modules by their paths relative to the working folder, and setuptools wants the C sources it
    # writes relative to this file: the build runs from this folder.
    os.chdir(ROOT)
    # The isolated build environment holds only the libraries the compiled modules call (pyproject.toml): the other
    # dependencies are Any to mypy, and the modules it reads but does not compile are checked by `make typecheck`
    # (with everything installed), not here. A cache of its own: the dev .mypy_cache was made with other options.
    options = ["--ignore-missing-imports", "--follow-imports=silent", f"--cache-dir={Path(scratch) / 'mypy'}"]
    extensions = mypycify([*options, *MODULES], opt_level="3", group_name=GROUP, target_dir="build/mypyc")
    return {"ext_modules": extensions, "options": {"build": {"build_base": scratch}}}


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildWithSchemas}, **compiled())
