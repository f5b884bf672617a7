"""`eventkit up` (what `make run` runs): the whole platform on one machine with a local data folder (a server
process with enrich and loader child processes, embedded/up.py)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from embedded.up import UpOptions

__all__ = ["app", "serve"]

app = typer.Typer(add_completion=False)

DEFAULT_REGISTRY = "./schemas"
SCHEMAS_README = (
    "Your Iglu schemas: schemas/<vendor>/<name>/jsonschema/<M-R-A> (read live by `eventkit up`; "
    "publish with `eventkit schema publish FILE --registry schemas`).\n"
)


def ensure_default_registry(registry: str) -> bool:
    """Create the default `./schemas` folder (empty but for a one-line README) when it is missing; True if created.

    Only the default: a `--registry` the user typed that does not exist is a mistake to report, not to create.
    """
    folder = Path(registry)
    if registry != DEFAULT_REGISTRY or folder.exists():
        return False
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(SCHEMAS_README)
    return True


def serve(options: UpOptions, log_level: str = "warning") -> None:
    """Build the stack, start its child processes and the server, print the banner once all of them are ready,
    serve until SIGINT/SIGTERM, then stop the children (enrich commits and acks) and exit."""
    import uvicorn

    from core.errors import ConfigError
    from core.listening import bind_listening_socket
    from core.memory_tuning import tune_memory
    from embedded.up import build_up

    tune_memory()

    try:
        # Bound before anything is announced: a port in use is the error, not a banner then a traceback.
        sock = bind_listening_socket(options.host, options.port)
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    try:
        # Only once the port is ours: a busy port is the one error, with nothing made on disk.
        if ensure_default_registry(options.registry):
            typer.echo(
                f"eventkit up: created {Path(options.registry).resolve()} "
                "(empty; put your schemas there, see its README.md)",
                err=True,
            )
    except OSError as e:
        sock.close()
        typer.echo(f"error: cannot create {options.registry}: {e}", err=True)
        raise typer.Exit(2) from None
    try:
        stack = build_up(options)
    except ConfigError as e:
        sock.close()
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    base = f"http://{options.host}:{sock.getsockname()[1]}"
    cached = "cached until restart" if stack.schema_ttl is None else f"cached {stack.schema_ttl:g} s"
    banner = "\n".join(
        [
            f"eventkit up: data in {options.data_dir.resolve()}",
            f"  collector    {base}  (trackers: /com.snowplowanalytics.snowplow/tp2, /i)",
            f"  micro        {base}/micro/all  /micro/good  /micro/bad  /micro/reset",
            f"  schemas      {base}/micro/iglu/{{vendor}}/{{name}}/jsonschema/{{version}}  <- {options.registry}"
            f" ({cached})",
            f"  lake         {stack.lake_path}/good  /bad",
            f"  enrichments  {options.enrichments or '(none: no ./enrichments folder)'}",
            f"  metrics      {base}/metrics  {base}/metrics/enrich",
            f"  console      {base}/",
            f"  processes    server, {options.workers} enrich worker(s), loader",
        ]
    )
    from collector.http_protocol import TrackingHttpProtocol
    from collector.shutdown import DeadlineServer, graceful_seconds

    # SIGTERM ends the process within the drain timeout however stuck a write is (collector.shutdown);
    # the collector's protocol bounds slow clients and open connections (collector.connection_guard).
    # log_config=None: uvicorn keeps the logging configure_logging_from() set up (format, level, stream).
    drain_timeout = stack.app.collector.tracking.config.drain_timeout
    config = uvicorn.Config(
        stack.app,
        host=options.host,
        port=options.port,
        log_level=log_level,
        log_config=None,
        access_log=False,  # as `eventkit collector`: a line per tracker request would cost more than the request
        lifespan="on",
        http=TrackingHttpProtocol,
        timeout_graceful_shutdown=graceful_seconds(drain_timeout),
    )
    server = DeadlineServer(config, drain_timeout=drain_timeout)
    # uvicorn restores the previous handlers and re-raises SIGINT/SIGTERM once it has shut down;
    # with Python's defaults that would kill the process before enrich commits and acks what it holds.
    received: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda s, _frame: received.append(s))

    def announce() -> None:
        # What the banner announces is listening: the server, and every child process ready for work.
        while not server.should_exit:
            if server.started and stack.supervisor.ready.is_set():
                typer.echo(banner, err=True)
                return
            time.sleep(0.02)

    stack.start()  # the children import and build while this process starts serving
    threading.Thread(target=announce, name="banner", daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        code = stack.stop(timeout=drain_timeout)
        typer.echo(
            "eventkit up: stopped" if code == 0 else f"eventkit up: stopped (a child exited with {code})", err=True
        )
    if code != 0:
        raise typer.Exit(1)


@app.command()
def up(  # noqa: PLR0917 - Typer maps each command-line option to one parameter
    port: int = typer.Option(9090, "--port", min=0, max=65535, help="HTTP port for trackers and the Micro API"),
    data_dir: str = typer.Option("./data", "--data-dir", help="folder for queue, lake and Micro store"),
    max_events: int = typer.Option(100_000, "--max-events", min=1, help="events the Micro store keeps"),
    registry: str = typer.Option("./schemas", "--registry", help="schema folder or URL (read live)"),
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on (0.0.0.0 for all)"),
    tsv: bool = typer.Option(False, "--tsv", help="also write Snowplow enriched TSV to the lake"),
    enrichments: str = typer.Option(
        "./enrichments", "--enrichments", help="folder of enrichment configs (used when it exists)"
    ),
    cache_ttl: float | None = typer.Option(
        None,
        "--cache-ttl",
        min=0.0,
        help="seconds a schema, or its absence, is cached (default: registry.cache_ttl, a resolver config's "
        "cacheTtl, else 2)",
    ),
    console_auth: str | None = typer.Option(
        None, "--console-auth", help="the console's token or user:password; required when --host is not loopback"
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="enrich worker processes (default: one per core, at most 4)"
    ),
    lease_seconds: float = typer.Option(
        60.0, "--lease-seconds", min=1.0, help="how long a pulled raw message stays leased before redelivery"
    ),
) -> None:
    """Run collector, enrich, the loader, registry look-ups and the Snowplow Micro API: a server process and
    one child process per enrich worker and for the loader."""
    from core.errors import ConfigError
    from core.settings import load_settings
    from core.telemetry import configure_logging_from
    from embedded.console.cli import auth_problem
    from embedded.up import UpOptions, default_workers
    from registry.resolver import configured_cache_ttl

    problem = auth_problem(host, console_auth)
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    try:
        settings = load_settings()
        level = configure_logging_from(settings)
        ttl = configured_cache_ttl(cache_ttl, settings.registry)
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    folder = enrichments if Path(enrichments).is_dir() else None
    options = UpOptions(
        Path(data_dir),
        port,
        host,
        registry,
        max_events,
        tsv,
        enrichments=folder,
        cache_ttl=ttl,
        workers=default_workers() if workers is None else workers,
        lease_seconds=lease_seconds,
        log_level=level,
        log_json=settings.log_json,
        console_auth=console_auth,
    )
    serve(options, log_level=level)
