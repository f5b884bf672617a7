"""The destination contract, proved against every implementation: tables from the models seen, additions in
place, each file and each event exactly once, duplicates counted, unreadable files quarantined and named.

Files are real good Parquet files written by the real enrich pipeline into a real lake folder; the
tests talk to the warehouse only through the port (and read rows back with the fixture's reader).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from core.errors import TransientError
from core.lake import Lake
from core.lake.parquet import read_parquet
from loader.columns import INTEGER, STRING, TIMESTAMP, ListOf, RegistryTyping, StructOf
from loader.destinations import Destination, LoadBatch, QuarantinedFile, read_quarantine
from loader.load import Loader
from tests.loader.pipeline import Pipeline, get_payload, publish_schema, self_describing_event

from .conftest import WarehouseUnderTest

THING = "iglu:com.acme/contract_thing/jsonschema/{}"
PERSON = "iglu:com.acme/contract_person/jsonschema/1-0-0"
THING_COLUMN = "unstruct_event_com_acme_contract_thing_1"
PERSON_COLUMN = "contexts_com_acme_contract_person_1"


def _schema(name: str, version: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#",
        "self": {"vendor": "com.acme", "name": name, "format": "jsonschema", "version": version},
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


THING_1_0_0 = _schema(
    "contract_thing", "1-0-0", {"label": {"type": "string"}, "at": {"type": "string", "format": "date-time"}}
)
# An ADDITION: 1-0-0 plus one optional field.
THING_1_0_1 = _schema(
    "contract_thing",
    "1-0-1",
    {"label": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "count": {"type": "integer"}},
)
PERSON_1_0_0 = _schema("contract_person", "1-0-0", {"id": {"type": "string"}})


@pytest.fixture
def pipeline(tmp_path: Path, lake: Lake) -> Pipeline:
    """The real enrich pipeline writing into the `lake` fixture, with the contract's schemas published."""
    registry = tmp_path / "registry"
    publish_schema(registry, THING_1_0_0)
    publish_schema(registry, PERSON_1_0_0)
    return Pipeline(lake, registry)


def write(pipeline: Pipeline, events: list[dict[str, str]]) -> str:
    """One good Parquet file holding `events` (tracker parameters); its name in the lake."""
    before = set(pipeline.lake.list("good/"))
    good, bad = pipeline.run([get_payload(e) for e in events])
    assert (good, bad) == (len(events), 0)
    (name,) = set(pipeline.lake.list("good/")) - before
    return name


def thing(
    label: str, *, eid: str | None = None, count: int | None = None, people: tuple[str, ...] = ()
) -> dict[str, str]:
    """Tracker parameters of one contract_thing event (1-0-1 when it has a count), with person contexts."""
    data: dict[str, Any] = {"label": label, "at": "2026-11-26T10:00:00.250Z"}
    version = "1-0-0"
    if count is not None:
        data["count"] = count
        version = "1-0-1"
    contexts = [(PERSON, {"id": p}) for p in people]
    return self_describing_event(THING.format(version), data, contexts=contexts, eid=eid or str(uuid.uuid4()))


def load(destination: Destination, pipeline: Pipeline, *files: str) -> dict[str, Any]:
    report = destination.load(LoadBatch(pipeline.lake, files), RegistryTyping(pipeline.resolver()))
    return report.to_json()


