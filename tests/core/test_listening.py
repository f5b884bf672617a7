"""`eventkit collector` and `eventkit up` bind their port before announcing it: a banner says what listens,
and a port in use is one error line (exit 2) instead of a "serving" banner followed by a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.listening import bind_listening_socket
from tests.services.processes import free_port, wait_until_answering

REPO = Path(__file__).resolve().parents[2]
EVENTKIT = [sys.executable, "-c", "from core.cli import main; main()"]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else is listening on for the duration of the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def eventkit(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EVENTKIT, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_collector_prints_a_banner_naming_where_it_listens_and_writes(tmp_path: Path) -> None:
    """`eventkit collector` announces its address, raw queue, spool and bad-row lake on stderr, then serves."""
    port = free_port()
    raw = f"sqlite://{tmp_path / 'queue.db'}"
    spool, lake = tmp_path / "spool.db", tmp_path / "lake"
    args = ["collector", "--host", "127.0.0.1", "--port", str(port), "--raw", raw, "--spool", str(spool)]
    log = tmp_path / "collector.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*EVENTKIT, *args, "--lake", str(lake)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=out,
            start_new_session=True,
            env=dict(os.environ),
        )
        try:
            wait_until_answering(
                proc, f"http://127.0.0.1:{port}/health", name="collector", log=log.read_text, timeout=30, interval=0.1
            )
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    banner = log.read_text()
    assert f"eventkit collector: listening on http://127.0.0.1:{port} (1 worker)" in banner
    for where in (raw, str(spool), str(lake), f"http://127.0.0.1:{port}/health"):
        assert where in banner, banner


def test_collector_on_a_port_in_use_says_so_before_any_banner(tmp_path: Path, taken_port: int) -> None:
    """`eventkit collector --port P` with P taken exits 2 with one line naming the port, and no banner."""
    raw = f"sqlite://{tmp_path / 'queue.db'}"
    result = eventkit("collector", "--host", "127.0.0.1", "--port", str(taken_port), "--raw", raw, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"error: port {taken_port} is already in use on 127.0.0.1 (stop what listens there, or pass --port)"
    )


def test_up_on_a_port_in_use_says_so_before_the_serving_banner(tmp_path: Path, taken_port: int) -> None:
    """`eventkit up --port P` with P taken exits 2 naming the port, prints no banner and creates no data folder."""
    data = tmp_path / "data"
    result = eventkit("up", "--port", str(taken_port), "--data-dir", str(data), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"port {taken_port} is already in use" in result.stderr
    assert "eventkit up:" not in result.stderr and "collector    http" not in result.stderr
    assert not data.exists()


def test_binding_reports_the_address_it_could_not_take(taken_port: int) -> None:
    """The shared bind names the port in use, or the address it cannot listen on, as a ConfigError."""
    with pytest.raises(ConfigError, match=f"port {taken_port} is already in use on 127.0.0.1"):
        bind_listening_socket("127.0.0.1", taken_port)
    with pytest.raises(ConfigError, match=r"cannot listen on 192\.0\.2\.1:"):
        bind_listening_socket("192.0.2.1", 0)  # TEST-NET-1: never an address of this machine
    sock = bind_listening_socket("127.0.0.1", 0)
    try:
        assert sock.getsockname()[1] > 0
    finally:
        sock.close()
