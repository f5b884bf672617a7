"""The whole pipeline as users meet it (issue 20): tracker POSTs in, rows in good Parquet and in the warehouse out.

Figures, all measured from outside through the CLI, on the same events (50-event tp2 POSTs of valid
self-describing events, tests/bench/pipeline_traffic.py), each run preceded by one warm-up POST that
must reach the lake (and the warehouse) before the clock starts:

1. Embedded throughput: `eventkit up` (fresh data folder per round; `--workers 2` when this build has
   it), fed BENCH_PIPELINE_EVENTS (40,000) events over 4 keep-alive connections as fast as it answers;
   events/s from the first POST to the last row visible in good Parquet, and to the last row listed
   loaded in DATA/warehouse.duckdb. Baseline, in alternating rounds: `eventkit enrich`, one worker
   pinned to one core, on a SQLite raw queue holding the same POSTs as the collector would record them
   (written in one transaction before the clock starts), with `up`'s file-cut age (1 s); events/s from
   that commit to the last row visible in good Parquet. Same events, same end point, same poller: the
   baseline is enrich alone doing all the work `up` must also do after the collector, on one core.
2. Freshness, at half the embedded median rate (paced sender): per event, seconds from its POST's
   200 to its file first seen in good Parquet, and to that file first listed in the warehouse's load
   manifest; p99 (and p50, max).
3. Distributed (BENCH_PIPELINE_DISTRIBUTED_ROUNDS, 2; 0 skips it): collector → Pub/Sub emulator →
   `eventkit enrich --workers 2` → fake-gcs-server lake → `eventkit load --watch 2` into DuckDB; the same
   throughput and freshness figures (freshness at half its own median rate), as ratios to the embedded
   figures of this run. BENCH_PIPELINE_DISTRIBUTED_BATCH sets enrich's `--batch-size` (default: eventkit's).
4. Memory: peak summed RSS and PSS of `up` and all its descendants (/proc, every 100 ms) while
   BENCH_PIPELINE_MEMORY_EVENTS (1,000,000) events pass through it to the warehouse.

Lake and warehouse are polled every 50 ms and 250 ms (tests/bench/pipeline_watch.py): every arrival
time carries up to one poll interval, alike for every pipeline measured.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.lake import Lake, open_lake
from core.raw import CollectorPayload
from tests.bench import summary
from tests.bench.pipeline_stages import Distributed, Embedded, EnrichAlone, up_accepts_workers
from tests.bench.pipeline_traffic import EVENTS_PER_POST, SendPlan, SendResult, post_body, post_of, write_bench_registry
from tests.bench.pipeline_watch import LakeWatcher, MemorySampler, WarehouseWatcher

__all__ = ["Run", "main", "measure_distributed", "measure_embedded", "measure_enrich_alone"]

RSS_TARGET_MB = 600
# Proposed in issue #20's closing notes: the same 600 MB, on summed PSS. Summed RSS counts each shared library
# page once per process (~220 MB of the peak is file-backed: libpython, Arrow, DuckDB in five interpreters).
PSS_TARGET_MB = 600
STALL_S = 120.0  # a run whose lake gains nothing for this long has stalled


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip().replace("_", "").replace(",", "")
    return int(text) if text else default


@dataclass
class Run:
    """One measured run: events in, when the clock started, when the last row reached lake and warehouse."""

    name: str
    events: int
    started: float
    lake_done: float
    warehouse_done: float | None = None
    lake_latency: list[float] = field(default_factory=list)  # per event, s from its POST's 200 (sorted)
    warehouse_latency: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None
    processes_at_peak: int = 0
    peak_phase: str = ""  # sending, draining to the lake, or loading the warehouse
    peak_anon_mb: float = 0.0  # of the peak: anonymous memory (heaps) ...
    peak_file_mb: float = 0.0  # ... and file-backed or shared pages (mapped files, code)
    peak_pss_mb: float = 0.0  # the peak of summed PSS (shared pages counted once over the processes)
    warehouse_busy: int = 0  # warehouse polls that found the loader loading (and tried again 250 ms later)
    lake_rows: int = 0  # good rows, duplicates included
    distinct_ids: int = 0  # distinct good event ids (when read)
    bad_rows: int = 0  # valid events sent that ended as bad rows: a defect, printed with the first of them
    first_bad_row: str = ""

    @property
    def duplicates(self) -> int:
        return self.lake_rows - self.distinct_ids if self.distinct_ids else 0

    def anomalies(self) -> str:
        """Duplicate rows and bad rows, if any, as a note for the round's line."""
        notes = []
        if self.duplicates:
            notes.append(f"{self.duplicates} duplicate good rows")
        if self.bad_rows:
            notes.append(f"{self.bad_rows} VALID EVENTS IN BAD ROWS, the first: {self.first_bad_row[:600]}")
        return "; ".join(notes)

    @property
    def lake_rate(self) -> float:
        return self.events / (self.lake_done - self.started)

    @property
    def warehouse_rate(self) -> float | None:
        return None if self.warehouse_done is None else self.events / (self.warehouse_done - self.started)


