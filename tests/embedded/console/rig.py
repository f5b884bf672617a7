"""An in-process `eventkit up` (build_up + its enrich thread) driven through its ASGI app, for the console's page tests.

Tracker requests go to the real collector routes, enrich writes the lake and the Micro store, and the
console answers on the same app — what `eventkit up` serves, without a subprocess per test module.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.testclient import TestClient

from embedded.up import UpOptions, UpStack, build_up
from tests.enrich.event_mix import ACME_SCHEMAS, write_acme_registry

ACME = "iglu:com.acme/{}/jsonschema/1-0-0"
HOSTILE = "<script>window.__pwned=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=2">'


def b64(doc: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(doc)).decode().rstrip("=")


def ue(name: str, data: Any, *, schema: str | None = None) -> str:
    inner = {"schema": schema or ACME.format(name), "data": data}
    return b64({"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0", "data": inner})


def cx(*entities: tuple[str, Any]) -> str:
    data = [{"schema": ACME.format(n), "data": d} for n, d in entities]
    return b64({"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1", "data": data})


@dataclass
class Traffic:
    """What was sent: event ids by expected outcome."""

    good: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


def pixel(client: TestClient, **params: str) -> str:
    """One tp1 GET; returns its event id."""
    eid = params.setdefault("eid", str(uuid.uuid4()))
    params.setdefault("p", "web")
    params.setdefault("tv", "py-test")
    response = client.get("/i", params=params)
    assert response.status_code == 200, response.text
    return eid


def send_traffic(client: TestClient) -> Traffic:
    """Page views (one with a hostile title), a good checkout, and bad rows with hostile values and schema names."""
    t = Traffic()
    user = ("user_context", {"userId": "u-1", "plan": "free"})
    for i in range(3):
        t.good.append(
            pixel(client, e="pv", aid="shop", url=f"https://shop.example.com/p/{i}", page=f"P{i}", cx=cx(user))
        )
    t.good.append(pixel(client, e="pv", aid="shop", url="https://shop.example.com/x", page=HOSTILE))
    t.good.append(
        pixel(
            client,
            e="ue",
            aid="shop",
            ue_px=ue("checkout", {"orderId": "o-1", "total": 21.5, "currency": "USD"}),
            dtm="1700000000000",
            stm="1700000000500",
        )
    )
    t.bad.append(pixel(client, e="ue", aid="shop", ue_px=ue("checkout", {"orderId": HOSTILE, "total": HOSTILE_IMG})))
    t.bad.append(pixel(client, e="ue", aid="shop", ue_px=ue("checkout", {"orderId": "o-2", "total": "abc"})))
    hostile_schema = f"iglu:com.acme/{HOSTILE}/jsonschema/1-0-0"
    t.bad.append(pixel(client, e="ue", aid="other", ue_px=ue("x", {"a": 1}, schema=hostile_schema)))
    t.bad.append(pixel(client, e="ue", aid="other", ue_px=ue("unknown_thing", {"a": 1})))
    return t


def wait_for(client: TestClient, total: int, timeout: float = 30.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = client.get("/micro/all").json()
        if counts["total"] >= total:
            return counts
        time.sleep(0.05)
    raise AssertionError(f"only {counts} of {total} outcomes arrived")


def wait_for_lake_bad(data: Path, rows: int, timeout: float = 30.0) -> None:
    """Until the lake holds `rows` bad rows (files are cut at most 1 s after their first row)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sum(
            1 for f in (data / "lake" / "bad").rglob("*.jsonl") for line in f.read_bytes().splitlines() if line.strip()
        )
        if found >= rows:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {rows} bad rows reached the lake")


@contextmanager
def running_up(tmp: Path, **options: Any) -> Iterator[tuple[UpStack, TestClient, Path]]:
    """`eventkit up` in this process over a fresh data folder and the com.acme registry."""
    registry = write_acme_registry(tmp / "schemas")
    # A second version of checkout, so the schema page has a diff to show.
    v2 = json.loads(json.dumps(ACME_SCHEMAS["checkout"]))
    v2["self"]["version"] = "1-0-1"
    v2["properties"]["coupon"] = {"type": "string"}
    (registry / "com.acme" / "checkout" / "jsonschema" / "1-0-1").write_text(json.dumps(v2))
    stack = build_up(UpOptions(tmp / "data", registry=str(registry), **options))
    stack.start()
    try:
        with TestClient(stack.app, base_url="http://127.0.0.1:9090") as client:
            yield stack, client, registry
    finally:
        stack.stop()
