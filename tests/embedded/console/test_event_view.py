"""How the one-event page explains derived_tstamp: the rule enrich applied (enrich/derive.derive_tstamp), in words."""

from __future__ import annotations

import base64

import orjson

from embedded.console.event_view import _note, build

COLLECTOR = "2026-01-01T00:00:10.000Z"
CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
USER = "iglu:com.acme/user_context/jsonschema/1-0-0"
GEO = "iglu:com.acme/ip_lookup/jsonschema/1-0-0"


def test_true_tstamp_wins() -> None:
    """A tracker-sent true_tstamp is the derived time."""
    note = _note({"collector_tstamp": COLLECTOR, "true_tstamp": "2026-01-01T00:00:01.000Z"})
    assert note.startswith("derived_tstamp = true_tstamp (2026-01-01T00:00:01.000Z)")


def test_device_delay_is_taken_off_the_collector_time() -> None:
    """Created before sent: the collector time minus the time the event waited on the device."""
    event = {"collector_tstamp": COLLECTOR, "dvce_created_tstamp": "2026-01-01T00:00:00.100Z"}
    note = _note({**event, "dvce_sent_tstamp": "2026-01-01T00:00:00.500Z"})
    assert note.startswith("derived_tstamp = collector_tstamp − (dvce_sent_tstamp − dvce_created_tstamp)")


def test_no_delay_to_take_off_keeps_the_collector_time() -> None:
    """Sent not after created (or a device time missing): the collector time, and the page says why."""
    event = {"collector_tstamp": COLLECTOR, "dvce_created_tstamp": "2026-01-01T00:00:00.500Z"}
    assert "is not after" in _note({**event, "dvce_sent_tstamp": "2026-01-01T00:00:00.100Z"})
    assert "no device timestamps" in _note({"collector_tstamp": COLLECTOR})


def test_undecodable_parameters_stay_as_sent() -> None:
    """A ue_px that is not base64 JSON is listed as sent, with no decoded view and no self-describing event."""
    view = build({"event": {"event_id": "e"}, "rawEvent": {"parameters": {"ue_px": "!!not-base64!!", "e": "ue"}}})
    assert ("ue_px", "!!not-base64!!", None) in view.parameters and view.event is None


def test_derived_contexts_are_the_ones_the_tracker_did_not_send() -> None:
    """A context enrich added (in the GoodEvent's list, not in cx) is shown as derived, with its SDK-JSON data."""
    cx = base64.urlsafe_b64encode(
        orjson.dumps({"schema": CONTEXTS, "data": [{"schema": USER, "data": {"userId": "u"}}]})
    ).decode()
    good = {
        "contexts": [USER, GEO],
        "event": {"event_id": "e", "contexts_com_acme_ip_lookup_1": [{"city": "Lyon"}]},
        "rawEvent": {"parameters": {"cx": cx}},
    }
    view = build(good)
    assert [e.schema for e in view.contexts] == [USER]
    assert [(e.schema, e.link) for e in view.derived] == [(GEO, "/console/schemas/com.acme/ip_lookup/1-0-0")]
    assert '"city": "Lyon"' in view.derived[0].data
