"""The enrich worker on the real SQLite queue and a local lake: conservation, ack last, retries, cutting, metrics."""

from __future__ import annotations

import functools
import http.server
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import parse_qsl

import orjson
import pyarrow as pa
import pytest
from snowplow_analytics_sdk.event_transformer import transform

from core.errors import LakeUnavailable
from core.lake.jsonl import decode_jsonl
from core.lake.local import LocalLake
from core.locations import BUNDLED_SCHEMAS
from core.queue import open_publisher, open_subscriber
from core.queue.port import Delivery, Subscriber
from core.raw import CollectorPayload, RawRecordError
from enrich.cli import build_enrich
from enrich.outcome import Outcome
from enrich.outputs.commit import Backoff
from enrich.outputs.parquet import decode_parquet
from enrich.outputs.rolling import CutPolicy
from enrich.outputs.tsv import decode_tsv
from enrich.pii_event import PII_COLUMNS
from enrich.worker import CommittedMessage, EnrichWorker, WorkerConfig
from tests.enrich.event_mix import check_bad_row, raw_mix, read_lake, registry_chain, write_acme_registry

FAST = WorkerConfig(
    batch_size=7,
    pull_timeout_s=0.05,
    policy=CutPolicy(max_events=5, max_bytes=10**8, max_age_s=0.2),
    lake_backoff=Backoff(0.01, 0.05),
    registry_backoff=Backoff(0.01, 0.05),
)


@pytest.fixture
def registry(tmp_path: Path) -> str:
    return registry_chain(write_acme_registry(tmp_path / "schemas"))


def _queue(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path}/queue.db"


def _drain(worker: EnrichWorker, idle_steps: int = 3, limit_s: float = 30.0) -> None:
    """Step until nothing arrives for a few pulls and nothing is in flight, then flush."""
    idle, started = 0, time.monotonic()
    while idle < idle_steps and time.monotonic() - started < limit_s:
        idle = idle + 1 if worker.step() == 0 and worker.in_flight == 0 else 0
    worker.flush()


def _queue_is_empty(url: str) -> bool:
    probe = open_subscriber(url, lease_seconds=1)
    try:
        return probe.pull(10, 0.0) == []
    finally:
        probe.close()


def test_every_event_ends_exactly_once_and_every_message_is_acked(tmp_path: Path, registry: str) -> None:
    """Each event of the mix is one good Parquet row or one schema-valid bad row; the queue ends empty."""
    mix = raw_mix(copies=3)
    url = _queue(tmp_path)
    open_publisher(url).publish(mix.records)
    enrich, _ = build_enrich(registry, None)
    lake = LocalLake(tmp_path / "lake")
    worker = EnrichWorker(open_subscriber(url), lake, enrich, FAST)
    _drain(worker)
    got = read_lake(lake)
    assert sorted(got.good_ids) == sorted(mix.good_ids)
    for type_name, ids in mix.bad_ids.items():
        assert sorted(got.bad_event_ids(type_name)) == sorted(ids)
    for type_name, n in mix.bad_requests.items():
        assert len(got.bad[type_name]) == n
    assert sum(len(rows) for rows in got.bad.values()) + len(got.good_ids) == mix.events
    for rows in got.bad.values():
        for row in rows:
            check_bad_row(row)
    assert all(name.split("/")[-1].count("-") == 2 for name in got.files)
    assert worker.in_flight == 0 and _queue_is_empty(url)
    # Files were cut by count (max 5 events) rather than written as one.
    assert len([f for f in got.files if f.startswith("good/")]) >= 4


def _record_event_ids(data: bytes) -> set[str]:
    """The `eid` parameters inside one raw record (query string or POST body)."""
    try:
        payload = CollectorPayload.decode(data)
    except RawRecordError:
        return set()
    ids = {v for k, v in payload.querystring if k == "eid" and v}
    if payload.body:
        try:
            doc = orjson.loads(payload.body)
        except orjson.JSONDecodeError:
            return ids
        ids |= {e["eid"] for e in doc.get("data", []) if isinstance(e, dict) and "eid" in e}
    return ids


