"""`eventkit up` keeps the registry confined and private: Micro's Iglu route, the registry API and validation agree."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from registry.keys import KeyRing
from registry.publish import Publisher
from registry.store import open_store
from tests.enrich.processes import EventkitProcess, free_port

pytestmark = pytest.mark.slow

SELF_DESC = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"
SP = "com.snowplowanalytics.snowplow"
SECRET = "TOPSECRET-PLAN-B"


def _schema(vendor: str, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": SELF_DESC,
        "self": {"vendor": vendor, "name": name, "format": "jsonschema", "version": "1-0-0"},
        "description": name,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


class Stack:
    """A running `eventkit up` over a registry holding com.other's private schema and a hostile neighbourhood."""

    def __init__(self, tmp: Path) -> None:
        self.registry = tmp / "area" / "registry"
        store = open_store(self.registry)
        secret = _schema("com.other", "secret", {"plan": {"type": "string", "enum": [SECRET]}})
        assert Publisher(store).publish(secret, is_public=False).ok
        ring = KeyRing(store, None)
        self.other = ring.generate("com.other")
        self.acme = ring.generate("com.acme")
        # Placed by hand (no publish checks, public): a com.acme schema pulling in the private one.
        user = _schema("com.acme", "uses_secret", {"secret": {"$ref": "iglu:com.other/secret/jsonschema/1-0-0"}})
        folder = self.registry / "com.acme" / "uses_secret" / "jsonschema"
        folder.mkdir(parents=True)
        (folder / "1-0-0").write_bytes(orjson.dumps(user))
        # A schema one level above the registry folder, where a `..` vendor would land.
        planted = self.registry.parent / "p11" / "jsonschema"
        planted.mkdir(parents=True)
        (planted / "1-0-0").write_bytes(orjson.dumps({**_schema("..", "p11", {}), "additionalProperties": True}))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = ["up", "--port", str(self.port), "--data-dir", str(tmp / "data"), "--registry", str(self.registry)]
        self.proc = EventkitProcess(args, tmp / "up.log")
        self.proc.wait_http(f"{self.base}/health")

    def raw(self, target: str, apikey: str | None = None) -> tuple[int, bytes]:
        """GET `target` byte for byte (no client-side normalisation of `..` or `%2e`)."""
        head = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if apikey:
            head += f"apikey: {apikey}\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(head.encode() + b"\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        status_line, _, body = data.partition(b"\r\n\r\n")
        return int(status_line.split()[1]), body

    def send_unstruct(self, schema: str, data: Any) -> str:
        eid = str(uuid.uuid4())
        event = {"e": "ue", "p": "web", "tv": "py-test", "eid": eid}
        event["ue_pr"] = json.dumps(
            {"schema": f"iglu:{SP}/unstruct_event/jsonschema/1-0-0", "data": {"schema": schema, "data": data}}
        )
        body = {"schema": f"iglu:{SP}/payload_data/jsonschema/1-0-4", "data": [event]}
        assert httpx.post(f"{self.base}/{SP}/tp2", json=body).status_code == 200
        return eid


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(tmp_path)
    try:
        yield running
    finally:
        running.proc.terminate()


def test_private_schemas_follow_one_read_rule_on_micro_and_api(stack: Stack) -> None:
    """Anonymous and other-vendor callers get 404 on /micro/iglu and /api alike; the owner's key reads; bad keys 401."""
    path = "com.other/secret/jsonschema/1-0-0"
    for apikey in (None, stack.acme["read"], stack.acme["write"]):
        status, body = stack.raw(f"/micro/iglu/{path}", apikey)
        assert status == 404 and SECRET.encode() not in body
        status, body = stack.raw(f"/api/schemas/{path}", apikey)
        assert status == 404 and SECRET.encode() not in body
    for route in ("/micro/iglu/", "/api/schemas/"):
        status, body = stack.raw(f"{route}{path}", stack.other["read"])
        assert status == 200 and orjson.loads(body)["properties"]["plan"]["enum"] == [SECRET]
        assert stack.raw(f"{route}{path}", str(uuid.uuid4()))[0] == 401


@pytest.mark.parametrize("vendor", ["%2e%2e", "..", "%2E", "."])
def test_dot_vendors_are_400_on_every_route(stack: Stack, vendor: str) -> None:
    """`..`/`.` raw or percent-encoded never reaches the schema planted above the registry: 400 naming the vendor."""
    for route in ("/micro/iglu/", "/api/schemas/"):
        status, body = stack.raw(f"{route}{vendor}/p11/jsonschema/1-0-0", stack.other["read"])
        assert status == 400, (route, body)
        assert b"vendor" in body and b"planted" not in body


def test_events_cannot_reach_escaping_or_private_schemas(stack: Stack) -> None:
    """An event naming `iglu:../p11/...` and one whose schema `$ref`s another vendor's private schema both end bad,
    and no bad row carries the private enum value."""
    escaping = stack.send_unstruct("iglu:../p11/jsonschema/1-0-0", {"anything": 1})
    leaking = stack.send_unstruct("iglu:com.acme/uses_secret/jsonschema/1-0-0", {"secret": {"plan": "guess"}})
    deadline = time.monotonic() + 30
    while httpx.get(f"{stack.base}/micro/all").json()["total"] < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{stack.base}/micro/all").json() == {"total": 2, "good": 0, "bad": 2}
    bad = httpx.get(f"{stack.base}/micro/bad").json()
    assert sorted(b["rawEvent"]["parameters"]["eid"] for b in bad) == sorted([escaping, leaking])
    text = json.dumps(bad)
    assert SECRET not in text
    assert "iglu:com.other/secret/jsonschema/1-0-0 cannot be resolved" in text
