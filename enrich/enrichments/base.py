"""The enrichment plug-in contract: what an enrichment receives, what it may change, how it reports failure.

An enrichment runs in phase 2, after the tracker-protocol mapping and Iglu validation succeeded, in
the order of `Environment.enrichments`. It may set atomic fields on the event and attach derived
contexts through the context; it reports problems by returning failure messages (it never raises:
the pipeline turns any exception into an enrichment failure naming the enrichment anyway), except
that a core.errors.TransientError (a lookup service down) propagates so the worker retries the
message. Derived contexts are validated against their schemas in phase 3, together with the atomic
field lengths, so an enrichment may set any field and rely on the check (a context added with its
shape is checked by the shape's proof once proven: enrich/enrichments/proofs.py). The PII enrichment may
also ask for a pii_transformation event (`emit_pii_transformation`), which the pipeline builds,
validates and attaches to the good event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol
from urllib.parse import unquote

from mypy_extensions import mypyc_attr

from core.badrows.messages import EnrichmentFailureMessage, EnrichmentInformation, InputDataMessage
from core.iglu import SchemaKey
from core.raw import CollectorPayload, split_headers
from enrich.enrichments.cross_navigation_sp import CrossNavigationValue, read_sp
from enrich.enrichments.proofs import Shape, checked_entity, validator_generation
from enrich.entities import Entities
from enrich.event import EnrichedEvent
from enrich.pii_transformation import PiiTransformation
from registry.validator import SchemaValidator

__all__ = ["BuiltInEnrichment", "Enrichment", "EnrichmentContext", "information", "parse_query"]


# Every two-hex-digit escape, as urllib.parse.unquote_to_bytes reads them.
_ESCAPES: Final = {
    (a + b).encode(): bytes.fromhex(a + b) for a in "0123456789abcdefABCDEF" for b in "0123456789abcdefABCDEF"
}


def _decode(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    return _unquote(text) if "%" in text else text


def _unquote(text: str) -> str:
    """urllib.parse.unquote(text, errors="replace"), done here for ASCII text (urllib's is interpreted Python, and
    a URL's query is ASCII): a `%` and two hex digits is that byte, any other `%` stays, the bytes are UTF-8."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return unquote(text, errors="replace")
    pieces = raw.split(b"%")
    out = [pieces[0]]
    for i in range(1, len(pieces)):
        piece = pieces[i]
        byte = _ESCAPES.get(piece[:2])
        if byte is None:
            out.append(b"%")
            out.append(piece)
        else:
            out.append(byte)
            out.append(piece[2:])
    return b"".join(out).decode("utf-8", "replace")


def parse_query(query: str) -> list[tuple[str, str]]:
    """`urllib.parse.parse_qsl(query, keep_blank_values=True)`, without its per-pair overhead (pairs split on
    `&`, `+` is a space, percent escapes decoded with U+FFFD for bad UTF-8, a pair without `=` has value "")."""
    pairs: list[tuple[str, str]] = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            if "%" in part or "+" in part:
                pairs.append((_decode(name), _decode(value)))
            else:  # nothing to decode (the usual case)
                pairs.append((name, value))
    return pairs


# The last request's headers and their pairs: a request's events come one after another and share its headers.
_last_headers: tuple[tuple[str, ...], tuple[tuple[str, str], ...]] = ((), ())


def _split_headers(headers: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """split_headers, once per request (the same tuple of headers again gives the pairs made for it)."""
    global _last_headers
    last = _last_headers
    if last[0] is headers:
        return last[1]
    pairs = tuple(split_headers(headers))
    _last_headers = (headers, pairs)
    return pairs


class Enrichment(Protocol):
    """One configured enrichment (e.g. campaign attribution, IP anonymisation)."""

    @property
    def identifier(self) -> str: ...  # e.g. "campaign_attribution"; shown in enrichment_failures

    @property
    def config_schema(self) -> SchemaKey: ...  # the Iglu key of its configuration

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None: ...


@mypyc_attr(allow_interpreted_subclasses=True)
class BuiltInEnrichment:
    """The base of the enrichments shipped here (an Enrichment), compiled with the pipeline. Any other object with
    the protocol's attributes is an enrichment too. Users' own enrichments (enrich/enrichments/python.py) may
    subclass it: the compiled build allows interpreted subclasses of this class (and of no shipped enrichment)."""

    __slots__ = ("config_schema", "identifier")

    identifier: str
    config_schema: SchemaKey

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        raise NotImplementedError


def information(enrichment: Enrichment) -> EnrichmentInformation:
    """The `{schemaKey, identifier}` block of this enrichment's failure messages."""
    return EnrichmentInformation(enrichment.config_schema, enrichment.identifier)


class EnrichmentContext:
    """Read access to what the event came from, and the one way to add derived contexts."""

    __slots__ = ("_derived", "_event", "_headers", "_page_query", "_shapes", "_sp", "_sp_read", "params", "payload",
                 "pii_transformation", "tracker_event_id")  # fmt: skip

    def __init__(self, params: Mapping[str, str | None], payload: CollectorPayload, event: EnrichedEvent) -> None:
        self.params = params  # the raw tracker parameters of this event (after the adapter)
        self.payload = payload  # the collector payload it came in
        self._event = event
        self._derived: list[dict[str, Any]] = []
        self._shapes: list[Shape | None] = []  # one per derived context
        self._headers: tuple[tuple[str, str], ...] | None = None
        self._page_query: list[tuple[str, str]] | None = None
        self._sp: CrossNavigationValue | InputDataMessage | None = None
        self._sp_read = False
        self.pii_transformation: PiiTransformation | None = None  # set by emit_pii_transformation
        # The event id the tracker sent, as phase 1 accepted it: a canonical (lower-case 8-4-4-4-12) UUID. None when
        # there was none, or when whoever made this context does not say (the pipeline does).
        self.tracker_event_id: str | None = None

    @property
    def headers(self) -> Sequence[tuple[str, str]]:
        """Request headers as (name, value) pairs, in arrival order (cookies one entry each)."""
        if self._headers is None:
            self._headers = _split_headers(self.payload.headers)
        return self._headers

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        lowered = name.lower()
        for n, v in self.headers:
            if n.lower() == lowered:
                return v
        return None

    @property
    def page_query(self) -> Sequence[tuple[str, str]]:
        """The page URL's query parameters, decoded, in order (blank values kept)."""
        if self._page_query is None:
            query = self._event.page_urlquery
            self._page_query = parse_query(query) if query else []
        return self._page_query

    @property
    def sp(self) -> CrossNavigationValue | InputDataMessage | None:
        """The page URL's first `_sp` parameter, parsed (enrich/enrichments/cross_navigation_sp.py): None without one,
        the problem when its timestamp is unreadable."""
        if not self._sp_read:
            self.known_sp(read_sp(self.page_query))
        return self._sp

    def known_sp(self, sp: CrossNavigationValue | InputDataMessage | None) -> None:
        """Give `sp` as already read: the pipeline's built-in cross-navigation step parses `_sp` for every event."""
        self._sp = sp
        self._sp_read = True

    def add_derived_context(self, sdj: dict[str, Any], shape: Shape | None = None) -> None:
        """Attach `{"schema": "iglu:...", "data": ...}` to derived_contexts (checked in phase 3, by the proof of
        its `shape` once proven)."""
        self._derived.append(sdj)
        self._shapes.append(shape)

    @property
    def derived_contexts(self) -> Sequence[dict[str, Any]]:
        return tuple(self._derived)

    def emit_pii_transformation(self, transformation: PiiTransformation) -> None:
        """Ask for a pii_transformation event (its entity, parent_event context and shape) beside this one."""
        self.pii_transformation = transformation

    def replace_derived_contexts(self, contexts: Sequence[dict[str, Any]], *, strings_only: bool = False) -> None:
        """Swap the derived contexts added so far for rewritten ones (PII pseudonymisation hashes inside them).

        A context left as it was keeps its shape; a rewritten one keeps it only when `strings_only` says
        just string values changed and its shape does not depend on strings.
        """
        shapes: list[Shape | None] = [None] * len(contexts)
        if len(contexts) == len(self._derived):
            for i, (new, old, shape) in enumerate(zip(contexts, self._derived, self._shapes, strict=True)):
                if new is old or (strings_only and shape is not None and shape.strings_free):
                    shapes[i] = shape
        self._derived = list(contexts)
        self._shapes = shapes

    def rewrite_derived_context(self, index: int, sdj: dict[str, Any], *, strings_only: bool = False) -> None:
        """Swap one derived context for a rewritten one (as replace_derived_contexts does for all)."""
        if sdj is not self._derived[index]:
            self._derived[index] = sdj
            shape = self._shapes[index]
            if shape is not None and not (strings_only and shape.strings_free):
                self._shapes[index] = None

    def checked_derived_contexts(self, validator: SchemaValidator, checked: Entities) -> list[dict[str, Any]]:
        """Phase 3: the derived contexts that pass their schemas, as output; what failed is in `checked.errors`
        (and validation_info contexts of superseded schemas in `checked.derived`)."""
        out: list[dict[str, Any]] = []
        generation = validator_generation(validator)
        derived, shapes = self._derived, self._shapes  # one shape per context
        for i in range(len(derived)):
            validated = checked_entity(derived[i], shapes[i], validator, checked, generation)
            if validated is not None:
                out.append(validated[1])
        return out
