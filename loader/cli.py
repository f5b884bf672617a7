"""`eventkit load`, `eventkit replay` and `eventkit bad`: the lake's readers on the command line.

    eventkit load   --lake URL --warehouse duckdb:///data/warehouse.duckdb [--watch 5]
    eventkit bad    --lake URL [--by hour] [--type T] [--schema S] [--since 7d]
    eventkit replay --lake URL --raw QUEUE_URL [--type T] [--schema S] [--error E] [--since 2d]
                    [--fixes fixes.json] [--dry-run | --yes] [--report report.json]

A replay that is not a dry run also writes its failed recoveries as `recovery_error` rows (see
loader/replay.py); `--type T` selects those wrapping a T row as well.

With `--data-dir DIR` (and no URLs) each works on the layout `eventkit up --data-dir DIR` uses — its
queue, lake, warehouse and the registry `up` recorded in DIR/eventkit.json (core/recorded_registry.py),
named on the first line each command prints. `bad` and `replay` also work while `eventkit up` runs (`bad`
reads the warehouse's quarantine by taking turns on DuckDB's lock); `load` is refused then, since `up`
already loads that warehouse. Explicit URLs win over the data folder. `load` prints its human summary on
stderr and its JSON report on stdout; `bad` and `replay` print a human summary on stdout, or with
`--json` the machine report (`replay --report FILE` also writes it to FILE).

One loader per warehouse: `load` holds the lock file beside the warehouse (as `eventkit up` does
for its continuous loader) and a second one is refused at once (exit 2). A good file `load` cannot
read is quarantined, named in one `quarantined FILE: REASON` line, and every other file loads; the
exit code stays 0 (as dbt treats warnings) and the JSON report lists it under `quarantined`.
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

    from core.settings import Settings
    from loader.load import Loader
    from loader.replay import Candidate, Replayer, ReplayPlan
    from loader.selection import Selection, UnreadableFile

__all__ = ["bad_app", "load_app", "replay_app"]

load_app = typer.Typer(add_completion=False)
replay_app = typer.Typer(add_completion=False)
bad_app = typer.Typer(add_completion=False)

_DATA_DIR_HELP = "work on the layout of `eventkit up --data-dir DIR` (queue, lake, warehouse)"
_REGISTRY_HELP = (
    "schema folder(s) or URL(s), comma-separated (default: the one `eventkit up` recorded in the data dir); "
    "the bundled schemas are always consulted last"
)
_CACHE_TTL_HELP = "seconds a schema, or its absence, is cached (default: registry.cache_ttl or a resolver config's)"
_NO_PROGRESS_HELP = "no progress line on stderr (it is shown only when stderr is a terminal)"


@dataclass(frozen=True, slots=True)
class _Where:
    lake: str
    warehouse: str
    raw: str
    registry: str
    settings: Settings


def _where(
    data_dir: str | None, lake: str | None, warehouse: str | None, raw: str | None, registry: str | None
) -> _Where:
    """Locations from explicit options, else from settings (eventkit.toml, EVENTKIT_*, the data folder).

    The registry is `--registry`, else the one `eventkit up` recorded in the data folder, else the
    `enrich.registry` setting; the first line printed (stderr) says which. A data folder or local lake
    that is not there is a ConfigError naming it, not an empty success.
    """
    from core.layout import check_data_dir, readable_lake
    from core.recorded_registry import choose_registry
    from core.settings import load_settings
    from core.telemetry import configure_logging_from
    from registry.resolver import with_bundled_schemas

    folder = check_data_dir(Path(data_dir)) if data_dir else None
    settings = load_settings(data_dir=folder)
    # Logs go to stderr (stdout carries the JSON report); the commands print their own summaries.
    configure_logging_from(settings, quiet=True, stream=sys.stderr)
    where_lake = readable_lake(lake or settings.loader.lake, "--lake" if lake else "loader.lake", settings.data_dir)
    choice = choose_registry(registry, folder, settings.enrich.registry)
    typer.echo(choice.describe(), err=True)  # only once the paths are proven: a mistake is one line
    return _Where(
        lake=where_lake,
        warehouse=warehouse or settings.loader.warehouse,
        raw=raw or settings.collector.raw,
        registry=with_bundled_schemas(choice.location),
        settings=settings,
    )


def _quiet_logs() -> None:
    """Until the settings are read: warnings and errors only, on stderr."""
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
    warehouse: str | None = typer.Option(
        None, "--warehouse", help="duckdb:///path/warehouse.duckdb or bigquery://PROJECT/DATASET"
    ),
    registry: str | None = typer.Option(None, "--registry", help=_REGISTRY_HELP),
    data_dir: str | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    watch: float = typer.Option(0.0, "--watch", min=0.0, help="keep loading every N seconds (0 = load once)"),
    batch_files: int = typer.Option(500, "--batch-files", min=1, help="files per load transaction"),
    retry_quarantined: bool = typer.Option(
        False, "--retry-quarantined", help="try the files an earlier load quarantined again"
    ),
    cache_ttl: float | None = typer.Option(None, "--cache-ttl", min=0.0, help=_CACHE_TTL_HELP),
    create_bucket: bool = typer.Option(
        False, "--create-bucket", help="create the gs:// lake's bucket if it does not exist"
    ),
    no_create: bool = typer.Option(
        False, "--no-create", help="fail if the warehouse (DuckDB file, BigQuery dataset) does not exist yet"
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help=_NO_PROGRESS_HELP),
) -> None:
    """Load good events from the lake into the warehouse (new files only; typed per-schema columns; deduplicated)."""
    from core.errors import ConfigError
    from core.lake import open_lake
    from loader.load import Loader, hold_loader_lock
    from registry.resolver import Resolver, configured_cache_ttl

    _quiet_logs()
    try:
        where = _where(data_dir, lake, warehouse, None, registry)
        ttl = configured_cache_ttl(cache_ttl, where.settings.registry)
        resolver = Resolver.from_locations(where.registry, cache_ttl=ttl, default_ttl=max(watch, 1.0))
        lake_store = open_lake(where.lake, key="--lake", create_bucket_if_missing=create_bucket)
        loader = Loader(
            lake_store, where.warehouse, resolver, retry_quarantined=retry_quarantined, create=not no_create
        )
        lock = hold_loader_lock(where.warehouse, str(Path(data_dir).resolve()) if data_dir else where.warehouse, "load")
    except ConfigError as e:
        raise _fail(str(e)) from None
    with lock:
        _load_loop(loader, where, watch, batch_files, show_progress=not no_progress)


def _load_loop(loader: Loader, where: _Where, watch: float, batch_files: int, *, show_progress: bool) -> None:
    """Load once (or every `watch` seconds), printing one line per load and each newly quarantined file."""
    from core.errors import ConfigError, TransientError
    from core.progress import Progress
    from loader.load import LoadReport

    console = _console()
    total = LoadReport()
    while True:
        try:
            with Progress("load", unit="files", enabled=None if show_progress else False) as progress:
                report = loader.load(max_files_per_batch=batch_files, progress=progress)
        except ConfigError as e:
            raise _fail(str(e)) from None
        except TransientError as e:
            if not watch:
                raise _fail(f"{type(e).__name__}: {e}", 3) from None
            console.print(f"[yellow]load failed, retrying: {e}[/yellow]")
            report = LoadReport()
        total.add(report)
        for q in report.quarantined:
            console.print(f"[yellow]quarantined[/yellow] {q.file}: {q.error}", soft_wrap=True, highlight=False)
        if report.files or not watch:
            console.print(
                f"loaded {report.rows_loaded} rows from {report.files} files "
                f"({report.duplicates} duplicates skipped) into {where.warehouse}"
                + (f"; new columns: {', '.join(report.columns_added)}" if report.columns_added else "")
                + (f"; widened: {', '.join(report.columns_widened)}" if report.columns_widened else "")
            )
        if report.skipped_quarantined and not watch:
            console.print(
                f"{report.skipped_quarantined} file(s) quarantined earlier left alone "
                "(`eventkit bad` lists them; --retry-quarantined tries them again)"
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
    from core.errors import ConfigError, TransientError
    from core.lake import open_lake
    from loader.bad_summary import render_summary, summarise
    from loader.selection import ReadStats, read_bad_rows, replay_outcomes

    _quiet_logs()
    if by not in ("day", "hour"):
        raise _fail("--by: expected day or hour")
    try:
        where = _where(data_dir, lake, None, None, None)
        selection = _selection(types, schemas, errors, since, until, None)
        bad_lake = open_lake(where.lake, key="--lake")
        stats = ReadStats()
        summary = summarise(
            read_bad_rows(bad_lake, selection, stats),
            bucket=by,
            outcomes=replay_outcomes(bad_lake),
            stats=stats,
            # The warehouse of this data folder (or of the settings); an explicit --lake may belong to another.
            quarantined=_quarantined(where.warehouse, _console()) if lake is None else [],
        )
    except ConfigError as e:
        raise _fail(str(e)) from None
    except TransientError as e:
        raise _fail(f"{type(e).__name__}: {e}", 3) from None
    if as_json:
        _emit(summary.to_json(), None)
    else:
        from rich.console import Console

        render_summary(summary, Console())


def _quarantined(warehouse: str, console: Console) -> list[UnreadableFile]:
    """The good files the warehouse's loads quarantined ([] with a note if the warehouse stays locked)."""
    from core.errors import ConfigError, TransientError
    from loader.load import quarantined_files
    from loader.selection import UnreadableFile

    try:
        return [UnreadableFile(q.file, q.error) for q in quarantined_files(warehouse)]
    except (ConfigError, TransientError) as e:
        console.print(f"[yellow]quarantined files not listed: {e}[/yellow]", soft_wrap=True, highlight=False)
        return []


