"""Fixed response bodies and header sets of the collector (pixel, robots.txt, crossdomain.xml, CORS)."""

from __future__ import annotations

import base64
from xml.sax.saxutils import quoteattr

__all__ = [
    "CORS_ALLOW_HEADERS",
    "NO_CACHE",
    "PIXEL",
    "ROBOTS_TXT",
    "crossdomain_xml",
]

# The 43-byte transparent GIF89a every Snowplow collector answers pixel requests with.
PIXEL = base64.b64decode("R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==")
NO_CACHE = "no-cache, no-store, must-revalidate"
CORS_ALLOW_HEADERS = "Content-Type, SP-Anonymous"

ROBOTS_TXT = (
    "User-agent: *\nDisallow: /\n\nUser-agent: Googlebot\nDisallow: /\n\nUser-agent: AdsBot-Google\nDisallow: /\n"
)


def crossdomain_xml(domains: tuple[str, ...], secure: bool) -> str:
    """The Flash cross-domain policy: one allow-access-from per configured domain."""
    lines = ['<?xml version="1.0"?>', "<cross-domain-policy>"]
    flag = "true" if secure else "false"
    lines.extend(f"  <allow-access-from domain={quoteattr(d)} secure={quoteattr(flag)} />" for d in domains)
    lines.append("</cross-domain-policy>")
    return "\n".join(lines)
