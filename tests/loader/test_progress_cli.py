"""`eventkit load` and `eventkit replay` draw a progress line on a terminal's stderr, and none of it elsewhere."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.lake import open_lake
from tests.loader.pipeline import CASES, Pipeline, get_payload, self_describing_event
from tests.terminal import eventkit_on_terminal, progress_lines

ORDER = "iglu:com.acme/order_placed/jsonschema/1-0-0"
RATE = r"[\d,]+(\.\d)? rows/s"


# Rich sizes stdout by any standard stream that is a terminal: one width for both runs keeps stdout comparable.
WIDTH = {"COLUMNS": "200"}


def eventkit(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as scripts and CI run it: stdout and stderr on pipes."""
    return subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **WIDTH},
    )


def _lake(root: Path, registry: Path, files: int) -> Path:
    """A lake of `files` good Parquet files of five orders each, and the registry that types them."""
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)
    pipeline = Pipeline(open_lake(str(root)), registry)
    for f in range(files):
        pipeline.run(
            [get_payload(self_describing_event(ORDER, {"orderId": f"o{f}-{i}", "total": i})) for i in range(5)]
        )
    return root


def _without_timing(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "seconds"}


def test_load_draws_files_rows_and_rate_on_a_terminal_only(tmp_path: Path) -> None:
    """On a TTY: 0/3 files first, then 3/3 files with rows/s and the elapsed time, ended by a newline; in a pipe
    (or with --no-progress) stderr holds none of it, and the JSON report on stdout is the same either way."""
    registry = tmp_path / "registry"
    lake = _lake(tmp_path / "lake", registry, files=3)

    def load(warehouse: str, *extra: str) -> list[str]:
        return ["load", "--lake", str(lake), "--warehouse", f"duckdb://{tmp_path}/{warehouse}.duckdb",
                "--registry", str(registry), "--batch-files", "1", *extra]  # fmt: skip

    shown = eventkit_on_terminal(*load("a"))
    assert shown.returncode == 0, shown.terminal
    lines = progress_lines(shown.terminal, "load")
    assert lines[0] == "load: 0/3 files (0%), 0 rows"
    assert re.fullmatch(rf"load: 3/3 files \(100%\), 15 rows, {RATE}, 0:0\d elapsed", lines[-1]), lines
    assert "\x1b[K" in shown.terminal
    assert re.search(r"elapsed\x1b\[K\r\n.*loaded .*15.* rows from", shown.terminal), shown.terminal

    piped = eventkit(*load("b"))
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "rows/s" not in piped.stderr and "load: " not in piped.stderr
    assert "loaded 15 rows from 3 files" in piped.stderr
    tty_report, pipe_report = json.loads(shown.stdout), json.loads(piped.stdout)
    assert list(tty_report) == list(pipe_report) and _without_timing(tty_report) == _without_timing(pipe_report)
    assert tty_report["rows_loaded"] == 15

    quiet = eventkit_on_terminal(*load("c", "--no-progress"))
    assert quiet.returncode == 0 and "loaded 15 rows" in re.sub(r"\x1b\[[0-9;]*m", "", quiet.terminal)
    assert progress_lines(quiet.terminal, "load") == [] and "rows/s" not in quiet.terminal


def test_replay_draws_re_checking_and_sending_lines_on_a_terminal_only(tmp_path: Path) -> None:
    """On a TTY the re-check counts rows at a rate and the send counts 3/3 rows; a pipe and --json show neither,
    and the human summary on stdout is the same with or without the terminal."""
    data_dir, registry = tmp_path / "data", tmp_path / "registry"
    pipeline = Pipeline(open_lake(str(data_dir / "lake")), registry)  # no schema yet: every order is a bad row
    pipeline.run([get_payload(self_describing_event(ORDER, {"orderId": f"o-{i}", "total": i})) for i in range(3)])
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)  # published since: the rows would now pass
    replay = ["replay", "--data-dir", str(data_dir), "--registry", str(registry)]

    dry = eventkit_on_terminal(*replay, "--dry-run", env=WIDTH)
    assert dry.returncode == 0, dry.terminal
    checking = progress_lines(dry.terminal, "re-checking bad rows")
    assert checking[0] == "re-checking bad rows: 0 rows"
    assert re.fullmatch(rf"re-checking bad rows: 3 rows, {RATE}, 0:0\d elapsed", checking[-1]), checking
    piped = eventkit(*replay, "--dry-run")
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "rows/s" not in piped.stderr
    assert dry.stdout == piped.stdout and "3 would pass" in dry.stdout

    as_json = eventkit_on_terminal(*replay, "--dry-run", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["would_pass"] == 3
    assert "rows/s" not in as_json.terminal and progress_lines(as_json.terminal, "re-checking bad rows") == []

    sent = eventkit_on_terminal(*replay, "--yes")
    assert sent.returncode == 0, sent.terminal
    sending = progress_lines(sent.terminal, "sending")
    assert sending[0] == "sending: 0/3 rows (0%)"
    assert re.fullmatch(rf"sending: 3/3 rows \(100%\), {RATE}, 0:0\d elapsed", sending[-1]), sending
    assert "sent 3 bad rows" in sent.stdout
