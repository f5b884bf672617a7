"""Settings: defaults, the TOML < env < override order, data_dir-derived locations, and errors that name the key."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from core.errors import ConfigError
from core.locations import BUNDLED_SCHEMAS
from core.settings import SECTIONS, Settings, load_settings, section_model


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test runs in an empty folder (no ./eventkit.toml) with no EVENTKIT_* variables."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("EVENTKIT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def test_defaults_are_the_documented_snowplow_values() -> None:
    """With nothing configured, every knob has the documented (Snowplow-compatible) default."""
    s = load_settings()
    c = s.collector
    assert (c.host, c.port, c.drop_payload_size, c.max_payload_size) == ("0.0.0.0", 8080, 2_097_152, 1_048_576)
    assert (c.cookie.name, c.cookie.expiration_days, c.cookie.secure, c.cookie.http_only) == ("sp", 365, True, True)
    assert (c.cookie.same_site, c.cookie.client_cookie_name, c.cookie.domains) == ("None", None, [])
    assert (c.cors.max_age, c.redirect.enabled, c.do_not_track_cookie.enabled) == (3600, False, False)
    assert (s.registry.cache_size, s.registry.cache_ttl, s.registry.api_master_key) == (500, 600, None)
    assert s.enrich.workers == 1
    assert s.registry.path_or_url == s.enrich.registry == str(BUNDLED_SCHEMAS)


def test_unset_locations_live_under_data_dir(tmp_path: Path) -> None:
    """Queue, spool, lake and warehouse default to files under data_dir, as absolute URLs."""
    s = load_settings(data_dir=tmp_path / "d")
    d = (tmp_path / "d").resolve()
    assert s.collector.raw == s.enrich.raw == f"sqlite://{d}/queue.db"
    assert s.collector.spool == d / "spool.db"
    assert s.enrich.lake == s.loader.lake == f"{d}/lake"
    assert s.loader.warehouse == f"duckdb://{d}/warehouse.duckdb"


def test_followers_copy_their_leader_unless_set() -> None:
    """enrich.raw follows collector.raw and loader.lake follows enrich.lake, unless set themselves."""
    s = load_settings(collector__raw="pubsub://proj/raw", enrich__lake="gs://bucket/lake")
    assert s.enrich.raw == "pubsub://proj/raw"
    assert s.loader.lake == "gs://bucket/lake"
    s = load_settings(enrich__lake="gs://bucket/lake", loader__lake="/elsewhere")
    assert s.loader.lake == "/elsewhere"


def test_toml_then_env_then_overrides(clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key set in eventkit.toml is beaten by EVENTKIT_<SECTION>__<KEY>, which is beaten by an override."""
    (clean_environment / "eventkit.toml").write_text(
        '[collector]\nport = 9001\nraw = "pubsub://p/t"\n[collector.cookie]\nname = "toml"\ndomains = ["a.com"]\n'
        "[enrich]\nworkers = 3\n[enrich.file_cut]\nmax_events = 7\n"
    )
    s = load_settings()
    assert (s.collector.port, s.collector.cookie.name, s.collector.cookie.domains) == (9001, "toml", ["a.com"])
    assert (s.enrich.workers, s.enrich.file_cut.max_events, s.collector.raw) == (3, 7, "pubsub://p/t")
    monkeypatch.setenv("EVENTKIT_COLLECTOR__PORT", "9002")
    monkeypatch.setenv("EVENTKIT_COLLECTOR__COOKIE__DOMAINS", '["b.com", "c.com"]')
    s = load_settings()
    assert (s.collector.port, s.collector.cookie.name, s.collector.cookie.domains) == (9002, "toml", ["b.com", "c.com"])
    s = load_settings(collector__port=9003, collector={"cookie": {"name": "cli"}}, enrich__workers=None)
    assert (s.collector.port, s.collector.cookie.name, s.enrich.workers) == (9003, "cli", 3)
    assert s.collector.cookie.domains == ["b.com", "c.com"]  # merged, not replaced


def test_explicit_config_file_is_read(tmp_path: Path) -> None:
    """`load_settings(path)` reads that file, top-level keys included."""
    path = tmp_path / "elsewhere.toml"
    path.write_text(f'data_dir = "{tmp_path / "x"}"\nlog_level = "debug"\n[registry]\napi_master_key = "s3cret"\n')
    s = load_settings(path)
    assert s.data_dir == tmp_path / "x"
    assert s.log_level == "debug"
    assert s.registry.api_master_key is not None and s.registry.api_master_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


