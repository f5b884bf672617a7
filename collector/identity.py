"""Who sent a request: the network user id (sp cookie, nuid, SP-Anonymous), do-not-track, cookies to set (§2.3)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import NamedTuple
from urllib.parse import urlsplit

from collector.settings import CollectorSettings, CookieSettings
from core.ids import new_uuid4

__all__ = ["ANONYMOUS_NUID", "Identity", "IdentityRules", "parse_cookies"]

ANONYMOUS_NUID = "00000000-0000-0000-0000-000000000000"
_EPOCH_PAST = "Thu, 01 Jan 1970 00:00:00 GMT"


def parse_cookies(header_values: list[str]) -> list[tuple[str, str]]:
    """Every `name=value` pair of every Cookie header, in order; pairs without `=` keep an empty value."""
    out: list[tuple[str, str]] = []
    for header in header_values:
        for part in header.split(";"):
            piece = part.strip()
            if not piece:
                continue
            name, _, value = piece.partition("=")
            out.append((name.strip(), value.strip()))
    return out


class Identity(NamedTuple):
    """The outcome for one request: the id to record, whether to record at all, the Set-Cookie values
    (immutable; a tuple rather than a frozen dataclass because one is built per request)."""

    network_user_id: str | None
    anonymous: bool
    do_not_track: bool
    set_cookies: tuple[str, ...]


class IdentityRules:
    """Applies the cookie configuration; built once, called per request."""

    def __init__(self, config: CollectorSettings, new_id: Callable[[], str] | None = None) -> None:
        self._cookie = config.cookie
        self._dnt = config.do_not_track_cookie
        self._dnt_value = re.compile(config.do_not_track_cookie.value) if config.do_not_track_cookie.enabled else None
        self._new_id = new_id or new_uuid4
        self._lifetime = config.cookie.expiration_days * 86400
        self._domains = tuple(d.lower().lstrip(".") for d in config.cookie.domains)
        self._expires_second = -1
        self._expires_text = ""
        self._attributes_second = -1
        self._attributes = ("", "")  # (the sp cookie's, the client cookie's) attributes in that second

    def resolve(
        self,
        *,
        cookies: list[tuple[str, str]],
        nuid_param: str | None,
        anonymous: bool,
        origins: list[str],
        now: float | None = None,
    ) -> Identity:
        """nuid order: SP-Anonymous → zero id; `nuid` param; `sp` cookie; a new UUID v4."""
        cookie_cfg = self._cookie
        if self._dnt_value is not None:
            for name, value in cookies:
                if name == self._dnt.name and self._dnt_value.fullmatch(value):
                    return Identity(None, anonymous, True, ())
        existing = None
        for name, value in cookies:
            if name == cookie_cfg.name and value:
                existing = value
                break
        if anonymous:
            deletes: tuple[str, ...] = ()
            if cookie_cfg.enabled and existing is not None:
                deletes = (
                    self._cookie_line(cookie_cfg.name, "", _EPOCH_PAST, origins, http_only=cookie_cfg.http_only),
                )
            return Identity(ANONYMOUS_NUID, True, False, deletes)
        nuid = nuid_param or existing or self._new_id()
        if not cookie_cfg.enabled:
            return Identity(nuid, False, False, ())
        second = int(time.time() if now is None else now)
        if not self._domains:  # the attributes after the value are the same for every request in a second
            if second != self._attributes_second:
                expires = self._expires(second)
                self._attributes = (
                    self._cookie_attributes(expires, cookie_cfg.fallback_domain, http_only=cookie_cfg.http_only),
                    self._cookie_attributes(expires, cookie_cfg.fallback_domain, http_only=False),
                )
                self._attributes_second = second
            main, client = self._attributes
            if cookie_cfg.client_cookie_name:
                return Identity(
                    nuid,
                    False,
                    False,
                    (f"{cookie_cfg.name}={nuid}; {main}", f"{cookie_cfg.client_cookie_name}={nuid}; {client}"),
                )
            return Identity(nuid, False, False, (f"{cookie_cfg.name}={nuid}; {main}",))
        expires = self._expires(second)
        lines = [self._cookie_line(cookie_cfg.name, nuid, expires, origins, http_only=cookie_cfg.http_only)]
        if cookie_cfg.client_cookie_name:
            lines.append(self._cookie_line(cookie_cfg.client_cookie_name, nuid, expires, origins, http_only=False))
        return Identity(nuid, False, False, tuple(lines))

    def _expires(self, second: int) -> str:
        """The Expires attribute for cookies issued in this second (formatted once per second, not per request)."""
        if second != self._expires_second:
            self._expires_second = second
            self._expires_text = formatdate(second + self._lifetime, usegmt=True)
        return self._expires_text

    def cookie_domain(self, origins: list[str]) -> str | None:
        """First configured domain equal to or a parent of a host in Origin, else the fallback, else none."""
        if self._domains and origins:
            hosts = []
            for header in origins:
                for origin in header.split():
                    try:
                        host = urlsplit(origin).hostname
                    except ValueError:
                        host = None
                    if host:
                        hosts.append(host.lower())
            for domain in self._domains:
                for host in hosts:
                    if host == domain or host.endswith("." + domain):
                        return domain
        return self._cookie.fallback_domain

    def _cookie_line(self, name: str, value: str, expires: str, origins: list[str], *, http_only: bool) -> str:
        attributes = self._cookie_attributes(expires, self.cookie_domain(origins), http_only=http_only)
        return f"{name}={value}; {attributes}"

    def _cookie_attributes(self, expires: str, domain: str | None, *, http_only: bool) -> str:
        """Everything after `name=value; ` in a Set-Cookie line."""
        cfg: CookieSettings = self._cookie
        parts = [f"Expires={expires}"]
        if domain:
            parts.append(f"Domain={domain}")
        parts.append("Path=/")
        parts.append(f"SameSite={cfg.same_site or 'None'}")
        if cfg.secure:
            parts.append("Secure")
        if http_only:
            parts.append("HttpOnly")
        return "; ".join(parts)
