"""Derived contexts checked by the proof of their shape: validated once per shape, the same outcome as validating."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.badrows import EnrichmentFailureMessage, IgluErrorMessage, SchemaViolations
from core.iglu import SchemaKey
from enrich.enrichments import proofs
from enrich.enrichments.base import EnrichmentContext
from enrich.enrichments.proofs import Shape, Shapes
from enrich.enrichments.registry import build_chain
from enrich.event import EnrichedEvent
from enrich.outcome import Good
from enrich.pii_event import PiiEvent
from enrich.pipeline import enrich_payload
from tests.enrich.enrichments.events import CountingValidator, payload, snowplow_config
from tests.enrich.pipeline_env import ETL_TSTAMP, REPO_ROOT, make_env

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.0.0 Safari/537.36"
)
NAMES = ("iab_spiders_and_robots_enrichment", "ua_parser_config", "cookie_extractor_config",
         "http_header_extractor_config")  # fmt: skip


def _chain(*extra: str) -> list[Any]:
    return build_chain([snowplow_config(name) for name in (*NAMES, *extra)])


def _request(cookie: str, header: str, agent: str) -> Any:
    return payload({}, headers=(f"Cookie: sp={cookie}", f"Accept-Language: {header}"), useragent=agent)


def _good(chain: list[Any], env: Any, cookie: str, header: str, agent: str) -> Good:
    (outcome,) = enrich_payload(_request(cookie, header, agent), env, ETL_TSTAMP)
    assert isinstance(outcome, Good), getattr(outcome, "messages", outcome)
    return outcome


def test_each_shape_is_validated_once_per_validator() -> None:
    """Twenty events with different cookies, headers and agents: each context schema is validated once (UA: once
    per pattern of null fields), and a second validator proves each shape again."""
    chain = _chain()
    counting = CountingValidator()
    env = make_env(enrichments=tuple(chain), validator=counting)
    for i in range(20):
        good = _good(chain, env, f"id-{i}", f"lang-{i}", CHROME.format(100 + i))
        assert len(json.loads(good.event.derived_contexts or "")["data"]) == 4
    assert (counting.calls["http_cookie"], counting.calls["http_header"], counting.calls["spiders_and_robots"]) == (
        1,
        1,
        1,
    )
    assert counting.calls["ua_parser_context"] == 1  # these agents all leave the same fields null

    other = CountingValidator()
    _good(chain, make_env(enrichments=tuple(chain), validator=other), "x", "y", CHROME.format(99))
    assert sum(other.calls.values()) == 4


def test_pii_hashing_a_context_keeps_a_shape_free_of_strings() -> None:
    """The PII enrichment replaces the cookie's value by its hash: a string for a string, so no new validation."""
    chain = _chain("pii_enrichment_config")
    counting = CountingValidator()
    env = make_env(enrichments=tuple(chain), validator=counting)
    for i in range(5):
        good = _good(chain, env, f"id-{i}", "en", CHROME.format(100))
        cookie = next(c for c in json.loads(good.event.derived_contexts or "")["data"] if "http_cookie" in c["schema"])
        assert cookie["data"]["value"] != f"id-{i}" and len(cookie["data"]["value"]) == 64
    assert counting.calls["http_cookie"] == 1


def test_replacing_contexts_keeps_shapes_only_where_sound() -> None:
    """An untouched context keeps its shape; a rewritten one only when just strings changed and its shape allows."""
    ctx = EnrichmentContext({}, payload({}), EnrichedEvent())
    free, bound = Shape("free", {}, strings_free=True), Shape("bound", {})
    first, second, third = ({"schema": f"iglu:a/b{i}/jsonschema/1-0-0", "data": {}} for i in range(3))
    for sdj, shape in ((first, free), (second, bound), (third, free)):
        ctx.add_derived_context(sdj, shape)
    ctx.replace_derived_contexts([first, {**second}, {**third}], strings_only=True)
    assert ctx._shapes == [free, None, free]
    current = ctx.derived_contexts
    ctx.replace_derived_contexts([{**current[0]}, current[1], current[2]])  # the last two as they were
    assert ctx._shapes == [None, None, free]
    ctx.rewrite_derived_context(2, ctx.derived_contexts[2])  # the same context: nothing changes
    assert ctx._shapes == [None, None, free]
    ctx.rewrite_derived_context(2, {**third}, strings_only=True)
    assert ctx._shapes == [None, None, free]
    ctx.rewrite_derived_context(2, {**third})
    assert ctx._shapes == [None, None, None] and ctx.derived_contexts[2] == third


