"""Bad rows checked against their published schemas (bundled iglu-central), draft-04 formats checked strictly.

jsonschema does not check draft-04 formats unless told to, and knows no "uuid" in draft-04, so the
validators here carry their own date-time (RFC 3339) and uuid checks. Each schema is loaded once.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

from core.locations import BUNDLED_SCHEMAS

__all__ = ["STRICT_FORMATS", "assert_valid_bad_row", "bad_row_validator", "is_date_time", "is_uuid"]

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)
STRICT_FORMATS = FormatChecker(formats=())


@STRICT_FORMATS.checks("date-time")
def is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _RFC3339.fullmatch(value) is None:
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # raises on 2026-13-45
    return True


@STRICT_FORMATS.checks("uuid", raises=ValueError)
def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", value) is not None


@cache
def bad_row_validator(path: str) -> Draft4Validator:
    """The validator for the bundled schema at `path` (`vendor/name/format/version`)."""
    schema = json.loads((BUNDLED_SCHEMAS / path).read_text())
    return Draft4Validator(schema, format_checker=STRICT_FORMATS)


def assert_valid_bad_row(row: dict[str, Any]) -> None:
    """Raise (jsonschema.ValidationError) unless the bad row's data is valid against the schema its `schema` names."""
    bad_row_validator(row["schema"].removeprefix("iglu:")).validate(row["data"])
