"""Durable acknowledgement: 200 only once a record is in the queue or the spool; spool drains; kills lose nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collector.durability import DurabilityTiming
from collector.spool import Spool, SpoolUnavailable
from tests.collector.conftest import Rig, read_queue
from tests.collector.driver import call, lifespan
from tests.collector.processes import CollectorProcess, Load, post_body

TP2 = "/com.snowplowanalytics.snowplow/tp2"


def eids(records: list[Any]) -> list[str]:
    out: list[str] = []
    for r in records:
        out.extend(e["eid"] for e in json.loads(r.body or "")["data"])
    return out


async def post(rig: Rig, *ids: str) -> Any:
    return await call(rig.app, "POST", TP2, body=post_body(list(ids)))


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("publish_async", [False, True], ids=["via-batcher", "direct-async"])
def test_queue_down_spools_then_drains_in_order(make_rig: Callable[..., Rig], publish_async: bool) -> None:
    """While the queue fails, requests are spooled and answered 200, /sink-health is 503; once back, all drain."""
    rig = make_rig(timing=DurabilityTiming(drain_interval=0.05), publish_async=publish_async)
    assert rig.spool is not None

    async def go() -> None:
        async with lifespan(rig.app):
            assert (await post(rig, "a")).status == 200
            rig.publisher.up = False
            answers = await asyncio.gather(*(post(rig, f"b{i}") for i in range(20)))
            assert all(a.status == 200 for a in answers)
            assert (await call(rig.app, "GET", "/sink-health")).status == 503
            assert rig.spool is not None and rig.spool.count() == 20
            assert (await post(rig, "c")).status == 200  # still spool mode: keeps spool order
            rig.publisher.up = True
            await wait_for(lambda: rig.spool is not None and rig.spool.count() == 0)
            await wait_for(lambda: rig.app.acknowledger.queue_healthy)
            assert (await call(rig.app, "GET", "/sink-health")).status == 200
            assert (await post(rig, "d")).status == 200

    asyncio.run(go())
    got = eids(rig.records())
    assert sorted(got) == sorted(["a", "c", "d", *(f"b{i}" for i in range(20))])
    assert got[0] == "a" and got[-2:] == ["c", "d"]  # spooled rows drained in spool order, before new ones


@pytest.mark.parametrize("publish_async", [False, True], ids=["via-batcher", "direct-async"])
def test_slow_queue_is_bounded_by_the_spool(make_rig: Callable[..., Rig], publish_async: bool) -> None:
    """A publish slower than the bound is answered from the spool within about the bound, not the queue's delay."""
    rig = make_rig(timing=DurabilityTiming(publish_timeout=0.2, drain_interval=0.05), publish_async=publish_async)

    async def go() -> float:
        async with lifespan(rig.app):
            rig.publisher.delay = 2.0
            started = time.monotonic()
            assert (await post(rig, "slow")).status == 200
            elapsed = time.monotonic() - started
            rig.publisher.delay = 0.0
            await wait_for(lambda: rig.spool is not None and rig.spool.count() == 0, timeout=15)
            return elapsed

    assert asyncio.run(go()) < 1.0
    got = eids(rig.records())
    assert set(got) == {"slow"}  # the late publish may also land: a duplicate is allowed, a loss is not


@pytest.mark.parametrize("publish_async", [False, True], ids=["via-batcher", "direct-async"])
def test_no_queue_and_no_spool_means_503(make_rig: Callable[..., Rig], publish_async: bool) -> None:
    """Without a spool a failing queue answers 503, so the tracker retries; nothing is acknowledged."""
    rig = make_rig(spool=False, publish_async=publish_async)

    async def go() -> None:
        async with lifespan(rig.app):
            rig.publisher.up = False
            assert (await post(rig, "x")).status == 503
            assert (await call(rig.app, "GET", "/sink-health")).status == 503

    asyncio.run(go())
    assert rig.records() == []


@pytest.mark.parametrize("publish_async", [False, True], ids=["via-batcher", "direct-async"])
def test_queue_and_spool_both_failing_means_503(make_rig: Callable[..., Rig], publish_async: bool) -> None:
    """When the spool cannot commit either (its database is closed under it), the answer is 503."""
    rig = make_rig(publish_async=publish_async)

    async def go() -> None:
        async with lifespan(rig.app):
            rig.publisher.up = False
            assert rig.spool is not None
            rig.spool.close()
            assert (await post(rig, "x")).status == 503

    asyncio.run(go())
    assert rig.records() == []


@pytest.mark.parametrize("publish_async", [False, True], ids=["via-batcher", "direct-async"])
def test_sink_health_is_503_until_the_queue_is_proven(make_rig: Callable[..., Rig], publish_async: bool) -> None:
    """A collector that starts while the queue is down reports 503 on /sink-health until it comes back."""
    rig = make_rig(timing=DurabilityTiming(drain_interval=0.05), publish_async=publish_async)
    rig.publisher.up = False

    async def go() -> None:
        async with lifespan(rig.app):
            assert (await call(rig.app, "GET", "/sink-health")).status == 503
            assert (await post(rig, "early")).status == 200  # spooled
            rig.publisher.up = True
            await wait_for(lambda: rig.app.acknowledger.queue_healthy)
            assert (await call(rig.app, "GET", "/sink-health")).status == 200

    asyncio.run(go())
    assert eids(rig.records()) == ["early"]


