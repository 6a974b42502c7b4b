"""What the codec server's routes depend on, as FastAPI dependencies:

- the server's context (:data:`Codec`);
- the caller (:data:`Caller`): a bearer token, or a session cookie sent from the web UI's
  origin; 400 for more than one ``Authorization`` header, 401 if neither names anyone.
  :data:`Operator` is a caller who may encode (403 if not);
- who is signed in at this browser, whatever the origin (:data:`SignedIn`, for the login page);
- how browsers sign in (:data:`SignInSettings`), and a sign-in form posted from the codec
  server's own page, 403 otherwise (:func:`same_origin`);
- the ``X-Namespace`` the UI names, fit for the audit trail (:data:`Namespace`).

A route's dependencies run before the route reads its body: the caller is known (401, 403)
before the body is looked at.
"""

# No `from __future__ import annotations`: FastAPI reads these annotations at run time.
from typing import Annotated, Final

import structlog
from fastapi import Depends, Request

from pathway.access.credentials import Principal
from pathway.codec_server.context import CodecContext
from pathway.codec_server.sign_in import SignIn, origin_of
from pathway.web.problems import Problem

__all__ = [
    "SESSION_COOKIE",
    "Caller",
    "Codec",
    "Namespace",
    "Operator",
    "SignInSettings",
    "SignedIn",
    "client_host",
    "one_authorization",
    "same_origin",
]

log = structlog.stdlib.get_logger("pathway.codec_server")

SESSION_COOKIE: Final = "pathway_codec_session"


def codec_context(request: Request) -> CodecContext:
    """The context :func:`~pathway.codec_server.app.create_codec_app` keeps on the app."""
    context: CodecContext = request.app.state.codec
    return context


Codec = Annotated[CodecContext, Depends(codec_context)]


def client_host(request: Request) -> str | None:
    return request.client.host if request.client else None


# -- the UI's namespace -------------------------------------------------------------------------
def namespace(request: Request) -> str | None:
    """The ``X-Namespace`` header, if short and printable."""
    value = request.headers.get("x-namespace")
    # Logged for the audit trail: kept short and printable so it cannot forge a log line.
    return value[:100] if value and value.isprintable() else None


Namespace = Annotated[str | None, Depends(namespace)]


# -- who is calling -----------------------------------------------------------------------------
def _bearer_principal(request: Request, codec: CodecContext) -> Principal | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return codec.credentials.authenticate(token.strip())


def _cookie_principal(request: Request, codec: CodecContext) -> Principal | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    # A cookie is an ambient credential: it counts only on requests from the web UI's
    # origin, so that another site cannot make a signed-in browser decode or encode for it.
    if cookie and request.headers.get("origin") == codec.allowed_origin:
        return _session(codec, cookie)
    return None


def _session(codec: CodecContext, cookie: str) -> Principal | None:
    """The principal of a genuine, unexpired session cookie whose token is still in the
    credentials file (the codec server signs in with tokens only)."""
    session = codec.sessions.open(cookie)
    if session is None or session.credential is None:
        return None
    held = codec.credentials.holds(session.principal, session.credential)
    return session.principal if held else None


def one_authorization(request: Request) -> None:
    """More than one ``Authorization`` header is refused (400), as at the gateway: which one
    counts would be a guess, and a guess that takes the first lets a proxy or a browser
    extension that adds its own header decide who the caller is (issue 11, item 7)."""
    if len(request.headers.getlist("authorization")) > 1:
        log.warning(
            "codec request refused: more than one Authorization header",
            path=request.url.path,
            client=client_host(request),
        )
        raise Problem(
            400,
            "",
            "malformed request",
            "more than one Authorization header: send exactly one",
        )


async def caller(request: Request, codec: Codec) -> Principal:
    """Who is calling: a bearer token we know, else a session cookie from the UI's origin (a
    token not ours may be the UI passing its own OIDC token: the cookie may still count). Two
    ``Authorization`` headers are refused first (400, :func:`one_authorization`)."""
    one_authorization(request)
    principal = _bearer_principal(request, codec) or _cookie_principal(request, codec)
    if principal is None:
        log.warning(
            "codec request unauthenticated", path=request.url.path, client=client_host(request)
        )
        raise Problem(
            401,
            "",
            "authentication required",
            "send Authorization: Bearer <token>, or sign in at /login",
        )
    return principal


Caller = Annotated[Principal, Depends(caller)]


async def operator(principal: Caller, namespace: Namespace) -> Principal:
    """A caller who may encode: only operators send signals and updates by hand; organisations
    send events through their own systems, where each event is validated against its role."""
    if not principal.is_operator:
        log.warning(
            "encode refused",
            principal=principal.name,
            role=principal.role,
            namespace=namespace,
            refusal="only operators may encode",
        )
        raise Problem(403, "", "not allowed to encode", "only operators may encode payloads")
    return principal


Operator = Annotated[Principal, Depends(operator)]


async def signed_in(request: Request, codec: Codec) -> Principal | None:
    """Who is signed in at this browser. The login page itself is a same-origin visit, so the
    cookie is read without the origin check: it only shows who is signed in."""
    cookie = request.cookies.get(SESSION_COOKIE)
    return _session(codec, cookie) if cookie else None


SignedIn = Annotated[Principal | None, Depends(signed_in)]


# -- signing in ---------------------------------------------------------------------------------
def sign_in_settings(request: Request) -> SignIn:
    """How browsers sign in (:class:`~pathway.codec_server.sign_in.SignIn`, on the app)."""
    settings: SignIn = request.app.state.sign_in
    return settings


SignInSettings = Annotated[SignIn, Depends(sign_in_settings)]


async def same_origin(request: Request, settings: SignInSettings) -> None:
    """A form posted from the codec server's own page: its ``Origin`` (or, if the browser sent
    none, its ``Referer``) is the server's own origin; 403 for another site, ``null`` or none.

    Sign-in is a state change a browser makes with its cookies, so another site must not be
    able to make it (login CSRF: the visitor would be signed in as whoever the other site
    chose, and the web UI would show that account's view).
    """
    own = settings.own_origin or str(request.base_url)
    sent = request.headers.get("origin")
    if sent is None:
        sent = request.headers.get("referer")
    expected = origin_of(own)
    if sent is not None and expected is not None and origin_of(sent) == expected:
        return
    log.warning(
        "codec login refused: not posted from its own page",
        client=client_host(request),
        origin_header="origin" in request.headers,
        referer_header="referer" in request.headers,
    )
    raise Problem(
        403,
        "",
        "sign-in from another page refused",
        f"sign in on this server's own page: {own.rstrip('/')}/login",
    )
