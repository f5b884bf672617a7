"""The enriched event: 131 fields in Snowplow order, and its TSV and partially-enriched JSON forms."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.atomic import ATOMIC_FIELDS, FIELD_NAMES
from enrich.event import EnrichedEvent, format_tstamp, parse_tstamp
from enrich.tracker_protocol import MAX_TSTAMP_MS, MIN_TSTAMP_MS
from tests.enrich.pipeline_env import REPO_ROOT


def test_event_slots_are_the_atomic_fields_in_order() -> None:
    """EnrichedEvent's attributes are the 131 atomic fields of core.atomic, in TSV order, all None at first."""
    assert EnrichedEvent.__slots__ == FIELD_NAMES
    assert EnrichedEvent().values() == (None,) * 131


def test_update_sets_several_fields_and_refuses_unknown_ones() -> None:
    """update() sets the named fields (None included) and leaves the rest; a name that is not a field is refused."""
    event = EnrichedEvent(app_id="shop", page_url="https://a.example/")
    event.update({"page_url": None, "platform": "web"})
    assert (event.app_id, event.page_url, event.platform, event.event) == ("shop", None, "web", None)
    assert event.copy() == event
    with pytest.raises(AttributeError):
        event.update({"apid": "shop"})


def test_new_event_is_all_null_and_serialises_to_130_tabs() -> None:
    """A fresh event has every field None and its TSV line is 130 tabs."""
    event = EnrichedEvent()
    assert event.values() == (None,) * 131
    assert event.to_tsv() == "\t" * 130


def test_tsv_formats_each_kind() -> None:
    """Timestamps as yyyy-MM-dd HH:mm:ss.SSS UTC, booleans 1/0, decimals plain, floats Java-style."""
    event = EnrichedEvent(
        collector_tstamp=1795690794415,
        br_cookies=True,
        dvce_ismobile=False,
        se_value=Decimal("1E+2"),
        tr_total=Decimal("10.50"),
        geo_latitude=51.5,
        geo_longitude=0.0001,
        page_urlport=443,
        contexts='{"a":1}',
    )
    fields = dict(zip(FIELD_NAMES, event.to_tsv().split("\t"), strict=True))
    assert fields["collector_tstamp"] == "2026-11-26 10:59:54.415"
    assert (fields["br_cookies"], fields["dvce_ismobile"]) == ("1", "0")
    assert (fields["se_value"], fields["tr_total"]) == ("100", "10.50")
    assert (fields["geo_latitude"], fields["geo_longitude"]) == ("51.5", "1.0E-4")
    assert (fields["page_urlport"], fields["contexts"]) == ("443", '{"a":1}')


def test_timestamp_format_edges() -> None:
    """Timestamps format across the whole accepted range and parse back."""
    for ms in (MIN_TSTAMP_MS, -1, 0, 1795690794415, MAX_TSTAMP_MS):
        assert parse_tstamp(format_tstamp(ms)) == ms
    assert format_tstamp(MIN_TSTAMP_MS) == "0001-01-01 00:00:00.000"
    assert format_tstamp(-1) == "1969-12-31 23:59:59.999"


_VALUES: dict[str, Any] = {
    "str": st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=10),
    "json": st.just('{"schema":"iglu:a/b/jsonschema/1-0-0","data":{}}'),
    "int": st.integers(-(2**31), 2**31 - 1),
    "dec": st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9),
    "float": st.floats(-180, 180, allow_nan=False),
    "bool": st.booleans(),
    "ts": st.integers(MIN_TSTAMP_MS, MAX_TSTAMP_MS),
}


@st.composite
def events(draw: st.DrawFn) -> EnrichedEvent:
    event = EnrichedEvent()
    for field in ATOMIC_FIELDS:
        if draw(st.booleans()):
            setattr(event, field.name, draw(_VALUES[field.kind]))
    return event


@given(events())
def test_tsv_round_trips(event: EnrichedEvent) -> None:
    """Any event survives to_tsv → from_tsv unchanged (the line has exactly 130 tabs)."""
    line = event.to_tsv()
    assert line.count("\t") == 130
    assert EnrichedEvent.from_tsv(line) == event
    assert event.copy() == event


_ENRICHED = json.loads(
    (REPO_ROOT / "schemas/com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1").read_text()
)["properties"]["payload"]["properties"]["enriched"]


@given(events())
def test_partial_json_fits_the_bad_row_schema(event: EnrichedEvent) -> None:
    """to_partial_json has all 131 names and validates against the bad rows' PartiallyEnrichedEvent."""
    partial = event.to_partial_json()
    assert list(partial) == list(FIELD_NAMES)
    jsonschema.Draft4Validator(_ENRICHED).validate(partial)


def test_from_tsv_rejects_wrong_shapes() -> None:
    """A line with the wrong field count or an unparseable typed field is a TsvFormatError."""
    from enrich.event import TsvFormatError

    for line in ("a\tb", "\t" * 131, "\t" * 7 + "notanint" + "\t" * 123):
        try:
            EnrichedEvent.from_tsv(line)
        except TsvFormatError:
            continue
        raise AssertionError(f"accepted {line!r}")
