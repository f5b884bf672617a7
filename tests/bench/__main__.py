"""`make bench`: runs every tests/bench/bench_*.py module's main(), or only those named on the command line."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import tests.bench as package
from tests.bench import summary


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("bench_"))
    wanted = [n for n in names if not argv or any(a in n for a in argv)]
    import enrich.pipeline

    where = str(enrich.pipeline.__file__)
    built = f"mypyc-compiled ({where})" if where.endswith(".so") else f"the Python source ({where})"
    print(f"enrich hot path: {built}", flush=True)
    for name in wanted:
        module = importlib.import_module(f"tests.bench.{name}")
        print(f"\n== {name} ==", flush=True)
        started = time.perf_counter()
        module.main()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    rows = summary.figures()
    if rows:
        print("\n== summary (targets from the issues; ratios to baselines measured in this run) ==")
        print(summary.render(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
