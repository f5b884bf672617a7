"""Parquet is read from paths or Arrow buffers, never from a Python file object, checked on the source.

A Python file object (`io.BytesIO`, `open(...)`) handed to a pyarrow reader is wrapped in a C++ file that
holds a Python reference. Arrow's scan threads may release that wrapper after the command has returned;
if that happens while the interpreter exits, the thread must take the GIL, is stopped by Python, and the
process aborts ("terminate called without an active exception", exit -6) after printing a correct answer.
That is how `eventkit schema check` failed one run in four. `pa.BufferReader(data)` holds no Python object.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "registry", "collector", "enrich", "loader", "embedded", "tests", "tools")
READERS = {"read_table", "read_metadata", "read_schema", "ParquetFile", "read_pandas", "dataset"}
PYTHON_FILES = {"BytesIO", "open", "StringIO"}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def python_file_readers(source: str) -> list[int]:
    """Lines where a Parquet reader is called with a Python file object made in the call itself."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and _name(node.func) in READERS and node.args):
            continue
        first = node.args[0]
        if isinstance(first, ast.Call) and _name(first.func) in PYTHON_FILES:
            lines.append(node.lineno)
    return lines


def test_the_check_finds_a_python_file_handed_to_a_reader() -> None:
    assert python_file_readers("pq.read_table(io.BytesIO(data))\npq.read_table(pa.BufferReader(data))") == [1]
    assert python_file_readers("pq.ParquetFile(open(path, 'rb'))") == [1]


def test_no_parquet_reader_gets_a_python_file_object() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        for line in python_file_readers(path.read_text())
    ]
    assert not found, f"use pa.BufferReader(bytes) or a path instead: {found}"
