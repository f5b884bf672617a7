"""`eventkit console`: the console on its own, for a data folder or for a team's lake, warehouse and registry.

    eventkit console --data-dir ./data                       # what `eventkit up --data-dir ./data` wrote
    eventkit console --lake gs://acme-lake --registry gs://acme-schemas [--warehouse duckdb:///w.duckdb]
                     [--raw pubsub://projects/p/topics/raw] [--metrics http://collector:8080]

With `--data-dir` the Micro store (live events), lake, warehouse, queue and the registry `up` recorded
are read from the folder; explicit URLs win. Without a Micro store the events page lists a DuckDB
`--warehouse`'s loaded events (embedded/console/warehouse_events.py), or says there are none to
show. A replay publishes to `--raw` (the data folder's queue by default); without one the recovery
page previews only. Listening beyond 127.0.0.1 needs `--console-auth TOKEN|USER:PASSWORD`.
"""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["app", "auth_problem"]

app = typer.Typer(add_completion=False)


def auth_problem(host: str, auth: str | None) -> str | None:
    """Why the console may not start with this host and auth (None when it may)."""
    from embedded.console.security import is_loopback

    if auth is not None and not auth.strip(":"):
        return "--console-auth: empty; give a token or user:password"
    if auth is None and not is_loopback(host):
        return (
            f"--host {host} exposes the console beyond this machine: pass --console-auth TOKEN (or user:password), "
            "or listen on 127.0.0.1"
        )
    return None


@app.command()
def console(  # noqa: PLR0917 - Typer maps each command-line option to one parameter
    data_dir: str | None = typer.Option(None, "--data-dir", help="an `eventkit up` data folder"),
    lake: str | None = typer.Option(None, "--lake", help="lake URL (folder or gs://bucket/prefix)"),
    warehouse: str | None = typer.Option(None, "--warehouse", help="warehouse URL (duckdb:///path)"),
    registry: str | None = typer.Option(None, "--registry", help="schema folder or URL (gs://, http://)"),
    raw: str | None = typer.Option(None, "--raw", help="raw queue URL a replay publishes to (none: preview only)"),
    metrics: str | None = typer.Option(None, "--metrics", help="base URL serving /metrics and /metrics/enrich"),
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on"),
    port: int = typer.Option(9091, "--port", min=0, max=65535, help="HTTP port"),
    console_auth: str | None = typer.Option(
        None, "--console-auth", help="token or user:password; required when --host is not a loopback address"
    ),
) -> None:
    """Serve the console (events, bad rows, schemas, recovery, health) for a data folder or a lake + registry."""
    from core.errors import ConfigError
    from core.layout import check_data_dir, readable_lake
    from core.listening import bind_listening_socket
    from core.recorded_registry import recorded_registry
    from embedded.console import ConsoleSources, create_console
    from embedded.micro_store import MicroStore

    def fail(message: str) -> typer.Exit:
        typer.echo(f"error: {message}", err=True)
        return typer.Exit(2)

    problem = auth_problem(host, console_auth)
    if problem is not None:
        raise fail(problem)
    if data_dir is None and lake is None:
        raise fail("say what to show: --data-dir DIR, or --lake URL (with --registry, and --warehouse if any)")
    try:
        folder = check_data_dir(Path(data_dir)).resolve() if data_dir else None
        if lake is not None:
            lake_url = readable_lake(lake, "--lake")
        else:
            assert folder is not None  # one of the two was given
            lake_url = readable_lake(str(folder / "lake"), "--data-dir", folder)
        store = None
        if folder is not None and (folder / "micro.db").exists():
            store = MicroStore(folder / "micro.db")
        registry_location = registry or (recorded_registry(folder) if folder is not None else None)
        if registry_location is None:
            raise ConfigError("--registry: needed (no data folder recorded one)")
        sources = ConsoleSources(
            store=store,
            lake_url=lake_url,
            registry=registry_location,
            warehouse_url=warehouse or (f"duckdb://{(folder / 'warehouse.duckdb').as_posix()}" if folder else None),
            raw_url=raw or (f"sqlite://{(folder / 'queue.db').as_posix()}" if folder else None),
            metrics_base=metrics.rstrip("/") if metrics else None,
        )
        sources.lake()  # a gs:// lake whose bucket is missing is the one error, now
        sock = bind_listening_socket(host, port)
    except ConfigError as e:
        raise fail(str(e)) from None
    import uvicorn

    typer.echo(f"eventkit console: http://{host}:{sock.getsockname()[1]}/  (lake {lake_url})", err=True)
    config = uvicorn.Config(
        create_console(sources, auth=console_auth), log_level="warning", log_config=None, lifespan="off"
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        if store is not None:
            store.close()
