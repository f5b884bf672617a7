"""Good events as Parquet: one fixed, typed schema of the 131 atomic columns for every file in the lake.

Column types (the loader reads files set-wise, so every file has exactly this schema):

| kind  | Arrow type            | why |
|-------|-----------------------|-----|
| str   | string                | |
| json  | string                | `contexts`, `unstruct_event`, `derived_contexts` stay self-describing JSON |
| int   | int64                 | any integer enrich accepts fits; int64 never truncates one |
| dec   | decimal128(38, 9)     | BigQuery NUMERIC and DuckDB DECIMAL(38,9) read it as is; money keeps its digits |
| float | float64               | geo coordinates |
| bool  | bool                  | `br_features_*`, `br_cookies`, `dvce_ismobile` |
| ts    | timestamp(ms, UTC)    | epoch milliseconds, as enrich produces them |

A decimal with more than 9 fractional digits is rounded half-even to 9 (what BigQuery does on load);
one whose integer part exceeds 29 digits cannot be represented and is written as null, logged and
counted (`eventkit_enrich_parquet_nulled_values_total`); the optional TSV output keeps such values
verbatim. Compression is Snappy: cheap to write, read everywhere.

Dictionary encoding is left off for the columns whose values are (nearly) unique per event: the ids
and the three JSON columns. A writer builds a dictionary of every value only to drop it once it
outgrows its page, which cost a third of a good file's write time. The JSON columns carry no
min/max statistics: nothing prunes on the order of JSON texts.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from core.atomic import ATOMIC_FIELDS, AtomicField
from core.lake.parquet import read_parquet

__all__ = ["DECIMAL_TYPE", "GOOD_SCHEMA", "decode_parquet", "encode_parquet", "events_to_table"]

DECIMAL_TYPE = pa.decimal128(38, 9)
_ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "json": pa.string(),
    "int": pa.int64(),
    "dec": DECIMAL_TYPE,
    "float": pa.float64(),
    "bool": pa.bool_(),
    "ts": pa.timestamp("ms", tz="UTC"),
}
GOOD_SCHEMA: pa.Schema = pa.schema(
    [pa.field(f.name, _ARROW_TYPES[f.kind], nullable=True) for f in ATOMIC_FIELDS],
    metadata={b"eventkit.format": b"snowplow-atomic-131"},
)
_UNIQUE_PER_EVENT = frozenset(("event_id", "event_fingerprint", "unstruct_event", "contexts", "derived_contexts"))
_DICTIONARY_COLUMNS = [f.name for f in ATOMIC_FIELDS if f.name not in _UNIQUE_PER_EVENT]
_STATISTICS_COLUMNS = [f.name for f in ATOMIC_FIELDS if f.kind != "json"]
# One C-level getter per column: building columns with map() is ~2x faster than transposing rows.
_GETTERS = tuple(operator.attrgetter(f.name) for f in ATOMIC_FIELDS)
_NINE_PLACES = Decimal("1e-9")
_MAX_DEC = Decimal("1e29")
_MAX_INT = 2**63 - 1
_MIN_INT = -(2**63)


def _fit_decimal(v: Any, field: AtomicField, nulled: list[str]) -> Decimal | None:
    if v is None:
        return None
    try:
        q = Decimal(v).quantize(_NINE_PLACES, rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, TypeError, ValueError):
        nulled.append(field.name)
        return None
    if abs(q) >= _MAX_DEC:
        nulled.append(field.name)
        return None
    return q


def _fit_int(v: Any, field: AtomicField, nulled: list[str]) -> int | None:
    if v is None:
        return None
    if isinstance(v, int) and _MIN_INT <= v <= _MAX_INT:
        return v
    nulled.append(field.name)
    return None


def _column(values: Sequence[Any], field: AtomicField, nulled: list[str]) -> pa.Array:
    arrow_type = _ARROW_TYPES[field.kind]
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    # Slow path, only for a batch holding a value the fast conversion refused.
    if field.kind == "dec":
        return pa.array([_fit_decimal(v, field, nulled) for v in values], type=arrow_type)
    if field.kind == "int":
        return pa.array([_fit_int(v, field, nulled) for v in values], type=arrow_type)
    if field.kind == "bool":
        return pa.array([None if v is None else bool(v) for v in values], type=arrow_type)
    if field.kind == "float":
        return pa.array([None if v is None else float(v) for v in values], type=arrow_type)
    return pa.array([None if v is None else str(v) for v in values], type=arrow_type)


class _Layout(NamedTuple):
    """A file of some of the atomic columns: its schema, each column's getter, and how each is encoded."""

    schema: pa.Schema
    getters: tuple[tuple[Any, AtomicField], ...]
    dictionary: list[str]  # columns written with dictionary encoding
    statistics: list[str]  # columns with min/max statistics


@lru_cache(maxsize=8)
def _layout(columns: tuple[str, ...] | None) -> _Layout:
    """The layout of a file of these columns (GOOD_SCHEMA's fields, in its order); None means all of them."""
    if columns is None:
        return _Layout(GOOD_SCHEMA, tuple(zip(_GETTERS, ATOMIC_FIELDS, strict=True)), _DICTIONARY_COLUMNS,
                       _STATISTICS_COLUMNS)  # fmt: skip
    unknown = set(columns) - set(GOOD_SCHEMA.names)
    if unknown:
        raise ValueError(f"not atomic fields: {sorted(unknown)}")
    picked = tuple((get, f) for get, f in zip(_GETTERS, ATOMIC_FIELDS, strict=True) if f.name in columns)
    schema = pa.schema([GOOD_SCHEMA.field(f.name) for _, f in picked], metadata=GOOD_SCHEMA.metadata)
    names = set(schema.names)
    return _Layout(schema, picked, [n for n in _DICTIONARY_COLUMNS if n in names],
                   [n for n in _STATISTICS_COLUMNS if n in names])  # fmt: skip


def _table(events: Sequence[Any], nulled: list[str], layout: _Layout) -> pa.Table:
    if not events:
        return layout.schema.empty_table()
    arrays = [_column(list(map(get, events)), f, nulled) for get, f in layout.getters]
    return pa.Table.from_arrays(arrays, schema=layout.schema)


def events_to_table(
    events: Sequence[Any], nulled: list[str] | None = None, columns: Sequence[str] | None = None
) -> pa.Table:
    """The events as an Arrow table with `GOOD_SCHEMA`; names of columns whose values were nulled go to `nulled`.

    `columns`, when given, narrows the table to those columns (typed and ordered as in GOOD_SCHEMA), and
    the events need only have those attributes: the pii stream's files hold the sixteen fields a
    pii_transformation event can set (enrich.pii_event.PiiEvent).
    """
    return _table(events, [] if nulled is None else nulled, _layout(None if columns is None else tuple(columns)))


def encode_parquet(
    events: Sequence[Any], nulled: list[str] | None = None, columns: Sequence[str] | None = None
) -> bytes:
    """One complete Parquet file (bytes) holding `events` in column order (`columns` as for events_to_table)."""
    layout = _layout(None if columns is None else tuple(columns))
    table = _table(events, [] if nulled is None else nulled, layout)
    sink = pa.BufferOutputStream()
    pq.write_table(
        table, sink, compression="snappy", use_dictionary=layout.dictionary, write_statistics=layout.statistics
    )
    data: bytes = sink.getvalue().to_pybytes()
    return data


def decode_parquet(data: bytes) -> pa.Table:
    """Read a good-events Parquet file back (for tests, Micro checks and readers without a local path)."""
    return read_parquet(data)
