"""The real Snowplow trackers against a real collector process: every event lands in the raw queue exactly once."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from snowplow_tracker import Emitter, SelfDescribingJson, Tracker
from snowplow_tracker.events import PageView, SelfDescribing, StructuredEvent

from core.queue import open_publisher, open_subscriber
from core.raw import CollectorPayload
from tests.collector.conftest import read_queue
from tests.collector.driver import captured
from tests.collector.processes import CollectorProcess
from tests.services.pubsub import PubSubEmulator

CONTEXT = SelfDescribingJson("iglu:com.acme/user_context/jsonschema/1-0-0", {"userId": "u-1", "plan": "pro"})
CHECKOUT = SelfDescribingJson("iglu:com.acme/checkout/jsonschema/1-0-0", {"orderId": "o-1", "total": 9.5})


def events_of(record: CollectorPayload) -> list[dict[str, str]]:
    """The tracker-protocol events a raw record carries (query string for GET, payload_data for POST)."""
    if record.body is None:
        return [{n: v or "" for n, v in record.querystring}]
    return list(json.loads(record.body)["data"])


def track_everything(port: int) -> None:
    """Send page views, structured and self-describing events with contexts through GET and POST emitters."""
    failures: list[Any] = []
    for method in ("get", "post"):
        emitter = Emitter(
            "127.0.0.1",
            protocol="http",
            port=port,
            method=method,
            batch_size=4 if method == "post" else 1,
            on_failure=lambda n, rows: failures.append((n, rows)),
            request_timeout=10,
        )
        tracker = Tracker(f"e2e-{method}", emitter, app_id="e2e")
        for i in range(5):
            tracker.track(PageView(f"https://shop.example/p/{i}", f"Product {i}", context=[CONTEXT]))
            tracker.track(StructuredEvent("shop", "add", label=f"sku-{i}", value=i, context=[CONTEXT]))
            tracker.track(SelfDescribing(CHECKOUT, context=[CONTEXT]))
        emitter.flush()
    assert not failures


def assert_exactly_once(records: list[CollectorPayload]) -> None:
    events = [e for r in records for e in events_of(r)]
    by_eid = Counter(e["eid"] for e in events)
    assert len(events) == 30 and all(n == 1 for n in by_eid.values())
    assert Counter((e["tna"], e["e"]) for e in events) == {
        (tna, kind): 5 for tna in ("e2e-get", "e2e-post") for kind in ("pv", "se", "ue")
    }
    for e in events:  # contexts travel intact (base64 by default)
        contexts = json.loads(base64.urlsafe_b64decode(e["cx"] + "=" * (-len(e["cx"]) % 4)))
        assert contexts["data"][0]["data"] == {"userId": "u-1", "plan": "pro"}
    assert {(r.vendor, r.version) for r in records} == {
        ("com.snowplowanalytics.snowplow", "tp1"),
        ("com.snowplowanalytics.snowplow", "tp2"),
    }


@pytest.mark.slow
def test_python_tracker_into_the_sqlite_queue(tmp_path: Path) -> None:
    """GET and POST emitters of snowplow-tracker → uvicorn collector → SQLite queue: 30 events, each once."""
    queue = f"sqlite:///{tmp_path}/queue.db"
    server = CollectorProcess("--raw", queue, "--spool", str(tmp_path / "spool.db"), log=tmp_path / "c.log")
    try:
        track_everything(server.port)
    finally:
        server.kill()
    assert_exactly_once(read_queue(queue))


@pytest.mark.slow
@pytest.mark.pubsub
def test_python_tracker_into_pubsub(tmp_path: Path, pubsub_emulator: PubSubEmulator, pubsub_project: str) -> None:
    """The same tracker run against a Pub/Sub topic (emulator): 30 events pulled from the subscription, each once."""
    url = f"pubsub://{pubsub_project}/raw?subscription=raw-test"
    publisher = open_publisher(url)
    publisher.check()  # creates the topic
    subscriber = open_subscriber(url, lease_seconds=60)
    subscriber.pull(1, 0.1)  # creates the subscription before anything is published
    server = CollectorProcess("--raw", f"pubsub://{pubsub_project}/raw", log=tmp_path / "c.log")
    try:
        track_everything(server.port)
    finally:
        server.kill()
        publisher.close()
    records: list[CollectorPayload] = []
    quiet = 0
    for _ in range(60):  # until all 30 events arrived and one more pull finds no duplicate
        batch = subscriber.pull(100, 0.5)
        records.extend(CollectorPayload.decode(d.data) for d in batch)
        subscriber.ack([d.ack_id for d in batch])
        quiet = quiet + 1 if not batch else 0
        if quiet >= 2 and sum(len(events_of(r)) for r in records) >= 30:
            break
    subscriber.close()
    assert_exactly_once(records)


def raw_http(port: int, request: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send a captured request byte for byte on a fresh connection and read the whole response."""
    target = request["path"] + (f"?{request['query']}" if request["query"] else "")
    head = f"{request['method']} {target} HTTP/1.1\r\n"
    head += "".join(f"{n}: {v}\r\n" for n, v in request["headers"] if n.lower() != "connection")
    head += "Connection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + request["body"].encode("utf-8"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    header_block, _, body = data.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [(n.strip().lower(), v.strip()) for n, _, v in (line.partition(":") for line in lines[1:])]
    return status, headers, body


@pytest.mark.slow
def test_captured_browser_requests_replay_byte_for_byte(tmp_path: Path) -> None:
    """Chromium's captured requests (preflight, POSTs, GETs with cookies) get the right answers and land once each."""
    queue = f"sqlite:///{tmp_path}/queue.db"
    server = CollectorProcess("--raw", queue, log=tmp_path / "c.log")
    requests = captured("js")
    try:
        answers = [raw_http(server.port, r) for r in requests]
    finally:
        server.kill()
    for request, (status, headers, body) in zip(requests, answers, strict=True):
        hdr = dict(headers)
        assert status == 200
        assert hdr["access-control-allow-origin"] == "http://127.0.0.1:38473"
        assert hdr["access-control-allow-credentials"] == "true"
        if request["method"] == "OPTIONS":
            assert "sp-anonymous" in hdr["access-control-allow-headers"].lower()
            continue
        cookie = hdr["set-cookie"]
        sent_cookie = dict(request["headers"]).get("Cookie", "")
        if "sp=c6359dca-b1aa-4765-8981-b3524bbb0d65" in sent_cookie:
            assert cookie.startswith("sp=c6359dca-b1aa-4765-8981-b3524bbb0d65;")
        else:
            assert uuid.UUID(cookie.split(";")[0].removeprefix("sp="))
        assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie
        assert body == (
            b"ok"
            if request["method"] == "POST"
            else base64.b64decode("R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==")
        )
    records = read_queue(queue)
    sent_eids = []
    for r in requests:
        if r["method"] == "POST":
            sent_eids.extend(e["eid"] for e in json.loads(r["body"])["data"])
        elif r["method"] == "GET":
            sent_eids.append(r["query_params"]["eid"][0])
    got = [e["eid"] for rec in records for e in events_of(rec)]
    assert sorted(got) == sorted(sent_eids) and len(set(got)) == len(got)
