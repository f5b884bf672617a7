"""`log_level` / `log_json` (EVENTKIT_LOG_LEVEL, EVENTKIT_LOG_JSON) apply to every long-running command:
`up`, `collector`, `enrich` and `registry serve` write JSON lines for machines and readable text on a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.services.processes import free_port, stop_process_group, wait_until_answering

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from core.cli import main; main()"]
REPO = Path(__file__).resolve().parents[2]

# command name -> (arguments, the URL that answers once it serves, or None for enrich), for a folder and a port
Command = Callable[[Path, int], tuple[list[str], str | None]]
COMMANDS: dict[str, Command] = {
    "up": lambda d, p: (
        ["up", "--port", str(p), "--data-dir", str(d / "data"), "--registry", str(d / "schemas")],
        f"http://127.0.0.1:{p}/health",
    ),
    "collector": lambda d, p: (
        [
            *("collector", "--host", "127.0.0.1", "--port", str(p), "--raw", f"sqlite://{d}/queue.db"),
            *("--spool", str(d / "spool.db"), "--lake", str(d / "lake")),
        ],
        f"http://127.0.0.1:{p}/health",
    ),
    "enrich": lambda d, p: (
        [
            *("enrich", "--raw", f"sqlite://{d}/queue.db", "--lake", str(d / "lake")),
            *("--registry", str(d / "schemas"), "--cache-ttl", "3"),
        ],
        None,
    ),
    "registry serve": lambda d, p: (
        ["registry", "serve", "--registry", str(d / "schemas"), "--port", str(p)],
        f"http://127.0.0.1:{p}/api/meta/health",
    ),
}


def _env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTKIT_LOG")}
    return {**env, **variables}


def _log_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects among the output lines (banners and other plain text are left out)."""
    found = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _run(name: str, tmp_path: Path, env: dict[str, str], until: Callable[[str], bool]) -> str:
    """Start the command, wait until it serves (and `until` holds for its output), stop it; its whole output."""
    (tmp_path / "schemas").mkdir(exist_ok=True)
    args, url = COMMANDS[name](tmp_path, free_port())
    log = tmp_path / f"{name.replace(' ', '-')}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, *args], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        if url is not None:
            wait_until_answering(process, url, name=name, log=log.read_text, timeout=60, interval=0.1)
        deadline = time.monotonic() + 30
        while not until(log.read_text()) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
    finally:
        stop_process_group(process, grace=30)
    return log.read_text()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_json_lines_at_the_configured_level(name: str, tmp_path: Path) -> None:
    """EVENTKIT_LOG_JSON=true and EVENTKIT_LOG_LEVEL=info: the command's log lines are JSON objects, info included
    (and `up` / `enrich` cache schemas for EVENTKIT_REGISTRY__CACHE_TTL / --cache-ttl, the flag winning)."""

    def has_info(text: str) -> bool:
        # `up` prints its banner once its enrich and loader processes are ready: wait for it too.
        ready = name != "up" or "  processes    server," in text
        return ready and any(line.get("level") == "info" for line in _log_lines(text))

    # The registry cache TTL rides along: a setting for `up`, the --cache-ttl flag for enrich (see COMMANDS).
    env = _env(EVENTKIT_LOG_JSON="true", EVENTKIT_LOG_LEVEL="info", EVENTKIT_REGISTRY__CACHE_TTL="7")
    output = _run(name, tmp_path, env, has_info)
    lines = _log_lines(output)
    assert any(line.get("level") == "info" and line.get("timestamp") for line in lines), output[-3000:]
    if name == "up":  # its enrich worker processes log in the configured format and level too
        assert any(line.get("event") == "enrich worker started" for line in lines), output[-3000:]
    if name in ("up", "enrich"):
        assert ("cached 7 s" if name == "up" else "cached 3 s") in output, "the resolver uses the configured TTL"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_warning_level_hides_info_lines(name: str, tmp_path: Path) -> None:
    """EVENTKIT_LOG_LEVEL=warning: nothing below warning is logged, whatever the command."""
    started = time.monotonic()
    output = _run(
        name,
        tmp_path,
        _env(EVENTKIT_LOG_JSON="true", EVENTKIT_LOG_LEVEL="warning"),
        lambda _: time.monotonic() - started > 3,  # enrich has no URL: give its worker time to start and log
    )
    assert not [line for line in _log_lines(output) if line.get("level") in ("debug", "info")], output[-3000:]


def test_readable_text_on_a_terminal(tmp_path: Path) -> None:
    """With log_json unset and stderr a terminal, the collector logs coloured text lines, not JSON."""
    args, _ = COMMANDS["collector"](tmp_path, free_port())
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*CLI, *args],
        cwd=tmp_path,
        env=_env(EVENTKIT_LOG_LEVEL="info"),
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"Application startup complete" not in seen and time.monotonic() < deadline and process.poll() is None:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
    finally:
        stop_process_group(process, grace=30)
        os.close(leader)
    text = seen.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if "Application startup complete" in ln), None)
    assert line is not None, text[-3000:]
    assert "info" in line and not line.lstrip().startswith("{"), line
