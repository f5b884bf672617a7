"""Compile the enrich hot path with mypyc into build/native/, with the manifest core/native.py checks.

The modules stay ordinary, type-checked Python: mypyc compiles the same source to C extensions, which
core/native.py loads only while every source still matches its recorded hash. Nothing is written to
the source tree. A build whose manifest already matches the sources is left as it is.

Each build gets a folder of its own, `build/native/<id>` (the id digests the sources it was built from),
and `build/native/current` names the newest. A process already running keeps importing from its own
build while a new one is made; the pointer is replaced in one rename, and only builds older than the
previous one are removed.

    python tools/build_native.py            # build if stale
    python tools/build_native.py --force    # rebuild
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.machinery
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

GROUP = "eventkit_native"  # the shared library every compiled module links to
# The per-event path of enrich (adapters, mapping, validation, derived values, enrichments, the pii event).
# Not here: enrich/event.py (EnrichedEvent is read column-wise by pyarrow through attrgetter, which a native
# class makes slower), the outputs (their work is in pyarrow), and anything run once per process.
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


def module_name(source: str) -> str:
    return source.removesuffix(".py").replace("/", ".")


def fresh(folder: Path) -> bool:
    from core.native import NativeBuild

    build = NativeBuild.find(folder)
    return build is not None and sorted(build.sources) == sorted(map(module_name, MODULES)) and not build.stale()


def publish(staging: Path, folder: Path, build_id: str) -> Path:
    """Move a finished build into `folder/<build_id>`, point `current` at it, drop all but it and the previous one."""
    from core.native import CURRENT, build_dir

    folder.mkdir(parents=True, exist_ok=True)
    previous = build_dir(folder)
    target = folder / build_id
    incoming = folder / f"{build_id}.incoming"
    shutil.rmtree(incoming, ignore_errors=True)
    shutil.copytree(staging, incoming)
    if target.exists():  # the same sources built again (--force): swapped by renames, the old copy pruned below
        target.rename(folder / f"{build_id}.{os.getpid()}.old")
    incoming.rename(target)
    pointer = folder / f"{CURRENT}.incoming"
    pointer.write_text(build_id + "\n")
    pointer.replace(folder / CURRENT)
    keep = {target.name} | ({previous.name} if previous is not None and previous.parent == folder else set())
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
    return target


def build(folder: Path) -> Path:
    from mypyc.build import mypycify
    from setuptools import Distribution

    from core.native import MANIFEST, source_hash

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
        text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
        (staging / MANIFEST).write_text(text)
        return publish(staging, folder, hashlib.sha256(text.encode()).hexdigest()[:16])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the build matches the sources")
    args = parser.parse_args()
    os.environ["EVENTKIT_PURE"] = "1"  # this process reads the sources, never an old build
    sys.path.insert(0, str(ROOT))
    from core.native import default_dir

    folder = default_dir()
    if not args.force and fresh(folder):
        print(f"native build in {folder} matches the sources")
        return
    os.chdir(ROOT)
    made = build(folder)
    print(f"native build: {len(MODULES)} modules compiled with mypyc into {made}")


if __name__ == "__main__":
    main()
