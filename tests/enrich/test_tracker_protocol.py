"""Tracker-protocol parameters → atomic fields: each conversion kind, its error message, and the mapping rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from enrich.event import EnrichedEvent
from enrich.tracker_protocol import (
    MAPPING,
    MAX_TSTAMP_MS,
    MSG_BOOL,
    MSG_DEC,
    MSG_DIMS,
    MSG_EVENT,
    MSG_INT,
    MSG_PLATFORM,
    MSG_TS,
    MSG_TS_RANGE,
    MSG_UUID,
    ConversionError,
    MappedParameters,
    map_parameters,
    sanitise,
    to_bool,
    to_decimal,
    to_int,
    to_tstamp,
    to_uuid,
)


def mapped(**params: str) -> tuple[EnrichedEvent, list[tuple[str, str]]]:
    event = EnrichedEvent()
    result = map_parameters(event, params)
    return event, result.errors


@pytest.mark.parametrize(
    ("text", "expected"), [("0", 0), ("42", 42), ("-7", -7), ("+3", 3), ("2147483647", 2**31 - 1), ("null", None)]
)
def test_int_accepts_java_integers(text: str, expected: int | None) -> None:
    """Integers parse like Java's Integer (sign, ASCII digits, 32 bits); the text `null` is null."""
    assert to_int(text) == expected


@pytest.mark.parametrize("text", ["1.5", "2147483648", "-2147483649", " 1", "1_000", "0x1f", "١", "", "abc"])
def test_int_rejects_everything_else(text: str) -> None:
    """Anything Java's Integer would not parse is an error with the Java type in the message."""
    with pytest.raises(ConversionError, match=MSG_INT):
        to_int(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2.0", "2.0"), ("1e2", "1E+2"), ("-0.5", "-0.5"), (".5", "0.5"), ("5.", "5"), ("+1.25", "1.25")],
)
def test_decimal_keeps_the_written_scale(text: str, expected: str) -> None:
    """Decimals parse like BigDecimal and keep their scale (2.0 stays 2.0)."""
    value = to_decimal(text)
    assert value == Decimal(expected)
    assert str(value) == str(Decimal(expected))


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-inf", "1,5", " 1", "1e", "e5", "1e99999", "", "--1"])
def test_decimal_rejects_non_numbers(text: str) -> None:
    """NaN, infinities, padding and absurd exponents are not decimals."""
    with pytest.raises(ConversionError, match=MSG_DEC):
        to_decimal(text)


def test_bool_accepts_only_one_and_zero() -> None:
    """Only "1" and "0" are booleans; "true" or "yes" are errors."""
    assert to_bool("1") is True
    assert to_bool("0") is False
    for text in ("true", "yes", "2", "", "01"):
        with pytest.raises(ConversionError, match=MSG_BOOL):
            to_bool(text)


def test_timestamps_are_epoch_milliseconds_within_years_1_to_9999() -> None:
    """dtm/stm/ttm are integer ms; non-numbers and out-of-range years get distinct messages."""
    assert to_tstamp("1795690794412") == 1795690794412
    assert to_tstamp("0") == 0
    with pytest.raises(ConversionError, match=MSG_TS):
        to_tstamp("1795690794.412")
    with pytest.raises(ConversionError, match=MSG_TS):
        to_tstamp("2026-11-26")
    with pytest.raises(ConversionError, match=MSG_TS_RANGE):
        to_tstamp(str(MAX_TSTAMP_MS + 1))


def test_uuid_must_be_canonical_and_is_lower_cased() -> None:
    """UUIDs must be in 8-4-4-4-12 form (any case) and are stored lower-cased; braces and short forms fail."""
    assert to_uuid("A0F1F3A2-9A61-4C39-BC41-7C0A3B0A0001") == "a0f1f3a2-9a61-4c39-bc41-7c0a3b0a0001"
    for text in ("{a0f1f3a2-9a61-4c39-bc41-7c0a3b0a0001}", "a0f1f3a29a614c39bc417c0a3b0a0001", "1-1-1-1-1", "x"):
        with pytest.raises(ConversionError, match=MSG_UUID):
            to_uuid(text)


