"""The `eventkit` command root: mounts each stage's commands lazily so start-up stays fast.

Stages own their commands; this root only knows their names and where to find them (a literal
map of import strings), so `core/` never imports a stage.
"""

from __future__ import annotations

import importlib
from typing import Any

import click
import typer
import typer.main

__all__ = ["COMMANDS", "main"]

# name -> ("module:attribute", one-line help). The attribute is a Typer app or a click command.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("enrich.up_cli:command", "Run collector, enrich, loader and registry in one process (embedded)."),
    "collector": ("collector.cli:command", "Run the HTTP collector."),
    "enrich": ("enrich.cli:command", "Run enrich workers on the raw queue."),
    "load": ("loader.cli:load_command", "Load good events from the lake into the warehouse."),
    "replay": ("loader.cli:replay_command", "Re-check and republish bad rows."),
    "bad": ("loader.cli:bad_command", "Summarise bad rows by type, schema and error."),
    "schema": ("registry.cli:schema_app", "Lint, diff, check and publish schemas."),
    "registry": ("registry.cli:registry_app", "Serve the Iglu-compatible registry API."),
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eventkit")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target[0].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is not None and module_name.startswith(e.name):
                return _unavailable(cmd_name, target[1])
            raise
        obj: Any = getattr(module, attr, None)
        if obj is None:
            return _unavailable(cmd_name, target[1])
        if isinstance(obj, typer.Typer):
            cmd = typer.main.get_command(obj)
            cmd.name = cmd_name
            return cmd
        if isinstance(obj, click.Command):
            return obj
        raise TypeError(f"{target[0]} is neither a Typer app nor a click command")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help lists every command without importing any stage.
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str, help_text: str) -> click.Command:
    @click.command(name=name, help=help_text, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def cmd(args: tuple[str, ...]) -> None:
        raise click.ClickException(f"`eventkit {name}` is not available in this build yet")

    return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="eventkit")
def cli() -> None:
    """eventkit: schema-first event validation and enrichment, wire-compatible with Snowplow."""


def main() -> None:
    cli(prog_name="eventkit")
