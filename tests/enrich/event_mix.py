"""The enrich tests' event mix: a tiny com.acme registry, raw records of every outcome kind, and lake readers."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from core.lake.jsonl import decode_jsonl
from core.lake.port import Lake
from core.raw import CollectorPayload
from enrich.outputs.parquet import decode_parquet
from registry.resolver import with_bundled_schemas
from tests.badrow_schemas import assert_valid_bad_row

SP = "com.snowplowanalytics.snowplow"
SELF_DESC = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"


def _schema(name: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": SELF_DESC,
        "self": {"vendor": "com.acme", "name": name, "format": "jsonschema", "version": "1-0-0"},
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


ACME_SCHEMAS = {
    "checkout": _schema(
        "checkout",
        {
            "orderId": {"type": "string", "maxLength": 64},
            "total": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "maxLength": 3},
            "items": {"type": "array", "items": {"type": "object"}},
        },
        ["orderId", "total"],
    ),
    "user_context": _schema(
        "user_context", {"userId": {"type": "string"}, "plan": {"type": ["string", "null"]}}, ["userId"]
    ),
    "product_view": _schema(
        "product_view",
        {"sku": {"type": "string"}, "price": {"type": "number"}, "currency": {"type": "string"}},
        ["sku"],
    ),
}


def write_acme_registry(root: Path, names: tuple[str, ...] = tuple(ACME_SCHEMAS)) -> Path:
    """Write com.acme schemas in Iglu static layout under `root`; returns `root`."""
    for name in names:
        folder = root / "com.acme" / name / "jsonschema"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "1-0-0").write_text(json.dumps(ACME_SCHEMAS[name]))
    return root


def registry_chain(root: Path) -> str:
    """The test registry followed by the bundled schemas (Snowplow's own)."""
    return with_bundled_schemas(str(root))


def b64(doc: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(doc)).decode().rstrip("=")


def unstruct(name: str, data: Any) -> dict[str, Any]:
    return {
        "schema": f"iglu:{SP}/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": f"iglu:com.acme/{name}/jsonschema/1-0-0", "data": data},
    }


def contexts(*entities: tuple[str, Any]) -> dict[str, Any]:
    return {
        "schema": f"iglu:{SP}/contexts/jsonschema/1-0-1",
        "data": [{"schema": f"iglu:com.acme/{n}/jsonschema/1-0-0", "data": d} for n, d in entities],
    }


def raw_record(
    qs: list[tuple[str, str]] | None = None,
    *,
    body: str | None = None,
    vendor: str = SP,
    version: str = "tp2",
    content_type: str | None = None,
    timestamp_ms: int | None = None,
) -> bytes:
    """A raw record as the collector would write it."""
    return CollectorPayload(
        vendor=vendor,
        version=version,
        querystring=tuple(qs or ()),
        content_type=content_type,
        body=body,
        collector="eventkit-test-sqlite",
        encoding="UTF-8",
        hostname="localhost",
        timestamp=timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000,
        ip_address="203.0.113.9",
        useragent="Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
        referer_uri="https://shop.example.com/",
        headers=("Host: localhost", "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"),
        network_user_id=str(uuid.uuid4()),
    ).encode()


@dataclass
class Mix:
    """Raw records and what enrich must make of them."""

    records: list[bytes] = field(default_factory=list)
    good_ids: set[str] = field(default_factory=set)
    bad_ids: dict[str, set[str]] = field(default_factory=dict)  # per-event bad rows, by type → event ids
    bad_requests: Counter[str] = field(default_factory=Counter)  # whole-request bad rows, by type

    def expect_bad(self, type_name: str, eid: str) -> None:
        self.bad_ids.setdefault(type_name, set()).add(eid)

    @property
    def events(self) -> int:
        return len(self.good_ids) + sum(len(v) for v in self.bad_ids.values()) + sum(self.bad_requests.values())


def _base(eid: str, e: str) -> list[tuple[str, str]]:
    return [
        ("e", e),
        ("eid", eid),
        ("p", "web"),
        ("tv", "py-1.1.0"),
        ("aid", "mix"),
        ("dtm", str(int(time.time() * 1000))),
    ]


