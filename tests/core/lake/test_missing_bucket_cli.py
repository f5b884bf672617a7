"""A gs:// lake whose bucket does not exist, through the real `eventkit` against fake-gcs-server: said once, exit 2,
or created with `--create-bucket` (enrich and load used to retry the 404 every second with no hint)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.services.gcs import FakeGcs

REPO = Path(__file__).resolve().parents[3]
EVENTKIT = [sys.executable, "-c", "from core.cli import main; main()"]


def _missing() -> str:
    return f"missing-{uuid.uuid4().hex[:12]}"


def eventkit(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EVENTKIT, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def _bucket_exists(emulator: FakeGcs, name: str) -> bool:
    return bool(emulator.client().bucket(name).exists())


def _says_missing_once(result: subprocess.CompletedProcess[str], bucket: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    message = f"bucket '{bucket}' does not exist (create it, or pass --create-bucket"
    assert result.stderr.count(message) == 1, result.stderr
    # one line for the mistake (after the lines naming the registry, which the lake readers print first)
    informational = ("registry: ", "published there ")
    assert len([ln for ln in result.stderr.strip().splitlines() if not ln.startswith(informational)]) == 1


def test_load_names_the_missing_bucket_and_exits(gcs_emulator: FakeGcs, tmp_path: Path) -> None:
    """`eventkit load --lake gs://MISSING/...` (also with --watch) exits 2 at once, naming the bucket a single time."""
    bucket = _missing()
    warehouse = f"duckdb://{tmp_path / 'w.duckdb'}"
    started = time.monotonic()
    result = eventkit("load", "--lake", f"gs://{bucket}/lake", "--warehouse", warehouse, "--watch", "1")
    _says_missing_once(result, bucket)
    assert time.monotonic() - started < 30
    assert not _bucket_exists(gcs_emulator, bucket)


def test_readers_name_the_missing_bucket(gcs_emulator: FakeGcs) -> None:
    """`bad`, `replay` and `schema check` on a missing bucket exit 2 with the same one line."""
    bucket = _missing()
    candidate = str(REPO / "tests/cases/compat/checkout-1-0-0.json")
    for args in (["bad"], ["replay", "--dry-run"], ["schema", "check", candidate]):
        _says_missing_once(eventkit(*args, "--lake", f"gs://{bucket}/lake"), bucket)


def test_load_with_create_bucket_creates_it(gcs_emulator: FakeGcs, tmp_path: Path) -> None:
    """`eventkit load --create-bucket` creates the lake's bucket and loads nothing from it (exit 0)."""
    bucket = _missing()
    warehouse = f"duckdb://{tmp_path / 'w.duckdb'}"
    result = eventkit("load", "--lake", f"gs://{bucket}/lake", "--warehouse", warehouse, "--create-bucket")
    assert result.returncode == 0, result.stderr
    assert "loaded 0 rows from 0 files" in result.stderr
    assert _bucket_exists(gcs_emulator, bucket)


def test_enrich_names_the_missing_bucket_and_exits(gcs_emulator: FakeGcs, tmp_path: Path) -> None:
    """`eventkit enrich --lake gs://MISSING/...` exits 2 before starting any worker, naming the bucket once."""
    bucket = _missing()
    raw = f"sqlite://{tmp_path / 'queue.db'}"
    result = eventkit("enrich", "--raw", raw, "--lake", f"gs://{bucket}/lake", "--registry", str(REPO / "schemas"))
    _says_missing_once(result, bucket)
    assert "worker(s)" not in result.stderr


def test_enrich_with_create_bucket_creates_it_and_runs(gcs_emulator: FakeGcs, tmp_path: Path) -> None:
    """`eventkit enrich --create-bucket` creates the bucket (as it creates topics), starts, and stops cleanly."""
    bucket = _missing()
    raw = f"sqlite://{tmp_path / 'queue.db'}"
    log = tmp_path / "enrich.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*EVENTKIT, "enrich", "--raw", raw, "--lake", f"gs://{bucket}/lake", "--create-bucket"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(os.environ),
        )
        try:
            deadline = time.monotonic() + 30
            # Stop it only once its worker runs: a SIGTERM before the worker installs its handler kills it outright.
            while "worker started" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert proc.poll() is None, log.read_text()
            assert _bucket_exists(gcs_emulator, bucket)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            code = proc.wait(30)
    assert code == 0, log.read_text()
    assert "does not exist" not in log.read_text()
