"""Every iglu-central schema resolves through each repository kind, and each kind tells not-found from failure.

Servers are real: `python -m http.server` for an Iglu static repo, a small threaded HTTP server
that speaks Iglu Server's read API (`/api/schemas/...`, `apikey` header, 404 when the key does not
cover the schema) and fake-gcs-server for `gs://` static repos.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from core.errors import IgluParseError
from core.iglu import SchemaKey, SchemaVer
from core.locations import BUNDLED_SCHEMAS
from registry.repositories import EMBEDDED_CLASS, REMOTE_CLASS, RepoFailure
from registry.repositories.gcs import GcsRepository
from registry.repositories.http import HttpRepository
from registry.repositories.local import LocalRepository
from registry.resolver import Resolver

CASES = Path(__file__).resolve().parents[1] / "cases" / "iglu-central"
API_KEY = "6f0b1a36-8f9e-4d59-a8a1-3c3b3f6f9b21"


def reference_files() -> dict[SchemaKey, Path]:
    """Every iglu-central schema in the repo: schemas/ plus tests/cases/iglu-central/schemas/."""
    found: dict[SchemaKey, Path] = {}
    for root in (BUNDLED_SCHEMAS, CASES / "schemas"):
        for path in root.rglob("*"):
            if path.is_file() and not path.name.startswith("LICENSE"):
                found[SchemaKey.parse_path("/".join(path.parts[-4:]))] = path
    return found


REFERENCE = reference_files()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


@pytest.fixture(scope="module")
def static_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Iglu static repo folder (`<root>/schemas/...`) with every reference schema and igluctl-style lists."""
    root = tmp_path_factory.mktemp("static-repo")
    for key, path in REFERENCE.items():
        target = root / "schemas" / key.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    by_model: dict[tuple[str, str, int], list[SchemaKey]] = {}
    for key in REFERENCE:
        if key.format == "jsonschema":
            by_model.setdefault((key.vendor, key.name, key.version.model), []).append(key)
    for (vendor, name, model), keys in by_model.items():
        listing = [k.uri for k in sorted(keys, key=lambda k: k.version)]
        (root / "schemas" / vendor / name / "jsonschema" / str(model)).write_bytes(orjson.dumps(listing))
    return root


