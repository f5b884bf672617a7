"""Bot flagging: a spiders_and_robots context on every event, from an IP list and ua-parser's crawler patterns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from enrich.enrichments.base import Enrichment
from enrich.outcome import Good
from tests.enrich.enrichments.events import build, enrich_one, payload, snowplow_config

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def _verdict(enrichment: Enrichment, *, ip: str, useragent: str | None) -> dict[str, Any]:
    outcome = enrich_one([enrichment], payload({"url": "https://a.com/"}, ip=ip, useragent=useragent))
    assert isinstance(outcome, Good), outcome  # the context validated against its schema in phase 3
    (context,) = json.loads(outcome.event.derived_contexts or "")["data"]
    assert context["schema"] == "iglu:com.iab.snowplow/spiders_and_robots/jsonschema/1-0-0"
    data: dict[str, Any] = context["data"]
    return data


@pytest.fixture
def flagger(tmp_path: Path) -> Enrichment:
    (tmp_path / "ip_exclude_current_cidr.txt").write_text("# data centres\n192.0.2.0/24\n2001:db8:dead::/48\n")
    return build(snowplow_config("iab_spiders_and_robots_enrichment", tmp_path))


def test_a_browser_passes_all(flagger: Enrichment) -> None:
    """A browser agent from an unlisted address is BROWSER / PASSED_ALL / NONE."""
    assert _verdict(flagger, ip="81.2.69.160", useragent=CHROME) == {
        "spiderOrRobot": False,
        "category": "BROWSER",
        "reason": "PASSED_ALL",
        "primaryImpact": "NONE",
    }


def test_a_crawler_agent_fails_the_user_agent_check(flagger: Enrichment) -> None:
    """Googlebot is a spider, reason FAILED_UA_EXCLUDE."""
    got = _verdict(flagger, ip="81.2.69.160", useragent=GOOGLEBOT)
    assert (got["spiderOrRobot"], got["category"], got["reason"]) == (True, "SPIDER_OR_ROBOT", "FAILED_UA_EXCLUDE")


@pytest.mark.parametrize("ip", ["192.0.2.77", "2001:db8:dead::1"])
def test_a_listed_address_fails_the_ip_check_first(flagger: Enrichment, ip: str) -> None:
    """An address in the ipFile ranges (IPv4 or IPv6) is flagged FAILED_IP_EXCLUDE, even with a browser agent."""
    got = _verdict(flagger, ip=ip, useragent=CHROME)
    assert (got["spiderOrRobot"], got["reason"]) == (True, "FAILED_IP_EXCLUDE")


def test_without_a_local_ip_file_only_agents_are_checked() -> None:
    """When the ipFile is not on disk the enrichment still flags crawler agents."""
    enrichment = build(snowplow_config("iab_spiders_and_robots_enrichment"))
    assert _verdict(enrichment, ip="192.0.2.77", useragent=CHROME)["reason"] == "PASSED_ALL"
    assert _verdict(enrichment, ip="192.0.2.77", useragent=GOOGLEBOT)["reason"] == "FAILED_UA_EXCLUDE"


def test_a_malformed_ip_file_is_a_config_error(tmp_path: Path) -> None:
    """A line that is not a CIDR range stops start-up with the file and line named."""
    (tmp_path / "ip_exclude_current_cidr.txt").write_text("10.0.0.0/8\nnot-a-range\n")
    with pytest.raises(ConfigError, match=r"ip_exclude_current_cidr.txt:2"):
        build(snowplow_config("iab_spiders_and_robots_enrichment", tmp_path))
