"""Supersession published with `eventkit schema publish` reaches resolvers reading the folder or gs:// layout."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from core.cli import app
from core.iglu import SchemaKey
from core.raw import CollectorPayload
from enrich.outcome import Good
from enrich.pipeline import enrich_payload
from registry.repositories import RepoFailure
from registry.repositories.gcs import GcsRepository
from registry.repositories.local import LocalRepository
from registry.resolver import Resolver
from registry.store import SchemaMeta, open_store
from registry.validation import Validator
from tests.enrich.pipeline_env import REPO_ROOT, make_env
from tests.raw_records import raw_record

COMPAT = REPO_ROOT / "tests" / "cases" / "compat"
OLD = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-0")
NEW = SchemaKey.parse("iglu:com.acme/checkout/jsonschema/1-0-1")
runner = CliRunner()


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = orjson.loads((COMPAT / name).read_bytes())
    return schema


def _publish_superseding(registry: Path, tmp_path: Path) -> None:
    """1-0-0, then 1-0-1 declaring `"$supersedes": ["1-0-0"]`, both through the CLI."""
    first = runner.invoke(app, ["schema", "publish", str(COMPAT / "checkout-1-0-0.json"), "--registry", str(registry)])
    assert first.exit_code == 0, first.output
    successor = tmp_path / "checkout-1-0-1.json"
    successor.write_bytes(orjson.dumps({**_schema("checkout-addition.json"), "$supersedes": ["1-0-0"]}))
    second = runner.invoke(app, ["schema", "publish", str(successor), "--registry", str(registry)])
    assert second.exit_code == 0, second.output


def _checkout_event(data: dict[str, Any]) -> CollectorPayload:
    """A tp1 self-describing event declaring checkout 1-0-0."""
    unstruct = {
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": OLD.uri, "data": data},
    }
    params = {"e": "ue", "p": "web", "tv": "js-4.10.1", "url": "https://shop.example/", "ue_pr": json.dumps(unstruct)}
    return raw_record(
        version="tp1",
        querystring=tuple(params.items()),
        collector="eventkit-test-collector",
        hostname="collector.example.com",
        timestamp=1_795_690_796_000,
    )


def test_cli_published_supersession_is_followed_by_a_resolver_over_the_folder(tmp_path: Path) -> None:
    """An event declaring 1-0-0 that only 1-0-1 accepts is good, rewritten to 1-0-1, with validation_info."""
    registry = tmp_path / "registry"
    _publish_superseding(registry, tmp_path)
    assert "$supersededBy" not in orjson.loads((registry / OLD.path).read_bytes())  # the file stays as published
    resolver = Resolver.from_locations([str(REPO_ROOT / "schemas"), str(registry)])
    env = make_env(validator=Validator(resolver, max_depth=50))
    data = {"order_id": "o-1", "total": 3, "currency": "EUR"}  # currency: unknown to 1-0-0 (additionalProperties)
    plain = tmp_path / "plain"  # the same folder without its sidecar: 1-0-0 alone rejects the event
    shutil.copytree(registry, plain, ignore=shutil.ignore_patterns(".meta"))
    assert not Validator(Resolver.from_locations([str(plain)]), max_depth=50).validate(OLD, data).ok
    (outcome,) = enrich_payload(_checkout_event(data), env)
    assert isinstance(outcome, Good), outcome
    event = outcome.event
    assert json.loads(event.unstruct_event or "")["data"] == {"schema": NEW.uri, "data": data}
    assert event.event_version == "1-0-1"
    assert json.loads(event.derived_contexts or "")["data"] == [
        {
            "schema": "iglu:com.snowplowanalytics.iglu/validation_info/jsonschema/1-0-0",
            "data": {"originalSchema": OLD.uri, "validatedWith": "1-0-1"},
        }
    ]


def test_local_repository_serves_the_sidecar_as_superseded_by(tmp_path: Path) -> None:
    """The folder repository adds `$supersededBy` from `.meta/`; the successor itself is served unchanged."""
    registry = tmp_path / "registry"
    _publish_superseding(registry, tmp_path)
    repository = LocalRepository(registry)
    old = repository.fetch(OLD)
    assert old is not None and old["$supersededBy"] == "1-0-1"
    assert {k: v for k, v in old.items() if k != "$supersededBy"} == _schema("checkout-1-0-0.json")
    new = repository.fetch(NEW)
    assert new is not None and "$supersededBy" not in new and new["$supersedes"] == ["1-0-0"]
    resolution = Resolver([repository]).resolve(OLD)
    assert (resolution.key, resolution.original, resolution.superseded) == (NEW, OLD, True)


def test_hand_written_superseded_by_wins_over_the_sidecar(tmp_path: Path) -> None:
    """A `$supersededBy` written into the old file by hand is kept; a sidecar without one changes nothing."""
    store = open_store(tmp_path)
    hand = copy.deepcopy(_schema("checkout-1-0-0.json"))
    hand["$supersededBy"] = "1-0-2"
    store.put(OLD, hand, SchemaMeta(superseded_by="1-0-1"))
    store.put(NEW, _schema("checkout-addition.json"), SchemaMeta())
    repository = LocalRepository(tmp_path)
    assert repository.fetch(OLD) == hand
    assert repository.fetch(NEW) == _schema("checkout-addition.json")


def test_plain_static_folder_without_sidecar_reads_unchanged(tmp_path: Path) -> None:
    """An Iglu static repo with no `.meta/` serves its files exactly as they are."""
    file = tmp_path / "schemas" / OLD.path
    file.parent.mkdir(parents=True)
    file.write_bytes(orjson.dumps(_schema("checkout-1-0-0.json")))
    assert LocalRepository(tmp_path).fetch(OLD) == _schema("checkout-1-0-0.json")


def test_an_unreadable_sidecar_is_a_repository_failure(tmp_path: Path) -> None:
    """A sidecar that is not JSON leaves the repository unable to answer (RepoFailure), not silently unsuperseded."""
    store = open_store(tmp_path)
    store.put(OLD, _schema("checkout-1-0-0.json"), SchemaMeta())
    (tmp_path / ".meta" / "schemas" / f"{OLD.path}.json").write_bytes(b"{not json")
    with pytest.raises(RepoFailure, match="not JSON"):
        LocalRepository(tmp_path).fetch(OLD)


def test_gcs_repository_serves_the_sidecar_as_superseded_by(gcs_bucket: str) -> None:
    """A gs:// registry written by the store (fake-gcs-server) is read with supersession by GcsRepository."""
    store = open_store(f"gs://{gcs_bucket}/iglu")
    store.put(OLD, _schema("checkout-1-0-0.json"), SchemaMeta(superseded_by="1-0-1"))
    store.put(NEW, {**_schema("checkout-addition.json"), "$supersedes": ["1-0-0"]}, SchemaMeta(supersedes=["1-0-0"]))
    repository = GcsRepository(gcs_bucket, "iglu")
    old = repository.fetch(OLD)
    assert old == {**_schema("checkout-1-0-0.json"), "$supersededBy": "1-0-1"}
    new = repository.fetch(NEW)
    assert new is not None and "$supersededBy" not in new
    resolution = Resolver([repository]).resolve(OLD)
    assert (resolution.key, resolution.superseded) == (NEW, True)
    plain = GcsRepository(gcs_bucket, "elsewhere")  # no sidecar and no schema under this prefix
    assert plain.fetch(OLD) is None
