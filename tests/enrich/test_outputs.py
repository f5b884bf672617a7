"""Enrich outputs: Parquet / TSV encoders, the rolling cutter, the lake writer, commits."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.atomic import ATOMIC_FIELDS, FIELD_NAMES
from core.errors import LakeUnavailable
from core.lake.jsonl import encode_jsonl
from core.lake.local import LocalLake
from core.lake.parquet import arrow_owned
from core.lake.partitions import PartNamer, hour_partition
from enrich.event import EnrichedEvent
from enrich.outputs.commit import Backoff, commit_file
from enrich.outputs.lake_writer import LakeWriter
from enrich.outputs.parquet import GOOD_SCHEMA, decode_parquet, encode_parquet
from enrich.outputs.rolling import CutPolicy, RollingFile
from enrich.outputs.tsv import decode_tsv, encode_tsv

T0 = 1_795_690_794_412  # 2026-11-26T...Z


def full_event(i: int = 0) -> EnrichedEvent:
    """An event with every column set to a value of its kind."""
    values: dict[str, object] = {}
    for f in ATOMIC_FIELDS:
        if f.kind == "str":
            values[f.name] = f"{f.name[:2]}-{i}"
        elif f.kind == "json":
            values[f.name] = '{"schema":"iglu:com.acme/x/jsonschema/1-0-0","data":{"a\\tb":1}}'
        elif f.kind == "int":
            values[f.name] = 1000 + i
        elif f.kind == "dec":
            values[f.name] = Decimal("21.55") + i
        elif f.kind == "float":
            values[f.name] = 51.5 + i
        elif f.kind == "bool":
            values[f.name] = i % 2 == 0
        else:
            values[f.name] = T0 + i
    return EnrichedEvent(**values)


def test_parquet_has_one_typed_schema_of_131_columns() -> None:
    """Every good file carries the same 131-column schema in Snowplow order with typed columns."""
    table = decode_parquet(encode_parquet([full_event()]))
    assert table.schema.names == list(FIELD_NAMES)
    assert table.schema.equals(GOOD_SCHEMA, check_metadata=False)
    assert table.schema.field("collector_tstamp").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("tr_total").type == pa.decimal128(38, 9)
    assert table.schema.field("br_cookies").type == pa.bool_()
    assert table.schema.field("contexts").type == pa.string()


def test_parquet_writes_per_event_unique_columns_plain_and_json_without_min_max() -> None:
    """Ids and JSON columns are not dictionary-encoded; JSON columns carry no min/max; the rest keep both."""
    data = encode_parquet([full_event(i) for i in range(50)])
    chunks = {c.path_in_schema: c for c in (pq.ParquetFile(arrow_owned(data)).metadata.row_group(0).column(i)
                                            for i in range(len(FIELD_NAMES)))}  # fmt: skip
    for name in ("event_id", "event_fingerprint", "contexts", "unstruct_event", "derived_contexts"):
        assert not chunks[name].has_dictionary_page, name
    for name in ("app_id", "platform", "useragent", "geo_country"):
        assert chunks[name].has_dictionary_page, name
    for name in ("contexts", "unstruct_event", "derived_contexts"):
        assert not chunks[name].is_stats_set or not chunks[name].statistics.has_min_max, name
    for name in ("event_id", "app_id", "collector_tstamp", "tr_total"):
        assert chunks[name].statistics.has_min_max, name


def test_parquet_round_trips_every_kind() -> None:
    """Values of every kind read back equal to what was written (timestamps as UTC ms)."""
    events = [full_event(i) for i in range(3)] + [EnrichedEvent(event_id="only-id")]
    table = decode_parquet(encode_parquet(events))
    rows = table.to_pylist()
    for event, row in zip(events, rows, strict=True):
        for f in ATOMIC_FIELDS:
            want = getattr(event, f.name)
            got = row[f.name]
            if f.kind == "ts" and got is not None:
                got = round(got.timestamp() * 1000)
            assert got == want, f.name


def test_parquet_rounds_long_decimals_and_nulls_unrepresentable_ones() -> None:
    """A decimal with >9 fractional digits is rounded half-even; one too large for decimal(38,9) is nulled and named."""
    events = [
        EnrichedEvent(tr_total=Decimal("1.0000000005")),
        EnrichedEvent(tr_total=Decimal("1e40"), ti_quantity=2**70),
    ]
    nulled: list[str] = []
    rows = decode_parquet(encode_parquet(events, nulled)).to_pylist()
    assert rows[0]["tr_total"] == Decimal("1.000000000")
    assert rows[1]["tr_total"] is None and rows[1]["ti_quantity"] is None
    assert sorted(nulled) == ["ti_quantity", "tr_total"]


@given(
    st.lists(
        st.builds(
            lambda eid, total, ts, flag, n: EnrichedEvent(
                event_id=eid, tr_total=total, collector_tstamp=ts, br_cookies=flag, txn_id=n
            ),
            st.text(max_size=40),
            st.none() | st.decimals(min_value=-(10**15), max_value=10**15, places=2, allow_nan=False),
            st.none() | st.integers(min_value=0, max_value=4_102_444_800_000),
            st.none() | st.booleans(),
            st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_parquet_round_trip_property(events: list[EnrichedEvent]) -> None:
    """Any mix of strings, money decimals, timestamps, booleans and int64s survives a Parquet round trip."""
    rows = decode_parquet(encode_parquet(events)).to_pylist()
    for event, row in zip(events, rows, strict=True):
        assert row["event_id"] == event.event_id
        assert row["tr_total"] == event.tr_total
        ts = row["collector_tstamp"]
        assert (None if ts is None else round(ts.timestamp() * 1000)) == event.collector_tstamp
        assert row["br_cookies"] == event.br_cookies
        assert row["txn_id"] == event.txn_id


def test_tsv_file_is_one_131_field_line_per_event() -> None:
    """A TSV file has one newline-terminated line per event, each with exactly 130 tabs, and parses back."""
    events = [full_event(i) for i in range(2)]
    data = encode_tsv([e.to_tsv() for e in events])
    lines = data.decode().split("\n")
    assert lines[-1] == "" and len(lines) == 3
    assert all(line.count("\t") == 130 for line in lines[:2])
    assert re.search(r"\t2026-11-2\d \d\d:\d\d:\d\d\.\d{3}\t", lines[0])
    assert decode_tsv(data) == events
    assert encode_tsv([]) == b""


def test_rolling_file_cuts_on_count_bytes_and_age() -> None:
    """A file is due at the event limit, at the byte limit, or once its first record is max_age old."""
    namer = PartNamer()

    def make(policy: CutPolicy) -> RollingFile[bytes]:
        return RollingFile("bad/x", "jsonl", encode_jsonl, policy, namer)

    by_count = make(CutPolicy(max_events=3, max_bytes=10**9, max_age_s=100))
    for i in range(3):
        assert not by_count.due(T0)
        by_count.append(b"{}", i, 2, T0)
    assert by_count.due(T0)

    by_bytes = make(CutPolicy(max_events=10**6, max_bytes=10, max_age_s=100))
    by_bytes.append(b"{}", 0, 6, T0)
    assert not by_bytes.due(T0)
    by_bytes.append(b"{}", 0, 6, T0)
    assert by_bytes.due(T0)

    by_age = make(CutPolicy(max_events=10**6, max_bytes=10**9, max_age_s=1.0))
    assert by_age.deadline_ms() is None and by_age.cut() is None
    by_age.append(b"{}", 7, 2, T0)
    by_age.append(b"{}", 7, 2, T0 + 500)
    assert by_age.deadline_ms() == T0 + 1000
    assert not by_age.due(T0 + 999) and by_age.due(T0 + 1000)
    pending = by_age.cut()
    assert pending is not None
    assert pending.count == 2 and pending.tokens == {7: 2}
    assert pending.data == b"{}\n{}\n"
    assert pending.name.startswith("bad/x/date=2026-11-26/") and pending.name.endswith("-000001.jsonl")
    assert len(by_age) == 0 and by_age.deadline_ms() is None


def test_lake_writer_layout(tmp_path: Path) -> None:
    """Good Parquet, good TSV and each bad-row type go to their own roots with hive partitions."""
    writer = LakeWriter(CutPolicy(), tsv=True)
    assert writer.add_good(full_event(), 1, 100, T0) == 2
    assert writer.add_bad("schema_violations", b'{"x":1}', 1, T0, T0) == 1
    assert writer.buffered == 3
    files = writer.cut_all()
    lake = LocalLake(tmp_path)
    for f in files:
        assert commit_file(lake, f, writer.namer)
    names = sorted(lake.list())
    assert [n.split("/date=")[0] for n in names] == ["bad/schema_violations", "good-tsv", "good"]
    hour = hour_partition(T0)
    assert all(f"/{hour}/" in n for n in names)
    assert writer.buffered == 0 and writer.next_deadline_ms() is None


class FlakyLake(LocalLake):
    """A real local lake whose first creates fail after (or before) writing: stands in for a GCS outage,
    which cannot be produced on demand with the emulator."""

    def __init__(self, root: Path, fail_after_write: int, fail_before_write: int) -> None:
        super().__init__(root)
        self.fail_after_write = fail_after_write
        self.fail_before_write = fail_before_write
        self.calls = 0

    def create(self, name: str, data: bytes) -> None:
        self.calls += 1
        if self.fail_before_write > 0:
            self.fail_before_write -= 1
            raise LakeUnavailable("injected outage")
        super().create(name, data)
        if self.fail_after_write > 0:
            self.fail_after_write -= 1
            raise LakeUnavailable("injected lost answer")


def test_commit_retries_outages_and_accepts_its_own_earlier_write(tmp_path: Path) -> None:
    """LakeUnavailable is retried with backoff; ObjectExists holding our own bytes counts as committed."""
    lake = FlakyLake(tmp_path, fail_after_write=1, fail_before_write=2)
    writer = LakeWriter(CutPolicy())
    writer.add_bad("generic_error", b'{"e":1}', 0, T0, T0)
    (pending,) = writer.cut_all()
    sleeps: list[float] = []
    assert commit_file(lake, pending, writer.namer, backoff=Backoff(0.01, 0.02), sleep=sleeps.append)
    assert sleeps == [0.01, 0.02, 0.02]
    assert lake.read(pending.name) == pending.data
    assert list(lake.list()) == [pending.name]


def test_commit_renames_when_a_foreign_object_holds_the_name(tmp_path: Path) -> None:
    """A name taken by different bytes (a writer-id clash) is never overwritten: the file gets a fresh name."""
    lake = LocalLake(tmp_path)
    writer = LakeWriter(CutPolicy())
    writer.add_bad("generic_error", b'{"e":1}', 0, T0, T0)
    (pending,) = writer.cut_all()
    taken = pending.name
    lake.create(taken, b"someone else\n")
    assert commit_file(lake, pending, writer.namer)
    assert pending.name != taken
    assert lake.read(taken) == b"someone else\n" and lake.read(pending.name) == b'{"e":1}\n'


def test_commit_gives_up_only_when_stopping(tmp_path: Path) -> None:
    """While the lake is down a stopping worker stops retrying and reports the file as not committed."""
    lake = FlakyLake(tmp_path, fail_after_write=0, fail_before_write=10**6)
    writer = LakeWriter(CutPolicy())
    writer.add_bad("generic_error", b"{}", 0, T0, T0)
    (pending,) = writer.cut_all()
    assert not commit_file(lake, pending, writer.namer, should_stop=lambda: lake.calls >= 3, sleep=lambda s: None)
    assert lake.calls == 3 and list(lake.list()) == []


def test_lake_writer_reports_nulled_columns() -> None:
    """The writer tells its owner which columns had a value Parquet cannot hold (the worker counts and logs them)."""
    seen: list[str] = []
    writer = LakeWriter(CutPolicy(), on_nulled=seen.append)
    writer.add_good(EnrichedEvent(event_id="x", tr_total=Decimal("1e40")), 0, 10, T0)
    (pending,) = writer.cut_all()
    assert seen == ["tr_total"]
    assert decode_parquet(pending.data).column("tr_total").to_pylist() == [None]


def test_named_columns_make_a_narrower_file_typed_and_ordered_as_the_good_schema() -> None:
    """encode_parquet(columns=...) (the pii stream): just those columns, in GOOD_SCHEMA's order and types, with the
    values a full encode has; the events need only those attributes."""
    columns = ["geo_latitude", "app_id", "event_id", "collector_tstamp", "se_value", "br_cookies"]
    events = [
        EnrichedEvent(app_id="a", event_id="e1", collector_tstamp=1_700_000_000_000, se_value=Decimal("1.5")),
        EnrichedEvent(app_id="b", br_cookies=True, geo_latitude=51.5),
    ]
    narrow = decode_parquet(encode_parquet(events, columns=columns))
    assert narrow.schema.names == [name for name in FIELD_NAMES if name in columns]
    assert narrow.schema.equals(pa.schema([GOOD_SCHEMA.field(name) for name in narrow.schema.names]))
    assert narrow.equals(decode_parquet(encode_parquet(events)).select(narrow.schema.names))

    class Sparse:  # only the named attributes, as a PiiEvent has
        def __init__(self, **values: object) -> None:
            self.__dict__.update(values)

    sparse = [Sparse(**{name: getattr(e, name) for name in columns}) for e in events]
    assert decode_parquet(encode_parquet(sparse, columns=columns)).equals(narrow)
    with pytest.raises(ValueError, match="not_a_field"):
        encode_parquet(events, columns=["app_id", "not_a_field"])
