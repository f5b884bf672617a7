"""Tracker protocol v1 (`GET /i`): the query string is one event."""

from __future__ import annotations

from core.badrows import InputDataMessage
from core.raw import CollectorPayload
from enrich.adapters.base import Params, Rejected, query_params, rejected
from registry.validator import SchemaValidator

__all__ = ["adapt"]


def adapt(payload: CollectorPayload, validator: SchemaValidator) -> list[Params | Rejected]:
    params = query_params(payload)
    if not params:
        return rejected(
            payload, InputDataMessage("querystring", None, "empty querystring: not a valid tracker protocol event")
        )
    return [params]
