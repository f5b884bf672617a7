"""A data folder or local lake that is not there is an error naming it (exit 2), through the real `eventkit`."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from core.errors import ConfigError
from core.layout import check_data_dir, readable_lake

REPO = Path(__file__).resolve().parents[2]
CANDIDATE = REPO / "tests/cases/compat/checkout-1-0-0.json"


def eventkit(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # no report, no empty summary: nothing pretends to have worked
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["load", "--lake", "{missing}"],
        ["bad", "--lake", "{missing}"],
        ["replay", "--lake", "{missing}", "--dry-run"],
        ["schema", "check", str(CANDIDATE), "--lake", "{missing}"],
        ["load", "--lake", "file://{missing}"],
    ],
)
def test_a_missing_lake_is_an_error_naming_it(tmp_path: Path, args: list[str]) -> None:
    """`--lake /tmp/nope` on every reader exits 2 with one line naming the path (it used to load or find nothing)."""
    missing = tmp_path / "nope"
    result = eventkit(*(a.format(missing=missing) for a in args))
    _one_line_error(result, "--lake", str(missing), "does not exist")


@pytest.mark.parametrize("command", [["load"], ["bad"], ["replay", "--dry-run"], ["schema", "check", str(CANDIDATE)]])
def test_a_missing_data_dir_is_an_error_naming_it(tmp_path: Path, command: list[str]) -> None:
    """`--data-dir /tmp/nope` exits 2 naming the folder, on load, bad, replay and schema check alike."""
    missing = tmp_path / "nope"
    _one_line_error(eventkit(*command, "--data-dir", str(missing)), "--data-dir", str(missing), "does not exist")


@pytest.mark.parametrize("command", [["bad"], ["replay", "--dry-run"], ["schema", "check", str(CANDIDATE)]])
def test_a_folder_without_the_eventkit_layout_is_refused(tmp_path: Path, command: list[str]) -> None:
    """A `--data-dir` that exists but holds nothing eventkit wrote (e.g. a typo for a parent folder) exits 2."""
    (tmp_path / "notes.txt").write_text("not a data folder\n")
    _one_line_error(
        eventkit(*command, "--data-dir", str(tmp_path)), "--data-dir", str(tmp_path), "not an eventkit data folder"
    )


def test_a_file_given_as_the_lake_is_refused(tmp_path: Path) -> None:
    """A lake path that is a file, not a folder, is named as such."""
    file = tmp_path / "lake"
    file.write_text("x")
    _one_line_error(eventkit("bad", "--lake", str(file)), str(file), "is not a folder")


def test_no_options_and_no_data_folder_says_which_lake_it_looked_for(tmp_path: Path) -> None:
    """With neither --lake nor --data-dir, a missing ./data/lake is named with how to point elsewhere."""
    result = eventkit("bad", cwd=tmp_path)
    _one_line_error(result, str(tmp_path / "data" / "lake"), "does not exist", "--data-dir")


def test_a_data_folder_before_its_first_event_is_not_an_error(tmp_path: Path) -> None:
    """A data folder `eventkit up` made but whose lake is not written yet reads as empty (exit 0), not as a typo."""
    (tmp_path / "queue.db").write_bytes(b"")
    result = eventkit("bad", "--data-dir", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["total"] == 0


def test_schema_check_reads_the_lake_of_its_data_dir(tmp_path: Path) -> None:
    """`schema check --data-dir DIR` checks DIR/lake, like load, bad and replay do."""
    from tests.registry.test_check import _entity, _good

    _good(tmp_path / "lake", datetime.now(UTC) - timedelta(hours=1), [(_entity("short"), [])])
    result = eventkit("schema", "check", str(CANDIDATE), "--data-dir", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["good"]["entitiesChecked"] == 1


def test_checks_name_the_setting_they_refuse(tmp_path: Path) -> None:
    """The shared checks raise ConfigError naming the key; remote lakes pass (their bucket is checked on open)."""
    with pytest.raises(ConfigError, match=r"--data-dir: .* does not exist"):
        check_data_dir(tmp_path / "nope")
    with pytest.raises(ConfigError, match=r"loader\.lake: lake .* does not exist"):
        readable_lake(str(tmp_path / "nope"), "loader.lake")
    assert readable_lake("gs://some-bucket/lake", "--lake") == "gs://some-bucket/lake"
    (tmp_path / "lake").mkdir()
    assert check_data_dir(tmp_path) == tmp_path