def test_the_table_is_created_with_one_typed_column_per_model_seen(
    warehouse: WarehouseUnderTest, pipeline: Pipeline
) -> None:
    """A first batch creates the events table, one record column per unstruct model and one repeated record
    column per context model, typed from the schema, and fills them."""
    destination = warehouse.open()
    assert isinstance(destination, Destination)
    assert destination.columns() == {}
    eid = str(uuid.uuid4())
    name = write(pipeline, [thing("first", eid=eid, people=("p-1", "p-2"))])
    report = load(destination, pipeline, name)
    assert report["files"] == 1
    assert (report["rows_read"], report["rows_loaded"], report["duplicates"]) == (1, 1, 0)
    assert sorted(report["columns_added"]) == [PERSON_COLUMN, THING_COLUMN]
    assert report["columns_widened"] == []
    columns = destination.columns()
    assert columns[THING_COLUMN].type == StructOf((("label", STRING), ("at", TIMESTAMP)))
    assert columns[THING_COLUMN].kind == "unstruct_event"
    assert columns[PERSON_COLUMN].type == ListOf(StructOf((("id", STRING),)))
    assert columns[PERSON_COLUMN].kind == "contexts"
    assert destination.loaded_files() == {name}
    (row,) = warehouse.events()
    assert row["event_id"] == eid
    assert row["event_name"] == "contract_thing"
    assert row[THING_COLUMN]["label"] == "first"
    assert row[THING_COLUMN]["at"].isoformat().startswith("2026-11-26T10:00:00.250")
    assert [p["id"] for p in row[PERSON_COLUMN]] == ["p-1", "p-2"]


def test_an_addition_adds_a_nullable_field_to_the_same_column(
    warehouse: WarehouseUnderTest, pipeline: Pipeline
) -> None:
    """After a 1-0-1 ADDITION the model's column gains the field (reported as widened, no new column); earlier
    rows read it as null and keep their values."""
    destination = warehouse.open()
    load(destination, pipeline, write(pipeline, [thing("old")]))
    publish_schema(pipeline.registry, THING_1_0_1)
    report = load(destination, pipeline, write(pipeline, [thing("new", count=2)]))
    assert report["columns_added"] == []
    assert report["columns_widened"] == [THING_COLUMN]
    assert destination.columns()[THING_COLUMN].type == StructOf(
        (("label", STRING), ("at", TIMESTAMP), ("count", INTEGER))
    )
    assert sorted((r[THING_COLUMN]["label"], r[THING_COLUMN]["count"]) for r in warehouse.events()) == [
        ("new", 2),
        ("old", None),
    ]
    assert not any(c.endswith("_2") for c in destination.columns())


def test_a_repeated_batch_loads_nothing_twice(warehouse: WarehouseUnderTest, pipeline: Pipeline) -> None:
    """Loading files the manifest already lists reads nothing and inserts nothing."""
    destination = warehouse.open()
    name = write(pipeline, [thing("a"), thing("b")])
    assert load(destination, pipeline, name)["rows_loaded"] == 2
    again = load(destination, pipeline, name)
    assert (again["files"], again["rows_read"], again["rows_loaded"], again["duplicates"]) == (0, 0, 0, 0)
    assert len(warehouse.events()) == 2
    assert destination.loaded_files() == {name}


def test_overlapping_batches_load_each_file_and_each_event_once(
    warehouse: WarehouseUnderTest, pipeline: Pipeline
) -> None:
    """A batch overlapping a loaded one loads only its new files; an event redelivered in a new file is a duplicate."""
    destination = warehouse.open()
    a, b, c = (thing(x) for x in "abc")
    first = write(pipeline, [a, b])
    second = write(pipeline, [b, c])  # b redelivered: same event id, same payload, a later etl_tstamp
    assert load(destination, pipeline, first)["rows_loaded"] == 2
    report = load(destination, pipeline, first, second)
    assert (report["files"], report["rows_read"], report["rows_loaded"], report["duplicates"]) == (1, 2, 1, 1)
    rows = warehouse.events()
    assert sorted(r[THING_COLUMN]["label"] for r in rows) == ["a", "b", "c"]
    assert destination.loaded_files() == {first, second}


def test_duplicates_within_a_batch_are_counted_and_loaded_once(
    warehouse: WarehouseUnderTest, pipeline: Pipeline
) -> None:
    """The same event twice in a file and again in a second file of the same batch loads once, counted twice."""
    destination = warehouse.open()
    a, b = thing("a"), thing("b")
    report = load(destination, pipeline, write(pipeline, [a, b, a]), write(pipeline, [a]))
    assert (report["files"], report["rows_read"], report["rows_loaded"], report["duplicates"]) == (2, 4, 2, 2)
    assert sorted(r[THING_COLUMN]["label"] for r in warehouse.events()) == ["a", "b"]