def _preview(plan: ReplayPlan, console: Console, samples: int) -> None:
    """Before/after of the first fixed rows (or why their fix failed), then what the re-check found."""
    shown = 0
    for c in plan.candidates:
        if shown >= samples:
            break
        if c.fix is None or not (c.fix.changes or c.fix.error):
            continue
        shown += 1
        console.print(f"[bold]{c.entry.file}:{c.entry.line + 1}[/bold]  flow {c.fix.flow!r}", highlight=False)
        if c.fix.error:
            console.print(f"  [red]fix failed:[/red] {c.fix.error}", highlight=False)
            continue
        for change in c.fix.changes:
            before = "(absent)" if change.added else json.dumps(change.before)
            after = "(removed)" if change.removed else json.dumps(change.after)
            note = "  [yellow]added: the row had no such member[/yellow]" if change.added else ""
            console.print(f"  {change.path}: {before} → {after}{note}", highlight=False)
        console.print("  re-check: " + ("[green]passes[/green]" if c.passes else f"[red]fails[/red] {_new_error(c)}"))


def _new_error(c: Candidate) -> str:
    """The first error the re-check found, in words."""
    schema = c.new_schemas[0].removeprefix("iglu:") + " " if c.new_schemas else ""
    if not c.new_errors:
        return schema + "(no error reported)"
    keyword, message = c.new_errors[0]
    return schema + (message if keyword in message else f"{keyword}: {message}")


