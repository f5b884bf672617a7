"""`eventkit enrich`: N worker processes on one raw subscription, writing good/bad outputs to the lake.

    eventkit enrich --raw pubsub://PROJECT/raw?subscription=enrich --lake gs://bucket/lake \
        --registry ./schemas --workers 4 [--tsv] [--enrichments ./enrichments] [--metrics-port 9100] \
        [--validation-budget-ms 200] [--max-delivery-attempts 3]

Each worker process is the composition root of its own pipeline (resolver, validator, enrichments,
subscriber, lake). SIGTERM / SIGINT make every worker stop pulling, commit what it holds and ack it.
With `--metrics-port P`, worker i serves Prometheus metrics on port P+i.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer

from registry.cache_ttl import NOT_SET, Ttl

# Type-only and function-level imports here are for start-up speed, not cycles: the CLI root imports
# this module on every `eventkit` run, so the pipeline is imported only when `enrich` actually runs.
if TYPE_CHECKING:
    from enrich.enrichments.base import Enrichment
    from enrich.metrics import EnrichMetrics
    from enrich.outcome import Outcome
    from enrich.worker import CommitListener, EnrichFn, EnrichWorker
    from registry.resolver import Resolver

__all__ = [
    "EnrichOptions",
    "app",
    "build_enrich",
    "build_worker",
    "prepare_shared_files",
    "run_until_signalled",
    "run_workers",
]

app = typer.Typer(add_completion=False)


@dataclass(frozen=True, slots=True)
class EnrichOptions:
    """Everything a worker process needs (picklable: handed to spawned processes)."""

    raw: str
    lake: str
    registry: str
    tsv: bool = False
    enrichments: str | None = None
    batch_size: int = 500
    max_events: int = 50_000
    max_bytes: int = 128 * 1024 * 1024
    max_age_s: float = 30.0
    lease_seconds: float = 120.0
    cache_ttl: Ttl = NOT_SET  # None: never expire; NOT_SET: a resolver config's cacheTtl, else 600 s
    metrics_port: int | None = None
    log_level: str = "info"
    log_json: bool | None = None
    validation_budget_ms: int = 200
    max_attempts: int = 3
    pull_timeout_s: float = 0.5


def attempt_log_path(raw: str) -> Path:
    """Where the workers of a raw queue count failed attempts: beside a SQLite queue, else a local file.

    A Pub/Sub subscription's workers on one machine share the file; on several machines each counts its own.
    """
    import hashlib
    import tempfile

    from core.locations import parse_queue_url

    location = parse_queue_url(raw)
    if location.kind == "sqlite" and location.path is not None:
        return location.path.with_name(f"{location.path.name}.{location.topic}.attempts.db")
    digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"eventkit-attempts-{digest}.db"


def build_enrich(
    registry: str,
    enrichments: str | None,
    *,
    cache_ttl: Ttl = NOT_SET,
    default_ttl: float | None = 600.0,
    validation_budget_ms: int = 200,
) -> tuple[EnrichFn, Resolver]:
    """The enrich function (raw bytes, etl ms) -> outcomes over a resolver of `registry`, and that resolver.

    The resolver caches hits and not-found for `cache_ttl` seconds when given (None: never expire),
    else for a resolver-config file's `cacheTtl`, else for `default_ttl`.
    """
    from core.badrows.processor import eventkit_processor
    from enrich.environment import Environment, FingerprintConfig
    from enrich.pipeline import enrich_record
    from registry.resolver import Resolver, with_bundled_schemas
    from registry.validation import Validator

    resolver = Resolver.from_locations(
        with_bundled_schemas(registry), cache_size=500, cache_ttl=cache_ttl, default_ttl=default_ttl
    )
    chain: tuple[Enrichment, ...] = ()
    fingerprint: FingerprintConfig | None = FingerprintConfig()
    if enrichments is not None:
        from enrich.enrichments.registry import load_enrichment_setup

        configured, fingerprint = load_enrichment_setup(Path(enrichments), resolver)
        chain = tuple(configured)
    env = Environment(
        Validator(resolver),
        processor=eventkit_processor("enrich"),
        enrichments=chain,
        fingerprint=fingerprint,
        validation_budget_ms=validation_budget_ms,
    )

    def enrich(raw: bytes, etl_ms: int) -> list[Outcome]:
        return enrich_record(raw, env, etl_tstamp=etl_ms)

    return enrich, resolver


def build_worker(
    options: EnrichOptions, *, metrics: EnrichMetrics | None = None, listeners: Sequence[CommitListener] = ()
) -> EnrichWorker:
    """A worker wired from options: its own subscriber, lake, pipeline and rolling files (and `listeners`)."""
    from core.lake import open_lake
    from core.queue import open_subscriber
    from enrich.attempts import AttemptLog
    from enrich.outputs.rolling import CutPolicy
    from enrich.worker import EnrichWorker, WorkerConfig

    enrich, _ = build_enrich(
        options.registry,
        options.enrichments,
        cache_ttl=options.cache_ttl,
        validation_budget_ms=options.validation_budget_ms,
    )
    policy = CutPolicy(options.max_events, options.max_bytes, options.max_age_s)
    config = WorkerConfig(
        batch_size=options.batch_size,
        pull_timeout_s=options.pull_timeout_s,
        policy=policy,
        tsv=options.tsv,
        max_attempts=options.max_attempts,
    )
    subscriber = open_subscriber(options.raw, lease_seconds=options.lease_seconds)
    lake = open_lake(options.lake, key="--lake")
    attempts = AttemptLog(attempt_log_path(options.raw))
    return EnrichWorker(subscriber, lake, enrich, config, listeners=listeners, metrics=metrics, attempts=attempts)


def _worker_main(options: EnrichOptions, index: int) -> None:
    """Entry point of one worker process: run until SIGTERM/SIGINT, then flush and ack."""
    from core.memory_tuning import tune_memory
    from core.telemetry import configure_logging
    from enrich.metrics import EnrichMetrics

    tune_memory()

    configure_logging(options.log_level, options.log_json)  # a spawned process starts unconfigured
    metrics = EnrichMetrics()
    if options.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(options.metrics_port + index, registry=metrics.registry)
    run_until_signalled(build_worker(options, metrics=metrics))


def run_until_signalled(worker: EnrichWorker) -> None:
    """Run `worker` in this (worker) process until SIGTERM/SIGINT, then let it commit and ack what it holds."""
    from core.supervise import child_ready

    stop = worker.stop

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    child_ready()
    try:
        worker.run()
    finally:
        worker.subscriber.close()
        # Everything is committed and acked: a late second SIGTERM (the parent's, after the group's)
        # must not kill the interpreter while it shuts down and turn a clean stop into exit code -15.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def prepare_shared_files(options: EnrichOptions) -> None:
    """Create the files the workers share (the attempt log) before they start, rather than all at once."""
    from enrich.attempts import AttemptLog

    AttemptLog(attempt_log_path(options.raw)).close()


def run_workers(options: EnrichOptions, workers: int) -> int:
    """Run `workers` processes (1 = in this process) until SIGTERM/SIGINT; returns the worst exit code.

    A worker process that dies while we are not stopping (killed, crashed) is started again after a
    second (core.supervise): its un-acked messages come back when their lease expires, so nothing is lost.
    """
    if workers <= 1:
        _worker_main(options, 0)
        return 0
    from core.supervise import ChildSpec, Supervisor

    stopping = threading.Event()

    def forward(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    prepare_shared_files(options)
    specs = [ChildSpec(f"enrich-{i}", _worker_main, (options, i)) for i in range(workers)]
    return Supervisor(specs, label="eventkit enrich").run(stopping)


@app.command()
def enrich(  # noqa: PLR0917 - Typer maps each command-line option to one parameter
    raw: str | None = typer.Option(
        None, "--raw", help="raw queue URL: sqlite:///path/queue.db or pubsub://PROJECT/TOPIC"
    ),
    lake: str | None = typer.Option(None, "--lake", help="lake URL: a folder, file:///path or gs://BUCKET/PREFIX"),
    registry: str | None = typer.Option(
        None, "--registry", help="schema registry: folder(s) or http(s):// / gs:// URLs"
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help="worker processes on the subscription"),
    tsv: bool | None = typer.Option(None, "--tsv/--no-tsv", help="also write Snowplow enriched TSV under good-tsv/"),
    enrichments: str | None = typer.Option(None, "--enrichments", help="folder of enrichment configs (JSON)"),
    max_age: float | None = typer.Option(None, "--max-age", min=0.05, help="seconds before an open file is cut"),
    max_events: int | None = typer.Option(None, "--max-events", min=1, help="events per lake file at most"),
    batch_size: int = typer.Option(500, "--batch-size", min=1, help="messages pulled at a time per worker"),
    lease_seconds: float = typer.Option(
        120.0, "--lease-seconds", min=1.0, help="how long a pulled message stays leased before redelivery"
    ),
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="worker i serves /metrics on PORT+i"),
    cache_ttl: float | None = typer.Option(
        None,
        "--cache-ttl",
        min=0.0,
        help="seconds a schema, or its absence, is cached (default: registry.cache_ttl, a resolver config's "
        "cacheTtl, else 600)",
    ),
    validation_budget_ms: int | None = typer.Option(
        None, "--validation-budget-ms", min=0, help="per-event validation time; over it a bad row (0: no budget)"
    ),
    max_delivery_attempts: int | None = typer.Option(
        None, "--max-delivery-attempts", min=1, help="failed attempts before a raw record becomes a bad row"
    ),
    config: str | None = typer.Option(None, "--config", help="eventkit.toml (default: ./eventkit.toml if present)"),
    create_bucket: bool = typer.Option(
        False, "--create-bucket", help="create the gs:// lake's bucket if it does not exist (as topics are)"
    ),
) -> None:
    """Run enrich workers: raw queue in, good Parquet (and TSV) and bad rows out to the lake.

    Options left out come from the enrich section of the settings (eventkit.toml, EVENTKIT_ENRICH__* variables).
    """
    from core.errors import ConfigError
    from core.lake import open_lake
    from core.settings import load_settings
    from core.telemetry import configure_logging_from
    from registry.resolver import configured_cache_ttl

    try:
        everything = load_settings(
            None if config is None else Path(config),
            enrich__raw=raw,
            enrich__lake=lake,
            enrich__registry=registry,
            enrich__workers=workers,
            enrich__write_tsv=tsv,
            enrich__enrichments=enrichments,
            enrich__file_cut__max_events=max_events,
            enrich__file_cut__max_age_seconds=max_age,
            enrich__validation_budget_ms=validation_budget_ms,
            enrich__max_delivery_attempts=max_delivery_attempts,
        )
        settings = everything.enrich
        log_level = configure_logging_from(everything)
        ttl = configured_cache_ttl(cache_ttl, everything.registry)
        open_lake(settings.lake, key="enrich.lake", create_bucket_if_missing=create_bucket)
        # Fail here, once, on a bad registry or enrichment config (not in a restart loop of workers).
        _, resolver = build_enrich(
            settings.registry, None if settings.enrichments is None else str(settings.enrichments), cache_ttl=ttl
        )
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    options = EnrichOptions(
        raw=settings.raw,
        lake=settings.lake,
        registry=settings.registry,
        tsv=settings.write_tsv,
        enrichments=None if settings.enrichments is None else str(settings.enrichments),
        max_events=settings.file_cut.max_events,
        max_bytes=settings.file_cut.max_bytes,
        max_age_s=settings.file_cut.max_age_seconds,
        lease_seconds=lease_seconds,
        batch_size=batch_size,
        metrics_port=metrics_port,
        cache_ttl=ttl,
        log_level=log_level,
        log_json=everything.log_json,
        validation_budget_ms=settings.validation_budget_ms,
        max_attempts=settings.max_delivery_attempts,
    )
    cached = "never expires" if resolver.cache_ttl is None else f"cached {resolver.cache_ttl:g} s"
    typer.echo(
        f"eventkit enrich: {settings.workers} worker(s) {options.raw} -> {options.lake} "
        f"(registry {options.registry}, {cached})",
        err=True,
    )
    sys.exit(run_workers(options, settings.workers))