def test_spool_survives_a_restart_and_drains_at_start_up(make_rig: Callable[..., Rig], tmp_path: Path) -> None:
    """Rows spooled by one app instance are published by the next one that opens the same spool file."""
    first = make_rig()
    assert first.spool is not None

    async def spool_some() -> None:
        async with lifespan(first.app):
            first.publisher.up = False
            assert all(a.status == 200 for a in await asyncio.gather(*(post(first, f"s{i}") for i in range(5))))

    asyncio.run(spool_some())
    assert first.spool.count() == 5
    first.spool.close()
    reopened = Spool(first.spool.path)
    first.publisher.up = True
    from collector.app import create_app

    second = create_app(first.config, first.publisher, spool=reopened, lake=None)

    async def drain() -> None:
        async with lifespan(second):
            await wait_for(lambda: reopened.count() == 0)

    asyncio.run(drain())
    reopened.close()
    assert sorted(eids(first.records())) == [f"s{i}" for i in range(5)]


def test_spool_claims_of_a_dead_process_are_released_on_open(tmp_path: Path) -> None:
    """Rows a crashed drainer had claimed become drainable as soon as the spool is reopened."""
    spool = Spool(tmp_path / "s.db")
    spool.append([b"1", b"2", b"3"])
    assert [d for _, d in spool.claim(2)] == [b"1", b"2"]
    assert [d for _, d in spool.claim(10)] == [b"3"]  # claimed rows are not handed out twice
    spool.close()
    reopened = Spool(tmp_path / "s.db")  # same pid: the earlier claims belong to a previous life
    assert [d for _, d in reopened.claim(10)] == [b"1", b"2", b"3"]
    reopened.close()


@pytest.mark.slow
def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """SIGKILL in the middle of a load: after a restart drains the spool, every 200'd event is in the queue."""
    queue = f"sqlite:///{tmp_path}/queue.db"
    args = ("--raw", queue, "--spool", str(tmp_path / "spool.db"))
    server = CollectorProcess(*args, log=tmp_path / "collector.log")
    load = Load(server.port, threads=8).start()
    time.sleep(1.5)
    server.kill()
    load.stop()
    assert len(load.acknowledged) > 50, load.errors
    restarted = CollectorProcess(*args, log=tmp_path / "collector.log")
    try:
        deadline = time.monotonic() + 20
        while Spool(tmp_path / "spool.db").count() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        restarted.signal(signal.SIGTERM)
        restarted.wait()
    stored = eids(read_queue(queue))
    missing = load.acknowledged - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost"


@pytest.mark.slow
def test_sigterm_finishes_in_flight_requests_and_exits_cleanly(tmp_path: Path) -> None:
    """SIGTERM under load: a clean exit (uvicorn re-raises the signal after its graceful shutdown) losing nothing."""
    queue = f"sqlite:///{tmp_path}/queue.db"
    server = CollectorProcess("--raw", queue, "--spool", str(tmp_path / "spool.db"), log=tmp_path / "c.log")
    load = Load(server.port, threads=8).start()
    time.sleep(1.0)
    server.signal(signal.SIGTERM)
    assert server.wait() in (0, -signal.SIGTERM)
    load.stop()
    assert "Traceback" not in server.log.read_text()
    stored = set(eids(read_queue(queue))) | {
        e["eid"]
        for _, d in Spool(tmp_path / "spool.db").claim(10**6)
        for e in json.loads(json.loads(d)["data"]["body"])["data"]
    }
    assert load.acknowledged and load.acknowledged <= stored


class RaisingLog:
    """A logger whose every call raises, as structlog's default print did on a full disk (issue 15)."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        def fail(*args: Any, **kwargs: Any) -> None:
            raise OSError(28, "No space left on device")

        return fail


@pytest.mark.parametrize("publish_async", [False, True], ids=["via-batcher", "direct-async"])
def test_a_failing_log_never_leaves_a_request_unanswered(
    make_rig: Callable[..., Rig], publish_async: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every log call raising, queue and spool failures still answer 503 at once, and once both work again
    the drainer (which logs as it switches back) is still alive and requests are stored again."""
    import collector.durability

    monkeypatch.setattr(collector.durability, "log", RaisingLog())
    rig = make_rig(timing=DurabilityTiming(drain_interval=0.05), publish_async=publish_async)

    async def go() -> None:
        async with lifespan(rig.app):
            assert (await post(rig, "a")).status == 200
            rig.publisher.up = False
            assert rig.spool is not None
            spool_append = rig.spool.append

            def full(records: Any) -> None:
                raise SpoolUnavailable("spool: cannot commit: database or disk is full")

            rig.spool.append = full  # type: ignore[method-assign]
            for i in range(5):  # over several drain intervals: the drainer probes and switches back meanwhile
                answer = await asyncio.wait_for(post(rig, f"b{i}"), 3)
                assert answer.status == 503
                await asyncio.sleep(0.1)
            rig.spool.append = spool_append  # type: ignore[method-assign]
            rig.publisher.up = True
            await wait_for(lambda: rig.app.acknowledger.queue_healthy)
            assert (await asyncio.wait_for(post(rig, "c"), 3)).status == 200

    asyncio.run(go())
    assert eids(rig.records()) == ["a", "c"]
