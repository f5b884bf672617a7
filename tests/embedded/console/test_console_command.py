"""`eventkit console` on its own: the pages of a data folder while `up` runs, and of a `gs://` lake and registry."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.lake import open_lake
from core.lake.local import LocalLake
from loader.selection import read_bad_rows
from tests.embedded.console.rig import Traffic, running_up, send_traffic, wait_for, wait_for_lake_bad
from tests.enrich.processes import EventkitProcess, free_port

pytestmark = pytest.mark.slow


def _rows_counted(page: str) -> int:
    return sum(int(n) for n in re.findall(r'<td class="num" data-rows>(\d+)</td>', page))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Traffic, dict[str, int]]]:
    """A data folder and registry filled by an in-process `up` (still running while the tests read it)."""
    tmp = tmp_path_factory.mktemp("console-cmd")
    with running_up(tmp) as (_, client, registry):
        traffic = send_traffic(client)
        counts = wait_for(client, len(traffic.good) + len(traffic.bad))
        wait_for_lake_bad(tmp / "data", len(traffic.bad))
        yield tmp / "data", registry, traffic, counts


def _serve(args: list[str], log: Path, auth: str | None = None) -> tuple[EventkitProcess, str]:
    port = free_port()
    extra = ["--console-auth", auth] if auth else []
    proc = EventkitProcess(["console", *args, "--port", str(port), *extra], log)
    base = f"http://127.0.0.1:{port}"
    proc.wait_http(f"{base}/favicon.ico")
    return proc, base


def test_console_on_a_data_folder_shows_what_up_shows(data_dir: tuple[Path, Path, Traffic, dict[str, int]]) -> None:
    """`eventkit console --data-dir` lists the same events (counts as /micro/all) and bad-row groups as the lake."""
    data, _, _, counts = data_dir
    proc, base = _serve(["--data-dir", str(data)], data.parent / "console.log")
    try:
        events = httpx.get(f"{base}/", follow_redirects=True).text
        for key in ("good", "bad", "total"):
            assert re.search(rf'data-count="{key}">{counts[key]}<', events)
        assert len(re.findall(r'<tr data-id="\d+"', events)) == counts["total"]
        bad = httpx.get(f"{base}/console/bad").text
        assert _rows_counted(bad) == len(list(read_bad_rows(LocalLake(data / "lake")))) == counts["bad"]
        assert "com.acme/checkout/jsonschema/1-0-1" not in bad
        assert 'href="/console/schemas/com.acme/checkout/1-0-1"' in httpx.get(f"{base}/console/schemas").text
    finally:
        proc.terminate()


def test_console_on_all_interfaces_asks_for_the_token(data_dir: tuple[Path, Path, Traffic, dict[str, int]]) -> None:
    """With --host 0.0.0.0 and a token, a request without it is 401 and one with it is served."""
    data, _, _, _ = data_dir
    port = free_port()
    proc = EventkitProcess(
        ["console", "--data-dir", str(data), "--host", "0.0.0.0", "--port", str(port), "--console-auth", "tok-1"],
        data.parent / "console-auth.log",
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/favicon.ico")  # the icon needs no token
        assert httpx.get(f"http://127.0.0.1:{port}/console/events").status_code == 401
        ok = httpx.get(f"http://127.0.0.1:{port}/console/events", headers={"Authorization": "Bearer tok-1"})
        assert ok.status_code == 200
    finally:
        proc.terminate()


@pytest.mark.gcs
def test_console_reads_a_gs_lake_and_registry(
    data_dir: tuple[Path, Path, Traffic, dict[str, int]], gcs_bucket: str, tmp_path: Path
) -> None:
    """On a `gs://` lake and registry (fake-gcs-server) the bad-row groups, one row and the schema tree are shown."""
    data, registry, traffic, _ = data_dir
    lake = open_lake(f"gs://{gcs_bucket}/lake")
    local = LocalLake(data / "lake")
    for name in local.list("bad/"):
        lake.create(name, local.read(name))
    schemas = open_lake(f"gs://{gcs_bucket}/registry")
    for path in registry.rglob("*"):
        if path.is_file():
            schemas.create("schemas/" + path.relative_to(registry).as_posix(), path.read_bytes())
    proc, base = _serve(
        ["--lake", f"gs://{gcs_bucket}/lake", "--registry", f"gs://{gcs_bucket}/registry"], tmp_path / "gcs.log"
    )
    try:
        bad = httpx.get(f"{base}/console/bad").text
        assert _rows_counted(bad) == len(traffic.bad)
        group = re.search(r'href="(/console/bad/group\?[^"]*checkout[^"]*)"', bad)
        assert group is not None
        row = re.search(r'href="(/console/bad/row\?[^"]+)"', httpx.get(base + html.unescape(group.group(1))).text)
        assert row is not None
        one = html.unescape(httpx.get(base + html.unescape(row.group(1))).text)
        assert "at $.total" in one and '"type": "number"' in one  # the excerpt from the gs:// registry
        tree = httpx.get(f"{base}/console/schemas").text
        assert 'href="/console/schemas/com.acme/checkout/1-0-1"' in tree
        assert httpx.get(f"{base}/console/events").status_code == 404  # no Micro store and no warehouse
    finally:
        proc.terminate()


def test_console_lists_a_warehouses_events_without_a_micro_store(
    data_dir: tuple[Path, Path, Traffic, dict[str, int]],
) -> None:
    """With --warehouse (and no data folder) the events page lists the loaded good events, newest first, and one
    event shows its atomic fields and its self-describing event with the schema link."""
    data, registry, traffic, _ = data_dir
    warehouse = f"duckdb://{(data / 'warehouse.duckdb').as_posix()}"
    deadline = time.monotonic() + 30
    while _loaded(warehouse) < len(traffic.good):  # up's loader runs every 2 s
        assert time.monotonic() < deadline
        time.sleep(0.2)
    args = ["--lake", str(data / "lake"), "--registry", str(registry), "--warehouse", warehouse]
    proc, base = _serve(args, data.parent / "console-warehouse.log")
    try:
        page = httpx.get(f"{base}/console/events").text
        assert 'id="from-warehouse"' in page
        ids = re.findall(r'<tr data-id="([0-9a-f-]{36})"', page)
        assert sorted(ids) == sorted(traffic.good)
        assert len(re.findall(r'<tr data-id="[^"]+"', httpx.get(f"{base}/console/events?app=other").text)) == 0
        (checkout,) = re.findall(r'<tr data-id="([^"]+)"', httpx.get(f"{base}/console/events?event=checkout").text)
        one = html.unescape(httpx.get(f"{base}/console/warehouse/{checkout}").text)
        assert '<a href="/console/schemas/com.acme/checkout/1-0-0">iglu:com.acme/checkout/jsonschema/1-0-0</a>' in one
        assert '"orderId": "o-1"' in one and "<dt>app_id</dt><dd>shop</dd>" in one
        assert httpx.get(f"{base}/console/warehouse/no-such-event").status_code == 404
    finally:
        proc.terminate()


def _loaded(warehouse: str) -> int:
    from loader.destinations.duckdb_tables import open_warehouse, warehouse_path

    if not warehouse_path(warehouse).exists():
        return 0
    con = open_warehouse(warehouse, wait_s=5, read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        return int(con.execute("SELECT count(*) FROM events").fetchone()[0]) if "events" in tables else 0  # type: ignore[index]
    finally:
        con.close()
