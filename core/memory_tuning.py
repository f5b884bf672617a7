"""Keep a long-running process's memory near what it uses: fewer malloc arenas, Arrow on the system allocator.

glibc gives threads that allocate at the same time arenas of their own (up to 8 per core), and memory
freed in one arena is not reused for another; Arrow's default jemalloc pool keeps freed pages for
reuse as well. A process of a few busy threads (uvicorn's loop and the queue's group committer in the
collector, the pull-ahead fetcher in enrich) so held several times its live heap. Measured on
`eventkit up` fed 2,000 POSTs of 50 events: the server's peak RSS 241 -> 134 MB and an enrich
worker's up to 500 -> 245 MB with both settings. (Capping the loader's DuckDB memory too was tried
and dropped: past the cap a backlog's load failed with OutOfMemory on every round and the warehouse
stalled.) Called first thing by `up`'s server and child processes and by `eventkit enrich` workers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["tune_memory"]

_M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)
ARENAS = 2


def tune_memory() -> None:
    """Cap glibc's malloc arenas at ARENAS (Linux) and make the system allocator Arrow's default pool."""
    if sys.platform.startswith("linux"):
        name = ctypes.util.find_library("c")
        if name is not None:
            try:
                ctypes.CDLL(name).mallopt(_M_ARENA_MAX, ARENAS)
            except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to cap
                pass
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
