"""Registry privacy: one read rule for every route and every `$ref`, so no vendor reads another's private schema."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from core.iglu import SchemaKey
from registry.api import create_app
from registry.lint import lint_schema
from registry.publish import Publisher
from registry.repositories import PrivateSchema
from registry.repositories.local import LocalRepository
from registry.resolver import Resolver
from registry.store import SchemaStore, open_store
from registry.validation import Validator
from tests.registry.registry_server import running

MASTER = "0f4b3c57-6c1d-4a44-9d2e-1d5f7b0e8c11"
SECRET = "TOPSECRET-PLAN-B"  # the private enum value that must never show up for another vendor
SECRET_KEY = SchemaKey.parse("iglu:com.other/secret/jsonschema/1-0-0")
USER_KEY = SchemaKey.parse("iglu:com.acme/uses_secret/jsonschema/1-0-0")


def _schema(key: SchemaKey, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
        "self": {"vendor": key.vendor, "name": key.name, "format": key.format, "version": str(key.version)},
        "description": f"{key.name} for tests",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }


SECRET_SCHEMA = _schema(SECRET_KEY, {"plan": {"type": "string", "enum": [SECRET]}}, required=["plan"])


def _user_schema(key: SchemaKey = USER_KEY, ref: str = SECRET_KEY.uri) -> dict[str, Any]:
    return _schema(key, {"secret": {"$ref": ref}}, required=["secret"])


def _write_by_hand(root: Path, schema: dict[str, Any]) -> None:
    """Place a schema file without a sidecar, as an operator copying files would (public, no publish checks)."""
    s = schema["self"]
    file = root / s["vendor"] / s["name"] / s["format"] / s["version"]
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(orjson.dumps(schema))


@pytest.fixture
def store(tmp_path: Path) -> SchemaStore:
    """A registry holding com.other's private `secret` schema, published the normal way."""
    registry = open_store(tmp_path / "registry")
    assert Publisher(registry).publish(SECRET_SCHEMA, is_public=False).status == "created"
    return registry


def test_validation_never_resolves_another_vendors_private_schema(store: SchemaStore, tmp_path: Path) -> None:
    """A com.acme schema `$ref`ing com.other's private schema cannot resolve it, and the private enum never leaks."""
    _write_by_hand(tmp_path / "registry", _user_schema())
    validator = Validator(Resolver([LocalRepository(tmp_path / "registry")]))
    result = validator.validate(USER_KEY, {"secret": {"plan": "guess"}})
    assert not result.ok and result.error is not None
    text = orjson.dumps(result.error).decode()
    assert SECRET not in text
    assert f"$ref to {SECRET_KEY.uri} cannot be resolved" in text
    assert not validator.validate(USER_KEY, {"secret": {"plan": SECRET}}).ok  # no oracle for guessing it either


def test_a_vendors_own_private_schema_resolves_through_ref(store: SchemaStore, tmp_path: Path) -> None:
    """A com.other schema may `$ref` com.other's private schema: validation resolves and applies it."""
    own = SchemaKey.parse("iglu:com.other/wrapper/jsonschema/1-0-0")
    assert Publisher(store).publish(_user_schema(own), is_public=False).status == "created"
    validator = Validator(Resolver([LocalRepository(tmp_path / "registry")]))
    assert validator.validate(own, {"secret": {"plan": SECRET}}).ok
    refused = validator.validate(own, {"secret": {"plan": "guess"}})
    assert not refused.ok and SECRET in orjson.dumps(refused.error).decode()  # its own vendor may see it


