"""Keep a long-running process's memory near what it uses: fewer malloc arenas, Arrow on the system allocator,
and freed heap memory handed back after each burst of work.

glibc gives threads that allocate at the same time arenas of their own (up to 8 per core), and memory
freed in one arena is not reused for another; Arrow's default jemalloc pool keeps freed pages for
reuse as well. A process of a few busy threads (uvicorn's loop and the queue's group committer in the
collector, the pull-ahead fetcher in enrich) so held several times its live heap. Measured on
`eventkit up` fed 2,000 POSTs of 50 events: the server's peak RSS 241 -> 134 MB and an enrich
worker's up to 500 -> 245 MB with both settings. (The loader's DuckDB is capped where it is opened,
embedded/up_children.py, with batches split when past the cap.) Called first thing by `up`'s server
and child processes and by `eventkit enrich` workers.

glibc also keeps memory freed inside its heaps (below the top chunk) for reuse instead of returning it:
an enrich worker's RSS stood at ~220 MB between files of which ~60 MB was free heap (`malloc_trim`
gave it back every time). `release_free_memory()` does that after each burst (a committed file, a
load round); it walks the heaps once (under a millisecond here), so it is for once a second, not
once an event.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["release_free_memory", "tune_memory"]

_M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)
ARENAS = 2
_libc: ctypes.CDLL | None = None  # glibc, once tune_memory found it


def release_free_memory() -> None:
    """Give the heaps' free memory back to the system (glibc's malloc_trim; a no-op before tune_memory or elsewhere)."""
    if _libc is not None:
        try:
            _libc.malloc_trim(0)
        except AttributeError:  # not glibc
            pass


def tune_memory() -> None:
    """Cap glibc's malloc arenas at ARENAS (Linux) and make the system allocator Arrow's default pool.

    Arrow reads its default pool from the environment when it first allocates, so a process that never
    imports Arrow (`up`'s server) does not load it for this (~60 MB RSS); one that already has is told."""
    global _libc
    if sys.platform.startswith("linux"):
        name = ctypes.util.find_library("c")
        if name is not None:
            try:
                libc = ctypes.CDLL(name)
                libc.mallopt(_M_ARENA_MAX, ARENAS)
                _libc = libc
            except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to cap
                pass
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    if "pyarrow" in sys.modules:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