def test_dimensions_split_into_two_integers() -> None:
    """res/vp/ds are WIDTHxHEIGHT and fill two integer fields; other shapes are errors."""
    event, errors = mapped(res="1920x1080", vp="800x600", ds="1x2")
    assert (event.dvce_screenwidth, event.dvce_screenheight) == (1920, 1080)
    assert (event.br_viewwidth, event.br_viewheight) == (800, 600)
    assert (event.doc_width, event.doc_height) == (1, 2)
    assert errors == []
    _, errors = mapped(res="1920*1080", vp="800x", ds="99999999999x1")
    assert errors == [("res", MSG_DIMS), ("vp", MSG_DIMS), ("ds", MSG_DIMS)]


def test_strings_are_made_tsv_safe() -> None:
    """Tabs become four spaces, control characters (C0 and C1) vanish, an empty result is null."""
    assert sanitise("a\tb") == "a    b"
    assert sanitise("line\r\nbreak\x00\x7f\x85") == "linebreak"
    assert sanitise("\n") is None
    assert sanitise("café ✓") == "café ✓"


def test_event_and_platform_enumerations() -> None:
    """e maps to the enriched event names (legacy ev too); p accepts only the known platforms."""
    names = {"pv": "page_view", "pp": "page_ping", "se": "struct", "ev": "struct", "ue": "unstruct"}
    names |= {"tr": "transaction", "ti": "transaction_item", "ad": "ad_impression"}
    for code, name in names.items():
        assert mapped(e=code)[0].event == name
    for platform in ("web", "mob", "pc", "srv", "app", "tv", "cnsl", "iot", "headset"):
        assert mapped(p=platform)[0].platform == platform
    assert mapped(e="PV")[1] == [("e", MSG_EVENT)]
    assert mapped(p="desktop")[1] == [("p", MSG_PLATFORM)]


def test_all_errors_are_accumulated_and_other_fields_still_mapped() -> None:
    """Every bad parameter is reported, in parameter order, and the good ones are mapped anyway."""
    event, errors = mapped(eid="nope", aid="shop", dtm="x", vid="1.5", f_pdf="yes", se_va="NaN", tid="t")
    assert errors == [
        ("eid", MSG_UUID),
        ("dtm", MSG_TS),
        ("vid", MSG_INT),
        ("f_pdf", MSG_BOOL),
        ("se_va", MSG_DEC),
        ("tid", MSG_INT),
    ]
    assert event.app_id == "shop"
    assert all("nope" not in message for _, message in errors)


def test_full_mapping_of_a_rich_event() -> None:
    """Each documented parameter lands in its field with its type (spot check across every kind)."""
    params = {
        "e": "tr",
        "eid": "A0F1F3A2-9A61-4C39-BC41-7C0A3B0A0001",
        "tv": "js-4.10.1",
        "tna": "sp",
        "aid": "shop",
        "p": "web",
        "tid": "123",
        "uid": "user",
        "duid": "d",
        "vid": "3",
        "sid": "ade74568-9c0a-4fb4-a387-28296b893f55",
        "dtm": "1795690794412",
        "stm": "1795690794500",
        "ttm": "1795690794000",
        "lang": "en-GB",
        "cookie": "1",
        "f_ag": "0",
        "cd": "24",
        "tz": "Europe/London",
        "refr": "https://r.example/",
        "url": "https://p.example/",
        "page": "Title",
        "cs": "UTF-8",
        "fp": "12345",
        "tr_id": "o1",
        "tr_af": "aff",
        "tr_tt": "10.50",
        "tr_tx": "1.05",
        "tr_sh": "2",
        "tr_ci": "London",
        "tr_st": "LDN",
        "tr_co": "UK",
        "tr_cu": "GBP",
        "ti_id": "o1",
        "ti_sk": "sku",
        "ti_na": "Legacy name",
        "ti_ca": "cat",
        "ti_cu": "GBP",
        "ti_pr": "3.5",
        "ti_qu": "2",
        "pp_mix": "-1",
        "pp_max": "10",
        "pp_miy": "0",
        "pp_may": "500",
        "ev_ca": "legacy-cat",
    }
    event, errors = mapped(**params)
    assert errors == []
    assert event.event == "transaction"
    assert event.event_id == "a0f1f3a2-9a61-4c39-bc41-7c0a3b0a0001"
    assert (event.txn_id, event.domain_sessionidx, event.ti_quantity) == (123, 3, 2)
    assert (event.dvce_created_tstamp, event.dvce_sent_tstamp, event.true_tstamp) == (
        1795690794412,
        1795690794500,
        1795690794000,
    )
    assert (event.br_cookies, event.br_features_silverlight) == (True, False)
    assert (event.tr_total, event.tr_tax, event.tr_shipping, event.ti_price) == (
        Decimal("10.50"),
        Decimal("1.05"),
        Decimal("2"),
        Decimal("3.5"),
    )
    assert (event.pp_xoffset_min, event.pp_yoffset_max) == (-1, 500)
    assert (event.ti_name, event.se_category, event.user_fingerprint) == ("Legacy name", "legacy-cat", "12345")
    assert (event.page_url, event.page_referrer, event.page_title) == (
        "https://p.example/",
        "https://r.example/",
        "Title",
    )