def _summary(report: dict[str, Any], console: Console) -> None:
    """The short human summary: totals, then per original failure, what remains and why rows were skipped."""
    console.print(
        f"selected {report['selected']} bad rows: {report['would_pass']} would pass, "
        f"{report['still_failing']} still failing, {report['not_recoverable']} not recoverable, "
        f"{report['already_replayed']} already replayed",
        highlight=False,
    )
    for group in report["by_failure"]:
        console.print(
            f"  {group['type']}  {group['schema'].removeprefix('iglu:')}  {group['error']}: "
            f"{group.get('would_pass', 0)}/{group['rows']} would pass",
            highlight=False,
        )
    for item in report["still_failing_errors"][:5]:
        console.print(
            f"  [red]still failing[/red] {item['schema'].removeprefix('iglu:')}  {item['error']}: {item['rows']}"
        )
    for item in report["skipped"]:
        console.print(f"  [yellow]skipped[/yellow] {item['reason']}: {item['rows']}", highlight=False)
    if report["duplicates_skipped"]:
        console.print(f"  {report['duplicates_skipped']} redelivered copies of these rows counted once")
    for item in report["unreadable_files"]:
        console.print(f"  [red]unreadable[/red] {item['file']}: {item['error']}", soft_wrap=True, highlight=False)


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
    fixes: str | None = typer.Option(None, "--fixes", help="fix-step file (JSON), see docs/FIXES.md"),
    dry_run: bool = typer.Option(False, "--dry-run", help="re-check and report; send nothing"),
    yes: bool = typer.Option(False, "--yes", "-y", help="send without asking (scripts)"),
    samples: int = typer.Option(3, "--samples", min=0, help="fixed rows to preview before sending"),
    include_replayed: bool = typer.Option(False, "--include-replayed", help="also resend rows replayed before"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON report on stdout (the summary goes to stderr)"),
    report_path: str | None = typer.Option(None, "--report", help="also write the JSON report to this file"),
    cache_ttl: float | None = typer.Option(None, "--cache-ttl", min=0.0, help=_CACHE_TTL_HELP),
    no_progress: bool = typer.Option(False, "--no-progress", help=_NO_PROGRESS_HELP),
) -> None:
    """Re-check bad rows against today's registry, optionally fix them, and republish those that now pass."""
    from core.errors import ConfigError, TransientError
    from core.lake import open_lake
    from core.progress import Progress
    from core.queue import open_publisher
    from loader.fixes import load_fixes
    from loader.replay import Replayer
    from registry.resolver import Resolver, configured_cache_ttl

    _quiet_logs()
    # Human text on stdout by default; with --json stdout carries only the report, so the text moves to stderr.
    console = _console() if as_json else _stdout_console()
    try:
        where = _where(data_dir, lake, None, raw, registry)
        selection = _selection(types, schemas, errors, since, until, limit)
        config = load_fixes(Path(fixes)) if fixes else None
        ttl = configured_cache_ttl(cache_ttl, where.settings.registry)
        resolver = Resolver.from_locations(where.registry, cache_ttl=ttl, default_ttl=None)
        replayer = Replayer(open_lake(where.lake, key="--lake"), resolver, fixes=config)
    except ConfigError as e:
        raise _fail(str(e)) from None
    # The progress lines go to stderr, and only to a terminal; --json asks for machine output alone.
    show: bool | None = False if as_json or no_progress else None
    try:
        with Progress("re-checking bad rows", enabled=show) as checking:
            checking.start()  # how many rows the selection takes is known only once they are read
            plan = replayer.plan(
                selection,
                include_replayed=include_replayed,
                on_row=lambda c: checking.advance(current=c.entry.file),
            )
        _preview(plan, console, samples)
        _summary(plan.report(), console)
        if dry_run or not plan.to_send:
            if not plan.to_send and not dry_run:
                plan.dry_run = False
                console.print("nothing to send")
                _record_failures(replayer, plan, console)
            elif dry_run:
                console.print(f"dry run: nothing sent ({len(plan.to_send)} rows would be sent to {where.raw})")
            _report(plan.report(), as_json, report_path)
            return
        if not yes:
            if not sys.stdin.isatty():
                raise _fail("not a terminal: pass --yes to send without a prompt, or --dry-run", 1)
            if not typer.confirm(f"send {len(plan.to_send)} bad rows to {where.raw}?", err=True):
                raise _fail("nothing sent", 1)
        publisher = open_publisher(where.raw)
        try:
            with Progress("sending", total=len(plan.to_send), enabled=show) as sending:
                sending.start()
                replayer.send(plan, publisher, on_sent=sending.advance)
        finally:
            publisher.close()
        console.print(f"sent {plan.sent_rows} bad rows ({plan.sent_records} raw records) to {where.raw}")
        if plan.recovery_errors:
            console.print(f"wrote {plan.recovery_errors} failed recoveries as recovery_error rows")
    except ConfigError as e:
        raise _fail(str(e)) from None
    except TransientError as e:
        raise _fail(f"{type(e).__name__}: {e} (nothing after the last confirmed batch was sent; rerun)", 3) from None
    _report(plan.report(), as_json, report_path)


def _stdout_console() -> Console:
    from rich.console import Console

    return Console()


def _report(report: dict[str, Any], as_json: bool, path: str | None) -> None:
    """The machine report: on stdout with --json, into `path` with --report."""
    text = json.dumps(report, indent=2, default=str)
    if path:
        Path(path).write_text(text + "\n")
    if as_json:
        typer.echo(text)