class RecordingLake(LocalLake):
    """A real local lake that also notes which event ids each committed file holds (the effect log)."""

    def __init__(self, root: Path, log: list[tuple[str, object]]) -> None:
        super().__init__(root)
        self.log = log
        self.committed_ids: set[str] = set()

    def create(self, name: str, data: bytes) -> None:
        super().create(name, data)
        if name.endswith(".parquet"):
            ids = set(decode_parquet(data).column("event_id").to_pylist())
        elif name.endswith(".tsv"):
            ids = {e.event_id for e in decode_tsv(data) if e.event_id}
        else:
            ids = set()
            for row in decode_jsonl(data):
                assert isinstance(row, dict)
                payload = row["data"]["payload"]
                if isinstance(payload, dict) and "raw" in payload:
                    ids |= {p["value"] for p in payload["raw"]["parameters"] if p["name"] == "eid"}
        self.committed_ids |= ids
        self.log.append(("create", name))


class AckCheckingSubscriber:
    """The real SQLite subscriber; an ack of a message with an output not yet committed is noted in `violations`.

    `uncommitted(event_ids)` names which of a message's event ids still lack a committed output; each ack is
    also appended to `log` when one is given (the effect log a RecordingLake shares).
    """

    def __init__(
        self,
        inner: Subscriber,
        uncommitted: Callable[[set[str]], set[str]],
        log: list[tuple[str, object]] | None = None,
    ) -> None:
        self.inner = inner
        self.uncommitted = uncommitted
        self.log = log
        self.data: dict[str, bytes] = {}
        self.violations: list[str] = []

    def pull(self, max_messages: int, timeout: float) -> list[Delivery]:
        got = self.inner.pull(max_messages, timeout)
        for d in got:
            self.data[d.ack_id] = d.data
        return got

    def ack(self, ack_ids: Sequence[str]) -> None:
        for ack_id in ack_ids:
            missing = self.uncommitted(_record_event_ids(self.data[ack_id]))
            if missing:
                self.violations.append(f"{ack_id} acked before the outputs of {sorted(missing)} were committed")
        if self.log is not None:
            self.log.append(("ack", tuple(ack_ids)))
        self.inner.ack(ack_ids)

    def nack(self, ack_ids: Sequence[str]) -> None:
        self.inner.nack(ack_ids)

    def close(self) -> None:
        self.inner.close()


def test_a_message_is_acked_only_after_all_its_outputs_are_committed(tmp_path: Path, registry: str) -> None:
    """Effect log: every ack follows the commits of the Parquet, TSV and bad-row files holding its events."""
    mix = raw_mix(copies=2)
    url = _queue(tmp_path)
    open_publisher(url).publish(mix.records)
    log: list[tuple[str, object]] = []
    lake = RecordingLake(tmp_path / "lake", log)
    subscriber = AckCheckingSubscriber(open_subscriber(url), lambda ids: ids - lake.committed_ids, log)
    enrich, _ = build_enrich(registry, None)
    config = WorkerConfig(
        batch_size=4, pull_timeout_s=0.05, policy=CutPolicy(max_events=3, max_bytes=10**8, max_age_s=0.1), tsv=True
    )
    _drain(EnrichWorker(subscriber, lake, enrich, config))
    assert subscriber.violations == []
    acked = [i for kind, ids in log if kind == "ack" for i in ids]  # type: ignore[attr-defined]
    assert sorted(acked) == sorted(subscriber.data)
    assert log[-1][0] == "ack" and log[0][0] == "create"
    assert mix.good_ids <= lake.committed_ids


