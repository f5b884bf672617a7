"""Tiny MaxMind-format databases for tests, written with mmdb-writer (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet  # type: ignore[import-untyped]  # netaddr ships no type hints

__all__ = ["CITY", "write_databases"]

CITY: dict[str, Any] = {
    "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
    "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
    "city": {"names": {"en": "London"}},
    "postal": {"code": "EC1A"},
    "location": {"latitude": 51.5142, "longitude": -0.0931, "time_zone": "Europe/London"},
}
CITY_V6: dict[str, Any] = {
    "country": {"iso_code": "DE", "names": {"en": "Germany"}},
    "city": {"names": {"en": "Berlin"}},
    "location": {"latitude": 52.52, "longitude": 13.405, "time_zone": "Europe/Berlin"},
}


def _write(path: Path, kind: str, networks: dict[str, dict[str, Any]]) -> None:
    writer = MMDBWriter(ip_version=6, database_type=kind, ipv4_compatible=True)
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))


def write_databases(folder: Path) -> dict[str, Path]:
    """City, ISP, Domain and Connection-Type databases covering 81.2.69.0/24 and 2a02:1234::/32."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "geo": ("GeoLite2-City.mmdb", "GeoLite2-City", {"81.2.69.0/24": CITY, "2a02:1234::/32": CITY_V6}),
        "isp": (
            "GeoIP2-ISP.mmdb",
            "GeoIP2-ISP",
            {"81.2.69.0/24": {"isp": "Andrews & Arnold", "organization": "AAISP"}},
        ),
        "domain": ("GeoIP2-Domain.mmdb", "GeoIP2-Domain", {"81.2.69.0/24": {"domain": "aa.net.uk"}}),
        "connectionType": (
            "GeoIP2-Connection-Type.mmdb",
            "GeoIP2-Connection-Type",
            {"81.2.69.0/24": {"connection_type": "Cable/DSL"}},
        ),
    }
    out: dict[str, Path] = {}
    for kind, (name, db_type, networks) in files.items():
        _write(folder / name, db_type, networks)
        out[kind] = folder / name
    return out
