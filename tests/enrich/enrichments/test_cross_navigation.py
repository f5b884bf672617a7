"""Cross-navigation: `_sp` in the page URL → refr_domain_userid, refr_dvce_tstamp and cross_navigation context."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from core.badrows import EnrichmentFailures, InputDataMessage
from core.raw import format_instant
from enrich.enrichments.base import EnrichmentContext
from enrich.enrichments.cross_navigation_sp import CrossNavigationValue, parse_sp, read_sp
from enrich.event import EnrichedEvent
from enrich.outcome import Good, Outcome
from enrich.tracker_protocol import MAX_TSTAMP_MS, MIN_TSTAMP_MS
from registry.json_formats import is_date_time
from tests.enrich.enrichments.events import b64, build, enrich_one, payload, snowplow_config
from tests.enrich.pipeline_env import REPO_ROOT

DUID = "a94c1e3a-bbc7-455f-9290-a5cabafb5f22"
SID = "ade74568-9c0a-4fb4-a387-28296b893f55"


def _run(sp: str) -> Outcome:
    enrichment = build(snowplow_config("cross_navigation_config"))
    return enrich_one([enrichment], payload({"url": f"https://b.com/landing?x=1&_sp={sp}"}))


def test_short_form_sets_the_fields_and_the_context() -> None:
    """`<duid>.<ms>` sets refr_domain_userid/refr_dvce_tstamp and a context with the other parts null."""
    outcome = _run(f"{DUID}.1795690000123")
    assert isinstance(outcome, Good), outcome
    assert outcome.event.refr_domain_userid == DUID
    assert outcome.event.refr_dvce_tstamp == 1795690000123
    (context,) = json.loads(outcome.event.derived_contexts or "")["data"]
    assert context["schema"] == "iglu:com.snowplowanalytics.snowplow/cross_navigation/jsonschema/1-0-0"
    assert context["data"] == {
        "domain_user_id": DUID,
        "timestamp": "2026-11-26T10:46:40.123Z",
        "session_id": None,
        "user_id": None,
        "source_id": None,
        "source_platform": None,
        "reason": None,
    }


def test_extended_form_decodes_the_base64_parts() -> None:
    """The seven-part form carries the session id, base64 user id, source id and reason, and the platform."""
    sp = f"{DUID}.1795690000123.{SID}.{b64('user@example.com')}.{b64('shop-app')}.mob.{b64('checkout link')}"
    outcome = _run(sp)
    assert isinstance(outcome, Good), outcome
    data = json.loads(outcome.event.derived_contexts or "")["data"][0]["data"]
    assert (data["session_id"], data["user_id"], data["source_id"]) == (SID, "user@example.com", "shop-app")
    assert (data["source_platform"], data["reason"]) == ("mob", "checkout link")


def test_a_bad_timestamp_is_this_enrichments_failure() -> None:
    """A non-numeric timestamp sends the event to enrichment_failures naming cross_navigation_config."""
    outcome = _run(f"{DUID}.yesterday")
    assert isinstance(outcome, EnrichmentFailures)
    (message,) = outcome.messages
    assert message.enrichment is not None and message.enrichment.identifier == "cross_navigation_config"
    assert message.message == InputDataMessage("sp_dtm", "yesterday", "not in the expected format: ms since epoch")


def test_no_sp_parameter_changes_nothing() -> None:
    """Without `_sp` the refr_* cross-navigation fields stay null and no context is added."""
    enrichment = build(snowplow_config("cross_navigation_config"))
    outcome = enrich_one([enrichment], payload({"url": "https://b.com/?x=_sp"}))
    assert isinstance(outcome, Good)
    assert outcome.event.refr_domain_userid is None and outcome.event.derived_contexts is None


def test_without_the_enrichment_sp_still_sets_the_refr_fields_but_no_context() -> None:
    """`_sp` is always parsed (snowplow.md §3.1 step 11); only the context needs the enrichment."""
    outcome = enrich_one([], payload({"url": f"https://b.com/landing?_sp={DUID}.1795690000123"}))
    assert isinstance(outcome, Good), outcome
    assert outcome.event.refr_domain_userid == DUID
    assert outcome.event.refr_dvce_tstamp == 1795690000123
    assert outcome.event.derived_contexts is None


def test_without_the_enrichment_a_bad_timestamp_is_a_built_in_failure() -> None:
    """An unreadable `_sp` timestamp is an enrichment failure naming no enrichment when none is configured."""
    outcome = enrich_one([], payload({"url": f"https://b.com/?_sp={DUID}.yesterday"}))
    assert isinstance(outcome, EnrichmentFailures), outcome
    (message,) = outcome.messages
    assert message.enrichment is None
    assert message.message == InputDataMessage("sp_dtm", "yesterday", "not in the expected format: ms since epoch")


def test_read_sp_takes_the_first_sp_pair() -> None:
    """With two `_sp` parameters the first wins; without one there is nothing to read."""
    first = read_sp([("a", "1"), ("_sp", f"{DUID}.1"), ("_sp", "other.2")])
    assert isinstance(first, CrossNavigationValue)
    assert (first.domain_user_id, first.timestamp) == (DUID, 1)
    assert read_sp([("sp", "x.1")]) is None


def test_the_context_reads_sp_itself_unless_given_the_pipelines_reading() -> None:
    """EnrichmentContext.sp parses the page URL's `_sp` when nobody gave it; given (known_sp), it is taken as is."""
    event = EnrichedEvent(page_urlquery=f"a=1&_sp={DUID}.1795690000123")
    read = EnrichmentContext({}, payload({}), event).sp
    assert isinstance(read, CrossNavigationValue)
    assert (read.domain_user_id, read.timestamp) == (DUID, 1795690000123)
    given_ctx = EnrichmentContext({}, payload({}), event)
    given_ctx.known_sp(None)
    assert given_ctx.sp is None
    assert EnrichmentContext({}, payload({}), EnrichedEvent()).sp is None


