"""All enrichments on, end to end: SQLite raw queue → enrich worker → Parquet lake → DuckDB warehouse."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import orjson

from core.iglu import SchemaKey
from core.lake.local import LocalLake
from core.queue import open_publisher, open_subscriber
from enrich.cli import build_enrich
from enrich.outputs.commit import Backoff
from enrich.outputs.parquet import decode_parquet
from enrich.outputs.rolling import CutPolicy
from enrich.worker import EnrichWorker, WorkerConfig
from loader.columns import column_name
from loader.load import Loader
from registry.resolver import Resolver
from tests.enrich.enrichments.events import payload, staged_configs
from tests.enrich.enrichments.mmdb import write_databases
from tests.enrich.pipeline_env import REPO_ROOT, TEST_SCHEMAS

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
DUID = "a94c1e3a-bbc7-455f-9290-a5cabafb5f22"
FAST = WorkerConfig(
    batch_size=10,
    pull_timeout_s=0.05,
    policy=CutPolicy(max_events=100, max_bytes=10**8, max_age_s=0.2),
    lake_backoff=Backoff(0.01, 0.05),
    registry_backoff=Backoff(0.01, 0.05),
)


def _salted(value: str) -> str:
    return hashlib.sha256((value + "pepper123").encode()).hexdigest()


def _records() -> list[bytes]:
    url = (
        "https://www.shop.example/landing?utm_source=newsletter&utm_medium=email&utm_campaign=winter"
        f"&gclid=CL1ck&_sp={DUID}.1795690000123"
    )
    referrer = "https://www.google.co.uk/search?q=" + quote("warm socks")
    headers = (
        "X-Forwarded-For: 81.2.69.160",
        "Cookie: sp=abc-123",
        "X-Request-Id: req-1",
        "Accept-Language: en-GB",
    )
    params = {"url": url, "refr": referrer, "uid": "alice"}
    return [payload(params, headers=headers, useragent=CHROME).encode()]


def _drain(worker: EnrichWorker, limit_s: float = 30.0) -> None:
    idle, started = 0, time.monotonic()
    while idle < 3 and time.monotonic() - started < limit_s:
        idle = idle + 1 if worker.step() == 0 and worker.in_flight == 0 else 0
    worker.flush()


def test_every_enrichment_shows_in_parquet_and_in_the_warehouse(tmp_path: Path) -> None:
    """The enriched columns and derived contexts of all ten enrichments reach the lake and DuckDB."""
    folder = staged_configs(tmp_path / "enrichments")
    write_databases(folder)
    registry = f"{REPO_ROOT / 'schemas'},{TEST_SCHEMAS}"
    queue = f"sqlite://{tmp_path}/queue.db"
    open_publisher(queue).publish(_records())
    enrich, _ = build_enrich(registry, str(folder))
    lake = LocalLake(tmp_path / "lake")
    _drain(EnrichWorker(open_subscriber(queue), lake, enrich, FAST))
    bad = [lake.read(name).decode() for name in lake.list("bad/")]
    assert bad == []
    (row,) = [r for name in lake.list("good/") for r in decode_parquet(lake.read(name)).to_pylist()]

    expected: dict[str, Any] = {
        "mkt_source": "newsletter",
        "mkt_medium": "email",
        "mkt_campaign": "winter",
        "mkt_clickid": "CL1ck",
        "mkt_network": "Google",
        "refr_medium": "search",
        "refr_source": "Google",
        "refr_term": "warm socks",
        "refr_domain_userid": DUID,
        "geo_country": "GB",
        "geo_city": "London",
        "geo_timezone": "Europe/London",
        "ip_isp": "Andrews & Arnold",
        "ip_netspeed": "Cable/DSL",
        "user_id": _salted("alice"),
        "user_ipaddress": _salted("81.2.69.x"),  # looked up, then anonymised, then pseudonymised
    }
    assert {k: row[k] for k in expected} == expected
    derived = orjson.loads(row["derived_contexts"])["data"]
    by_schema: dict[str, list[Any]] = {}
    for entity in derived:
        by_schema.setdefault(entity["schema"].split("/")[1], []).append(entity["data"])
    assert by_schema["ua_parser_context"][0]["useragentFamily"] == "Chrome"
    assert by_schema["spiders_and_robots"][0]["reason"] == "PASSED_ALL"
    assert by_schema["cross_navigation"][0]["domain_user_id"] == DUID
    assert by_schema["http_cookie"] == [{"name": "sp", "value": _salted("abc-123")}]
    assert by_schema["http_header"] == [
        {"name": "X-Request-Id", "value": "req-1"},
        {"name": "Accept-Language", "value": "en-GB"},
    ]

    warehouse = tmp_path / "warehouse.duckdb"
    resolver = Resolver.from_locations([str(REPO_ROOT / "schemas"), str(TEST_SCHEMAS)])
    report = Loader(lake, str(warehouse), resolver, threads=1).load()
    assert report.rows_loaded == 1
    ua_column = column_name(
        "contexts", SchemaKey.parse("iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0")
    )
    header_column = column_name("contexts", SchemaKey.parse("iglu:org.ietf/http_header/jsonschema/1-0-0"))
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        got = con.execute(
            f"SELECT mkt_source, refr_medium, geo_city, refr_domain_userid, {ua_column}, {header_column} FROM events"
        ).fetchone()
    finally:
        con.close()
    assert got is not None
    assert got[:4] == ("newsletter", "search", "London", DUID)
    assert got[4][0]["useragentFamily"] == "Chrome"
    assert [h["name"] for h in got[5]] == ["X-Request-Id", "Accept-Language"]
