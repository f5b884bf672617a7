"""`eventkit collector`: options, config files, errors that name the key, and several worker processes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from collector.settings import (
    CollectorSettings,
    CookieSettings,
    CorsSettings,
    CrossDomainSettings,
    DoNotTrackCookieSettings,
    RedirectSettings,
    config_from_json,
    config_to_json,
    load_collector,
)
from core.errors import ConfigError
from tests.collector.conftest import read_queue
from tests.collector.processes import CollectorProcess


def eventkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_the_options() -> None:
    """`eventkit collector --help` documents port, raw queue, spool, config and workers."""
    result = eventkit("collector", "--help")
    assert result.returncode == 0
    for option in ("--port", "--raw", "--spool", "--config", "--workers", "--lake"):
        assert option in result.stdout


def test_bad_queue_url_names_the_accepted_forms(tmp_path: Path) -> None:
    """A malformed queue URL is refused at start-up (exit 2) with the accepted forms."""
    result = eventkit("collector", "--raw", "mysql://x")
    assert result.returncode == 2 and "sqlite:///" in result.stderr


def test_project_settings_file_configures_the_collector(tmp_path: Path) -> None:
    """The [collector] table of eventkit.toml is what the collector runs on, under its documented names."""
    path = tmp_path / "eventkit.toml"
    path.write_text(
        f"data_dir = '{tmp_path}'\n"
        "[collector]\nport = 9001\nraw = 'sqlite:///tmp/q.db'\ntrusted_proxies = ['10.0.0.0/8']\n"
        "sink_max_bytes = 5000\n"
        "paths = { '/acme/t' = '/com.snowplowanalytics.snowplow/tp2' }\n"
        "[collector.cookie]\nname = 'nuid'\ndomains = ['acme.com']\n"
        "[collector.redirect]\nenabled = true\ndomains = ['acme.com']\n"
    )
    config = load_collector(path, port=9002)
    assert config.port == 9002 and config.raw == "sqlite:///tmp/q.db"
    assert config.cookie == CookieSettings(name="nuid", domains=["acme.com"])
    assert config.paths == {"/acme/t": "/com.snowplowanalytics.snowplow/tp2"}
    assert config.trusted_proxies == ["10.0.0.0/8"]
    assert config.sink_max_bytes == 5000
    assert (config.redirect.enabled, config.redirect.domains) == (True, ["acme.com"])
    assert config.spool == tmp_path.resolve() / "spool.db"


def test_collector_names_are_the_settings_names() -> None:
    """The collector has one model: the old second model's renamed fields are neither keys nor names in its code."""
    from core.settings import section_model

    assert section_model("collector") is CollectorSettings
    for old in ("max_record_size", "custom_paths", "raw_url", "spool_path", "lake_url", "do_not_track", "cors_max_age"):
        with pytest.raises(ConfigError, match=rf"collector\.{old}: unknown key.*sink_max_bytes"):
            load_collector(None, **{old: 1})
    old_names = re.compile(
        r"\b(CollectorConfig|CookieConfig|DoNotTrackConfig|config_from_settings|load_config|max_record_size|custom_paths"
        r"|raw_url|spool_path|lake_url|cors_max_age|redirect_enabled|redirect_domains|crossdomain_(enabled|domains|secure))\b"
    )
    for source in sorted((Path(__file__).resolve().parents[2] / "collector").glob("*.py")):
        found = old_names.findall(source.read_text())
        assert not found, (source.name, found)


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    """Unknown keys, bad CIDRs and unparseable files raise ConfigError naming what is wrong (CLI: exit 2)."""
    with pytest.raises(ConfigError, match=r"collector\.colour: unknown key.*accepted keys: body_timeout"):
        load_collector(colour="blue")
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_collector(trusted_proxies=["not-an-ip"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[collector]\ntrusted_proxies = ['nope']\n")
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_collector(bad)
    result = eventkit("collector", "--config", str(bad))
    assert result.returncode == 2 and "trusted_proxies" in result.stderr
    typo = tmp_path / "typo.toml"
    typo.write_text("[collector]\nmax_record_size = 5000\n")
    result = eventkit("collector", "--config", str(typo))
    assert result.returncode == 2 and "collector.max_record_size: unknown key" in result.stderr
    assert "sink_max_bytes" in result.stderr and "Traceback" not in result.stderr


def test_config_survives_the_hand_over_to_workers() -> None:
    """The JSON form passed to worker processes rebuilds identical settings and the same size_violation lake."""
    config = CollectorSettings(
        raw="sqlite:///q.db",
        spool=Path("/tmp/s.db"),
        sink_max_bytes=4321,
        cookie=CookieSettings(domains=["a.com"], client_cookie_name="c", same_site=None),
        do_not_track_cookie=DoNotTrackCookieSettings(enabled=True, name="dnt", value="1|yes"),
        paths={"/x/y": "/r/tp2"},
        redirect=RedirectSettings(enabled=True, domains=["a.com"]),
        cors=CorsSettings(max_age=5),
        crossdomain=CrossDomainSettings(enabled=True, domains=["*.a.com"], secure=False),
        trusted_proxies=["10.0.0.0/8"],
        header_timeout=1.5,
    )
    assert config_from_json(config_to_json(config, lake="gs://b/lake")) == (config, "gs://b/lake")
    assert config_from_json(config_to_json(config, lake=None)) == (config, None)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"collector": {"max_record_size": 1}, "lake": null}',
        '{"collector": {"raw": "mysql://x"}, "lake": null}',
        '{"collector": {}, "lake": 5}',
    ],
)
def test_a_corrupt_hand_over_is_a_config_error(text: str) -> None:
    """A worker given a damaged or stale config in its environment refuses it with ConfigError, not a traceback."""
    with pytest.raises(ConfigError, match="collector worker config is not valid"):
        config_from_json(text)


@pytest.mark.slow
def test_several_workers_share_the_port_and_the_queue(tmp_path: Path) -> None:
    """With --workers 2 the workers run on the handed-over settings and lake: every request is recorded once, and
    a record over the configured sizes is a size_violation in the enrich lake (under the settings' data_dir)."""
    queue = f"sqlite:///{tmp_path}/queue.db"
    sizes = {"EVENTKIT_COLLECTOR__SINK_MAX_BYTES": "3000", "EVENTKIT_COLLECTOR__MAX_PAYLOAD_SIZE": "4000"}
    server = CollectorProcess(
        "--raw", queue, "--spool", str(tmp_path / "spool.db"), "--workers", "2", log=tmp_path / "c.log", env=sizes
    )
    try:
        for i in range(40):
            with urllib.request.urlopen(f"{server.base}/i?e=pv&eid=w{i}", timeout=5) as r:
                assert r.status == 200
        with urllib.request.urlopen(f"{server.base}/i?e=pv&eid=big&x={'y' * 5000}", timeout=5) as r:
            assert r.status == 200  # recorded as a bad row, not refused
    finally:
        server.signal(signal.SIGTERM)
        server.wait()
    violations = list((tmp_path / "data" / "lake" / "bad" / "size_violation").rglob("*.jsonl"))
    assert len(violations) == 1 and "Payload exceeds max size of 4000" in violations[0].read_text()
    records = read_queue(queue)
    assert sorted(dict(r.querystring)["eid"] for r in records) == sorted(f"w{i}" for i in range(40))
