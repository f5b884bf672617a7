"""`eventkit collector`: run the HTTP collector on uvicorn (one process, or several with --workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
            help="Raw queue URL: sqlite:///abs/queue.db or pubsub://PROJECT/TOPIC (default: data_dir/queue.db).",
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
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "warning",
) -> None:
    """Accept tracker requests; answer 200 only once each raw record is in the queue or the spool."""
    import sys

    import uvicorn

    # The event loop and the publish threads share the GIL; at the default 5 ms switch interval a
    # commit thread waiting for the GIL (after each SQLite step) stalls whole batches behind a busy
    # loop. A short interval hands the GIL over quickly (measured: p99 and throughput, make bench).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)

    from collector.server import build_app, export_config, settle_heap
    from collector.settings import load_config
    from core.errors import ConfigError

    try:
        settings = load_config(
            config,
            port=port,
            host=host,
            raw_url=raw,
            spool_path=str(spool.resolve()) if spool else None,
            lake_url=lake,
        )
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    from core.telemetry import configure_logging

    configure_logging("info")  # one format, and a log on a full disk drops lines instead of stalling requests
    from collector.http_protocol import TrackingHttpProtocol
    from collector.shutdown import DeadlineServer, graceful_seconds

    common = {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        "access_log": False,
        "timeout_graceful_shutdown": graceful_seconds(settings.drain_timeout),
        "server_header": False,
        # The collector resolves client addresses itself, from forwarding headers of configured trusted
        # proxies only (collector.forwarding); uvicorn's own rewrite would trust any local peer.
        "proxy_headers": False,
        # httptools, with tracking requests answered without an ASGI task each (collector.http_protocol)
        "http": TrackingHttpProtocol,
    }
    if workers > 1:
        export_config(settings)
        uvicorn.run("collector.server:app_from_env", factory=True, workers=workers, **common)  # type: ignore[arg-type]
    else:
        from collector.spool import SpoolUnavailable
        from core.errors import QueueUnavailable

        try:
            application = build_app(settings)
        except ConfigError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
        except (QueueUnavailable, SpoolUnavailable) as e:  # no spool to serve from, or the spool itself
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(1) from None
        settle_heap()
        server = DeadlineServer(uvicorn.Config(application, **common), drain_timeout=settings.drain_timeout)  # type: ignore[arg-type]
        server.run()
        if not server.started:  # as uvicorn.run: the port could not be bound, or the lifespan failed
            raise typer.Exit(3)
