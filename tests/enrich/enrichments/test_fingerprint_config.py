"""`event_fingerprint_config`: Snowplow's standard config is accepted and sets the algorithm and the exclusions;
absent, the fingerprint is MD5 with the default exclusions; `enabled: false` turns it off."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from enrich.cli import build_enrich
from enrich.enrichments.registry import load_enrichment_setup
from enrich.environment import DEFAULT_FINGERPRINT_EXCLUDES, FingerprintConfig
from enrich.outcome import Good
from tests.enrich.event_mix import raw_record
from tests.enrich.pipeline_env import shared_validator

SCHEMA = "iglu:com.snowplowanalytics.snowplow/event_fingerprint_config/jsonschema/{}"


def _config(version: str = "1-0-1", *, enabled: bool = True, **parameters: Any) -> dict[str, Any]:
    """Snowplow's documented config (as in snowplow/enrich's example), with `parameters` changed."""
    return {
        "schema": SCHEMA.format(version),
        "data": {
            "vendor": "com.snowplowanalytics.snowplow",
            "name": "event_fingerprint_config",
            "enabled": enabled,
            "parameters": {"excludeParameters": ["eid", "nuid", "stm", "cv"], "hashAlgorithm": "MD5", **parameters},
        },
    }


def _folder(tmp_path: Path, *documents: dict[str, Any]) -> Path:
    folder = tmp_path / "enrichments"
    folder.mkdir(exist_ok=True)
    for i, document in enumerate(documents):
        (folder / f"{i}.json").write_text(json.dumps(document))
    return folder


def test_standard_sha256_config_is_accepted_with_its_exclusions(tmp_path: Path) -> None:
    """hashAlgorithm SHA256 and excludeParameters are read as written; nothing is added to the chain."""
    folder = _folder(tmp_path, _config(hashAlgorithm="SHA256", excludeParameters=["eid", "dtm"]))
    chain, fingerprint = load_enrichment_setup(folder, shared_validator())
    assert chain == []
    assert fingerprint == FingerprintConfig("SHA256", ("eid", "dtm"))


def test_version_1_0_0_with_md5_is_accepted(tmp_path: Path) -> None:
    """The first version of the config (MD5 only) validates against the bundled 1-0-0 and is honoured."""
    folder = _folder(tmp_path, _config("1-0-0", excludeParameters=["stm"]))
    assert load_enrichment_setup(folder, shared_validator())[1] == FingerprintConfig("MD5", ("stm",))


def test_absent_config_means_md5_and_default_exclusions(tmp_path: Path) -> None:
    """With no event_fingerprint_config the fingerprint is still computed, MD5 over all but eid/nuid/stm/cv."""
    assert load_enrichment_setup(_folder(tmp_path), shared_validator())[1] == FingerprintConfig(
        "MD5", DEFAULT_FINGERPRINT_EXCLUDES
    )


def test_disabled_config_turns_the_fingerprint_off(tmp_path: Path) -> None:
    """`enabled: false` leaves event_fingerprint empty, as Snowplow does without the enrichment."""
    assert load_enrichment_setup(_folder(tmp_path, _config(enabled=False)), shared_validator())[1] is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (_config(hashAlgorithm="SHA3"), "does not validate"),  # not in the schema's enum
        (_config("1-0-0", hashAlgorithm="SHA256"), "does not validate"),  # 1-0-0 knows only MD5
        ({**_config(), "schema": SCHEMA.format("2-0-0")}, "2-0-0"),  # no such version
    ],
)
def test_invalid_fingerprint_configs_are_config_errors(tmp_path: Path, document: dict[str, Any], message: str) -> None:
    """A config its schema refuses, or of an unknown version, stops start-up with a message naming the problem."""
    with pytest.raises(ConfigError, match=message):
        load_enrichment_setup(_folder(tmp_path, document), shared_validator())


def test_two_fingerprint_configs_are_refused(tmp_path: Path) -> None:
    """One family, one config: a second event_fingerprint_config is an error, not a silent choice."""
    with pytest.raises(ConfigError, match="a second event_fingerprint_config"):
        load_enrichment_setup(_folder(tmp_path, _config(), _config(hashAlgorithm="SHA1")), shared_validator())


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        (
            (_config(hashAlgorithm="SHA512", excludeParameters=["eid", "dtm", "stm"]),),
            ("sha512", ("eid", "dtm", "stm")),
        ),
        ((), ("md5", DEFAULT_FINGERPRINT_EXCLUDES)),
        ((_config(enabled=False),), None),
    ],
)
def test_enrich_writes_the_configured_fingerprint(
    tmp_path: Path, documents: tuple[dict[str, Any], ...], expected: tuple[str, tuple[str, ...]] | None
) -> None:
    """build_enrich (what `eventkit enrich` and `up` run) hashes the raw parameters as the config says."""
    params = [("e", "pv"), ("eid", str(uuid.uuid4())), ("p", "web"), ("tv", "js-3"), ("dtm", "1700000000000")]
    params += [("stm", "1700000000100"), ("url", "https://shop.example.com/")]
    enrich, resolver = build_enrich(str(tmp_path), str(_folder(tmp_path, *documents)))
    try:
        outcomes = enrich(raw_record(params, version="tp1"), 1_700_000_001_000)
    finally:
        resolver.close()
    good = [o for o in outcomes if isinstance(o, Good)]
    assert len(good) == 1, outcomes
    if expected is None:
        assert good[0].event.event_fingerprint is None
        return
    algorithm, excluded = expected
    text = "".join(f"{name}\x1f{value}\x1f" for name, value in sorted(params) if name not in excluded)
    assert good[0].event.event_fingerprint == hashlib.new(algorithm, text.encode()).hexdigest()
