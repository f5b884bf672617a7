"""A full disk under `eventkit up` (data and log on it): every request is answered at once, SIGTERM ends the process.

The disk is a real 16 MB tmpfs filled to the last block, so every write fails as it would on a full
disk (ENOSPC from the kernel, not a test double). Mounting needs root; elsewhere the test is skipped
and the log-failure half is still covered by tests/core/test_telemetry.py (writes to /dev/full).
"""

from __future__ import annotations

import errno
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.spool import Spool, SpoolUnavailable
from tests.services.processes import free_port, wait_until_answering

TP2 = "/com.snowplowanalytics.snowplow/tp2"
BODY = b'{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web"}]}'
DRAIN_TIMEOUT_S = 4


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs mounted for this test (unmounted after it)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small real disk needs a tmpfs mount (root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> None:
    """Write to `disk` until the kernel refuses even one more byte."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        size = 1 << 16
        while size:
            try:
                os.write(fd, b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC
                size //= 2
    finally:
        os.close(fd)


def post(port: int) -> tuple[int, bytes, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", TP2, body=BODY, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read(), time.monotonic() - started
    finally:
        conn.close()


def test_full_disk_answers_503_at_once_and_sigterm_stops_within_the_drain_timeout(
    tmp_path: Path, small_disk: Path
) -> None:
    """With queue, spool, lake, Micro store, warehouse and the log file on a disk that fills up, every request is
    answered within 2 s (200 while a write still fits, else 503 with a reason) and SIGTERM ends the process within
    the drain timeout (the old code left requests unanswered once the log could not be written, and then ignored
    SIGTERM until kill -9)."""
    (tmp_path / "schemas").mkdir()
    port = free_port()
    log_path = small_disk / "up.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-c", "from core.cli import main; main()", "up", "--port", str(port)),
                *("--data-dir", str(small_disk / "data"), "--registry", str(tmp_path / "schemas")),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp_path,
            env={**os.environ, "EVENTKIT_COLLECTOR__DRAIN_TIMEOUT": str(DRAIN_TIMEOUT_S)},
        )
    try:
        wait_until_answering(
            process, f"http://127.0.0.1:{port}/health", name="up", log=log_path.read_text, timeout=30, interval=0.1
        )
        assert post(port)[0] == 200
        fill(small_disk)
        statuses = []
        # Enough failures for their log lines to fill the log file's last block too, spread over several of the
        # collector's drain intervals (its queue probe reads fine on a full disk and switches back to direct
        # publishing, whose next failure is where a log write that raised left requests unanswered).
        for _ in range(80):
            time.sleep(0.05)
            status, body, seconds = post(port)
            assert seconds < 2.0, f"a request took {seconds:.1f} s on a full disk"
            assert status in (200, 503)
            if status == 503:
                assert b"could not be stored durably; retry later" in body
            statuses.append(status)
        assert statuses.count(503) >= 70
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
        conn.close()
        os.killpg(process.pid, signal.SIGTERM)
        signalled = time.monotonic()
        process.wait(DRAIN_TIMEOUT_S + 3)
        assert time.monotonic() - signalled <= DRAIN_TIMEOUT_S + 2
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def test_a_spool_on_a_full_disk_names_the_cause(small_disk: Path) -> None:
    """The spool's error on a full disk says the disk is full (a failed ROLLBACK used to hide it behind
    "cannot rollback - no transaction is active")."""
    spool = Spool(small_disk / "spool.db")
    try:
        spool.append([b"before"])
        fill(small_disk)
        with pytest.raises(SpoolUnavailable, match="database or disk is full"):
            spool.append([b"x" * 200_000])
        assert spool.count() == 1
    finally:
        spool.close()
