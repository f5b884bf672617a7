"""Object names every lake accepts: one rule set for the local folder and GCS, so a layout valid on one fits both."""

from __future__ import annotations

__all__ = ["MAX_NAME_BYTES", "MAX_SEGMENT_BYTES", "check_name", "check_prefix"]

MAX_NAME_BYTES = 1024  # GCS object name limit (after our prefix is added the store checks again)
MAX_SEGMENT_BYTES = 255  # file-name limit of common local file systems


def check_name(name: str) -> str:
    """Return `name` if it is a valid object name, else raise ValueError saying why.

    A name is `/`-separated relative segments: not empty, no leading or trailing `/`, no empty
    segment, no `.` or `..`, no segment starting with `.` (the local lake keeps its temporary
    files there), no backslash, no control characters.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("lake object name is empty")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ValueError(f"lake object name is longer than {MAX_NAME_BYTES} bytes: {name[:64]!r}...")
    for ch in name:
        if ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" or 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError(f"lake object name {name!r} contains a forbidden character {ch!r}")
    for segment in name.split("/"):
        if not segment:
            raise ValueError(f"lake object name {name!r} is absolute or has an empty segment")
        if segment.startswith("."):
            raise ValueError(f"lake object name {name!r} has a segment starting with '.' (reserved)")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise ValueError(f"lake object name {name!r} has a segment longer than {MAX_SEGMENT_BYTES} bytes")
    return name


def check_prefix(prefix: str) -> str:
    """Return `prefix` if it can start a valid name (`""`, `good/`, `bad/size_viol`), else raise ValueError."""
    if prefix == "":
        return prefix
    # A prefix is a valid name, or a valid name followed by "/", or a valid name cut short.
    body = prefix[:-1] if prefix.endswith("/") else prefix
    check_name(body)
    return prefix
