"""Committing a cut file to the lake: create-only, retried with backoff on infrastructure errors.

`LakeUnavailable` is retried (exponential backoff, capped) until it succeeds or the worker is
stopping; it never turns data into bad rows. `ObjectExists` means the name is taken: part names are
unique per writer, so on a retry it is our own earlier attempt that succeeded although its answer
was lost; we confirm by reading the object back (same bytes → committed). Different bytes under our
name would mean a writer-id clash: the file is then committed under a fresh name.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import LakeUnavailable, ObjectExists
from core.lake.partitions import PartNamer
from core.lake.port import Lake
from enrich.outputs.rolling import PendingFile

__all__ = ["Backoff", "commit_file"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff between retries of an infrastructure operation."""

    initial_s: float = 0.1
    maximum_s: float = 10.0
    factor: float = 2.0

    def delays(self) -> _Delays:
        return _Delays(self)


class _Delays:
    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._next = backoff.initial_s

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * self._backoff.factor, self._backoff.maximum_s)
        return delay


def commit_file(
    lake: Lake,
    pending: PendingFile,
    namer: PartNamer,
    *,
    backoff: Backoff = Backoff(),
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], object] = time.sleep,
    on_retry: Callable[[str, Exception], None] | None = None,
) -> bool:
    """Create `pending` in the lake; True once committed, False only if stopping while the lake is down."""
    delays = backoff.delays()
    while True:
        try:
            lake.create(pending.name, pending.data)
            return True
        except ObjectExists:
            try:
                if lake.read(pending.name) == pending.data:
                    return True
            except (LakeUnavailable, FileNotFoundError) as e:
                if on_retry is not None:
                    on_retry(pending.name, e)
                if should_stop():
                    return False
                sleep(delays.next())
                continue
            pending.name = namer.next_name(pending.root, pending.opened_ms, pending.ext)
        except LakeUnavailable as e:
            if on_retry is not None:
                on_retry(pending.name, e)
            if should_stop():
                return False
            sleep(delays.next())
