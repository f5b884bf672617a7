"""IP lookups (MaxMind databases built here) and IP anonymisation, in Snowplow's order."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrich.enrichments.anon_ip import anonymise_ip
from enrich.enrichments.base import Enrichment
from enrich.enrichments.registry import build_chain
from enrich.outcome import Good
from tests.enrich.enrichments.events import build, config, enrich_one, payload, snowplow_config
from tests.enrich.enrichments.mmdb import write_databases


@pytest.fixture(scope="module")
def lookups(tmp_path_factory: pytest.TempPathFactory) -> Enrichment:
    folder = tmp_path_factory.mktemp("mmdb")
    write_databases(folder)
    return build(snowplow_config("ip_lookups", folder))


def _event(chain: list[Enrichment], ip: str) -> Good:
    outcome = enrich_one(chain, payload({"url": "https://a.com/"}, ip=ip))
    assert isinstance(outcome, Good), outcome
    return outcome


def test_ipv4_lookup_fills_geo_and_ip_fields(lookups: Enrichment) -> None:
    """A City/ISP/Domain/Connection-Type hit sets every geo_* and ip_* field from its database."""
    e = _event([lookups], "81.2.69.160").event
    assert (e.geo_country, e.geo_region, e.geo_city, e.geo_zipcode) == ("GB", "ENG", "London", "EC1A")
    assert (e.geo_latitude, e.geo_longitude) == (51.5142, -0.0931)
    assert (e.geo_region_name, e.geo_timezone) == ("England", "Europe/London")
    assert (e.ip_isp, e.ip_organization, e.ip_domain, e.ip_netspeed) == (
        "Andrews & Arnold",
        "AAISP",
        "aa.net.uk",
        "Cable/DSL",
    )


def test_ipv6_lookup_uses_the_same_databases(lookups: Enrichment) -> None:
    """An IPv6 address in a covered network gets its geo fields (and none it has no data for)."""
    e = _event([lookups], "2a02:1234::5").event
    assert (e.geo_country, e.geo_city, e.geo_timezone) == ("DE", "Berlin", "Europe/Berlin")
    assert e.geo_region is None and e.ip_isp is None


def test_an_address_not_in_the_database_sets_nothing(lookups: Enrichment) -> None:
    """A miss is not a failure: the event is good with every geo field null."""
    e = _event([lookups], "8.8.8.8").event
    assert e.geo_country is None and e.ip_isp is None


def test_lookups_see_the_full_address_before_anonymisation(tmp_path: Path) -> None:
    """With both configured (files in either order) the lookup runs first, then the address is masked."""
    write_databases(tmp_path)
    chain = build_chain([snowplow_config("anon_ip"), snowplow_config("ip_lookups", tmp_path)])
    e = _event(chain, "81.2.69.160").event
    assert e.geo_city == "London"
    assert e.user_ipaddress == "81.2.69.x"


@pytest.mark.parametrize(
    ("ip", "octets", "segments", "expected"),
    [
        ("255.255.255.255", 1, 1, "255.255.255.x"),
        ("255.255.255.255", 3, 1, "255.x.x.x"),
        ("10.0.0.1", 4, 1, "x.x.x.x"),
        ("2001:db8::ff00:42:8329", 1, 2, "2001:db8:0:0:0:ff00:x:x"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", 1, 8, "x:x:x:x:x:x:x:x"),
        ("::ffff:1.2.3.4", 2, 1, "::ffff:1.2.x.x"),
        ("not-an-ip", 2, 2, "not-an-ip"),
        ("unknown", 1, 1, "unknown"),
    ],
)
def test_anonymisation_masks_octets_and_segments(ip: str, octets: int, segments: int, expected: str) -> None:
    """The documented examples: last octets/segments become x, IPv6 in full Java form, others untouched."""
    assert anonymise_ip(ip, octets, segments) == expected


def test_anon_ip_1_0_0_applies_octets_to_ipv6() -> None:
    """Without anonSegments (schema 1-0-0) anonOctets is used for IPv6 too."""
    enrichment = build(config("iglu:com.snowplowanalytics.snowplow/anon_ip/jsonschema/1-0-0", {"anonOctets": 2}))
    assert _event([enrichment], "2001:db8::1").event.user_ipaddress == "2001:db8:0:0:0:0:x:x"
    assert _event([enrichment], "81.2.69.160").event.user_ipaddress == "81.2.x.x"


@given(st.ip_addresses(v=4), st.integers(1, 4))
def test_ipv4_anonymisation_keeps_the_prefix_and_masks_exactly_n(address: ipaddress.IPv4Address, n: int) -> None:
    """For every IPv4 address the first 4-n octets survive and exactly n become x."""
    parts = anonymise_ip(str(address), n, 1).split(".")
    assert parts[: 4 - n] == str(address).split(".")[: 4 - n]
    assert parts[4 - n :] == ["x"] * n


@given(st.ip_addresses(v=6), st.integers(1, 8))
def test_ipv6_anonymisation_keeps_the_prefix_and_masks_exactly_n(address: ipaddress.IPv6Address, n: int) -> None:
    """For every IPv6 address (not IPv4-mapped) 8 segments remain, the first 8-n equal to the address's."""
    if address.ipv4_mapped is not None:
        return
    parts = anonymise_ip(str(address), 1, n).split(":")
    assert len(parts) == 8
    assert [int(p, 16) for p in parts[: 8 - n]] == [int(p, 16) for p in address.exploded.split(":")[: 8 - n]]
    assert parts[8 - n :] == ["x"] * n
