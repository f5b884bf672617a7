"""Config files: Snowplow's example configs load unchanged, bad files are start-up ConfigErrors, order is Snowplow's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from enrich.enrichments.base import BuiltInEnrichment
from enrich.enrichments.registry import ENRICHMENTS, load_enrichments
from registry.resolver import Resolver
from tests.enrich.enrichments.events import SNOWPLOW_CONFIGS, snowplow_config, staged_configs
from tests.enrich.enrichments.mmdb import write_databases
from tests.enrich.pipeline_env import REPO_ROOT, shared_validator

SNOWPLOW_ORDER = [
    "iab_spiders_and_robots_enrichment",
    "ua_parser_config",
    "referer_parser",
    "campaign_attribution",
    "cross_navigation_config",
    "cookie_extractor_config",
    "http_header_extractor_config",
    "ip_lookups",
    "anon_ip",
    "pii_enrichment_config",
]


@pytest.mark.parametrize("path", sorted(SNOWPLOW_CONFIGS.glob("*.json")), ids=lambda p: p.stem)
def test_snowplow_style_config_is_accepted_unchanged(path: Path, tmp_path: Path) -> None:
    """Each example config, shaped as Snowplow documents it, validates and builds its enrichment."""
    write_databases(tmp_path)  # ip_lookups names databases relative to its folder
    cfg = snowplow_config(path.stem, tmp_path)
    assert cfg.enabled
    plugin = ENRICHMENTS[(cfg.schema.vendor, cfg.schema.name)]
    assert any(c.matches(cfg.schema) for c in plugin.accepts)
    enrichment = plugin.build(cfg)
    assert enrichment.identifier == cfg.name
    assert enrichment.config_schema == cfg.schema
    assert isinstance(enrichment, BuiltInEnrichment)  # the compiled base users may subclass too


def test_a_folder_loads_through_a_resolver_in_snowplow_order(tmp_path: Path) -> None:
    """A folder with every config (file names in any order) gives the chain in snowplow.md §3.1 order."""
    folder = staged_configs(tmp_path / "enrichments")
    write_databases(folder)
    # Only the test registry: Snowplow's config schemas come from the bundled schemas consulted after it.
    resolver = Resolver.from_locations(str(REPO_ROOT / "tests" / "cases" / "enrich" / "schemas"))
    chain = load_enrichments(folder, resolver)
    assert [e.identifier for e in chain] == SNOWPLOW_ORDER


def _write(folder: Path, name: str, document: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(document))


def test_disabled_enrichments_are_left_out(tmp_path: Path) -> None:
    """`enabled: false` validates but adds nothing to the chain."""
    document = json.loads((SNOWPLOW_CONFIGS / "anon_ip.json").read_text())
    document["data"]["enabled"] = False
    _write(tmp_path, "anon_ip.json", document)
    assert load_enrichments(tmp_path, shared_validator()) == []


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("not json", "not JSON"),
        ({"schema": "iglu:com.acme/nothing/jsonschema/1-0-0", "data": {}}, "does not validate"),
        ({"data": {}}, "not a self-describing JSON"),
        (
            {
                "schema": "iglu:com.snowplowanalytics.snowplow/anon_ip/jsonschema/1-0-1",
                "data": {"vendor": "v", "name": "anon_ip", "enabled": True, "parameters": {"anonOctets": 5}},
            },
            "does not validate",
        ),
        (
            {
                "schema": "iglu:org.ietf/http_header/jsonschema/1-0-0",
                "data": {"name": "Host", "value": "example.com"},
            },
            "no enrichment for",
        ),
    ],
    ids=["not-json", "unknown-schema", "not-sdj", "invalid-parameters", "not-an-enrichment"],
)
def test_a_bad_config_file_is_a_config_error_naming_the_file(tmp_path: Path, document: object, fragment: str) -> None:
    """Unreadable, unresolvable, invalid or unknown configs stop start-up with the file named."""
    path = tmp_path / "bad.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(ConfigError, match=fragment) as info:
        load_enrichments(tmp_path, shared_validator())
    assert "bad.json" in str(info.value)


def test_two_configs_of_one_family_are_refused(tmp_path: Path) -> None:
    """Two anon_ip configs are ambiguous, so loading fails instead of picking one."""
    document = json.loads((SNOWPLOW_CONFIGS / "anon_ip.json").read_text())
    _write(tmp_path, "a.json", document)
    _write(tmp_path, "b.json", document)
    with pytest.raises(ConfigError, match="second anon_ip"):
        load_enrichments(tmp_path, shared_validator())


def test_missing_folder_and_missing_database_are_config_errors(tmp_path: Path) -> None:
    """A folder that does not exist, or an ip_lookups database not on disk, fails at start-up."""
    with pytest.raises(ConfigError, match="not a folder"):
        load_enrichments(tmp_path / "nope", shared_validator())
    _write(tmp_path, "ip.json", json.loads((SNOWPLOW_CONFIGS / "ip_lookups.json").read_text()))
    with pytest.raises(ConfigError, match="not found"):
        load_enrichments(tmp_path, shared_validator())
