"""The `eventkit` command root: mounts each stage's commands lazily so start-up stays fast.

Stages own their commands; this root only knows their names and where to find them (a literal
map of import strings), so `core/` never imports a stage. Each target is a `typer.Typer` app:
an app with one command becomes `eventkit NAME`, an app with several becomes a group.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import typer
import typer.core
import typer.main

__all__ = ["COMMANDS", "app", "main"]

# name -> ("module:attribute", one-line help). The attribute is a Typer app.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("embedded.cli:app", "Run collector, enrich, loader and registry on this machine (embedded)."),
    "collector": ("collector.cli:app", "Run the HTTP collector."),
    "enrich": ("enrich.cli:app", "Run enrich workers on the raw queue."),
    "load": ("loader.cli:load_app", "Load good events from the lake into the warehouse."),
    "replay": ("loader.cli:replay_app", "Re-check and republish bad rows."),
    "bad": ("loader.cli:bad_app", "Summarise bad rows by type, schema and error."),
    "schema": ("registry.cli:schema_app", "Lint, diff, check and publish schemas."),
    "registry": ("registry.cli:registry_app", "Serve the Iglu-compatible registry API."),
    "console": ("embedded.console.cli:app", "Serve the web console for a data folder or a lake and registry."),
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eventkit")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


class LazyGroup(typer.core.TyperGroup):
    """A command group whose subcommands are imported only when invoked.

    Help is rendered by click's plain formatter (the app sets `rich_markup_mode=None`): Typer's
    rich help calls `get_command()` for every subcommand, which would import every stage just to
    print `--help`. `format_commands` lists names and one-line help from COMMANDS instead.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)  # the order of COMMANDS: embedded first, then the flow

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target[0].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            # Only the stage module itself (or its package) missing means "not built yet"; a
            # missing dependency *inside* a stage is a real error and must surface.
            if e.name is not None and (module_name == e.name or module_name.startswith(e.name + ".")):
                return _unavailable(cmd_name, target[1])
            raise
        obj = getattr(module, attr, None)
        if obj is None:
            return _unavailable(cmd_name, target[1])
        if not isinstance(obj, typer.Typer):
            raise TypeError(f"{target[0]} is not a Typer app")
        cmd = typer.main.get_command(obj)
        cmd.name = cmd_name
        _plain_help(cmd)
        return cmd

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Help lists every command without importing any stage.
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _plain_help(command: Any) -> None:
    """Render `command` (and its subcommands) in the root's help style: click's plain formatter.

    One style everywhere: Typer's rich panels would cut long option metavars and help with `…` in an
    80-column terminal and print a `<bool>` type beside every flag; click's formatter wraps instead.
    A group's listing shows each subcommand's whole first paragraph (wrapped) rather than click's
    45-character cut.
    """
    command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        if not sub.short_help and sub.help:
            sub.short_help = " ".join(sub.help.split("\n\n", 1)[0].split())
        _plain_help(sub)


def _unavailable(name: str, help_text: str) -> Any:
    stub = typer.Typer(help=help_text)

    @stub.command(name=name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def not_built() -> None:
        typer.echo(f"`eventkit {name}` is not available in this build yet", err=True)
        raise typer.Exit(2)

    return typer.main.get_command(stub)


app = typer.Typer(
    cls=LazyGroup,
    rich_markup_mode=None,
    help="eventkit: schema-first event validation and enrichment, wire-compatible with Snowplow.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"eventkit {_version()}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show the Python traceback of user errors too."),
) -> None:
    """eventkit: schema-first event validation and enrichment, wire-compatible with Snowplow."""
    if debug:
        os.environ["EVENTKIT_DEBUG"] = "1"  # read by the stages' error reporting (child processes inherit it)


def main() -> None:
    app(prog_name="eventkit")
