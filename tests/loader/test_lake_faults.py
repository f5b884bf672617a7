"""Unreadable files, bad fix files, a second loader and redelivered bad rows, through the real `eventkit` CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from core.lake import open_lake
from tests.loader.pipeline import CASES, T0, Pipeline, get_payload, self_describing_event

CLI = [sys.executable, "-c", "from core.cli import main; main()"]
ORDER = "iglu:com.acme/order_placed/jsonschema/1-0-0"


def eventkit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run one eventkit command to completion in its own process."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)


def page_view(n: int) -> dict[str, str]:
    """Tracker parameters of one page view (always good)."""
    return {"e": "pv", "p": "web", "tv": "py-1.0.0", "eid": str(uuid.uuid4()), "dtm": str(T0), "url": f"https://x/{n}"}


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path, Pipeline]:
    """A data folder as `eventkit up` lays it out, with three good files and three bad orders (one mistaken)."""
    data_dir, registry = tmp_path / "data", tmp_path / "registry"
    pipeline = Pipeline(open_lake(str(data_dir / "lake")), registry)
    for n in range(3):
        assert pipeline.run([get_payload(page_view(10 * n + i)) for i in range(2)]) == (2, 0)
    orders = [self_describing_event(ORDER, {"orderId": f"o-{i}", "total": i}) for i in range(2)]
    orders.append(self_describing_event(ORDER, {"order_id": "o-9", "total": "1.5"}))
    assert pipeline.run([get_payload(e) for e in orders]) == (0, 3)
    return data_dir, registry, pipeline


def good_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "lake" / "good").rglob("*.parquet"))


def test_a_truncated_good_file_is_quarantined_named_once_and_the_rest_loads(data: tuple[Path, Path, Pipeline]) -> None:
    """A truncated Parquet file is named in one line, recorded, not retried until it changes; the others load."""
    data_dir, registry, _ = data
    first, broken, third = good_files(data_dir)
    whole = broken.read_bytes()
    broken.write_bytes(whole[: len(whole) // 2])
    name = broken.relative_to(data_dir / "lake").as_posix()
    where = ["--data-dir", str(data_dir), "--registry", str(registry)]

    done = eventkit("load", *where)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["files"], report["rows_loaded"]) == (2, 4)
    assert [q["file"] for q in report["quarantined"]] == [name]
    lines = [line for line in done.stderr.splitlines() if "quarantined" in line]
    assert len(lines) == 1 and lines[0].startswith(f"quarantined {name}: ") and "Parquet" in lines[0]
    assert "Traceback" not in done.stderr

    again = eventkit("load", *where)  # not retried: nothing new, the quarantined file left alone
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["files"], json.loads(again.stdout)["skipped_quarantined"]) == (0, 1)
    assert f"quarantined {name}" not in again.stderr and "--retry-quarantined" in again.stderr

    bad = eventkit("bad", "--data-dir", str(data_dir), "--json")
    assert [q["file"] for q in json.loads(bad.stdout)["quarantined_files"]] == [name]
    human = eventkit("bad", "--data-dir", str(data_dir))
    assert f"quarantined {name}: " in human.stdout

    broken.write_bytes(whole)  # put right by hand: it changed, so the next load takes it and lifts the quarantine
    fixed = json.loads(eventkit("load", *where).stdout)
    assert (fixed["files"], fixed["rows_loaded"], fixed["quarantined"]) == (1, 2, [])
    assert json.loads(eventkit("bad", "--data-dir", str(data_dir), "--json").stdout)["quarantined_files"] == []
    assert first.exists() and third.exists()


def test_retry_quarantined_tries_an_unchanged_file_again(data: tuple[Path, Path, Pipeline]) -> None:
    """`--retry-quarantined` reads a quarantined file again even though it has not changed (and re-quarantines it)."""
    data_dir, registry, _ = data
    broken = good_files(data_dir)[0]
    broken.write_bytes(b"not parquet at all")
    where = ["--data-dir", str(data_dir), "--registry", str(registry)]
    assert len(json.loads(eventkit("load", *where).stdout)["quarantined"]) == 1
    retried = eventkit("load", *where, "--retry-quarantined")
    assert retried.returncode == 0 and len(json.loads(retried.stdout)["quarantined"]) == 1


def test_garbage_bad_row_lines_are_reported_per_file_not_counted(data: tuple[Path, Path, Pipeline]) -> None:
    """Binary garbage and non-objects in a bad-row file are named by `bad` and `replay`, never counted or sent."""
    data_dir, registry, _ = data
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)
    folder = data_dir / "lake" / "bad" / "schema_violations" / "date=2026-11-26" / "hour=11"
    (folder / "garbage.jsonl").write_bytes(b'\xff\xfe\x00garbage\n[1, 2]\n{"data": 3\n')
    name = "bad/schema_violations/date=2026-11-26/hour=11/garbage.jsonl"

    summary = eventkit("bad", "--data-dir", str(data_dir), "--json")
    assert summary.returncode == 0, summary.stderr
    report = json.loads(summary.stdout)
    assert report["total"] == 3
    assert [u["file"] for u in report["unreadable_files"]] == [name]
    assert "3 unreadable line(s)" in report["unreadable_files"][0]["error"]
    assert f"unreadable {name}: 3 unreadable line(s)" in eventkit("bad", "--data-dir", str(data_dir)).stdout

    dry = eventkit("replay", "--data-dir", str(data_dir), "--registry", str(registry), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert (plan["selected"], plan["would_pass"]) == (3, 2)
    assert [u["file"] for u in plan["unreadable_files"]] == [name]


def write_fixes(tmp_path: Path, steps: list[dict[str, Any]]) -> Path:
    path = tmp_path / "fixes.json"
    path.write_text(json.dumps({"schema_violations": [{"name": "order fix", "steps": steps}]}))
    return path


def test_a_group_reference_the_pattern_lacks_is_refused_when_the_file_is_read(
    data: tuple[Path, Path, Pipeline], tmp_path: Path
) -> None:
    """`Replace` with `$9` against a one-group pattern: exit 2, one line naming the step and the group, no traceback."""
    data_dir, registry, _ = data
    step = {"op": "Replace", "path": "$.raw.parameters.aid", "match": "^sh(o)p$", "value": "$9"}
    fixes = write_fixes(tmp_path, [step])
    done = eventkit("replay", "--data-dir", str(data_dir), "--registry", str(registry), "--fixes", str(fixes))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"registry: {registry} (from --registry), then the bundled schemas",
        f"error: {fixes}: schema_violations[0].steps[0]: value refers to $9 but match '^sh(o)p$' has 1 group",
    ]


def test_replace_group_references_and_literal_backslashes(data: tuple[Path, Path, Pipeline], tmp_path: Path) -> None:
    """`$1` inserts the group, `$$` a dollar, a backslash stays a backslash (it used to reach re.sub as an escape)."""
    data_dir, registry, _ = data
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)
    step = {"op": "Replace", "path": "$.raw.parameters.aid", "match": "^sh(o)p$", "value": "$1\\$$"}
    fixes = write_fixes(tmp_path, [step])
    where = ("--data-dir", str(data_dir), "--registry", str(registry))
    done = eventkit("replay", *where, "--fixes", str(fixes), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert '$.raw.parameters.aid: "shop" → "o\\\\$"' in done.stdout


def test_preview_says_when_add_invents_a_member_and_prints_errors_in_words(
    data: tuple[Path, Path, Pipeline], tmp_path: Path
) -> None:
    """An `Add` of a member the row lacks is marked as added; a failing re-check and a failed fix read as words."""
    data_dir, registry, _ = data
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)
    fixes = write_fixes(
        tmp_path,
        [
            {"op": "Add", "path": "$.raw.parameters.ue_px.data.data.currency", "value": "EUR"},
            {"op": "Cast", "path": "$.raw.parameters.ue_px.data.data.total", "from": "String", "to": "Numeric"},
        ],
    )
    args = ("replay", "--data-dir", str(data_dir), "--registry", str(registry), "--dry-run", "--samples", "5")
    done = eventkit(*args, "--fixes", str(fixes))
    assert done.returncode == 0, done.stderr
    added = '$.raw.parameters.ue_px.data.data.currency: (absent) → "EUR"  added: the row had no such member'
    assert added in done.stdout
    assert "re-check: fails com.acme/order_placed/jsonschema/1-0-0 " in done.stdout
    assert "((" not in done.stdout and "('" not in done.stdout

    wrong = write_fixes(
        tmp_path, [{"op": "Cast", "path": "$.raw.parameters.ue_px.data.data.total", "from": "Boolean", "to": "Numeric"}]
    )
    failed = eventkit(*args, "--fixes", str(wrong))
    assert "fix failed: Cast $.raw.parameters.ue_px.data.data.total: expected Boolean, found String" in failed.stdout
    assert "((" not in failed.stdout


def test_replay_prints_a_human_summary_by_default_and_json_on_request(data: tuple[Path, Path, Pipeline]) -> None:
    """Without `--json` stdout is a short summary for people; with it stdout is the JSON report only."""
    data_dir, registry, _ = data
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)
    where = ("replay", "--data-dir", str(data_dir), "--registry", str(registry), "--dry-run")
    human = eventkit(*where)
    assert human.returncode == 0, human.stderr
    assert "selected 3 bad rows: 2 would pass, 1 still failing" in human.stdout
    assert "dry run: nothing sent (2 rows would be sent" in human.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(human.stdout)
    machine = eventkit(*where, "--json")
    assert (json.loads(machine.stdout)["would_pass"], json.loads(machine.stdout)["dry_run"]) == (2, True)
    assert "selected 3 bad rows" in machine.stderr


def test_bad_after_a_replay_shows_replayed_rows_and_explains_recovery_errors(
    data: tuple[Path, Path, Pipeline], tmp_path: Path
) -> None:
    """After a replay, sent rows are `replayed`, the still-failing one is stood for by an explained recovery_error."""
    data_dir, registry, _ = data
    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)
    raw = f"sqlite://{tmp_path / 'queue.db'}"
    sent = eventkit("replay", "--data-dir", str(data_dir), "--registry", str(registry), "--raw", raw, "--yes")
    assert sent.returncode == 0, sent.stderr
    assert "sent 2 bad rows (2 raw records)" in sent.stdout and "wrote 1 failed recoveries" in sent.stdout

    report = json.loads(eventkit("bad", "--data-dir", str(data_dir), "--json").stdout)
    assert (report["total"], report["failing"], report["replayed"], report["recovery_error"]) == (4, 1, 2, 1)
    statuses = {(g["type"], g["status"]): g["rows"] for g in report["groups"]}
    assert statuses == {
        ("schema_violations", "replayed"): 2,
        ("schema_violations", "recovery_error"): 1,
        ("recovery_error", "failing"): 1,
    }
    human = eventkit("bad", "--data-dir", str(data_dir)).stdout
    assert "2 replayed" in human and "1 replay failed" in human
    assert "recovery_error rows: a replay tried these rows and they failed again" in " ".join(human.split())


def test_bad_counts_a_redelivered_bad_row_once(data: tuple[Path, Path, Pipeline]) -> None:
    """The same request failing again (new timestamps), and a byte-identical copy of a file, count once each."""
    data_dir, _, pipeline = data
    event = self_describing_event(ORDER, {"orderId": "again", "total": 1})
    assert pipeline.run([get_payload(event)]) == (0, 1)
    assert pipeline.run([get_payload(event)]) == (0, 1)  # redelivered: a second row, other processing times
    files = sorted((data_dir / "lake" / "bad").rglob("*.jsonl"))
    shutil.copy(files[0], files[0].with_name("copy-" + files[0].name))
    report = json.loads(eventkit("bad", "--data-dir", str(data_dir), "--json").stdout)
    assert (report["total"], report["duplicates"]) == (4, 4)  # 3 orders + "again"; its copy and 3 copied orders
    assert "4 redelivered copies of these rows counted once" in eventkit("bad", "--data-dir", str(data_dir)).stdout


def test_a_second_loader_on_the_same_warehouse_is_refused_until_the_first_dies(
    data: tuple[Path, Path, Pipeline],
) -> None:
    """`load --watch` holds the warehouse; a second `load` exits 2 naming its pid; after kill -9 the lock is free."""
    data_dir, registry, _ = data
    where = ["--data-dir", str(data_dir), "--registry", str(registry)]
    first = subprocess.Popen([*CLI, "load", *where, "--watch", "30"], stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr is not None
        assert first.stderr.readline().startswith("registry: ")
        assert "loaded 6 rows" in first.stderr.readline()  # the first load is done: the lock is held
        second = eventkit("load", *where)
        assert second.returncode == 2
        expected = f"error: another eventkit is using {data_dir.resolve()} (pid {first.pid}, eventkit load)"
        assert second.stderr.strip().splitlines()[-1] == expected
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    after = eventkit("load", *where)
    assert after.returncode == 0, after.stderr


@pytest.mark.slow
def test_up_quarantines_a_truncated_good_file_once_and_keeps_loading(tmp_path: Path) -> None:
    """Under `eventkit up` a truncated good file is named in one log line and the other files still load;
    a second `up` on the same data folder exits 2 at once with the first one's pid."""
    from tests.loader.test_embedded import UpProcess, query, wait_for

    data, registry = tmp_path / "data", tmp_path / "registry"
    registry.mkdir()
    log = tmp_path / "up.log"
    up = UpProcess(data, registry, log)
    try:
        started = time.monotonic()
        second = eventkit("up", "--port", "0", "--data-dir", str(data), "--registry", str(registry), timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"error: another eventkit is using {data.resolve()} (pid {up.process.pid}, eventkit up)" in second.stderr
        assert time.monotonic() - started < 30

        source = Pipeline(open_lake(str(tmp_path / "elsewhere")), registry)
        for n in range(2):
            source.run([get_payload(page_view(n))])
        whole, other = sorted((tmp_path / "elsewhere" / "good").rglob("*.parquet"))
        lake = open_lake(str(data / "lake"))
        broken = "good/date=2026-11-26/hour=11/0-broken.parquet"
        lake.create(broken, whole.read_bytes()[:100])
        lake.create("good/date=2026-11-26/hour=11/1-whole.parquet", whole.read_bytes())
        lake.create("good/date=2026-11-26/hour=11/2-other.parquet", other.read_bytes())
        warehouse = data / "warehouse.duckdb"

        def loaded() -> int:
            if not warehouse.exists():
                return 0
            return int(query(warehouse, "SELECT count(*) FROM events WHERE event = 'page_view'")[0][0])

        wait_for(lambda: loaded() == 2, "the two readable files in the warehouse", timeout=60)
        time.sleep(5)  # two more rounds of the loader: the quarantined file is not retried
        lines = [line for line in log.read_text().splitlines() if f"quarantined {broken}: " in line]
        assert len(lines) == 1 and "not a parquet file" in lines[0], lines
        assert "Traceback" not in log.read_text()
    finally:
        up.stop()
