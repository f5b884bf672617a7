"""`eventkit schema check` draws its files/rows progress line on a terminal's stderr, never in pipes or with --json."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from core.progress import Progress
from registry.check import check_impact
from tests.registry.test_cli_journeys import CLICK, _bad_rows, _good_events, _schema, _write, eventkit
from tests.terminal import eventkit_on_terminal, progress_lines


def _lake_and_candidate(tmp_path: Path) -> tuple[Path, Path]:
    """Two good files (four events) and one bad file (two rows) an hour old; a 1-0-1 that allows ids of 10."""
    lake = tmp_path / "lake"
    _good_events(lake, "part-0.parquet", [("e1", "f1", {"id": "a"}), ("e2", "f2", {"id": "x" * 15})])
    _good_events(lake, "part-1.parquet", [("e3", "f3", {"id": "b"}), ("e4", "f4", {"id": "c"})])
    _bad_rows(lake, [("e5", {"id": "y" * 5}, CLICK), ("e6", {"id": "y" * 30}, CLICK)])
    candidate = _write(tmp_path / "1-0-1.json", _schema("1-0-1", {"id": {"type": "string", "maxLength": 10}}, ["id"]))
    return lake, candidate


def _untimed(report: str) -> str:
    """The report without the cutoff's timestamp (now minus --since), which differs between two runs."""
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", "<cutoff>", report)


def test_check_draws_files_rows_and_rate_on_a_terminal(tmp_path: Path) -> None:
    """On a TTY: 0/3 files, then 3/3 files with the 6 rows read and rows/s; the human report on stdout is unchanged."""
    lake, candidate = _lake_and_candidate(tmp_path)
    args = ("schema", "check", str(candidate), "--lake", str(lake), "--allow-new-failures")
    shown = eventkit_on_terminal(*args)
    assert shown.returncode == 0, shown.terminal
    lines = progress_lines(shown.terminal, "checking")
    assert lines[0] == "checking: 0/3 files (0%), 0 rows"
    assert re.fullmatch(r"checking: 3/3 files \(100%\), 6 rows, [\d,]+(\.\d)? rows/s, 0:0\d elapsed", lines[-1]), lines
    piped = eventkit(*args)
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "rows/s" not in piped.stderr and "checking: " not in piped.stderr
    assert _untimed(shown.stdout) == _untimed(piped.stdout) and "would newly fail 1" in shown.stdout


def test_check_json_and_no_progress_keep_the_terminal_free_of_it(tmp_path: Path) -> None:
    """--json (a machine wants the report alone) and --no-progress draw nothing, even on a TTY."""
    lake, candidate = _lake_and_candidate(tmp_path)
    args = ("schema", "check", str(candidate), "--lake", str(lake))
    as_json = eventkit_on_terminal(*args, "--json")
    assert as_json.returncode == 1  # one event would newly fail: the gate still holds
    assert orjson.loads(as_json.stdout)["good"]["entitiesChecked"] == 4
    assert "rows/s" not in as_json.terminal and progress_lines(as_json.terminal, "checking") == []
    quiet = eventkit_on_terminal(*args, "--no-progress")
    assert quiet.returncode == 1 and "would newly fail 1" in quiet.stdout
    assert "rows/s" not in quiet.terminal and progress_lines(quiet.terminal, "checking") == []


def test_check_impact_counts_files_and_rows_into_a_given_progress(tmp_path: Path) -> None:
    """The library call reports 3 files and 6 rows to the reporter it is handed (nothing for an empty lake), and
    returns the same report without one."""
    lake, candidate = _lake_and_candidate(tmp_path)
    schema = orjson.loads(candidate.read_bytes())
    now = datetime.now(UTC)
    progress = Progress("checking", unit="files", stream=io.StringIO(), enabled=True)
    with_progress = check_impact(schema, str(lake), since=timedelta(days=7), now=now, progress=progress)
    assert (progress.done, progress.total, progress.rows) == (3, 3, 6)
    without = check_impact(schema, str(lake), since=timedelta(days=7), now=now)
    assert with_progress.to_json() == without.to_json()
    stream = io.StringIO()
    check_impact(
        schema, str(tmp_path / "empty"), since=timedelta(days=7), progress=Progress("x", stream=stream, enabled=True)
    )
    assert stream.getvalue() == ""  # nothing to read: no line at all
