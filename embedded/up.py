"""`eventkit up`: collector, enrich, registry look-ups and the Snowplow Micro API in one process, no cloud account.

Data directory layout (everything survives a restart):

    DATA/queue.db       the raw queue (SQLite WAL) between the collector and enrich
    DATA/spool.db       the collector's spool for when the queue is unavailable
    DATA/lake/          the lake: good/ (Parquet), good-tsv/ (with --tsv), bad/<type>/ (JSON lines)
    DATA/micro.db       the Micro store (bounded by --max-events)
    DATA/warehouse.duckdb   the warehouse, loaded continuously by the loader (a loop in `UpStack.background`)
    DATA/eventkit.lock, DATA/warehouse.duckdb.lock   held while `up` runs: a second `up` (or loader) is refused

One uvicorn server answers the tracker routes (collector), `/micro/...`, `/health`, `/metrics`
(collector), `/metrics/enrich` and, when the registry is a local folder, the read-only
Iglu-Server-compatible registry API under `/api/...` (e.g. `/api/schemas/com.acme/checkout/jsonschema/1-0-0`),
and the web console at `/` (embedded/console).
`/micro/...` and `/api/...` are dispatched before the collector sees the request:
the collector treats any `/<vendor>/<version>` path as a tracker route (webhooks), `/micro/all`
included. The enrich worker runs in a thread with embedded file-cut
defaults (files at most 1 s old) and writes every committed outcome to the lake and the Micro
store, so `/micro/good|bad` agree with the lake. Schemas are read live: the resolver caches for 2 s
(unless `--cache-ttl`, `registry.cache_ttl` or a resolver config's `cacheTtl` says otherwise), so a
schema file added to the registry folder is used without a restart. The registry is recorded in
DATA/eventkit.json, so `bad`, `replay`, `load` and `schema check --data-dir DATA` use the same one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from fastapi.responses import Response

from core.lake import open_lake
from core.process_lock import ProcessLock, hold_lock
from core.queue import open_publisher, open_subscriber
from embedded.console import ConsoleSources, create_console
from embedded.console.app import is_console_path
from embedded.console.sources import SELF
from embedded.micro import MicroListener, bad_record, micro_router
from embedded.micro_store import MicroStore
from enrich.attempts import AttemptLog
from enrich.cli import attempt_log_path, build_enrich
from enrich.metrics import EnrichMetrics
from enrich.outputs.rolling import CutPolicy
from enrich.worker import EnrichWorker, WorkerConfig
from registry.cache_ttl import NOT_SET, Ttl
from registry.keys import KeyRing
from registry.resolver import with_bundled_schemas
from registry.store import SchemaStore, open_store

__all__ = ["UpApp", "UpOptions", "UpStack", "build_up"]

LIVE_SCHEMA_TTL_S = 2.0
log = structlog.get_logger("embedded.up")


@dataclass(frozen=True, slots=True)
class UpOptions:
    """What `eventkit up` is started with."""

    data_dir: Path
    port: int = 9090
    host: str = "127.0.0.1"
    registry: str = "./schemas"
    max_events: int = 100_000
    tsv: bool = False
    enrichments: str | None = None
    policy: CutPolicy = field(default_factory=CutPolicy.embedded)
    cache_ttl: Ttl = NOT_SET  # NOT_SET: a resolver config's cacheTtl, else LIVE_SCHEMA_TTL_S
    console_auth: str | None = None  # the console's token or user:password (embedded/console/security.py)


class UpApp:
    """The ASGI entry of `eventkit up`: `/micro/...` and `/metrics/enrich` to the Micro app, `/api/...` to the
    registry API, `/`, `/console/...` and `/favicon.ico` to the console, the rest (and the lifespan, which starts
    the collector's publisher) to the collector."""

    def __init__(self, collector: Any, micro: FastAPI, registry_api: Any | None = None, console: Any = None) -> None:
        self.collector = collector
        self.micro = micro
        self.registry_api = registry_api
        self.console = console  # `/`, `/console/...` and `/favicon.ico` (embedded/console)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/micro/") or path in {"/micro", "/metrics/enrich"}:
                await self.micro(scope, receive, send)
                return
            if self.registry_api is not None and path.startswith("/api/"):
                await self.registry_api(scope, receive, send)
                return
            if self.console is not None and is_console_path(path):
                await self.console(scope, receive, send)
                return
        await self.collector(scope, receive, send)


@dataclass
class UpStack:
    """The assembled embedded platform: an ASGI app to serve and the enrich worker to run beside it."""

    options: UpOptions
    app: UpApp
    worker: EnrichWorker
    store: MicroStore
    metrics: EnrichMetrics
    # Extra loops run in threads beside enrich until stop (the loader's continuous loading hooks in here).
    background: list[Callable[[threading.Event], None]] = field(default_factory=list)
    # The data folder's and the warehouse's locks, held until stop (the OS drops them on any exit).
    locks: list[ProcessLock] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    schema_ttl: float | None = LIVE_SCHEMA_TTL_S  # how long the resolver caches a schema or its absence

    @property
    def lake_path(self) -> Path:
        return self.options.data_dir / "lake"

    def start_background(self) -> None:
        """Start the enrich worker (and any extra loops) in daemon threads."""
        t = threading.Thread(target=self._supervise, name="enrich-worker", daemon=True)
        t.start()
        self._threads.append(t)
        for loop in self.background:
            lt = threading.Thread(target=loop, args=(self.worker.stop,), name=getattr(loop, "__name__", "loop"))
            lt.daemon = True
            lt.start()
            self._threads.append(lt)

    def _supervise(self) -> None:
        """Run the worker; if it dies of an unexpected error, log it and start it again (its un-acked
        messages come back after their lease), so the collector never keeps accepting into a dead pipeline."""
        while not self.worker.stop.is_set():
            try:
                self.worker.run()
            except Exception:
                log.exception("enrich worker crashed; restarting in 1 s")
                self.worker.stop.wait(1.0)

    def stop_background(self, timeout: float = 60.0) -> None:
        """Stop pulling, commit and ack what is buffered, then close the subscriber and the store."""
        self.worker.stop.set()
        for t in self._threads:
            t.join(timeout)
        self.worker.subscriber.close()
        self.store.close()
        for lock in self.locks:
            lock.release()


def build_up(options: UpOptions) -> UpStack:
    """Wire the embedded platform under `options.data_dir` (created if missing)."""
    from collector.app import create_app
    from collector.settings import load_collector
    from collector.spool import Spool
    from core.recorded_registry import record_registry

    data = options.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    # Refuse a second `up` on this folder (and any loader on its warehouse) before touching anything.
    from loader.load import hold_loader_lock

    warehouse_url = f"duckdb://{(data / 'warehouse.duckdb').as_posix()}"
    locks = [hold_lock(data / "eventkit.lock", str(data), "up")]
    try:
        locks.append(hold_loader_lock(warehouse_url, str(data), "up"))
    except BaseException:
        locks[0].release()
        raise
    queue_url = f"sqlite://{(data / 'queue.db').as_posix()}"
    lake_url = (data / "lake").as_posix()
    enrich, resolver = build_enrich(
        options.registry, options.enrichments, cache_ttl=options.cache_ttl, default_ttl=LIVE_SCHEMA_TTL_S
    )
    record_registry(data, options.registry)
    store = MicroStore(data / "micro.db", max_events=options.max_events)
    lake = open_lake(lake_url)
    config = load_collector(
        None,
        host=options.host,
        port=options.port,
        raw=queue_url,
        spool=str(data / "spool.db"),
    )
    collector = create_app(
        config,
        open_publisher(queue_url),
        spool=Spool(data / "spool.db"),
        lake=lake,
        owns_resources=True,
        size_violations_shown=lambda rows: store.add([bad_record(orjson.loads(row), None) for row in rows]),
    )
    micro = FastAPI(title="eventkit micro", docs_url=None, redoc_url=None, openapi_url=None)
    schemas = _registry_store(options.registry)
    # /micro/iglu reads under the registry API's rule and keys: a private schema needs a key for its vendor.
    micro.include_router(micro_router(store, resolver, None if schemas is None else KeyRing(schemas, None)))
    metrics = EnrichMetrics()

    @micro.get("/metrics/enrich")
    def enrich_metrics() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    worker = EnrichWorker(
        open_subscriber(queue_url, lease_seconds=60.0),
        lake,
        enrich,
        WorkerConfig(policy=options.policy, tsv=options.tsv, pull_timeout_s=0.25),
        listeners=[MicroListener(store)],
        metrics=metrics,
        attempts=AttemptLog(attempt_log_path(queue_url)),
    )
    console = create_console(
        ConsoleSources(store, lake_url, options.registry, warehouse_url, queue_url, metrics_base=SELF),
        auth=options.console_auth,
    )
    stack = UpStack(options, UpApp(collector, micro, _registry_api(schemas), console), worker, store, metrics)
    stack.locks = locks
    stack.schema_ttl = resolver.cache_ttl
    # Loader hook (owned by loader/): load good files into DATA/warehouse.duckdb continuously.
    from loader.load import continuous_loader

    stack.background.append(continuous_loader(lake_url, warehouse_url, with_bundled_schemas(options.registry)))
    return stack


def _registry_store(registry: str) -> SchemaStore | None:
    """The schema store of the first registry location when it is a local folder, else None."""
    first = registry.split(",", maxsplit=1)[0].strip()
    if "://" in first or not Path(first).expanduser().is_dir():
        return None
    return open_store(first)


def _registry_api(schemas: SchemaStore | None) -> Any | None:
    """The read-only registry API over the registry's store when it is a local folder, else None."""
    if schemas is None:
        return None
    from registry.api import create_app as create_registry_app

    return create_registry_app(schemas, master_key=None)
