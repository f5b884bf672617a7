"""Registry HTTP API: Iglu Server's endpoints and bodies, publish rules over HTTP, and every permission rule."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from core.iglu import SchemaKey
from registry.api import create_app
from registry.store import SchemaStore, open_store
from tests.registry.registry_server import running

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "compat"
MASTER = "0f4b3c57-6c1d-4a44-9d2e-1d5f7b0e8c11"
UNKNOWN = "6f1c8a5e-8f5e-4a5b-9c3e-2d2f1b0a9e77"


def _case(name: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads((CASES / name).read_bytes())
    return value


def _for_vendor(schema: dict[str, Any], vendor: str, version: str | None = None) -> dict[str, Any]:
    out = copy.deepcopy(schema)
    out["self"]["vendor"] = vendor
    if version:
        out["self"]["version"] = version
    return out


def _path(schema: dict[str, Any]) -> str:
    s = schema["self"]
    return f"/api/schemas/{s['vendor']}/{s['name']}/{s['format']}/{s['version']}"


@pytest.fixture
def store(tmp_path: Path) -> SchemaStore:
    return open_store(tmp_path / "registry")


@pytest.fixture
def client(store: SchemaStore) -> Iterator[TestClient]:
    with TestClient(create_app(store, master_key=MASTER)) as c:
        yield c


@pytest.fixture
def acme(client: TestClient) -> dict[str, str]:
    response = client.post("/api/auth/keygen", json={"vendorPrefix": "com.acme"}, headers={"apikey": MASTER})
    assert response.status_code == 201
    pair: dict[str, str] = response.json()
    return pair


def _put(client: TestClient, schema: dict[str, Any], key: str | None, public: bool = False) -> httpx.Response:
    headers = {"apikey": key} if key else {}
    params = {"isPublic": str(public).lower()}
    return client.put(_path(schema), content=orjson.dumps(schema), headers=headers, params=params)


def test_health_and_server_info(client: TestClient) -> None:
    """/api/meta/health answers OK; /api/meta/server describes the registry."""
    assert client.get("/api/meta/health").text == "OK"
    info = client.get("/api/meta/server").json()
    assert info["patchesAllowed"] is False and info["schemaCount"] == 0


def test_publish_and_read_back_in_every_repr(client: TestClient, acme: dict[str, str]) -> None:
    """PUT answers Iglu's 201 body; GET returns the schema as uri, canonical and meta representations."""
    schema = _case("checkout-1-0-0.json")
    response = _put(client, schema, acme["write"])
    assert response.status_code == 201
    assert response.json() == {
        "message": "Schema created",
        "status": 201,
        "location": "iglu:com.acme/checkout/jsonschema/1-0-0",
        "updated": False,
    }
    headers = {"apikey": acme["read"]}
    assert client.get(_path(schema), headers=headers).json() == schema
    meta = client.get(_path(schema), headers=headers, params={"repr": "meta"}).json()
    assert meta["metadata"]["isPublic"] is False and meta["metadata"]["createdAt"]
    assert client.get("/api/schemas", headers=headers).json() == ["iglu:com.acme/checkout/jsonschema/1-0-0"]
    assert client.get("/api/schemas", headers=headers, params={"repr": "canonical"}).json() == [schema]
    assert client.get("/api/schemas/com.acme", headers=headers).status_code == 200
    assert client.get("/api/schemas/com.acme/checkout", headers=headers).status_code == 200
    model = client.get("/api/schemas/com.acme/checkout/jsonschema/1", headers=headers)
    assert model.json() == ["iglu:com.acme/checkout/jsonschema/1-0-0"]


def test_not_found_messages(client: TestClient) -> None:
    """Unknown schema → 404 'The schema is not found'; empty listing → 404 'No schemas available'."""
    missing = client.get("/api/schemas/com.acme/none/jsonschema/1-0-0")
    assert (missing.status_code, missing.json()) == (404, {"message": "The schema is not found"})
    empty = client.get("/api/schemas/com.nobody")
    assert (empty.status_code, empty.json()) == (404, {"message": "No schemas available"})


