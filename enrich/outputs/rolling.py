"""The rolling file cutter: buffers one output's records and cuts a file on count, bytes or age, whichever first.

A `RollingFile` knows nothing about formats or the lake: it holds records, the messages they came
from (opaque integer tokens, so the worker can ack a message once every file holding its outputs
is committed) and when the first record arrived. `cut()` turns the buffer into a `PendingFile`:
a lake name, the encoded bytes and the token counts it settles once committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from core.lake.partitions import PartNamer

__all__ = ["CutPolicy", "PendingFile", "RollingFile"]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class CutPolicy:
    """When a file is cut: after `max_events` records, `max_bytes` of (estimated) input, or `max_age_s` seconds."""

    max_events: int = 50_000
    max_bytes: int = 128 * 1024 * 1024
    max_age_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_events < 1 or self.max_bytes < 1 or self.max_age_s <= 0:
            raise ValueError(f"cut policy needs positive limits, got {self}")

    @classmethod
    def embedded(cls) -> CutPolicy:
        """Defaults for `eventkit up`: files at most ~1 s old, so an event is visible within ~2 s."""
        return cls(max_events=20_000, max_bytes=32 * 1024 * 1024, max_age_s=1.0)


@dataclass(slots=True)
class PendingFile:
    """A cut file waiting to be created in the lake; `tokens` counts the outputs of each message it holds."""

    name: str
    data: bytes
    count: int
    tokens: dict[int, int]  # message token -> outputs of that message in this file
    collector_ms: list[int] = field(default_factory=list)  # per output, for the latency histogram
    root: str = ""
    opened_ms: int = 0
    ext: str = ""


class RollingFile(Generic[R]):
    """One output stream (e.g. good Parquet, bad/schema_violations) under one lake root."""

    def __init__(
        self,
        root: str,
        ext: str,
        encode: Callable[[list[R]], bytes],
        policy: CutPolicy,
        namer: PartNamer,
    ) -> None:
        self.root = root
        self.ext = ext
        self._encode = encode
        self.policy = policy
        self._namer = namer
        self._records: list[R] = []
        self._tokens: dict[int, int] = {}  # a plain dict: Counter's missing-key hook costs twice the update
        self._collector_ms: list[int] = []
        self._bytes = 0
        self._opened_ms: int | None = None

    def __len__(self) -> int:
        return len(self._records)

    def append(self, record: R, token: int, size: int, now_ms: int, collector_ms: int = 0) -> None:
        """Add one output of message `token`; `size` is its estimated encoded size in bytes."""
        if self._opened_ms is None:
            self._opened_ms = now_ms
        self._records.append(record)
        tokens = self._tokens
        tokens[token] = tokens.get(token, 0) + 1
        self._collector_ms.append(collector_ms)
        self._bytes += size

    @property
    def full(self) -> bool:
        """True when the count or byte limit is reached (cut now, whatever the age)."""
        return len(self._records) >= self.policy.max_events or self._bytes >= self.policy.max_bytes

    def deadline_ms(self) -> int | None:
        """When the open file must be cut because of its age (None when empty)."""
        if self._opened_ms is None:
            return None
        return self._opened_ms + round(self.policy.max_age_s * 1000)

    def due(self, now_ms: int) -> bool:
        deadline = self.deadline_ms()
        return deadline is not None and (self.full or now_ms >= deadline)

    def cut(self) -> PendingFile | None:
        """Encode the buffer as one file with a fresh name and start a new buffer (None when empty)."""
        if self._opened_ms is None:
            return None
        name = self._namer.next_name(self.root, self._opened_ms, self.ext)
        pending = PendingFile(
            name,
            self._encode(self._records),
            len(self._records),
            self._tokens,
            self._collector_ms,
            self.root,
            self._opened_ms,
            self.ext,
        )
        self._records = []
        self._tokens = {}
        self._collector_ms = []
        self._bytes = 0
        self._opened_ms = None
        return pending
