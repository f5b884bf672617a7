"""tune_memory: Arrow allocates from the system allocator afterwards, and glibc's arena cap is accepted;
release_free_memory gives freed heap memory back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _python(code: str) -> str:
    """Run `code` in a fresh interpreter, without the pool setting this process may have exported; its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_tune_memory_moves_arrow_to_the_system_allocator() -> None:
    """In a fresh interpreter Arrow starts on jemalloc or mimalloc; after tune_memory() its default pool is 'system'."""
    code = (
        "import pyarrow as pa; before = pa.default_memory_pool().backend_name; "
        "from core.memory_tuning import tune_memory; tune_memory(); "
        "print(before, pa.default_memory_pool().backend_name)"
    )
    before, after = _python(code).split()
    assert before != "system" and after == "system"


def test_tune_memory_before_arrow_is_imported_does_not_import_it_and_arrow_then_uses_the_system_allocator() -> None:
    """`up`'s server tunes its memory and never uses Arrow: tuning must not load Arrow (~60 MB), and a process
    that imports Arrow afterwards (an enrich worker) still allocates from the system allocator."""
    code = (
        "import sys; from core.memory_tuning import tune_memory; tune_memory(); "
        "loaded = 'pyarrow' in sys.modules; import pyarrow as pa; "
        "print(loaded, pa.default_memory_pool().backend_name)"
    )
    assert _python(code).split() == ["False", "system"]


_TRIM = """
from core.memory_tuning import release_free_memory, tune_memory
tune_memory()
def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
blocks = [bytearray(64 * 1024) for _ in range(2400)]
last = blocks[-1]
del blocks
held = rss()
release_free_memory()
print(held, rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_free_heap_memory_is_given_back() -> None:
    """Memory freed below the top of glibc's heap stays in the process until trimmed: 150 MB of 64 KiB blocks,
    freed but for the last (which pins the heap's top), are given back by release_free_memory."""
    held, after = map(float, _python(_TRIM).split())
    assert held - after > 100, (held, after)
