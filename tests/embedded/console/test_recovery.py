"""Recovery from the console: the dry-run preview agrees with `eventkit replay --dry-run`, and a replay needs the
page's CSRF token and a confirmation before anything is sent."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from embedded.up import LIVE_SCHEMA_TTL_S
from tests.embedded.console.rig import pixel, running_up, ue, wait_for, wait_for_lake_bad
from tests.enrich.event_mix import ACME_SCHEMAS


@pytest.fixture
def refused(tmp_path: Path) -> Iterator[tuple[TestClient, Path, Path, str]]:
    """An `up` holding one bad row: an event of a schema the registry does not have yet (one per test: they send)."""
    tmp = tmp_path
    with running_up(tmp) as (_, client, registry):
        eid = pixel(client, e="ue", aid="shop", ue_px=ue("late_schema", {"a": 1}))
        wait_for(client, 1)
        wait_for_lake_bad(tmp / "data", 1)
        yield client, registry, tmp / "data", eid


def _recovery_link(client: TestClient) -> str:
    page = client.get("/console/bad").text
    links = [html.unescape(u) for u in re.findall(r'href="(/console/recovery\?[^"]+)"', page)]
    assert len(links) == 1, links
    return links[0]


def _form(page: str) -> dict[str, str]:
    form = page[page.index('<form method="post"') : page.index("</form>", page.index('<form method="post"'))]
    return {html.unescape(k): html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form)}


def _would_pass(page: str) -> int:
    m = re.search(r"data-would-pass>(\d+)<", page)
    assert m is not None
    return int(m.group(1))


def _publish_late_schema(registry: Path) -> None:
    schema = json.loads(json.dumps(ACME_SCHEMAS["checkout"]))
    schema["self"]["name"] = "late_schema"
    schema["properties"], schema["required"] = {"a": {"type": "integer"}}, ["a"]
    folder = registry / "com.acme" / "late_schema" / "jsonschema"
    folder.mkdir(parents=True)
    (folder / "1-0-0").write_text(json.dumps(schema))


def _cli_dry_run(data: Path) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", "replay", "--data-dir", str(data), "--dry-run",
         "--json", "--schema", "com.acme/late_schema"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report: dict[str, Any] = json.loads(run.stdout)
    return report


def test_preview_is_the_replay_dry_run_and_follows_the_registry(refused: tuple[TestClient, Path, Path, str]) -> None:
    """Before the schema exists nothing would pass; once it is published the same row would, as the CLI says."""
    client, registry, data, _ = refused
    link = _recovery_link(client)
    before = client.get(link).text
    assert _would_pass(before) == 0 == _cli_dry_run(data)["would_pass"]
    assert "nothing has been sent" in before and 'method="post"' not in before  # nothing to replay yet

    _publish_late_schema(registry)
    after = client.get(link).text
    assert _would_pass(after) == 1 == _cli_dry_run(data)["would_pass"]
    assert not (data / "lake" / "replayed").exists()  # a preview sends and records nothing


def test_replay_needs_the_csrf_token_and_a_confirmation(refused: tuple[TestClient, Path, Path, str]) -> None:
    """A POST without the page's token, or from another site, sends nothing; the first valid POST asks to confirm;
    the confirmed one sends the row, which then arrives as a good event with its original id."""
    client, registry, data, eid = refused
    _publish_late_schema(registry)
    # Each enrich worker (a process of its own) caches the schema's absence for up to LIVE_SCHEMA_TTL_S: replay
    # once the server sees the schema (/micro/iglu) and that long again has passed, so every worker sees it too.
    deadline = time.monotonic() + 10
    while client.get("/micro/iglu/com.acme/late_schema/jsonschema/1-0-0").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(LIVE_SCHEMA_TTL_S + 0.2)
    preview = client.get(_recovery_link(client)).text
    form = _form(preview)
    assert form["csrf"] and form["type"] == "schema_violations"

    forged = client.post("/console/recovery", data={**form, "csrf": "guess", "confirm": "yes"})
    assert forged.status_code == 403
    from_elsewhere = {"Sec-Fetch-Site": "cross-site"}
    cross_site = client.post("/console/recovery", data={**form, "confirm": "yes"}, headers=from_elsewhere)
    assert cross_site.status_code == 403
    confirm = client.post("/console/recovery", data=form)
    assert confirm.status_code == 200 and "Yes, replay 1 rows" in confirm.text
    assert not (data / "lake" / "replayed").exists()
    assert client.get("/micro/all").json()["good"] == 0

    sent = client.post("/console/recovery", data=_form(confirm.text))
    assert sent.status_code == 200 and "Sent 1 bad rows" in sent.text
    deadline = time.monotonic() + 30
    while client.get("/micro/all").json()["good"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    (good,) = client.get("/micro/good").json()
    assert good["event"]["event_id"] == eid
    again = client.post("/console/recovery", data=_form(confirm.text))
    assert "Sent 0 bad rows" in again.text  # the replay manifest remembers the row
