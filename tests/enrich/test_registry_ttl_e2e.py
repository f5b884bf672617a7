"""`eventkit enrich` as configured: a resolver config's cacheTtl bounds how long "not found" lasts (a schema
published mid-run is used seconds later), and Snowplow's event_fingerprint_config sets the fingerprint."""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path

import orjson
import pytest

from core.lake.local import LocalLake
from core.queue import open_publisher
from enrich.outputs.parquet import decode_parquet
from tests.enrich.event_mix import b64, raw_record, read_lake, unstruct, write_acme_registry
from tests.enrich.processes import EventkitProcess

pytestmark = pytest.mark.slow

CACHE_TTL_S = 2
EXCLUDED = ["eid", "nuid", "stm", "cv", "dtm"]
FINGERPRINT_CONFIG = {
    "schema": "iglu:com.snowplowanalytics.snowplow/event_fingerprint_config/jsonschema/1-0-1",
    "data": {
        "vendor": "com.snowplowanalytics.snowplow",
        "name": "event_fingerprint_config",
        "enabled": True,
        "parameters": {"excludeParameters": EXCLUDED, "hashAlgorithm": "SHA256"},
    },
}


def _checkout(eid: str) -> tuple[list[tuple[str, str]], bytes]:
    """The query parameters of one checkout event and the raw record carrying them."""
    event = b64(unstruct("checkout", {"orderId": eid[:8], "total": 3.5}))
    params = [("e", "ue"), ("eid", eid), ("p", "web"), ("tv", "py-1.1.0"), ("aid", "ttl"), ("ue_px", event)]
    params.append(("dtm", str(int(time.time() * 1000))))
    return params, raw_record(params, version="tp1")


def _fingerprints(lake: LocalLake) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in lake.list("good/"):
        if name.endswith(".parquet"):
            table = decode_parquet(lake.read(name))
            ids, fps = table.column("event_id").to_pylist(), table.column("event_fingerprint").to_pylist()
            found.update(zip(ids, fps, strict=True))
    return found


def _wait(predicate: object, timeout: float, what: str, process: EventkitProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}\n{process.log()[-3000:]}")


def test_schema_published_mid_run_is_used_after_cache_ttl_and_fingerprint_follows_config(tmp_path: Path) -> None:
    """Miss → bad row; publish; after cacheTtl (2 s, not 600) the same schema validates; fingerprint is SHA-256."""
    registry = tmp_path / "schemas"
    registry.mkdir()
    resolver = {
        "schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
        "data": {
            "cacheSize": 500,
            "cacheTtl": CACHE_TTL_S,
            "repositories": [
                {"name": "Team", "priority": 0, "vendorPrefixes": [], "connection": {"embedded": {"path": "schemas"}}}
            ],
        },
    }
    (tmp_path / "resolver.json").write_bytes(orjson.dumps(resolver))
    enrichments = tmp_path / "enrichments"
    enrichments.mkdir()
    (enrichments / "event_fingerprint.json").write_bytes(orjson.dumps(FINGERPRINT_CONFIG))
    queue = f"sqlite://{tmp_path}/queue.db"
    lake = LocalLake(tmp_path / "lake")
    args = ["enrich", "--raw", queue, "--lake", str(lake.root), "--registry", str(tmp_path / "resolver.json")]
    process = EventkitProcess([*args, "--enrichments", str(enrichments), "--max-age", "0.1"], tmp_path / "enrich.log")
    publisher = open_publisher(queue)
    try:
        before = str(uuid.uuid4())
        publisher.publish([_checkout(before)[1]])
        _wait(lambda: before in read_lake(lake).bad_event_ids("schema_violations"), 60, "the miss", process)
        missed_at = time.monotonic()
        assert "ResolutionError" in orjson.dumps(read_lake(lake).bad["schema_violations"]).decode()

        write_acme_registry(registry, ("checkout",))  # publish while enrich runs
        time.sleep(max(0.0, missed_at + CACHE_TTL_S + 0.5 - time.monotonic()))
        after = str(uuid.uuid4())
        params, record = _checkout(after)
        publisher.publish([record])
        _wait(
            lambda: after in _fingerprints(lake) or after in read_lake(lake).bad_event_ids("schema_violations"),
            30,
            "the event sent after the TTL",
            process,
        )
        assert after in _fingerprints(lake), "still not found after cacheTtl: the configured TTL was ignored"
    finally:
        publisher.close()
        assert process.terminate() == 0
    assert f"cached {CACHE_TTL_S} s" in process.log()

    text = "".join(f"{name}\x1f{value}\x1f" for name, value in sorted(params) if name not in EXCLUDED)
    assert _fingerprints(lake)[after] == hashlib.sha256(text.encode()).hexdigest()
