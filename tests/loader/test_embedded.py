"""End to end in embedded mode: `eventkit up` as a process, the real Python tracker, then `bad`, `replay` and `load`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from snowplow_tracker import Emitter, SelfDescribingJson, Tracker
from snowplow_tracker.events import PageView, SelfDescribing

from core.lake import open_lake
from loader.selection import Selection, read_bad_rows
from tests.loader.pipeline import CASES
from tests.services.processes import free_port, stop_process_group, wait_until_answering

ORDER = "iglu:com.acme/order_placed/jsonschema/1-0-0"
CLI = [sys.executable, "-c", "from core.cli import main; main()"]


class UpProcess:
    """`eventkit up` in its own process group on a free port; killed with the group at the end."""

    def __init__(self, data: Path, registry: Path, log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [*CLI, "up", "--port", str(self.port), "--data-dir", str(data), "--registry", str(registry)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{self.port}/health"
        wait_until_answering(
            self.process, url, name="eventkit up", log=lambda: log.read_text()[-3000:], timeout=60, interval=0.2
        )

    def stop(self) -> None:
        stop_process_group(self.process, grace=30)


def eventkit(*args: str) -> dict[str, Any]:
    """Run an eventkit command to completion and parse the JSON report it prints on stdout."""
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, start_new_session=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    """Query the warehouse, taking turns with the loader inside `eventkit up` for DuckDB's lock."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with duckdb.connect(str(warehouse), read_only=True) as con:
                return con.execute(sql).fetchall()
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def track(port: int) -> None:
    """Six orders with a schema nobody published yet (three by GET, three in one POST batch) and two page views."""
    failures: list[Any] = []
    for method, batch in (("get", 1), ("post", 3)):
        emitter = Emitter(
            "127.0.0.1",
            protocol="http",
            port=port,
            method=method,
            batch_size=batch,
            request_timeout=10,
            on_failure=lambda n, rows: failures.append(n),
        )
        tracker = Tracker(f"shop-{method}", emitter, app_id="shop")
        for i in range(3):
            tracker.track(SelfDescribing(SelfDescribingJson(ORDER, {"orderId": f"{method}-{i}", "total": 10 + i})))
        tracker.track(PageView(f"https://shop.example/{method}", "Shop"))
        emitter.flush()
    assert not failures


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[UpProcess, Path, Path]]:
    data, registry = tmp_path / "data", tmp_path / "registry"
    registry.mkdir()
    process = UpProcess(data, registry, tmp_path / "up.log")
    try:
        yield process, data, registry
    finally:
        process.stop()


@pytest.mark.slow
def test_unknown_schema_then_publish_replay_and_load_exactly_once(up: tuple[UpProcess, Path, Path]) -> None:
    """Unknown schema → bad rows; publish; dry run says fixable; replay; load: each event once, typed; again: same."""
    process, data, registry = up
    track(process.port)
    lake = open_lake(str(data / "lake"))
    orders = Selection(types=("schema_violations",), schemas=("com.acme/order_placed",))
    wait_for(lambda: len(list(read_bad_rows(lake, orders))) == 6, "six bad rows")

    summary = eventkit("bad", "--data-dir", str(data), "--json")
    assert summary["total"] == 6
    assert summary["groups"][0]["schema"] == ORDER and "schema not found" in summary["groups"][0]["error"]

    shutil.copytree(CASES / "replay", registry, dirs_exist_ok=True)  # publish the schema
    where = ["--data-dir", str(data), "--registry", str(registry)]
    dry = eventkit("replay", *where, "--json", "--dry-run", "--type", "schema_violations")
    assert (dry["selected"], dry["would_pass"], dry["sent_rows"]) == (6, 6, 0)
    assert dry["by_failure"][0]["schema"] == ORDER

    sent = eventkit("replay", *where, "--json", "--yes")
    assert (sent["sent_rows"], sent["sent_records"]) == (6, 6)

    warehouse = data / "warehouse.duckdb"
    column = "unstruct_event_com_acme_order_placed_1"

    # One loader per warehouse: by hand, while `eventkit up` runs its own, `load` is refused at once.
    refused = subprocess.run([*CLI, "load", *where], capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 2, refused.stderr
    assert f"another eventkit is using {data.resolve()} (pid {process.process.pid}, eventkit up)" in refused.stderr

    def loaded_orders() -> int:
        names = {r[0] for r in query(warehouse, "SELECT column_name FROM information_schema.columns")}
        if column not in names:
            return 0
        return int(query(warehouse, f"SELECT count(*) FROM events WHERE {column} IS NOT NULL")[0][0])

    wait_for(lambda: loaded_orders() == 6, "six replayed orders in the warehouse", timeout=60)
    rows = query(warehouse, f"SELECT {column}.orderId, {column}.total, event_id FROM events WHERE {column} IS NOT NULL")
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        (f"{m}-{i}", 10.0 + i) for m in ("get", "post") for i in range(3)
    )
    assert len({r[2] for r in rows}) == 6
    assert query(warehouse, "SELECT count(*) FROM events WHERE event = 'page_view'") == [(2,)]

    # Replaying again sends nothing; forcing a resend still leaves one row per event after loading.
    again = eventkit("replay", *where, "--json", "--yes")
    assert (again["sent_rows"], again["already_replayed"]) == (0, 6)
    forced = eventkit("replay", *where, "--json", "--yes", "--include-replayed")
    assert forced["sent_rows"] == 6
    good_files = lambda: len([n for n in lake.list("good/") if n.endswith(".parquet")])  # noqa: E731
    before = good_files()
    wait_for(lambda: good_files() > before, "the resent events to be enriched")
    time.sleep(5)  # let enrich commit the rest of the resent batch and `up` load it
    assert query(warehouse, f"SELECT count(*), count(DISTINCT event_id) FROM events WHERE {column} IS NOT NULL") == [
        (6, 6)
    ]
