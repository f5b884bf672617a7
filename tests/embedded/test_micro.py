"""The Micro store and API: Micro's shapes and filters, bounded and persistent storage, Iglu look-ups."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.badrows import AdapterFailures, InputDataMessage, Processor, RawEvent
from core.raw import CollectorPayload
from core.sdk_json import to_sdk_json
from embedded.micro import ENDPOINTS, bad_record, good_record, micro_raw_event, micro_router
from embedded.micro_store import MicroRecord, MicroStore
from enrich.event import EnrichedEvent
from registry.resolver import Resolver
from tests.raw_records import raw_record

T0 = 1_795_690_794_412
PAYLOAD = raw_record(
    content_type="application/json",
    body='{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[]}',
    collector="eventkit-0.1.0-sqlite",
    hostname="localhost",
    timestamp=T0,
    ip_address="10.0.0.1",
    useragent="pytest",
    headers=("Host: localhost",),
    network_user_id="c6ef3124-b53a-4b13-a233-0088f79dcbcb",
)
RAW = RawEvent.from_collector_payload(PAYLOAD, (("e", "ue"), ("aid", "shop"), ("eid", "e-1")))
CONTEXTS = orjson.dumps(
    {
        "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
        "data": [
            {"schema": "iglu:com.acme/user_context/jsonschema/1-0-0", "data": {"userId": "u"}},
            {"schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0", "data": {"id": "p"}},
        ],
    }
).decode()
UNSTRUCT = orjson.dumps(
    {
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": "iglu:com.acme/checkout/jsonschema/1-0-0", "data": {"total": 1}},
    }
).decode()


def good(i: int, event: str = "unstruct", contexts: str | None = CONTEXTS) -> MicroRecord:
    e = EnrichedEvent(
        event=event,
        event_id=f"e-{i}",
        collector_tstamp=T0 + i,
        contexts=contexts,
        unstruct_event=UNSTRUCT if event == "unstruct" else None,
    )
    return good_record(e, RAW)


def bad(vendor: str = "com.snowplowanalytics.snowplow", version: str = "tp2") -> MicroRecord:
    payload = dataclasses.replace(PAYLOAD, vendor=vendor, version=version)
    row = AdapterFailures(
        Processor("eventkit-enrich", "0.1.0"),
        T0,
        vendor,
        version,
        (InputDataMessage("vendor/version", f"{vendor}/{version}", "vendor/version combination is not supported"),),
        payload,
    )
    return bad_record(row.to_json(), payload.encode())


def _stored(tmp_path: Path, record: MicroRecord) -> dict[str, object]:
    store = MicroStore(tmp_path / "micro.db")
    store.add([record])
    (document,) = store.good()
    assert store.document(1) == (True, document)
    return document  # type: ignore[no-any-return]


def test_good_event_has_micros_shape(tmp_path: Path) -> None:
    """GoodEvent carries rawEvent (api/parameters/source/context), eventType, schema, contexts and SDK JSON."""
    record = good(1)
    assert record.event_tsv is not None and set(orjson.loads(record.body)) == {
        "api", "parameters", "contentType", "source", "context"
    }  # fmt: skip  # stored as the TSV line and rawEvent: the GoodEvent is built when read
    body = _stored(tmp_path, record)
    assert set(body) == {"rawEvent", "eventType", "schema", "contexts", "event"}
    assert body["eventType"] == "unstruct"
    assert body["schema"] == "iglu:com.acme/checkout/jsonschema/1-0-0"
    assert body["contexts"] == [
        "iglu:com.acme/user_context/jsonschema/1-0-0",
        "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
    ]
    raw = body["rawEvent"]
    assert raw["api"] == {"vendor": "com.snowplowanalytics.snowplow", "version": "tp2"}
    assert raw["parameters"] == {"e": "ue", "aid": "shop", "eid": "e-1"}
    assert raw["source"] == {"name": "eventkit-0.1.0-sqlite", "encoding": "UTF-8", "hostname": "localhost"}
    assert raw["context"]["timestamp"] == "2026-11-26T10:59:54.412Z"
    assert raw["context"]["userId"] == "c6ef3124-b53a-4b13-a233-0088f79dcbcb"
    assert body["event"]["event_id"] == "e-1"
    assert body["event"]["unstruct_event_com_acme_checkout_1"] == {"_schema_version": "1-0-0", "total": 1}


def test_a_good_event_reads_back_as_the_document_built_from_the_event(tmp_path: Path) -> None:
    """The GoodEvent built from the stored TSV line is the one built from the event itself (the SDK JSON of
    every field, shredded entities included)."""
    event = EnrichedEvent(
        app_id="shop", platform="web", event="unstruct", event_id="e-9", collector_tstamp=T0,
        dvce_created_tstamp=T0 - 5, contexts=CONTEXTS, unstruct_event=UNSTRUCT, se_value=Decimal("1.5"),
        tr_total=Decimal("12.30"), geo_latitude=51.5, page_title="a  b", br_cookies=True, dvce_screenwidth=1280,
    )  # fmt: skip
    body = _stored(tmp_path, good_record(event, RAW))
    assert body["event"] == to_sdk_json(event)
    assert body["rawEvent"] == micro_raw_event(RAW)


def test_an_event_whose_line_would_not_read_back_is_stored_whole(tmp_path: Path) -> None:
    """A tab or line break left in a value (a user enrichment can) would shift the TSV's fields: such an event is
    stored as its whole GoodEvent, and reads back the same."""
    for title in ("tab\there", "line\nbreak", "ends with\r"):
        event = EnrichedEvent(event="page_view", event_id="e-t", collector_tstamp=T0, page_title=title)
        record = good_record(event, RAW)
        assert record.event_tsv is None
        body = _stored(tmp_path / title.split()[0], record)
        assert body["event"]["page_title"] == title and body["event"] == to_sdk_json(event)


def test_bad_event_has_micros_shape() -> None:
    """BadEvent carries the collector payload, rawEvent (null for adapter failures) and the bad row as a string."""
    body = orjson.loads(bad().body)
    assert set(body) == {"collectorPayload", "rawEvent", "errors"}
    assert body["collectorPayload"]["vendor"] == "com.snowplowanalytics.snowplow"
    assert body["rawEvent"] is None
    (error,) = body["errors"]
    assert (
        json.loads(error)["schema"] == "iglu:com.snowplowanalytics.snowplow.badrows/adapter_failures/jsonschema/1-0-0"
    )


def test_store_filters_newest_first(tmp_path: Path) -> None:
    """Filters on event type, unstruct schema, all listed contexts and limit; results are newest first."""
    store = MicroStore(tmp_path / "micro.db")
    store.add([good(1), good(2, "page_view"), good(3, contexts=None), bad(), bad("com.acme", "v1")])
    assert store.counts().to_json() == {"total": 5, "good": 3, "bad": 2}
    ids = [e["event"]["event_id"] for e in store.good()]
    assert ids == ["e-3", "e-2", "e-1"]
    assert [e["event"]["event_id"] for e in store.good(event_type="page_view")] == ["e-2"]
    assert [e["event"]["event_id"] for e in store.good(schema="iglu:com.acme/checkout/jsonschema/1-0-0")] == [
        "e-3",
        "e-1",
    ]
    both = [
        "iglu:com.acme/user_context/jsonschema/1-0-0",
        "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
    ]
    assert [e["event"]["event_id"] for e in store.good(contexts=both)] == ["e-2", "e-1"]
    assert store.good(contexts=[*both, "iglu:com.acme/missing/jsonschema/1-0-0"]) == []
    assert [e["event"]["event_id"] for e in store.good(limit=2)] == ["e-3", "e-2"]
    assert len(store.bad()) == 2
    assert [b["collectorPayload"]["vendor"] for b in store.bad(vendor="com.acme")] == ["com.acme"]
    assert len(store.bad(version="tp2", limit=5)) == 1


def test_store_is_bounded_and_survives_reopening(tmp_path: Path) -> None:
    """Only the newest max_events are kept, and they are still there after the store is reopened."""
    store = MicroStore(tmp_path / "micro.db", max_events=3)
    store.add([good(i) for i in range(5)])
    store.add([bad()])
    store.close()
    again = MicroStore(tmp_path / "micro.db", max_events=3)
    assert again.counts().to_json() == {"total": 3, "good": 2, "bad": 1}
    assert [e["event"]["event_id"] for e in again.good()] == ["e-4", "e-3"]
    again.reset()
    assert again.counts().total == 0


def _client(tmp_path: Path) -> tuple[TestClient, MicroStore]:
    schemas = tmp_path / "schemas" / "com.acme" / "checkout" / "jsonschema"
    schemas.mkdir(parents=True)
    (schemas / "1-0-0").write_text(
        json.dumps(
            {
                "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
                "self": {"vendor": "com.acme", "name": "checkout", "format": "jsonschema", "version": "1-0-0"},
                "type": "object",
            }
        )
    )
    store = MicroStore(tmp_path / "micro.db")
    app = FastAPI()
    app.include_router(micro_router(store, Resolver.from_locations(str(tmp_path / "schemas"), cache_ttl=1)))
    return TestClient(app), store


def test_routes_serve_micro_endpoints(tmp_path: Path) -> None:
    """/micro/all, /micro/good and /micro/bad (GET and POST filters), /micro/reset answer as Micro does.

    In-process ASGI client: routing and shapes only; the real uvicorn server is exercised by test_up_e2e."""
    client, store = _client(tmp_path)
    store.add([good(1), good(2, "page_view"), bad()])
    assert client.get("/micro/all").json() == {"total": 3, "good": 2, "bad": 1}
    assert client.post("/micro/all").json()["total"] == 3
    assert [e["eventType"] for e in client.get("/micro/good").json()] == ["page_view", "unstruct"]
    got = client.post("/micro/good", json={"event_type": "unstruct", "limit": 5}).json()
    assert [e["event"]["event_id"] for e in got] == ["e-1"]
    got = client.get("/micro/good", params={"schema": "iglu:com.acme/checkout/jsonschema/1-0-0"}).json()
    assert len(got) == 1
    assert len(client.post("/micro/bad", json={"vendor": "com.snowplowanalytics.snowplow"}).json()) == 1
    assert client.post("/micro/bad", json={"vendor": "nobody"}).json() == []
    assert client.post("/micro/good", json={"limit": "many"}).status_code == 400
    assert client.post("/micro/good", content=b"[1]").status_code == 400
    reset = client.get("/micro/reset")
    assert reset.status_code == 200 and reset.text == "Reset completed"
    assert client.get("/micro/all").json() == {"total": 0, "good": 0, "bad": 0}
    unknown = client.get("/micro/nothing")
    assert unknown.status_code == 404 and unknown.json()["endpoints"] == list(ENDPOINTS)


def test_iglu_endpoint_resolves_through_the_resolver(tmp_path: Path) -> None:
    """/micro/iglu returns the schema when visible, 404 with Iglu's ResolutionError when not, 400 for a bad key."""
    client, _ = _client(tmp_path)
    found = client.get("/micro/iglu/com.acme/checkout/jsonschema/1-0-0")
    assert found.status_code == 200 and found.json()["self"]["name"] == "checkout"
    missing = client.get("/micro/iglu/com.acme/nothing/jsonschema/1-0-0")
    assert missing.status_code == 404
    assert missing.json()["error"] == "ResolutionError"
    assert missing.json()["lookupHistory"][0]["errors"] == [{"error": "NotFound"}]
    assert client.get("/micro/iglu/com.acme/checkout/jsonschema/one").status_code == 400


