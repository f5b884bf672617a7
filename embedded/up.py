"""`eventkit up`: collector, enrich, the continuous loader, registry look-ups and the Snowplow Micro API on one
machine, no cloud account: one server process and its child processes over one data folder.

Data directory layout (everything survives a restart):

    DATA/queue.db       the raw queue (SQLite WAL) between the collector and enrich
    DATA/spool.db       the collector's spool for when the queue is unavailable
    DATA/lake/          the lake: good/ (Parquet), good-tsv/ (with --tsv), bad/<type>/ (JSON lines)
    DATA/micro.db       the Micro store (bounded by --max-events), written by every enrich worker
    DATA/metrics/       each enrich worker's metrics snapshot, added up for /metrics/enrich
    DATA/warehouse.duckdb   the warehouse, loaded continuously by the loader process
    DATA/eventkit.lock, DATA/warehouse.duckdb.lock   held while `up` or any of its processes runs:
                        a second `up` (or loader) is refused

Process layout (docs/DESIGN.md, "Process layout of `eventkit up`"): the server process runs one
uvicorn server answering the tracker routes (collector), `/micro/...`, `/health`, `/metrics`
(collector), `/metrics/enrich` (the sum over the workers) and, when the registry is a local folder,
the read-only Iglu-Server-compatible registry API under `/api/...` (e.g.
`/api/schemas/com.acme/checkout/jsonschema/1-0-0`), and the web console at `/` (embedded/console).
`/micro/...`, `/api/...` and the console's paths are dispatched before the collector sees the
request: the collector treats any `/<vendor>/<version>` path as a tracker route (webhooks),
`/micro/all` included. Beside it, supervised child processes
(core.supervise, embedded/up_children.py): `--workers` enrich workers with embedded file-cut
defaults (files at most 1 s old), each writing every committed outcome to the lake and the Micro
store, so `/micro/good|bad` agree with the lake; and one continuous loader. A child that dies is
restarted; children stop with the server and die with it. Schemas are read live: the resolver caches
for 2 s (unless `--cache-ttl`, `registry.cache_ttl` or a resolver config's `cacheTtl` says otherwise),
so a schema file added to the registry folder is used without a restart. The registry is recorded
in DATA/eventkit.json, so `bad`, `replay`, `load` and `schema check --data-dir DATA` use the same one.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from fastapi.responses import Response

from core.lake import open_lake
from core.process_lock import ProcessLock, hold_lock
from core.queue import open_publisher
from core.supervise import ChildSpec, Supervisor
from embedded.console import ConsoleSources, create_console
from embedded.console.app import is_console_path
from embedded.console.sources import SELF
from embedded.micro import bad_record, micro_router
from embedded.micro_store import MicroStore
from embedded.up_children import UpLoaderOptions, UpWorkerOptions, enrich_child, loader_child
from enrich.cli import EnrichOptions, build_enrich, prepare_shared_files
from enrich.metrics_snapshots import clear_snapshots, render_sum
from enrich.outputs.rolling import CutPolicy
from registry.cache_ttl import NOT_SET, Ttl
from registry.keys import KeyRing
from registry.resolver import with_bundled_schemas
from registry.store import SchemaStore, open_store

__all__ = ["UpApp", "UpOptions", "UpStack", "build_up", "default_workers"]

LIVE_SCHEMA_TTL_S = 2.0
MAX_DEFAULT_WORKERS = 4
log = structlog.get_logger("embedded.up")


def default_workers() -> int:
    """Enrich workers when `--workers` is not given: one per core this process may run on, at most four.

    Enrich is the costly stage (with the Micro store, ~4,000 events/s per worker on the source build);
    the server process (collector) and the loader take their share of the cores between the workers'
    pulls, and an idle worker only polls the queue. Past four workers the one collector process
    (~10,000-14,000 events/s of 50-event POSTs) is the limit, and each worker costs ~100 MB more.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


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
    workers: int = field(default_factory=default_workers)
    lease_seconds: float = 60.0  # how long a pulled raw message stays leased to a worker before redelivery
    log_level: str = "warning"  # for the child processes, which start with logging unconfigured
    log_json: bool | None = None
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
    """The assembled embedded platform: an ASGI app to serve, and the child processes to run beside it."""

    options: UpOptions
    app: UpApp
    store: MicroStore  # the server process's connection: /micro reads and reset, the collector's size violations
    supervisor: Supervisor  # enrich workers and the loader
    # The data folder's and the warehouse's locks, held until stop (the OS drops them on any exit).
    locks: list[ProcessLock] = field(default_factory=list)
    schema_ttl: float | None = LIVE_SCHEMA_TTL_S  # how long the resolver caches a schema or its absence
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _exit_code: int = 0

    @property
    def lake_path(self) -> Path:
        return self.options.data_dir / "lake"

    def start(self) -> None:
        """Start the child processes; a thread of this process supervises them until `stop`."""
        self._thread = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        self._exit_code = self.supervisor.run(self._stopping)

    def stop(self, timeout: float = 60.0) -> int:
        """Stop the children (each commits and acks what it holds), close the store, release the locks; the
        worst exit code of a child (0: every one stopped cleanly)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.store.close()
        for lock in self.locks:
            lock.release()
        return self._exit_code


def build_up(options: UpOptions) -> UpStack:
    """Wire the embedded platform under `options.data_dir` (created if missing); `start()` runs its children."""
    from collector.app import create_app
    from collector.settings import load_collector
    from collector.spool import Spool
    from core.recorded_registry import record_registry

    data = options.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    # Refuse a second `up` on this folder (and any loader on its warehouse) before touching anything.
    from loader.destinations import hold_loader_lock

    warehouse_url = f"duckdb://{(data / 'warehouse.duckdb').as_posix()}"
    locks = [hold_lock(data / "eventkit.lock", str(data), "up")]
    try:
        locks.append(hold_loader_lock(warehouse_url, str(data), "up"))
    except BaseException:
        locks[0].release()
        raise
    queue_url = f"sqlite://{(data / 'queue.db').as_posix()}"
    lake_url = (data / "lake").as_posix()
    _, resolver = build_enrich(
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
    metrics_dir = data / "metrics"
    clear_snapshots(metrics_dir)

    @micro.get("/metrics/enrich")
    def enrich_metrics() -> Response:
        return Response(render_sum(metrics_dir), media_type="text/plain; version=0.0.4; charset=utf-8")

    # The children hold the locks with us (shared), so the folder is in use until the last process exits.
    for lock in locks:
        lock.share()
    data_lock = ((locks[0].path, str(data)),)
    enrich_options = EnrichOptions(
        raw=queue_url,
        lake=lake_url,
        registry=options.registry,
        tsv=options.tsv,
        enrichments=options.enrichments,
        max_events=options.policy.max_events,
        max_bytes=options.policy.max_bytes,
        max_age_s=options.policy.max_age_s,
        lease_seconds=options.lease_seconds,
        cache_ttl=resolver.cache_ttl,  # as resolved here (flag, setting, resolver config, else live)
        log_level=options.log_level,
        log_json=options.log_json,
        # Small pulls: a worker cuts due files and sees a stop only between pulls, and a tracker POST may hold
        # 50+ events (25 such messages are about a third of a second of enrich work). A pull's events stay in
        # memory until their file is committed, and at the end of a burst one worker's last pull is the tail
        # the other waits beside: 100 messages made both larger (up's throughput swung 0.91-1.19x by round).
        batch_size=25,
        pull_timeout_s=0.25,
    )
    worker_options = UpWorkerOptions(enrich_options, data / "micro.db", options.max_events, metrics_dir, data_lock)
    loader_options = UpLoaderOptions(
        lake_url,
        warehouse_url,
        with_bundled_schemas(options.registry),
        ((locks[0].path, str(data)), (locks[1].path, str(data))),
        options.log_level,
        options.log_json,
    )
    prepare_shared_files(enrich_options)
    specs = [ChildSpec(f"enrich-{i}", enrich_child, (worker_options, i)) for i in range(options.workers)]
    specs.append(ChildSpec("loader", loader_child, (loader_options,)))
    supervisor = Supervisor(specs, label="eventkit up", stop_timeout_s=config.drain_timeout)
    console = create_console(
        ConsoleSources(store, lake_url, options.registry, warehouse_url, queue_url, metrics_base=SELF),
        auth=options.console_auth,
    )
    stack = UpStack(options, UpApp(collector, micro, _registry_api(schemas), console), store, supervisor)
    stack.locks = locks
    stack.schema_ttl = resolver.cache_ttl
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
