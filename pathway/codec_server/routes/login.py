"""``/login`` and ``/logout``: the web UI's browser signs in with an access token and gets a
signed session cookie, which then counts on requests from the UI's origin
(:mod:`pathway.codec_server.dependencies`).

A sign-in is accepted only as a form posted from this server's own page (403 otherwise), and
after five failed sign-ins from one address within five minutes that address gets 429 with
``Retry-After`` until the oldest of them is five minutes old (:mod:`pathway.codec_server.sign_in`).

The page takes a secret: it is never cached or framed, and its address is never sent to another
site as a referrer (``Referrer-Policy: same-origin``: ``no-referrer`` would make the browser
send ``Origin: null`` with the form, which the origin check must refuse).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time.
import html
from typing import Final, Literal, TypedDict
from urllib.parse import parse_qs

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from pathway.access.credentials import Principal, hash_token
from pathway.codec_server.context import CodecContext
from pathway.codec_server.dependencies import (
    SESSION_COOKIE,
    Codec,
    SignedIn,
    SignInSettings,
    client_host,
    same_origin,
)
from pathway.web.bodies import read_body
from pathway.web.problems import Problem

__all__ = ["router"]

log = structlog.stdlib.get_logger("pathway.codec_server")

router = APIRouter()

_MAX_LOGIN_BYTES: Final = 4096

_LOGIN_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pathway codec server</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Pathway codec server</h1>
{message}
<form method="post" action="login">
<p><label>Access token<br>
<input type="password" name="token" autocomplete="off" required size="50"></label></p>
<p><button type="submit">Sign in</button></p>
</form>
<form method="post" action="logout"><p><button type="submit">Sign out</button></p></form>
<p>After signing in, open or reload the Temporal web UI in this browser, at the same host
name (127.0.0.1): it shows decoded payloads. The UI that <code>pathway dev</code> serves needs no
setting; another UI needs <em>Include cross-origin credentials</em> on in its codec settings.</p>
</body></html>
"""

_PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

_MALFORMED: Final = "<p><strong>Malformed sign-in form.</strong></p>"
_NOT_RECOGNISED: Final = "<p><strong>Token not recognised.</strong></p>"
_SIGNED_OUT: Final = "<p>Signed out.</p>"


class _CookieFlags(TypedDict):
    httponly: bool
    secure: bool
    samesite: Literal["lax", "none"]


def login_page(message: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _LOGIN_PAGE.format(message=message), status_code=status, headers=_PAGE_HEADERS
    )


def signed_in_message(principal: Principal, until: str | None = None) -> str:
    expiry = f" until {html.escape(until)} UTC" if until else ""
    return (
        f"<p>Signed in as <strong>{html.escape(principal.name)}</strong> "
        f"({html.escape(principal.role)}){expiry}.</p>"
    )


def cookie_flags(request: Request, codec: CodecContext) -> _CookieFlags:
    """``Secure`` as the server was told, else as the request's scheme. SameSite=None lets the
    UI on another site send the cookie, and browsers accept it only on Secure cookies; over
    plain HTTP, Lax (the UI on the same host) is what works."""
    secure = request.url.scheme == "https" if codec.secure_cookies is None else codec.secure_cookies
    return _CookieFlags(httponly=True, secure=secure, samesite="none" if secure else "lax")


async def submitted_token(request: Request) -> str:
    """The form's ``token`` (empty if none); raises :class:`Problem` (too large),
    :class:`UnicodeDecodeError` or :class:`ValueError` if the form is malformed."""
    body = await read_body(request, _MAX_LOGIN_BYTES)
    fields = parse_qs(body.decode("utf-8"), max_num_fields=4)
    return (fields.get("token") or [""])[0].strip()


def session_page(
    request: Request, codec: CodecContext, principal: Principal, token: str
) -> HTMLResponse:
    """The page saying who signed in, with a new session cookie for ``principal``, who signed
    in with ``token`` (the session keeps the start of its hash: revoking it ends the session)."""
    value, expires = codec.sessions.issue(principal, hash_token(token))
    response = login_page(signed_in_message(principal, expires.isoformat(timespec="minutes")))
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(codec.sessions.ttl.total_seconds()),
        **cookie_flags(request, codec),
    )
    log.info("codec login", principal=principal.name, role=principal.role)
    return response


# -- the routes ---------------------------------------------------------------------------------
@router.get("/login")
async def login_form(principal: SignedIn) -> HTMLResponse:
    return login_page(signed_in_message(principal) if principal else "")


@router.post("/login", dependencies=[Depends(same_origin)])
async def login(request: Request, codec: Codec, settings: SignInSettings) -> HTMLResponse:
    try:
        token = await submitted_token(request)
    except (Problem, UnicodeDecodeError, ValueError):
        return login_page(_MALFORMED, 400)
    # From here to the answer nothing awaits: attempts sent at once are counted one by one.
    source = client_host(request) or "unknown"
    wait = settings.attempts.retry_after(source)
    if wait is not None:
        log.warning("codec login throttled", client=source, retry_after=wait)
        raise Problem(
            429,
            "",
            "too many failed sign-ins",
            f"too many failed sign-ins from this address; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    principal = codec.credentials.authenticate(token) if token else None
    if principal is None:
        settings.attempts.failed(source)
        log.warning("codec login failed", client=source)
        return login_page(_NOT_RECOGNISED, 401)
    settings.attempts.succeeded(source)
    return session_page(request, codec, principal, token)


@router.post("/logout", dependencies=[Depends(same_origin)])
async def logout(request: Request, codec: Codec) -> HTMLResponse:
    """Sign out: the session cookie deleted. A form posted from this server's own page only
    (403 otherwise, as ``/login``): another site must not be able to sign the operator out
    (logout CSRF; review of issue 16), nor a link (no GET)."""
    response = login_page(_SIGNED_OUT)
    response.delete_cookie(SESSION_COOKIE, **cookie_flags(request, codec))
    return response
