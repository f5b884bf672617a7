"""SIGTERM ends a collector within its drain timeout even when a write it waits for never finishes."""

from __future__ import annotations

import signal
import sqlite3
import time
import urllib.request
from pathlib import Path

from collector.shutdown import DRAIN_EXIT_CODE
from collector.spool import Spool
from tests.collector.processes import CollectorProcess


def test_sigterm_exits_within_the_drain_timeout_while_the_queue_is_locked(tmp_path: Path) -> None:
    """Another process holds the queue's write lock (the queue waits 30 s for it): the request is answered from the
    spool, and SIGTERM still ends the collector within the 3 s drain timeout, saying so, with the record kept."""
    queue = tmp_path / "queue.db"
    spool_path = tmp_path / "spool.db"
    server = CollectorProcess(
        "--raw",
        f"sqlite:///{queue}",
        "--spool",
        str(spool_path),
        log=tmp_path / "c.log",
        env={"EVENTKIT_COLLECTOR__DRAIN_TIMEOUT": "3"},
    )
    locker = sqlite3.connect(queue, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # every write to the queue now waits (its busy timeout is 30 s)
        with urllib.request.urlopen(f"{server.base}/i?e=pv&eid=kept", timeout=10) as r:
            assert r.status == 200  # after the 1 s publish timeout, from the spool
        server.signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = server.wait(15)
        assert time.monotonic() - signalled < 3 + 1.5
        assert code == DRAIN_EXIT_CODE
        assert "shutdown did not finish within the drain timeout of 3 s" in (tmp_path / "c.log").read_text()
        spool = Spool(spool_path)
        try:
            assert spool.count() == 1  # what was answered 200 is still there for the next start
        finally:
            spool.close()
    finally:
        locker.close()
        server.kill()
