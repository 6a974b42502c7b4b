"""The console's session cookie and CSRF tokens.

The session cookie is a :class:`~pathway.access.credentials.SessionSigner` value (principal,
role, expiry, HMAC-signed with the console's secret): HttpOnly, SameSite=Strict, ``Secure``
unless the page is served to localhost over plain HTTP. Before sign-in the browser holds a
random ``pre-session`` cookie instead. A form's CSRF token is the HMAC of whichever of the two
the browser holds, so a token is good only with the cookie it was issued for, and another site
can neither read nor forge it.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Final

from fastapi import Request, Response

__all__ = [
    "PRE_SESSION_COOKIE",
    "SESSION_COOKIE",
    "csrf_token",
    "csrf_valid",
    "secure_cookies",
    "set_cookie",
]

SESSION_COOKIE: Final = "pathway_console_session"
PRE_SESSION_COOKIE: Final = "pathway_console_pre"
_CONTEXT: Final = b"pathway-console-csrf/v1|"
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def csrf_token(secret: bytes, cookie: str) -> str:
    """The CSRF token for forms posted with ``cookie`` (hex HMAC-SHA256)."""
    return hmac.new(secret, _CONTEXT + cookie.encode("utf-8"), "sha256").hexdigest()


def csrf_valid(secret: bytes, cookie: str | None, token: str | None) -> bool:
    """``token`` was issued for ``cookie`` (both present)."""
    if not cookie or not token:
        return False
    return hmac.compare_digest(csrf_token(secret, cookie), token)


def secure_cookies(request: Request) -> bool:
    """``Secure`` everywhere but plain HTTP to this machine (development)."""
    return request.url.scheme == "https" or request.url.hostname not in _LOCAL_HOSTS


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """``name=value`` as the console's cookies are: HttpOnly, SameSite=Strict, path
    ``/console``, Secure outside localhost."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def new_pre_session() -> str:
    return secrets.token_urlsafe(32)
