"""The resolver as configured: bundled schemas consulted after every configured repository, and the cache TTL
taken from `--cache-ttl`, `registry.cache_ttl` or a resolver config's `cacheTtl` (hits and not-found alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from core.iglu import SchemaKey
from core.locations import BUNDLED_SCHEMAS
from core.settings import load_settings
from registry.cache_ttl import NOT_SET
from registry.resolver import Resolver, SchemaNotFound, configured_cache_ttl, with_bundled_schemas
from tests.registry.test_resolver import ACME, Clock, FolderServer, config, served, write_schema

__all__ = ["served"]  # the fixture, imported for the tests below

TIMING = SchemaKey.parse("iglu:com.snowplowanalytics.snowplow/timing/jsonschema/1-0-0")


def _modified_timing(root: Path) -> None:
    """A team's own copy of Snowplow's timing schema, recognisable by its description."""
    write_schema(root, TIMING, "modified in Local One")


def _resolver_config(path: Path, repositories: list[dict[str, Any]], **data: Any) -> Path:
    path.write_bytes(orjson.dumps(config("1-0-3", repositories, **data)))
    return path


def test_configured_local_repository_outranks_the_bundled_schemas_whatever_its_priority(tmp_path: Path) -> None:
    """A modified timing schema in "Local One" (priority 5) wins over the bundled copy appended by the CLI."""
    _modified_timing(tmp_path / "local-one")
    repos = [
        {
            "name": "Local One",
            "priority": 5,
            "vendorPrefixes": [],
            "connection": {"embedded": {"path": str(tmp_path / "local-one")}},
        }
    ]
    file = _resolver_config(tmp_path / "resolver.json", repos)
    resolver = Resolver.from_locations(with_bundled_schemas(str(file)))
    assert resolver.lookup(TIMING)["description"] == "modified in Local One"
    assert resolver.source_of(TIMING) == "Local One"
    assert resolver.ordered_for(TIMING.vendor)[-1].name == f"local:{BUNDLED_SCHEMAS.resolve()}"


def test_configured_http_repository_outranks_the_bundled_schemas(
    tmp_path: Path, served: tuple[Path, FolderServer]
) -> None:
    """An HTTP repository (a worse class than a local folder in Iglu's order) still wins over the bundled fallback."""
    http_root, server = served
    _modified_timing(http_root)
    resolver = Resolver.from_locations(with_bundled_schemas(server.url), cache_ttl=None)
    assert resolver.lookup(TIMING)["description"] == "modified in Local One"
    # What the configured repository lacks still comes from the bundled schemas.
    payload = SchemaKey.parse("iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4")
    assert resolver.lookup(payload)["self"]["name"] == "payload_data"


def test_bundled_folder_named_first_keeps_its_place(tmp_path: Path) -> None:
    """A user who lists the bundled folder first gets it first: only the appended one is a fallback."""
    _modified_timing(tmp_path / "mine")
    resolver = Resolver.from_locations(f"{BUNDLED_SCHEMAS},{tmp_path / 'mine'}", cache_ttl=None)
    assert resolver.lookup(TIMING)["description"] != "modified in Local One"


@pytest.mark.parametrize(
    ("data", "given", "expected"),
    [
        ({"cacheTtl": 5}, NOT_SET, 5.0),  # the config's TTL when nothing else is said
        ({"cacheTtl": None}, NOT_SET, None),  # null: never expire (Iglu)
        ({}, NOT_SET, 42.0),  # no cacheTtl: the command's default
        ({"cacheTtl": 5}, 30.0, 30.0),  # the flag or setting wins over the file
    ],
)
def test_cache_ttl_comes_from_the_resolver_config_unless_given(
    tmp_path: Path, data: dict[str, Any], given: Any, expected: float | None
) -> None:
    """from_locations uses an explicit TTL, else the resolver config's cacheTtl, else the default it is given."""
    repos = [{"name": "Local", "priority": 0, "vendorPrefixes": [], "connection": {"embedded": {"path": "."}}}]
    file = _resolver_config(tmp_path / "resolver.json", repos, **data)
    resolver = Resolver.from_locations(with_bundled_schemas(str(file)), cache_ttl=given, default_ttl=42.0)
    assert resolver.cache_ttl == expected


def test_not_found_is_cached_for_the_configured_ttl_only(tmp_path: Path) -> None:
    """With cacheTtl 5, a schema published after a miss is found 5 s later, not ten minutes later."""
    repos = [{"name": "Local", "priority": 0, "vendorPrefixes": [], "connection": {"embedded": {"path": "repo"}}}]
    (tmp_path / "repo").mkdir()
    file = _resolver_config(tmp_path / "resolver.json", repos, cacheTtl=5)
    clock = Clock()
    built = Resolver.from_locations(with_bundled_schemas(str(file)))
    resolver = Resolver(built.configured, fallbacks=built.fallbacks, cache_ttl=built.cache_ttl, clock=clock)
    with pytest.raises(SchemaNotFound):
        resolver.lookup(ACME)
    write_schema(tmp_path / "repo", ACME, "published")
    clock.now += 4.9
    with pytest.raises(SchemaNotFound):
        resolver.lookup(ACME)
    clock.now += 0.2
    assert resolver.lookup(ACME)["description"] == "published"


def test_configured_cache_ttl_reads_flag_then_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--cache-ttl beats EVENTKIT_REGISTRY__CACHE_TTL; the setting counts only when set; unset is NOT_SET."""
    monkeypatch.chdir(tmp_path)  # no eventkit.toml
    assert configured_cache_ttl(None, load_settings().registry) is NOT_SET
    monkeypatch.setenv("EVENTKIT_REGISTRY__CACHE_TTL", "7")
    assert configured_cache_ttl(None, load_settings().registry) == 7.0
    assert configured_cache_ttl(3.0, load_settings().registry) == 3.0
    (tmp_path / "eventkit.toml").write_text("[registry]\ncache_ttl = 9\n")
    monkeypatch.delenv("EVENTKIT_REGISTRY__CACHE_TTL")
    assert configured_cache_ttl(None, load_settings().registry) == 9.0