def raw_mix(copies: int = 1) -> Mix:
    """`copies` rounds of: valid GET and POST events, unknown schema, wrong type, bad timestamp, bad base64,
    broken body, unknown vendor, not a raw record. 8 good and 5+3 bad per round."""
    mix = Mix()
    for _ in range(copies):
        ids = [str(uuid.uuid4()) for _ in range(11)]
        ctx = b64(contexts(("user_context", {"userId": "u-1", "plan": "free"})))
        checkout = b64(unstruct("checkout", {"orderId": "o-1", "total": 21.5, "currency": "USD"}))
        mix.records.append(raw_record([*_base(ids[0], "pv"), ("url", "https://shop.example.com/p?x=1"), ("cx", ctx)]))
        mix.records.append(raw_record([*_base(ids[1], "ue"), ("ue_px", checkout), ("cx", ctx)], version="tp1"))
        mix.records.append(
            raw_record([*_base(ids[2], "se"), ("se_ca", "shop"), ("se_ac", "add"), ("se_va", "2.5")], version="tp1")
        )
        post_events = [
            dict(_base(ids[3], "pv"), url="https://shop.example.com/"),
            dict(
                _base(ids[4], "ue"), ue_pr=orjson.dumps(unstruct("product_view", {"sku": "s", "price": 1.5})).decode()
            ),
            dict(_base(ids[5], "ue"), ue_px=b64(unstruct("unknown_thing", {"a": 1}))),  # unknown schema
            dict(_base(ids[6], "ue"), ue_px=b64(unstruct("checkout", {"orderId": "o-2", "total": "abc"}))),  # type
            dict(_base(ids[7], "pp"), url="https://shop.example.com/", pp_mix="0", pp_max="10", pp_miy="0", pp_may="5"),
        ]
        body = orjson.dumps({"schema": f"iglu:{SP}/payload_data/jsonschema/1-0-4", "data": post_events}).decode()
        mix.records.append(raw_record(body=body, content_type="application/json; charset=utf-8"))
        bad_ts = [*_base(ids[8], "pv")]
        bad_ts[-1] = ("dtm", "yesterday")
        mix.records.append(raw_record(bad_ts, version="tp1"))  # bad timestamp
        mix.records.append(raw_record([*_base(ids[9], "ue"), ("ue_px", "!!not-base64!!")], version="tp1"))
        mix.records.append(raw_record([*_base(ids[10], "pv"), ("url", "https://shop.example.com/again")]))
        mix.records.append(raw_record(body="{broken json", content_type="application/json"))  # broken body
        mix.records.append(raw_record([("e", "pv")], vendor="com.unknown", version="v9"))  # unknown vendor
        mix.records.append(b"definitely not a raw record")
        mix.good_ids |= {ids[0], ids[1], ids[2], ids[3], ids[4], ids[7], ids[10]}
        for i in (5, 6, 8, 9):
            mix.expect_bad("schema_violations", ids[i])
        mix.bad_requests.update(
            {"tracker_protocol_violations": 1, "adapter_failures": 1, "collector_payload_format_violation": 1}
        )
    return mix


@dataclass
class LakeContents:
    """What the lake holds: good event ids (with duplicates) and bad rows by type."""

    good_ids: list[str]
    bad: dict[str, list[dict[str, Any]]]
    files: list[str]

    def bad_event_ids(self, type_name: str) -> list[str]:
        return [eid for row in self.bad.get(type_name, []) if (eid := bad_row_event_id(row)) is not None]


def read_lake(lake: Lake) -> LakeContents:
    files = list(lake.list())
    good: list[str] = []
    bad: dict[str, list[dict[str, Any]]] = {}
    for name in files:
        if name.startswith("good/"):
            good.extend(decode_parquet(lake.read(name)).column("event_id").to_pylist())
        elif name.startswith("bad/"):
            type_name = name.split("/")[1]
            bad.setdefault(type_name, []).extend(decode_jsonl(lake.read(name)))  # type: ignore[arg-type]
    return LakeContents(good, bad, files)


def bad_row_event_id(row: dict[str, Any]) -> str | None:
    """The `eid` parameter of a per-event bad row (payload.raw.parameters)."""
    payload = row["data"].get("payload")
    if not isinstance(payload, dict) or "raw" not in payload:
        return None
    for p in payload["raw"]["parameters"]:
        if p["name"] == "eid":
            return str(p["value"])
    return None


check_bad_row = assert_valid_bad_row  # the name the enrich and loader tests import
