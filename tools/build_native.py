"""Compile the enrich hot path with mypyc into build/native/, with the manifest core/native.py checks.

The modules stay ordinary, type-checked Python: mypyc compiles the same source to C extensions, which
core/native.py loads only while every source still matches its recorded hash. Nothing is written to
the source tree. A build whose manifest already matches the sources is left as it is.

    python tools/build_native.py            # build if stale
    python tools/build_native.py --force    # rebuild
"""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["EVENTKIT_PURE"] = "1"  # this process reads the sources, never an old build

from core.native import MANIFEST, NativeBuild, default_dir, source_hash  # noqa: E402

GROUP = "eventkit_native"  # the shared library every compiled module links to
# The per-event path of enrich (adapters, mapping, validation, derived values, enrichments, the pii event).
# Not here: enrich/event.py (EnrichedEvent is read column-wise by pyarrow through attrgetter, which a native
# class makes slower), the outputs (their work is in pyarrow), and anything run once per process.
MODULES = [
    "core/iglu.py",
    "core/raw.py",
    "enrich/adapters/base.py",
    "enrich/adapters/iglu_webhook.py",
    "enrich/adapters/redirect.py",
    "enrich/adapters/tp1.py",
    "enrich/adapters/tp2.py",
    "enrich/base64url.py",
    "enrich/derive.py",
    "enrich/enrichments/anon_ip.py",
    "enrich/enrichments/base.py",
    "enrich/enrichments/campaign_attribution.py",
    "enrich/enrichments/cookie_extractor.py",
    "enrich/enrichments/cross_navigation.py",
    "enrich/enrichments/http_header_extractor.py",
    "enrich/enrichments/ip_lookups.py",
    "enrich/enrichments/json_path.py",
    "enrich/enrichments/pii.py",
    "enrich/enrichments/proofs.py",
    "enrich/enrichments/referer_parser.py",
    "enrich/enrichments/spiders_and_robots.py",
    "enrich/enrichments/ua_parser.py",
    "enrich/entities.py",
    "enrich/environment.py",
    "enrich/outcome.py",
    "enrich/pii_event.py",
    "enrich/pipeline.py",
    "enrich/tracker_protocol.py",
    "registry/validation.py",
]


def module_name(source: str) -> str:
    return source.removesuffix(".py").replace("/", ".")


def fresh(folder: Path) -> bool:
    build = NativeBuild.read(folder)
    return build is not None and sorted(build.sources) == sorted(map(module_name, MODULES)) and not build.stale()


def build(folder: Path) -> None:
    from mypyc.build import mypycify
    from setuptools import Distribution

    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    with tempfile.TemporaryDirectory(prefix="eventkit-native-") as tmp:
        # mypyc names modules by their paths relative to the working folder: compile from the project root.
        extensions = mypycify(MODULES, opt_level="3", group_name=GROUP, target_dir=str(Path(tmp) / "c"))
        dist = Distribution({"name": "eventkit-native", "ext_modules": extensions})
        command = dist.get_command_obj("build_ext")
        staging = Path(tmp) / "lib"
        command.build_lib = str(staging)
        command.build_temp = str(Path(tmp) / "obj")
        dist.run_command("build_ext")
        modules = {
            module_name(source): {
                "source": source,
                "sha256": source_hash(ROOT / source),
                "binary": source.removesuffix(".py") + suffix,
            }
            for source in MODULES
        }
        manifest = {
            "group": GROUP + "__mypyc",
            "group_binary": GROUP + "__mypyc" + suffix,
            "suffix": suffix,
            "modules": modules,
        }
        for name in [*(m["binary"] for m in modules.values()), manifest["group_binary"]]:
            if not (staging / str(name)).is_file():
                raise SystemExit(f"build_native: mypyc did not produce {name}")
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the build matches the sources")
    args = parser.parse_args()
    folder = default_dir()
    if not args.force and fresh(folder):
        print(f"native build in {folder} matches the sources")
        return
    os.chdir(ROOT)
    build(folder)
    print(f"native build: {len(MODULES)} modules compiled with mypyc into {folder}")


if __name__ == "__main__":
    main()
