"""The processes the pipeline bench runs, through the CLI as users run them, each in its own process group.

- `Embedded`: `eventkit up` on a fresh data folder (with `--workers 2` when this build's `up` has it);
- `EnrichAlone`: `eventkit enrich`, one worker pinned to one core, on a SQLite raw queue the bench fills;
- `Distributed`: `eventkit collector` → Pub/Sub emulator → `eventkit enrich --workers 2` → fake-gcs-server
  lake → `eventkit load --watch 2` into DuckDB (the emulators from tests/services).

Every process runs `sys.executable -c "from core.cli import main; main()"`, so it runs the build the
bench runs (the compiled one under `make bench`), and is stopped by its process group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.lake import Lake

__all__ = ["Distributed", "Embedded", "EnrichAlone", "EventkitCommand", "pin", "up_accepts_workers"]

EVENTKIT = [sys.executable, "-c", "from core.cli import main; main()"]
CUT_AGE_S = "1"  # files at most 1 s old: `up`'s embedded cut policy, given to the separate enrich too
LOAD_EVERY_S = "2"  # `up`'s continuous loader loads every 2 s: the distributed loader does the same


def pin(core: int) -> list[str]:
    """`taskset -c CORE` when there is a core to spare, else nothing."""
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def _free_port() -> int:
    from tests.services.processes import free_port

    return free_port()


@cache
def up_accepts_workers() -> bool:
    """Whether this build's `eventkit up` takes `--workers` (enrich and the loader as child processes)."""
    shown = subprocess.run([*EVENTKIT, "up", "--help"], capture_output=True, text=True, timeout=60, check=False)
    return "--workers" in shown.stdout


class EventkitCommand:
    """One `eventkit ...` process in its own session, its output in a log file; stopped by process group."""

    def __init__(
        self,
        args: list[str],
        log: Path,
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [*(prefix or []), *EVENTKIT, *args],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.log.stem} exited with {self.process.returncode}:\n{self.tail()}")

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.log.stem} did not answer {url} within {timeout:.0f} s:\n{self.tail()}")

    def stop(self, grace: float = 60.0) -> None:
        """SIGTERM the group (a graceful stop: enrich commits and acks), SIGKILL it if it takes longer than `grace`."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):  # a child the leader left behind
            os.killpg(self.process.pid, signal.SIGKILL)


class Embedded:
    """`eventkit up` on `root/data` (fresh), port chosen free; `url` once started."""

    def __init__(self, root: Path, registry: Path, *, workers: int = 2) -> None:
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["up", "--port", str(self.port), "--data-dir", str(self.data), "--registry", str(registry)]
        if up_accepts_workers():
            args += ["--workers", str(workers)]
        root.mkdir(parents=True, exist_ok=True)
        self.command = EventkitCommand(args, root / "up.log", cwd=root)
        self.command.wait_http(f"{self.url}/health")

    @property
    def lake(self) -> Path:
        return self.data / "lake"

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    def stop(self) -> None:
        self.command.stop()


class EnrichAlone:
    """`eventkit enrich`, one worker pinned to core 0, from `root/queue.db` (SQLite) to the lake `root/lake`."""

    def __init__(self, root: Path, registry: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.queue = root / "queue.db"
        self.lake = root / "lake"
        self.raw = f"sqlite://{self.queue.as_posix()}"
        args = ["enrich", "--raw", self.raw, "--lake", str(self.lake), "--registry", str(registry)]
        args += ["--workers", "1", "--max-age", CUT_AGE_S, "--max-events", "20000"]
        self.command = EventkitCommand(args, root / "enrich.log", cwd=root, prefix=pin(0))

    def stop(self) -> None:
        self.command.stop()


class Distributed:
    """The cloud shape on emulators, all started here: collector, Pub/Sub, 2 enrich workers, GCS lake, loader."""

    def __init__(self, root: Path, registry: Path, *, batch_size: int | None = None) -> None:
        from tests.services.gcs import FakeGcs
        from tests.services.pubsub import PubSubEmulator

        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.batch_size = batch_size  # enrich's --batch-size (None: eventkit's default)
        self.commands: list[EventkitCommand] = []
        self.pubsub = PubSubEmulator(data_dir=root / "pubsub")
        self.gcs = FakeGcs()
        self._saved = {k: os.environ.get(k) for k in ("PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST")}
        try:
            self._start(registry)
        except BaseException:
            self.stop()
            raise

    def _start(self, registry: Path) -> None:
        from core.queue import open_subscriber

        (self.root / "pubsub").mkdir(exist_ok=True)
        self.pubsub.start()
        self.gcs.start()
        os.environ["PUBSUB_EMULATOR_HOST"] = self.pubsub.host
        os.environ["STORAGE_EMULATOR_HOST"] = self.gcs.url
        bucket = self.gcs.create_bucket("bench")
        self.lake_url = f"gs://{bucket}/lake"
        self.warehouse = self.root / "warehouse.duckdb"
        raw = "pubsub://bench/raw?subscription=enrich"
        probe = open_subscriber(raw, lease_seconds=30)  # the subscription must exist before anything is published
        probe.check()  # type: ignore[attr-defined]
        probe.close()
        reg = str(registry)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        enrich = ["enrich", "--raw", raw, "--lake", self.lake_url, "--registry", reg, "--workers", "2"]
        if self.batch_size is not None:
            enrich += ["--batch-size", str(self.batch_size)]
        self._run([*enrich, "--max-age", CUT_AGE_S], "enrich")
        warehouse = f"duckdb://{self.warehouse.as_posix()}"
        self._run(
            ["load", "--lake", self.lake_url, "--warehouse", warehouse, "--registry", reg, "--watch", LOAD_EVERY_S],
            "load",
        )
        collector = ["collector", "--port", str(self.port), "--host", "127.0.0.1", "--raw", raw]
        self._run([*collector, "--spool", str(self.root / "spool.db")], "collector").wait_http(f"{self.url}/health")

    def _run(self, args: list[str], name: str) -> EventkitCommand:
        command = EventkitCommand(args, self.root / f"{name}.log", cwd=self.root)
        self.commands.append(command)
        return command

    def check_running(self) -> None:
        for command in self.commands:
            command.check_running()

    def last_warnings(self) -> list[str]:
        """The last warning or error each process logged (what a stalled stack was saying)."""
        found = []
        for command in self.commands:
            lines = [line for line in command.tail().splitlines() if '"warning"' in line or '"error"' in line]
            if lines:
                found.append(f"{command.log.stem}: {lines[-1][:400]}")
        return found

    def lake(self) -> Lake:
        from core.lake import open_lake

        return open_lake(self.lake_url)

    def stop(self) -> None:
        for command in reversed(self.commands):
            command.stop()
        self.commands.clear()
        self.gcs.stop()
        self.pubsub.close()
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