def test_private_schemas_are_marked_by_every_repository_kind(store: SchemaStore, tmp_path: Path) -> None:
    """Folder and Iglu Server (real uvicorn, `*` read key, repr=meta) repositories both hand out a PrivateSchema."""
    assert isinstance(LocalRepository(tmp_path / "registry").fetch(SECRET_KEY), PrivateSchema)
    public = _schema(SchemaKey.parse("iglu:com.other/open/jsonschema/1-0-0"), {"a": {"type": "integer"}})
    assert Publisher(store).publish(public, is_public=True).status == "created"
    with running(create_app(store, master_key=MASTER)) as base:
        pair = httpx.post(f"{base}/api/auth/keygen", json={"vendorPrefix": "*"}, headers={"apikey": MASTER}).json()
        resolver = Resolver.from_locations(f"{base}/api", api_key=pair["read"])
        fetched = resolver.lookup(SECRET_KEY)
        assert isinstance(fetched, PrivateSchema) and "metadata" not in fetched
        assert fetched["properties"] == SECRET_SCHEMA["properties"]
        opened = resolver.lookup(SchemaKey.parse("iglu:com.other/open/jsonschema/1-0-0"))
        assert not isinstance(opened, PrivateSchema) and "metadata" not in opened
        _write_by_hand(tmp_path / "registry", _user_schema())
        result = Validator(resolver).validate(USER_KEY, {"secret": {"plan": "guess"}})
        assert not result.ok and SECRET not in orjson.dumps(result.error).decode()
        resolver.close()


@pytest.fixture
def api(store: SchemaStore) -> Iterator[tuple[str, dict[str, str], dict[str, str]]]:
    """Real uvicorn over the store, with com.acme and com.other key pairs."""
    with running(create_app(store, master_key=MASTER)) as base:
        keys = [
            httpx.post(f"{base}/api/auth/keygen", json={"vendorPrefix": v}, headers={"apikey": MASTER}).json()
            for v in ("com.acme", "com.other")
        ]
        yield base, keys[0], keys[1]


def _put(base: str, schema: dict[str, Any], apikey: str, public: bool = False) -> httpx.Response:
    s = schema["self"]
    return httpx.put(
        f"{base}/api/schemas/{s['vendor']}/{s['name']}/{s['format']}/{s['version']}",
        content=orjson.dumps(schema),
        headers={"apikey": apikey},
        params={"isPublic": str(public).lower()},
    )


