"""One tracker, one request at a time: latency per request through `eventkit collector --raw pubsub://…`.

A browser tracker sends its next request only after the previous one was answered, so nothing it
sends can share a batch with anything else: any wait for a batch to fill is paid in full on every
request. This bench starts the Pub/Sub emulator and the collector (durable ack: 200 only once Pub/Sub
confirmed the publish, or the record is spooled), sends sequential 1-event POSTs on one keep-alive
connection, and prints p50 and p99 per round. It then runs the concurrent load of bench_collector
(50 connections) against the same collector, as information: the fix for the sequential sender must
not cost the concurrent one its throughput.
"""

from __future__ import annotations

import http.client
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from core.queue.pubsub import PubSubPublisher
from tests.bench import summary
from tests.bench.bench_collector import _body, _free_port, _round, _serve, _stop
from tests.services.pubsub import PubSubEmulator

REQUESTS = 400  # per round
WARMUP = 50
ROUNDS = 3
P50_TARGET_MS = 5.0
P99_TARGET_MS = 20.0


def sequential_latencies(
    port: int, requests: int, reference: Callable[[], None] | None = None
) -> tuple[list[float], list[float]]:
    """Seconds per request for `requests` 1-event POSTs sent one after another on one keep-alive connection, and
    seconds per `reference` call made after each request (the same moments on the same machine)."""
    body = _body(1, 0)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "bench", "Cookie": "sp=bench-user"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times: list[float] = []
    reference_times: list[float] = []
    try:
        for _ in range(requests):
            started = time.perf_counter()
            connection.request("POST", "/com.snowplowanalytics.snowplow/tp2", body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"the collector answered {response.status}")
            times.append(time.perf_counter() - started)
            if reference is not None:
                started = time.perf_counter()
                reference()
                reference_times.append(time.perf_counter() - started)
    finally:
        connection.close()
    return times, reference_times


def percentile(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-sequential-"))
    emulator = PubSubEmulator(data_dir=root / "emulator")
    (root / "emulator").mkdir()
    emulator.start()
    previous_host = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host  # the collector child inherits it
    port = _free_port()
    collector = None
    p50s: list[float] = []
    p99s: list[float] = []
    direct_p: list[tuple[float, float]] = []
    try:
        collector = _serve(
            [
                "-c",
                "from core.cli import main; main()",
                "collector",
                "--port",
                str(port),
                "--raw",
                "pubsub://bench-sequential/raw",
                "--spool",
                str(root / "spool.db"),
                "--lake",
                str(root / "lake"),
            ],
            port,
            root / "collector.log",
        )
        # The reference: one Publish RPC from this process (no HTTP, no collector) after each request, so a slow
        # round shows whether the emulator and the machine were slow too.
        direct = PubSubPublisher("bench-sequential", "reference")
        sequential_latencies(port, WARMUP, lambda: direct.publish([b"reference"]))
        for _ in range(ROUNDS):
            times, reference_times = sequential_latencies(port, REQUESTS, lambda: direct.publish([b"reference"]))
            p50s.append(percentile(times, 0.5) * 1000)
            p99s.append(percentile(times, 0.99) * 1000)
            direct_p.append((percentile(reference_times, 0.5) * 1000, percentile(reference_times, 0.99) * 1000))
        direct.close()
        concurrent = _round(collector, port, 1)
    finally:
        if collector is not None:
            _stop(collector)
        emulator.close()
        if previous_host is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous_host
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"   {ROUNDS} rounds of {REQUESTS} sequential 1-event POSTs, one keep-alive connection, "
        "collector --raw pubsub:// on the emulator (server on core 0)"
    )
    for n, (p50, p99, (d50, d99)) in enumerate(zip(p50s, p99s, direct_p, strict=True), 1):
        print(
            f"   round {n}: p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
            f"(a Publish RPC alone, between them: p50 {d50:5.2f} ms   p99 {d99:6.2f} ms)"
        )
    print(
        f"   concurrent, 50 connections: {concurrent['rps']:.0f} req/s   p50 {concurrent['p50_ms']:.2f} ms   "
        f"p99 {concurrent['p99_ms']:.2f} ms   (information: must not regress with the sequential fix)"
    )
    summary.record(
        summary.Figure(
            "sequential tracker p50 (pubsub)",
            statistics.median(p50s),
            "ms",
            low=min(p50s),
            high=max(p50s),
            target=P50_TARGET_MS,
            higher_is_better=False,
        )
    )
    summary.record(
        summary.Figure(
            "sequential tracker p99 (pubsub)",
            statistics.median(p99s),
            "ms",
            low=min(p99s),
            high=max(p99s),
            target=P99_TARGET_MS,
            higher_is_better=False,
        )
    )
    summary.record(summary.Figure("collector req/s, 50 connections (pubsub)", concurrent["rps"], "req/s"))


if __name__ == "__main__":
    main()