def test_tsv_output_is_read_by_snowplows_analytics_sdk(tmp_path: Path, registry: str) -> None:
    """Every good-tsv line parses with Snowplow's Python analytics SDK and the TSV and Parquet hold the same events."""
    mix = raw_mix()
    url = _queue(tmp_path)
    open_publisher(url).publish(mix.records)
    enrich, _ = build_enrich(registry, None)
    lake = LocalLake(tmp_path / "lake")
    config = WorkerConfig(pull_timeout_s=0.05, policy=CutPolicy.embedded(), tsv=True)
    _drain(EnrichWorker(open_subscriber(url), lake, enrich, config))
    lines = [line for name in lake.list("good-tsv/") for line in lake.read(name).decode().split("\n") if line]
    assert len(lines) == len(mix.good_ids)
    assert all(line.count("\t") == 130 for line in lines)
    assert {transform(line)["event_id"] for line in lines} == mix.good_ids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_registry(tmp_path: Path) -> Iterator[tuple[str, threading.Event]]:
    """A static Iglu repository over real HTTP that is down until the test sets the returned event."""
    root = tmp_path / "http-repo"
    write_acme_registry(root / "schemas")
    port = _free_port()
    up = threading.Event()
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve_when_up() -> None:
        up.wait()
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        servers.append(server)
        server.serve_forever(poll_interval=0.05)

    thread = threading.Thread(target=serve_when_up, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", up
    up.set()
    deadline = time.monotonic() + 5
    while not servers and time.monotonic() < deadline:
        time.sleep(0.01)
    for s in servers:
        s.shutdown()
        s.server_close()


def test_registry_outage_retries_the_message_and_never_makes_bad_rows(
    tmp_path: Path, http_registry: tuple[str, threading.Event]
) -> None:
    """While the schema repository is unreachable nothing is written or acked; once it is back, events are good."""
    base, up = http_registry
    mix = raw_mix()
    url = _queue(tmp_path)
    open_publisher(url).publish(mix.records)
    enrich, _ = build_enrich(f"{base},{BUNDLED_SCHEMAS}", None)
    lake = LocalLake(tmp_path / "lake")
    worker = EnrichWorker(open_subscriber(url, lease_seconds=30), lake, enrich, FAST)
    for _ in range(5):
        worker.step()
    worker.flush()
    # Records that need no com.acme schema may be done; none that needs one became a bad row.
    before = read_lake(lake)
    assert set(before.bad_event_ids("schema_violations")) <= mix.bad_ids["schema_violations"]
    assert not _queue_is_empty(url)
    assert worker.metrics.value("enrich_infrastructure_retries_total", {"what": "registry"}) >= 1
    up.set()
    _drain(worker)
    got = read_lake(lake)
    assert sorted(got.good_ids) == sorted(mix.good_ids)
    assert sorted(got.bad_event_ids("schema_violations")) == sorted(mix.bad_ids["schema_violations"])
    assert _queue_is_empty(url)


class FlakyLake(LocalLake):
    """A real local lake whose first `failures` creates raise LakeUnavailable: stands in for a GCS outage,
    which the GCS emulator cannot produce on demand."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def create(self, name: str, data: bytes) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise LakeUnavailable("injected outage")
        super().create(name, data)


def test_lake_outage_is_retried_and_acks_wait_for_it(tmp_path: Path, registry: str) -> None:
    """Lake write failures are retried with backoff; no message is acked early and nothing is lost or doubled."""
    mix = raw_mix()
    url = _queue(tmp_path)
    open_publisher(url).publish(mix.records)
    enrich, _ = build_enrich(registry, None)
    lake = FlakyLake(tmp_path / "lake", failures=6)
    worker = EnrichWorker(open_subscriber(url), lake, enrich, FAST)
    _drain(worker)
    got = read_lake(lake)
    assert sorted(got.good_ids) == sorted(mix.good_ids)
    assert worker.metrics.value("enrich_infrastructure_retries_total", {"what": "lake"}) == 6
    assert _queue_is_empty(url)


def test_files_are_cut_by_age_and_stop_flushes(tmp_path: Path, registry: str) -> None:
    """A running worker makes events visible within ~max_age without a flush; stopping commits the rest and acks."""
    url = _queue(tmp_path)
    enrich, _ = build_enrich(registry, None)
    lake = LocalLake(tmp_path / "lake")
    config = WorkerConfig(pull_timeout_s=0.05, policy=CutPolicy(max_events=10**6, max_bytes=10**9, max_age_s=0.3))
    worker = EnrichWorker(open_subscriber(url), lake, enrich, config)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        mix = raw_mix()
        sent = time.monotonic()
        open_publisher(url).publish(mix.records)
        while not list(lake.list("good/")) and time.monotonic() - sent < 10:
            time.sleep(0.02)
        visible_after = time.monotonic() - sent
        assert list(lake.list("good/")), "no good file was cut by age"
        assert visible_after < 5.0  # ~max_age on an idle machine; slack for a loaded CI box
    finally:
        worker.stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert sorted(read_lake(lake).good_ids) == sorted(mix.good_ids)
    assert _queue_is_empty(url)


def test_metrics_count_committed_outputs_and_latency(tmp_path: Path, registry: str) -> None:
    """Counters by type and schema match the lake; one latency observation per committed output."""
    mix = raw_mix()
    url = _queue(tmp_path)
    open_publisher(url).publish(mix.records)
    enrich, _ = build_enrich(registry, None)
    worker = EnrichWorker(open_subscriber(url), LocalLake(tmp_path / "lake"), enrich, FAST)
    _drain(worker)
    m = worker.metrics
    sv = "iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1"
    assert m.value("enrich_bad_rows_total", {"type": "schema_violations", "schema": sv}) == 4
    checkout = {"event": "unstruct", "schema": "iglu:com.acme/checkout/jsonschema/1-0-0"}
    assert m.value("enrich_good_events_total", checkout) == 1
    page_views = {"event": "page_view", "schema": "iglu:com.snowplowanalytics.snowplow/page_view/jsonschema/1-0-0"}
    assert m.value("enrich_good_events_total", page_views) == 3
    assert m.value("enrich_commit_latency_seconds_count") == mix.events
    assert m.value("enrich_messages_acked_total") == len(mix.records)
    assert b"enrich_commit_latency_seconds_bucket" in m.render()


def test_enriched_row_keeps_parameters(tmp_path: Path, registry: str) -> None:
    """A good row carries the tracker's values typed: struct event value as decimal, page URL parts, timestamps."""
    url = _queue(tmp_path)
    mix = raw_mix()
    open_publisher(url).publish(mix.records)
    enrich, _ = build_enrich(registry, None)
    lake = LocalLake(tmp_path / "lake")
    _drain(EnrichWorker(open_subscriber(url), lake, enrich, FAST))
    rows = [r for name in lake.list("good/") for r in decode_parquet(lake.read(name)).to_pylist()]
    se = next(r for r in rows if r["event"] == "struct")
    assert str(se["se_value"]).rstrip("0") == "2.5" and se["se_category"] == "shop"
    pv = next(r for r in rows if r["page_url"] == "https://shop.example.com/p?x=1")
    assert pv["page_urlhost"] == "shop.example.com" and dict(parse_qsl(pv["page_urlquery"])) == {"x": "1"}
    assert pv["collector_tstamp"].tzinfo is not None and pv["etl_tstamp"] >= pv["collector_tstamp"]


def test_configured_enrichments_run_in_the_worker(tmp_path: Path, registry: str) -> None:
    """`--enrichments DIR` configs are loaded through the registry and applied (here: IP anonymisation)."""
    folder = tmp_path / "enrichments"
    folder.mkdir()
    config = {
        "schema": "iglu:com.snowplowanalytics.snowplow/anon_ip/jsonschema/1-0-1",
        "data": {
            "vendor": "com.snowplowanalytics.snowplow",
            "name": "anon_ip",
            "enabled": True,
            "parameters": {"anonOctets": 2},
        },
    }
    (folder / "anon_ip.json").write_bytes(orjson.dumps(config))
    url = _queue(tmp_path)
    mix = raw_mix()
    open_publisher(url).publish(mix.records)
    enrich, _ = build_enrich(registry, str(folder))
    lake = LocalLake(tmp_path / "lake")
    _drain(EnrichWorker(open_subscriber(url), lake, enrich, FAST))
    rows = [r for name in lake.list("good/") for r in decode_parquet(lake.read(name)).to_pylist()]
    assert len(rows) == len(mix.good_ids)
    assert {r["user_ipaddress"] for r in rows} == {"203.0.x.x"}


def test_an_unexpected_enrich_error_gives_the_message_back(tmp_path: Path, registry: str) -> None:
    """A bug raising inside enrich (injected: a real pipeline bug cannot be produced on demand) neither drops
    nor acks the message: it is given back, retried, and ends in the lake."""
    mix = raw_mix()
    url = _queue(tmp_path)
    open_publisher(url).publish(mix.records)
    real, _ = build_enrich(registry, None)
    failures = {"left": 2}

    def buggy(raw: bytes, etl_ms: int) -> list[Outcome]:
        if failures["left"] > 0 and raw == mix.records[0]:
            failures["left"] -= 1
            raise KeyError("a bug")
        return real(raw, etl_ms)

    lake = LocalLake(tmp_path / "lake")
    worker = EnrichWorker(open_subscriber(url), lake, buggy, FAST)
    _drain(worker)
    assert failures["left"] == 0
    assert sorted(read_lake(lake).good_ids) == sorted(mix.good_ids)
    assert worker.metrics.value("enrich_infrastructure_retries_total", {"what": "crash"}) == 2
    assert _queue_is_empty(url)


class BrokenListener:
    """A commit listener whose store is broken (the Micro store failing, e.g. a full disk)."""

    def __init__(self) -> None:
        self.calls = 0

    def committed(self, messages: Sequence[CommittedMessage]) -> None:
        self.calls += 1
        raise OSError("disk full")


def test_a_failing_listener_does_not_stop_acks(tmp_path: Path, registry: str) -> None:
    """The lake is the record: a failing side view is logged and counted, and messages are still acked once."""
    mix = raw_mix()
    url = _queue(tmp_path)
    open_publisher(url).publish(mix.records)
    enrich, _ = build_enrich(registry, None)
    listener = BrokenListener()
    lake = LocalLake(tmp_path / "lake")
    worker = EnrichWorker(open_subscriber(url), lake, enrich, FAST, listeners=[listener])
    _drain(worker)
    assert listener.calls >= 1
    assert sorted(read_lake(lake).good_ids) == sorted(mix.good_ids)
    assert _queue_is_empty(url)


def _pii_config(folder: Path, *, emit: bool) -> str:
    """An enrichments folder holding one PII config hashing user_ipaddress (SHA-256), emitEvent as given."""
    folder.mkdir()
    config = {
        "schema": "iglu:com.snowplowanalytics.snowplow.enrichments/pii_enrichment_config/jsonschema/2-0-0",
        "data": {
            "vendor": "com.snowplowanalytics.snowplow.enrichments",
            "name": "pii_enrichment_config",
            "enabled": True,
            "emitEvent": emit,
            "parameters": {
                "pii": [{"pojo": {"field": "user_ipaddress"}}],
                "strategy": {"pseudonymize": {"hashFunction": "SHA-256", "salt": "pepper123"}},
            },
        },
    }
    (folder / "pii.json").write_bytes(orjson.dumps(config))
    return str(folder)


class FlakyPiiLake(LocalLake):
    """A real local lake whose first `failures` pii/ writes fail (LakeUnavailable); it logs creates and
    the parent event ids each committed pii file names."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures
        self.pii_parents: set[str] = set()

    def create(self, name: str, data: bytes) -> None:
        if name.startswith("pii/") and self.failures > 0:
            self.failures -= 1
            raise LakeUnavailable("pii write refused (test)")
        super().create(name, data)
        if name.startswith("pii/"):
            for row in decode_parquet(data).to_pylist():
                (parent,) = orjson.loads(row["contexts"])["data"]
                self.pii_parents.add(parent["data"]["parentEventId"])


def test_pii_events_go_to_the_pii_stream_and_are_committed_before_the_ack(tmp_path: Path, registry: str) -> None:
    """emitEvent: one pii/ Parquet row per good event (good's columns a pii event can set, typed as in good),
    committed (after retries) before acks."""
    mix = raw_mix()
    url = _queue(tmp_path)
    open_publisher(url).publish(mix.records)
    enrich, _ = build_enrich(registry, _pii_config(tmp_path / "enrichments", emit=True))
    lake = FlakyPiiLake(tmp_path / "lake", failures=3)
    subscriber = AckCheckingSubscriber(open_subscriber(url), lambda ids: (ids & mix.good_ids) - lake.pii_parents)
    _drain(EnrichWorker(subscriber, lake, enrich, FAST))
    assert lake.failures == 0  # the pii writes were refused and retried
    assert subscriber.violations == []
    assert sorted(subscriber.data) and _queue_is_empty(url)
    assert lake.pii_parents == mix.good_ids
    pii_files = list(lake.list("pii/"))
    assert pii_files and all(re.fullmatch(r"pii/date=\d{4}-\d\d-\d\d/hour=\d\d/[^/]+\.parquet", n) for n in pii_files)
    good_table = decode_parquet(lake.read(next(iter(lake.list("good/")))))
    rows = []
    for name in pii_files:
        table = decode_parquet(lake.read(name))
        assert table.schema.names == list(PII_COLUMNS)
        assert table.schema.equals(pa.schema([good_table.schema.field(n) for n in PII_COLUMNS]))
        rows += table.to_pylist()
    assert {r["event"] for r in rows} == {"pii_transformation"} and len(rows) == len(mix.good_ids)
    assert not any("pepper123" in str(r) for r in rows)


def test_without_emit_event_there_is_no_pii_stream(tmp_path: Path, registry: str) -> None:
    """emitEvent false: the addresses are hashed in good/, and nothing is written under pii/."""
    mix = raw_mix()
    url = _queue(tmp_path)
    open_publisher(url).publish(mix.records)
    enrich, _ = build_enrich(registry, _pii_config(tmp_path / "enrichments", emit=False))
    lake = LocalLake(tmp_path / "lake")
    _drain(EnrichWorker(open_subscriber(url), lake, enrich, FAST))
    assert list(lake.list("pii/")) == []
    rows = [r for name in lake.list("good/") for r in decode_parquet(lake.read(name)).to_pylist()]
    assert len(rows) == len(mix.good_ids) and all(len(r["user_ipaddress"]) == 64 for r in rows)