class _Posts:
    """Hands out POST numbers so that no two runs of one bench send the same event id."""

    next = 0

    @classmethod
    def take(cls, posts: int) -> int:
        first, cls.next = cls.next, cls.next + posts
        return first


def _send(port: int, plan: SendPlan, root: Path, alive: Callable[[], None], progress: Callable[[], None]) -> SendResult:
    """Run the sender process for `plan` and return its result (raising on any non-200 answer)."""
    out = root / f"sent-{plan.first_post}.json"
    sender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tests.bench.pipeline_traffic import send_main; send_main()",
            json.dumps(asdict(plan)),
            str(out),
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while sender.poll() is None:
            alive()
            progress()
            time.sleep(0.2)
    finally:
        if sender.poll() is None:
            os.killpg(sender.pid, signal.SIGKILL)
            sender.wait()
    if sender.returncode != 0:
        raise RuntimeError(f"the sender exited with {sender.returncode}")
    result = SendResult.from_json(out.read_bytes())
    if result.errors:
        raise RuntimeError(f"the sender failed: {result.errors[:3]}")
    return result


def _warm_up(
    port: int, lake: LakeWatcher, warehouse: WarehouseWatcher | None, root: Path, alive: Callable[[], None]
) -> None:
    """One POST that must reach the lake (and the warehouse) before the clock starts: imports, caches, tables."""
    _send(port, SendPlan(port, 1, first_post=_Posts.take(1)), root, alive, lambda: None)
    _await_rows(lake, warehouse, EVENTS_PER_POST, 60.0, alive)
    lake.ignore_present()


def _await_rows(
    lake: LakeWatcher, warehouse: WarehouseWatcher | None, events: int, timeout: float, alive: Callable[[], None]
) -> None:
    """Wait until the lake accounts for `events` events, then (if given) until the warehouse lists every good file."""

    progress = [lake.outcomes, time.monotonic()]

    def lake_full() -> bool:
        alive()
        if lake.outcomes != progress[0]:
            progress[:] = [lake.outcomes, time.monotonic()]
        elif time.monotonic() - progress[1] > STALL_S:
            raise TimeoutError(f"no new event in the lake for {STALL_S:.0f} s ({lake.outcomes} of {events})")
        return lake.outcomes >= events

    try:
        lake.wait_for(lake_full, timeout, f"{events} events in the lake")
    except TimeoutError as e:
        raise TimeoutError(f"{e} ({lake.outcomes} seen; first bad row: {lake.first_bad_row() or '-'})") from None
    if warehouse is not None:
        files = set(lake.good_files())

        def loaded() -> bool:
            alive()
            return warehouse.loaded(files) >= len(files)

        try:
            warehouse.wait_for(loaded, timeout, f"{len(files)} good files loaded into the warehouse")
        except TimeoutError as e:
            raise TimeoutError(
                f"{e} ({warehouse.loaded(files)} listed; {warehouse.busy} polls found the DuckDB file held: this"
                " bench reads it between the loader's loads, read-only)"
            ) from None


