"""The adapter contract: a collector payload in, one entry per event out (its parameters, or why it was refused).

An adapter never raises on bad input. A payload it cannot read at all yields a single `Rejected`
carrying the whole payload; a payload whose events can be told apart yields one entry per event, so
one bad event never drags its neighbours into bad rows (its `Rejected.payload` re-sends only it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson

from core.badrows import AdapterMessage, NotIgluMessage, NotJsonMessage, TrackerProtocolMessage
from core.errors import IgluParseError
from core.iglu import SelfDescribing, parse_self_describing
from core.raw import CollectorPayload
from registry.validator import SchemaValidator

__all__ = ["Adapter", "Params", "Rejected", "query_params", "query_text", "read_sdj_body", "rejected"]

Params = dict[str, str | None]  # one event's tracker-protocol parameters, in arrival order

FailureMessage = AdapterMessage | TrackerProtocolMessage


@dataclass(frozen=True, slots=True)
class Rejected:
    """The adapter refused a payload (or one event of it); `payload` is what replay must re-send."""

    messages: tuple[FailureMessage, ...]
    payload: CollectorPayload


Adapter = Callable[[CollectorPayload, SchemaValidator], list[Params | Rejected]]


def rejected(payload: CollectorPayload, *messages: FailureMessage) -> list[Params | Rejected]:
    """The whole payload refused."""
    return [Rejected(messages, payload)]


def read_sdj_body(payload: CollectorPayload, body: str) -> SelfDescribing | list[Params | Rejected]:
    """A JSON body as a self-describing JSON, or the whole payload refused (not JSON / not Iglu)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as bad_json:
        return rejected(payload, NotJsonMessage("body", body, f"invalid json: {bad_json}"))
    try:
        return parse_self_describing(doc)
    except IgluParseError as e:
        return rejected(payload, NotIgluMessage.from_parse_error(doc, e))


def query_params(payload: CollectorPayload) -> Params:
    """The decoded query string as a map (a repeated name keeps its last value)."""
    return dict(payload.querystring)


def query_text(payload: CollectorPayload) -> str:
    """The query string re-encoded, for messages that quote it."""
    return urlencode([(n, "" if v is None else v) for n, v in payload.querystring])
