"""The Micro store shared by several writer processes (the enrich workers of `eventkit up`) and the server."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from embedded.micro_store import MicroRecord, MicroStore

WRITERS = 4
BATCHES = 40
PER_BATCH = 25
BOUND = 150


def _write(path: Path, writer: int, start: multiprocessing.synchronize.Event) -> None:
    """One writer process: batches of bad records tagged with the writer and a running number, as fast as it can."""
    store = MicroStore(path, max_events=BOUND)
    start.wait(60)
    for batch in range(BATCHES):
        records = [
            MicroRecord(valid=False, body=f'{{"w":{writer},"n":{batch * PER_BATCH + i}}}'.encode(), vendor=f"w{writer}")
            for i in range(PER_BATCH)
        ]
        store.add(records)
    store.close()


def _reset(path: Path) -> None:
    store = MicroStore(path, max_events=BOUND)
    store.reset()
    store.close()


def test_several_writer_processes_keep_the_bound_and_see_a_reset(tmp_path: Path) -> None:
    """Four processes adding records at once never fail on the lock, the store never holds more than max_events
    (read from a fifth connection while they write), /micro/reset from one process empties it for all, and
    after the writers finish it holds exactly max_events records, each writer's newest first."""
    path = tmp_path / "micro.db"
    reader = MicroStore(path, max_events=BOUND)  # the server's connection; creates the file in WAL mode
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    writers = [ctx.Process(target=_write, args=(path, w, start)) for w in range(WRITERS)]
    for p in writers:
        p.start()
    start.set()
    seen_max, reset_done = 0, False
    while any(p.is_alive() for p in writers):
        total = reader.counts().total
        seen_max = max(seen_max, total)
        if not reset_done and total >= BOUND:
            reader.reset()
            reset_done = True
        time.sleep(0.005)
    for p in writers:
        p.join(60)
        assert p.exitcode == 0, "a writer failed (database is locked?)"
    assert reset_done
    assert 0 < seen_max <= BOUND
    assert reader.counts().total == BOUND
    kept = reader.bad()
    assert len(kept) == BOUND
    # Newest first: each writer's records appear in descending order of its running number.
    by_writer: dict[int, list[int]] = {}
    for record in kept:
        by_writer.setdefault(record["w"], []).append(record["n"])
    for numbers in by_writer.values():
        assert numbers == sorted(numbers, reverse=True)

    resetter = ctx.Process(target=_reset, args=(path,))
    resetter.start()
    resetter.join(60)
    assert resetter.exitcode == 0
    assert reader.counts().total == 0  # another process's reset is what this connection sees
    reader.close()
