"""The JSON Schema `format` values eventkit checks, one implementation shared by the fast and the full validator.

Iglu's validator (networknt, draft-04 mode) checks formats; so do we, for the names below, with
the same function on both paths so they can never disagree. Unknown format names are ignored, as
draft-04 allows.

| format    | accepted                                                                  |
| --------- | ------------------------------------------------------------------------- |
| date-time | RFC 3339: `YYYY-MM-DDThh:mm:ss[.frac](Z or ±hh:mm)`, real calendar date   |
| date      | RFC 3339 full-date `YYYY-MM-DD`, real calendar date                        |
| time      | RFC 3339 full-time `hh:mm:ss[.frac](Z or ±hh:mm)`                          |
| email     | `local@domain.tld`, no spaces, one `@`                                     |
| hostname  | RFC 1123 labels (1-63 chars, letters/digits/hyphens), total ≤ 253          |
| ipv4      | dotted quad, each 0-255, no leading zeros                                  |
| ipv6      | anything Python's `ipaddress.IPv6Address` accepts (no zone id)             |
| uri       | a scheme (`[A-Za-z][A-Za-z0-9+.-]*:`) followed by at least one non-space   |
| uuid      | 8-4-4-4-12 hex digits                                                      |
| regex     | compiles with Python's `re`                                                |
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date

__all__ = ["FORMAT_CHECKS"]

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z", re.ASCII)
_TIME = r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([zZ]|[+-]([01]\d|2[0-3]):[0-5]\d)"
_TIME_RE = re.compile(_TIME + r"\Z", re.ASCII)
_DATE_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[tT]" + _TIME + r"\Z", re.ASCII)
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+\Z")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z", re.ASCII)
_IPV4 = re.compile(r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\Z", re.ASCII)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+\Z")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z", re.ASCII)


def _real_date(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def is_date_time(value: str) -> bool:
    m = _DATE_TIME.match(value)
    return m is not None and _real_date(m.group(1), m.group(2), m.group(3))


def is_date(value: str) -> bool:
    m = _DATE.match(value)
    return m is not None and _real_date(m.group(1), m.group(2), m.group(3))


def is_time(value: str) -> bool:
    return _TIME_RE.match(value) is not None


def is_email(value: str) -> bool:
    return _EMAIL.match(value) is not None


def is_hostname(value: str) -> bool:
    if not value or len(value) > 253:
        return False
    return all(_LABEL.match(label) for label in value.removesuffix(".").split("."))


def is_ipv4(value: str) -> bool:
    return _IPV4.match(value) is not None


def is_ipv6(value: str) -> bool:
    if "%" in value or not value.isascii():
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def is_uri(value: str) -> bool:
    return _URI.match(value) is not None


def is_uuid(value: str) -> bool:
    return _UUID.match(value) is not None


def is_regex(value: str) -> bool:
    try:
        re.compile(value)
    except re.error:
        return False
    return True


FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    "date-time": is_date_time,
    "date": is_date,
    "time": is_time,
    "email": is_email,
    "hostname": is_hostname,
    "ipv4": is_ipv4,
    "ipv6": is_ipv6,
    "uri": is_uri,
    "uuid": is_uuid,
    "regex": is_regex,
}
