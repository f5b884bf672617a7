"""The resolver chain: Iglu's lookup order, LRU + TTL caching of hits and misses, outages, configs, supersession."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.errors import ConfigError, RegistryUnavailable
from core.iglu import SchemaKey
from core.locations import BUNDLED_SCHEMAS
from registry.repositories.http import HttpRepository
from registry.repositories.local import LocalRepository
from registry.resolver import Resolver, SchemaNotFound
from registry.resolver_config import parse_locations
from registry.validation import Validator

ACME = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-0")
OTHER = SchemaKey.parse("iglu:com.other/thing/jsonschema/1-0-0")


def write_schema(root: Path, key: SchemaKey, description: str = "", **extra: Any) -> dict[str, Any]:
    """Publish a small self-describing schema into a static-layout folder and return it."""
    schema = {
        "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
        "description": description,
        "self": {"vendor": key.vendor, "name": key.name, "format": key.format, "version": str(key.version)},
        "type": "object",
        "properties": {"id": {"type": "string", "maxLength": 10}},
        **extra,
    }
    file = root / key.path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(orjson.dumps(schema))
    return schema


class Clock:
    """A settable monotonic clock so TTL expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FolderServer:
    """A real threaded HTTP server over a folder (an Iglu static repo) that logs paths and can fail on demand."""

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        self.fail = False
        owner = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                if owner.fail:
                    self.send_error(503)
                    return
                super().do_GET()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, FolderServer]]:
    """A folder `<tmp>/http` served over HTTP as a static repo (schemas under `/schemas`)."""
    root = tmp_path / "http"
    (root / "schemas").mkdir(parents=True)
    server = FolderServer(root)
    try:
        yield root / "schemas", server
    finally:
        server.stop()


def test_local_repositories_come_before_http_whatever_their_priority(
    tmp_path: Path, served: tuple[Path, FolderServer]
) -> None:
    """Iglu's class priority: an embedded/local repo is tried before an HTTP one even with a worse priority."""
    http_root, server = served
    write_schema(http_root, ACME, "http")
    write_schema(tmp_path / "local", ACME, "local")
    resolver = Resolver(
        [HttpRepository(server.url, priority=0), LocalRepository(tmp_path / "local", priority=9)], cache_ttl=None
    )
    assert resolver.lookup(ACME)["description"] == "local"
    assert server.requests == []


def test_vendor_prefix_match_comes_first(tmp_path: Path, served: tuple[Path, FolderServer]) -> None:
    """A repository whose vendorPrefixes match the key's vendor is tried before every other one."""
    http_root, server = served
    write_schema(http_root, ACME, "http")
    write_schema(tmp_path / "local", ACME, "local")
    http = HttpRepository(server.url, vendor_prefixes=("com.acme",))
    resolver = Resolver([LocalRepository(tmp_path / "local"), http], cache_ttl=None)
    assert resolver.lookup(ACME)["description"] == "http"
    assert [r.name for r in resolver.ordered_for("com.other")] == [resolver.repositories[0].name, http.name]


def test_priority_orders_repositories_of_the_same_class(tmp_path: Path) -> None:
    """Among local repositories the lower `priority` wins; from_locations gives list order as priority."""
    write_schema(tmp_path / "a", ACME, "a")
    write_schema(tmp_path / "b", ACME, "b")
    reordered = Resolver(
        [LocalRepository(tmp_path / "a", priority=5), LocalRepository(tmp_path / "b", priority=1)], cache_ttl=None
    )
    assert reordered.lookup(ACME)["description"] == "b"
    assert Resolver.from_locations([str(tmp_path / "a"), str(tmp_path / "b")]).lookup(ACME)["description"] == "a"


def test_not_found_is_cached_until_the_ttl_then_a_new_schema_is_seen(tmp_path: Path) -> None:
    """A miss is remembered for cache_ttl seconds; a schema published meanwhile is used once the TTL passes."""
    clock = Clock()
    resolver = Resolver([LocalRepository(tmp_path)], cache_ttl=60, clock=clock)
    with pytest.raises(SchemaNotFound) as first:
        resolver.lookup(ACME)
    write_schema(tmp_path, ACME, "published later")
    clock.now += 59
    with pytest.raises(SchemaNotFound):
        resolver.lookup(ACME)
    clock.now += 2
    assert resolver.lookup(ACME)["description"] == "published later"
    history = first.value.to_json()["lookupHistory"]
    assert history[0]["errors"] == [{"error": "NotFound"}] and history[0]["attempts"] == 1


