"""A Pub/Sub outage under load (the real emulator stopped and restarted): spooled, reported, drained, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import uvicorn

from collector.app import create_app
from collector.durability import DurabilityTiming
from collector.settings import CollectorSettings
from collector.spool import Spool
from core.queue import Subscriber, open_publisher, open_subscriber
from core.raw import CollectorPayload
from tests.collector.processes import Load
from tests.services.pubsub import PubSubEmulator, free_port


def status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def prepare(url: str) -> Subscriber:
    """Create the topic and the subscription (before anything is published, or Pub/Sub drops it)."""
    creator = open_publisher(url)
    creator.check()
    creator.close()
    subscriber = open_subscriber(url, lease_seconds=60)
    subscriber.pull(1, 0.1)
    return subscriber


def take_all(subscriber: Subscriber) -> set[str]:
    eids: set[str] = set()
    quiet = 0
    while quiet < 2:
        batch = subscriber.pull(500, 0.5)
        quiet = quiet + 1 if not batch else 0
        for d in batch:
            record = CollectorPayload.decode(d.data)
            eids.update(e["eid"] for e in json.loads(record.body or "")["data"])
        subscriber.ack([d.ack_id for d in batch])
    return eids


def freeze(emulator: PubSubEmulator, sig: int) -> None:
    """SIGSTOP / SIGCONT the emulator's whole process group (gcloud and its Java child)."""
    process = emulator._process  # the fixture keeps the Popen private; its pid leads the process group
    assert process is not None
    os.killpg(process.pid, sig)


@pytest.mark.slow
@pytest.mark.pubsub
def test_emulator_outage_under_load_loses_nothing(
    tmp_path: Path, pubsub_emulator: PubSubEmulator, pubsub_project: str
) -> None:
    """Stop (SIGSTOP) the emulator in the middle of a load: /sink-health turns 503 while requests keep getting 200
    from the spool; after SIGCONT the spool drains and every acknowledged event is in the subscription.

    The emulator is frozen rather than killed because a killed emulator forgets its topics, subscriptions and
    messages, which would make the count meaningless; a frozen one hangs every RPC, which is the harder case
    for the collector (no fast refusal: only its publish bound gets it out).
    """
    url = f"pubsub://{pubsub_project}/raw?subscription=outage"
    subscriber = prepare(url)
    spool = Spool(tmp_path / "spool.db")
    publisher = open_publisher(url, timeout=2.0)
    config = CollectorSettings(raw=url)
    timing = DurabilityTiming(publish_timeout=0.5, drain_interval=0.2)
    app = create_app(config, publisher, spool=spool, lake=None, timing=timing)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    until(lambda: server.started, 20, "uvicorn")
    assert status(port, "/sink-health") == 200
    load = Load(port, threads=4).start()
    frozen = False
    try:
        time.sleep(1.0)
        before = len(load.acknowledged)
        freeze(pubsub_emulator, signal.SIGSTOP)
        frozen = True
        until(lambda: status(port, "/sink-health") == 503, 10, "/sink-health to report the outage")
        until(lambda: spool.count() > 20, 15, "requests to be spooled")
        during = len(load.acknowledged)
        freeze(pubsub_emulator, signal.SIGCONT)
        frozen = False
        until(lambda: status(port, "/sink-health") == 200, 30, "/sink-health to recover")
        time.sleep(1.0)
    finally:
        if frozen:
            freeze(pubsub_emulator, signal.SIGCONT)
        load.stop()
    until(lambda: spool.count() == 0, 30, "the spool to drain")
    server.should_exit = True
    thread.join(30)
    received = take_all(subscriber)
    subscriber.close()
    spool.close()
    assert 0 < before < during < len(load.acknowledged)
    assert load.refused == 0  # outage or not, every request was answered 200
    missing = load.acknowledged - received
    assert not missing, f"{len(missing)} acknowledged events lost"
