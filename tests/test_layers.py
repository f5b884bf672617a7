"""Imports flow one way: `core ← registry ← {collector, enrich} ← loader ← embedded`, checked on the source.

Every module of the six packages is parsed (ast, never imported) and every import is read: top-level,
inside functions, under `if TYPE_CHECKING:`, relative ones, and `importlib.import_module("...")` with a
literal name. A module may import its own package and any package on a lower floor; `collector` and
`enrich` share a floor and may not import each other. So `core` imports no stage: the import strings in
`core/cli.py`'s literal `COMMANDS` map (`"enrich.cli:app"`, ...) are the one sanctioned late binding,
strings the command root resolves only when that command runs, and they are not imports here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The floor of each package: a module may import packages on a strictly lower floor, and its own.
FLOORS = {"core": 0, "registry": 1, "collector": 2, "enrich": 2, "loader": 3, "embedded": 4}

# The one module of enrich the loader may use: replay re-runs enrichment through it and nothing else.
LOADER_ENTRY_INTO_ENRICH = "enrich.recheck"


@dataclass(frozen=True, slots=True)
class Arrow:
    """One import found in the source: who imports what, and where."""

    path: Path
    line: int
    package: str  # the importing module's top-level package
    target: str  # the imported module, absolute and dotted

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line} {self.package} -> {self.target}"


def module_name(path: Path) -> str:
    """The dotted name of a source file under the repository (`enrich/outputs/__init__.py` → `enrich.outputs`)."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute name of `from <level dots><module> import ...` written in module `importer`."""
    parts = importer.split(".") if is_package else importer.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, module] if module else parts)


def is_module(dotted: str) -> bool:
    """Whether a dotted name is a module or package in the repository (not a name defined inside one)."""
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """Every (line, imported module) in one source file, wherever the import statement sits."""
    importer = module_name(path)
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = resolve_relative(importer, is_package, node.level, node.module) if node.level else node.module
            assert base is not None, f"{path}:{node.lineno}: an import with neither module nor level"
            # `from enrich import recheck` imports the module enrich.recheck; `from enrich.atomic import
            # FIELDS` imports enrich.atomic (FIELDS is a name in it).
            for alias in node.names:
                submodule = f"{base}.{alias.name}" if base else alias.name
                yield node.lineno, submodule if alias.name != "*" and is_module(submodule) else base
        elif (
            isinstance(node, ast.Call)
            and _is_import_module(node.func)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _is_import_module(func: ast.expr) -> bool:
    """`importlib.import_module(...)`, `import_module(...)` or `__import__(...)`."""
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}


def arrows(packages: tuple[str, ...] = tuple(FLOORS)) -> list[Arrow]:
    """Every import from a module of `packages` into a module of one of the six packages."""
    found: set[Arrow] = set()  # `from a import b, c` is one arrow
    for package in packages:
        sources = sorted((REPO / package).rglob("*.py"))
        assert sources, f"no sources under {package}/"
        for path in sources:
            for line, target in imports_of(path):
                if target.split(".", 1)[0] in FLOORS:
                    found.add(Arrow(path, line, package, target))
    return sorted(found, key=lambda a: (a.path, a.line, a.target))


def backwards(found: list[Arrow]) -> list[Arrow]:
    """The arrows that point at a package on the same floor or higher (other than the importer's own)."""
    return [a for a in found if (top := a.target.split(".", 1)[0]) != a.package and FLOORS[top] >= FLOORS[a.package]]


def test_no_import_points_against_the_stack() -> None:
    """No module of core, registry, collector, enrich, loader or embedded imports a package above or beside it."""
    found = arrows()
    assert len({a.package for a in found}) == len(FLOORS), "every package was read and imports something"
    violations = backwards(found)
    assert not violations, "imports against core ← registry ← {collector, enrich} ← loader ← embedded:\n" + "\n".join(
        map(str, violations)
    )


def test_nothing_imports_embedded() -> None:
    """`embedded` is the top floor: no other package imports it (`eventkit up` reaches it by import string only)."""
    into_embedded = [a for a in arrows() if a.package != "embedded" and a.target.split(".", 1)[0] == "embedded"]
    assert not into_embedded, "\n".join(map(str, into_embedded))


def test_loader_reaches_enrich_only_through_its_entry_point() -> None:
    """The loader imports from enrich only `enrich.recheck`, the narrow entry point replay's re-check uses."""
    other = [
        a
        for a in arrows(("loader",))
        if a.target.split(".", 1)[0] == "enrich"
        and a.target != LOADER_ENTRY_INTO_ENRICH
        and not a.target.startswith(LOADER_ENTRY_INTO_ENRICH + ".")
    ]
    assert not other, f"loader may import from enrich only {LOADER_ENTRY_INTO_ENRICH}:\n" + "\n".join(map(str, other))


def test_the_checker_sees_every_kind_of_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Function-level, TYPE_CHECKING, relative and import_module arrows against the stack are all reported."""
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    for module in ("core/__init__.py", "core/settings.py", "registry/__init__.py"):
        (tmp_path / module).parent.mkdir(exist_ok=True)
        (tmp_path / module).write_text("")
    (tmp_path / "core" / "sneaky.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import importlib\n"
        "if TYPE_CHECKING:\n"
        "    from enrich.event import EnrichedEvent\n"
        "def f() -> None:\n"
        "    import loader.load\n"
        "    importlib.import_module('embedded.up')\n"
        "from . import settings\n"
        "COMMANDS = {'up': ('embedded.cli:app', 'a string, not an import')}\n"
    )
    (tmp_path / "enrich").mkdir()
    (tmp_path / "enrich" / "__init__.py").write_text("from collector import app\nfrom .. import registry\n")
    found = [a for p in ("core", "enrich") for a in arrows((p,))]
    assert [str(a) for a in backwards(found)] == [
        "core/sneaky.py:4 core -> enrich.event",
        "core/sneaky.py:6 core -> loader.load",
        "core/sneaky.py:7 core -> embedded.up",
        "enrich/__init__.py:1 enrich -> collector",
    ]
    assert {a.target for a in found} >= {"core.settings", "registry"}, "relative imports resolve to absolute names"