def test_repeated_misses_count_attempts(tmp_path: Path) -> None:
    """Each re-lookup after expiry adds an attempt to the repository's lookup history, as Iglu reports."""
    clock = Clock()
    resolver = Resolver([LocalRepository(tmp_path, name="Local")], cache_ttl=1, clock=clock)
    for _ in range(3):
        with pytest.raises(SchemaNotFound) as caught:
            resolver.lookup(ACME)
        clock.now += 2
    entry = caught.value.to_json()["lookupHistory"][0]
    assert entry["repository"] == "Local" and entry["attempts"] == 3
    assert entry["lastAttempt"].endswith("Z")


def test_without_ttl_entries_live_until_invalidated(tmp_path: Path) -> None:
    """cache_ttl=None keeps hits and misses forever (Iglu without cacheTtl); invalidate() forgets them."""
    clock = Clock()
    resolver = Resolver([LocalRepository(tmp_path)], cache_ttl=None, clock=clock)
    with pytest.raises(SchemaNotFound):
        resolver.lookup(ACME)
    write_schema(tmp_path, ACME, "v1")
    clock.now += 10**9
    with pytest.raises(SchemaNotFound):
        resolver.lookup(ACME)
    resolver.invalidate(ACME)
    assert resolver.lookup(ACME)["description"] == "v1"
    write_schema(tmp_path, ACME, "v2")
    assert resolver.lookup(ACME)["description"] == "v1"
    resolver.invalidate()
    assert resolver.lookup(ACME)["description"] == "v2"


def test_cache_is_bounded_lru(served: tuple[Path, FolderServer]) -> None:
    """With cache_size=2, a third key evicts the least recently used one, which is fetched again."""
    root, server = served
    keys = [SchemaKey.parse(f"iglu:com.acme/e{i}/jsonschema/1-0-0") for i in range(3)]
    for key in keys:
        write_schema(root, key)
    resolver = Resolver([HttpRepository(server.url)], cache_size=2, cache_ttl=None)
    resolver.lookup(keys[0])
    resolver.lookup(keys[1])
    resolver.lookup(keys[0])  # keys[1] is now the least recently used
    resolver.lookup(keys[2])
    assert len(server.requests) == 3
    resolver.lookup(keys[0])
    assert len(server.requests) == 3
    resolver.lookup(keys[1])
    assert len(server.requests) == 4


def test_outage_is_registry_unavailable_and_never_cached(tmp_path: Path, served: tuple[Path, FolderServer]) -> None:
    """Not found locally and the HTTP repo failing = RegistryUnavailable (retry), and the next call asks again."""
    root, server = served
    write_schema(root, ACME, "remote")
    server.fail = True
    resolver = Resolver([LocalRepository(tmp_path / "empty"), HttpRepository(server.url)], cache_ttl=600)
    with pytest.raises(RegistryUnavailable, match="503"):
        resolver.lookup(ACME)
    server.fail = False
    assert resolver.lookup(ACME)["description"] == "remote"


def test_a_failing_repository_does_not_hide_a_schema_found_elsewhere(
    tmp_path: Path, served: tuple[Path, FolderServer]
) -> None:
    """One repository failing while a later one has the schema is a success."""
    _, server = served
    server.fail = True
    write_schema(tmp_path / "local", ACME, "found")
    http = HttpRepository(server.url, vendor_prefixes=("com.acme",))
    resolver = Resolver([http, LocalRepository(tmp_path / "local")])
    assert resolver.lookup(ACME)["description"] == "found"
    assert server.requests  # the failing repository was tried first


def test_resolution_error_fits_the_schema_violations_bad_row() -> None:
    """SchemaNotFound.to_json() is a valid IgluError inside a schema_violations 2-0-1 bad row."""
    resolver = Resolver.from_locations(str(BUNDLED_SCHEMAS))
    with pytest.raises(SchemaNotFound) as caught:
        resolver.lookup(ACME)
    bad_row = {
        "processor": {"artifact": "eventkit", "version": "0.1.0"},
        "failure": {
            "timestamp": "2026-01-01T00:00:00.000Z",
            "messages": [{"schemaKey": ACME.uri, "error": caught.value.to_json()}],
        },
        "payload": {
            "enriched": {},
            "raw": {
                "vendor": "v",
                "version": "tp2",
                "parameters": [],
                "loaderName": "c",
                "encoding": "UTF-8",
                "headers": [],
            },
        },
    }
    key = SchemaKey.parse("iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1")
    schema = resolver.lookup(key)
    failure_schema = {**schema, "properties": {"failure": schema["properties"]["failure"]}, "required": ["failure"]}
    from registry.schema_compiler import compile_schema

    compiled = compile_schema(failure_schema, resolver.lookup)
    assert list(compiled.full.iter_errors({"failure": bad_row["failure"]})) == []


