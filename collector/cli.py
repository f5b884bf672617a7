"""`eventkit collector`: run the HTTP collector on uvicorn (one process, or several with --workers)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collector.settings import CollectorSettings

__all__ = ["app"]

GIL_SWITCH_INTERVAL_S = 0.0002

app = typer.Typer(help="Run the HTTP collector.", add_completion=False)


@app.command()
def collector(
    *,
    port: Annotated[int | None, typer.Option("--port", help="TCP port to listen on (default 8080).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Interface to bind (default 0.0.0.0).")] = None,
    raw: Annotated[
        str | None,
        typer.Option(
            "--raw",
            help=(
                "Raw queue URL: sqlite:///abs/queue.db or pubsub://PROJECT/TOPIC (default: collector.raw "
                "from eventkit.toml or EVENTKIT_COLLECTOR__RAW, else queue.db in the settings' data_dir, ./data)."
            ),
        ),
    ] = None,
    spool: Annotated[
        Path | None, typer.Option("--spool", help="SQLite spool file used while the queue is down.")
    ] = None,
    lake: Annotated[
        str | None, typer.Option("--lake", help="Lake URL for size_violation bad rows (default: the enrich lake).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="eventkit.toml (its collector table; default ./eventkit.toml if present)."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", help="debug, info, warning or error (default: the log_level setting, info)."),
    ] = None,
) -> None:
    """Accept tracker requests; answer 200 only once each raw record is in the queue or the spool."""
    import sys

    import uvicorn

    # The event loop and the publish threads share the GIL; at the default 5 ms switch interval a
    # commit thread waiting for the GIL (after each SQLite step) stalls whole batches behind a busy
    # loop. A short interval hands the GIL over quickly (measured: p99 and throughput, make bench).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)

    from collector.server import build_app, export_config, settle_heap
    from core.errors import ConfigError
    from core.settings import load_settings
    from core.telemetry import configure_logging_from

    try:
        logging_settings = load_settings(
            config,
            log_level=log_level,
            collector__port=port,
            collector__host=host,
            collector__raw=raw,
            collector__spool=spool.resolve() if spool else None,
        )
        level = configure_logging_from(logging_settings)
        settings: CollectorSettings = logging_settings.collector
        lake = lake or logging_settings.enrich.lake  # size_violation rows beside enrich's bad rows
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    from collector.http_protocol import TrackingHttpProtocol
    from collector.shutdown import DeadlineServer, graceful_seconds

    common = {
        "host": settings.host,
        "port": settings.port,
        "log_level": level,
        "log_config": None,  # keep the logging configure_logging_from() set up (format, level, stream)
        "access_log": False,
        "timeout_graceful_shutdown": graceful_seconds(settings.drain_timeout),
        "server_header": False,
        # The collector resolves client addresses itself, from forwarding headers of configured trusted
        # proxies only (collector.forwarding); uvicorn's own rewrite would trust any local peer.
        "proxy_headers": False,
        # httptools, with tracking requests answered without an ASGI task each (collector.http_protocol)
        "http": TrackingHttpProtocol,
    }
    from core.listening import bind_listening_socket

    try:
        # Bound before the banner: a port in use is the error, not a banner then uvicorn's traceback.
        sock = bind_listening_socket(settings.host, settings.port)
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    if workers > 1:
        sock.close()  # uvicorn's supervisor binds the shared socket itself, right after this check
        export_config(settings, lake=lake)
        # Worker processes configure their own logging from the environment (collector.server.app_from_env).
        os.environ["EVENTKIT_LOG_LEVEL"] = level
        if logging_settings.log_json is not None:
            os.environ["EVENTKIT_LOG_JSON"] = str(logging_settings.log_json).lower()
        _banner(settings, settings.port, workers, lake)
        uvicorn.run("collector.server:app_from_env", factory=True, workers=workers, **common)  # type: ignore[arg-type]
        return
    from collector.spool import SpoolUnavailable
    from core.errors import QueueUnavailable

    try:
        application = build_app(settings, lake=lake)
    except ConfigError as e:
        sock.close()
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    except (QueueUnavailable, SpoolUnavailable) as e:  # no spool to serve from, or the spool itself
        sock.close()
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    _banner(settings, sock.getsockname()[1], workers, lake)
    settle_heap()
    server = DeadlineServer(uvicorn.Config(application, **common), drain_timeout=settings.drain_timeout)  # type: ignore[arg-type]
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:  # as uvicorn.run: the lifespan failed
        raise typer.Exit(3)


def _banner(settings: CollectorSettings, port: int, workers: int, lake: str | None) -> None:
    """What is listening and where records go, on stderr (as `eventkit up` prints its own)."""
    base = f"http://{settings.host}:{port}"
    typer.echo(
        "\n".join(
            [
                f"eventkit collector: listening on {base} ({workers} worker{'s' if workers > 1 else ''})",
                f"  trackers     {base}/com.snowplowanalytics.snowplow/tp2  /i  /{{vendor}}/{{version}}",
                f"  raw queue    {settings.raw}",
                f"  spool        {settings.spool}",
                f"  bad rows     {lake or '(none)'}  (size_violation)",
                f"  health       {base}/health  {base}/metrics",
            ]
        ),
        err=True,
    )
