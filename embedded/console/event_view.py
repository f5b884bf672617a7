"""One good event for people: atomic fields in groups, `derived_tstamp` explained, entities pretty-printed.

The Micro GoodEvent keeps the analytics-SDK JSON of the enriched event and the raw tracker parameters;
the self-describing event and the tracker's contexts are read (decoded) from the raw `ue_px`/`ue_pr`
and `cx`/`co`, so each keeps its full schema URI; derived contexts are the schemas enrich added
(the GoodEvent's context list minus the tracker's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from core.iglu import SchemaKey
from loader.payload_view import BASE64_PARAMS, JSON_PARAMS, open_view

__all__ = ["Entity", "EventView", "FieldGroup", "build"]

# Atomic fields by group, in the order people look for them; the rest go to "Other".
_GROUP_FIELDS: list[tuple[str, str]] = [
    (
        "Event",
        "app_id platform event event_id event_vendor event_name event_format event_version txn_id "
        "name_tracker v_tracker v_collector v_etl event_fingerprint",
    ),
    (
        "Timestamps",
        "collector_tstamp dvce_created_tstamp dvce_sent_tstamp true_tstamp etl_tstamp derived_tstamp os_timezone",
    ),
    (
        "User",
        "user_id domain_userid network_userid domain_sessionid domain_sessionidx user_ipaddress user_fingerprint",
    ),
    (
        "Page",
        "page_url page_title page_referrer page_urlscheme page_urlhost page_urlport page_urlpath "
        "page_urlquery page_urlfragment",
    ),
    (
        "Referrer",
        "refr_urlscheme refr_urlhost refr_urlport refr_urlpath refr_urlquery refr_urlfragment refr_medium "
        "refr_source refr_term refr_domain_userid refr_dvce_tstamp",
    ),
    ("Campaign", "mkt_medium mkt_source mkt_term mkt_content mkt_campaign mkt_clickid mkt_network"),
    ("Structured event", "se_category se_action se_label se_property se_value"),
    (
        "Device and browser",
        "useragent br_name br_family br_version br_type br_renderengine br_lang br_features_pdf "
        "br_cookies br_colordepth br_viewwidth br_viewheight os_name os_family os_manufacturer dvce_type "
        "dvce_ismobile dvce_screenwidth dvce_screenheight doc_charset doc_width doc_height",
    ),
    (
        "Geo",
        "geo_country geo_region geo_city geo_zipcode geo_latitude geo_longitude geo_region_name "
        "geo_timezone ip_isp ip_organization ip_domain ip_netspeed",
    ),
]
_GROUPS: list[tuple[str, tuple[str, ...]]] = [(title, tuple(names.split())) for title, names in _GROUP_FIELDS]


@dataclass(frozen=True, slots=True)
class FieldGroup:
    title: str
    fields: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Entity:
    """A self-describing JSON: its schema URI, the console path of the schema, and its data as pretty JSON."""

    schema: str
    link: str | None
    data: str


@dataclass(slots=True)
class EventView:
    groups: list[FieldGroup] = field(default_factory=list)
    derived_tstamp_note: str = ""
    event: Entity | None = None
    contexts: list[Entity] = field(default_factory=list)
    derived: list[Entity] = field(default_factory=list)
    parameters: list[tuple[str, str, str | None]] = field(default_factory=list)  # name, raw value, decoded JSON


def schema_link(uri: str) -> str | None:
    """`/console/schemas/vendor/name/version` for an Iglu URI, None if it is not one."""
    try:
        key = SchemaKey.parse(uri)
    except ValueError:
        return None
    return f"/console/schemas/{key.vendor}/{key.name}/{key.version}"


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _entity(value: Any) -> Entity | None:
    if not isinstance(value, dict) or not isinstance(value.get("schema"), str):
        return None
    return Entity(
        value["schema"],
        schema_link(value["schema"]),
        orjson.dumps(value.get("data"), option=orjson.OPT_INDENT_2).decode(),
    )


def _note(event: dict[str, Any]) -> str:
    """How enrich chose derived_tstamp for this event (Snowplow's rule), with its inputs."""
    if event.get("true_tstamp"):
        return f"derived_tstamp = true_tstamp ({event['true_tstamp']}): the tracker sent the true time of the event."
    created, sent, collector = (
        event.get("dvce_created_tstamp"),
        event.get("dvce_sent_tstamp"),
        event.get("collector_tstamp"),
    )
    if created and sent and not str(created) < str(sent):  # ISO-8601 UTC strings of one format sort as times
        return (
            "derived_tstamp = collector_tstamp: dvce_sent_tstamp is not after dvce_created_tstamp, so there is no "
            "time on the device to take off the collector's clock."
        )
    if created and sent:
        return (
            f"derived_tstamp = collector_tstamp − (dvce_sent_tstamp − dvce_created_tstamp) = {collector} − ({sent} − "
            f"{created}): the collector's clock, moved back by the time the event waited on the device, so a wrong "
            "device clock does not matter."
        )
    return "derived_tstamp = collector_tstamp: the tracker sent no device timestamps to correct it with."


def build(good_event: dict[str, Any]) -> EventView:
    """The view of a Micro GoodEvent."""
    event = good_event.get("event") if isinstance(good_event.get("event"), dict) else {}
    assert isinstance(event, dict)
    view = EventView()
    taken: set[str] = set()
    for title, names in _GROUPS:
        fields = [(n, _shown(event[n])) for n in names if event.get(n) not in (None, "")]
        taken.update(names)
        if fields:
            view.groups.append(FieldGroup(title, fields))
    other = [
        (k, _shown(v))
        for k, v in event.items()
        if k not in taken and v not in (None, "") and not k.startswith(("contexts_", "unstruct_event_"))
    ]
    if other:
        view.groups.append(FieldGroup("Other", other))
    view.derived_tstamp_note = _note(event)
    raw = good_event.get("rawEvent") if isinstance(good_event.get("rawEvent"), dict) else {}
    assert isinstance(raw, dict)
    params = raw.get("parameters") if isinstance(raw.get("parameters"), dict) else {}
    assert isinstance(params, dict)
    opened = open_view({"raw": {"parameters": [{"name": k, "value": v} for k, v in params.items()]}})
    decoded = opened["raw"]["parameters"] if isinstance(opened, dict) else {}
    for name, value in params.items():
        pretty = None
        if name in BASE64_PARAMS + JSON_PARAMS and not isinstance(decoded.get(name), str):
            pretty = orjson.dumps(decoded.get(name), option=orjson.OPT_INDENT_2).decode()
        view.parameters.append((str(name), _shown(value), pretty))
    unstruct = decoded.get("ue_px", decoded.get("ue_pr"))
    if isinstance(unstruct, dict):
        view.event = _entity(unstruct.get("data"))
    sent = decoded.get("cx", decoded.get("co"))
    tracker_uris: set[str] = set()
    if isinstance(sent, dict) and isinstance(sent.get("data"), list):
        for item in sent["data"]:
            entity = _entity(item)
            if entity is not None:
                view.contexts.append(entity)
                tracker_uris.add(entity.schema)
    for uri in good_event.get("contexts") or []:
        if isinstance(uri, str) and uri not in tracker_uris:
            view.derived.append(Entity(uri, schema_link(uri), _derived_data(event, uri)))
    return view


def _derived_data(event: dict[str, Any], uri: str) -> str:
    """The SDK JSON's `contexts_<vendor>_<name>_<model>` entry of a derived context, pretty JSON ("" if absent)."""
    try:
        key = SchemaKey.parse(uri)
    except ValueError:
        return ""
    suffix = f"_{key.name.replace('-', '_').lower()}_{key.version.model}"
    for k, v in event.items():
        if k.startswith("contexts_") and k.lower().endswith(suffix):
            return orjson.dumps(v, option=orjson.OPT_INDENT_2).decode()
    return ""
