"""The `eventkit` root: help and version without importing any stage, lazy mounting, clear failures."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core import cli
from core.cli import COMMANDS, app

REPO = Path(__file__).resolve().parents[2]
STAGES = ("collector", "enrich", "loader", "registry")

# Runs `eventkit ARGS` in a fresh interpreter and reports every stage package anyone *tried* to
# import (a meta-path finder sees attempts, including ones that fail because the module is absent).
PROBE = textwrap.dedent(
    """
    import sys
    attempts = []
    class Recorder:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {stages!r}:
                attempts.append(name)
            return None
    sys.meta_path.insert(0, Recorder())
    from core.cli import main
    try:
        main()
    except SystemExit as e:
        code = e.code
    print("ATTEMPTED", sorted(set(attempts)), file=sys.stderr)
    """
).format(stages=set(STAGES))


def _eventkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def test_help_lists_every_command_with_its_help_and_imports_no_stage() -> None:
    """`eventkit --help` names all nine commands with their one-line help, and never tries to import a stage."""
    result = _eventkit("--help")
    assert result.returncode == 0, result.stderr
    assert "ATTEMPTED []" in result.stderr
    commands = result.stdout.split("Commands:")[1]
    assert len(COMMANDS) == 9
    flat = " ".join(commands.split())
    for name, (_, help_text) in COMMANDS.items():
        assert f"{name} {help_text}" in flat
    listed = [
        line.split()[0] for line in commands.splitlines() if line.startswith("  ") and line.split()[0] in COMMANDS
    ]
    assert listed == list(COMMANDS)


def test_version_prints_the_installed_version_without_importing_stages() -> None:
    """`eventkit --version` prints `eventkit <version>` and exits 0 without touching any stage."""
    result = _eventkit("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"eventkit {version('eventkit')}"
    assert "ATTEMPTED []" in result.stderr


def test_the_console_script_is_installed() -> None:
    """The `eventkit` console script from pyproject runs the same root."""
    script = Path(sys.executable).with_name("eventkit")
    if not script.exists():
        pytest.skip("eventkit is not installed as a console script in this environment")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and result.stdout.startswith("eventkit ")


def test_invoking_a_command_imports_only_its_stage() -> None:
    """Running one command tries to import that stage's module and no other stage."""
    result = _eventkit("load", "--help")
    attempted = result.stderr.rsplit("ATTEMPTED ", 1)[1]
    assert "loader" in attempted
    assert not any(stage in attempted for stage in ("collector", "enrich", "registry"))


def test_unknown_command_fails_non_zero() -> None:
    """An unknown command exits non-zero with click's "No such command" message."""
    result = CliRunner().invoke(app, ["no-such-command"])
    assert result.exit_code != 0
    assert "No such command" in result.output


@pytest.fixture
def stage_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A throwaway importable package `fakestage` on sys.path, for mounting real Typer apps."""
    package = tmp_path / "fakestage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    for name in [n for n in sys.modules if n == "fakestage" or n.startswith("fakestage.")]:
        del sys.modules[name]


def test_a_missing_stage_module_is_reported_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, stage_package: Path
) -> None:
    """A command whose module (or attribute) does not exist yet says "not available in this build yet", exit 2."""
    (stage_package / "partial.py").write_text("import typer\nother = typer.Typer()\n")
    monkeypatch.setitem(COMMANDS, "ghost", ("fakestage.absent:app", "Ghost."))
    monkeypatch.setitem(COMMANDS, "half", ("fakestage.partial:app", "Half."))
    for name in ("ghost", "half"):
        result = CliRunner().invoke(app, [name, "--anything"])
        assert result.exit_code == 2
        assert f"`eventkit {name}` is not available in this build yet" in result.output


def test_a_missing_dependency_inside_a_stage_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch, stage_package: Path
) -> None:
    """If a stage module exists but imports something missing, the real ModuleNotFoundError surfaces."""
    (stage_package / "broken.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.setitem(COMMANDS, "broken", ("fakestage.broken:app", "Broken."))
    result = CliRunner().invoke(app, ["broken"])
    assert isinstance(result.exception, ModuleNotFoundError)
    assert result.exception.name == "no_such_dependency_xyz"


def test_stage_apps_mount_as_commands_and_groups(monkeypatch: pytest.MonkeyPatch, stage_package: Path) -> None:
    """A one-command Typer app becomes `eventkit NAME --opts`; a several-command app becomes a group."""
    (stage_package / "cli.py").write_text(
        textwrap.dedent(
            """
            import typer
            single = typer.Typer()
            @single.command()
            def run(port: int = typer.Option(8080, "--port")) -> None:
                typer.echo(f"running on {port}")
            several = typer.Typer()
            @several.command()
            def lint() -> None:
                typer.echo("linted")
            @several.command()
            def publish() -> None:
                typer.echo("published")
            not_an_app = 42
            """
        )
    )
    monkeypatch.setitem(COMMANDS, "single", ("fakestage.cli:single", "Single."))
    monkeypatch.setitem(COMMANDS, "several", ("fakestage.cli:several", "Several."))
    monkeypatch.setitem(COMMANDS, "wrong", ("fakestage.cli:not_an_app", "Wrong."))
    runner = CliRunner()
    assert runner.invoke(app, ["single", "--port", "9000"]).output == "running on 9000\n"
    assert runner.invoke(app, ["several", "publish"]).output == "published\n"
    assert "lint" in runner.invoke(app, ["several", "--help"]).output
    assert isinstance(runner.invoke(app, ["wrong"]).exception, TypeError)


def test_command_import_strings_are_the_published_surface() -> None:
    """The stage import strings other engineers build against stay exactly as published."""
    assert {name: target for name, (target, _) in COMMANDS.items()} == {
        "up": "embedded.cli:app",
        "collector": "collector.cli:app",
        "enrich": "enrich.cli:app",
        "load": "loader.cli:load_app",
        "replay": "loader.cli:replay_app",
        "bad": "loader.cli:bad_app",
        "schema": "registry.cli:schema_app",
        "registry": "registry.cli:registry_app",
        "console": "embedded.console.cli:app",
    }
    assert cli.__all__ == ["COMMANDS", "app", "main"]
