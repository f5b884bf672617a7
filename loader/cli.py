"""`eventkit load`, `eventkit replay` and `eventkit bad`: the lake's readers on the command line.

    eventkit load   --lake URL --warehouse duckdb:///data/warehouse.duckdb [--watch 5]
    eventkit bad    --lake URL [--by hour] [--type T] [--schema S] [--since 7d]
    eventkit replay --lake URL --raw QUEUE_URL [--type T] [--schema S] [--error E] [--since 2d]
                    [--fixes fixes.json] [--dry-run | --yes] [--report report.json]

A replay that is not a dry run also writes its failed recoveries as `recovery_error` rows (see
loader/replay.py); `--type T` selects those wrapping a T row as well.

With `--data-dir DIR` (and no URLs) each works on the layout `eventkit up --data-dir DIR` uses — its
queue, lake and warehouse — also while `eventkit up` runs (the warehouse is shared by taking turns
on DuckDB's lock). Explicit URLs win over the data folder. The human summary goes to stderr; the
JSON report goes to stdout (and to `--report FILE`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from loader.replay import Replayer, ReplayPlan
    from loader.selection import Selection

__all__ = ["bad_app", "load_app", "replay_app"]

load_app = typer.Typer(add_completion=False)
replay_app = typer.Typer(add_completion=False)
bad_app = typer.Typer(add_completion=False)

_DATA_DIR_HELP = "work on the layout of `eventkit up --data-dir DIR` (queue, lake, warehouse)"
_REGISTRY_HELP = "schema folder(s) or URL(s), comma-separated; the bundled schemas are always consulted last"


@dataclass(frozen=True, slots=True)
class _Where:
    lake: str
    warehouse: str
    raw: str
    registry: str


def _where(
    data_dir: str | None, lake: str | None, warehouse: str | None, raw: str | None, registry: str | None
) -> _Where:
    """Locations from explicit options, else from settings (eventkit.toml, EVENTKIT_*, the data folder).

    A data folder or local lake that is not there is a ConfigError naming it, not an empty success.
    """
    from core.layout import check_data_dir, readable_lake
    from core.settings import load_settings
    from registry.resolver import with_bundled_schemas

    settings = load_settings(data_dir=check_data_dir(Path(data_dir)) if data_dir else None)
    return _Where(
        lake=readable_lake(lake or settings.loader.lake, "--lake" if lake else "loader.lake", settings.data_dir),
        warehouse=warehouse or settings.loader.warehouse,
        raw=raw or settings.collector.raw,
        registry=with_bundled_schemas(registry or settings.enrich.registry),
    )


def _quiet_logs() -> None:
    """Logs go to stderr (stdout carries the JSON report); the commands print their own summaries."""
    from core.telemetry import configure_logging

    configure_logging("warning", stream=sys.stderr)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def _selection(  # noqa: PLR0917 - one parameter per selection option
    types: list[str], schemas: list[str], errors: list[str], since: str | None, until: str | None, limit: int | None
) -> Selection:
    from loader.selection import Selection, parse_when

    return Selection(
        types=tuple(types),
        schemas=tuple(schemas),
        errors=tuple(errors),
        since=parse_when(since) if since else None,
        until=parse_when(until) if until else None,
        limit=limit,
    )


def _emit(report: dict[str, Any], path: str | None) -> None:
    text = json.dumps(report, indent=2, default=str)
    if path:
        Path(path).write_text(text + "\n")
    typer.echo(text)


@load_app.command()
def load(  # noqa: PLR0917 - Typer maps each command-line option to one parameter
    lake: str | None = typer.Option(None, "--lake", help="lake URL (file:///path, a path, gs://BUCKET/PREFIX)"),
    warehouse: str | None = typer.Option(None, "--warehouse", help="duckdb:///path/warehouse.duckdb"),
    registry: str | None = typer.Option(None, "--registry", help=_REGISTRY_HELP),
    data_dir: str | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    watch: float = typer.Option(0.0, "--watch", min=0.0, help="keep loading every N seconds (0 = load once)"),
    batch_files: int = typer.Option(500, "--batch-files", min=1, help="files per load transaction"),
    create_bucket: bool = typer.Option(
        False, "--create-bucket", help="create the gs:// lake's bucket if it does not exist"
    ),
) -> None:
    """Load good events from the lake into the warehouse (new files only; typed per-schema columns; deduplicated)."""
    from core.errors import ConfigError, TransientError
    from core.lake import open_lake
    from loader.load import Loader, LoadReport
    from registry.resolver import Resolver

    _quiet_logs()
    try:
        where = _where(data_dir, lake, warehouse, None, registry)
        resolver = Resolver.from_locations(where.registry, cache_ttl=max(watch, 1.0))
        lake_store = open_lake(where.lake, key="--lake", create_bucket_if_missing=create_bucket)
        loader = Loader(lake_store, where.warehouse, resolver)
    except ConfigError as e:
        raise _fail(str(e)) from None
    console = _console()
    total = LoadReport()
    while True:
        try:
            report = loader.load(max_files_per_batch=batch_files)
        except ConfigError as e:
            raise _fail(str(e)) from None
        except TransientError as e:
            if not watch:
                raise _fail(f"{type(e).__name__}: {e}", 3) from None
            console.print(f"[yellow]load failed, retrying: {e}[/yellow]")
            report = LoadReport()
        total.add(report)
        if report.files or not watch:
            console.print(
                f"loaded {report.rows_loaded} rows from {report.files} files "
                f"({report.duplicates} duplicates skipped) into {where.warehouse}"
                + (f"; new columns: {', '.join(report.columns_added)}" if report.columns_added else "")
                + (f"; widened: {', '.join(report.columns_widened)}" if report.columns_widened else "")
            )
        if not watch:
            break
        try:
            time.sleep(watch)
        except KeyboardInterrupt:
            break
    _emit(total.to_json(), None)


@bad_app.command()
def bad(  # noqa: PLR0917 - Typer maps each command-line option to one parameter
    lake: str | None = typer.Option(None, "--lake", help="lake URL"),
    data_dir: str | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    types: list[str] = typer.Option([], "--type", help="bad-row type (repeatable), e.g. schema_violations"),  # noqa: B008 - Typer's idiom
    schemas: list[str] = typer.Option([], "--schema", help="schema URI or prefix, e.g. com.acme/checkout"),  # noqa: B008
    errors: list[str] = typer.Option([], "--error", help="error keyword (exact) or message text"),  # noqa: B008
    since: str | None = typer.Option(None, "--since", help="7d, 12h, 30m or an ISO date/time"),
    until: str | None = typer.Option(None, "--until", help="7d, 12h, 30m or an ISO date/time"),
    by: str = typer.Option("day", "--by", help="time bucket: day or hour"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON on stdout"),
) -> None:
    """Summarise bad rows by type, schema and error over time (run this before a replay)."""
    from core.errors import ConfigError
    from core.lake import open_lake
    from loader.bad_summary import render_summary, summarise
    from loader.selection import read_bad_rows

    _quiet_logs()
    if by not in ("day", "hour"):
        raise _fail("--by: expected day or hour")
    try:
        where = _where(data_dir, lake, None, None, None)
        selection = _selection(types, schemas, errors, since, until, None)
        summary = summarise(read_bad_rows(open_lake(where.lake, key="--lake"), selection), bucket=by)
    except ConfigError as e:
        raise _fail(str(e)) from None
    if as_json:
        _emit(summary.to_json(), None)
    else:
        from rich.console import Console

        render_summary(summary, Console())


def _preview(plan: ReplayPlan, console: Console, samples: int) -> None:
    """Before/after of the first fixed rows, then what the re-check found."""
    shown = 0
    for c in plan.candidates:
        if shown >= samples:
            break
        if c.fix is None or not (c.fix.changes or c.fix.error):
            continue
        shown += 1
        console.print(f"[bold]{c.entry.file}:{c.entry.line + 1}[/bold]  flow {c.fix.flow!r}")
        if c.fix.error:
            console.print(f"  [red]fix failed: {c.fix.error}[/red]")
        for change in c.fix.changes:
            console.print(f"  {change.path}: {json.dumps(change.before)} → {json.dumps(change.after)}")
        console.print(
            "  re-check: " + ("[green]passes[/green]" if c.passes else f"[red]fails[/red] {c.new_errors[:1]}")
        )
    report = plan.report()
    console.print(
        f"selected {report['selected']}: would pass {report['would_pass']}, still failing {report['still_failing']}, "
        f"not recoverable {report['not_recoverable']}, already replayed {report['already_replayed']}"
    )
    for group in report["by_failure"]:
        console.print(
            f"  {group['type']}  {group['schema']}  {group['error']}: "
            f"{group.get('would_pass', 0)}/{group['rows']} would pass"
        )
    for item in report["still_failing_errors"][:5]:
        console.print(f"  [red]still failing[/red] {item['schema']}  {item['error']}: {item['rows']}")
    for item in report["skipped"]:
        console.print(f"  [yellow]skipped[/yellow] {item['reason']}: {item['rows']}")


def _record_failures(replayer: Replayer, plan: ReplayPlan, console: Console) -> None:
    """Failed recoveries become recovery_error rows also when nothing passes (a run that sends is the trigger)."""
    if replayer.record_failures(plan):
        console.print(f"wrote {plan.recovery_errors} failed recoveries as recovery_error rows")


@replay_app.command()
def replay(  # noqa: PLR0917 - Typer maps each command-line option to one parameter
    lake: str | None = typer.Option(None, "--lake", help="lake URL"),
    raw: str | None = typer.Option(None, "--raw", help="raw queue URL to republish to"),
    registry: str | None = typer.Option(None, "--registry", help=_REGISTRY_HELP),
    data_dir: str | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    types: list[str] = typer.Option([], "--type", help="bad-row type (repeatable)"),  # noqa: B008 - Typer's idiom
    schemas: list[str] = typer.Option([], "--schema", help="schema URI or prefix (repeatable)"),  # noqa: B008
    errors: list[str] = typer.Option([], "--error", help="error keyword (exact) or message text (repeatable)"),  # noqa: B008
    since: str | None = typer.Option(None, "--since", help="7d, 12h, 30m or an ISO date/time"),
    until: str | None = typer.Option(None, "--until", help="7d, 12h, 30m or an ISO date/time"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="at most N bad rows"),
    fixes: str | None = typer.Option(None, "--fixes", help="fix-step file (JSON), see loader/fixes.py"),
    dry_run: bool = typer.Option(False, "--dry-run", help="re-check and report; send nothing"),
    yes: bool = typer.Option(False, "--yes", "-y", help="send without asking (scripts)"),
    samples: int = typer.Option(3, "--samples", min=0, help="fixed rows to preview before sending"),
    include_replayed: bool = typer.Option(False, "--include-replayed", help="also resend rows replayed before"),
    report_path: str | None = typer.Option(None, "--report", help="also write the JSON report to this file"),
) -> None:
    """Re-check bad rows against today's registry, optionally fix them, and republish those that now pass."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from core.errors import ConfigError, TransientError
    from core.lake import open_lake
    from core.queue import open_publisher
    from loader.fixes import load_fixes
    from loader.replay import Replayer
    from registry.resolver import Resolver

    _quiet_logs()
    console = _console()
    try:
        where = _where(data_dir, lake, None, raw, registry)
        selection = _selection(types, schemas, errors, since, until, limit)
        config = load_fixes(Path(fixes)) if fixes else None
        replayer = Replayer(
            open_lake(where.lake, key="--lake"), Resolver.from_locations(where.registry, cache_ttl=None), fixes=config
        )
    except ConfigError as e:
        raise _fail(str(e)) from None
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("re-checking bad rows", total=None)
            plan = replayer.plan(selection, include_replayed=include_replayed, on_row=lambda _: progress.advance(task))
        _preview(plan, console, samples)
        if dry_run or not plan.to_send:
            if not plan.to_send and not dry_run:
                plan.dry_run = False
                console.print("nothing to send")
                _record_failures(replayer, plan, console)
            _emit(plan.report(), report_path)
            return
        if not yes:
            if not sys.stdin.isatty():
                raise _fail("not a terminal: pass --yes to send without a prompt, or --dry-run", 1)
            if not typer.confirm(f"send {len(plan.to_send)} bad rows to {where.raw}?", err=True):
                raise _fail("nothing sent", 1)
        publisher = open_publisher(where.raw)
        try:
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task("sending", total=len(plan.to_send))
                replayer.send(plan, publisher, on_sent=lambda n: progress.advance(task, n))
        finally:
            publisher.close()
        console.print(f"sent {plan.sent_rows} bad rows ({plan.sent_records} raw records) to {where.raw}")
        if plan.recovery_errors:
            console.print(f"wrote {plan.recovery_errors} failed recoveries as recovery_error rows")
    except ConfigError as e:
        raise _fail(str(e)) from None
    except TransientError as e:
        raise _fail(f"{type(e).__name__}: {e} (nothing after the last confirmed batch was sent; rerun)", 3) from None
    _emit(plan.report(), report_path)
