"""Raw records (CollectorPayload) for tests: one plain default record, so a test names only the fields it is about."""

from __future__ import annotations

import dataclasses
from typing import Any

from core.raw import CollectorPayload

__all__ = ["PLAIN_RECORD", "raw_record"]

PLAIN_RECORD = CollectorPayload(
    vendor="com.snowplowanalytics.snowplow",
    version="tp2",
    querystring=(),
    content_type=None,
    body=None,
    collector="eventkit-test",
    encoding="UTF-8",
    hostname="collector.test",
    timestamp=0,
    ip_address="203.0.113.9",
    useragent=None,
    referer_uri=None,
    headers=(),
    network_user_id=None,
)


def raw_record(**fields: Any) -> CollectorPayload:
    """PLAIN_RECORD with `fields` (CollectorPayload's own names) changed; an unknown name is a TypeError."""
    return dataclasses.replace(PLAIN_RECORD, **fields)
