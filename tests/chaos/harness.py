"""A chaos run: real collector and enrich processes under valid and hostile traffic, SIGKILLed at random, then audited.

The run proves the pipeline's promise from the outside: every request answered 200 ends as exactly
one good row in the warehouse or as bad rows naming it, the warehouse holds no duplicate, no answer
is a 5xx, no process dies unless the run killed it, and SIGTERM still stops each one cleanly.
`make chaos` runs it for minutes and prints the figures; `tests/chaos/test_chaos.py` runs it briefly.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import random
import re
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx

from core.lake.local import LocalLake
from enrich.outputs.parquet import decode_parquet
from tests.chaos.hostile import CATALOGUE, SP, Hostile, HttpRequest, RawBytes, hostile_schemas
from tests.enrich.event_mix import ACME_SCHEMAS
from tests.enrich.processes import EventkitProcess, free_port

__all__ = ["ChaosFigures", "ChaosRun"]

UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
B64 = re.compile(rb'"([A-Za-z0-9+/=_-]{24,})"')


@dataclass
class ChaosFigures:
    """What a run sent and what became of it."""

    seconds: float = 0.0
    requests: int = 0
    answers: Counter[int] = field(default_factory=Counter)  # HTTP status → count (0: connection refused or reset)
    by_class: Counter[str] = field(default_factory=Counter)
    acked_events: int = 0  # tracked markers answered 200
    acked_requests: int = 0
    good: int = 0
    bad: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: int = 0  # warehouse rows beyond the first per (event_id, event_fingerprint)
    good_and_bad: list[str] = field(default_factory=list)
    restarts: Counter[str] = field(default_factory=Counter)
    unexpected_exits: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    max_rss_mb: float = 0.0
    clean_stops: dict[str, int] = field(default_factory=dict)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.answers.items() if status >= 500)

    def table(self) -> str:
        rows = [
            ("seconds", f"{self.seconds:.0f}"),
            ("requests sent (with retries)", self.requests),
            ("answers", ", ".join(f"{s or 'refused'}: {n}" for s, n in sorted(self.answers.items()))),
            ("hostile classes sent", len(self.by_class)),
            ("events acked (tracked)", self.acked_events),
            ("requests acked (tracked)", self.acked_requests),
            ("good (warehouse rows)", self.good),
            ("bad (distinct bad rows)", self.bad),
            ("lost", len(self.lost)),
            ("duplicated in warehouse", self.duplicated),
            ("both good and bad", len(self.good_and_bad)),
            ("restarts survived", ", ".join(f"{k} {v}" for k, v in sorted(self.restarts.items())) or "0"),
            ("unexpected exits", len(self.unexpected_exits)),
            ("5xx answers", self.server_errors),
            ("max RSS of eventkit processes", f"{self.max_rss_mb:.0f} MB"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


class Stage:
    """One `eventkit` command the run may SIGKILL and restart."""

    def __init__(self, name: str, args: list[str], tmp: Path, health: str | None) -> None:
        self.name, self.args, self.tmp, self.health = name, args, tmp, health
        self.generation = 0
        self.proc = self._start()

    def _start(self) -> EventkitProcess:
        self.generation += 1
        proc = EventkitProcess(self.args, self.tmp / f"{self.name}-{self.generation}.log")
        if self.health:
            proc.wait_http(self.health, timeout=60)
        return proc

    def kill_and_restart(self) -> None:
        self.proc.kill()
        self.proc = self._start()

    def logs(self) -> Iterator[tuple[str, str]]:
        for path in sorted(self.tmp.glob(f"{self.name}-*.log")):
            yield path.name, path.read_text(errors="replace")


def _process_group_rss_mb(pgids: list[int]) -> float:
    """Resident memory of every process in these process groups (children included), from /proc."""
    total_kb = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            pgrp = int(stat.rsplit(")", 1)[1].split()[2])
            if pgrp not in pgids:
                continue
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total_kb / 1024


def _send_raw(port: int, data: bytes) -> int:
    """Write bytes to the collector as they are; the HTTP status answered, or 0 if the connection closed without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n" not in head and len(head) < 64:
                chunk = sock.recv(64)
                if not chunk:
                    break
                head += chunk
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else 0


