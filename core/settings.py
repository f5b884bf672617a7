"""One typed settings model for every stage: defaults < `eventkit.toml` < `EVENTKIT_*` env < command-line overrides.

Sections mirror the stages (`collector`, `enrich`, `registry`, `loader`) plus top-level keys.
In the TOML file a section is a table (`[collector]`, `[collector.cookie]`); in the environment a
key is `EVENTKIT_<SECTION>__<KEY>` (`EVENTKIT_ENRICH__LAKE=gs://bucket/lake`,
`EVENTKIT_COLLECTOR__COOKIE__NAME=sp`); lists and maps in the environment are JSON
(`EVENTKIT_COLLECTOR__TRUSTED_PROXIES='["10.0.0.0/8"]'`).

Transports are chosen by URL and checked at start-up with `core.locations`, so a bad URL or an
unknown key fails before anything runs, with a message naming the key (`enrich.lake`) and the
accepted forms. Everything left unset lives under `data_dir` (the embedded, no-cloud setup):

    collector.raw      sqlite:///<data_dir>/queue.db       (enrich.raw follows collector.raw)
    collector.spool    <data_dir>/spool.db
    enrich.lake        <data_dir>/lake                     (loader.lake follows enrich.lake)
    loader.warehouse   duckdb:///<data_dir>/warehouse.duckdb
    registry.path_or_url, enrich.registry   the bundled schemas/ folder

Build settings with `load_settings()` (errors become `ConfigError`); `Settings()` works too but
raises pydantic's ValidationError and reads no TOML file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from core.errors import ConfigError
from core.locations import BUNDLED_SCHEMAS, parse_lake_url, parse_queue_url, parse_warehouse_url

__all__ = [
    "CollectorSettings",
    "CookieSettings",
    "CorsSettings",
    "CrossDomainSettings",
    "DoNotTrackCookieSettings",
    "EnrichSettings",
    "FileCutSettings",
    "LoaderSettings",
    "RedirectSettings",
    "RegistrySettings",
    "Settings",
    "load_settings",
]

CONFIG_FILE = Path("eventkit.toml")
DEFAULT_DATA_DIR = Path("data")
REGISTRY_FORMS = "a folder in Iglu static layout, file:///path, http(s)://HOST/PATH, gs://BUCKET/PREFIX"
STANDARD_PATHS = ("/com.snowplowanalytics.snowplow/tp2", "/com.snowplowanalytics.iglu/v1", "/r/tp2")
# Switches of the wheel build (setup.py) and of the test suite, not settings: eventkit runs with them exported.
BUILD_ENVIRONMENT = ("EVENTKIT_COMPILE", "EVENTKIT_EXPECT_COMPILED")


def _queue_url(data_dir: Path) -> str:
    return f"sqlite://{(data_dir.resolve() / 'queue.db').as_posix()}"


def _lake_url(data_dir: Path) -> str:
    return str((data_dir.resolve() / "lake").as_posix())


def _warehouse_url(data_dir: Path) -> str:
    return f"duckdb://{(data_dir.resolve() / 'warehouse.duckdb').as_posix()}"


def _check(parse: Any, key: str, value: str) -> str:
    """Run a `core.locations` parser; its ConfigError becomes the ValueError pydantic collects."""
    try:
        parse(value, key=key)
    except ConfigError as e:
        raise ValueError(str(e)) from None
    return value


def _follow(leader: Any, parse: Any, fallback: str) -> Any:
    """The value a following key copies: the leader's if valid (its own error is reported once), else `fallback`."""
    try:
        parse(leader)
    except (ConfigError, TypeError):
        return fallback
    return leader


def _check_registry(key: str, value: str) -> str:
    scheme = urlsplit(value).scheme
    if not value or (scheme not in ("", "file", "http", "https", "gs") and not re.match(r"^[A-Za-z]:[\\/]", value)):
        raise ValueError(f"{key}: {value!r} is not a registry location; accepted forms: {REGISTRY_FORMS}")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class CookieSettings(_Section):
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


class DoNotTrackCookieSettings(_Section):
    """Requests carrying cookie `name` whose value matches regex `value` are answered but not stored."""

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


class CorsSettings(_Section):
    """CORS preflight answers."""

    max_age: int = Field(default=3600, ge=0, description="Access-Control-Max-Age, seconds")


class RedirectSettings(_Section):
    """The `/r/tp2` redirect route (Snowplow `enableDefaultRedirect`, `redirectDomains`)."""

    enabled: bool = False
    domains: list[str] = Field(default_factory=list, description="allowed target hosts; empty = any")


