"""Schema store contract on a local folder and fake-gcs-server: static layout, create-only, sidecar metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from core.errors import ConfigError, ObjectExists
from core.iglu import SchemaKey
from registry.store import SchemaMeta, SchemaStore, open_store

KEY = SchemaKey.parse("iglu:com.acme/event/jsonschema/1-0-0")
SCHEMA = {"self": {"vendor": "com.acme", "name": "event", "format": "jsonschema", "version": "1-0-0"}, "type": "object"}


@pytest.fixture(params=["local", "gcs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SchemaStore]:
    if request.param == "local":
        yield open_store(tmp_path / "registry")
    else:
        bucket = request.getfixturevalue("gcs_bucket")
        yield open_store(f"gs://{bucket}/iglu")


def test_put_is_create_only(store: SchemaStore) -> None:
    """A second write of the same version raises ObjectExists and leaves the first in place."""
    store.put(KEY, SCHEMA, SchemaMeta(is_public=True))
    with pytest.raises(ObjectExists):
        store.put(KEY, {**SCHEMA, "type": "string"}, SchemaMeta())
    assert store.get(KEY) == SCHEMA


def test_overwrite_is_explicit(store: SchemaStore) -> None:
    """With overwrite (development mode) the write replaces the schema."""
    store.put(KEY, SCHEMA, SchemaMeta())
    store.put(KEY, {**SCHEMA, "type": "string"}, SchemaMeta(), overwrite=True)
    stored = store.get(KEY)
    assert stored is not None and stored["type"] == "string"


def test_listing_sees_only_schema_versions(store: SchemaStore) -> None:
    """list_keys returns the published versions, not sidecar metadata or key records."""
    store.put(KEY, SCHEMA, SchemaMeta())
    later = SchemaKey.parse("iglu:com.acme/event/jsonschema/1-0-1")
    store.put(later, SCHEMA, SchemaMeta())
    store.put_key_record("abc", {"id": "abc", "hash": "x", "salt": "y"})
    assert store.list_keys() == [KEY, later]


def test_metadata_lives_in_a_sidecar(store: SchemaStore) -> None:
    """isPublic and $supersededBy are kept beside the schema; the stored schema file stays as published."""
    store.put(KEY, SCHEMA, SchemaMeta(is_public=False))
    meta = store.meta(KEY)
    meta.superseded_by = "1-0-1"
    store.put_meta(KEY, meta)
    assert store.get(KEY) == SCHEMA
    assert store.render(KEY) == {**SCHEMA, "$supersededBy": "1-0-1"}
    assert store.meta(KEY).is_public is False


def test_missing_schema_is_none(store: SchemaStore) -> None:
    """Reading an unpublished version answers None."""
    assert store.get(KEY) is None and store.render(KEY) is None


def test_local_layout_is_plain_iglu_static(tmp_path: Path) -> None:
    """A local store writes vendor/name/format/version files a static resolver reads as they are."""
    store = open_store(tmp_path)
    store.put(KEY, SCHEMA, SchemaMeta())
    assert orjson.loads((tmp_path / KEY.path).read_bytes()) == SCHEMA
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


def test_hand_placed_schemas_count_as_public(tmp_path: Path) -> None:
    """A schema copied into the folder without a sidecar is public, as any static repository is."""
    (tmp_path / KEY.path).parent.mkdir(parents=True)
    (tmp_path / KEY.path).write_bytes(orjson.dumps(SCHEMA))
    assert open_store(tmp_path).meta(KEY).is_public is True


def test_unsupported_locations_are_config_errors() -> None:
    """An http URL or a bucketless gs:// URL is refused with the accepted forms."""
    for location in ("http://example.com/api", "gs://"):
        with pytest.raises(ConfigError, match="accepted forms"):
            open_store(location)
