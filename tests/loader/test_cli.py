"""The `eventkit bad`, `replay` and `load` commands through the real CLI root (in-process, Typer's runner)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.cli import app
from core.lake import open_lake
from tests.loader.pipeline import CASES, Pipeline, get_payload, self_describing_event

ORDER = "iglu:com.acme/order_placed/jsonschema/1-0-0"


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    """A data folder laid out as `eventkit up` does, holding two bad orders and one mistake."""
    data_dir, registry = tmp_path / "data", tmp_path / "registry"
    pipeline = Pipeline(open_lake(str(data_dir / "lake")), registry)
    events = [self_describing_event(ORDER, {"orderId": f"o-{i}", "total": i}) for i in range(2)]
    events.append(self_describing_event(ORDER, {"order_id": "o-9", "total": "1.5"}))
    pipeline.run([get_payload(e) for e in events])
    return data_dir, registry


def run(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "220"})
    return result


def test_bad_prints_a_table_by_type_schema_and_error(data: tuple[Path, Path]) -> None:
    """The summary names the type, the schema and the error with counts per hour."""
    data_dir, _ = data
    result = run("bad", "--data-dir", str(data_dir), "--by", "hour")
    assert result.exit_code == 0, result.output
    assert "schema_violations" in result.output and "com.acme/order_placed" in result.output
    assert "schema not found" in result.output and "3" in result.output


def test_bad_json_and_filters(data: tuple[Path, Path]) -> None:
    """`--json` gives the groups; a filter that matches nothing gives an empty summary."""
    data_dir, _ = data
    summary = json.loads(run("bad", "--data-dir", str(data_dir), "--json").stdout)
    assert summary["total"] == 3 and summary["groups"][0]["rows"] == 3
    empty = json.loads(run("bad", "--data-dir", str(data_dir), "--json", "--type", "size_violation").stdout)
    assert empty["total"] == 0


def test_replay_refuses_to_send_without_a_terminal_or_yes(data: tuple[Path, Path]) -> None:
    """Scripts must say --yes: without a terminal and without it nothing is sent (exit 1)."""
    data_dir, registry = data
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)
    result = run("replay", "--data-dir", str(data_dir), "--registry", str(registry))
    assert result.exit_code == 1
    assert "--yes" in result.output


def test_replay_previews_fixes_before_sending(data: tuple[Path, Path], tmp_path: Path) -> None:
    """With a fix file, the dry run shows before → after for the fixed row and counts every row as passing."""
    data_dir, registry = data
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)
    fixes = tmp_path / "fixes.json"
    fixes.write_text(
        json.dumps(
            {
                "schema_violations": [
                    {
                        "name": "order fix",
                        "steps": [
                            {"op": "Rename", "path": "$.raw.parameters.ue_px.data.data.order_id", "to": "orderId"},
                            {
                                "op": "Cast",
                                "path": "$.raw.parameters.ue_px.data.data.total",
                                "from": "String",
                                "to": "Numeric",
                            },
                        ],
                    }
                ]
            }
        )
    )
    report_file = tmp_path / "report.json"
    result = run(
        "replay", "--data-dir", str(data_dir), "--registry", str(registry), "--fixes", str(fixes),
        "--dry-run", "--report", str(report_file),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"1.5" → 1.5' in result.output and "order fix" in result.output
    report = json.loads(report_file.read_text())
    assert (report["would_pass"], report["fixed"], report["sent_rows"]) == (3, 1, 0)


def test_bad_options_are_reported_not_raised(data: tuple[Path, Path], tmp_path: Path) -> None:
    """A bad time, a bad fix file or a bad bucket exits 2 with a message naming the problem."""
    data_dir, _ = data
    assert "is not a time" in run("bad", "--data-dir", str(data_dir), "--since", "yesterday").output
    (tmp_path / "f.json").write_text("[]")
    result = run("replay", "--data-dir", str(data_dir), "--fixes", str(tmp_path / "f.json"), "--dry-run")
    assert result.exit_code == 2 and "expected an object" in result.output
    assert run("bad", "--data-dir", str(data_dir), "--by", "week").exit_code == 2


def test_load_reports_rows_and_new_columns(tmp_path: Path) -> None:
    """`eventkit load --lake --warehouse` loads the lake once and prints its JSON report."""
    registry = tmp_path / "registry"
    shutil.copytree(CASES / "replay", registry)
    pipeline = Pipeline(open_lake(str(tmp_path / "lake")), registry)
    pipeline.run([get_payload(self_describing_event(ORDER, {"orderId": "a", "total": 1}))])
    args = ["load", "--lake", str(tmp_path / "lake"), "--warehouse", f"duckdb://{tmp_path}/w.duckdb"]
    first = json.loads(run(*args, "--registry", str(registry)).stdout)
    assert first["rows_loaded"] == 1 and first["columns_added"] == ["unstruct_event_com_acme_order_placed_1"]
    assert json.loads(run(*args, "--registry", str(registry)).stdout)["files"] == 0


def test_replay_with_nothing_passing_still_records_failed_recoveries(data: tuple[Path, Path]) -> None:
    """`--yes` with nothing that passes sends nothing but writes each failure as a recovery_error, once."""
    data_dir, registry = data
    args = ("replay", "--data-dir", str(data_dir), "--registry", str(registry), "--yes", "--json")
    first = run(*args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["sent_rows"], report["still_failing"], report["recovery_errors"]) == (0, 3, 3)
    assert "wrote 3 failed recoveries as recovery_error rows" in first.output
    summary = json.loads(run("bad", "--data-dir", str(data_dir), "--json", "--type", "recovery_error").stdout)
    assert summary["total"] == 3
    again = json.loads(run(*args).stdout)
    assert (again["selected"], again["already_replayed"], again["recovery_errors"]) == (6, 3, 0)
    dry = json.loads(run(*args[:-2], "--json", "--dry-run").stdout)
    assert (dry["dry_run"], dry["recovery_errors"]) == (True, 0)