class CrossDomainSettings(_Section):
    """`/crossdomain.xml` (served only when enabled)."""

    enabled: bool = False
    domains: list[str] = Field(default_factory=lambda: ["*"])
    secure: bool = True


class CollectorSettings(_Section):
    """The HTTP collector: where raw records go and how requests are answered."""

    host: str = "0.0.0.0"  # trackers reach the collector on every interface
    port: int = Field(default=8080, ge=0, le=65535)
    raw: str = Field(default_factory=lambda: _queue_url(DEFAULT_DATA_DIR), description="raw queue URL (publish)")
    spool: Path = Field(default_factory=lambda: DEFAULT_DATA_DIR.resolve() / "spool.db", description="local spool")
    drop_payload_size: int = Field(default=2_097_152, gt=0, description="larger bodies: 413, not stored")
    max_payload_size: int = Field(default=1_048_576, gt=0, description="larger: size_violation bad row")
    sink_max_bytes: int = Field(default=1_000_000, gt=0, description="largest raw queue record")
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
        return _check(parse_queue_url, "collector.raw", value)

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


class FileCutSettings(_Section):
    """When enrich closes a lake file: whichever limit is reached first."""

    max_events: int = Field(default=10_000, gt=0)
    max_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_age_seconds: float = Field(default=60.0, gt=0)


class EnrichSettings(_Section):
    """The enrich worker: raw queue in, lake out, schemas from the registry."""

    raw: str = Field(default_factory=lambda: _queue_url(DEFAULT_DATA_DIR), description="raw queue URL (consume)")
    lake: str = Field(default_factory=lambda: _lake_url(DEFAULT_DATA_DIR), description="lake URL")
    registry: str = Field(default_factory=lambda: str(BUNDLED_SCHEMAS), description="registry path or URL")
    workers: int = Field(default=1, ge=1)
    enrichments: Path | None = Field(default=None, description="enrichment configs folder")
    write_tsv: bool = Field(default=False, description="also write Snowplow enriched TSV beside Parquet")
    file_cut: FileCutSettings = Field(default_factory=FileCutSettings)
    validation_budget_ms: int = Field(default=200, ge=0, description="per event; over it a schema_violations row")
    max_delivery_attempts: int = Field(default=3, ge=1, description="failed attempts before a generic_error row")

    @field_validator("raw")
    @classmethod
    def _raw(cls, value: str) -> str:
        return _check(parse_queue_url, "enrich.raw", value)

    @field_validator("lake")
    @classmethod
    def _lake(cls, value: str) -> str:
        return _check(parse_lake_url, "enrich.lake", value)

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str) -> str:
        return _check_registry("enrich.registry", value)


class RegistrySettings(_Section):
    """The schema registry: where schemas live, the resolver cache, the HTTP API."""

    path_or_url: str = Field(default_factory=lambda: str(BUNDLED_SCHEMAS))
    cache_size: int = Field(default=500, ge=0)
    cache_ttl: int | None = Field(
        default=600,
        ge=0,
        description="seconds a schema or its absence is cached; None = never expire. Used only when set "
        "(eventkit.toml, EVENTKIT_REGISTRY__CACHE_TTL); unset: a resolver config's cacheTtl, else the command's",
    )
    api_master_key: SecretStr | None = Field(default=None, description="None = read-only API")
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)

    @field_validator("path_or_url")
    @classmethod
    def _where(cls, value: str) -> str:
        return _check_registry("registry.path_or_url", value)


class LoaderSettings(_Section):
    """The loader: good events from the lake into the warehouse."""

    lake: str = Field(default_factory=lambda: _lake_url(DEFAULT_DATA_DIR))
    warehouse: str = Field(default_factory=lambda: _warehouse_url(DEFAULT_DATA_DIR))

    @field_validator("lake")
    @classmethod
    def _lake(cls, value: str) -> str:
        return _check(parse_lake_url, "loader.lake", value)

    @field_validator("warehouse")
    @classmethod
    def _warehouse(cls, value: str) -> str:
        return _check(parse_warehouse_url, "loader.warehouse", value)


