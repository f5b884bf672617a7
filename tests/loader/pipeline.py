"""Real pipeline runs for loader tests: tracker events → enrich_payload → good Parquet / bad rows in a real lake.

Schemas live in a registry folder the test owns (Iglu static layout), so a test can publish a schema
between two steps; the resolver has no cache so every call sees the folder as it is.
"""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core.badrows import BadRowBase, Processor
from core.lake import Lake
from core.lake.jsonl import encode_jsonl
from core.lake.partitions import PartNamer
from core.locations import BUNDLED_SCHEMAS
from core.raw import CollectorPayload
from enrich.environment import Environment
from enrich.outcome import Good
from enrich.outputs.parquet import encode_parquet
from enrich.pipeline import enrich_payload
from registry.resolver import Resolver
from registry.validation import Validator
from tests.raw_records import raw_record

__all__ = [
    "CASES",
    "TP2",
    "Pipeline",
    "b64",
    "get_payload",
    "publish_schema",
    "registry_locations",
    "self_describing_event",
]

CASES = Path(__file__).resolve().parents[1] / "cases" / "loader"
TP2 = "com.snowplowanalytics.snowplow"
T0 = 1_795_690_800_000  # 2026-11-26T11:00:00.000Z


def b64(doc: Any) -> str:
    """URL-safe base64 without padding, as the JavaScript tracker encodes ue_px / cx."""
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def publish_schema(registry: Path, schema: Mapping[str, Any]) -> None:
    """Write a schema into a static-layout registry folder at the path its `self` names."""
    me = schema["self"]
    target = registry / me["vendor"] / me["name"] / me["format"] / me["version"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(schema))


def registry_locations(registry: Path) -> str:
    return f"{registry},{BUNDLED_SCHEMAS}"


def self_describing_event(
    schema: str,
    data: Mapping[str, Any],
    *,
    contexts: Iterable[tuple[str, Mapping[str, Any]]] = (),
    eid: str | None = None,
) -> dict[str, str]:
    """Tracker-protocol parameters of one self-describing event (ue_px, cx base64) with a fresh eid."""
    params = {
        "e": "ue",
        "p": "web",
        "tv": "py-1.0.0",
        "aid": "shop",
        "eid": eid or str(uuid.uuid4()),
        "dtm": str(T0 - 500),
        "ue_px": b64(
            {
                "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
                "data": {"schema": schema, "data": dict(data)},
            }
        ),
    }
    ctx = [{"schema": s, "data": dict(d)} for s, d in contexts]
    if ctx:
        params["cx"] = b64({"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1", "data": ctx})
    return params


def get_payload(params: Mapping[str, str | None], *, timestamp: int = T0) -> CollectorPayload:
    """A GET raw record (tp2 path) carrying one event in its query string."""
    return raw_record(
        vendor=TP2,
        querystring=tuple(params.items()),
        timestamp=timestamp,
        ip_address="203.0.113.7",
        useragent="pytest",
        network_user_id=str(uuid.UUID(int=7)),
    )


class Pipeline:
    """enrich_payload with a real resolver over a registry folder, writing its outcomes into a lake."""

    def __init__(self, lake: Lake, registry: Path) -> None:
        self.lake = lake
        self.registry = registry
        registry.mkdir(parents=True, exist_ok=True)
        self.namer = PartNamer()
        self.clock = T0

    def resolver(self) -> Resolver:
        return Resolver.from_locations(registry_locations(self.registry), cache_ttl=0)

    def env(self) -> Environment:
        return Environment(
            Validator(self.resolver()), processor=Processor("eventkit-enrich", "0.0.0-test"), clock=lambda: self.clock
        )

    def run(self, payloads: Iterable[CollectorPayload]) -> tuple[int, int]:
        """Enrich every payload; one good Parquet file and one bad file per type; returns (good, bad) counts."""
        env = self.env()
        good: list[Any] = []
        bad: dict[str, list[bytes]] = {}
        for payload in payloads:
            for outcome in enrich_payload(payload, env):
                if isinstance(outcome, Good):
                    good.append(outcome.event)
                else:
                    assert isinstance(outcome, BadRowBase)
                    bad.setdefault(outcome.type_name, []).append(outcome.encode())
        self.clock += 1000
        if good:
            self.lake.create(self.namer.next_name("good", self.clock, "parquet"), encode_parquet(good))
        for type_name, lines in bad.items():
            self.lake.create(self.namer.next_name(f"bad/{type_name}", self.clock, "jsonl"), encode_jsonl(lines))
        return len(good), sum(len(v) for v in bad.values())


def copy_cases(name: str, registry: Path) -> None:
    """Copy a schema folder from tests/cases/loader/<name> into a registry folder."""
    shutil.copytree(CASES / name, registry, dirs_exist_ok=True)