class _Invalid:
    """An enrichment whose context its schema rejects (a cookie without a name), given a shape all the same."""

    identifier = "invalid"
    config_schema = SchemaKey.parse("iglu:com.acme/invalid_config/jsonschema/1-0-0")

    def __init__(self) -> None:
        self.shape = Shape("no name", {})

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        ctx.add_derived_context(
            {"schema": "iglu:org.ietf/http_cookie/jsonschema/1-0-0", "data": {"value": "v"}}, self.shape
        )
        return None


def test_a_rejected_shape_is_validated_and_reported_every_time() -> None:
    """A shape its schema rejects is never proven: each event is a schema violation naming the context."""
    enrichment = _Invalid()
    counting = CountingValidator()
    env = make_env(enrichments=(enrichment,), validator=counting)
    for _ in range(3):
        (outcome,) = enrich_payload(payload({}), env, ETL_TSTAMP)
        assert isinstance(outcome, SchemaViolations), outcome
        (message,) = outcome.messages
        assert isinstance(message, IgluErrorMessage) and message.schema_key.name == "http_cookie"
    assert counting.calls["http_cookie"] == 3 and enrichment.shape.proofs == {}


_WARM = _chain("pii_enrichment_config")
_WARM_ENV = make_env(enrichments=tuple(_WARM))
_good(_WARM, _WARM_ENV, "seed", "seed", CHROME.format(100))  # every shape of these requests proven


@settings(max_examples=60, deadline=None)
@given(
    st.text(st.characters(codec="ascii", exclude_characters=";\r\n\x00"), min_size=1, max_size=40),
    st.text(st.characters(codec="ascii", exclude_characters="\r\n\x00"), max_size=40),
)
def test_proven_shapes_give_what_validation_gives(cookie: str, header: str) -> None:
    """Any cookie and header value: the event checked by proofs equals the one a fresh chain validates."""
    proven = _good(_WARM, make_env(enrichments=tuple(_WARM)), cookie, header, CHROME.format(100))
    fresh_chain = _chain("pii_enrichment_config")
    validated = _good(fresh_chain, make_env(enrichments=tuple(fresh_chain)), cookie, header, CHROME.format(100))
    assert proven.event.to_tsv() == validated.event.to_tsv()
    assert isinstance(proven.pii, PiiEvent) and isinstance(validated.pii, PiiEvent)
    assert proven.pii.enriched().to_tsv() == validated.pii.enriched().to_tsv()


def _properties(name: str) -> dict[str, Any]:
    schema = json.loads((REPO_ROOT / "schemas" / name / "jsonschema" / "1-0-0").read_text())
    assert schema.get("additionalProperties") is False
    properties: dict[str, Any] = schema["properties"]
    return properties


def test_the_shapes_leave_out_only_strings_their_schemas_constrain_by_type() -> None:
    """http_cookie, http_header and ua_parser_context: every property is typed only (string, or string or null),
    so neither a value nor its replacement by another string can change a verdict; only null-ness can."""
    for name in ("org.ietf/http_cookie", "org.ietf/http_header", "com.snowplowanalytics.snowplow/ua_parser_context"):
        for prop in _properties(name).values():
            assert set(prop) - {"description"} == {"type"}, (name, prop)
            assert prop["type"] in ("string", ["string", "null"], ["null", "string"]), (name, prop)


def test_an_invalidated_resolver_makes_every_shape_proven_anew() -> None:
    """After resolver.invalidate() (schemas may have changed), each shape is validated once more."""
    from registry.resolver import Resolver
    from registry.validation import Validator

    resolver = Resolver.from_locations([str(REPO_ROOT / "schemas")])
    counting = CountingValidator(Validator(resolver))
    chain = _chain()
    env = make_env(enrichments=tuple(chain), validator=counting)
    _good(chain, env, "a", "b", CHROME.format(100))
    _good(chain, env, "c", "d", CHROME.format(100))
    assert counting.calls["http_cookie"] == 1
    resolver.invalidate()
    _good(chain, env, "e", "f", CHROME.format(100))
    _good(chain, env, "g", "h", CHROME.format(100))
    assert counting.calls["http_cookie"] == 2 and counting.calls["spiders_and_robots"] == 2


def test_a_shape_book_gives_one_shape_per_name_sharing_its_proofs_up_to_its_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shapes.of: the same name gives the same shape, every shape shares the book's proofs and strings_free,
    and past MAX_PROOFS names a new name gets a shape that is not remembered."""
    monkeypatch.setattr(proofs, "MAX_PROOFS", 2)
    book = Shapes(strings_free=True)
    a, b = book.of("a"), book.of(("b", 1))
    assert book.of("a") is a and book.of(("b", 1)) is b
    assert a.proofs is b.proofs is book.proofs and a.strings_free and b.strings_free
    assert book.of("c") is not book.of("c")
