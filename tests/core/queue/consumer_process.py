"""Bodies of the consumer processes the SQLite tests spawn (kept import-light so spawn starts fast)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from core.queue.sqlite import SQLiteSubscriber


def drain_and_ack(queue_path: str, result_path: str, batch: int) -> None:
    """Consume until the queue is empty, acking each batch; write every (data, attempt) seen as JSON lines."""
    subscriber = SQLiteSubscriber(queue_path, lease_seconds=30.0)
    seen: list[tuple[str, int]] = []
    while True:
        deliveries = subscriber.pull(batch, timeout=0.2)
        if not deliveries:
            if subscriber.depth() == 0:
                break
            continue
        seen += [(d.data.decode(), d.attempt) for d in deliveries]
        subscriber.ack([d.ack_id for d in deliveries])
    subscriber.close()
    Path(result_path).write_text("".join(json.dumps(item) + "\n" for item in seen))


def lease_and_hang(queue_path: str, ready_path: str, lease_seconds: float) -> None:
    """Lease everything available, report how many, then hang until killed (a crashed worker)."""
    subscriber = SQLiteSubscriber(queue_path, lease_seconds=lease_seconds)
    deliveries = subscriber.pull(1000, timeout=5.0)
    staging = Path(ready_path + ".tmp")
    staging.write_text(str(len(deliveries)))
    staging.rename(ready_path)  # atomic: the parent never reads a half-written count
    time.sleep(600)
