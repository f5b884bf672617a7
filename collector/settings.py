"""The collector's own configuration: one frozen model built once at start-up from the project settings."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.settings import CollectorSettings

__all__ = [
    "CollectorConfig",
    "CookieConfig",
    "DoNotTrackConfig",
    "config_from_json",
    "config_from_settings",
    "config_to_json",
    "load_config",
]


@dataclass(frozen=True, slots=True)
class CookieConfig:
    """The network-user-id cookie (§2.3): name, lifetime, which domain it is scoped to, its attributes."""

    enabled: bool = True
    name: str = "sp"
    expiration_days: int = 365
    domains: tuple[str, ...] = ()
    fallback_domain: str | None = None
    secure: bool = True
    http_only: bool = True
    same_site: str = "None"
    client_cookie_name: str | None = None  # a second, script-readable cookie with the same value


@dataclass(frozen=True, slots=True)
class DoNotTrackConfig:
    """A cookie whose value (full regex match) means "do not record this request"."""

    enabled: bool = False
    name: str = ""
    value: str = ""


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    """Everything the HTTP edge needs to know; defaults are Snowplow's stream-collector defaults."""

    host: str = "0.0.0.0"  # a collector listens on every interface by design
    port: int = 8080
    raw_url: str = ""
    spool_path: str | None = None
    lake_url: str | None = None  # where size_violation bad rows go (bad/size_violation/...)
    drop_payload_size: int = 2_097_152  # bodies above this get 413 and are not read further
    max_payload_size: int = 1_048_576  # serialized records above this become size_violation bad rows
    max_record_size: int = 1_000_000  # one queue message; bigger POST batches are split
    cookie: CookieConfig = field(default_factory=CookieConfig)
    do_not_track: DoNotTrackConfig = field(default_factory=DoNotTrackConfig)
    cors_max_age: int = 3600
    redirect_enabled: bool = False
    redirect_domains: tuple[str, ...] = ()
    custom_paths: tuple[tuple[str, str], ...] = ()  # (custom path, canonical path)
    trusted_proxies: tuple[str, ...] = ()  # CIDRs or addresses whose forwarding headers are believed
    crossdomain_enabled: bool = False
    crossdomain_domains: tuple[str, ...] = ("*",)
    crossdomain_secure: bool = True
    publish_timeout: float = 1.0  # a publish slower than this goes to the spool instead
    max_batch: int = 500  # records per group publish (batcher path: thread publishers such as Pub/Sub, spool mode)
    max_in_flight: int = 1  # concurrent group publishes on the batcher path (an awaitable publisher such as the
    # SQLite queue is published to directly while healthy: its writer groups and serialises the commits itself)
    drain_batch: int = 500
    drain_interval: float = 0.5  # seconds between drain attempts while the queue is down
    # Slow clients (slowloris): each bound is the whole time allowed, not the gap between two reads,
    # so trickling one byte at a time does not extend it (collector.connection_guard).
    header_timeout: float = 10.0  # from connection (or the previous answer) to the end of the headers: else 408
    body_timeout: float = 30.0  # from the end of the headers to the end of the body: else 408
    max_connections: int = 1024  # open connections per process; beyond it a new connection is closed at once
    drain_timeout: float = 30.0  # from SIGTERM to exit at the latest, whatever is still pending (collector.shutdown)

    def __post_init__(self) -> None:
        if self.drop_payload_size <= 0 or self.max_payload_size <= 0 or self.max_record_size <= 0:
            raise ConfigError("collector: payload and record size limits must be positive")
        if min(self.header_timeout, self.body_timeout, self.drain_timeout) <= 0 or self.max_connections <= 0:
            raise ConfigError("collector: timeouts and max_connections must be positive")
        for cidr in self.trusted_proxies:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ConfigError(f"collector.trusted_proxies: {cidr!r} is not an IP address or CIDR") from None
        if self.do_not_track.enabled:
            try:
                re.compile(self.do_not_track.value)
            except re.error as e:
                raise ConfigError(f"collector.do_not_track.value: not a regular expression: {e}") from None
        for custom, canonical in self.custom_paths:
            if not custom.startswith("/") or not canonical.startswith("/"):
                raise ConfigError("collector.custom_paths: paths must start with '/'")
        if self.cookie.same_site not in ("None", "Lax", "Strict"):
            raise ConfigError("collector.cookie.same_site: accepted values are None, Lax, Strict")


