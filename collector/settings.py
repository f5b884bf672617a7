"""The collector's settings: one model: `[collector]` / `EVENTKIT_COLLECTOR__*`, read by the running edge.

`CollectorSettings` is both the section `core.settings.Settings` composes and what the HTTP edge runs
on: the names a user writes (`sink_max_bytes`, `paths`, `do_not_track_cookie`, `cors.max_age`, ...) are
the names the code reads. What is not a setting stays out of it: the lake for size_violation bad rows
is the enrich lake or `eventkit collector --lake`, and the acknowledger's internal bounds are
`collector.durability.DurabilityTiming`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import ConfigError
from core.locations import parse_queue_url
from core.section import DEFAULT_DATA_DIR, Section, check_location, queue_url

__all__ = [
    "STANDARD_PATHS",
    "CollectorSettings",
    "CookieSettings",
    "CorsSettings",
    "CrossDomainSettings",
    "DoNotTrackCookieSettings",
    "RedirectSettings",
    "config_from_json",
    "config_to_json",
    "load_collector",
]

STANDARD_PATHS = ("/com.snowplowanalytics.snowplow/tp2", "/com.snowplowanalytics.iglu/v1", "/r/tp2")


class _Frozen(Section):
    # Built once at start-up and read on every request: nothing may change it while serving.
    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)


class CookieSettings(_Frozen):
    """The network_userid cookie (Snowplow `cookie { ... }`)."""

    enabled: bool = True
    name: str = "sp"
    expiration_days: int = Field(default=365, ge=0)
    domains: list[str] = Field(default_factory=list, description="first one matching the Origin host is used")
    fallback_domain: str | None = None
    secure: bool = True
    http_only: bool = True
    same_site: Literal["None", "Lax", "Strict"] | None = "None"
    client_cookie_name: str | None = Field(default=None, description="second cookie, same value, not HttpOnly")


class DoNotTrackCookieSettings(_Frozen):
    """Requests carrying cookie `name` whose value matches regex `value` (whole) are answered but not stored."""

    enabled: bool = False
    name: str = ""
    value: str = ""

    @field_validator("value")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as e:
            raise ValueError(f"collector.do_not_track_cookie.value: {value!r} is not a regular expression: {e}") from e
        return value


class CorsSettings(_Frozen):
    """CORS preflight answers."""

    max_age: int = Field(default=3600, ge=0, description="Access-Control-Max-Age, seconds")


class RedirectSettings(_Frozen):
    """The `/r/tp2` redirect route (Snowplow `enableDefaultRedirect`, `redirectDomains`)."""

    enabled: bool = False
    domains: list[str] = Field(default_factory=list, description="allowed target hosts; empty = any")


class CrossDomainSettings(_Frozen):
    """`/crossdomain.xml` (served only when enabled)."""

    enabled: bool = False
    domains: list[str] = Field(default_factory=lambda: ["*"])
    secure: bool = True


class CollectorSettings(_Frozen):
    """The HTTP collector: where raw records go and how requests are answered (Snowplow's defaults)."""

    host: str = "0.0.0.0"  # trackers reach the collector on every interface
    port: int = Field(default=8080, ge=0, le=65535)
    raw: str = Field(default_factory=lambda: queue_url(DEFAULT_DATA_DIR), description="raw queue URL (publish)")
    spool: Path = Field(default_factory=lambda: DEFAULT_DATA_DIR.resolve() / "spool.db", description="local spool")
    drop_payload_size: int = Field(default=2_097_152, gt=0, description="larger bodies: 413, not stored")
    max_payload_size: int = Field(default=1_048_576, gt=0, description="larger: size_violation bad row")
    sink_max_bytes: int = Field(default=1_000_000, gt=0, description="largest raw queue record; POSTs are split")
    # Slow clients (slowloris): each bound is the whole time allowed, not the gap between two reads,
    # so trickling one byte at a time does not extend it (collector.connection_guard).
    header_timeout: float = Field(default=10.0, gt=0, description="seconds to send a request's headers: else 408")
    body_timeout: float = Field(default=30.0, gt=0, description="seconds to send a request's body: else 408")
    max_connections: int = Field(default=1024, gt=0, description="open connections; more are closed at once")
    drain_timeout: float = Field(default=30.0, gt=0, description="seconds from SIGTERM to exit, at the latest")
    cookie: CookieSettings = Field(default_factory=CookieSettings)
    do_not_track_cookie: DoNotTrackCookieSettings = Field(default_factory=DoNotTrackCookieSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    redirect: RedirectSettings = Field(default_factory=RedirectSettings)
    paths: dict[str, str] = Field(default_factory=dict, description="custom path -> standard path")
    trusted_proxies: list[str] = Field(default_factory=list, description="IPs/CIDRs whose X-Forwarded-For is used")
    crossdomain: CrossDomainSettings = Field(default_factory=CrossDomainSettings)

    @field_validator("raw")
    @classmethod
    def _raw(cls, value: str) -> str:
        return check_location(parse_queue_url, "collector.raw", value)

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        for custom, standard in value.items():
            if not custom.startswith("/") or standard not in STANDARD_PATHS:
                raise ValueError(
                    f"collector.paths: {custom!r} = {standard!r}; keys are paths starting with '/', "
                    f"values one of {', '.join(STANDARD_PATHS)}"
                )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for proxy in value:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"collector.trusted_proxies: {proxy!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)"
                ) from None
        return value

    @model_validator(mode="after")
    def _sizes(self) -> CollectorSettings:
        if self.max_payload_size > self.drop_payload_size:
            raise ValueError("collector.max_payload_size must not exceed collector.drop_payload_size")
        return self


def config_to_json(config: CollectorSettings, *, lake: str | None) -> str:
    """The collector's settings and its size_violation lake as JSON, for worker processes (see config_from_json)."""
    return json.dumps({"collector": config.model_dump(mode="json"), "lake": lake})


def config_from_json(text: str) -> tuple[CollectorSettings, str | None]:
    """The settings and lake `config_to_json` wrote, validated again (a worker trusts no environment blindly)."""
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or not isinstance(doc.get("lake"), str | None):
            raise ValueError("expected {'collector': {...}, 'lake': URL or null}")
        return CollectorSettings.model_validate(doc.get("collector")), doc["lake"]
    except (ValueError, ValidationError) as e:  # json.JSONDecodeError is a ValueError
        raise ConfigError(f"collector worker config is not valid: {e}") from None


def load_collector(path: Path | None = None, **overrides: Any) -> CollectorSettings:
    """The collector's settings: defaults < eventkit.toml or `path` < EVENTKIT_* env < `overrides`.

    Overrides are collector keys (`port=`, `raw=`, `spool=`, ...); None values are ignored.
    """
    from core.settings import load_settings

    settings = load_settings(path, collector={key: value for key, value in overrides.items() if value is not None})
    collector: CollectorSettings = settings.collector
    return collector
