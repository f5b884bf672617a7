"""A raw queue that cannot be opened at start-up: the collector starts anyway, serves from its spool, recovers."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from collector.spool import Spool
from tests.collector.conftest import read_queue
from tests.collector.processes import CollectorProcess


def test_unopenable_queue_serves_from_the_spool_and_drains_once_it_opens(tmp_path: Path) -> None:
    """With the queue path taken by a folder, the collector starts, answers 200 from the spool with /sink-health 503;
    once the path is freed the spool drains into the queue and /sink-health turns 200 without a restart."""
    blocked = tmp_path / "queue.db"
    blocked.mkdir()  # SQLite cannot open a folder as a database
    spool_path = tmp_path / "spool.db"
    server = CollectorProcess("--raw", f"sqlite:///{blocked}", "--spool", str(spool_path), log=tmp_path / "c.log")
    try:
        for i in range(3):
            with urllib.request.urlopen(f"{server.base}/i?e=pv&eid=spooled-{i}", timeout=5) as r:
                assert r.status == 200
        assert server.status("/sink-health") == 503
        spool = Spool(spool_path)
        try:
            assert spool.count() == 3
        finally:
            spool.close()
        assert "queue_unavailable_at_start" in (tmp_path / "c.log").read_text()
        blocked.rmdir()
        deadline = time.monotonic() + 10
        while server.status("/sink-health") != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.status("/sink-health") == 200
        deadline = time.monotonic() + 10
        records = read_queue(f"sqlite:///{blocked}")
        while len(records) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
            records += read_queue(f"sqlite:///{blocked}")
        assert sorted(dict(r.querystring)["eid"] or "" for r in records) == [f"spooled-{i}" for i in range(3)]
    finally:
        server.kill()


def test_an_unopenable_spool_is_one_clear_error_line(tmp_path: Path) -> None:
    """With nowhere to keep records (the spool path is a folder), start-up fails with exit 1 and one clear line."""
    (tmp_path / "spool.db").mkdir()
    result = subprocess.run(
        [
            *(sys.executable, "-c", "from core.cli import main; main()", "collector", "--port", "0"),
            *("--raw", f"sqlite:///{tmp_path}/q.db", "--spool", str(tmp_path / "spool.db")),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: spool ") and "cannot open" in result.stderr
    assert "Traceback" not in result.stderr
