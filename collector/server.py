"""The collector's composition root: opens the queue, spool and lake it is given and builds the app (per process)."""

from __future__ import annotations

import os

from collector.app import CollectorApp, create_app
from collector.settings import CollectorSettings, config_from_json, config_to_json
from collector.spool import Spool
from core.errors import ConfigError

__all__ = ["CONFIG_ENV", "app_from_env", "build_app", "export_config", "settle_heap"]

# Worker processes started by uvicorn (--workers N) rebuild the app from this variable (deliberately
# outside the EVENTKIT_* namespace, which core.settings reserves for settings and checks strictly).
CONFIG_ENV = "COLLECTOR_WORKER_CONFIG"


def build_app(config: CollectorSettings, *, lake: str | None) -> CollectorApp:
    """Open the queue and spool the settings name and `lake` (size_violation bad rows; None: answered 413 instead).

    The app owns them and closes them at shutdown.
    """
    from collector.deferred_queue import open_publisher_or_defer
    from core.lake import open_lake

    spool = Spool(config.spool)
    # A queue that cannot be opened is a queue outage from the first second: serve from the spool.
    publisher = open_publisher_or_defer(config.raw, spool=True)
    size_violations = open_lake(lake, key="--lake") if lake else None
    return create_app(config, publisher, spool=spool, lake=size_violations, owns_resources=True)


def settle_heap() -> None:
    """Before serving: move everything allocated so far (modules, the app) out of the garbage collector's
    view. Full collections then scan only what requests allocate, instead of pausing every request
    for the whole heap (a process-wide choice, so only the serving entry points make it)."""
    import gc

    gc.collect()
    gc.freeze()


def export_config(config: CollectorSettings, *, lake: str | None) -> None:
    """Hand the settings and the size_violation lake to worker processes through the environment."""
    os.environ[CONFIG_ENV] = config_to_json(config, lake=lake)


def app_from_env() -> CollectorApp:
    """uvicorn factory for worker processes (`collector.server:app_from_env`)."""
    from core.settings import load_settings
    from core.telemetry import configure_logging_from

    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise ConfigError(f"{CONFIG_ENV} is not set: start workers through `eventkit collector`")
    configure_logging_from(load_settings())  # EVENTKIT_LOG_* as `eventkit collector` exported them
    config, lake = config_from_json(text)
    application = build_app(config, lake=lake)
    settle_heap()
    return application
