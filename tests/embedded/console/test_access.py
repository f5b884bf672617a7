"""Who may open the console: off on loopback, `--console-auth` (token or user:password) required beyond it."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from embedded.console import ConsoleSources, create_console
from embedded.console.security import AUTH_COOKIE, is_loopback
from tests.enrich.processes import REPO


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


LOCAL = "http://127.0.0.1:9090"


def test_no_auth_lets_everyone_on_this_machine_in() -> None:
    """Without --console-auth (loopback) every page answers to a loopback Host, and only to one (DNS rebinding)."""
    client = TestClient(create_console(ConsoleSources()), base_url=LOCAL)
    assert client.get("/console/schemas").status_code == 404  # no registry here, but no login either
    for host in ("localhost:9090", "127.0.0.1", "[::1]:9090", "localhost"):
        assert client.get("/favicon.ico", headers={"Host": host}).status_code == 200, host
    for host in ("attacker.example:9090", "attacker.example", "10.0.0.1:9090", ""):
        assert client.get("/favicon.ico", headers={"Host": host}).status_code == 403, host


def test_a_token_is_accepted_as_bearer_basic_password_or_once_in_the_url() -> None:
    """A token opens the console as a bearer header, a basic-auth password, or `?token=` (which becomes a cookie and
    leaves the address); the icon and stylesheet need none."""
    client = TestClient(create_console(ConsoleSources(), auth="s3cret-token"), base_url="http://console.example")
    page = "/console/schemas"
    refused = client.get(page)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert client.get(page, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(page, headers={"Authorization": "Bearer s3cret-token"}).status_code == 404  # in, no registry
    assert client.get(page, headers=_basic("anyone", "s3cret-token")).status_code == 404
    assert client.get(page, headers={"Authorization": "Basic !!!"}).status_code == 401
    assert client.get("/favicon.ico").status_code == 200
    assert client.get("/console/static/console.css").status_code == 200
    first = client.get("/console/events?token=s3cret-token&app=shop", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/console/events?app=shop"
    assert AUTH_COOKIE in first.cookies
    assert client.get(page).status_code == 404  # the cookie now
    stranger = TestClient(client.app, base_url="http://console.example")
    assert stranger.get("/console/events?token=nope").status_code == 401


def test_user_and_password_is_basic_auth_only() -> None:
    """`user:password` is checked as basic auth; a bearer or URL token of the same text does not open it."""
    client = TestClient(create_console(ConsoleSources(), auth="ann:pa:ss"), base_url="http://console.example")
    page = "/console/health"
    assert client.get(page, headers=_basic("ann", "pa:ss")).status_code == 200
    assert client.get(page, headers=_basic("bob", "pa:ss")).status_code == 401
    assert client.get(page, headers={"Authorization": "Bearer ann:pa:ss"}).status_code == 401
    assert client.get(page + "?token=ann:pa:ss").status_code == 401


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("::", False), ("192.168.1.5", False), ("example.com", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    """Only loopback addresses count as local; all-interfaces and named hosts do not."""
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("command", ["up", "console"])
def test_listening_beyond_loopback_without_auth_is_refused_in_one_line(command: str, tmp_path: Path) -> None:
    """`up`/`console --host 0.0.0.0` without --console-auth exit 2 with one line, having made nothing."""
    data = tmp_path / "data"
    result = _cli(command, "--host", "0.0.0.0", "--port", "0", "--data-dir", str(data))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--console-auth" in result.stderr
    assert not data.exists()


def test_console_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    """Nothing to show, a missing data folder, an empty auth: exit 2 with one line each."""
    for args in (
        ["console"],
        ["console", "--data-dir", str(tmp_path / "missing")],
        ["console", "--data-dir", str(tmp_path), "--console-auth", ""],
        ["console", "--lake", str(tmp_path), "--port", "0"],  # a lake but no registry
    ):
        result = _cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0, result.stderr


def test_up_with_console_auth_guards_the_console_only(tmp_path: Path) -> None:
    """`up --console-auth` asks for the token on the console's pages; trackers, /micro and /health are unchanged."""
    from tests.embedded.console.rig import pixel, running_up, wait_for

    with running_up(tmp_path, console_auth="tok-9") as (_, client, _):
        pixel(client, e="pv", aid="shop")
        wait_for(client, 1)
        assert client.get("/console/events").status_code == 401
        assert client.get("/console/events", headers={"Authorization": "Bearer tok-9"}).status_code == 200
        assert client.get("/micro/all").json()["total"] == 1 and client.get("/health").status_code == 200
