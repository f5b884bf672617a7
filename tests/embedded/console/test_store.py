"""The Micro store under the console: its migration from an earlier micro.db, counts kept by every write, and pages
that stay under 300 ms with 1,000,000 events stored."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from embedded.console import ConsoleSources, create_console
from embedded.console.events import EventFilters, list_events
from embedded.micro_store import _SCHEMA, MicroRecord, MicroStore

PAGE_BUDGET_S = 0.3


def _layout_one(path: Path) -> None:
    """A micro.db as `up` wrote it before the console: the first table and index only, layout 0."""
    conn = sqlite3.connect(path)
    conn.execute(_SCHEMA.replace("IF NOT EXISTS ", ""))
    conn.execute("CREATE INDEX micro_events_valid ON micro_events(valid, id)")
    good = {"event": {"app_id": "shop", "event_name": "page_view", "event_id": "e-1", "page_url": "https://x/a"}}
    bad = {"rawEvent": {"parameters": {"aid": "shop", "eid": "e-2", "url": "https://x/b"}}, "errors": ["{}"]}
    conn.executemany(
        "INSERT INTO micro_events (valid, event_type, schema, body) VALUES (?, ?, ?, ?)",
        [(1, "page_view", None, orjson.dumps(good)), (0, None, None, orjson.dumps(bad))],
    )
    conn.commit()
    conn.close()


def test_an_earlier_store_is_migrated_and_its_rows_filled(tmp_path: Path) -> None:
    """Opening a micro.db of the first layout adds the console's columns, fills them from the stored JSON and
    counts what it holds; new records, evictions and reset keep the counts."""
    path = tmp_path / "micro.db"
    _layout_one(path)
    store = MicroStore(path, max_events=3)
    assert store.counts().to_json() == {"total": 2, "good": 1, "bad": 1}
    rows = list_events(store, EventFilters(app="shop")).rows
    assert [(r.valid, r.event_id, r.page_url) for r in rows] == [
        (False, "e-2", "https://x/b"),
        (True, "e-1", "https://x/a"),
    ]
    assert [r.event_id for r in list_events(store, EventFilters(event="page_view")).rows] == ["e-1"]
    store.add([MicroRecord(valid=True, body=b"{}", app_id="shop", event_id=f"n-{i}") for i in range(2)])
    assert store.counts().to_json() == {"total": 3, "good": 2, "bad": 1}  # the oldest (good) one evicted
    store.close()
    reopened = MicroStore(path, max_events=3)  # a second open does not migrate or recount again
    assert reopened.counts().to_json() == {"total": 3, "good": 2, "bad": 1}
    reopened.reset()
    assert reopened.counts().to_json() == {"total": 0, "good": 0, "bad": 0}


_LAYOUT_TWO_TRIGGERS = (
    "CREATE TRIGGER micro_events_counted AFTER INSERT ON micro_events BEGIN"
    " UPDATE micro_counts SET good = good + NEW.valid, bad = bad + 1 - NEW.valid;"
    " INSERT INTO micro_minutes (minute, good, bad) VALUES (NEW.stored_ms / 60000, NEW.valid, 1 - NEW.valid)"
    " ON CONFLICT (minute) DO UPDATE SET good = good + excluded.good, bad = bad + excluded.bad; END",
    "CREATE TRIGGER micro_events_uncounted AFTER DELETE ON micro_events BEGIN"
    " UPDATE micro_counts SET good = good - OLD.valid, bad = bad - 1 + OLD.valid; END",
)


def test_a_store_of_layout_two_keeps_its_documents_and_counts_once(tmp_path: Path) -> None:
    """A micro.db as layout 2 left it (whole GoodEvents, counts kept by triggers): its rows read back as stored,
    the triggers are gone (a write is counted once, not twice), and new rows are stored as TSV lines."""
    path = tmp_path / "micro.db"
    MicroStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ALTER TABLE micro_events DROP COLUMN event_tsv")
    for trigger in _LAYOUT_TWO_TRIGGERS:
        conn.execute(trigger)
    old = {"rawEvent": {"parameters": {}}, "eventType": "page_view", "schema": None, "contexts": [], "event": {"a": 1}}
    conn.execute(
        "INSERT INTO micro_events (valid, event_type, contexts, body, stored_ms) VALUES (1, 'page_view', '[]', ?, 0)",
        (orjson.dumps(old),),
    )
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    store = MicroStore(path, max_events=2)
    assert store.counts().to_json() == {"total": 1, "good": 1, "bad": 0}
    assert store.good() == [old]
    store.add([MicroRecord(valid=False, body=b"{}"), MicroRecord(valid=True, body=b"{}")])  # evicts the old one
    assert store.counts().to_json() == {"total": 2, "good": 1, "bad": 1}
    (triggers,) = store.connection[0].execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()
    assert triggers == 0


def test_a_store_of_layout_three_gets_the_event_id_search_key(tmp_path: Path) -> None:
    """A micro.db as layout 3 left it (an index on event_id itself): its rows get their eid_bucket, the old index
    goes, and the console finds them by event id; ids that are not hex get no bucket."""
    path = tmp_path / "micro.db"
    MicroStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP INDEX micro_events_eid_bucket")
    conn.execute("ALTER TABLE micro_events DROP COLUMN eid_bucket")
    conn.execute("CREATE INDEX micro_events_eid ON micro_events(event_id)")
    ids = ["C6EF3124-B53A-4B13-A233-0088F79DCBCB", "x-not-hex", "7a4c3b1e-1f7e-4e38-9a43-0f5f0c7d2f11"]
    conn.executemany(
        "INSERT INTO micro_events (valid, contexts, body, event_id, stored_ms) VALUES (1, '[]', '{}', ?, 0)",
        [(i,) for i in ids],
    )
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    store = MicroStore(path)
    conn, _ = store.connection
    assert conn.execute("SELECT event_id, eid_bucket FROM micro_events ORDER BY id").fetchall() == [
        (ids[0], 12),
        (ids[1], None),
        (ids[2], 7),
    ]
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "micro_events_eid" not in names and "micro_events_eid_bucket" in names
    assert [r.event_id for r in list_events(store, EventFilters(q=ids[2].upper())).rows] == [ids[2]]


@pytest.fixture(scope="module")
def million(tmp_path_factory: pytest.TempPathFactory) -> MicroStore:
    """1,000,000 stored events (one in ten bad, five apps, a third checkouts), received over the last ~17 minutes;
    event ids spread over the 16 first hex digits as random ids are."""
    path = tmp_path_factory.mktemp("million") / "micro.db"
    store = MicroStore(path, max_events=2_000_000)
    conn, _ = store.connection
    t0 = time.time_ns() // 1_000_000 - 1_000_000
    # Bulk-filled in SQL, then counted as `add` would: the test is the reading, not the filling.
    conn.execute("BEGIN")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)"
        " INSERT INTO micro_events (valid, event_type, schema, contexts, body, app_id, event_name, event_id, page_url,"
        " bad_type, tstamp_ms, stored_ms, eid_bucket)"
        " SELECT i % 10 != 0, 'page_view', CASE WHEN i % 3 = 0 THEN 'iglu:com.acme/checkout/jsonschema/1-0-0' END,"
        " '[]', '{}', 'app' || (i % 5), CASE WHEN i % 10 != 0 THEN 'page_view' END,"
        " printf('%08x-0000-4000-8000-%012x', i * 2654435761 % 4294967296, i), 'https://shop.example.com/p/' || i,"
        " CASE WHEN i % 10 = 0 THEN 'schema_violations' END, ? + i, ? + i, i * 2654435761 % 4294967296 >> 28 FROM n",
        (t0, t0),
    )
    conn.execute("UPDATE micro_counts SET good = 900000, bad = 100000")
    conn.execute("COMMIT")
    return store


@pytest.mark.parametrize(
    "path",
    [
        "/console/events",
        "/console/events?app=app3",
        "/console/events?schema=com.acme/checkout&validity=bad",
        "/console/events?q=fc9d0e40-0000-4000-8000-0000000f4240",  # the newest: found in its bucket's index
        "/console/events?q=9e3779b1-0000-4000-8000-000000000001",  # the oldest: its bucket's whole index read
        "/console/events?q=shop.example.com/p/4242",
        "/console/events?q=matches-nothing",  # the whole budget, then "search older"
        "/console/events?app=app3&validity=bad",  # never both: the worst case
        "/console/events?since=5m",
        "/console/events?before=500000",
        "/console/events/rows?after=999000",
        "/console/events/123456",
        "/console/health",
        "/micro/all",
    ],
)
def test_pages_load_under_300_ms_with_a_million_events(million: MicroStore, path: str) -> None:
    """Every live-events query (indexed, or bounded by the search budget), an event and health answer in < 300 ms."""
    client = TestClient(create_console(ConsoleSources(store=million)), base_url="http://127.0.0.1:9090")
    if path == "/micro/all":
        started = time.perf_counter()
        assert million.counts().total == 1_000_000
        assert time.perf_counter() - started < 0.01
        return
    client.get(path)  # the first request warms Jinja's template cache
    timings = []
    for _ in range(3):  # the best of three: the machine's other work is not the page's cost
        started = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    assert min(timings) < PAGE_BUDGET_S, f"{path} took {min(timings) * 1000:.0f} ms at best"
    if "-4000-8000-" in path:
        assert path.split("q=")[1] in response.text, f"{path}: the event is not listed"
    if "nothing" in path:
        assert 'id="searched"' in response.text and 'id="older"' in response.text
