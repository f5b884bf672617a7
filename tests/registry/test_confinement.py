"""Registry confinement: no schema part is `.`/`..`, and no registry file is read or written outside its root."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from core.errors import IgluParseError
from core.iglu import SchemaKey, SchemaVer
from core.paths import OutsideRoot, contained
from registry.api import create_app
from registry.repositories.local import LocalRepository
from registry.resolver import Resolver
from registry.store import SchemaMeta, open_store
from tests.registry.registry_server import running

MASTER = "0f4b3c57-6c1d-4a44-9d2e-1d5f7b0e8c11"


def _schema(vendor: str, name: str = "p11", version: str = "1-0-0") -> dict[str, Any]:
    return {
        "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
        "self": {"vendor": vendor, "name": name, "format": "jsonschema", "version": version},
        "description": "planted",
        "type": "object",
        "properties": {"x": {"type": "string", "maxLength": 4}},
        "additionalProperties": False,
    }


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """Real uvicorn over a registry in tmp/sandbox/registry, with a write key for every vendor (`*`)."""
    root = tmp_path / "sandbox" / "registry"
    with running(create_app(open_store(root), master_key=MASTER)) as base:
        pair = httpx.post(f"{base}/api/auth/keygen", json={"vendorPrefix": "*"}, headers={"apikey": MASTER}).json()
        yield base, pair, tmp_path / "sandbox"


def _raw(base: str, method: str, target: str, body: bytes = b"", apikey: str | None = None) -> tuple[int, bytes]:
    """Send `method target` exactly as written (no client-side dot-segment removal or re-encoding)."""
    host, port = base.removeprefix("http://").split(":")
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
    if apikey:
        head += f"apikey: {apikey}\r\n"
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), rest


@pytest.mark.parametrize("vendor", ["..", ".", "%2e%2e", "%2E%2e", ".meta"])
def test_put_with_a_dot_vendor_is_400_and_writes_nothing(served: tuple[str, dict[str, str], Path], vendor: str) -> None:
    """A `*` write key's PUT to a `..`/`.`/percent-encoded/dot-led vendor is 400 naming the vendor; no file made."""
    base, pair, sandbox = served
    before = _files(sandbox)
    body = _schema("com.acme")
    target = f"/api/schemas/{vendor}/p11/jsonschema/1-0-0"
    status, answer = _raw(base, "PUT", target, orjson.dumps(body), apikey=pair["write"])
    assert status == 400, answer
    message = orjson.loads(answer)["message"]
    assert "vendor" in message and "never '.' or '..'" in message
    assert _files(sandbox) == before


@pytest.mark.parametrize("vendor", ["..", ".", "...", ".meta"])
def test_post_with_a_dot_vendor_in_self_is_400_with_the_reason(
    served: tuple[str, dict[str, str], Path], vendor: str
) -> None:
    """POST /api/schemas whose `self.vendor` is dots (or dot-led) is refused with a report naming the vendor."""
    base, pair, sandbox = served
    before = _files(sandbox)
    response = httpx.post(
        f"{base}/api/schemas", content=orjson.dumps(_schema(vendor)), headers={"apikey": pair["write"]}
    )
    assert response.status_code == 400
    messages = " ".join(item["message"] for item in response.json()["report"])
    assert f"vendor {vendor!r} must be" in messages
    assert _files(sandbox) == before
    assert not (sandbox / "p11").exists()


@pytest.mark.parametrize(
    "target",
    [
        "/api/schemas/%2e%2e/p11/jsonschema/1-0-0",
        "/api/schemas/../p11/jsonschema/1-0-0",
        "/api/schemas/com.acme/%2e%2e/jsonschema/1-0-0",
        "/api/schemas/com.acme/p11/%2e/1-0-0",
        "/api/schemas/%2e%2e/p11",
        "/api/schemas/%2e%2e",
    ],
)
def test_reads_through_dot_segments_are_400(served: tuple[str, dict[str, str], Path], target: str) -> None:
    """A GET whose vendor, name or format is `.`/`..` (raw or percent-encoded) answers 400 with the reason."""
    base, pair, sandbox = served
    (sandbox / "p11" / "jsonschema").mkdir(parents=True)
    (sandbox / "p11" / "jsonschema" / "1-0-0").write_bytes(orjson.dumps(_schema("com.acme")))
    status, body = _raw(base, "GET", target, apikey=pair["read"])
    assert status == 400, (target, body)
    assert "must be" in orjson.loads(body)["message"]


def test_keygen_refuses_a_dot_vendor_prefix(served: tuple[str, dict[str, str], Path]) -> None:
    """A key cannot be scoped to `..` or a dot-led vendor prefix."""
    base, _pair, _sandbox = served
    for prefix in ("..", ".", ".meta"):
        response = httpx.post(f"{base}/api/auth/keygen", json={"vendorPrefix": prefix}, headers={"apikey": MASTER})
        assert response.status_code == 400


