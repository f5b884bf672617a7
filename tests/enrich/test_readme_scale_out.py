"""The README's "Scale out on Google Cloud" sequence, run as written (ports, project and bucket swapped for
the test's own) against the Pub/Sub emulator and fake-gcs-server: the page view it sends reaches the warehouse."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.services.gcs import FakeGcs
from tests.services.processes import free_port, stop_process_group, wait_until_answering
from tests.services.pubsub import PubSubEmulator

pytestmark = [pytest.mark.slow, pytest.mark.pubsub, pytest.mark.gcs]

REPO = Path(__file__).resolve().parents[2]
EVENTKIT = [sys.executable, "-c", "from core.cli import main; main()"]


def readme_commands() -> list[str]:
    """The `eventkit` and `curl` lines of the README's scale-out shell block, continuation lines joined."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Scale out on Google Cloud", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith(("eventkit ", "curl "))]


def test_the_readme_scale_out_sequence_loads_the_event(
    tmp_path: Path, pubsub_emulator: PubSubEmulator, pubsub_project: str, gcs_emulator: FakeGcs
) -> None:
    """enrich --create-bucket, then collector, a tracker hit and load, as the README shows them, load one event."""
    port, bucket = free_port(), f"readme-{uuid.uuid4().hex[:12]}"

    def ours(line: str) -> list[str]:
        line = line.replace("pubsub://demo/", f"pubsub://{pubsub_project}/").replace("demo-lake", bucket)
        line = line.replace("localhost:8080", f"127.0.0.1:{port}").replace("--port 8080", f"--port {port}")
        line = line.replace("/tmp/warehouse.duckdb", str(tmp_path / "warehouse.duckdb"))
        return shlex.split(line.rstrip("&").strip())

    commands = [ours(line) for line in readme_commands()]
    assert [c[:2] for c in commands] == [
        ["eventkit", "enrich"],
        ["eventkit", "collector"],
        ["curl", f"http://127.0.0.1:{port}/i?e=pv&p=web&tv=curl-0.1&url=https%3A%2F%2Fexample.com%2F"],
        ["eventkit", "load"],
    ]
    enrich_cmd, collector_cmd, (_, hit), load_cmd = commands
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("enrich", "collector")}
    started: list[subprocess.Popen[bytes]] = []
    try:
        # enrich reads `--registry schemas` from the repository; the collector keeps its spool in ./data
        for name, cmd, cwd in (("enrich", enrich_cmd, REPO), ("collector", collector_cmd, tmp_path)):
            started.append(
                subprocess.Popen(
                    [*EVENTKIT, *cmd[1:]],
                    cwd=cwd,
                    stdout=logs[name],
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=dict(os.environ),
                )
            )
            if name == "enrich":  # its subscription must exist before the collector publishes
                deadline = time.monotonic() + 30
                while "worker started" not in (tmp_path / "enrich.log").read_text() and time.monotonic() < deadline:
                    assert started[0].poll() is None, (tmp_path / "enrich.log").read_text()
                    time.sleep(0.1)
        wait_until_answering(
            started[1],
            f"http://127.0.0.1:{port}/health",
            name="collector",
            log=(tmp_path / "collector.log").read_text,
            timeout=30,
            interval=0.1,
        )
        with urllib.request.urlopen(hit, timeout=10) as response:
            assert response.status == 200
        loaded = 0
        deadline = time.monotonic() + 30  # the README waits for enrich's --max-age cut; poll instead
        while not loaded and time.monotonic() < deadline:
            result = subprocess.run(
                [*EVENTKIT, *load_cmd[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
            )
            assert result.returncode == 0, result.stderr
            loaded += json.loads(result.stdout)["rows_loaded"]
            time.sleep(0.5)
        assert loaded == 1, (tmp_path / "enrich.log").read_text()
    finally:
        for proc in reversed(started):
            stop_process_group(proc, grace=30)
        for log in logs.values():
            log.close()
    banner = (tmp_path / "collector.log").read_text()
    assert re.search(rf"eventkit collector: listening on http://\S+:{port} ", banner), banner