def _latencies(
    lake: LakeWatcher, warehouse: WarehouseWatcher | None, sent: SendResult
) -> tuple[list[float], list[float]]:
    """Per event: its file's first sighting in the lake (and in the warehouse manifest) minus its POST's 200."""
    to_lake, to_warehouse = [], []
    for name, sighting in lake.good_files().items():
        loaded = warehouse.time_of(name) if warehouse is not None else None
        for eid in sighting.event_ids:
            acked = sent.acked[post_of(eid)]
            to_lake.append(sighting.seen - acked)
            if loaded is not None:
                to_warehouse.append(loaded - acked)
    return sorted(to_lake), sorted(to_warehouse)


def _drive(
    name: str,
    port: int,
    lake: Lake,
    warehouse_path: Path | None,
    *,
    root: Path,
    events: int,
    rate: float | None,
    alive: Callable[[], None],
    memory_sid: int | None = None,
    ids: bool = True,
    lake_interval: float = 0.05,
) -> Run:
    """Warm up, send `events` (paced at `rate` events/s, or flat out), and time their rows into lake and warehouse."""
    posts = max(1, math.ceil(events / EVENTS_PER_POST))
    events = posts * EVENTS_PER_POST
    watch = LakeWatcher(lake, ids=False, interval=lake_interval)  # footers while the clock runs; ids after
    warehouse = WarehouseWatcher(warehouse_path) if warehouse_path is not None else None
    memory = MemorySampler(memory_sid) if memory_sid is not None else None
    pollers = [p for p in (watch, warehouse, memory) if p is not None]
    watch.ignore_existing()  # a running stack's earlier runs
    for poller in pollers:
        poller.start()
    try:
        _warm_up(port, watch, warehouse, root, alive)
        shown = [time.monotonic()]

        def progress() -> None:
            if memory is None or time.monotonic() - shown[0] < 10:
                return
            shown[0] = time.monotonic()
            print(
                f"      ... {watch.outcomes:,} of {events:,} events in the lake;"
                f" RSS now {memory.last_kb / 1024:,.0f} MB, peak {memory.peak_kb / 1024:,.0f} MB",
                flush=True,
            )

        if memory is not None:
            memory.phase = "sending"
        plan = SendPlan(port, posts, rate=rate / EVENTS_PER_POST if rate else None, first_post=_Posts.take(posts))
        sent = _send(port, plan, root, alive, progress)
        timeout = 300.0 + events / 250

        def waiting() -> None:
            alive()
            progress()

        if memory is not None:
            memory.phase = "draining into the lake"
        _await_rows(watch, None, events, timeout, waiting)
        if ids:
            watch.read_ids()  # a duplicate row counted as an event: then this waits for the missing event
            _await_rows(watch, None, events, timeout, waiting)
        if memory is not None:
            memory.phase = "loading the warehouse"
        _await_rows(watch, warehouse, events, timeout, waiting)
        run = _outcome(name, events, sent.started, watch)
        if warehouse is not None:
            loaded = [warehouse.time_of(f) for f in watch.good_files()]
            run.warehouse_done = max(t for t in loaded if t is not None)
            run.warehouse_busy = warehouse.busy
        if ids:
            run.lake_latency, run.warehouse_latency = _latencies(watch, warehouse, sent)
        if memory is not None:
            run.peak_rss_mb = memory.peak_kb / 1024
            run.processes_at_peak = memory.peak_processes
            run.peak_phase = memory.peak_phase
            run.peak_anon_mb, run.peak_file_mb = memory.peak_anon_kb / 1024, memory.peak_file_kb / 1024
            run.peak_pss_mb = memory.peak_pss_kb / 1024
        return run
    finally:
        for poller in pollers:
            poller.stop()


def _outcome(name: str, events: int, started: float, watch: LakeWatcher) -> Run:
    """A run's figures from its lake watcher: when it was complete, its rows, duplicates and bad rows."""
    run = Run(name, events, started, watch.time_complete(events), lake_rows=watch.good_rows, bad_rows=watch.bad_rows)
    run.distinct_ids = len(watch.distinct)
    run.first_bad_row = watch.first_bad_row()
    return run


