"""Who wrote a bad row: the `processor` block every bad-row schema requires, kept valid by construction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from core.badrows.limits import fit

__all__ = ["EVENTKIT_PROCESSOR_VERSION", "Processor", "eventkit_processor"]

ARTIFACT_LIMIT = 512
VERSION_LIMIT = 32

# The schemas' `^(\d+\.\d+\.\d+.*)$` read with ECMA-262 semantics: ASCII digits, `.` never matches a
# line terminator and `$` is the very end (Python's `\d`, `.` and `$` are all looser).
_VERSION_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+[^\n\r\u2028\u2029]*")


def _package_version() -> str:
    try:
        return version("eventkit")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0"


EVENTKIT_PROCESSOR_VERSION: str = _package_version()


@dataclass(frozen=True, slots=True)
class Processor:
    """`{"artifact", "version"}`; the artifact is cut to 512 characters, the version must look like semver."""

    artifact: str
    version: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "artifact", fit(self.artifact, ARTIFACT_LIMIT))
        if len(self.version) > VERSION_LIMIT or _VERSION_RE.fullmatch(self.version) is None:
            raise ValueError(
                f"processor version {self.version!r} must match ^(\\d+\\.\\d+\\.\\d+.*)$ within {VERSION_LIMIT} chars"
            )

    def to_json(self) -> dict[str, str]:
        return {"artifact": self.artifact, "version": self.version}

    @classmethod
    def from_json(cls, data: Any) -> Processor:
        if not isinstance(data, dict) or not isinstance(data.get("artifact"), str):
            raise ValueError("processor: expected {artifact, version}")
        if not isinstance(data.get("version"), str):
            raise ValueError("processor.version: expected a string")
        return cls(data["artifact"], data["version"])


def eventkit_processor(component: str) -> Processor:
    """The processor block for one eventkit stage, e.g. `eventkit_processor("enrich")`."""
    return Processor(f"eventkit-{component}", EVENTKIT_PROCESSOR_VERSION)