def test_superseded_schema_resolves_to_its_successor(tmp_path: Path) -> None:
    """`$supersededBy` leads resolve() to the greater version; the original key is kept."""
    old = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-2")
    new = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-3")
    write_schema(tmp_path, old, "old", **{"$supersededBy": "1-0-3"})
    write_schema(tmp_path, new, "new")
    resolution = Resolver.from_locations(str(tmp_path)).resolve(old)
    assert (resolution.key, resolution.original, resolution.superseded) == (new, old, True)
    assert resolution.schema["description"] == "new"


def test_superseded_by_a_lower_version_is_a_client_failure(tmp_path: Path) -> None:
    """`$supersededBy` naming a version that is not greater is Iglu's ClientFailure, reported as SchemaNotFound."""
    key = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-2")
    write_schema(tmp_path, key, "old", **{"$supersededBy": "1-0-1"})
    with pytest.raises(SchemaNotFound) as caught:
        Resolver([LocalRepository(tmp_path, name="Local")]).resolve(key)
    entry = caught.value.to_json()["lookupHistory"][0]
    assert entry["repository"] == "Local" and entry["errors"][0]["error"] == "ClientFailure"


def config(version: str, repositories: list[dict[str, Any]], **data: Any) -> dict[str, Any]:
    return {
        "schema": f"iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/{version}",
        "data": {"cacheSize": 50, "repositories": repositories, **data},
    }


@pytest.mark.parametrize(("version", "ttl"), [("1-0-0", None), ("1-0-1", None), ("1-0-2", 30), ("1-0-3", 0)])
def test_resolver_config_versions_are_accepted(tmp_path: Path, version: str, ttl: int | None) -> None:
    """Iglu resolver-config 1-0-0 … 1-0-3 builds a working resolver with its cacheSize and cacheTtl."""
    write_schema(tmp_path, ACME, "embedded")
    extra = {} if version in ("1-0-0", "1-0-1") else {"cacheTtl": ttl}
    http: dict[str, Any] = {"uri": "http://127.0.0.1:9/iglu"}
    if version != "1-0-0":
        http["apikey"] = "secret"
    repos = [
        {
            "name": "Local",
            "priority": 0,
            "vendorPrefixes": ["com.acme"],
            "connection": {"embedded": {"path": str(tmp_path)}},
        },
        {"name": "Remote", "priority": 1, "vendorPrefixes": [], "connection": {"http": http}},
    ]
    resolver = Resolver.from_config(config(version, repos, **extra))
    assert (resolver.cache_size, resolver.cache_ttl) == (50, ttl)
    assert resolver.lookup(ACME)["description"] == "embedded"
    assert [r.name for r in resolver.repositories] == ["Local", "Remote"]


@pytest.mark.parametrize(
    "bad",
    [
        config("1-0-3", [{"name": "x", "priority": 0, "vendorPrefixes": [], "connection": {}}]),
        config("1-0-3", [{"name": "x", "priority": 0, "connection": {"embedded": {"path": "/x"}}}]),
        config("2-0-0", []),
        {"data": {}},
        config(
            "1-0-0", [{"name": "x", "priority": 0, "vendorPrefixes": [], "connection": {"http": {"uri": "ftp://x"}}}]
        ),
    ],
)
def test_invalid_resolver_configs_are_config_errors(bad: dict[str, Any]) -> None:
    """A config that breaks its schema, has an unknown version or an unsupported URI is a ConfigError."""
    with pytest.raises(ConfigError, match=r"resolver config|registry"):
        Resolver.from_config(bad)


def test_config_file_as_location_with_relative_embedded_path(tmp_path: Path) -> None:
    """A resolver-config JSON file is a location; its relative embedded path is taken from the file's folder."""
    write_schema(tmp_path / "iglu-client-embedded" / "schemas", ACME, "from config")
    repos = [
        {
            "name": "Embedded",
            "priority": 0,
            "vendorPrefixes": [],
            "connection": {"embedded": {"path": "iglu-client-embedded"}},
        }
    ]
    file = tmp_path / "resolver.json"
    file.write_bytes(orjson.dumps(config("1-0-1", repos)))
    assert Resolver.from_locations(str(file)).lookup(ACME)["description"] == "from config"


