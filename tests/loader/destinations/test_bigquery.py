"""What only the BigQuery destination has: its URL, the emulator switch, the table's BigQuery shape, dataset
creation (or not), names BigQuery cannot hold, unreachable BigQuery, and `eventkit load` on the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as api_errors

from core.errors import ConfigError, TransientError
from core.lake import LocalLake
from core.lake.gcs import GcsLake
from core.locations import WarehouseLocation, parse_warehouse_url
from loader.columns import FLOAT, INTEGER, JSON, STRING, ListOf, RegistryTyping, StructOf
from loader.destinations import LoadBatch, hold_loader_lock, open_destination, read_quarantine
from loader.destinations.bigquery import BigQueryUnavailable, bigquery_client
from loader.destinations.bigquery_sql import ATOMIC_BIGQUERY_TYPES, compatible, representable
from loader.load import Loader
from tests.loader.pipeline import Pipeline, publish_schema, self_describing_event
from tests.services.bigquery import PROJECT, BigQueryEmulator, FakeGcsOnDisk
from tests.services.processes import free_port

from .test_contract import PERSON_1_0_0, THING_1_0_0, thing, truncated_copy, write


def test_bigquery_urls_parse_with_table_and_location() -> None:
    """bigquery://PROJECT/DATASET takes an optional table (default `events`) and dataset location."""
    assert parse_warehouse_url("bigquery://my-project/snowplow") == WarehouseLocation(
        "bigquery", "bigquery://my-project/snowplow", project="my-project", dataset="snowplow"
    )
    parsed = parse_warehouse_url("bigquery://my-project/snowplow?table=atomic_events&location=EU")
    assert (parsed.table, parsed.location) == ("atomic_events", "EU")


@pytest.mark.parametrize(
    "url",
    [
        "bigquery://my-project",  # no dataset
        "bigquery:///snowplow",  # no project
        "bigquery://My_Project/snowplow",  # not a project id
        "bigquery://my-project/snow-plow",  # not a dataset name
        "bigquery://my-project/a/b",  # a path, not a dataset
        "bigquery://my-project/snowplow?table=1events",  # not a table name
        "bigquery://my-project/snowplow?table=_eventkit_manifest",  # our bookkeeping
        "bigquery://my-project/snowplow?tabel=events",  # a typo
    ],
)
def test_bad_bigquery_urls_are_one_config_error_naming_the_forms(url: str) -> None:
    """A malformed bigquery:// URL is a ConfigError naming the key and the accepted forms."""
    with pytest.raises(ConfigError, match=r"^loader\.warehouse: .*accepted forms: .*bigquery://PROJECT/DATASET"):
        parse_warehouse_url(url, key="loader.warehouse")


def test_the_emulator_host_gets_a_scheme_and_anonymous_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """BIGQUERY_EMULATOR_HOST=host:port (as users set it) points the client at http://host:port, anonymously."""
    from google.auth.credentials import AnonymousCredentials

    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "127.0.0.1:9050")
    client = bigquery_client(parse_warehouse_url("bigquery://my-project/snowplow"))
    try:
        assert client._connection.API_BASE_URL == "http://127.0.0.1:9050"
        assert isinstance(client._credentials, AnonymousCredentials)
    finally:
        client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here


def test_types_bigquery_cannot_hold_become_json_and_only_appended_fields_are_compatible() -> None:
    """Field names BigQuery refuses (or that clash ignoring case) and lists of lists are kept as JSON text;
    a record may only gain fields at its end in place."""
    assert representable(StructOf((("user-id", STRING),))) == JSON
    assert representable(StructOf((("Id", STRING), ("id", STRING)))) == JSON
    assert representable(ListOf(ListOf(INTEGER))) == ListOf(JSON)
    assert representable(StructOf((("ok", ListOf(StructOf((("@type", STRING),)))),))) == StructOf(
        (("ok", ListOf(JSON)),)
    )
    before = StructOf((("a", STRING),))
    assert compatible(before, StructOf((("a", STRING), ("b", INTEGER))))
    assert not compatible(before, StructOf((("b", INTEGER), ("a", STRING))))
    assert not compatible(StructOf((("a", INTEGER),)), StructOf((("a", JSON),)))
    assert compatible(StructOf((("a", STRING),)), StructOf((("a", JSON),)))  # both STRING in BigQuery


