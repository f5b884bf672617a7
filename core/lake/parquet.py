"""Parquet bytes from a lake read by Arrow in Arrow-owned memory, so no Arrow thread needs the GIL at exit.

Arrow's readers decode on a thread pool, and those threads may release the last reference to the
source after the table is returned. A source holding Python memory (`io.BytesIO`, or `bytes` under a
`pa.BufferReader`, which wraps them without copying) is then released on an Arrow thread that must
take the GIL; if the interpreter is exiting, Python stops that thread and the C++ runtime aborts the
process ("terminate called without an active exception", exit -6) after the command printed a
correct answer. `eventkit schema check` failed that way on a loaded machine. Copying the bytes into
an Arrow buffer first (a memcpy, small beside decoding) leaves nothing Python-owned for those threads.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["arrow_owned", "read_parquet"]


def arrow_owned(data: bytes) -> pa.BufferReader:
    """A reader over a copy of `data` in memory Arrow owns (safe to hand to any Arrow reader)."""
    buffer = pa.allocate_buffer(len(data))
    pa.FixedSizeBufferWriter(buffer).write(data)
    return pa.BufferReader(buffer)


def read_parquet(data: bytes, columns: list[str] | None = None) -> pa.Table:
    """The table in one Parquet file's bytes (only `columns`, when given)."""
    return pq.read_table(arrow_owned(data), columns=columns)