def measure_embedded(
    root: Path, registry: Path, events: int, *, rate: float | None = None, memory: bool = False, ids: bool = True
) -> Run:
    """`eventkit up` on a fresh data folder under `root`: `events` events in, rows out to lake and warehouse.

    `memory`: sample the RSS of `up` and its children; `ids`: read every file's event ids (for per-event
    latencies; a million events' worth costs the bench CPU the pipeline would otherwise have)."""
    up = Embedded(root, registry)
    try:
        return _drive(
            "up",
            up.port,
            open_lake(str(up.lake)),
            up.warehouse,
            root=root,
            events=events,
            rate=rate,
            alive=up.command.check_running,
            memory_sid=up.command.pid if memory else None,
            ids=ids,
        )
    finally:
        up.stop()


def _raw_records(first_post: int, posts: int) -> list[bytes]:
    """The POSTs as the collector records them (tp2 JSON body, the tracker's headers, one record per POST)."""
    now = time.time_ns() // 1_000_000
    return [
        CollectorPayload(
            vendor="com.snowplowanalytics.snowplow",
            version="tp2",
            querystring=(),
            content_type="application/json; charset=utf-8",
            body=post_body(first_post + i).decode(),
            collector="eventkit-bench-sqlite",
            encoding="UTF-8",
            hostname="127.0.0.1",
            timestamp=now,
            ip_address="127.0.0.1",
            useragent="Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            referer_uri=None,
            headers=("Host: 127.0.0.1", "Content-Type: application/json; charset=utf-8"),
            network_user_id="2b1c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6",
        ).encode()
        for i in range(posts)
    ]


def measure_enrich_alone(root: Path, registry: Path, events: int) -> Run:
    """The baseline: one `eventkit enrich` worker pinned to one core drains the same POSTs from a SQLite queue."""
    from core.queue.sqlite import SQLitePublisher

    posts = max(1, math.ceil(events / EVENTS_PER_POST))
    events = posts * EVENTS_PER_POST
    records = _raw_records(_Posts.take(posts), posts)
    enrich = EnrichAlone(root, registry)
    watch = LakeWatcher(open_lake(str(enrich.lake)), ids=False)  # footers while the clock runs; ids after, as for up
    watch.start()
    publisher = SQLitePublisher(enrich.queue, group_commit=False)  # one transaction per publish() call
    try:
        publisher.publish(_raw_records(_Posts.take(1), 1))
        _await_rows(watch, None, EVENTS_PER_POST, 60.0, enrich.command.check_running)
        watch.ignore_present()
        publisher.publish(records)  # all in one transaction: nothing is visible to enrich before the clock starts
        started = time.monotonic()
        _await_rows(watch, None, events, 300.0 + events / 250, enrich.command.check_running)
        watch.read_ids()
        _await_rows(watch, None, events, 300.0 + events / 250, enrich.command.check_running)
        return _outcome("enrich alone", events, started, watch)
    finally:
        publisher.close()
        watch.stop()
        enrich.stop()


def measure_distributed(stack: Distributed, events: int, *, rate: float | None = None) -> Run:
    """`events` events through a running distributed stack (collector to DuckDB), timed like `measure_embedded`."""
    return _drive(
        "distributed",
        stack.port,
        stack.lake(),
        stack.warehouse,
        root=stack.root,
        events=events,
        rate=rate,
        alive=stack.check_running,
        lake_interval=0.1,  # each poll lists the bucket over HTTP
    )


def _note(run: Run) -> None:
    """Print a run's duplicates and bad rows, if any (at-least-once allows the first; the second is a defect)."""
    if run.anomalies():
        print(f"      note ({run.name}): {run.anomalies()}", flush=True)


