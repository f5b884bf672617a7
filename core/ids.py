"""Random version-4 UUID strings from pooled OS randomness: a new id costs a slice and a format, not a system call.

`str(uuid.uuid4())` asks the kernel for 16 bytes (one getrandom call) per id. The collector mints an
id per new visitor, and enrich one per pii_transformation event and per event without an `eid`: with
the PII enrichment's emitEvent on, that call was the largest system-time cost of enrich. Here one
read of 4 KiB from the same source (os.urandom, the OS CSPRNG) serves 256 ids.

Each 16-byte slice is handed out once: slices come from one iterator, whose `next` is a single C
call under the GIL, so concurrent threads never share one (two threads refilling at once each make
a pool and one pool's unused slices are dropped, never reused). A forked child drops the pool it
inherited, or it would repeat its parent's next ids.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Final

__all__ = ["IDS_PER_READ", "new_uuid4"]

IDS_PER_READ: Final = 256
# The variant digit (RFC 4122: 10xx) for each value of the random high nibble of byte 8.
_VARIANT: Final = "89ab89ab89ab89ab"
_slices: Iterator[bytes] = iter(())


def new_uuid4() -> str:
    """A random version-4 UUID string, exactly as `str(uuid.uuid4())` formats one."""
    global _slices
    raw = next(_slices, None)
    if raw is None:
        pool = os.urandom(16 * IDS_PER_READ)
        _slices = iter([pool[i : i + 16] for i in range(16, len(pool), 16)])
        raw = pool[:16]
    h = raw.hex()
    # version 4 in the high nibble of byte 6, the variant in the two high bits of byte 8
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[raw[8] >> 4]}{h[17:20]}-{h[20:]}"


def _forget_pool() -> None:
    global _slices
    _slices = iter(())


os.register_at_fork(after_in_child=_forget_pool)
