"""`eventkit up`'s process layout: enrich workers and the loader are child processes of the server, restarted when
they die, stopped with it, never left behind when it is killed, and no accepted event is lost or doubled meanwhile."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from core.lake.local import LocalLake
from core.supervise import ORPHAN_GRACE_S
from tests.enrich.event_mix import read_lake
from tests.loader.test_embedded import query
from tests.services.processes import free_port, stop_process_group, wait_until_answering

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]

CLI = [sys.executable, "-c", "from core.cli import main; main()"]
TP2 = "/com.snowplowanalytics.snowplow/tp2"


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children of any of its threads, and theirs)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return found
    for task in tasks:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for child in map(int, (task / "children").read_text().split()):
                if alive(child):
                    found.append(child)
                    found.extend(descendants(child))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie nobody reaped yet has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Up:
    """`eventkit up` on a data folder, in its own process group; the log is kept for assertions."""

    def __init__(self, tmp: Path, *extra: str, log_name: str = "up.log") -> None:
        self.data = tmp / "data"
        (tmp / "schemas").mkdir(exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp / log_name
        args = ["up", "--port", str(self.port), "--data-dir", str(self.data), "--registry", str(tmp / "schemas")]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*CLI, *args, *extra], cwd=tmp, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until_answering(self.proc, f"{self.base}/health", name="up", log=self.text, timeout=60, interval=0.1)
        # The banner comes once every child process is ready.
        wait_for(lambda: "  processes    server," in self.text(), "the banner")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> dict[str, int]:
        """The named child processes (enrich-N, loader) by name; multiprocessing's resource tracker left out."""
        return {name(p): p for p in descendants(self.pid) if name(p).startswith(("enrich-", "loader"))}

    def stop(self) -> int:
        stop_process_group(self.proc, grace=40)
        return self.proc.returncode

    def lake_ids(self) -> list[str]:
        return read_lake(LocalLake(self.data / "lake")).good_ids

    def warehouse(self) -> tuple[int, int]:
        """(rows, distinct event ids) in the warehouse's events table (0, 0 before the first load)."""
        path = self.data / "warehouse.duckdb"
        if not path.exists():
            return 0, 0
        tables = {r[0] for r in query(path, "SELECT table_name FROM information_schema.tables")}
        if "events" not in tables:
            return 0, 0
        rows, distinct = query(path, "SELECT count(*), count(DISTINCT event_id) FROM events")[0]
        return int(rows), int(distinct)


@pytest.fixture
def cleanup() -> Iterator[list[Up]]:
    """Every `up` a test starts is stopped with its process group, whatever the outcome."""
    started: list[Up] = []
    yield started
    for up in started:
        if up.proc.poll() is None:
            up.stop()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(up.pid, signal.SIGKILL)