def _p(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else math.nan


def _spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def _freshness_line(lat: list[float]) -> str:
    return f"p50 {_p(lat, 0.5):.2f} s, p99 {_p(lat, 0.99):.2f} s, max {lat[-1] if lat else math.nan:.2f} s"


def _throughput(root: Path, registry: Path, events: int, rounds: int) -> tuple[list[Run], list[Run]]:
    """Alternating rounds: enrich alone, then `up`; both on the same events, each from a fresh folder."""
    baseline, embedded = [], []
    for i in range(rounds):
        base = measure_enrich_alone(root / f"enrich-{i}", registry, events)
        baseline.append(base)
        print(
            f"   round {i + 1}: enrich alone (1 worker, 1 core) {base.lake_rate:8,.0f} events/s to good Parquet",
            flush=True,
        )
        _note(base)
        up = measure_embedded(root / f"up-{i}", registry, events)
        embedded.append(up)
        print(
            f"            eventkit up                    {up.lake_rate:8,.0f} events/s to good Parquet, "
            f"{up.warehouse_rate or math.nan:8,.0f} to the warehouse   ({up.lake_rate / base.lake_rate:.2f}x;"
            f" {up.warehouse_busy} warehouse polls found the loader loading)",
            flush=True,
        )
        _note(up)
        shutil.rmtree(root / f"enrich-{i}", ignore_errors=True)
        shutil.rmtree(root / f"up-{i}", ignore_errors=True)
    return baseline, embedded


def _record_throughput(baseline: list[Run], embedded: list[Run]) -> float:
    base, _, _ = _spread([r.lake_rate for r in baseline])
    lake, lake_low, lake_high = _spread([r.lake_rate for r in embedded])
    warehouse, wh_low, wh_high = _spread([r.warehouse_rate or math.nan for r in embedded])
    paired = sorted(u.lake_rate / b.lake_rate for u, b in zip(embedded, baseline, strict=True))
    print(
        f"   medians: enrich alone {base:,.0f} events/s; up {lake:,.0f} to good Parquet ({lake / base:.2f}x), "
        f"{warehouse:,.0f} to the warehouse ({warehouse / base:.2f}x); round by round up/enrich: "
        f"{', '.join(f'{r:.2f}' for r in paired)}  (target >= 1.0x)"
    )
    name = "enrich alone, 1 core"
    summary.record(
        summary.Figure("up: POSTs -> good Parquet", lake, "ev/s", lake_low, lake_high, base, name, target=1.0)
    )
    summary.record(summary.Figure("up: POSTs -> warehouse", warehouse, "ev/s", wh_low, wh_high, base, name, target=1.0))
    return lake


def _record_freshness(run: Run, label: str, lake_target: float | None, warehouse_target: float | None) -> None:
    _note(run)
    print(f"   {label} freshness over {run.events:,} events, from each POST's 200:")
    print(f"      to good Parquet:  {_freshness_line(run.lake_latency)}")
    print(f"      to the warehouse: {_freshness_line(run.warehouse_latency)}")
    for where, lat, target in (
        ("Parquet", run.lake_latency, lake_target),
        ("warehouse", run.warehouse_latency, warehouse_target),
    ):
        figure = summary.Figure(
            f"{label} freshness p99 -> {where}", _p(lat, 0.99), "s", target=target, higher_is_better=False
        )
        summary.record(figure)


def _distributed(root: Path, registry: Path, events: int, *, rounds: int, embedded_rate: float, paced: int) -> None:
    """Rounds of `events` through the distributed stack, then `paced` events at half its median rate.

    A stack that stalls (a run not complete in time) is reported with what its processes last warned
    about, and the bench goes on to the memory figure."""
    batch = _env_int("BENCH_PIPELINE_DISTRIBUTED_BATCH", 0) or None
    shown = "" if batch is None else f" --batch-size {batch}"
    print(
        f"   distributed: collector -> Pub/Sub emulator -> enrich --workers 2{shown} -> fake-gcs lake -> load --watch 2"
    )
    stack = Distributed(root / "distributed", registry, batch_size=batch)
    try:
        _distributed_runs(stack, events, rounds=rounds, embedded_rate=embedded_rate, paced=paced)
    except (TimeoutError, RuntimeError) as e:
        print(f"   distributed: FAILED: {str(e)[:600]}")
        for line in stack.last_warnings():
            print(f"      {line}")
        summary.record(summary.Figure("distributed: POSTs -> lake (FAILED)", math.nan, "ev/s"))
    finally:
        stack.stop()


def _distributed_runs(stack: Distributed, events: int, *, rounds: int, embedded_rate: float, paced: int) -> None:
    """Throughput rounds, then freshness at half the median rate, on a running distributed stack."""
    runs = []
    for i in range(rounds):
        run = measure_distributed(stack, events)
        runs.append(run)
        print(
            f"   round {i + 1}: {run.lake_rate:8,.0f} events/s to the lake, {run.warehouse_rate or math.nan:8,.0f} "
            f"to the warehouse ({run.warehouse_busy} warehouse polls found the loader loading)",
            flush=True,
        )
        _note(run)
    lake, low, high = _spread([r.lake_rate for r in runs])
    warehouse, wh_low, wh_high = _spread([r.warehouse_rate or math.nan for r in runs])
    print(f"   distributed / embedded (median rates to good Parquet): {lake / embedded_rate:.2f}x")
    summary.record(
        summary.Figure("distributed: POSTs -> lake", lake, "ev/s", low, high, embedded_rate, "up (this run)")
    )
    summary.record(summary.Figure("distributed: POSTs -> warehouse", warehouse, "ev/s", wh_low, wh_high))
    fresh = measure_distributed(stack, paced, rate=lake / 2)
    print(f"   distributed paced at {lake / 2:,.0f} events/s (half its median):")
    _record_freshness(fresh, "distributed", None, None)


def _memory(root: Path, registry: Path, events: int) -> None:
    print(f"   memory: {events:,} events through eventkit up; RSS of it and its children every 100 ms", flush=True)
    run = measure_embedded(root / "up-memory", registry, events, memory=True, ids=False)
    _note(run)
    peak = run.peak_rss_mb or math.nan
    print(
        f"   peak RSS {peak:,.0f} MB ({run.processes_at_peak} processes, {run.peak_phase}) for {run.events:,} events"
        f" at {run.lake_rate:,.0f} events/s to good Parquet  (target <= {RSS_TARGET_MB} MB)"
    )
    print(f"      of the peak: {run.peak_anon_mb:,.0f} MB anonymous (heaps), {run.peak_file_mb:,.0f} MB file-backed")
    print(
        f"   peak PSS {run.peak_pss_mb:,.0f} MB (shared libraries counted once over the processes)"
        f"  (proposed target <= {PSS_TARGET_MB} MB)"
    )
    name = f"up peak RSS, {run.events:,} events"
    summary.record(summary.Figure(name, peak, "MB", target=RSS_TARGET_MB, higher_is_better=False))
    name = f"up peak PSS, {run.events:,} events (proposed)"
    summary.record(summary.Figure(name, run.peak_pss_mb, "MB", target=PSS_TARGET_MB, higher_is_better=False))


def main() -> None:
    events = _env_int("BENCH_PIPELINE_EVENTS", 40_000)
    rounds = _env_int("BENCH_PIPELINE_ROUNDS", 3)
    fresh_events = _env_int("BENCH_PIPELINE_FRESHNESS_EVENTS", 20_000)
    distributed_rounds = _env_int("BENCH_PIPELINE_DISTRIBUTED_ROUNDS", 2)
    memory_events = _env_int("BENCH_PIPELINE_MEMORY_EVENTS", 1_000_000)
    root = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    registry = write_bench_registry(root / "schemas")
    workers = "--workers 2" if up_accepts_workers() else "no --workers option in this build: one process"
    print(
        f"   {events:,} valid self-describing events per round in {EVENTS_PER_POST}-event POSTs over 4 connections; "
        f"{rounds} alternating rounds; eventkit up: {workers}; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    try:
        baseline, embedded = _throughput(root, registry, events, rounds)
        embedded_rate = _record_throughput(baseline, embedded)
        paced = measure_embedded(root / "up-fresh", registry, fresh_events, rate=embedded_rate / 2)
        print(f"   up paced at {embedded_rate / 2:,.0f} events/s (half the median):")
        _record_freshness(paced, "up", 2.0, 5.0)
        shutil.rmtree(root / "up-fresh", ignore_errors=True)
        if distributed_rounds > 0:
            _distributed(
                root, registry, events, rounds=distributed_rounds, embedded_rate=embedded_rate, paced=fresh_events
            )
        if memory_events > 0:
            _memory(root, registry, memory_events)
    except BaseException:
        print(f"   (kept {root} for inspection: the processes' logs and data folders)", flush=True)
        raise
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
