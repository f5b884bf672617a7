"""Adapters: turn one collector payload into raw events, keyed by the (vendor, version) on the wire.

The registry is a literal map; a (vendor, version) not in it becomes an adapter_failures bad row.
Failures of the tracker-protocol adapters (tp2 and the r/tp2 redirect) are tracker_protocol_violations
(snowplow.md §3.1 step 2); every other adapter's are adapter_failures.
"""

from __future__ import annotations

from core.badrows import InputDataMessage
from core.raw import CollectorPayload
from enrich.adapters import iglu_webhook, redirect, tp1, tp2
from enrich.adapters.base import Adapter, Params, Rejected, rejected
from registry.validator import SchemaValidator

__all__ = ["ADAPTERS", "Adapter", "Params", "Rejected", "adapt", "is_tracker_protocol"]

ADAPTERS: dict[tuple[str, str], Adapter] = {
    ("com.snowplowanalytics.snowplow", "tp1"): tp1.adapt,
    ("com.snowplowanalytics.snowplow", "tp2"): tp2.adapt,
    ("r", "tp2"): redirect.adapt,
    ("com.snowplowanalytics.iglu", "v1"): iglu_webhook.adapt,
}


def is_tracker_protocol(vendor: str, version: str) -> bool:
    """Whether this payload's failures are tracker_protocol_violations (else adapter_failures)."""
    return version == "tp2" and vendor in ("com.snowplowanalytics.snowplow", "r")


def adapt(payload: CollectorPayload, validator: SchemaValidator) -> list[Params | Rejected]:
    """The events in `payload`: parameters per event, or why (part of) it was refused. Never raises on bad input."""
    adapter = ADAPTERS.get((payload.vendor, payload.version))
    if adapter is None:
        value = f"{payload.vendor}/{payload.version}"
        return rejected(
            payload, InputDataMessage("vendor/version", value, "vendor/version combination is not supported")
        )
    return adapter(payload, validator)