def test_location_forms() -> None:
    """Folders, file://, http(s):// (static or /api with the api key), gs:// and comma lists are all accepted."""
    specs = parse_locations(
        [f"file://{BUNDLED_SCHEMAS}", "https://iglu.acme.com/api,gs://bucket/iglu", str(BUNDLED_SCHEMAS)], api_key="k"
    )
    assert [(s.kind, s.priority) for s in specs] == [("local", 0), ("http", 1), ("gs", 2), ("local", 3)]
    assert specs[1].apikey == "k" and specs[1].location == "https://iglu.acme.com/api"
    for bad in ("/no/such/folder", "ftp://x/y", ""):
        with pytest.raises(ConfigError):
            parse_locations(bad)


def test_list_versions_merges_repositories_in_ascending_order(
    tmp_path: Path, served: tuple[Path, FolderServer]
) -> None:
    """Versions of one model come from every repository, merged and ascending; an unanswered list is an outage."""
    root, server = served
    for version in ("1-0-0", "1-1-0"):
        write_schema(tmp_path, SchemaKey.parse(f"iglu:com.acme/checkout/jsonschema/{version}"))
    write_schema(tmp_path, SchemaKey.parse("iglu:com.acme/checkout/jsonschema/2-0-0"))
    listing = ["iglu:com.acme/checkout/jsonschema/1-0-1", "iglu:com.acme/checkout/jsonschema/1-0-0"]
    (root / "com.acme" / "checkout" / "jsonschema").mkdir(parents=True)
    (root / "com.acme" / "checkout" / "jsonschema" / "1").write_bytes(orjson.dumps(listing))
    resolver = Resolver([LocalRepository(tmp_path), HttpRepository(server.url)], cache_ttl=None)
    assert [str(k.version) for k in resolver.list_versions("com.acme", "checkout", 1)] == ["1-0-0", "1-0-1", "1-1-0"]
    server.fail = True
    with pytest.raises(RegistryUnavailable):
        Resolver([LocalRepository(tmp_path), HttpRepository(server.url)]).list_versions("com.acme", "checkout", 1)


def test_concurrent_lookups_are_consistent(tmp_path: Path) -> None:
    """Many threads looking up many keys through a small cache always get the right schema and no errors."""
    keys = [SchemaKey.parse(f"iglu:com.acme/e{i}/jsonschema/1-0-0") for i in range(20)]
    for key in keys:
        write_schema(tmp_path, key, key.name)
    resolver = Resolver([LocalRepository(tmp_path)], cache_size=5, cache_ttl=0.001)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(300):
                key = keys[(i + offset) % len(keys)]
                assert resolver.lookup(key)["description"] == key.name
        except BaseException as e:  # collected and re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_invalidate_reaches_compiled_validators(tmp_path: Path) -> None:
    """After invalidate(key) a changed schema is fetched again and the validator recompiles from it."""
    write_schema(tmp_path, ACME, "v1")
    resolver = Resolver([LocalRepository(tmp_path)], cache_ttl=None)
    validator = Validator(resolver)
    assert validator.is_valid(ACME, {"id": "x" * 10})
    write_schema(tmp_path, ACME, "v2", properties={"id": {"type": "string", "maxLength": 5}})
    assert validator.is_valid(ACME, {"id": "x" * 10})
    resolver.invalidate(ACME)
    assert not validator.is_valid(ACME, {"id": "x" * 10})


def test_with_bundled_schemas_appends_the_bundled_folder_once(tmp_path: Path) -> None:
    """Composition roots get Snowplow's bundled schemas after theirs, never twice, URLs left alone."""
    from core.locations import BUNDLED_SCHEMAS
    from registry.resolver import with_bundled_schemas

    bundled = str(BUNDLED_SCHEMAS.resolve())
    assert with_bundled_schemas(f"{tmp_path}, http://r.example/api") == f"{tmp_path},http://r.example/api,{bundled}"
    assert (
        with_bundled_schemas(f"{BUNDLED_SCHEMAS}/../schemas,{tmp_path}") == f"{BUNDLED_SCHEMAS}/../schemas,{tmp_path}"
    )


def test_enrich_over_a_team_registry_still_resolves_snowplow_schemas(tmp_path: Path) -> None:
    """`eventkit enrich --registry DIR` validates payload_data and standard contexts without copying them."""
    from enrich.cli import build_enrich
    from enrich.outcome import Good
    from tests.raw_records import raw_record

    (tmp_path / "com.acme").mkdir()
    enrich, resolver = build_enrich(str(tmp_path), None)
    body = (
        '{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",'
        '"data":[{"e":"pv","p":"web","tv":"t","url":"https://a.example/"}]}'
    )
    payload = raw_record(content_type="application/json", body=body, timestamp=1_700_000_000_000)
    [outcome] = enrich(payload.encode(), 1_700_000_000_500)
    assert isinstance(outcome, Good)
    resolver.close()