@pytest.fixture(scope="module")
def static_server(static_tree: Path) -> Iterator[str]:
    """`python -m http.server` serving the static tree, in its own process group."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(static_tree)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


class IgluApiHandler(BaseHTTPRequestHandler):
    """Iglu Server's read endpoints over the static tree; `mode` switches to failure behaviours."""

    tree: Path
    mode = "ok"
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        if self.mode == "500":
            return self._send(500, b'{"message":"boom"}')
        if self.mode == "garbage":
            return self._send(200, b"<html>not json")
        if self.mode == "401":
            return self._send(401, b'{"message":"Authentication error: invalid API key"}')
        prefix = "/api/schemas/"
        if not self.path.startswith(prefix) or self.headers.get("apikey") != API_KEY:
            return self._send(404, b'{"message":"The schema is not found"}')
        file = self.tree / "schemas" / self.path[len(prefix) :].partition("?")[0]
        if not file.is_file():
            return self._send(404, b'{"message":"The schema is not found"}')
        return self._send(200, file.read_bytes())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def iglu_api(static_tree: Path) -> Iterator[type[IgluApiHandler]]:
    """A threaded Iglu-Server-style API on a free port; yields the handler class (its `base`, `mode`, `requests`)."""
    handler = type("Handler", (IgluApiHandler,), {"tree": static_tree, "requests": [], "mode": "ok"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    handler.base = f"http://127.0.0.1:{server.server_address[1]}/api"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def assert_serves_every_reference_schema(repository: Any) -> None:
    for key, path in REFERENCE.items():
        assert repository.fetch(key) == orjson.loads(path.read_bytes()), key.uri


def test_local_folder_serves_every_reference_schema(static_tree: Path) -> None:
    """A local folder in static layout (given with or without its `schemas` folder) returns each schema."""
    assert_serves_every_reference_schema(LocalRepository(static_tree))
    assert_serves_every_reference_schema(LocalRepository(static_tree / "schemas"))


def test_http_static_repo_serves_every_reference_schema(static_server: str) -> None:
    """An Iglu static repo over real HTTP returns each schema; a missing one is a definitive not-found."""
    repository = HttpRepository(static_server)
    assert_serves_every_reference_schema(repository)
    assert repository.fetch(SchemaKey.parse("iglu:com.acme/nothing/jsonschema/1-0-0")) is None
    repository.close()


def test_iglu_server_api_serves_every_reference_schema_with_apikey(iglu_api: Any) -> None:
    """An Iglu-Server-style API returns each schema when the `apikey` header is sent, and not-found without it."""
    with_key = HttpRepository(iglu_api.base, apikey=API_KEY)
    assert with_key.is_server_api
    assert_serves_every_reference_schema(with_key)
    without_key = HttpRepository(iglu_api.base)
    some_key = next(iter(REFERENCE))
    assert without_key.fetch(some_key) is None
    assert all(path.startswith("/api/schemas/") for path in iglu_api.requests)
    with_key.close()
    without_key.close()


def test_gcs_static_repo_serves_every_reference_schema(gcs_emulator: Any, gcs_bucket: str) -> None:
    """A `gs://bucket/prefix` static repo on fake-gcs-server returns each schema and lists versions per model."""
    bucket = gcs_emulator.client().bucket(gcs_bucket)
    for key, path in REFERENCE.items():
        bucket.blob(f"iglu/repo/schemas/{key.path}").upload_from_filename(str(path))
    repository = GcsRepository(gcs_bucket, "iglu/repo")
    assert_serves_every_reference_schema(repository)
    assert repository.fetch(SchemaKey.parse("iglu:com.acme/nothing/jsonschema/1-0-0")) is None
    versions = repository.list_versions("com.snowplowanalytics.snowplow", "payload_data", 1)
    assert sorted(str(k.version) for k in versions or []) == ["1-0-0", "1-0-1", "1-0-2", "1-0-3", "1-0-4"]


@pytest.mark.parametrize("kind", ["local", "http", "api", "gs"])
def test_resolver_resolves_every_reference_schema_through_each_kind(
    kind: str, static_tree: Path, static_server: str, iglu_api: Any, request: pytest.FixtureRequest
) -> None:
    """Resolver.from_locations accepts each location form and resolves the whole reference set through it."""
    if kind == "gs":
        emulator = request.getfixturevalue("gcs_emulator")
        bucket_name = emulator.create_bucket("iglu")
        bucket = emulator.client().bucket(bucket_name)
        for key, path in REFERENCE.items():
            bucket.blob(f"schemas/{key.path}").upload_from_filename(str(path))
        location = f"gs://{bucket_name}"
    else:
        location = {"local": str(static_tree), "http": static_server, "api": iglu_api.base}[kind]
    resolver = Resolver.from_locations(location, api_key=API_KEY if kind == "api" else None)
    for key, path in REFERENCE.items():
        assert resolver.lookup(key) == orjson.loads(path.read_bytes()), key.uri
    resolver.close()


def test_list_versions_from_static_lists_and_folders(static_tree: Path, static_server: str) -> None:
    """Version lists come from igluctl's `<model>` list files over HTTP and from the folder locally."""
    expected = [
        SchemaKey("com.snowplowanalytics.snowplow", "mobile_context", "jsonschema", SchemaVer(1, 0, a))
        for a in range(4)
    ]
    http = HttpRepository(static_server)
    assert http.list_versions("com.snowplowanalytics.snowplow", "mobile_context", 1) == expected
    assert http.list_versions("com.acme", "nothing", 1) is None
    local = LocalRepository(static_tree)
    assert sorted(local.list_versions("com.snowplowanalytics.snowplow", "mobile_context", 1) or []) == expected
    assert local.list_versions("com.acme", "nothing", 1) == []
    http.close()


@pytest.mark.parametrize(
    ("mode", "kind"), [("500", "RepoFailure"), ("garbage", "RepoFailure"), ("401", "ClientFailure")]
)
def test_http_errors_are_failures_not_verdicts(iglu_api: Any, mode: str, kind: str) -> None:
    """5xx, non-JSON bodies and refused keys raise RepoFailure (retry), never a not-found."""
    iglu_api.mode = mode
    repository = HttpRepository(iglu_api.base, apikey=API_KEY)
    with pytest.raises(RepoFailure) as caught:
        repository.fetch(next(iter(REFERENCE)))
    assert caught.value.kind == kind
    assert caught.value.to_json()["error"] == kind
    repository.close()


def test_unreachable_http_repo_is_a_failure() -> None:
    """A connection refused is a RepoFailure naming the URL."""
    repository = HttpRepository(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RepoFailure, match=r"127\.0\.0\.1"):
        repository.fetch(next(iter(REFERENCE)))
    repository.close()


def test_unreachable_gcs_is_a_failure() -> None:
    """A storage endpoint that does not answer is a RepoFailure, not a not-found."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project="x",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": f"http://127.0.0.1:{free_port()}"},
    )
    repository = GcsRepository("bucket", "prefix", client=client)
    with pytest.raises(RepoFailure):
        repository.fetch(next(iter(REFERENCE)))


def test_local_repo_rejects_unreadable_schema_files(tmp_path: Path) -> None:
    """A schema file that is not a JSON object is a RepoFailure (the registry is broken), not a not-found."""
    key = SchemaKey.parse("iglu:com.acme/broken/jsonschema/1-0-0")
    file = tmp_path / key.path
    file.parent.mkdir(parents=True)
    file.write_text("{not json")
    with pytest.raises(RepoFailure):
        LocalRepository(tmp_path).fetch(key)
    file.write_text("[1, 2]")
    with pytest.raises(RepoFailure):
        LocalRepository(tmp_path).fetch(key)


def test_repository_kinds_carry_iglu_class_priorities(tmp_path: Path) -> None:
    """Local folders rank as Iglu's embedded class (2), HTTP and gs:// as remote (100)."""
    assert LocalRepository(tmp_path).class_priority == EMBEDDED_CLASS == 2
    assert HttpRepository("http://x").class_priority == REMOTE_CLASS == 100
    assert GcsRepository("b").class_priority == REMOTE_CLASS


def test_reference_set_is_complete() -> None:
    """Every file of the iglu-central copy's MANIFEST (98) is in schemas/ or in tests/cases/iglu-central."""
    manifest = (CASES / "MANIFEST").read_text().split()
    assert len(manifest) == 98
    keys = {SchemaKey.parse_path(line.removeprefix("schemas/")) for line in manifest}
    assert keys <= set(REFERENCE)
    with pytest.raises(IgluParseError):
        SchemaKey.parse_path("not/a/path")
