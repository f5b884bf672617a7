"""Real collector processes for tests: `eventkit collector` on a free port in its own process group; a load thread."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.services.processes import free_port, wait_until_answering

PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"


class CollectorProcess:
    """`python -m core.cli collector ...` as a child process group; stop it with any signal."""

    def __init__(self, *args: str, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from core.cli import main; main()",
                    "collector",
                    "--port",
                    str(self.port),
                    *args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=log.parent,
                # Unset locations (spool, lake) default under data_dir: keep them in the test's folder.
                env={**os.environ, "EVENTKIT_DATA_DIR": str(log.parent / "data"), **(env or {})},
            )
        self.wait_ready()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        url = f"{self.base}/health"
        log = self.log
        wait_until_answering(
            self.process, url, name="collector", log=lambda: log.read_text()[-2000:], timeout=timeout, interval=0.1
        )

    def status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"{self.base}{path}", timeout=2) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    def signal(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass


def post_body(eids: list[str]) -> bytes:
    events = [{"e": "pv", "eid": eid, "tv": "load", "p": "srv"} for eid in eids]
    return json.dumps({"schema": PAYLOAD_DATA, "data": events}).encode()


class Load:
    """Threads POSTing uniquely numbered events over keep-alive connections; remembers which were answered 200."""

    def __init__(self, port: int, *, threads: int = 8, prefix: str = "ev", batch: int = 1) -> None:
        self.port = port
        self.prefix = prefix
        self.batch = batch
        self.acknowledged: set[str] = set()
        self.refused = 0
        self.errors = 0
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._counter = 0
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def _next(self) -> list[str]:
        with self._lock:
            start = self._counter
            self._counter += self.batch
        return [f"{self.prefix}-{i}" for i in range(start, start + self.batch)]

    def _run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            if self.paused.is_set():
                time.sleep(0.02)
                continue
            eids = self._next()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request(
                    "POST",
                    "/com.snowplowanalytics.snowplow/tp2",
                    body=post_body(eids),
                    headers={"Content-Type": "application/json; charset=utf-8"},
                )
                response = conn.getresponse()
                response.read()
                with self._lock:
                    if response.status == 200:
                        self.acknowledged.update(eids)
                    else:
                        self.refused += 1
            except (OSError, http.client.HTTPException):
                with self._lock:
                    self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()
