"""Traffic for the end-to-end tests: the official Python tracker's valid and invalid events, plus raw HTTP for
what a tracker cannot send (bad base64, a broken body, an unknown vendor)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from snowplow_tracker import Emitter, PageView, SelfDescribing, SelfDescribingJson, StructuredEvent, Tracker

ACME = "iglu:com.acme/{}/jsonschema/1-0-0"


@dataclass
class Sent:
    """What was sent and what the pipeline must make of it."""

    good: set[str] = field(default_factory=set)  # event ids that must be good
    schema_violations: set[str] = field(default_factory=set)  # event ids that must be schema_violations
    request_level: dict[str, int] = field(default_factory=dict)  # bad rows for whole requests, by type

    @property
    def outputs(self) -> int:
        return len(self.good) + len(self.schema_violations) + sum(self.request_level.values())


def tracker(port: int, method: str, batch: int) -> tuple[Tracker, list[Any]]:
    """A tracker on 127.0.0.1:port; the list collects emitter failures (must stay empty)."""
    failures: list[Any] = []
    emitter = Emitter("127.0.0.1", protocol="http", port=port, method=method, batch_size=batch,
                      on_failure=lambda n, evs: failures.append((n, evs)))  # fmt: skip
    return Tracker(namespace=f"e2e-{method}", emitters=emitter, app_id="e2e"), failures


def sdj(name: str, data: dict[str, Any]) -> SelfDescribingJson:
    return SelfDescribingJson(ACME.format(name), data)


def send_mix(port: int) -> Sent:
    """Send 20 tracker events (GET and batched POST) and 3 raw requests; returns the expectations."""
    sent = Sent()
    (get, get_failures), (post, post_failures) = tracker(port, "get", 1), tracker(port, "post", 4)
    user = sdj("user_context", {"userId": "u-1", "plan": "free"})
    for i in range(4):
        sent.good.add(
            get.track(PageView(page_url=f"https://shop.example.com/p/{i}", page_title=f"P{i}", context=[user]))
        )
        sent.good.add(post.track(PageView(page_url=f"https://shop.example.com/q/{i}")))
    for t in (get, post):
        sent.good.add(t.track(StructuredEvent("shop", "add", label="sku-1", value=2.5)))
        sent.good.add(t.track(SelfDescribing(sdj("checkout", {"orderId": "o-1", "total": 21.5, "currency": "USD"}))))
        sent.schema_violations.add(t.track(SelfDescribing(sdj("unknown_thing", {"a": 1}))))  # unknown schema
        sent.schema_violations.add(t.track(SelfDescribing(sdj("checkout", {"orderId": "o", "total": "abc"}))))  # type
    sent.good.add(post.track(SelfDescribing(sdj("product_view", {"sku": "s-1", "price": 9.5}), context=[user])))
    bad_ts = get.track(PageView(page_url="https://shop.example.com/ts", true_timestamp=1e17))  # bad timestamp
    sent.schema_violations.add(bad_ts)
    get.flush()
    post.flush()
    assert get_failures == [] and post_failures == [], (get_failures, post_failures)

    base = f"http://127.0.0.1:{port}"
    bad_b64 = str(uuid.uuid4())
    sent.schema_violations.add(bad_b64)
    responses = [
        httpx.get(f"{base}/i", params={"e": "ue", "p": "web", "tv": "raw", "eid": bad_b64, "ue_px": "!!x!!"}),
        httpx.post(
            f"{base}/com.snowplowanalytics.snowplow/tp2",
            content=b'{"schema": broken',
            headers={"Content-Type": "application/json"},
        ),
        httpx.post(f"{base}/com.unknown/v9", content=b'{"a": 1}', headers={"Content-Type": "application/json"}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200]
    sent.request_level = {"tracker_protocol_violations": 1, "adapter_failures": 1}
    return sent