def test_publish_refuses_a_ref_the_key_may_not_read(
    api: tuple[str, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    """A com.acme key cannot publish a schema `$ref`ing com.other's private schema: 400 with the reason, no write."""
    base, acme, _other = api
    response = _put(base, _user_schema(), acme["write"])
    assert response.status_code == 400
    assert f"$ref {SECRET_KEY.uri}: not a schema this API key may read" in response.json()["details"]
    assert not (tmp_path / "registry" / "com.acme").exists()


def test_publish_refuses_a_private_ref_of_another_vendor_even_for_the_master_key(
    api: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    """Even a key that may read everything cannot make com.acme depend on com.other's private schema."""
    base, _acme, _other = api
    response = _put(base, _user_schema(), MASTER)
    assert response.status_code == 400
    assert any("private to com.other" in line for line in response.json()["details"])


def test_publish_follows_refs_through_public_schemas(
    api: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    """A public com.other schema that `$ref`s the private one does not launder it for com.acme."""
    base, acme, other = api
    bridge_key = SchemaKey.parse("iglu:com.other/bridge/jsonschema/1-0-0")
    assert _put(base, _user_schema(bridge_key), other["write"], public=True).status_code == 201
    response = _put(base, _user_schema(ref=bridge_key.uri), acme["write"])
    assert response.status_code == 400
    assert (
        f"$ref {SECRET_KEY.uri} (through {bridge_key.uri}): not a schema this API key may read"
        in (response.json()["details"])
    )


def test_publish_accepts_public_and_same_vendor_refs(api: tuple[str, dict[str, str], dict[str, str]]) -> None:
    """Refs to public schemas of any vendor and to the vendor's own private schemas publish normally."""
    base, acme, other = api
    open_key = SchemaKey.parse("iglu:com.other/open/jsonschema/1-0-0")
    assert _put(base, _schema(open_key, {"a": {"type": "integer"}}), other["write"], public=True).status_code == 201
    assert _put(base, _user_schema(ref=open_key.uri), acme["write"]).status_code == 201
    own = SchemaKey.parse("iglu:com.other/wrapper/jsonschema/1-0-0")
    assert _put(base, _user_schema(own), other["write"]).status_code == 201


def test_one_read_rule_for_api_routes(api: tuple[str, dict[str, str], dict[str, str]]) -> None:
    """The private schema is 404 anonymously and for com.acme on every /api read route, 200 for com.other."""
    base, acme, other = api
    path = f"/api/schemas/{SECRET_KEY.path}"
    for headers in ({}, {"apikey": acme["read"]}):
        assert httpx.get(f"{base}{path}", headers=headers).status_code == 404
        assert httpx.get(f"{base}/api/schemas/com.other", headers=headers).status_code == 404
        instance = {"schema": SECRET_KEY.uri, "data": {"plan": "guess"}}
        validated = httpx.post(f"{base}/api/validation/validate/instance", json=instance, headers=headers)
        assert validated.status_code == 404 and SECRET not in validated.text
    assert httpx.get(f"{base}{path}", headers={"apikey": other["read"]}).json()["properties"]["plan"]["enum"] == [
        SECRET
    ]


@pytest.mark.parametrize(
    "ref",
    [
        "http://127.0.0.1:9/schema.json#",
        "https://example.com/schemas/x.json",
        "file:///etc/passwd",
        "other.json",
        "iglu:../p11/jsonschema/1-0-0",
    ],
)
def test_lint_refuses_refs_validation_would_never_resolve(ref: str) -> None:
    """http(s)://, file://, relative and invalid iglu: `$ref`s are a non-skippable refResolvable ERROR with a reason."""
    findings = [f for f in lint_schema(_user_schema(ref=ref)) if f.check == "refResolvable"]
    assert [(f.level, f.pointer) for f in findings] == [("ERROR", "/properties/secret/$ref")]
    assert ref in findings[0].message
    if ref.startswith(("http", "file")):
        assert "never fetched" in findings[0].message


def test_lint_accepts_local_iglu_and_meta_schema_refs() -> None:
    """`#/definitions/...`, `iglu:` keys (with fragments) and the draft-04 meta-schema are resolvable refs."""
    for ref in ("#/definitions/a", f"{SECRET_KEY.uri}#/properties/plan", "http://json-schema.org/draft-04/schema#"):
        schema = _user_schema(ref=ref)
        schema["definitions"] = {"a": {"type": "string"}}
        assert [f for f in lint_schema(schema) if f.check == "refResolvable"] == []


@pytest.fixture
def tripwire() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server recording every request: a `$ref` pointing here must never reach it."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"type": "string"}')

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_api_refuses_http_refs_at_publish_and_never_fetches(
    api: tuple[str, dict[str, str], dict[str, str]], tripwire: tuple[str, list[str]], tmp_path: Path
) -> None:
    """PUT of a schema with an http `$ref` is 400 naming it; a hand-placed one is never fetched by validate-instance."""
    base, acme, _other = api
    url, seen = tripwire
    schema = _user_schema(ref=f"{url}/schema.json#")
    response = _put(base, schema, acme["write"], public=True)
    assert response.status_code == 400
    assert any(item["check"] == "refResolvable" and url in item["message"] for item in response.json()["report"])
    _write_by_hand(tmp_path / "registry", schema)
    instance = {"schema": USER_KEY.uri, "data": {"secret": "x"}}
    validated = httpx.post(f"{base}/api/validation/validate/instance", json=instance, headers={"apikey": acme["read"]})
    assert validated.status_code == 400 and "outside the registry" in validated.text
    assert seen == []


def test_cli_publish_and_lint_refuse_http_refs(tmp_path: Path, tripwire: tuple[str, list[str]]) -> None:
    """`eventkit schema lint` exits 1 and `schema publish` refuses (exit 1) a file with an http `$ref`, saying why."""
    url, seen = tripwire
    file = tmp_path / "src" / USER_KEY.path
    file.parent.mkdir(parents=True)
    file.write_bytes(orjson.dumps(_user_schema(ref=f"{url}/schema.json#")))
    cli = [sys.executable, "-c", "from core.cli import main; main()", "schema"]
    lint = subprocess.run([*cli, "lint", str(file)], check=False, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 1, lint.stdout + lint.stderr
    assert "refResolvable" in lint.stdout and "never fetched" in lint.stdout
    publish = subprocess.run(
        [*cli, "publish", str(file), "--registry", str(tmp_path / "registry")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert publish.returncode == 1, publish.stdout + publish.stderr
    assert "invalid" in publish.stdout and "never fetched" in publish.stdout
    assert not (tmp_path / "registry" / "com.acme").exists()
    assert seen == []
