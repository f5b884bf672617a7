"""What only the local folder must prove itself: cross-process races, crash safety, I/O errors, local paths."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import LakeUnavailable, ObjectExists
from core.lake import LocalLake, local_path
from core.lake.local import TEMP_PREFIX

REPO = Path(__file__).resolve().parents[3]

RACER = """
import sys, time
from core.errors import ObjectExists
from core.lake.local import LocalLake
root, start, who = sys.argv[1], float(sys.argv[2]), sys.argv[3]
while time.time() < start:
    pass
try:
    LocalLake(root).create("good/race.parquet", who.encode() * 100_000)
except ObjectExists:
    sys.exit(3)
"""

STALLED_WRITER = """
import os, stat, sys, time
from core.lake.local import LocalLake
real_fsync = os.fsync
def stall(fd):
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return real_fsync(fd)  # folder fsyncs pass; stall on the data file
    print("bytes written, not yet published", flush=True)
    time.sleep(60)
os.fsync = stall
LocalLake(sys.argv[1]).create("good/big.parquet", b"x" * 20_000_000)
"""

TOO_BIG_WRITER = """
import resource, signal, sys
from core.errors import LakeUnavailable
from core.lake.local import LocalLake
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write(2) instead of being killed
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    LocalLake(sys.argv[1]).create("good/x.parquet", b"x" * 100_000)
except LakeUnavailable as e:
    print("LakeUnavailable", e)
"""


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_concurrent_creates_from_processes_have_exactly_one_winner(tmp_path: Path) -> None:
    """Four processes released at the same instant to create one name: exactly one wins (link(2) is atomic)."""
    start = time.time() + 1.0
    racers = [_python(RACER, str(tmp_path), str(start), f"p{i}") for i in range(4)]
    codes = [racer.wait(timeout=30) for racer in racers]
    assert sorted(codes) == [0, 3, 3, 3], [r.stderr.read() if r.stderr else "" for r in racers]
    winner = codes.index(0)
    assert LocalLake(tmp_path).read("good/race.parquet") == f"p{winner}".encode() * 100_000


def test_writer_killed_mid_write_leaves_no_visible_object(tmp_path: Path) -> None:
    """A writer SIGKILLed after writing, before publishing, leaves only an invisible temp file; the name stays free."""
    writer = _python(STALLED_WRITER, str(tmp_path))
    assert writer.stdout is not None
    try:
        assert writer.stdout.readline().startswith("bytes written"), writer.stderr.read() if writer.stderr else ""
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
    lake = LocalLake(tmp_path)
    leftovers = list((tmp_path / "good").iterdir())
    assert [p.name[: len(TEMP_PREFIX)] for p in leftovers] == [TEMP_PREFIX]  # the crash really was mid-write
    assert leftovers[0].stat().st_size == 20_000_000
    assert list(lake.list()) == []
    assert not lake.exists("good/big.parquet")
    with pytest.raises(FileNotFoundError):
        lake.read("good/big.parquet")
    lake.create("good/big.parquet", b"complete")
    assert list(lake.list()) == ["good/big.parquet"]


def test_no_temp_file_survives_a_successful_or_refused_create(tmp_path: Path) -> None:
    """After a create and a refused duplicate, the folder holds only the object itself."""
    lake = LocalLake(tmp_path)
    lake.create("a/b", b"1")
    with pytest.raises(ObjectExists):
        lake.create("a/b", b"2")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_permission_error_becomes_lake_unavailable(tmp_path: Path) -> None:
    """A folder the process cannot write turns into LakeUnavailable (retryable), not a crash or a bad row."""
    (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(LakeUnavailable, match="EACCES"):
        LocalLake(tmp_path / "ro").create("x", b"1")


def test_write_error_becomes_lake_unavailable_and_leaves_nothing(tmp_path: Path) -> None:
    """A write the OS refuses (EFBIG from a real file-size limit, like ENOSPC) is LakeUnavailable and leaves no file."""
    writer = _python(TOO_BIG_WRITER, str(tmp_path))
    out, err = writer.communicate(timeout=30)
    assert writer.returncode == 0, err
    assert out.startswith("LakeUnavailable") and "EFBIG" in out
    assert list(tmp_path.rglob("*")) == [tmp_path / "good"]  # folder made, no temp file, no object


def test_object_versus_folder_clash_is_object_exists(tmp_path: Path) -> None:
    """A name that would need an existing object to be a folder (or the reverse) is refused as taken."""
    lake = LocalLake(tmp_path)
    lake.create("a", b"1")
    with pytest.raises(ObjectExists):
        lake.create("a/b", b"2")
    lake.create("c/d", b"3")
    with pytest.raises(ObjectExists):
        lake.create("c", b"4")
    assert list(lake.list()) == ["a", "c/d"]


def test_list_of_a_missing_root_is_empty(tmp_path: Path) -> None:
    """A lake whose folder does not exist yet lists nothing instead of failing; the first create makes it."""
    lake = LocalLake(tmp_path / "not" / "yet")
    assert list(lake.list()) == []
    assert list(lake.list("good/")) == []
    lake.create("good/x", b"1")
    assert (tmp_path / "not" / "yet" / "good" / "x").read_bytes() == b"1"


def test_local_path_points_at_the_file_and_folders(tmp_path: Path) -> None:
    """`local_path` gives the file behind a name, the root for "", and a folder for a prefix."""
    lake = LocalLake(tmp_path)
    lake.create("good/x.parquet", b"1")
    path = local_path(lake, "good/x.parquet")
    assert path is not None and path.read_bytes() == b"1"
    assert local_path(lake) == tmp_path.resolve()
    assert local_path(lake, "good/") == tmp_path.resolve() / "good"
    with pytest.raises(ValueError):
        lake.local_path("../etc/passwd")
