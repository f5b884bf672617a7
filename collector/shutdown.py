"""A bounded shutdown: from the first SIGTERM/SIGINT the process exits within the drain timeout, whatever hangs.

uvicorn's graceful shutdown waits for every open connection and task, and what runs after it
(the lifespan's final publish, enrich's last commit, joining threads) may wait on a disk or a
queue that never answers: with the disk full, `eventkit up` ignored SIGTERM for minutes. The
graceful steps keep their chance (uvicorn gets half the drain timeout for connections), and a
watchdog thread armed by the first signal ends the process when the drain timeout is over.
Nothing acknowledged is lost by that exit: a 200 is only answered once a record is durable, and
enrich acks a raw record only after its outcome is written, so what was cut short is redelivered.
"""

from __future__ import annotations

import os
import threading
from types import FrameType

import uvicorn

__all__ = ["DRAIN_EXIT_CODE", "DeadlineServer", "arm_exit_deadline", "graceful_seconds"]

DRAIN_EXIT_CODE = 70  # EX_SOFTWARE: the shutdown did not finish in time and was cut short

_armed = threading.Lock()


def arm_exit_deadline(seconds: float) -> None:
    """Exit the process `seconds` from now unless it has exited by then (only the first call arms it)."""
    if not _armed.acquire(blocking=False):
        return

    def expire() -> None:
        message = f"eventkit: shutdown did not finish within the drain timeout of {seconds:g} s; exiting now\n"
        try:
            os.write(2, message.encode())
        except OSError:  # the log may be the thing that is full: exiting matters more than saying so
            pass
        os._exit(DRAIN_EXIT_CODE)

    timer = threading.Timer(seconds, expire)
    timer.name = "drain-deadline"
    timer.daemon = True
    timer.start()


class DeadlineServer(uvicorn.Server):
    """uvicorn's server whose first exit signal also arms `arm_exit_deadline(drain_timeout)`."""

    def __init__(self, config: uvicorn.Config, *, drain_timeout: float) -> None:
        super().__init__(config)
        self.drain_timeout = drain_timeout

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        arm_exit_deadline(self.drain_timeout)
        super().handle_exit(sig, frame)


def graceful_seconds(drain_timeout: float) -> int:
    """uvicorn's share of the drain timeout (waiting for open connections), leaving the rest to the lifespan."""
    return max(1, int(drain_timeout / 2))
