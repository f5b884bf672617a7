"""The collector's composition root: opens the queue, spool and lake a config names and builds the app (per process)."""

from __future__ import annotations

import os

from collector.app import CollectorApp, create_app
from collector.settings import CollectorConfig, config_from_json, config_to_json
from collector.spool import Spool
from core.errors import ConfigError

__all__ = ["CONFIG_ENV", "app_from_env", "build_app", "export_config", "settle_heap"]

# Worker processes started by uvicorn (--workers N) rebuild the app from this variable (deliberately
# outside the EVENTKIT_* namespace, which core.settings reserves for settings and checks strictly).
CONFIG_ENV = "COLLECTOR_WORKER_CONFIG"


def build_app(config: CollectorConfig) -> CollectorApp:
    """Open what the config names; the app owns them and closes them at shutdown."""
    from collector.deferred_queue import open_publisher_or_defer
    from core.lake import open_lake

    if not config.raw_url:
        raise ConfigError("collector.raw_url: the raw queue URL is required (--raw)")
    spool = Spool(config.spool_path) if config.spool_path else None
    # A queue that cannot be opened is a queue outage from the first second: serve from the spool.
    publisher = open_publisher_or_defer(config.raw_url, spool=spool is not None)
    lake = open_lake(config.lake_url, key="collector.lake_url") if config.lake_url else None
    return create_app(config, publisher, spool=spool, lake=lake, owns_resources=True)


def settle_heap() -> None:
    """Before serving: move everything allocated so far (modules, the app) out of the garbage collector's
    view. Full collections then scan only what requests allocate, instead of pausing every request
    for the whole heap (a process-wide choice, so only the serving entry points make it)."""
    import gc

    gc.collect()
    gc.freeze()


def export_config(config: CollectorConfig) -> None:
    """Hand the config to worker processes through the environment."""
    os.environ[CONFIG_ENV] = config_to_json(config)


def app_from_env() -> CollectorApp:
    """uvicorn factory for worker processes (`collector.server:app_from_env`)."""
    import json

    from core.settings import load_settings
    from core.telemetry import configure_logging_from

    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise ConfigError(f"{CONFIG_ENV} is not set: start workers through `eventkit collector`")
    configure_logging_from(load_settings())  # EVENTKIT_LOG_* as `eventkit collector` exported them
    application = build_app(config_from_json(json.loads(text)))
    settle_heap()
    return application
