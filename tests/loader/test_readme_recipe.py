"""The README's recovery recipe, read from README.md and run verbatim against a real `eventkit up`, recovers the events.

`eventkit up` runs in an empty folder with its defaults (`./data`, `./schemas`, which it creates), the
Python tracker sends orders whose schema nobody published, and each command of the recipe then runs
as written in the README, from that folder. The orders must reach the warehouse exactly once.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.iglu import SchemaKey
from core.lake import open_lake
from loader.selection import Selection, read_bad_rows
from tests.loader.pipeline import CASES
from tests.loader.test_embedded import CLI, ORDER, query, track, wait_for
from tests.services.processes import free_port, stop_process_group, wait_until_answering

REPO = Path(__file__).resolve().parents[2]
ORDER_SCHEMA = CASES / "replay" / "com.acme" / "order_placed" / "jsonschema" / "1-0-0"


def recipe() -> list[list[str]]:
    """The commands of the README's recovery recipe (the sh block that runs `eventkit replay`), comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text(), flags=re.DOTALL)
    block = next(b for b in blocks if "eventkit replay" in b)
    commands = [shlex.split(line, comments=True) for line in block.splitlines()]
    return [c for c in commands if c]


def _env() -> dict[str, str]:
    """The test's environment with this checkout first on the path (the commands run from another folder)."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(REPO) + (os.pathsep + path if path else "")}


@pytest.fixture
def up_in_empty_folder(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """`eventkit up --port P` with every other option at its default, run in an empty folder."""
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    log = tmp_path / "up.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*CLI, "up", "--port", str(port)],
            cwd=work,
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_answering(
            process,
            f"http://127.0.0.1:{port}/health",
            name="eventkit up",
            log=lambda: log.read_text()[-3000:],
            timeout=60,
            interval=0.2,
        )
        yield port, work, log
    finally:
        stop_process_group(process, grace=30)


def test_recipe_lists_the_four_commands() -> None:
    """The recipe the test runs is the README's: bad, schema publish, replay --dry-run, replay --yes."""
    assert [c[:2] for c in recipe()] == [
        ["eventkit", "bad"],
        ["eventkit", "schema"],
        ["eventkit", "replay"],
        ["eventkit", "replay"],
    ]


@pytest.mark.slow
def test_readme_recovery_recipe_recovers_the_events_exactly_once(up_in_empty_folder: tuple[int, Path, Path]) -> None:
    """Unknown schema → bad rows; the README's four commands, verbatim → every order in the warehouse once."""
    port, work, log = up_in_empty_folder
    schemas, data = work / "schemas", work / "data"
    assert (schemas / "README.md").is_file(), "eventkit up creates the missing ./schemas folder"
    assert f"created {schemas}" in log.read_text()

    track(port)
    lake = open_lake(str(data / "lake"))
    orders = Selection(types=("schema_violations",), schemas=("com.acme/order_placed",))
    wait_for(lambda: len(list(read_bad_rows(lake, orders))) == 6, "six bad rows")

    # The files the recipe names: the schema to publish, and a fix-step file with no steps.
    shutil.copyfile(ORDER_SCHEMA, work / "my-schema")
    (work / "fixes.json").write_text("{}\n")
    recorded = f"registry: {schemas} (recorded by eventkit up in {data / 'eventkit.json'}), then the bundled schemas"
    for command in recipe():
        done = subprocess.run(
            [*CLI, *command[1:]], cwd=work, env=_env(), capture_output=True, text=True, timeout=120, check=False
        )
        shown = " ".join(command)
        assert done.returncode == 0, f"{shown}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        if "--data-dir" in command:
            assert done.stderr.splitlines()[0] == recorded, f"{shown}: {done.stderr[:500]}"
        if "--dry-run" in command:
            # The same dry run's machine report: every order would now pass against the recorded registry.
            subprocess.run(
                [*CLI, *command[1:], "--report", "dry-run.json"], cwd=work, env=_env(), capture_output=True, check=True
            )
            report = json.loads((work / "dry-run.json").read_text())
            assert (report["selected"], report["would_pass"], report["sent_rows"]) == (6, 6, 0), report

    assert (schemas / SchemaKey.parse(ORDER).path).is_file(), "the recipe published the schema into ./schemas"
    # The recipe's siblings given the same data dir use, and name, the same registry.
    # (`load` beside the running `up` is refused, as a second loader on its warehouse, after naming the registry.)
    for command, code in (
        (["load", "--data-dir", "data"], 2),
        (["schema", "check", "my-schema", "--data-dir", "data"], 0),
    ):
        done = subprocess.run([*CLI, *command], cwd=work, env=_env(), capture_output=True, text=True, check=False)
        assert done.returncode == code, done.stderr[-2000:]
        assert done.stderr.splitlines()[0] == recorded, done.stderr[:500]
        if code == 2:
            assert "another eventkit is using" in done.stderr.splitlines()[1], done.stderr[:500]
    assert "1-0-0 is already published" in done.stderr.splitlines()[1], "schema check read that registry"

    warehouse = data / "warehouse.duckdb"
    column = "unstruct_event_com_acme_order_placed_1"

    def loaded_orders() -> int:
        names = {r[0] for r in query(warehouse, "SELECT column_name FROM information_schema.columns")}
        if column not in names:
            return 0
        return int(query(warehouse, f"SELECT count(*) FROM events WHERE {column} IS NOT NULL")[0][0])

    wait_for(lambda: loaded_orders() >= 6, "the replayed orders in the warehouse (loaded by eventkit up)", timeout=60)
    rows = query(warehouse, f"SELECT {column}.orderId, event_id FROM events WHERE {column} IS NOT NULL")
    assert sorted(r[0] for r in rows) == sorted(f"{m}-{i}" for m in ("get", "post") for i in range(3))
    assert len({r[1] for r in rows}) == 6
    assert query(warehouse, "SELECT count(*) FROM events WHERE event = 'page_view'") == [(2,)]