class ChaosRun:
    """Collector and enrich as separate processes over a SQLite queue, a folder lake, then `eventkit load`."""

    def __init__(self, tmp: Path, seed: int, kill_every: tuple[float, float] = (6.0, 12.0)) -> None:
        self.tmp = tmp
        self.rng = random.Random(seed)
        self.kill_every = kill_every
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.lake_dir = tmp / "lake"
        self.registry = self._write_registry(tmp / "schemas")
        self.figures = ChaosFigures()
        self.acked_events: set[str] = set()
        self.acked_requests: set[str] = set()
        self._lock = threading.Lock()
        self.collector: Stage | None = None
        self.enrich: Stage | None = None

    @staticmethod
    def _write_registry(root: Path) -> Path:
        for name, schema in {**ACME_SCHEMAS, **hostile_schemas()}.items():
            folder = root / "com.acme" / name / "jsonschema"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "1-0-0").write_text(json.dumps(schema))
        return root

    def start(self) -> None:
        queue = f"sqlite:///{self.tmp}/queue.db"
        collector = ["collector", "--port", str(self.port), "--host", "127.0.0.1", "--raw", queue]
        collector += ["--spool", str(self.tmp / "spool.db"), "--lake", str(self.lake_dir)]
        self.collector = Stage("collector", collector, self.tmp, f"{self.base}/health")
        enrich = ["enrich", "--raw", queue, "--lake", str(self.lake_dir), "--registry", str(self.registry)]
        enrich += ["--max-age", "0.3", "--max-events", "500", "--lease-seconds", "4"]
        self.enrich = Stage("enrich", enrich, self.tmp, None)

    # -- traffic ------------------------------------------------------------------------------------------

    def _valid(self, marker: str) -> HttpRequest:
        """A valid event, by GET or in a small tp2 batch whose other events are valid too."""
        base = [("e", "pv"), ("eid", marker), ("p", "web"), ("tv", "chaos-1"), ("aid", "chaos"),
                ("url", f"https://shop.example.com/p/{marker[:8]}"), ("dtm", str(int(time.time() * 1000)))]  # fmt: skip
        if self.rng.random() < 0.5:
            return HttpRequest("GET", "/i", base)
        body = json.dumps({"schema": f"iglu:{SP}/payload_data/jsonschema/1-0-4", "data": [dict(base)]}).encode()
        return HttpRequest("POST", f"/{SP}/tp2", None, body, {"Content-Type": "application/json"})

    def _answer(self, client: httpx.Client, request: HttpRequest | RawBytes) -> int:
        try:
            if isinstance(request, RawBytes):
                return _send_raw(self.port, request.data)
            r = client.request(
                request.method, self.base + request.path, params=request.params, content=request.content,
                headers=request.headers, timeout=30,
            )  # fmt: skip
            return r.status_code
        except (httpx.TransportError, OSError):
            return 0

    def _deliver(self, client: httpx.Client, hostile: Hostile | None, marker: str) -> None:
        """Send until the collector answers something other than 'try again' (as a tracker retries), up to a limit."""
        request = hostile.build(marker) if hostile else self._valid(marker)
        name = hostile.name if hostile else "valid"
        for _attempt in range(40):
            status = self._answer(client, request)
            with self._lock:
                self.figures.requests += 1
                self.figures.answers[status] += 1
                self.figures.by_class[name] += 1
            retry = status in (0, 503) and not isinstance(request, RawBytes)
            if not retry:
                break
            time.sleep(0.25)
        if status != 200:
            return
        expect = hostile.expect if hostile else "event"
        with self._lock:
            if expect == "event":
                self.acked_events.add(marker)
            elif expect == "request":
                self.acked_requests.add(marker)

    def _killer(self, stop: threading.Event) -> None:
        assert self.collector and self.enrich
        while not stop.wait(self.rng.uniform(*self.kill_every)):
            stage = self.rng.choice([self.collector, self.enrich])
            stage.kill_and_restart()
            self.figures.restarts[stage.name] += 1

    def _watch_memory(self, stop: threading.Event) -> None:
        assert self.collector and self.enrich
        while not stop.wait(0.5):
            rss = _process_group_rss_mb([self.collector.proc.proc.pid, self.enrich.proc.proc.pid])
            self.figures.max_rss_mb = max(self.figures.max_rss_mb, rss)

    def run(self, seconds: float, hostile_share: float = 0.3, senders: int = 4) -> ChaosFigures:
        self.start()
        assert self.collector and self.enrich
        started = time.monotonic()
        stop = threading.Event()
        background = [threading.Thread(target=f, args=(stop,), daemon=True) for f in (self._killer, self._watch_memory)]
        for t in background:
            t.start()
        order = list(CATALOGUE)  # every class at least once, then at random
        plan: list[Hostile | None] = []
        try:
            with ThreadPoolExecutor(senders) as pool, httpx.Client() as client:
                pending = set()
                while time.monotonic() - started < seconds:
                    if order:
                        item: Hostile | None = order.pop(0)
                    else:
                        item = self.rng.choice(CATALOGUE) if self.rng.random() < hostile_share else None
                    plan.append(item)
                    pending.add(pool.submit(self._deliver, client, item, str(uuid.uuid4())))
                    if len(pending) >= senders * 4:
                        done = next(iter(pending))
                        done.result()
                        pending = {f for f in pending if not f.done()}
                for f in pending:
                    f.result()
        finally:
            stop.set()
            for t in background:
                t.join(30)
        self.figures.seconds = time.monotonic() - started
        self._drain()
        self._stop_cleanly()
        self._audit()
        return self.figures

    # -- audit --------------------------------------------------------------------------------------------

    def _lake_markers(self) -> tuple[Counter[str], set[str], int]:
        """Good event ids with their lake counts, every UUID named by a bad row, and the distinct bad rows."""
        lake = LocalLake(self.lake_dir)
        good: Counter[str] = Counter()
        named: set[str] = set()
        distinct: set[bytes] = set()
        for name in lake.list():
            if name.startswith("good/") and name.endswith(".parquet"):
                good.update(decode_parquet(lake.read(name)).column("event_id").to_pylist())
            elif name.startswith("bad/"):
                for line in lake.read(name).splitlines():
                    if not line.strip():
                        continue
                    distinct.add(line)
                    named.update(m.decode() for m in UUID.findall(line))
                    for b64 in B64.findall(line):  # payloads kept as base64 (collector_payload_format_violation)
                        with contextlib.suppress(binascii.Error, ValueError):
                            decoded = base64.b64decode(
                                b64 + b"==", altchars=b"-_" if b"-" in b64 or b"_" in b64 else None
                            )
                            named.update(m.decode() for m in UUID.findall(decoded))
        return good, named, len(distinct)

    def _drain(self, timeout: float = 120.0) -> None:
        """Wait until every acked marker is in the lake (or the time is up: the audit then names what is lost)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            good, named, _ = self._lake_markers()
            missing = {m for m in self.acked_events if m not in good and m not in named}
            missing |= {m for m in self.acked_requests if m not in named}
            if not missing:
                return
            time.sleep(1.0)

    def _stop_cleanly(self) -> None:
        """SIGTERM each stage: each must exit 0 within its drain timeout, and no stage may have died on its own."""
        for stage in (self.collector, self.enrich):
            assert stage is not None
            if stage.proc.proc.poll() is not None:
                self.figures.unexpected_exits.append(f"{stage.name} exited {stage.proc.proc.returncode}")
            started = time.monotonic()
            code = stage.proc.terminate(timeout=30)
            self.figures.clean_stops[stage.name] = code
            # uvicorn re-raises SIGTERM after its graceful shutdown, so -15 is a clean stop too
            if code not in (0, -15) or time.monotonic() - started > 30:
                self.figures.unexpected_exits.append(f"{stage.name} stopped with {code}")
            for log_name, text in stage.logs():
                if "Traceback" in text:
                    self.figures.tracebacks.append(f"{log_name}: {text[text.index('Traceback') :][:2000]}")

    def _audit(self) -> None:
        warehouse = self.tmp / "warehouse.duckdb"
        load = EventkitProcess(
            [
                "load",
                "--lake",
                str(self.lake_dir),
                "--warehouse",
                f"duckdb:///{warehouse}",
                "--registry",
                str(self.registry),
            ],
            self.tmp / "load.log",
        )
        code = load.proc.wait(300)
        load.terminate()
        if code != 0:
            self.figures.unexpected_exits.append(f"load exited {code}: {load.log()[-2000:]}")
            return
        with duckdb.connect(str(warehouse), read_only=True) as db:
            rows: dict[str, int] = dict(db.execute("SELECT event_id, count(*) FROM events GROUP BY 1").fetchall())
            self.figures.good = sum(rows.values())
            self.figures.duplicated = sum(
                n - 1
                for (n,) in db.execute("SELECT count(*) FROM events GROUP BY event_id, event_fingerprint").fetchall()
            )
        _, named, distinct_bad = self._lake_markers()
        self.figures.bad = distinct_bad
        self.figures.acked_events = len(self.acked_events)
        self.figures.acked_requests = len(self.acked_requests)
        for marker in sorted(self.acked_events):
            in_good, in_bad = marker in rows, marker in named
            if in_good and in_bad:
                self.figures.good_and_bad.append(marker)
            elif not in_good and not in_bad:
                self.figures.lost.append(marker)
        self.figures.lost += [m for m in sorted(self.acked_requests) if m not in named]


def main(argv: list[str]) -> int:
    """`python -m tests.chaos [MINUTES] [SEED]`: a long chaos run with its figures (`make chaos`)."""
    import tempfile

    minutes = float(argv[0]) if argv else 5.0
    seed = int(argv[1]) if len(argv) > 1 else int(time.time())
    with tempfile.TemporaryDirectory(prefix="eventkit-chaos-") as tmp:
        print(f"chaos: {minutes:g} min, seed {seed}, data in {tmp}", file=sys.stderr, flush=True)
        figures = ChaosRun(Path(tmp), seed).run(minutes * 60)
        print(figures.table())
        problems = [*figures.lost[:5], *figures.good_and_bad[:5], *figures.unexpected_exits, *figures.tracebacks[:3]]
        for p in problems:
            print(f"problem: {p}", file=sys.stderr)
        ok = not (figures.lost or figures.good_and_bad or figures.duplicated or figures.server_errors
                  or figures.unexpected_exits)  # fmt: skip
        return 0 if ok else 1


def as_json(figures: ChaosFigures) -> dict[str, Any]:
    return {k: v for k, v in figures.__dict__.items() if not k.startswith("_")}
