"""How much group commit buys the SQLite queue, and how fast consume+ack drains it, against baselines from the same run.

Publish: N concurrent publishers each publish single 1 KiB messages (the collector's shape: one
request, one record) with synchronous=FULL: the baseline is N threads with one commit per publish()
call (the same class with group_commit=False); group commit is measured with N threads calling
publish() and with N event-loop tasks awaiting publish_async() (how the collector publishes: its
requests are tasks, on uvloop), both committed by the publisher's one writer thread. Consume+ack:
pull batches of 500 and ack them, against a plain SELECT of the same rows (the ceiling) and against
the baseline publish rate. The fsync latency of the benchmark's folder is printed too: group commit
saves fsyncs, so its ratio grows with it.

What group commit buys depends on how many publishers wait at once: while one group commits, the
next gathers, so N publishers share an fsync about N/2 at a time, while the baseline pays one fsync
per message however many wait. The headline N is the collector benchmark's load (its 50 keep-alive
connections: one request in flight on each), the concurrency the queue serves behind the collector;
the sweep over other N (event-loop tasks) shows the dependence, 32 included (this benchmark's
headline until 2026-11-26).

Each round measures the baseline and the group-commit shapes back to back, and a ratio is taken
within its round (the median of the rounds is printed, with the lowest and highest): other processes
on a shared machine change the fsync latency and the CPU left over from one second to the next, and a
ratio of medians taken from different rounds would mix those states. Process CPU per message is
printed as well: it depends far less on the machine's load than the rates do.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from core.queue.sqlite import SQLitePublisher, SQLiteSubscriber
from tests.bench import summary
from tests.bench.bench_collector import CONNECTIONS

PUBLISHERS = CONNECTIONS  # the headline: the collector benchmark's concurrency (see the module docstring)
SWEEP = (16, 32, 128)  # other concurrencies, event-loop tasks only
MESSAGES = 4800  # per measured run, split evenly over the publishers
PAYLOAD = b"x" * 1024
ROUNDS = 5
PULL_BATCH = 500


def _disk_folder() -> Path:
    """A temp folder on a real disk (not tmpfs), so fsync costs what it costs."""
    for base in ("/var/tmp", tempfile.gettempdir(), str(Path.cwd())):
        if os.path.isdir(base) and os.access(base, os.W_OK):
            return Path(tempfile.mkdtemp(prefix="eventkit-bench-queue-", dir=base))
    raise RuntimeError("no writable folder for the queue benchmark")


def fsync_latency_us(folder: Path, samples: int = 200) -> float:
    probe = folder / "fsync-probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(samples):
            os.write(fd, PAYLOAD)
            os.fsync(fd)
        return (time.perf_counter() - started) / samples * 1e6
    finally:
        os.close(fd)
        probe.unlink()


def publish_rate(path: Path, *, group_commit: bool, publishers: int = PUBLISHERS) -> tuple[float, int]:
    """Messages per second with `publishers` concurrent single-message publishing threads, and the transactions used."""
    publisher = SQLitePublisher(path, group_commit=group_commit)
    start = threading.Barrier(publishers + 1)
    each = MESSAGES // publishers

    def publish_many() -> None:
        start.wait()
        for _ in range(each):
            publisher.publish([PAYLOAD])

    workers = [threading.Thread(target=publish_many) for _ in range(publishers)]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    transactions = publisher.transactions
    assert publisher.depth() == each * publishers
    publisher.close()
    return each * publishers / elapsed, transactions


def publish_rate_async(path: Path, publishers: int = PUBLISHERS) -> tuple[float, int]:
    """Messages per second with `publishers` concurrent event-loop tasks each awaiting single-message publishes."""
    publisher = SQLitePublisher(path)
    each = MESSAGES // publishers

    async def publish_many() -> None:
        for _ in range(each):
            await publisher.publish_async([PAYLOAD])

    async def run_all() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(publish_many() for _ in range(publishers)))
        return time.perf_counter() - started

    try:  # the collector's event loop (uvicorn picks uvloop when it is installed)
        import uvloop

        elapsed = uvloop.run(run_all())
    except ImportError:
        elapsed = asyncio.run(run_all())
    transactions = publisher.transactions
    assert publisher.depth() == each * publishers
    publisher.close()
    return each * publishers / elapsed, transactions


def raw_read_rate(path: Path) -> float:
    """Rows per second for a plain SELECT of the whole topic: what reading alone costs."""
    import sqlite3

    conn = sqlite3.connect(path)
    started = time.perf_counter()
    rows = conn.execute('SELECT id, data, attempt, publish_time_ms FROM "queue_raw"').fetchall()
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


def consume_rate(path: Path) -> tuple[float, int]:
    """Messages per second leased in batches of PULL_BATCH and acked, until the topic is empty."""
    subscriber = SQLiteSubscriber(path, lease_seconds=60)
    consumed = 0
    started = time.perf_counter()
    while deliveries := subscriber.pull(PULL_BATCH, timeout=0):
        subscriber.ack([d.ack_id for d in deliveries])
        consumed += len(deliveries)
    elapsed = time.perf_counter() - started
    assert subscriber.depth() == 0
    subscriber.close()
    return consumed / elapsed, consumed


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ratios(rates: list[float], baseline: list[float]) -> str:
    """The median of the per-round ratios to the same round's baseline, and their range."""
    ratios = [rate / base for rate, base in zip(rates, baseline, strict=True)]
    return f"{statistics.median(ratios):5.1f}x baseline ({min(ratios):.1f}-{max(ratios):.1f})"


