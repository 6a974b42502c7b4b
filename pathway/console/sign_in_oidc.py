"""The console's pages of the OIDC sign-in (:mod:`pathway.console.oidc`; docs/console.md
"Signing in"): ``GET /console/sign-in/oidc`` sends the browser to the identity provider,
``GET /console/sign-in/oidc/callback`` is where the provider sends it back.

Cookies: the flow cookie (:data:`~pathway.console.oidc.FLOW_COOKIE`) is ``SameSite=Lax`` on
the path ``/console/sign-in/oidc``, HttpOnly, Secure outside localhost, ten minutes. Lax, not
Strict like the console's others: the provider's redirect back is a top-level GET from another
site, on which a browser sends Lax cookies and withholds Strict ones, so a Strict flow cookie
would never arrive and every sign-in would fail. Lax still keeps it off every cross-site
subrequest and POST, and what it carries is useless without the code the provider gives only
to the browser that signed in. The callback deletes it whatever the outcome (one use).

The callback answers a sign-in with the session cookie (Strict, as a form sign-in's) on a
small page that moves on to ``/console`` by itself (``<meta http-equiv="refresh">``, which
replaces the callback's address, code and all, in the history): a plain 303 would still be
part of the provider's cross-site navigation, on which the browser withholds the Strict
session cookie, and the inbox would send the browser back to the sign-in page. A refusal is a
303 to ``/console/sign-in/oidc/refused?why=…`` (so the code leaves the address bar there too),
a plain page with the status of what failed. Every answer is ``no-store``; no code, token,
state or nonce is logged.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time.
from typing import TYPE_CHECKING, Final

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response

from pathway.console.i18n import N_
from pathway.console.oidc import FLOW_COOKIE, FLOW_PATH, OidcClient, Refused
from pathway.console.routes import _see_other, page, start_session
from pathway.console.session import secure_cookies
from pathway.settings import OIDC_CALLBACK_PATH

if TYPE_CHECKING:
    from pathway.gateway.context import GatewayContext

__all__ = ["router"]

log = structlog.stdlib.get_logger(__name__)

router = APIRouter(include_in_schema=False)

#: What a refused sign-in's page says, by :attr:`Refused.reason` group: (status, title, text).
_REFUSALS: Final[dict[str, tuple[int, str, str]]] = {
    "expired": (
        400,
        N_("Sign-in expired"),
        N_(
            "This sign-in was started too long ago or in another browser, or it was already "
            "used. Start again from the sign-in page."
        ),
    ),
    "unavailable": (
        503,
        N_("Sign-in is unavailable"),
        N_(
            "Your organisation's identity provider cannot be reached just now: try again in a "
            "minute, or sign in with your organisation's token."
        ),
    ),
    "organisation": (
        403,
        N_("Not signed in"),
        N_("Your identity provider names no organisation of this service for you."),
    ),
    "refused": (
        401,
        N_("Not signed in"),
        N_(
            "Your organisation's identity provider did not sign you in. Start again from the "
            "sign-in page."
        ),
    ),
}
#: Which page each reason gets (the page does not tell a nonce from an audience).
_GROUP: Final = {"state": "expired", "unavailable": "unavailable", "role": "organisation"}


def _client(request: Request) -> OidcClient | None:
    client: OidcClient | None = request.app.state.console_oidc
    return client


def _refused_at(request: Request, refusal: Refused) -> Response:
    """The 303 to the refusal page; the flow cookie goes."""
    log.warning("console oidc sign-in refused", reason=refusal.reason)
    response = _see_other(f"{FLOW_PATH}/refused?why={_GROUP.get(refusal.reason, 'refused')}")
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


@router.get(FLOW_PATH)
async def begin(request: Request) -> Response:
    """To the identity provider (303), with a new flow cookie; the refusal page if the
    provider cannot be reached, the 404 page where OIDC sign-in is not configured."""
    client = _client(request)
    if client is None:
        return page(
            request,
            "error.html",
            404,
            principal=None,
            title=N_("Not found"),
            detail=N_("Sign-in with an identity provider is not set up for this service."),
        )
    try:
        url, flow = await client.begin()
    except Refused as refusal:
        return _refused_at(request, refusal)
    response = _see_other(url)
    # SameSite=Lax, unlike the console's other cookies: the module docstring says why.
    response.set_cookie(
        FLOW_COOKIE,
        flow,
        max_age=int(client.settings.flow_ttl.total_seconds()),
        path=FLOW_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return response


@router.get(OIDC_CALLBACK_PATH)  # what PATHWAY_OIDC_REDIRECT_URL must end in
async def callback(request: Request) -> Response:
    """Where the provider sends the browser back: the session opened exactly as a JWT
    sign-in's (credential None, the console's session lifetime), on a page that moves on to
    the inbox; else the 303 to the refusal page (:class:`Refused`)."""
    client = _client(request)
    gw: GatewayContext = request.app.state.gateway
    if client is None or gw.authenticator.jwt is None:
        return _refused_at(request, Refused("unavailable", 503))
    query = {name: request.query_params[name] for name in request.query_params}
    try:
        principal = await client.finish(
            query, request.cookies.get(FLOW_COOKIE), gw.authenticator.jwt
        )
    except Refused as refusal:
        return _refused_at(request, refusal)
    log.info("console oidc sign-in", role=principal.role)
    moving_on = page(request, "signed_in.html", principal=None)
    response = start_session(request, moving_on, principal, None)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


@router.get(f"{FLOW_PATH}/refused")
async def refused(request: Request) -> Response:
    """The plain page of a refused sign-in (``why``: a key of :data:`_REFUSALS`; anything
    else is the general refusal), ``no-store``."""
    status, title, detail = _REFUSALS.get(request.query_params.get("why", ""), _REFUSALS["refused"])
    return page(
        request,
        "error.html",
        status,
        principal=None,
        title=title,
        detail=detail,
        sign_in_link=True,
    )
