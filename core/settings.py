"""One typed settings model for every stage: defaults < `eventkit.toml` < `EVENTKIT_*` env < command-line overrides.

Each stage owns its section model next to its code (`collector.settings.CollectorSettings`,
`enrich.settings.EnrichSettings`, `registry.settings.RegistrySettings`, `loader.settings.LoaderSettings`);
this module composes them by name (`SECTIONS`, import strings resolved with importlib, as `core.cli`
mounts the stages' commands), so `core/` never imports a stage. It owns the machinery: the TOML file,
the environment, unknown keys refused, the top-level keys and the `data_dir` defaults.

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

import importlib
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError, create_model, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from core.errors import ConfigError
from core.locations import parse_lake_url, parse_queue_url
from core.section import DEFAULT_DATA_DIR, lake_url, queue_url, warehouse_url

__all__ = ["SECTIONS", "Settings", "load_settings", "section_model"]

CONFIG_FILE = Path("eventkit.toml")
# Switches of the wheel build (setup.py) and of the test suite, not settings: eventkit runs with them exported.
BUILD_ENVIRONMENT = ("EVENTKIT_COMPILE", "EVENTKIT_EXPECT_COMPILED")

# section name -> "module:Model". Each stage owns its model; `core` knows only where to find it.
SECTIONS: dict[str, str] = {
    "collector": "collector.settings:CollectorSettings",
    "enrich": "enrich.settings:EnrichSettings",
    "registry": "registry.settings:RegistrySettings",
    "loader": "loader.settings:LoaderSettings",
}


def section_model(name: str) -> type[BaseModel]:
    """The model of section `name`, imported from its stage."""
    module_name, _, attr = SECTIONS[name].partition(":")
    model = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{SECTIONS[name]} is not a pydantic model")
    return model


def _follow(leader: Any, parse: Any, fallback: str) -> Any:
    """The value a following key copies: the leader's if valid (its own error is reported once), else `fallback`."""
    try:
        parse(leader)
    except (ConfigError, TypeError):
        return fallback
    return leader


class _TopLevel(BaseSettings):
    """The keys outside any section and how every source is read; the sections are added by `_compose`."""

    model_config = SettingsConfigDict(
        env_prefix="EVENTKIT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = DEFAULT_DATA_DIR
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool | None = Field(default=None, description="None = JSON when stderr is not a terminal")

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
        collector.setdefault("raw", queue_url(data_dir))
        collector.setdefault("spool", data_dir.resolve() / "spool.db")
        enrich.setdefault("raw", _follow(collector["raw"], parse_queue_url, queue_url(data_dir)))
        enrich.setdefault("lake", lake_url(data_dir))
        loader.setdefault("lake", _follow(enrich["lake"], parse_lake_url, lake_url(data_dir)))
        loader.setdefault("warehouse", warehouse_url(data_dir))
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


def _compose() -> type[_TopLevel]:
    """`Settings`: the top-level keys plus one field per section of SECTIONS, defaulting to its model's defaults."""
    sections: dict[str, Any] = {}
    for name in SECTIONS:
        model = section_model(name)
        sections[name] = (model, Field(default_factory=model))
    return create_model(
        "Settings",
        __base__=_TopLevel,
        __module__=__name__,
        __doc__="All of eventkit's settings. Read `settings.collector.port`, `settings.enrich.lake`, ...",
        **sections,
    )


if TYPE_CHECKING:

    class Settings(_TopLevel):
        """All of eventkit's settings; a section's type is its stage's model, unknown here (`core` imports no stage)."""

        def __getattr__(self, name: str) -> Any: ...

else:
    Settings = _compose()


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
            accepted = ", ".join(_accepted_keys(item["loc"][:-1]))
            message = f"unknown key (from {config_file}, {env} or an override); accepted keys: {accepted}"
        elif not message.startswith(f"{key}:") and key and "key" not in key:
            message = f"{message} (got {item.get('input')!r})"
        lines.append(message if message.startswith(f"{key}:") else f"{key}: {message}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def _accepted_keys(parent: tuple[int | str, ...]) -> list[str]:
    """The keys the model at `parent` (a path of field names from Settings) accepts, sorted."""
    model: Any = Settings
    for part in parent:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)
