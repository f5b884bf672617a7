"""Every command's help, rendered by the real `eventkit` at 80 columns: one plain style, wrapped, nothing cut."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import typer

from core.cli import COMMANDS, app

REPO = Path(__file__).resolve().parents[2]
BOX_DRAWING = set("╭╮╰╯│─")

# Renders `eventkit ARGS --help` for each command line given on stdin, in one fresh interpreter
# (fifteen interpreters would cost seconds each), through the real entry point `core.cli.main`.
RENDER = textwrap.dedent(
    """
    import sys
    from core.cli import main
    for line in sys.stdin.read().splitlines():
        sys.argv = ["eventkit", *line.split(), "--help"]
        print("=== " + line, flush=True)
        try:
            main()
        except SystemExit as e:
            print("EXIT", e.code, flush=True)
    """
)


def _command_lines() -> list[str]:
    """Every command path: the root, each top-level command and each subcommand of a group."""
    lines = [""]
    group = typer.main.get_command(app)
    for name in COMMANDS:
        lines.append(name)
        command = group.get_command(None, name)  # type: ignore[attr-defined]  # LazyGroup's lookup
        lines.extend(f"{name} {sub}" for sub in getattr(command, "commands", {}))
    return lines


def _render_all(lines: list[str]) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm-256color"}
    result = subprocess.run(
        [sys.executable, "-c", RENDER],
        input="\n".join(lines),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    pages: dict[str, str] = {}
    for chunk in result.stdout.split("=== ")[1:]:
        name, _, page = chunk.partition("\n")
        pages[name] = page
    return pages


def test_every_help_page_is_plain_wrapped_and_uncut_at_80_columns() -> None:
    """At 80 columns no help page cuts text with an ellipsis, shows a `<bool>` type, draws boxes or overflows."""
    lines = _command_lines()
    assert {"schema check", "schema lint", "registry serve"} <= set(lines)
    pages = _render_all(lines)
    assert set(pages) == set(lines)
    for name, page in pages.items():
        assert "EXIT 0" in page, (name, page)
        assert page.startswith(f"Usage: eventkit {name}".rstrip()), (name, page)  # one style: click's plain help
        assert "…" not in page, (name, page)
        assert "<bool>" not in page, (name, page)
        assert not BOX_DRAWING & set(page), (name, page)
        assert all(len(row) <= 80 for row in page.splitlines()), (name, page)
        # Completion is offered once, by the root, not by each group.
        assert ("--install-completion" in page) == (name == ""), (name, page)


def test_group_listings_show_each_subcommands_whole_first_line() -> None:
    """`eventkit schema --help` lists each subcommand's whole summary, wrapped, never cut with `...`."""
    pages = _render_all(["schema", "registry"])
    for group in ("schema", "registry"):
        listing = " ".join(pages[group].split("Commands:")[1].split())
        command = typer.main.get_command(app).get_command(None, group)  # type: ignore[attr-defined]
        for sub in command.commands.values():
            first = " ".join(sub.help.split("\n\n")[0].split())
            assert f"{sub.name} {first}" in listing, (group, sub.name, listing)
        assert "..." not in listing


def test_option_texts_say_what_the_options_do() -> None:
    """Help no longer claims `--master-key` is config-only nor names a `data_dir` option the collector lacks."""
    pages = _render_all(["collector", "registry serve", "schema check", "enrich", "load"])
    serve = " ".join(pages["registry serve"].split())
    assert "config only" not in serve and "--master-key" in serve and "EVENTKIT_REGISTRY_MASTER_KEY" in serve
    collector = " ".join(pages["collector"].split())
    assert "data_dir/queue.db" not in collector and "EVENTKIT_COLLECTOR__RAW" in collector
    assert "--data-dir" in pages["schema check"] and "[required]" not in pages["schema check"].split("--lake")[1]
    assert "--create-bucket" in pages["enrich"] and "--create-bucket" in pages["load"]