def test_the_enrichment_attaches_what_the_pipeline_read() -> None:
    """The enrichment's context comes from the reading it is handed, not from a second parse of the page URL."""
    event = EnrichedEvent(page_urlquery=f"_sp={DUID}.1795690000123")
    ctx = EnrichmentContext({}, payload({}), event)
    reading = parse_sp(f"other.1795690000999.{SID}")
    ctx.known_sp(reading)
    _WARM.enrich(event, ctx)
    (context,) = ctx.derived_contexts
    assert context["data"]["domain_user_id"] == "other" and context["data"]["session_id"] == SID


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=80))
def test_parse_sp_never_raises(text: str) -> None:
    """Any `_sp` text parses to parts or to an input-data message; nothing raises."""
    assert isinstance(parse_sp(text), CrossNavigationValue | InputDataMessage)


@given(st.integers(min_value=MIN_TSTAMP_MS, max_value=MAX_TSTAMP_MS))
def test_the_context_timestamp_is_format_instant(ms: int) -> None:
    """The context's timestamp is exactly core.raw.format_instant (any year 1..9999)."""
    value = parse_sp(f"abc.{ms}") if ms >= 0 else None
    if isinstance(value, CrossNavigationValue):
        assert value.context()["data"]["timestamp"] == format_instant(ms)


@given(st.integers(min_value=MIN_TSTAMP_MS, max_value=MAX_TSTAMP_MS))
def test_every_context_timestamp_is_a_date_time(ms: int) -> None:
    """The timestamp the shape leaves out always passes the schema's date-time format."""
    assert is_date_time(format_instant(ms))


_WARM = build(snowplow_config("cross_navigation_config"))
_PART = st.one_of(
    st.just(""),
    st.just(SID),
    st.text(st.sampled_from("abcdef0123456789-"), min_size=1, max_size=40),
    st.text(st.sampled_from("ab"), min_size=120, max_size=140),
)
_PLATFORMS = st.sampled_from(["", "web", "mob", "srv", "tv", "nope"])


@settings(max_examples=80, deadline=None)
@given(_PART, _PART, st.sampled_from(["", b64("u"), b64("x" * 4097)]), _PLATFORMS)
def test_proven_shapes_give_what_validation_gives(duid: str, session: str, user: str, platform: str) -> None:
    """Any `_sp`: the outcome checked by the proofs of a warm enrichment equals the one a fresh enrichment validates."""
    sp = f"{duid}.1795690000123.{session}.{user}..{platform}."
    request = payload({"url": f"https://b.com/landing?_sp={sp}"})
    proven = enrich_one([_WARM], request)
    validated = enrich_one([build(snowplow_config("cross_navigation_config"))], request)
    assert type(proven) is type(validated)
    if isinstance(proven, Good) and isinstance(validated, Good):
        assert proven.event.to_tsv() == validated.event.to_tsv()
    else:
        assert proven.to_json() == validated.to_json()  # type: ignore[union-attr]


def test_the_schema_refuses_only_what_the_shape_names() -> None:
    """cross_navigation/1-0-0: the limits and formats shape_name classifies by, and nothing else."""
    schema = json.loads((REPO_ROOT / "schemas" / "com.snowplowanalytics.snowplow" / "cross_navigation" / "jsonschema"
                         / "1-0-0").read_text())  # fmt: skip
    props = {name: {k: v for k, v in p.items() if k != "description"} for name, p in schema["properties"].items()}
    assert props["domain_user_id"] == {"type": "string", "maxLength": 128}
    assert props["timestamp"] == {"type": "string", "format": "date-time"}
    assert props["session_id"] == {"type": ["null", "string"], "format": "uuid"}
    for name in ("user_id", "source_id", "reason"):
        assert props[name] == {"type": ["null", "string"], "maxLength": 4096}
    assert set(props["source_platform"]) == {"type", "enum"}
    assert schema["additionalProperties"] is False and set(schema["required"]) <= {"domain_user_id", "timestamp"}