def test_bare_json_schema_body_is_wrapped(client: TestClient, acme: dict[str, str]) -> None:
    """A PUT body without `self` is a bare JSON Schema: the URL supplies self and $schema."""
    bare = {k: v for k, v in _case("checkout-1-0-0.json").items() if k not in ("self", "$schema")}
    response = client.put(
        "/api/schemas/com.acme/checkout/jsonschema/1-0-0", content=orjson.dumps(bare), headers={"apikey": acme["write"]}
    )
    assert response.status_code == 201
    stored = client.get("/api/schemas/com.acme/checkout/jsonschema/1-0-0", headers={"apikey": acme["read"]}).json()
    assert stored["self"]["version"] == "1-0-0" and stored["$schema"].startswith("http://iglucentral.com/")


def test_url_and_self_must_agree(client: TestClient, acme: dict[str, str]) -> None:
    """A body whose self differs from the URL is 400 with both keys."""
    schema = _case("checkout-1-0-0.json")
    response = client.put(
        "/api/schemas/com.acme/checkout/jsonschema/1-0-1",
        content=orjson.dumps(schema),
        headers={"apikey": acme["write"]},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["uriSchemaKey"].endswith("1-0-1") and body["payloadSchemaKey"].endswith("1-0-0")


def test_conflicts_are_409(client: TestClient, acme: dict[str, str]) -> None:
    """A changed existing version, gaps and incompatible bumps answer 409 with reasons; the same schema is a no-op."""
    assert _put(client, _case("checkout-1-0-0.json"), acme["write"]).status_code == 201
    same = _put(client, _case("checkout-1-0-0.json"), acme["write"])
    assert (same.status_code, same.json()["updated"]) == (200, False) and "unchanged" in same.json()["message"]
    again = _put(client, {**_case("checkout-1-0-0.json"), "description": "changed"}, acme["write"])
    assert (again.status_code, again.json()["message"]) == (409, "Schema already exists")
    gap = _put(client, _for_vendor(_case("checkout-addition.json"), "com.acme", "1-0-2"), acme["write"])
    assert gap.status_code == 409
    tight = _put(client, _case("checkout-tightened.json"), acme["write"])
    assert tight.status_code == 409
    assert any("maxLength lowered 100 → 50" in line for line in tight.json()["details"])
    assert client.get("/api/schemas", headers={"apikey": acme["read"]}).json() == [
        "iglu:com.acme/checkout/jsonschema/1-0-0"
    ]


def test_lint_errors_are_400_with_report(client: TestClient, acme: dict[str, str]) -> None:
    """An ERROR-level lint finding answers Iglu's 400 body with a report of message, level and pointer."""
    schema = _case("checkout-1-0-0.json")
    schema["properties"]["total"]["minimum"] = 10**9
    response = _put(client, schema, acme["write"])
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "The schema does not conform to a JSON Schema v4 specification"
    assert {"message", "level", "pointer"} <= set(body["report"][0])
    assert any(item["level"] == "ERROR" for item in body["report"])


def test_post_publishes_a_self_describing_schema(client: TestClient, acme: dict[str, str]) -> None:
    """POST /api/schemas takes the key from self."""
    response = client.post(
        "/api/schemas", content=orjson.dumps(_case("checkout-1-0-0.json")), headers={"apikey": acme["write"]}
    )
    assert response.status_code == 201


# ---- permissions -------------------------------------------------------------------------------


def test_wrong_or_missing_keys_change_nothing(client: TestClient, acme: dict[str, str]) -> None:
    """Unknown or malformed key → 401; no key, read key or another vendor's write key → 403; store unchanged."""
    schema = _case("checkout-1-0-0.json")
    assert _put(client, schema, UNKNOWN).status_code == 401
    assert _put(client, schema, "garbage").status_code == 401
    assert _put(client, schema, None).status_code == 403
    assert _put(client, schema, acme["read"]).status_code == 403
    other = client.post("/api/auth/keygen", json={"vendorPrefix": "com.other"}, headers={"apikey": MASTER}).json()
    assert _put(client, schema, other["write"]).status_code == 403
    forbidden = client.post("/api/schemas", content=orjson.dumps(schema), headers={"apikey": other["write"]})
    assert forbidden.status_code == 403
    assert forbidden.json() == {"message": "Authentication error: not authorized"}
    assert client.get("/api/meta/server").json()["schemaCount"] == 0


def test_private_schemas_need_a_covering_key(client: TestClient, acme: dict[str, str]) -> None:
    """A private com.acme schema is readable with com.acme keys only; others and anonymous see 404."""
    schema = _case("checkout-1-0-0.json")
    _put(client, schema, acme["write"])
    other = client.post("/api/auth/keygen", json={"vendorPrefix": "com.other"}, headers={"apikey": MASTER}).json()
    assert client.get(_path(schema), headers={"apikey": acme["read"]}).status_code == 200
    assert client.get(_path(schema), headers={"apikey": other["read"]}).status_code == 404
    assert client.get(_path(schema)).status_code == 404
    assert client.get("/api/schemas", headers={"apikey": other["read"]}).status_code == 404
    assert client.get(_path(schema), headers={"apikey": UNKNOWN}).status_code == 401


def test_public_schemas_are_readable_without_a_key(client: TestClient, acme: dict[str, str]) -> None:
    """isPublic=true schemas are served to anonymous callers and to other vendors' keys."""
    schema = _case("checkout-1-0-0.json")
    assert _put(client, schema, acme["write"], public=True).status_code == 201
    assert client.get(_path(schema)).json() == schema
    assert client.get("/api/schemas").json() == ["iglu:com.acme/checkout/jsonschema/1-0-0"]


def test_sub_vendor_is_covered_and_lookalike_is_not(client: TestClient, acme: dict[str, str]) -> None:
    """A com.acme write key publishes com.acme.web schemas but not com.acmex ones."""
    assert _put(client, _for_vendor(_case("checkout-1-0-0.json"), "com.acme.web"), acme["write"]).status_code == 201
    assert _put(client, _for_vendor(_case("checkout-1-0-0.json"), "com.acmex"), acme["write"]).status_code == 403


def test_key_management_needs_the_master_key(client: TestClient, acme: dict[str, str]) -> None:
    """Only the master key creates or revokes keys; a revoked key gets 401 at once."""
    assert (
        client.post(
            "/api/auth/keygen", json={"vendorPrefix": "com.acme"}, headers={"apikey": acme["write"]}
        ).status_code
        == 403
    )
    assert client.post("/api/auth/keygen", json={"vendorPrefix": "com.acme"}).status_code == 403
    assert client.post("/api/auth/keygen", json={}, headers={"apikey": MASTER}).status_code == 400
    assert (
        client.delete("/api/auth/keygen", params={"key": acme["read"]}, headers={"apikey": acme["write"]}).status_code
        == 403
    )
    revoked = client.delete("/api/auth/keygen", params={"key": acme["read"]}, headers={"apikey": MASTER})
    assert revoked.status_code == 200
    assert client.get("/api/schemas", headers={"apikey": acme["read"]}).status_code == 401
    by_header = client.delete("/api/auth/keygen", headers={"apikey": MASTER, "key": acme["write"]})
    assert by_header.status_code == 200
    assert client.delete("/api/auth/keygen", headers={"apikey": MASTER, "key": acme["write"]}).status_code == 404


def test_delete_schema_only_in_dev_mode(store: SchemaStore, acme: dict[str, str], client: TestClient) -> None:
    """DELETE is 405 in production, 403 without the master key, and works with it in development mode."""
    schema = _case("checkout-1-0-0.json")
    _put(client, schema, acme["write"])
    assert client.delete(_path(schema), headers={"apikey": acme["write"]}).status_code == 403
    assert client.delete(_path(schema), headers={"apikey": MASTER}).status_code == 405
    with TestClient(create_app(store, master_key=MASTER, dev_mode=True)) as dev:
        assert dev.delete(_path(schema), headers={"apikey": MASTER}).status_code == 200
        assert dev.get(_path(schema), headers={"apikey": MASTER}).status_code == 404


def test_dev_mode_allows_updates(store: SchemaStore) -> None:
    """With patches allowed, PUT over an existing version answers 200 'Schema updated'."""
    with TestClient(create_app(store, master_key=MASTER, dev_mode=True)) as dev:
        schema = _case("checkout-1-0-0.json")
        assert _put(dev, schema, MASTER).status_code == 201
        again = _put(dev, {**schema, "description": "patched"}, MASTER)
        assert (again.status_code, again.json()["message"], again.json()["updated"]) == (200, "Schema updated", True)


def test_validation_endpoints(client: TestClient, acme: dict[str, str]) -> None:
    """Lint endpoint returns the report; instance endpoint validates SDJ data against a stored schema it may read."""
    good = client.post("/api/validation/validate/schema/jsonschema", content=orjson.dumps(_case("checkout-1-0-0.json")))
    assert good.status_code == 200 and isinstance(good.json()["report"], list)
    bad = client.post("/api/validation/validate/schema/jsonschema", content=b'{"type": "object"}')
    assert bad.status_code == 400
    _put(client, _case("checkout-1-0-0.json"), acme["write"])
    instance = {"schema": "iglu:com.acme/checkout/jsonschema/1-0-0", "data": {"order_id": "o1", "total": 3}}
    headers = {"apikey": acme["read"]}
    assert client.post("/api/validation/validate/instance", json=instance, headers=headers).json()["valid"] is True
    broken = {**instance, "data": {"order_id": "o1"}}
    response = client.post("/api/validation/validate/instance", json=broken, headers=headers)
    assert response.status_code == 400 and response.json()["valid"] is False
    assert client.post("/api/validation/validate/instance", json=instance).status_code == 404
    assert client.post("/api/validation/validate/instance", json={"nope": 1}, headers=headers).status_code == 400


def test_invalid_json_body_is_400(client: TestClient, acme: dict[str, str]) -> None:
    """A body that is not JSON is a 400, not a crash."""
    response = client.put(
        "/api/schemas/com.acme/checkout/jsonschema/1-0-0", content=b"{not json", headers={"apikey": acme["write"]}
    )
    assert response.status_code == 400


def test_resolver_sees_a_schema_published_while_it_runs(tmp_path: Path) -> None:
    """Real uvicorn: a resolver pointed at the API finds a schema published after a miss once its TTL passes."""
    from registry.resolver import Resolver, SchemaNotFound

    store = open_store(tmp_path / "live")
    with running(create_app(store, master_key=MASTER)) as base:
        pair = httpx.post(
            f"{base}/api/auth/keygen", json={"vendorPrefix": "com.acme"}, headers={"apikey": MASTER}
        ).json()
        resolver = Resolver.from_locations(f"{base}/api", cache_ttl=1, api_key=pair["read"])
        key = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-0")
        with pytest.raises(SchemaNotFound):
            resolver.lookup(key)
        schema = _case("checkout-1-0-0.json")
        put = httpx.put(f"{base}{_path(schema)}", content=orjson.dumps(schema), headers={"apikey": pair["write"]})
        assert put.status_code == 201
        with pytest.raises(SchemaNotFound):
            resolver.lookup(key)  # the cached miss is still fresh
        time.sleep(1.2)
        assert resolver.lookup(key) == schema
        assert resolver.list_versions("com.acme", "checkout", 1) == [key]
        resolver.close()
