"""Captured tracker requests → the CollectorPayload the collector records for each (snowplow.md §2.2), for enrich tests.

Mirrors the collector's rules: `/i` is tp1, other paths are `/{vendor}/{version}`; the query string
is form-decoded; POST keeps the body and the lower-cased content type; every header is kept as
`Name: value`, the Cookie header split into one entry per cookie and the content type appended as a
bare entry; the network user id is the `nuid` parameter, else the `sp` cookie, else a stable id
derived from the request. OPTIONS preflights are never recorded.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from core.raw import CollectorPayload

__all__ = ["CASES", "COLLECTOR", "PEER_IP", "load_requests", "to_payload"]

CASES = Path(__file__).resolve().parent.parent / "cases" / "enrich"
COLLECTOR = "eventkit-test-collector"
PEER_IP = "203.0.113.9"


def load_requests(name: str) -> list[dict[str, Any]]:
    """The captured requests of tests/cases/enrich/requests/<name>.jsonl that a collector records."""
    lines = (CASES / "requests" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["method"] in ("GET", "POST", "HEAD")]


def to_payload(request: dict[str, Any]) -> CollectorPayload:
    path: str = request["path"]
    if path in ("/i", "/ice.png"):
        vendor, version = "com.snowplowanalytics.snowplow", "tp1"
    else:
        vendor, _, version = path.strip("/").partition("/")
    headers: list[str] = []
    cookies: dict[str, str] = {}
    named: dict[str, str] = {}
    for name, value in request["headers"]:
        named.setdefault(name.lower(), value)
        if name.lower() == "cookie":
            for cookie in value.split(";"):
                cookie = cookie.strip()
                if cookie:
                    headers.append(f"Cookie: {cookie}")
                    k, _, v = cookie.partition("=")
                    cookies[k] = v
        else:
            headers.append(f"{name}: {value}")
    post = request["method"] == "POST"
    content_type = named.get("content-type", "").lower() or None if post else None
    if content_type:
        headers.append(content_type)
    query = tuple(parse_qsl(request["query"], keep_blank_values=True))
    nuid = dict(query).get("nuid") or cookies.get("sp") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"seq-{request['seq']}"))
    return CollectorPayload(
        vendor=vendor,
        version=version,
        querystring=query,
        content_type=content_type,
        body=request["body"] if post else None,
        collector=COLLECTOR,
        encoding="UTF-8",
        hostname=named.get("host", "").partition(":")[0] or None,
        timestamp=round(request["ts"] * 1000),
        ip_address=PEER_IP,
        useragent=named.get("user-agent"),
        referer_uri=named.get("referer"),
        headers=tuple(headers),
        network_user_id=nuid,
    )
