"""A sequential tracker through `eventkit collector --raw pubsub://…` is not held waiting for a batch to fill.

The batching publisher this replaced held every message up to its 10 ms batch latency waiting for a
batch that a sequential sender never fills, so every request paid at least 10 ms (15 ms median
measured through the collector). Without it a request costs one Publish round trip.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from pathlib import Path

import pytest

from core.queue import open_publisher, open_subscriber
from core.raw import CollectorPayload
from tests.collector.processes import CollectorProcess, post_body
from tests.core.queue.conftest import RawPublish, drain
from tests.services.pubsub import PubSubEmulator

pytestmark = pytest.mark.pubsub

REQUESTS = 50
# What the collector may add to a bare Publish round trip (median): far above its cost here (1-2 ms: HTTP, the
# event loop, a thread hop), below the 10 ms the batching publisher it replaced waited for every request.
ADDED_BOUND_S = 0.009


def test_sequential_tracker_through_the_collector_is_not_held_for_a_batch(
    tmp_path: Path, pubsub_emulator: PubSubEmulator, pubsub_project: str
) -> None:
    """50 sequential 1-event POSTs to `eventkit collector --raw pubsub://…` are each answered 200 after about one
    Publish round trip (their median exceeds a bare RPC's, timed alternately with them, by less than the old 10 ms
    batch wait), and every acknowledged event is in Pub/Sub."""
    url = f"pubsub://{pubsub_project}/raw?subscription=sequential"
    creator = open_publisher(url)
    creator.check()
    creator.close()
    subscriber = open_subscriber(url, lease_seconds=60)
    subscriber.pull(1, 0.1)  # creates the subscription before anything is published
    collector = CollectorProcess(
        "--raw",
        url,
        "--spool",
        str(tmp_path / "spool.db"),
        "--lake",
        str(tmp_path / "lake"),
        log=tmp_path / "collector.log",
        env={"PUBSUB_EMULATOR_HOST": pubsub_emulator.host},
    )
    try:
        connection = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=10)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        bare = RawPublish(pubsub_project, "bare")  # another topic: nothing subscribes to it
        times, bare_times = [], []
        eids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(REQUESTS + 5)]
        for n, eid in enumerate(eids):
            started = time.perf_counter()
            connection.request("POST", "/com.snowplowanalytics.snowplow/tp2", post_body([eid]), headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            if n >= 5:  # the first requests warm up the channel and the interpreter's caches
                times.append(time.perf_counter() - started)
            rtt = bare(b"x")
            if n >= 5:
                bare_times.append(rtt)
        connection.close()
        bare.close()
    finally:
        collector.kill()
    added = statistics.median(times) - statistics.median(bare_times)
    assert added < ADDED_BOUND_S, (sorted(times), sorted(bare_times))
    deliveries = drain(subscriber, len(eids))
    received = {e["eid"] for d in deliveries for e in json.loads(CollectorPayload.decode(d.data).body or "")["data"]}
    assert received == set(eids)
    assert "queue_unavailable" not in (tmp_path / "collector.log").read_text()  # acknowledged by Pub/Sub, not the spool
    subscriber.ack([d.ack_id for d in deliveries])
    subscriber.close()