def test_the_listener_stores_a_large_commit_in_chunks_in_order(tmp_path: Path) -> None:
    """A commit of more outcomes than one chunk is stored whole, in commit order (newest last), through several
    inserts of at most `chunk` records, and the store's bound still holds."""
    from embedded.micro_records import MicroListener
    from enrich.outcome import Good
    from enrich.worker import CommittedMessage

    store = MicroStore(tmp_path / "micro.db", max_events=6)
    inserts: list[int] = []
    add = store.add
    store.add = lambda records: (inserts.append(len(records)), add(records))[1]  # type: ignore[method-assign]
    messages = [
        CommittedMessage(
            PAYLOAD.encode(), [Good(EnrichedEvent(event="page_view", event_id=f"e-{m}-{i}"), RAW) for i in range(3)]
        )
        for m in range(3)
    ]
    MicroListener(store, chunk=2).committed(messages)
    assert all(n <= 2 for n in inserts) and sum(inserts) == 9
    kept = [e["event"]["event_id"] for e in store.good()]
    assert kept == ["e-2-2", "e-2-1", "e-2-0", "e-1-2", "e-1-1", "e-1-0"]


def test_good_records_of_a_payloads_events_are_those_built_one_by_one() -> None:
    """GoodRecords encodes what a payload's events share once: each record equals good_record(event, raw), for
    the events of two POSTs in turn, an event whose parameter name RawEvent cuts, and a Good given its RawEvent."""
    from embedded.micro_records import GoodRecords
    from enrich.outcome import Good
    from enrich.pipeline import enrich_payload
    from tests.enrich.pipeline_env import ETL_TSTAMP, make_env

    def enriched(payload: CollectorPayload) -> list[Good]:
        outcomes = enrich_payload(payload, make_env(), ETL_TSTAMP)
        assert all(isinstance(o, Good) for o in outcomes), outcomes
        return [o for o in outcomes if isinstance(o, Good)]

    def posted(*events: dict[str, str]) -> list[Good]:
        body = orjson.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
                             "data": list(events)}).decode()  # fmt: skip
        return enriched(dataclasses.replace(PAYLOAD, body=body, headers=("Host: localhost", "Cookie: sp=x")))

    page = {"e": "pv", "p": "web", "tv": "js-3", "url": "https://shop.example/?a=1"}
    long_name = dataclasses.replace(
        PAYLOAD, version="tp1", content_type=None, body=None, querystring=(*page.items(), ("x" * 600, "long name"))
    )
    goods = [
        *posted(page, {**page, "aid": "shop", "refr": "https://r.example"}),
        *enriched(long_name),
        *posted(page, {**page, "tz": "Europe/Paris"}),
        Good(EnrichedEvent(event="page_view", event_id="e-given"), RAW),
    ]
    records = GoodRecords()
    for g in goods:
        assert records.record(g) == good_record(g.event, g.raw)
    assert json.loads(records.record(goods[2]).body)["parameters"]["x" * 512] == "long name"