def batch(n: int) -> tuple[bytes, list[str]]:
    """A tp2 POST body of `n` page views and their event ids."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    now = str(int(time.time() * 1000))
    data = [
        {"e": "pv", "eid": eid, "p": "web", "tv": "js-3.0.0", "url": "https://shop.example/", "dtm": now} for eid in ids
    ]
    schema = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
    return json.dumps({"schema": schema, "data": data}).encode(), ids


class Sender(threading.Thread):
    """Posts `posts` batches of 50 events one after another; `accepted` holds the ids of those answered 200."""

    def __init__(self, base: str, posts: int, *, until_refused: bool = False) -> None:
        super().__init__(daemon=True)
        self.base, self.posts, self.until_refused = base, posts, until_refused
        self.accepted: list[str] = []
        self.attempted: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            for _ in range(self.posts):
                body, ids = batch(50)
                self.attempted += ids
                try:
                    r = client.post(TP2, content=body, headers={"content-type": "application/json"})
                except httpx.HTTPError:
                    if self.until_refused:
                        return
                    raise
                if r.status_code == 200:
                    self.accepted += ids
                elif not self.until_refused:
                    raise AssertionError(f"{r.status_code}: {r.text}")


def mapped(pid: int, *names: str) -> set[str]:
    """The shared libraries of `pid` whose file names start with one of `names`."""
    files = {Path(line.split()[-1]).name for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if "/" in line}
    return {f for f in files if f.startswith(names)}


def send(base: str, posts: int) -> list[str]:
    sender = Sender(base, posts)
    sender.run()
    return sender.accepted


def test_enrich_workers_and_loader_are_child_processes_and_metrics_add_up(tmp_path: Path, cleanup: list[Up]) -> None:
    """`up --workers 2` runs two enrich processes and a loader process (named so in ps), none of them the server;
    events reach the lake and the warehouse once each, /metrics/enrich counts them over both workers, and
    SIGTERM ends everything with exit code 0. The server collects and answers Micro without loading Arrow or
    DuckDB (~60 MB each process that does), which only its children use."""
    up = Up(tmp_path, "--workers", "2")
    cleanup.append(up)
    kids = up.children()
    assert sorted(kids) == ["enrich-0", "enrich-1", "loader"], kids
    assert up.pid not in kids.values() and len(set(kids.values())) == 3
    ids = send(up.base, 20)
    wait_for(lambda: up.warehouse() == (len(ids), len(ids)), "every event in the warehouse once")
    assert sorted(up.lake_ids()) == sorted(ids)
    snapshots = list((up.data / "metrics").glob("*.prom"))
    assert len(snapshots) == 2, snapshots  # one per worker process, added up by the server
    metrics = httpx.get(f"{up.base}/metrics/enrich").text
    assert f"enrich_commit_latency_seconds_count {float(len(ids))}" in metrics, metrics
    assert "enrich_messages_acked_total 20.0" in metrics, metrics  # one raw message per POST
    assert len(httpx.get(f"{up.base}/micro/good").json()) == len(ids)
    assert mapped(up.pid, "libarrow", "libparquet", "_duckdb") == set()
    assert mapped(kids["enrich-0"], "libarrow") and mapped(kids["loader"], "_duckdb")  # what the check looks for
    assert up.stop() == 0, up.text()[-3000:]
    assert not [p for p in kids.values() if alive(p)]


def test_a_killed_enrich_worker_is_restarted_and_its_events_end_once(tmp_path: Path, cleanup: list[Up]) -> None:
    """kill -9 of one enrich process while events flow: the server says so in one line and starts another, and
    every accepted event still ends in the lake, and exactly once in the warehouse."""
    up = Up(tmp_path, "--workers", "2", "--lease-seconds", "5")
    cleanup.append(up)
    victim = up.children()["enrich-0"]
    sender = Sender(up.base, 60)
    sender.start()
    wait_for(lambda: len(sender.accepted) >= 500, "the first events to be accepted")
    os.kill(victim, signal.SIGKILL)
    sender.join(120)
    wait_for(lambda: f"enrich-0 (pid {victim}) exited with -9; restarting it" in up.text(), "the restart line")
    wait_for(lambda: up.children().get("enrich-0", victim) != victim, "a new enrich-0 process")
    assert len(sender.accepted) == 3000
    wait_for(lambda: up.warehouse() == (3000, 3000), "every event in the warehouse once", timeout=90)
    assert set(up.lake_ids()) == set(sender.accepted)
    assert up.stop() == 0, up.text()[-3000:]


def test_killing_the_server_leaves_no_child_and_loses_nothing(tmp_path: Path, cleanup: list[Up]) -> None:
    """kill -9 of the server: its children commit what they hold and exit within seconds; while one is still
    alive a second `up` on the folder is refused; a new `up` then finds every accepted event, each once."""
    up = Up(tmp_path, "--workers", "2", "--lease-seconds", "5")
    cleanup.append(up)
    ids = send(up.base, 30)
    kids = up.children()
    everyone = descendants(up.pid)
    os.kill(kids["loader"], signal.SIGSTOP)  # holds its share of the data folder's lock until continued
    os.kill(up.pid, signal.SIGKILL)
    up.proc.wait(10)
    # Each flushes what it holds, then exits: within seconds when the machine is idle, and at the latest when the
    # supervisor's orphan grace runs out (core.supervise.ORPHAN_GRACE_S). A 10 s bound failed once on a busy CI.
    exit_bound = ORPHAN_GRACE_S + 5
    workers = (kids["enrich-0"], kids["enrich-1"])
    wait_for(lambda: not any(alive(p) for p in workers), "the enrich workers to exit", exit_bound)

    second = subprocess.run(
        [*CLI, "up", "--port", str(free_port()), "--data-dir", str(up.data), "--registry", str(tmp_path / "schemas")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert second.returncode == 2, second.stderr
    assert f"another eventkit is using {up.data.resolve()}" in second.stderr

    os.kill(kids["loader"], signal.SIGCONT)
    wait_for(lambda: not any(alive(p) for p in everyone), "every process of the killed `up` to exit", exit_bound)

    again = Up(tmp_path, "--workers", "2", log_name="again.log")
    cleanup.append(again)
    wait_for(lambda: again.warehouse() == (len(ids), len(ids)), "every accepted event in the warehouse once")
    assert sorted(again.lake_ids()) == sorted(ids)  # the children committed and acked before exiting: no repeat
    assert again.stop() == 0, again.text()[-3000:]


def _leased(queue_db: Path) -> int:
    """Raw messages a consumer holds (leased, not acknowledged) in the embedded queue."""
    with contextlib.closing(sqlite3.connect(queue_db)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'queue_%'")]
        now = int(time.time() * 1000)
        return sum(
            conn.execute(f'SELECT count(*) FROM "{t}" WHERE lease_until > ?', (now,)).fetchone()[0] for t in tables
        )


def test_sigterm_stops_cleanly_and_every_accepted_event_ends_in_the_lake_once(
    tmp_path: Path, cleanup: list[Up]
) -> None:
    """SIGTERM while events flow: exit code 0, no child left, every raw message a worker held committed and
    acknowledged (none still leased); what was still queued is enriched by the next `up`, none twice."""
    up = Up(tmp_path, "--workers", "2")
    cleanup.append(up)
    kids = up.children()
    sender = Sender(up.base, 80, until_refused=True)
    sender.start()
    wait_for(lambda: len(sender.accepted) >= 1500, "events to flow")
    wait_for(lambda: len(up.lake_ids()) > 0, "the first good file")
    assert up.stop() == 0, up.text()[-3000:]
    sender.join(60)
    assert not [p for p in kids.values() if alive(p)]
    assert "eventkit up: stopped" in up.text()
    assert _leased(up.data / "queue.db") == 0
    first = up.lake_ids()
    assert len(first) == len(set(first))

    again = Up(tmp_path, "--workers", "2", log_name="again.log")
    cleanup.append(again)
    wait_for(lambda: set(sender.accepted) <= set(again.lake_ids()), "every accepted event in the lake")
    time.sleep(1.5)  # a duplicate would arrive within one more file age
    lake = again.lake_ids()
    assert len(lake) == len(set(lake))
    assert set(lake) <= set(sender.attempted)  # and maybe some whose answer the stop cut off
    assert again.stop() == 0, again.text()[-3000:]