def test_store_never_reads_or_writes_outside_its_root(tmp_path: Path) -> None:
    """Names with `..`, absolute names, and a symlinked vendor folder leading out are all refused by the store."""
    outside = tmp_path / "outside"
    (outside / "p11" / "jsonschema").mkdir(parents=True)
    (outside / "p11" / "jsonschema" / "1-0-0").write_bytes(orjson.dumps(_schema("com.evil")))
    store = open_store(tmp_path / "registry")
    for name in ("../outside/p11/jsonschema/1-0-0", "/etc/passwd", "a/../../x", "", "./x"):
        with pytest.raises(OutsideRoot):
            store.blobs.read(name)
        with pytest.raises(OutsideRoot):
            store.blobs.write(name, b"{}", overwrite=True)
    (tmp_path / "registry" / "com.evil").symlink_to(outside, target_is_directory=True)
    key = SchemaKey.parse("iglu:com.evil/p11/jsonschema/1-0-0")
    with pytest.raises(OutsideRoot):
        store.get(key)
    with pytest.raises(OutsideRoot):
        store.put(key, _schema("com.evil"), SchemaMeta(is_public=True), overwrite=True)
    assert key not in store.list_keys()
    assert orjson.loads((outside / "p11" / "jsonschema" / "1-0-0").read_bytes())["self"]["vendor"] == "com.evil"


def test_api_never_serves_a_schema_through_a_symlink_leading_out(tmp_path: Path) -> None:
    """Real uvicorn: a schema reached through a symlink that leaves the registry is neither listed nor served."""
    outside = tmp_path / "outside"
    (outside / "p11" / "jsonschema").mkdir(parents=True)
    (outside / "p11" / "jsonschema" / "1-0-0").write_bytes(orjson.dumps(_schema("com.evil")))
    store = open_store(tmp_path / "registry")
    (tmp_path / "registry" / "com.evil").symlink_to(outside, target_is_directory=True)
    with running(create_app(store, master_key=MASTER)) as base:
        response = httpx.get(f"{base}/api/schemas/com.evil/p11/jsonschema/1-0-0", headers={"apikey": MASTER})
        assert (response.status_code, response.json()) == (404, {"message": "The schema is not found"})
        listing = httpx.get(f"{base}/api/schemas", headers={"apikey": MASTER})
        assert listing.status_code == 404 and "planted" not in listing.text


def test_local_repository_reads_nothing_outside_its_folder(tmp_path: Path) -> None:
    """The resolver's folder repository treats a symlink leading out as not-found and lists no dot vendor."""
    outside = tmp_path / "outside"
    (outside / "p11" / "jsonschema").mkdir(parents=True)
    (outside / "p11" / "jsonschema" / "1-0-0").write_bytes(orjson.dumps(_schema("com.evil")))
    root = tmp_path / "registry"
    root.mkdir()
    (root / "com.evil").symlink_to(outside, target_is_directory=True)
    repository = LocalRepository(root)
    assert repository.fetch(SchemaKey.parse("iglu:com.evil/p11/jsonschema/1-0-0")) is None
    assert repository.list_versions("..", "outside", 1) == []
    assert repository.list_versions("com.evil", "p11", 1) == []
    resolver = Resolver([repository])
    with pytest.raises(IgluParseError, match=r"vendor '\.\.'"):
        resolver.list_versions("..", "p11", 1)


def test_events_naming_a_dot_vendor_never_reach_a_schema(tmp_path: Path) -> None:
    """`iglu:../p11/jsonschema/1-0-0` is not a schema key, even with a schema planted one level above the registry."""
    from registry.validation import Validator

    (tmp_path / "p11" / "jsonschema").mkdir(parents=True)
    (tmp_path / "p11" / "jsonschema" / "1-0-0").write_bytes(orjson.dumps(_schema("..")))
    (tmp_path / "registry").mkdir()
    with pytest.raises(IgluParseError) as caught:
        SchemaKey.parse("iglu:../p11/jsonschema/1-0-0")
    assert caught.value.code == "INVALID_IGLUURI"
    with pytest.raises(IgluParseError):
        Validator(Resolver([LocalRepository(tmp_path / "registry")])).validate(
            SchemaKey("..", "p11", "jsonschema", SchemaVer(1, 0, 0)), {"x": "y"}
        )


def test_contained_accepts_only_paths_strictly_inside(tmp_path: Path) -> None:
    """contained() returns the resolved path for plain names and refuses the root itself and every escape."""
    root = tmp_path.resolve()
    assert contained(root, "a/b/c") == root / "a" / "b" / "c"
    for name in ("..", ".", "a/..", "a//b", "/a", "a\\..\\b", "a\x00b", ""):
        with pytest.raises(OutsideRoot):
            contained(root, name)


def test_store_for_gcs_refuses_dot_segments() -> None:
    """Object names with `.`/`..` segments are refused before any request, on GCS as on disk."""
    from registry.store import GcsBlobs

    blobs = GcsBlobs("bucket", "prefix", client=_NoClient())
    for name in ("schemas/../p11/jsonschema/1-0-0", "schemas/./x", "../x"):
        with pytest.raises(OutsideRoot):
            blobs.read(name)
        with pytest.raises(OutsideRoot):
            blobs.write(name, b"{}", overwrite=True)


class _NoClient:
    """A storage client stand-in that fails the test if any request is attempted."""

    def bucket(self, name: str) -> Any:
        return self

    def blob(self, name: str) -> Any:
        raise AssertionError(f"no object may be touched: {name}")