def test_settings_without_load_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Settings()` (no TOML) still reads EVENTKIT_* variables, so stages can build it directly."""
    monkeypatch.setenv("EVENTKIT_REGISTRY__CACHE_TTL", "5")
    assert Settings().registry.cache_ttl == 5


@pytest.mark.parametrize(
    ("key", "value", "forms"),
    [
        ("collector__raw", "kafka://x/y", "sqlite:///path/queue.db"),
        ("enrich__raw", "pubsub://only-project", "pubsub://PROJECT/TOPIC"),
        ("enrich__lake", "s3://bucket/x", "gs://BUCKET/PREFIX"),
        ("loader__lake", "gs://", "file:///path/lake"),
        ("loader__warehouse", "postgres://db", "duckdb:///path/warehouse.duckdb"),
        ("registry__path_or_url", "ftp://host/schemas", "http(s)://HOST/PATH"),
        ("enrich__registry", "", "a folder in Iglu static layout"),
    ],
)
def test_a_bad_url_names_the_key_and_the_accepted_forms(key: str, value: str, forms: str) -> None:
    """Each URL-valued key refuses a bad value with a ConfigError naming `section.key` and the accepted forms."""
    with pytest.raises(ConfigError) as caught:
        load_settings(**{key: value})
    message = str(caught.value)
    assert f"{key.replace('__', '.')}: " in message
    assert forms in message
    assert message.count("\n  ") == 1  # exactly one problem reported (followers do not repeat it)


def test_accepted_url_forms_pass() -> None:
    """Every documented URL form is accepted as is."""
    s = load_settings(
        collector__raw="pubsub://proj/raw",
        enrich__raw="pubsub://proj/raw?subscription=enrich",
        enrich__lake="gs://bucket/prefix",
        enrich__registry="https://iglu.example.com/api",
        registry__path_or_url="gs://schemas-bucket/iglu",
        loader__lake="file:///srv/lake",
        loader__warehouse="/srv/warehouse.duckdb",
    )
    assert s.enrich.raw == "pubsub://proj/raw?subscription=enrich"
    assert s.loader.warehouse == "/srv/warehouse.duckdb"


def test_unknown_toml_key_is_an_error_naming_it(clean_environment: Path) -> None:
    """A misspelt key in eventkit.toml fails start-up with its dotted name."""
    (clean_environment / "eventkit.toml").write_text("[collector.cookie]\nexpiry_days = 3\n")
    with pytest.raises(ConfigError, match=r"collector\.cookie\.expiry_days: unknown key"):
        load_settings()


def test_unknown_section_and_top_level_environment_variables_are_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """EVENTKIT_ENRICH__BOGUS and a misspelt section EVENTKIT_COLECTOR__PORT both fail, naming the variable."""
    monkeypatch.setenv("EVENTKIT_ENRICH__BOGUS", "1")
    with pytest.raises(ConfigError, match=r"enrich\.bogus: unknown key .*EVENTKIT_ENRICH__BOGUS"):
        load_settings()
    monkeypatch.delenv("EVENTKIT_ENRICH__BOGUS")
    monkeypatch.setenv("EVENTKIT_COLECTOR__PORT", "1")
    with pytest.raises(ConfigError, match="EVENTKIT_COLECTOR__PORT"):
        load_settings()


def test_the_build_switches_are_not_mistaken_for_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """EVENTKIT_COMPILE (setup.py) and EVENTKIT_EXPECT_COMPILED (the tests) are no settings: settings load with them
    set, while a near miss is still refused."""
    monkeypatch.setenv("EVENTKIT_COMPILE", "0")
    monkeypatch.setenv("EVENTKIT_EXPECT_COMPILED", "1")
    load_settings()
    monkeypatch.setenv("EVENTKIT_COMPILED", "1")
    with pytest.raises(ConfigError, match="EVENTKIT_COMPILED"):
        load_settings()


def test_every_problem_is_reported_at_once_without_secrets() -> None:
    """Several bad keys give one message with one line each; a secret's value is never echoed."""
    with pytest.raises(ConfigError) as caught:
        load_settings(collector__port="abc", registry__cache_size=-1, registry__api_master_key=["hunter2"])
    message = str(caught.value)
    assert "collector.port: " in message and "'abc'" in message
    assert "registry.cache_size: " in message
    assert "registry.api_master_key: " in message and "hunter2" not in message


def test_bad_or_missing_toml_file_is_a_config_error(tmp_path: Path) -> None:
    """A TOML syntax error names the file; an explicit file that does not exist is refused."""
    broken = tmp_path / "broken.toml"
    broken.write_text("[collector\nport = 1\n")
    with pytest.raises(ConfigError, match=r"broken\.toml.*not valid TOML"):
        load_settings(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"collector__paths": {"/com.acme/track": "/nowhere"}}, "collector.paths"),
        ({"collector__paths": {"no-slash": "/r/tp2"}}, "collector.paths"),
        ({"collector__trusted_proxies": ["10.0.0.0/8", "not-an-ip"]}, "collector.trusted_proxies"),
        ({"collector__max_payload_size": 3_000_000}, "collector.max_payload_size"),
        ({"collector__do_not_track_cookie__value": "(["}, "collector.do_not_track_cookie.value"),
        ({"collector__cookie__same_site": "Sometimes"}, "collector.cookie.same_site"),
        ({"log_level": "loud"}, "log_level"),
    ],
)
def test_collector_knobs_are_checked(overrides: dict[str, object], key: str) -> None:
    """Custom paths, proxies, size ordering, the DNT regex and enum-like knobs are validated, naming the key."""
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(**overrides)


def test_valid_collector_knobs_pass() -> None:
    """Custom paths onto the standard routes and IPv4/IPv6 proxies are accepted."""
    s = load_settings(
        collector__paths={"/com.acme/track": "/com.snowplowanalytics.snowplow/tp2", "/com.acme/r": "/r/tp2"},
        collector__trusted_proxies=["10.0.0.0/8", "::1", "192.168.1.1"],
    )
    assert s.collector.paths["/com.acme/r"] == "/r/tp2"
    assert len(s.collector.trusted_proxies) == 3


@given(st.integers(min_value=-100_000, max_value=100_000))
def test_ports_from_the_environment_are_range_checked(port: int) -> None:
    """Any integer string as EVENTKIT_COLLECTOR__PORT is accepted iff it is a TCP port number."""
    import os

    os.environ["EVENTKIT_COLLECTOR__PORT"] = str(port)
    try:
        if 0 <= port <= 65535:
            assert load_settings().collector.port == port
        else:
            with pytest.raises(ConfigError, match=r"collector\.port"):
                load_settings()
    finally:
        del os.environ["EVENTKIT_COLLECTOR__PORT"]


# Every key a user can set today, each with a valid non-default value: the names users write in
# eventkit.toml and EVENTKIT_* variables, which moving the section models into their stages must not change.
EVERY_KEY: dict[str, Any] = {
    "data_dir": "/srv/eventkit",
    "log_level": "warning",
    "log_json": True,
    "collector.host": "127.0.0.2",
    "collector.port": 9100,
    "collector.raw": "pubsub://proj/raw",
    "collector.spool": "/srv/spool.db",
    "collector.drop_payload_size": 3_000_000,
    "collector.max_payload_size": 2_000_000,
    "collector.sink_max_bytes": 900_000,
    "collector.header_timeout": 5.5,
    "collector.body_timeout": 20.5,
    "collector.max_connections": 64,
    "collector.drain_timeout": 12.5,
    "collector.cookie.enabled": False,
    "collector.cookie.name": "nuid",
    "collector.cookie.expiration_days": 30,
    "collector.cookie.domains": ["acme.com", "shop.example"],
    "collector.cookie.fallback_domain": "acme.com",
    "collector.cookie.secure": False,
    "collector.cookie.http_only": False,
    "collector.cookie.same_site": "Lax",
    "collector.cookie.client_cookie_name": "sp_client",
    "collector.do_not_track_cookie.enabled": True,
    "collector.do_not_track_cookie.name": "dnt",
    "collector.do_not_track_cookie.value": "yes|1",
    "collector.cors.max_age": 60,
    "collector.redirect.enabled": True,
    "collector.redirect.domains": ["acme.com"],
    "collector.paths": {"/acme/t": "/com.snowplowanalytics.snowplow/tp2"},
    "collector.trusted_proxies": ["10.0.0.0/8", "::1"],
    "collector.crossdomain.enabled": True,
    "collector.crossdomain.domains": ["*.acme.com"],
    "collector.crossdomain.secure": False,
    "enrich.raw": "pubsub://proj/raw?subscription=enrich",
    "enrich.lake": "gs://bucket/lake",
    "enrich.registry": "https://iglu.example.com/api",
    "enrich.workers": 4,
    "enrich.enrichments": "/srv/enrichments",
    "enrich.write_tsv": True,
    "enrich.file_cut.max_events": 500,
    "enrich.file_cut.max_bytes": 1024,
    "enrich.file_cut.max_age_seconds": 5.5,
    "enrich.validation_budget_ms": 50,
    "enrich.max_delivery_attempts": 7,
    "registry.path_or_url": "gs://schemas/iglu",
    "registry.cache_size": 10,
    "registry.cache_ttl": 30,
    "registry.api_master_key": "s3cret",
    "registry.host": "0.0.0.0",
    "registry.port": 9101,
    "loader.lake": "file:///srv/lake",
    "loader.warehouse": "duckdb:///srv/warehouse.duckdb",
}


def _leaf_keys(model: Any, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _leaf_keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def _read(settings: Any, key: str) -> Any:
    value = settings
    for part in key.split("."):
        value = getattr(value, part)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value) if isinstance(value, Path) else value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


def test_every_key_users_set_today_is_still_a_key() -> None:
    """The composed model has exactly the documented keys: none renamed, lost or added by the move into the stages."""
    assert _leaf_keys(Settings) == set(EVERY_KEY)


def test_every_documented_variable_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """EVENTKIT_<SECTION>__<KEY> for every key reaches the stage's model (lists and maps as JSON)."""
    for key, value in EVERY_KEY.items():
        text = value if isinstance(value, str) else json.dumps(value)
        monkeypatch.setenv("EVENTKIT_" + key.replace(".", "__").upper(), text)
    settings = load_settings()
    assert {key: _read(settings, key) for key in EVERY_KEY} == EVERY_KEY


def test_every_documented_toml_key_is_accepted(clean_environment: Path) -> None:
    """Every key written in eventkit.toml (top-level, `[section]` and `[section.sub]` tables) is read."""
    tables: dict[str, list[str]] = {}
    for key, value in EVERY_KEY.items():
        table, _, leaf = key.rpartition(".")
        tables.setdefault(table, []).append(f"{leaf} = {_toml_value(value)}")
    text = "\n".join(tables.pop(""))
    for table, lines in tables.items():
        text += f"\n[{table}]\n" + "\n".join(lines)
    (clean_environment / "eventkit.toml").write_text(text + "\n")
    settings = load_settings()
    assert {key: _read(settings, key) for key in EVERY_KEY} == EVERY_KEY


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_each_section_model_lives_in_its_stage(section: str) -> None:
    """A section's model, and every model nested in it, is defined in `<stage>.settings`, and Settings composes it."""
    model = section_model(section)
    assert Settings.model_fields[section].annotation is model
    stage = SECTIONS[section].split(".", 1)[0]
    nested = [model]
    while nested:
        current = nested.pop()
        assert current.__module__ == f"{stage}.settings", current
        for field in current.model_fields.values():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                nested.append(field.annotation)


def test_core_settings_imports_no_stage() -> None:
    """core/settings.py and core/section.py import no stage module anywhere (module or function level)."""
    stages = {"collector", "enrich", "registry", "loader", "embedded"}
    core = Path(__file__).resolve().parents[2] / "core"
    for name in ("settings.py", "section.py"):
        tree = ast.parse((core / name).read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
        assert "core" in imported  # the walk sees imports at all
        assert not imported & stages, (name, imported & stages)
    assert all(":" in target and target.split(".")[0] in stages for target in SECTIONS.values())


def test_unknown_keys_are_refused_naming_the_accepted_ones(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown section, section key or nested key fails, and the message lists what that level accepts."""
    monkeypatch.setenv("EVENTKIT_COLECTOR__PORT", "1")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "top-level keys collector, data_dir, enrich, loader, log_json, log_level, registry" in str(caught.value)
    monkeypatch.delenv("EVENTKIT_COLECTOR__PORT")
    monkeypatch.setenv("EVENTKIT_LOADER__WAREHOUS", "duckdb:///x.duckdb")
    with pytest.raises(ConfigError, match=r"loader\.warehous: unknown key .*accepted keys: lake, warehouse$"):
        load_settings()
    monkeypatch.delenv("EVENTKIT_LOADER__WAREHOUS")
    (clean_environment / "eventkit.toml").write_text("colour = 1\n[enrich.file_cut]\nmax_event = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "colour: unknown key" in message and "accepted keys: collector, data_dir, enrich," in message
    assert "enrich.file_cut.max_event: unknown key" in message
    assert "accepted keys: max_age_seconds, max_bytes, max_events" in message
