"""`eventkit collector`: options, config files, errors that name the key, and several worker processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from collector.settings import CollectorConfig, CookieConfig, config_from_json, config_to_json, load_config
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
    """The [collector] table of eventkit.toml configures everything; explicit flags override it."""
    path = tmp_path / "eventkit.toml"
    path.write_text(
        f"data_dir = '{tmp_path}'\n"
        "[collector]\nport = 9001\nraw = 'sqlite:///tmp/q.db'\ntrusted_proxies = ['10.0.0.0/8']\n"
        "sink_max_bytes = 5000\n"
        "paths = { '/acme/t' = '/com.snowplowanalytics.snowplow/tp2' }\n"
        "[collector.cookie]\nname = 'nuid'\ndomains = ['acme.com']\n"
        "[collector.redirect]\nenabled = true\ndomains = ['acme.com']\n"
    )
    config = load_config(path, port=9002)
    assert config.port == 9002 and config.raw_url == "sqlite:///tmp/q.db"
    assert config.cookie == CookieConfig(name="nuid", domains=("acme.com",))
    assert config.custom_paths == (("/acme/t", "/com.snowplowanalytics.snowplow/tp2"),)
    assert config.trusted_proxies == ("10.0.0.0/8",)
    assert config.max_record_size == 5000
    assert (config.redirect_enabled, config.redirect_domains) == (True, ("acme.com",))
    assert config.spool_path == str(tmp_path.resolve() / "spool.db")
    assert config.lake_url is not None and "lake" in config.lake_url  # the enrich lake holds size violations


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    """Unknown keys, bad CIDRs and unparseable files raise ConfigError naming what is wrong (CLI: exit 2)."""
    with pytest.raises(ConfigError, match=r"collector\.colour"):
        config_from_json({"colour": "blue"})
    with pytest.raises(ConfigError, match="trusted_proxies"):
        config_from_json({"trusted_proxies": ["not-an-ip"]})
    bad = tmp_path / "bad.toml"
    bad.write_text("[collector]\ntrusted_proxies = ['nope']\n")
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_config(bad)
    result = eventkit("collector", "--config", str(bad))
    assert result.returncode == 2 and "trusted_proxies" in result.stderr


def test_config_survives_the_hand_over_to_workers() -> None:
    """The JSON form passed to worker processes rebuilds an identical config."""
    config = CollectorConfig(
        raw_url="sqlite:///q.db",
        cookie=CookieConfig(domains=("a.com",), client_cookie_name="c"),
        custom_paths=(("/x/y", "/i"),),
        redirect_domains=("a.com",),
    )
    assert config_from_json(json.loads(config_to_json(config))) == config


@pytest.mark.slow
def test_several_workers_share_the_port_and_the_queue(tmp_path: Path) -> None:
    """With --workers 2 the worker processes start from the handed-over config and every request is recorded once."""
    queue = f"sqlite:///{tmp_path}/queue.db"
    server = CollectorProcess(
        "--raw", queue, "--spool", str(tmp_path / "spool.db"), "--workers", "2", log=tmp_path / "c.log"
    )
    try:
        for i in range(40):
            with urllib.request.urlopen(f"{server.base}/i?e=pv&eid=w{i}", timeout=5) as r:
                assert r.status == 200
    finally:
        server.signal(signal.SIGTERM)
        server.wait()
    records = read_queue(queue)
    assert sorted(dict(r.querystring)["eid"] for r in records) == sorted(f"w{i}" for i in range(40))