def main() -> None:
    folder = _disk_folder()
    try:
        fsync_us = fsync_latency_us(folder)
        baseline, grouped, per_txn, tasks, per_txn_tasks = [], [], [], [], []
        cpu: dict[str, list[float]] = {"baseline": [], "threads": [], "tasks": []}
        sweep: dict[int, tuple[list[float], list[float], list[float]]] = {n: ([], [], []) for n in SWEEP}
        for round_ in range(ROUNDS):
            started = _cpu_seconds()
            rate, _ = publish_rate(folder / f"baseline-{round_}.db", group_commit=False)
            baseline.append(rate)
            cpu["baseline"].append((_cpu_seconds() - started) / MESSAGES * 1e6)
            started = _cpu_seconds()
            rate, transactions = publish_rate(folder / f"grouped-{round_}.db", group_commit=True)
            grouped.append(rate)
            cpu["threads"].append((_cpu_seconds() - started) / MESSAGES * 1e6)
            per_txn.append(MESSAGES / transactions)
            started = _cpu_seconds()
            rate, transactions = publish_rate_async(folder / f"tasks-{round_}.db")
            tasks.append(rate)
            cpu["tasks"].append((_cpu_seconds() - started) / MESSAGES * 1e6)
            per_txn_tasks.append(MESSAGES / transactions)
            for n, (sweep_base, sweep_tasks, sweep_txn) in sweep.items():
                sweep_base.append(
                    publish_rate(folder / f"baseline-{n}-{round_}.db", group_commit=False, publishers=n)[0]
                )
                rate, transactions = publish_rate_async(folder / f"tasks-{n}-{round_}.db", publishers=n)
                sweep_tasks.append(rate)
                sweep_txn.append(MESSAGES / transactions)
        base, group, task = statistics.median(baseline), statistics.median(grouped), statistics.median(tasks)
        us = {name: statistics.median(values) for name, values in cpu.items()}
        print(f"   folder {folder} (fsync of 1 KiB: {fsync_us:.0f} us)")
        print(
            f"   publish, {PUBLISHERS} publishers (the collector benchmark's connections) x {MESSAGES // PUBLISHERS}",
            end="",
        )
        print(f" single 1 KiB messages, synchronous=FULL, {ROUNDS} rounds", end="")
        print(" (rates: median; ratios: median of each round's ratio, and range):")
        print(
            f"     threads, one commit per message (baseline) {base:10,.0f} msg/s"
            f"                               {us['baseline']:5.1f} us CPU/msg"
        )
        print(
            f"     threads, group commit                      {group:10,.0f} msg/s   {_ratios(grouped, baseline)}"
            f"   {us['threads']:5.1f} us CPU/msg   ({statistics.median(per_txn):.1f} messages per fsync)"
        )
        print(
            f"     event-loop tasks, group commit             {task:10,.0f} msg/s   {_ratios(tasks, baseline)}"
            f"   {us['tasks']:5.1f} us CPU/msg   ({statistics.median(per_txn_tasks):.1f} messages per fsync,"
            " target >= 10x; the collector's path)"
        )
        summary.record(
            summary.Figure(
                "queue publish, group commit",
                task,
                "msg/s",
                min(tasks),
                max(tasks),
                base,
                "1 commit per message",
                target=10.0,
            )
        )
        print("   the same, event-loop tasks against the baseline, by number of concurrent publishers:")
        for n, (sweep_base, sweep_tasks, sweep_txn) in sorted(
            [*sweep.items(), (PUBLISHERS, (baseline, tasks, per_txn_tasks))]
        ):
            print(
                f"     {n:4d} publishers   baseline {statistics.median(sweep_base):8,.0f} msg/s   group commit"
                f" {statistics.median(sweep_tasks):8,.0f} msg/s   {_ratios(sweep_tasks, sweep_base)}"
                f"   ({statistics.median(sweep_txn):.1f} messages per fsync)"
            )

        path = folder / f"grouped-{ROUNDS - 1}.db"
        read = raw_read_rate(path)
        consumed, count = consume_rate(path)
        print(f"   consume+ack, pull batches of {PULL_BATCH}, {count} messages:")
        print(f"     plain SELECT of the same rows     {read:10,.0f} rows/s")
        print(
            f"     lease + ack (durable)             {consumed:10,.0f} msg/s   {consumed / read:5.2f}x plain read"
            f"   {consumed / base:5.1f}x baseline publish"
        )
        assert count == MESSAGES
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