def _build(cls: Any, data: Any, key: str) -> Any:
    """Recursively build a frozen dataclass from JSON-ish data, naming the bad key on error."""
    if not isinstance(data, dict):
        raise ConfigError(f"{key}: expected a table/object")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name not in known:
            raise ConfigError(f"{key}.{name}: unknown setting; known: {', '.join(sorted(known))}")
        if name == "cookie":
            kwargs[name] = _build(CookieConfig, value, f"{key}.cookie")
        elif name == "do_not_track":
            kwargs[name] = _build(DoNotTrackConfig, value, f"{key}.do_not_track")
        elif name == "custom_paths":
            items = value.items() if isinstance(value, dict) else value
            kwargs[name] = tuple((str(a), str(b)) for a, b in items)
        elif isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{key}: {e}") from None


def config_from_json(data: Any) -> CollectorConfig:
    """A CollectorConfig from a plain mapping (the `collector` table of a config file)."""
    config: CollectorConfig = _build(CollectorConfig, data, "collector")
    return config


def config_to_json(config: CollectorConfig) -> str:
    """Serialise for hand-over to worker processes (the inverse of config_from_json)."""

    def plain(value: Any) -> Any:
        if is_dataclass(value) and not isinstance(value, type):
            return {k: plain(v) for k, v in asdict(value).items()}
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    doc = plain(config)
    doc["custom_paths"] = [list(p) for p in config.custom_paths]
    return json.dumps(doc)


def config_from_settings(section: CollectorSettings, *, lake_url: str | None = None) -> CollectorConfig:
    """The collector's config from the project-wide settings (`[collector]` of eventkit.toml, EVENTKIT_* env)."""
    cookie = section.cookie
    dnt = section.do_not_track_cookie
    return CollectorConfig(
        host=section.host,
        port=section.port,
        raw_url=section.raw,
        spool_path=str(section.spool),
        lake_url=lake_url,
        drop_payload_size=section.drop_payload_size,
        max_payload_size=section.max_payload_size,
        max_record_size=section.sink_max_bytes,
        cookie=CookieConfig(
            enabled=cookie.enabled,
            name=cookie.name,
            expiration_days=cookie.expiration_days,
            domains=tuple(cookie.domains),
            fallback_domain=cookie.fallback_domain,
            secure=cookie.secure,
            http_only=cookie.http_only,
            same_site=cookie.same_site or "None",
            client_cookie_name=cookie.client_cookie_name,
        ),
        do_not_track=DoNotTrackConfig(enabled=dnt.enabled, name=dnt.name, value=dnt.value),
        cors_max_age=section.cors.max_age,
        redirect_enabled=section.redirect.enabled,
        redirect_domains=tuple(section.redirect.domains),
        custom_paths=tuple(section.paths.items()),
        trusted_proxies=tuple(section.trusted_proxies),
        crossdomain_enabled=section.crossdomain.enabled,
        crossdomain_domains=tuple(section.crossdomain.domains),
        crossdomain_secure=section.crossdomain.secure,
        header_timeout=section.header_timeout,
        body_timeout=section.body_timeout,
        max_connections=section.max_connections,
        drain_timeout=section.drain_timeout,
    )


def load_config(path: str | Path | None = None, **overrides: Any) -> CollectorConfig:
    """Project settings (defaults < eventkit.toml or `path` < EVENTKIT_* env < overrides) as a CollectorConfig.

    Overrides: `port`, `host`, `raw_url`, `spool_path`, `lake_url` (None values are ignored).
    The lake defaults to the enrich lake, so size_violation bad rows land beside enrich's bad rows.
    """
    from core.settings import load_settings

    settings = load_settings(
        Path(path) if path is not None else None,
        collector__port=overrides.get("port"),
        collector__host=overrides.get("host"),
        collector__raw=overrides.get("raw_url"),
        collector__spool=overrides.get("spool_path"),
    )
    return config_from_settings(settings.collector, lake_url=overrides.get("lake_url") or settings.enrich.lake)
