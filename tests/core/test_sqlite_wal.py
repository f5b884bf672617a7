"""use_wal: processes that create and open one SQLite file at the same moment all get it in WAL mode."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

_OPEN = """
import sqlite3, sys, time
from core.sqlite_wal import use_wal
start, path, plain = float(sys.argv[1]), sys.argv[2], sys.argv[3] == "plain"
while time.time() < start:
    pass
conn = sqlite3.connect(path, timeout=30, isolation_level=None)
conn.execute("PRAGMA busy_timeout=30000")
try:
    conn.execute("PRAGMA journal_mode=WAL") if plain else use_wal(conn)
except sqlite3.OperationalError as e:
    print(e)
    sys.exit(1)
conn.execute("PRAGMA synchronous=NORMAL")
conn.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY)")  # as the attempt log does next
print(conn.execute("PRAGMA journal_mode").fetchone()[0])
"""


def _open_together(folder: Path, how: str, processes: int = 8) -> list[str]:
    """`processes` interpreters open the same new file in the same millisecond; what each one said."""
    folder.mkdir()
    start = time.time() + 1.5  # after every interpreter has started
    running = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, str(start), str(folder / "shared.db"), how],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    return [p.communicate(timeout=60)[0].strip() for p in running]


def test_every_process_opening_a_new_file_at_once_gets_wal(tmp_path: Path) -> None:
    """8 processes create and open one file in the same instant, 3 times: each ends in WAL mode with its table.
    (CI once saw an enrich worker's `PRAGMA journal_mode=WAL` fail at once with "database is locked" at start-up;
    this machine does not reproduce it on demand, so this holds the guarantee, not the old failure.)"""
    for attempt in range(3):
        assert _open_together(tmp_path / f"try-{attempt}", "use_wal") == ["wal"] * 8