class Settings(BaseSettings):
    """All of eventkit's settings. Read `settings.collector.port`, `settings.enrich.lake`, ..."""

    model_config = SettingsConfigDict(
        env_prefix="EVENTKIT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = DEFAULT_DATA_DIR
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool | None = Field(default=None, description="None = JSON when stderr is not a terminal")
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    enrich: EnrichSettings = Field(default_factory=EnrichSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    loader: LoaderSettings = Field(default_factory=LoaderSettings)

    @model_validator(mode="before")
    @classmethod
    def _derive_from_data_dir(cls, data: Any) -> Any:
        """Fill unset locations from `data_dir`; enrich.raw follows collector.raw, loader.lake follows enrich.lake."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        data_dir = Path(data.get("data_dir") or DEFAULT_DATA_DIR)
        sections = {name: data.get(name) for name in ("collector", "enrich", "loader")}
        if not all(section is None or isinstance(section, dict) for section in sections.values()):
            return data  # section objects passed in are complete already
        collector, enrich, loader = (dict(section or {}) for section in sections.values())
        collector.setdefault("raw", _queue_url(data_dir))
        collector.setdefault("spool", data_dir.resolve() / "spool.db")
        enrich.setdefault("raw", _follow(collector["raw"], parse_queue_url, _queue_url(data_dir)))
        enrich.setdefault("lake", _lake_url(data_dir))
        loader.setdefault("lake", _follow(enrich["lake"], parse_lake_url, _lake_url(data_dir)))
        loader.setdefault("warehouse", _warehouse_url(data_dir))
        data.update(collector=collector, enrich=enrich, loader=loader)
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier wins: overrides (init kwargs) > environment > the TOML file (see load_settings).
        return init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=_TOML_DATA.get())


# The TOML file's data for the Settings being built in this context (set and reset by load_settings).
_TOML_DATA: ContextVar[dict[str, Any]] = ContextVar("eventkit_toml_data", default={})  # noqa: B039 - never mutated


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from defaults, then `config_file` (or ./eventkit.toml if present), then env, then `overrides`.

    Overrides are keyword arguments: top-level keys (`data_dir=...`), whole sections as dicts
    (`collector={"port": 9000}`) or nested keys spelt with `__` (`collector__port=9000`).
    None values are ignored, so CLI options can be passed through unconditionally.
    Any problem raises ConfigError whose message names every bad key.
    """
    toml = _read_toml(config_file)
    _refuse_unknown_environment()
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        *parents, leaf = key.split("__")
        target = nested
        for parent in parents:
            target = target.setdefault(parent, {})
        _merge(target, leaf, value)
    token = _TOML_DATA.set(toml)
    try:
        return Settings(**nested)
    except ValidationError as e:
        raise ConfigError(_describe(e, config_file or CONFIG_FILE)) from None
    finally:
        _TOML_DATA.reset(token)


def _merge(target: dict[str, Any], key: str, value: Any) -> None:
    """Set target[key], merging dicts so `collector={...}` and `collector__port=...` combine."""
    if isinstance(value, dict) and isinstance(target.get(key), dict):
        for inner_key, inner_value in value.items():
            _merge(target[key], inner_key, inner_value)
    else:
        target[key] = value


def _refuse_unknown_environment() -> None:
    """A misspelt top-level variable (EVENTKIT_COLECTOR__PORT) would be ignored silently: refuse it."""
    known = {name.upper() for name in Settings.model_fields}
    unknown = sorted(
        name
        for name in os.environ
        if name.upper().startswith("EVENTKIT_")
        and name.upper()[9:].split("__")[0] not in known
        and name.upper() not in BUILD_ENVIRONMENT
    )
    if unknown:
        raise ConfigError(
            f"unknown environment variable(s) {', '.join(unknown)}; accepted: EVENTKIT_<KEY> or "
            f"EVENTKIT_<SECTION>__<KEY> with top-level keys {', '.join(sorted(Settings.model_fields))}"
        )


def _read_toml(config_file: Path | None) -> dict[str, Any]:
    path = config_file if config_file is not None else CONFIG_FILE
    if config_file is None and not path.is_file():
        return {}
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {e}") from None


def _describe(error: ValidationError, config_file: Path) -> str:
    """One line per problem, each starting with the dotted key."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            env = "EVENTKIT_" + "__".join(str(part).upper() for part in item["loc"])
            message = f"unknown key (from {config_file}, {env} or an override); accepted keys: core/settings.py"
        elif not message.startswith(f"{key}:") and key and "key" not in key:
            message = f"{message} (got {item.get('input')!r})"
        lines.append(message if message.startswith(f"{key}:") else f"{key}: {message}")
    return "invalid settings:\n  " + "\n  ".join(lines)
