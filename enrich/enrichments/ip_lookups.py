"""IP lookups: geo_* and ip_* fields from MaxMind-format databases (GeoIP2/GeoLite2 City, ISP, Domain, Connection-Type).

ip_lookups 2-0-0 parameters name up to four databases (`geo`, `isp`, `domain`, `connectionType`,
each `{database, uri}`). Snowplow downloads `uri`/`database` before start; eventkit reads them
locally: a `file://` uri, else `database` relative to the config's folder (or absolute). A missing
file is a ConfigError at start-up. An address missing from a database, or not an address at all,
simply sets nothing (the lookup never fails an event, as in Snowplow).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import maxminddb

from core.badrows import EnrichmentFailureMessage
from core.errors import ConfigError
from core.iglu import SchemaKey
from enrich.enrichments.base import BuiltInEnrichment, EnrichmentContext
from enrich.enrichments.config import EnrichmentConfig
from enrich.event import EnrichedEvent

__all__ = ["DATABASES", "IpLookups", "build", "database_path"]

DATABASES: Final = ("geo", "isp", "domain", "connectionType")
_CACHE_SIZE: Final = 8_192


def database_path(config: EnrichmentConfig, entry: dict[str, Any]) -> Path:
    """Where the database of one `{database, uri}` entry is on this machine."""
    database = str(entry.get("database", ""))
    uri = str(entry.get("uri", ""))
    if uri.startswith("file://"):
        path = Path(unquote(urlsplit(uri).path)) / database
    else:
        path = Path(database) if Path(database).is_absolute() else config.folder / database
    if not path.is_file():
        raise ConfigError(
            f"{config.source or config.name}: IP lookup database {path} not found (eventkit does not download it)"
        )
    return path


def _name(record: dict[str, Any] | None) -> str | None:
    if not record:
        return None
    names = record.get("names")
    return names.get("en") if isinstance(names, dict) else None


def _geo_fields(record: dict[str, Any]) -> tuple[Any, ...]:
    """(country, region, city, zipcode, latitude, longitude, region_name, timezone) from a City record."""
    country = record.get("country") or record.get("registered_country") or {}
    subdivisions = record.get("subdivisions") or [{}]
    location = record.get("location") or {}
    postal = record.get("postal") or {}
    first = subdivisions[0]
    return (
        country.get("iso_code"),
        first.get("iso_code"),
        _name(record.get("city")),
        postal.get("code"),
        location.get("latitude"),
        location.get("longitude"),
        _name(first),
        location.get("time_zone"),
    )


class IpLookups(BuiltInEnrichment):
    """Looks user_ipaddress up in each configured database; results cached per address."""

    __slots__ = ("_lookup", "readers")

    def __init__(self, identifier: str, config_schema: SchemaKey, readers: dict[str, maxminddb.Reader]) -> None:
        self.identifier = identifier
        self.config_schema = config_schema
        self.readers = readers
        self._lookup = lru_cache(maxsize=_CACHE_SIZE)(self._fields)

    def _get(self, kind: str, ip: str) -> dict[str, Any] | None:
        reader = self.readers.get(kind)
        if reader is None:
            return None
        try:
            record = reader.get(ip)
        except ValueError:  # not an IP address
            return None
        return record if isinstance(record, dict) else None

    def _fields(self, ip: str) -> tuple[tuple[str, Any], ...]:
        """(atomic field, value) for each value the databases hold for `ip` (cached per address)."""
        fields: dict[str, Any] = {}
        geo = self._get("geo", ip)
        if geo is not None:
            names = ("geo_country", "geo_region", "geo_city", "geo_zipcode", "geo_latitude", "geo_longitude",
                     "geo_region_name", "geo_timezone")  # fmt: skip
            for name, value in zip(names, _geo_fields(geo), strict=True):
                if value is not None:
                    fields[name] = float(value) if name in ("geo_latitude", "geo_longitude") else str(value)
        isp = self._get("isp", ip)
        if isp is not None:
            if isp.get("isp"):
                fields["ip_isp"] = str(isp["isp"])
            if isp.get("organization"):
                fields["ip_organization"] = str(isp["organization"])
        domain = self._get("domain", ip)
        if domain is not None and domain.get("domain"):
            fields["ip_domain"] = str(domain["domain"])
        connection = self._get("connectionType", ip)
        if connection is not None and connection.get("connection_type"):
            fields["ip_netspeed"] = str(connection["connection_type"])
        return tuple(fields.items())

    def enrich(self, event: EnrichedEvent, ctx: EnrichmentContext) -> list[EnrichmentFailureMessage] | None:
        ip = event.user_ipaddress
        if ip:
            for name, value in self._lookup(ip):  # atomic field names only (see _fields)
                setattr(event, name, value)
        return None


def build(config: EnrichmentConfig) -> IpLookups:
    """Open each configured database (memory-mapped, shared by every event)."""
    readers: dict[str, maxminddb.Reader] = {}
    for kind in DATABASES:
        entry = config.parameters.get(kind)
        if isinstance(entry, dict):
            path = database_path(config, entry)
            try:
                readers[kind] = maxminddb.open_database(str(path), maxminddb.MODE_AUTO)
            except (OSError, maxminddb.InvalidDatabaseError, ValueError) as e:
                raise ConfigError(f"{config.source or config.name}: {path} is not a MaxMind database ({e})") from None
    return IpLookups(config.name, config.schema, readers)
