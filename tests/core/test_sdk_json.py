"""Analytics-SDK JSON of enriched events, checked against Snowplow's own Python analytics SDK reading our TSV."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from snowplow_analytics_sdk.event_transformer import transform

from core.iglu import SchemaKey
from core.sdk_json import entity_column, to_sdk_json
from enrich.event import EnrichedEvent

T0 = 1_795_690_794_412

CONTEXTS = orjson.dumps(
    {
        "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
        "data": [
            {"schema": "iglu:com.acme/userContext/jsonschema/1-0-2", "data": {"userId": "u-1", "tab": "a\tb"}},
            {"schema": "iglu:com.acme/userContext/jsonschema/1-0-2", "data": {"userId": "u-2"}},
            {"schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0", "data": {"id": "p"}},
        ],
    }
).decode()
UNSTRUCT = orjson.dumps(
    {
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": "iglu:com.acme/checkout/jsonschema/2-1-0", "data": {"total": 21.5}},
    }
).decode()
DERIVED = orjson.dumps(
    {
        "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
        "data": [{"schema": "iglu:nl.basjes/yauaa_context/jsonschema/1-0-4", "data": {"agentName": "Chrome"}}],
    }
).decode()


def sample() -> EnrichedEvent:
    return EnrichedEvent(
        app_id="shop",
        platform="web",
        etl_tstamp=T0 + 5,
        collector_tstamp=T0,
        event="unstruct",
        event_id="c6ef3124-b53a-4b13-a233-0088f79dcbcb",
        txn_id=42,
        geo_latitude=51.5,
        geo_longitude=-0.125,
        tr_total=Decimal("21.50"),
        br_cookies=True,
        dvce_ismobile=False,
        contexts=CONTEXTS,
        unstruct_event=UNSTRUCT,
        derived_contexts=DERIVED,
        refr_dvce_tstamp=T0 - 1000,
        derived_tstamp=T0 - 3,
    )


def _sdk_view(ours: dict[str, Any]) -> dict[str, Any]:
    """Ours without what the 2017 Python SDK does not produce: nulls and the Scala SDK's `_schema_version`."""
    out: dict[str, Any] = {}
    for key, value in ours.items():
        if value is None:
            continue
        if isinstance(value, list):
            value = [{k: v for k, v in e.items() if k != "_schema_version"} for e in value]
        elif isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "_schema_version"}
        out[key] = value
    return out


def test_sdk_json_agrees_with_snowplows_python_sdk_on_our_tsv() -> None:
    """Snowplow's analytics SDK parses our TSV line into the same JSON our transform gives (up to its known gaps)."""
    event = sample()
    theirs = transform(event.to_tsv())
    theirs.pop("geo_location")  # a derived convenience of that SDK only
    assert _sdk_view(to_sdk_json(event)) == theirs


def test_sdk_json_shape() -> None:
    """Nulls are kept, timestamps are ISO `Z`, entities are shredded with `_schema_version`, SDK naming applies."""
    out = to_sdk_json(sample())
    assert out["collector_tstamp"] == "2026-11-26T10:59:54.412Z"
    assert out["refr_device_tstamp"] == "2026-11-26T10:59:53.412Z" and "refr_dvce_tstamp" not in out
    assert out["user_id"] is None and out["tr_total"] == 21.5 and out["txn_id"] == 42
    assert out["br_cookies"] is True and out["dvce_ismobile"] is False
    assert out["contexts_com_acme_user_context_1"] == [
        {"_schema_version": "1-0-2", "userId": "u-1", "tab": "a\tb"},
        {"_schema_version": "1-0-2", "userId": "u-2"},
    ]
    assert out["unstruct_event_com_acme_checkout_2"] == {"_schema_version": "2-1-0", "total": 21.5}
    assert out["contexts_nl_basjes_yauaa_context_1"] == [{"_schema_version": "1-0-4", "agentName": "Chrome"}]
    assert "contexts" not in out and "unstruct_event" not in out and "derived_contexts" not in out


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,20}", fullmatch=True))
def test_entity_column_is_lower_snake_case(name: str) -> None:
    """Column names are lower-case, use only [a-z0-9_], and end with the schema model."""
    column = entity_column("contexts", SchemaKey.parse(f"iglu:com.my-vendor.x/{name}/jsonschema/3-0-1"))
    assert column.startswith("contexts_com_my_vendor_x_") and column.endswith("_3")
    assert column == column.lower() and all(c.isalnum() or c == "_" for c in column)
