"""tune_memory: Arrow allocates from the system allocator afterwards, and glibc's arena cap is accepted."""

from __future__ import annotations

import subprocess
import sys


def test_tune_memory_moves_arrow_to_the_system_allocator() -> None:
    """In a fresh interpreter Arrow starts on jemalloc or mimalloc; after tune_memory() its default pool is 'system'."""
    code = (
        "import pyarrow as pa; before = pa.default_memory_pool().backend_name; "
        "from core.memory_tuning import tune_memory; tune_memory(); "
        "print(before, pa.default_memory_pool().backend_name)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.split()
    assert before != "system" and after == "system"