def test_identity_overrides() -> None:
    """tnuid beats nuid whatever the order; ip keeps the first token; ua and cv override; unknown keys are ignored."""
    event, errors = mapped(tnuid="from-tnuid", nuid="from-nuid", ip="1.2.3.4|5.6.7.8", ua="UA", cv="c-1", zz="1")
    assert errors == []
    assert event.network_userid == "from-tnuid"
    assert event.user_ipaddress == "1.2.3.4"
    assert (event.useragent, event.v_collector) == ("UA", "c-1")
    assert mapped(ip="9.9.9.9 8.8.8.8")[0].user_ipaddress == "9.9.9.9"
    assert mapped(ip="9.9.9.9,8.8.8.8")[0].user_ipaddress == "9.9.9.9"


def test_empty_values_and_case_sensitive_keys() -> None:
    """An empty value is treated as absent for every kind; keys are case-sensitive (AID is not aid)."""
    event, errors = mapped(dtm="", vid="", aid="", AID="shop")
    assert errors == []
    assert (event.dvce_created_tstamp, event.domain_sessionidx, event.app_id) == (None, None, None)


def test_entity_parameters_are_handed_back_raw() -> None:
    """ue_pr/ue_px and co/cx are not mapped but returned (last one wins) for validation."""
    event = EnrichedEvent()
    result = map_parameters(event, {"ue_pr": "{}", "ue_px": "e30", "cx": "W10", "co": "[]"})
    assert result.unstruct == ("ue_px", "e30")
    assert result.contexts == ("co", "[]")
    assert event.unstruct_event is None


@given(st.dictionaries(st.text(max_size=6), st.text(max_size=20) | st.none(), max_size=20))
def test_mapping_never_raises(params: dict[str, str | None]) -> None:
    """Any parameter map maps without raising; errors name parameters that were given."""
    result = map_parameters(EnrichedEvent(), params)
    assert all(name in params for name, _ in result.errors)


_KNOWN = sorted(MAPPING)
_VALUES = st.sampled_from(["", "pv", "ue", "web", "1", "0", "12", "3x4", "1.5", "a\tb", "x\x00", "null"]) | st.text(
    max_size=8
)


@example([("se_ca", "a"), ("ev_ca", "b"), ("ti_na", "c"), ("ti_nm", "d"), ("res", "1x1")])
@example([("se_ca", "a"), ("ev_ca", "b\tc"), ("ti_na", ""), ("ti_nm", "d")])
@given(st.lists(st.tuples(st.sampled_from(_KNOWN) | st.text(max_size=4), _VALUES | st.none()), max_size=25))
def test_mapping_equals_applying_each_parameter_in_order(pairs: list[tuple[str, str | None]]) -> None:
    """The bulk mapping gives the same fields and errors as applying each known parameter's setter in order."""
    params = dict(pairs)
    event = EnrichedEvent()
    result = map_parameters(event, params)
    expected, reference = EnrichedEvent(), MappedParameters()
    for name, value in params.items():
        if value and name in MAPPING:
            try:
                MAPPING[name](expected, value, reference)
            except ConversionError as e:
                reference.errors.append((name, str(e)))
    if params.get("tnuid"):
        expected.network_userid = sanitise(params["tnuid"] or "")
    assert event == expected
    assert (result.errors, result.unstruct, result.contexts) == (
        reference.errors,
        reference.unstruct,
        reference.contexts,
    )
