"""Arrow reads bytes only from memory Arrow owns (`core.lake.parquet`), never from Python memory; checked on the source.

Arrow's readers decode on a thread pool whose threads may release the source after the table is
returned. A source holding Python memory (`io.BytesIO`, `open(...)`, or the `bytes` a `pa.BufferReader`
wraps without copying) then needs the GIL on that thread; during interpreter exit Python stops the
thread and the process aborts ("terminate called without an active exception", exit -6) after
printing a correct answer. That is how `eventkit schema check` failed on a loaded machine. Paths are
fine (Arrow opens its own file); bytes go through `core.lake.parquet.arrow_owned` / `read_parquet`.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "registry", "collector", "enrich", "loader", "embedded", "tests", "tools")
THE_ONE_PLACE = REPO / "core" / "lake" / "parquet.py"  # copies bytes into an Arrow buffer before wrapping
READERS = {"read_table", "dataset", "read_pandas", "read_metadata", "read_schema", "ParquetFile"}
PYTHON_FILES = {"BytesIO", "open", "StringIO"}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _made_by(node: ast.expr) -> str | None:
    return _name(node.func) if isinstance(node, ast.Call) else None


def unsafe_arrow_sources(source: str) -> list[int]:
    """Lines that wrap Python memory for Arrow: a BufferReader or py_buffer, or a Parquet reader over a Python file."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        called = _name(node.func)
        wraps_bytes = called in {"BufferReader", "py_buffer"}
        reads_python_file = called in READERS and bool(node.args) and _made_by(node.args[0]) in PYTHON_FILES
        if wraps_bytes or reads_python_file:
            lines.append(node.lineno)
    return sorted(lines)


def test_the_check_finds_python_memory_handed_to_arrow() -> None:
    """BytesIO, open() and BufferReader over bytes are found; a path and arrow_owned(bytes) are not."""
    source = "\n".join(
        [
            "pq.read_table(io.BytesIO(data))",
            "pq.read_table(pa.BufferReader(data))",
            "pq.ParquetFile(open(path, 'rb'))",
            "pq.read_table(str(path))",
            "pq.ParquetFile(arrow_owned(data))",
            "source = pa.BufferReader(data)",
        ]
    )
    assert unsafe_arrow_sources(source) == [1, 2, 3, 6]


def test_no_module_hands_python_memory_to_arrow() -> None:
    """Outside core/lake/parquet.py, no module wraps Python memory for an Arrow reader."""
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if path != THE_ONE_PLACE
        for line in unsafe_arrow_sources(path.read_text())
    ]
    assert not found, f"use core.lake.parquet.read_parquet(bytes), arrow_owned(bytes) or a path instead: {found}"