def test_the_events_table_has_bigquery_types_partitioning_and_clustering(bigquery_dataset: str) -> None:
    """A new warehouse creates the dataset and an events table of the 131 atomic columns with BigQuery types,
    partitioned by DATE(collector_tstamp) and clustered by event_name."""
    destination = open_destination(bigquery_dataset, wait_s=5.0)
    destination.close()
    location = parse_warehouse_url(bigquery_dataset)
    client = bigquery_client(location)
    try:
        table = client.get_table(f"{location.project}.{location.dataset}.events")
    finally:
        client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here
    assert [(f.name, f.field_type) for f in table.schema] == list(ATOMIC_BIGQUERY_TYPES.items())
    assert len(table.schema) == 131
    assert ATOMIC_BIGQUERY_TYPES["collector_tstamp"] == "TIMESTAMP"
    assert ATOMIC_BIGQUERY_TYPES["tr_total"] == "NUMERIC"
    assert table.time_partitioning.field == "collector_tstamp"
    assert table.clustering_fields == ["event_name"]


def test_without_create_a_missing_dataset_is_a_config_error_and_nothing_is_made(bigquery_dataset: str) -> None:
    """create=False refuses a dataset that does not exist, naming it, and creates nothing."""
    with pytest.raises(ConfigError, match=r"BigQuery dataset '.*' does not exist"):
        open_destination(bigquery_dataset, wait_s=5.0, create=False)
    location = parse_warehouse_url(bigquery_dataset)
    client = bigquery_client(location)
    try:
        with pytest.raises(api_errors.NotFound):
            client.get_dataset(f"{location.project}.{location.dataset}")
    finally:
        client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here