def test_the_earliest_copy_of_an_event_in_a_batch_wins(warehouse: WarehouseUnderTest, pipeline: Pipeline) -> None:
    """Two copies of one event (a redelivery) in one batch: the one enriched first (earliest etl_tstamp) is
    kept, whatever the order of the batch's files."""
    destination = warehouse.open()
    event = thing("redelivered")
    earlier = write(pipeline, [event])
    later = write(pipeline, [event])
    first_etl, second_etl = (etl_tstamp(pipeline, name) for name in (earlier, later))
    assert first_etl < second_etl
    report = load(destination, pipeline, later, earlier)
    assert (report["rows_read"], report["rows_loaded"], report["duplicates"]) == (2, 1, 1)
    assert [r["etl_tstamp"] for r in warehouse.events()] == [first_etl]


def test_an_unreadable_file_fails_its_batch_whole(warehouse: WarehouseUnderTest, pipeline: Pipeline) -> None:
    """A truncated Parquet file makes the batch fail with an error that is not transient, leaving no rows,
    no columns and no manifest entry; without it the rest loads."""
    destination = warehouse.open()
    good = write(pipeline, [thing("kept")])
    truncated = truncated_copy(pipeline, good)
    with pytest.raises(Exception) as failed:
        load(destination, pipeline, good, truncated)
    assert not isinstance(failed.value, TransientError)
    assert warehouse.events() == []
    assert destination.loaded_files() == set()
    assert destination.columns() == {}
    assert load(destination, pipeline, good)["rows_loaded"] == 1


def test_the_quarantine_names_files_until_they_load(warehouse: WarehouseUnderTest, pipeline: Pipeline) -> None:
    """Quarantined files are listed with their error and signature (a second record replaces the first);
    a file that then loads leaves the quarantine, the others stay."""
    destination = warehouse.open()
    good = write(pipeline, [thing("late")])
    truncated = truncated_copy(pipeline, good)
    destination.quarantine([QuarantinedFile(good, "first error", "1:1"), QuarantinedFile(truncated, "cut short")])
    destination.quarantine([QuarantinedFile(good, "second error", "2:2")])
    assert destination.quarantined() == sorted(
        [QuarantinedFile(good, "second error", "2:2"), QuarantinedFile(truncated, "cut short", None)],
        key=lambda q: q.file,
    )
    load(destination, pipeline, good)
    assert destination.quarantined() == [QuarantinedFile(truncated, "cut short", None)]


def test_the_loader_quarantines_a_truncated_file_names_it_and_loads_the_rest(
    warehouse: WarehouseUnderTest, pipeline: Pipeline
) -> None:
    """Through the loader on this destination: the truncated file is quarantined and named, the rest of its
    batch loads, the next load leaves it alone, and the quarantine can be read without loading."""
    good = write(pipeline, [thing("a"), thing("b")])
    truncated = truncated_copy(pipeline, good)
    loader = Loader(pipeline.lake, warehouse.url, pipeline.resolver(), lock_wait_s=5.0)
    report = loader.load()
    assert [q.file for q in report.quarantined] == [truncated]
    assert report.quarantined[0].error
    assert (report.files, report.rows_loaded) == (1, 2)
    again = loader.load()
    assert (again.files, again.skipped_quarantined, again.quarantined) == (0, 1, [])
    assert [q.file for q in read_quarantine(warehouse.url)] == [truncated]
    assert len(warehouse.events()) == 2


def etl_tstamp(pipeline: Pipeline, name: str) -> datetime:
    """The etl_tstamp of the one event in a good file."""
    (value,) = read_parquet(pipeline.lake.read(name)).column("etl_tstamp").to_pylist()
    assert isinstance(value, datetime)
    return value


def truncated_copy(pipeline: Pipeline, name: str) -> str:
    """A new good file holding the first half of `name`'s bytes (a writer that died mid-file); its name."""
    data = pipeline.lake.read(name)
    cut = name.replace(".parquet", "-cut.parquet")
    pipeline.lake.create(cut, data[: len(data) // 2])
    return cut
