"""Who may open the console, and proof that a replay POST came from its own page.

`--console-auth` is either `user:password` (HTTP basic auth, the browser asks) or a token: sent as
`Authorization: Bearer TOKEN`, as the basic-auth password, or once as `?token=TOKEN`, which becomes an
HttpOnly, SameSite=Strict cookie (and is taken out of the address by a redirect). The icon and the
stylesheet/script are public. It is required whenever the server listens beyond loopback
(embedded/console/cli.py `auth_problem`); without it the console answers only requests whose Host
names the loopback, so a web page on another name that resolves here (DNS rebinding) reads nothing.
Replay POSTs carry a CSRF token (double submit: a random cookie and the same value in the form) and
must not come from another site (`Sec-Fetch-Site`/`Origin`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import secrets

from starlette.requests import Request

__all__ = ["AUTH_COOKIE", "CSRF_COOKIE", "Auth", "csrf_ok", "is_loopback", "new_csrf_token"]

AUTH_COOKIE = "eventkit_console"
CSRF_COOKIE = "eventkit_csrf"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost` only; `0.0.0.0`, `::` and any other address reach beyond this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Auth:
    """The console's credential check; `Auth(None)` lets everyone in (loopback only)."""

    def __init__(self, secret: str | None) -> None:
        self.secret = secret
        self.user: str | None = None
        self.password: str | None = None
        if secret is not None and ":" in secret:
            self.user, self.password = secret.split(":", 1)

    @property
    def enabled(self) -> bool:
        return self.secret is not None

    def _token_ok(self, value: str | None) -> bool:
        return (
            value is not None and self.secret is not None and hmac.compare_digest(value.encode(), self.secret.encode())
        )

    def allows(self, request: Request) -> bool:
        if self.secret is None:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            if self.user is not None:
                return hmac.compare_digest(user.encode(), self.user.encode()) and hmac.compare_digest(
                    password.encode(), (self.password or "").encode()
                )
            return self._token_ok(password)
        if self.user is not None:
            return False  # user:password is basic auth only
        if scheme.lower() == "bearer":
            return self._token_ok(value.strip())
        return self._token_ok(request.cookies.get(AUTH_COOKIE)) or self._token_ok(request.query_params.get("token"))


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(request: Request, form_token: object) -> bool:
    """The form's token equals the cookie's, and the request does not come from another site."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not isinstance(form_token, str) or not cookie or not hmac.compare_digest(form_token.encode(), cookie.encode()):
        return False
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        return origin.split("://", 1)[-1] == host
    return True