def test_an_unreachable_bigquery_is_a_transient_error_after_bounded_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody listening at the endpoint: retried with backoff for about `wait_s`, then BigQueryUnavailable
    (a TransientError the loader retries), never a hang."""
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(BigQueryUnavailable, match="BigQuery could not read the dataset") as failed:
        open_destination(f"bigquery://{PROJECT}/nowhere", wait_s=1.0)
    assert isinstance(failed.value, TransientError)
    assert time.monotonic() - started < 30


def _unwrapped(text: str) -> str:
    return "".join(text.split())


def _eventkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ),
    )


def test_eventkit_load_into_bigquery_on_the_emulator(
    tmp_path: Path, bigquery_emulator: BigQueryEmulator, bigquery_dataset: str
) -> None:
    """`eventkit load --warehouse bigquery://…` loads the lake's events once (exit 0, one summary line), a second
    run loads nothing, and `--no-create` on a missing dataset exits 2 with one error line."""
    registry = tmp_path / "registry"
    publish_schema(registry, THING_1_0_0)
    publish_schema(registry, PERSON_1_0_0)
    pipeline = Pipeline(LocalLake(tmp_path / "lake"), registry)
    write(pipeline, [thing("a", people=("p-1",)), thing("b")])
    common = ["--lake", str(tmp_path / "lake"), "--registry", str(registry)]
    first = _eventkit("load", *common, "--warehouse", bigquery_dataset)
    assert first.returncode == 0, first.stderr
    summary = f"loaded 2 rows from 1 files (0 duplicates skipped) into {bigquery_dataset}; new columns: " + (
        "contexts_com_acme_contract_person_1, unstruct_event_com_acme_contract_thing_1"
    )
    assert _unwrapped(summary) in _unwrapped(first.stderr)  # the console wraps long lines anywhere
    assert json.loads(first.stdout)["rows_loaded"] == 2  # the report for machines
    again = _eventkit("load", *common, "--warehouse", bigquery_dataset)
    assert again.returncode == 0, again.stderr
    assert "loaded 0 rows from 0 files" in again.stderr
    assert json.loads(again.stdout)["files"] == 0
    missing = f"bigquery://{PROJECT}/never_made"
    refused = _eventkit("load", *common, "--warehouse", missing, "--no-create")
    assert refused.returncode == 2, refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: warehouse: BigQuery dataset '{PROJECT}.never_made' does not exist (and creating it was turned off)"
    ]
    assert "Traceback" not in refused.stderr


def test_a_type_bigquery_cannot_widen_in_place_starts_a_recovery_column(tmp_path: Path, bigquery_dataset: str) -> None:
    """INTEGER → FLOAT across versions cannot be altered in place: the model's new rows go to a recovery column
    of the widened type (reported as added), the old column keeps its rows, and nothing fails."""
    registry = tmp_path / "registry"
    score = "iglu:com.acme/score/jsonschema/{}"
    publish_schema(registry, _score_schema("1-0-0", "integer"))
    pipeline = Pipeline(LocalLake(tmp_path / "lake"), registry)
    typing = RegistryTyping(pipeline.resolver())
    destination = open_destination(bigquery_dataset, wait_s=5.0)
    try:
        old = write(pipeline, [self_describing_event(score.format("1-0-0"), {"n": 3}, eid=str(uuid.uuid4()))])
        destination.load(LoadBatch(pipeline.lake, (old,)), typing)
        publish_schema(registry, _score_schema("1-0-1", "number"))
        new = write(pipeline, [self_describing_event(score.format("1-0-1"), {"n": 1.5}, eid=str(uuid.uuid4()))])
        report = destination.load(LoadBatch(pipeline.lake, (new,)), RegistryTyping(pipeline.resolver()))
        (recovery,) = report.columns_added
        assert recovery.startswith("unstruct_event_com_acme_score_1_recovered_")
        columns = destination.columns()
        assert columns["unstruct_event_com_acme_score_1"].type == StructOf((("n", INTEGER),))
        assert columns[recovery].type == StructOf((("n", FLOAT),))
    finally:
        destination.close()
    rows = _rows(bigquery_dataset)
    values = [(r["unstruct_event_com_acme_score_1"] or {}).get("n") or (r[recovery] or {}).get("n") for r in rows]
    assert sorted(v for v in values if v is not None) == [1.5, 3]
    assert None not in values
    assert [r[recovery] for r in rows if r["unstruct_event_com_acme_score_1"]] == [None]


def _score_schema(version: str, kind: str) -> dict[str, Any]:
    return {
        "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
        "self": {"vendor": "com.acme", "name": "score", "format": "jsonschema", "version": version},
        "type": "object",
        "properties": {"n": {"type": kind}},
        "additionalProperties": False,
    }


def _rows(url: str) -> list[dict[str, Any]]:
    location = parse_warehouse_url(url)
    client = bigquery_client(location)
    try:
        table = f"{location.project}.{location.dataset}.{location.table}"
        return [dict(row.items()) for row in client.query(f"SELECT * FROM `{table}`").result()]
    finally:
        client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here


def test_a_gcs_lake_loads_by_load_job_over_exact_uris_once(
    tmp_path: Path, gcs_on_disk: FakeGcsOnDisk, bigquery_dataset: str
) -> None:
    """A gs:// lake is staged by a load job over each file's exact URI (the emulator reads them from the same
    storage fake-gcs-server writes): every event once, the manifest names each file, a rerun loads nothing,
    and a truncated object is quarantined by the loader while the rest loads."""
    bucket = gcs_on_disk.create_bucket()
    lake = GcsLake(bucket, "events", client=gcs_on_disk.client(), timeout=10.0)
    registry = tmp_path / "registry"
    publish_schema(registry, THING_1_0_0)
    publish_schema(registry, PERSON_1_0_0)
    pipeline = Pipeline(lake, registry)
    a, b = thing("a", people=("p-1",)), thing("b")
    first = write(pipeline, [a, b])
    second = write(pipeline, [b, thing("c")])  # b redelivered
    truncated = truncated_copy(pipeline, first)
    loader = Loader(lake, bigquery_dataset, pipeline.resolver(), lock_wait_s=10.0)
    report = loader.load()
    assert [q.file for q in report.quarantined] == [truncated]
    assert (report.files, report.rows_read, report.rows_loaded) == (2, 4, 3)
    rows = _rows(bigquery_dataset)
    labels = sorted(r["unstruct_event_com_acme_contract_thing_1"]["label"] for r in rows)
    assert labels == ["a", "b", "c"]
    assert [p["id"] for r in rows for p in r["contexts_com_acme_contract_person_1"]] == ["p-1"]
    again = loader.load()
    assert (again.files, again.rows_loaded, again.skipped_quarantined) == (0, 0, 1)
    destination = open_destination(bigquery_dataset, wait_s=5.0)
    try:
        assert destination.loaded_files() == {first, second}
    finally:
        destination.close()


def test_one_loader_per_bigquery_table_on_this_machine(tmp_path: Path) -> None:
    """A second loader of the same table is refused naming the first; another table of the dataset is not."""
    from core.process_lock import Locked

    url = "bigquery://my-project/snowplow"
    with hold_loader_lock(url, url, "load"):
        with pytest.raises(Locked, match="another eventkit is using"):
            hold_loader_lock(url, url, "load")
        with hold_loader_lock(f"{url}?table=other_events", url, "load"):
            pass


def test_the_quarantine_of_a_dataset_not_made_yet_is_empty_and_creates_nothing(bigquery_dataset: str) -> None:
    """Listing the quarantine (as `eventkit bad` does) of a dataset no load has made is [] and makes nothing."""
    assert read_quarantine(bigquery_dataset) == []
    location = parse_warehouse_url(bigquery_dataset)
    client = bigquery_client(location)
    try:
        with pytest.raises(api_errors.NotFound):
            client.get_dataset(f"{location.project}.{location.dataset}")
    finally:
        client.close()  # type: ignore[no-untyped-call]  # google-cloud-core lacks hints here
