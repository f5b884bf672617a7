"""Enrich one raw record: adapter → per-event mapping and validation → enrichments → checks → Good or bad row.

Per event (snowplow.md §3.1): phase 1 maps the tracker parameters and validates the unstruct event
and contexts; phase 2 derives values and runs the enrichments in order; phase 3 validates derived
contexts and atomic lengths. The bad row is chosen by the first phase that failed: phase 1 →
schema_violations (all its messages), phase 2 → enrichment_failures, phase 3 → schema_violations.
Each event ends as exactly one outcome, and never takes its neighbours with it. Bad input never
raises; registry outages (and other TransientErrors) do, so the worker retries the whole message.
Each event's validation runs within `env.validation_budget_ms` (registry.patterns): a verdict over
it is a failed validation, so the event becomes a schema_violations bad row instead of a stall
(once confirmed: an event out of time is tried once more with a fresh budget).
A good event the PII enrichment pseudonymised with emitEvent carries its validated pii_transformation
event (`Good.pii`, built by enrich/pii_event.py) for the worker's `pii/` stream.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final, cast

from core.badrows import (
    AdapterFailures,
    AdapterMessage,
    BadRow,
    CollectorPayloadFormatViolation,
    DataReport,
    EnrichmentErrorMessage,
    EnrichmentFailureMessage,
    EnrichmentFailures,
    EnrichmentPayload,
    IgluErrorMessage,
    InputDataMessage,
    RawEvent,
    SchemaViolationMessage,
    SchemaViolations,
    TrackerProtocolMessage,
    TrackerProtocolViolations,
    validation_error,
)
from core.errors import TransientError
from core.raw import CollectorPayload, RawRecordError
from enrich.adapters import Rejected, adapt, is_tracker_protocol
from enrich.derive import (
    ATOMIC_SCHEMA,
    client_ip,
    derive_tstamp,
    event_fingerprint,
    length_reports,
    set_event_schema,
    set_page_url,
    set_refr_url,
)
from enrich.enrichments.base import EnrichmentContext, information
from enrich.enrichments.cross_navigation import CrossNavigation, set_cross_navigation
from enrich.enrichments.cross_navigation_sp import CrossNavigationValue
from enrich.entities import (
    Entities,
    contexts_column,
    extract_entities,
    unstruct_column,
)
from enrich.environment import Environment
from enrich.event import EnrichedEvent
from enrich.outcome import Good, Outcome
from enrich.pii_event import pii_event
from enrich.tracker_protocol import MAX_TSTAMP_MS, MIN_TSTAMP_MS, MSG_TS_RANGE, map_parameters, sanitise
from registry.patterns import budget_paused, validation_budget

__all__ = ["ATOMIC_SCHEMA", "PARSE_KEYWORD", "RAW_RECORD_LOADER", "enrich_event", "enrich_payload", "enrich_record"]

PARSE_KEYWORD: Final = "atomic_field_parse_error"
RAW_RECORD_LOADER: Final = "ndjson"  # our raw records are JSON lines, not Thrift


def enrich_record(raw: bytes, env: Environment, etl_tstamp: int | None = None) -> list[Outcome]:
    """Queue message bytes → outcomes. Bytes that are not a raw record → one collector_payload_format_violation.

    Its payload is the base64 of the bytes (snowplow.md §4.2), so replay can recover them exactly even
    when they are not UTF-8.
    """
    now = env.clock() if etl_tstamp is None else etl_tstamp
    try:
        payload = CollectorPayload.decode(raw)
    except RawRecordError as e:
        encoded = base64.b64encode(raw).decode("ascii")
        return [CollectorPayloadFormatViolation(env.processor, now, RAW_RECORD_LOADER, {"error": str(e)}, encoded)]
    return enrich_payload(payload, env, now)


def enrich_payload(payload: CollectorPayload, env: Environment, etl_tstamp: int | None = None) -> list[Outcome]:
    """One outcome per event found in `payload` (at least one); `etl_tstamp` is shared by the batch."""
    now = env.clock() if etl_tstamp is None else etl_tstamp
    out: list[Outcome] = []
    base: BaseFields | None = None  # what the payload says of all its events, worked out once
    budget = env.validation_budget_ms / 1000
    items = iter(adapt(payload, env.validator))
    while True:
        # Each event's validation (the adapter's included) gets its own budget: over it, a bad row.
        timed = validation_budget(budget)
        with timed:
            item = next(items, None)
            if item is None:
                return out
            if isinstance(item, Rejected):
                outcome: Outcome = _rejected(payload, item, env, now)
            else:
                if base is None:
                    base = base_fields(payload, env, now)
                outcome = enrich_event(item, payload, env, now, base)
        if timed.ran_out and base is not None and not isinstance(item, Rejected):
            # Confirmed once, with a fresh budget, before it is a bad row: a stall the event did not cause (the
            # hypervisor taking the core, a page-fault storm) is charged to the thread's CPU clock too, and is
            # not likely twice in a row; a pattern that is really catastrophic runs out again.
            with validation_budget(budget):
                outcome = enrich_event(item, payload, env, now, base)
        out.append(outcome)


def _rejected(payload: CollectorPayload, item: Rejected, env: Environment, now: int) -> BadRow:
    # The rows check at construction that each message is a variant their schema allows.
    if is_tracker_protocol(payload.vendor, payload.version):
        tpv = cast("tuple[TrackerProtocolMessage, ...]", item.messages)
        return TrackerProtocolViolations(env.processor, now, payload.vendor, payload.version, tpv, item.payload)
    messages = cast("tuple[AdapterMessage, ...]", item.messages)
    return AdapterFailures(env.processor, now, payload.vendor, payload.version, messages, item.payload)


BaseFields = tuple[dict[str, Any], tuple[DataReport, ...]]


def base_fields(payload: CollectorPayload, env: Environment, now: int) -> BaseFields:
    """Phase 1, before the parameters: the fields the collector and the environment give every event of a payload.

    Returns (field name → value, for the fields set) and the data reports about them.
    """
    fields: dict[str, Any] = {"v_etl": env.v_etl, "etl_tstamp": now}
    if payload.collector:
        fields["v_collector"] = sanitise(payload.collector)
    if payload.network_user_id:
        fields["network_userid"] = sanitise(payload.network_user_id)
    ip = client_ip(payload.headers, payload.ip_address)
    if ip is not None:
        fields["user_ipaddress"] = ip
    if payload.useragent:
        fields["useragent"] = sanitise(payload.useragent)
    if MIN_TSTAMP_MS <= payload.timestamp <= MAX_TSTAMP_MS:
        fields["collector_tstamp"] = payload.timestamp
        return fields, ()
    return fields, (DataReport(MSG_TS_RANGE, "collector_tstamp", PARSE_KEYWORD, ()),)


def enrich_event(
    params: Mapping[str, str | None],
    payload: CollectorPayload,
    env: Environment,
    now: int,
    base: BaseFields,
) -> Good | SchemaViolations | EnrichmentFailures:
    """Enrich one event (its tracker parameters, after the adapter); `base` is base_fields() of its payload."""
    fields, base_reports = base
    event = EnrichedEvent()
    event.update(fields)
    atomic = list(base_reports)
    mapped = map_parameters(event, params)
    tracker_id = event.event_id  # the tracker's eid as to_uuid accepted it (a canonical UUID), if it sent one
    if tracker_id is None:  # no (valid) eid: enrich makes one up
        event.event_id = env.new_event_id()
    atomic.extend(DataReport(message, param, PARSE_KEYWORD, ()) for param, message in mapped.errors)
    entities = extract_entities(mapped.unstruct, mapped.contexts, env.validator, env.max_json_depth)
    event.unstruct_event = unstruct_column(entities.unstruct)
    event.contexts = contexts_column(entities.contexts)

    # Phase 1 verdict.
    if atomic or entities.errors:
        messages: list[SchemaViolationMessage] = []
        if atomic:
            messages.append(IgluErrorMessage(ATOMIC_SCHEMA, validation_error(atomic)))
        messages.extend(entities.errors)
        event.derived_contexts = contexts_column(entities.derived)
        return SchemaViolations(
            env.processor, now, tuple(messages), EnrichmentPayload(event.to_partial_json(), _raw(payload, params))
        )

    # Phase 2: derived values, then the configured enrichments in order.
    with budget_paused():  # the budget is for validation; enrichments have their own limits
        failures, ctx = _phase2(event, params, payload, env, entities, tracker_id=tracker_id)
    if failures:
        plugin_contexts = list(ctx.derived_contexts) if ctx is not None else []
        event.derived_contexts = contexts_column(plugin_contexts + entities.derived)
        return EnrichmentFailures(
            env.processor, now, tuple(failures), EnrichmentPayload(event.to_partial_json(), _raw(payload, params))
        )

    # Phase 3: derived contexts and atomic lengths.
    checked = Entities()
    if ctx is not None:  # each validated, or checked by the proof of the shape its enrichment gave it
        checked.contexts = ctx.checked_derived_contexts(env.validator, checked)
    event.derived_contexts = contexts_column(checked.contexts + checked.derived + entities.derived)
    reports = length_reports(event, env.length_limits)
    if reports or checked.errors:
        late: list[SchemaViolationMessage] = []
        if reports:
            late.append(IgluErrorMessage(ATOMIC_SCHEMA, {"error": "ValidationError", "dataReports": reports}))
        late.extend(checked.errors)
        return SchemaViolations(
            env.processor, now, tuple(late), EnrichmentPayload(event.to_partial_json(), _raw(payload, params))
        )
    good = Good.of(event, payload, params)
    if ctx is not None and ctx.pii_transformation is not None:
        good.pii = pii_event(event, ctx.pii_transformation, env, now, (payload, params))
    return good


def _phase2(
    event: EnrichedEvent,
    params: Mapping[str, str | None],
    payload: CollectorPayload,
    env: Environment,
    entities: Entities,
    *,
    tracker_id: str | None,
) -> tuple[list[EnrichmentFailureMessage], EnrichmentContext | None]:
    """Phase 2: derived values, then the configured enrichments in order; their failures and the context."""
    failures, sp = _derive(event, params, payload, env, entities)
    ctx: EnrichmentContext | None = None
    if env.enrichments:
        ctx = EnrichmentContext(params, payload, event)
        ctx.known_sp(sp)
        ctx.tracker_event_id = tracker_id
        for enrichment in env.enrichments:
            try:
                result = enrichment.enrich(event, ctx)
            except TransientError:
                raise
            except Exception as e:  # the plug-in contract: any exception is that enrichment's failure
                message = EnrichmentErrorMessage(f"{type(e).__name__}: {e}")
                failures.append(EnrichmentFailureMessage(information(enrichment), message))
            else:
                if result:
                    failures.extend(result)
    return failures, ctx


def _raw(payload: CollectorPayload, params: Mapping[str, str | None]) -> RawEvent:
    """The per-event raw event a bad row carries, so replay re-sends exactly this event."""
    return RawEvent.from_collector_payload(payload, tuple(params.items()))


def _derive(
    event: EnrichedEvent,
    params: Mapping[str, str | None],
    payload: CollectorPayload,
    env: Environment,
    entities: Entities,
) -> tuple[list[EnrichmentFailureMessage], CrossNavigationValue | InputDataMessage | None]:
    """The always-on phase-2 steps, in Snowplow's order; their complaints are enrichment failures.

    Returns them, and the page URL's `_sp` as the cross-navigation step read it (for the enrichment).
    """
    problems: list[InputDataMessage] = []
    failures: list[EnrichmentFailureMessage] = []
    if not event.v_collector:
        problems.append(InputDataMessage("v_collector", None, "should be set"))
    page = set_page_url(event, payload.referer_uri)
    if page is not None:
        problems.append(page)
    derived = derive_tstamp(
        event.collector_tstamp, event.dvce_created_tstamp, event.dvce_sent_tstamp, event.true_tstamp
    )
    if derived is None or MIN_TSTAMP_MS <= derived <= MAX_TSTAMP_MS:
        event.derived_tstamp = derived
    else:  # a device clock gap larger than the collector time since year 1
        failures.append(
            EnrichmentFailureMessage(
                None, EnrichmentErrorMessage("Exception calculating derived timestamp: outside the years 1..9999")
            )
        )
    referrer = set_refr_url(event)
    if referrer is not None:
        problems.append(referrer)
    crossing = set_cross_navigation(event)
    if isinstance(crossing, InputDataMessage):
        failures.append(_cross_navigation_failure(crossing, env))
    if env.fingerprint is not None:
        event.event_fingerprint = event_fingerprint(params, env.fingerprint)
    schema = set_event_schema(event, entities.unstruct_key)
    if schema is not None:
        problems.append(schema)
    return [EnrichmentFailureMessage(None, p) for p in problems] + failures, crossing


def _cross_navigation_failure(problem: InputDataMessage, env: Environment) -> EnrichmentFailureMessage:
    """An unreadable `_sp`: the cross-navigation enrichment's failure when it is configured, else a built-in one."""
    for enrichment in env.enrichments:
        if isinstance(enrichment, CrossNavigation):
            return enrichment.failure(problem)
    return EnrichmentFailureMessage(None, problem)
