"""Micro's Iglu route reads under the registry's rule even with no key store: private schemas are not served."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from embedded.micro import micro_router
from embedded.micro_store import MicroStore
from registry.keys import KeyRing
from registry.publish import Publisher
from registry.resolver import Resolver
from registry.store import open_store

SELF_DESC = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"


def _schema(name: str) -> dict[str, object]:
    return {
        "$schema": SELF_DESC,
        "self": {"vendor": "com.other", "name": name, "format": "jsonschema", "version": "1-0-0"},
        "description": name,
        "type": "object",
        "properties": {"plan": {"type": "string", "enum": ["hidden-value"]}},
        "additionalProperties": False,
    }


def test_private_schema_is_hidden_without_a_covering_key(tmp_path: Path) -> None:
    """No key store: private answers 404 like a missing schema, public 200; with keys, the owner's key reads it."""
    registry = open_store(tmp_path / "schemas")
    assert Publisher(registry).publish(_schema("secret"), is_public=False).ok
    assert Publisher(registry).publish(_schema("open"), is_public=True).ok
    resolver = Resolver.from_locations(str(tmp_path / "schemas"))
    app = FastAPI()
    app.include_router(micro_router(MicroStore(tmp_path / "micro.db"), resolver))
    client = TestClient(app)
    hidden = client.get("/micro/iglu/com.other/secret/jsonschema/1-0-0")
    missing = client.get("/micro/iglu/com.other/nothing/jsonschema/1-0-0")
    assert hidden.status_code == missing.status_code == 404
    assert "hidden-value" not in hidden.text and hidden.json()["error"] == "ResolutionError"
    assert client.get("/micro/iglu/com.other/open/jsonschema/1-0-0").status_code == 200

    pair = KeyRing(registry, None).generate("com.other")
    keyed = FastAPI()
    keyed.include_router(micro_router(MicroStore(tmp_path / "micro2.db"), resolver, KeyRing(registry, None)))
    with_keys = TestClient(keyed)
    url = "/micro/iglu/com.other/secret/jsonschema/1-0-0"
    assert with_keys.get(url, headers={"apikey": pair["read"]}).json()["properties"]["plan"]["enum"] == ["hidden-value"]
    assert with_keys.get(url).status_code == 404
    assert with_keys.get(url, headers={"apikey": "not-a-key"}).status_code == 401
