"""core.ids: pooled random UUIDs are canonical, never repeat across pool reads, threads or a fork."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from core.ids import IDS_PER_READ, new_uuid4


def test_ids_are_canonical_distinct_uuid4_strings_across_several_pool_reads() -> None:
    ids = [new_uuid4() for _ in range(IDS_PER_READ * 5 + 3)]
    parsed = [uuid.UUID(i) for i in ids]
    assert [str(u) for u in parsed] == ids  # lower-case, dashed: what str(uuid.uuid4()) gives
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert len(set(ids)) == len(ids)
    assert {i[19] for i in ids} == set("89ab")  # every variant digit occurs
    assert {i[14] for i in ids} == {"4"}


def test_threads_drawing_at_once_never_get_the_same_id() -> None:
    start = threading.Barrier(8)
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(out: list[str]) -> None:
        start.wait()
        out.extend(new_uuid4() for _ in range(IDS_PER_READ * 3))

    threads = [threading.Thread(target=draw, args=(out,)) for out in drawn]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in drawn for i in out]
    assert len(every) == 8 * IDS_PER_READ * 3
    assert len(set(every)) == len(every)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_repeat_its_parents_next_ids() -> None:
    new_uuid4()  # the pool now holds ids the parent has not handed out yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first ids and leave without running pytest's teardown
        try:
            os.write(write, "\n".join(new_uuid4() for _ in range(10)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split("\n")
    os.waitpid(pid, 0)
    parent = [new_uuid4() for _ in range(10)]
    assert len(child) == 10
    assert not set(child) & set(parent)
