"""The codec server: Temporal's remote codec protocol, so the web UI and CLI show case data to
those allowed to read it, and to no one else.

``POST /decode`` and ``POST /encode`` take and return ``{"payloads": [...]}`` (protobuf JSON of
``temporal.api.common.v1.Payloads``). Callers authenticate with ``Authorization: Bearer <token>``
(the CLI) or with a session cookie from ``/login`` (the web UI, whose codec settings must
include cross-origin credentials: ``pathway dev`` configures its UI so; docs/privacy.md).

Decoding is authorised per case: every encrypted payload names its key, the key names its case,
and :class:`CaseAccess` decides whether the principal may read that case whole (SPEC "Access",
R6). The web UI shows whole payloads, so roles that may only see filtered views (police) or
aggregates (analysts) are refused here and read through their own views instead.

Nothing a payload contains ever reaches a response other than the decoded payloads themselves,
nor any log line: errors and audit lines name principals, case IDs (pseudonyms) and counts only.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Awaitable, Callable, Iterable
from collections.abc import Set as AbstractSet
from typing import Any, Final, Literal, Protocol, TypedDict
from urllib.parse import parse_qs

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from google.protobuf import json_format
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.api.common.v1 import Payload, Payloads

from pathway.access.credentials import Credentials, Principal, SessionSigner
from pathway.domain.organisations import Organisation
from pathway.privacy.codec import META_KEY_ID, SERVICE_SCOPE, CaseCodec, is_encrypted
from pathway.privacy.keys import CaseErased, PrivacyError, UnknownKey, scope_of
from pathway.web.serving import serve_app

__all__ = [
    "SESSION_COOKIE",
    "CaseAccess",
    "Involved",
    "RoleCaseAccess",
    "create_codec_app",
    "serve_codec",
]

log = structlog.stdlib.get_logger(__name__)

SESSION_COOKIE: Final = "pathway_codec_session"
#: Temporal limits one payload to 2 MB and one gRPC message to 4 MB; a batch of a whole history's
#: payloads stays well below this. Bigger bodies are refused before they are read into memory.
MAX_BODY_BYTES: Final = 16 * 1024 * 1024
_MAX_LOGIN_BYTES: Final = 4096
_PROBLEM: Final = "application/problem+json"
_ALLOWED_HEADERS: Final = ("Authorization", "Content-Type", "X-Namespace")


class CaseAccess(Protocol):
    """Decides whether a principal may read a case's payloads whole."""

    async def can_decode(self, principal: Principal, case_id: str) -> bool:
        """True if ``principal`` may see ``case_id``'s decoded payloads.

        Return False for a case it does not know. Raising means the decision could not be made;
        the request is then refused (503), never answered. :class:`CaseErased` may propagate.
        """
        ...


#: The organisations involved in a case (an empty set for a case it does not know).
Involved = Callable[[str], Awaitable[AbstractSet[Organisation]]]

#: Roles that never see whole payloads: analysts see aggregates only, and police may not read
#: health or psychological details (SPEC "Access"), which whole payloads contain.
NEVER_DECODE: Final = frozenset({Organisation.ANALYST, Organisation.POLICE})


class RoleCaseAccess:
    """Access by role: operators read every case; analysts and police none; every other
    organisation only the cases it is involved in, as ``involved`` reports."""

    def __init__(self, involved: Involved) -> None:
        self._involved = involved

    async def can_decode(self, principal: Principal, case_id: str) -> bool:
        if principal.is_operator:
            return True
        if principal.organisation in NEVER_DECODE:
            return False
        # Service-scope payloads belong to no case (e.g. what an operator encoded by hand).
        if case_id == SERVICE_SCOPE:
            return False
        return principal.organisation in await self._involved(case_id)


class _Problem(Exception):
    """An RFC 9457 problem answer. Its fields are written for the caller: no payload contents."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 **extra: Any) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


def _problem_response(problem: _Problem) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": problem.title,
                            "status": problem.status}
    if problem.detail:
        body["detail"] = problem.detail
    body.update(problem.extra)
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    return JSONResponse(body, status_code=problem.status, media_type=_PROBLEM, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing one over ``limit`` bytes without reading it all into memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Problem(413, "request body too large", f"at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Problem(413, "request body too large", f"at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_payloads(body: bytes) -> list[Payload]:
    try:
        raw = json.loads(body)
        if not isinstance(raw, dict):
            raise TypeError("not an object")
        # Unknown fields are ignored so that a newer UI's additions do not break decoding.
        message = json_format.ParseDict(raw, Payloads(), ignore_unknown_fields=True)
    except (ValueError, TypeError, json_format.ParseError, RecursionError):
        # The parser's message may quote the input: the caller gets a fixed one instead.
        raise _Problem(400, "malformed request",
                       'expected JSON {"payloads": [{"metadata": {...}, "data": "..."}]}'
                       ) from None
    return list(message.payloads)


def _payloads_json(payloads: Iterable[Payload]) -> dict[str, Any]:
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def _case_ids(payloads: Iterable[Payload]) -> list[str]:
    """The case (key scope) of every encrypted payload; plain payloads name none."""
    cases: set[str] = set()
    for payload in payloads:
        if not is_encrypted(payload):
            continue
        try:
            cases.add(scope_of(payload.metadata.get(META_KEY_ID, b"").decode("utf-8")))
        except (UnknownKey, UnicodeDecodeError):
            raise _Problem(422, "payload cannot be decoded",
                           "an encrypted payload does not name a valid key") from None
    return sorted(cases)


def _namespace(request: Request) -> str | None:
    value = request.headers.get("x-namespace")
    # Logged for the audit trail: kept short and printable so it cannot forge a log line.
    return value[:100] if value and value.isprintable() else None


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

# The login page takes a secret: it is never cached, framed or sent as a referrer.
_PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class _CookieFlags(TypedDict):
    httponly: bool
    secure: bool
    samesite: Literal["lax", "none"]


def _login_page(message: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(_LOGIN_PAGE.format(message=message), status_code=status,
                        headers=_PAGE_HEADERS)


def create_codec_app(
    *,
    codec: CaseCodec,
    credentials: Credentials,
    allowed_origin: str,
    case_access: CaseAccess,
    sessions: SessionSigner | None = None,
    secure_cookies: bool | None = None,
) -> FastAPI:
    """The codec server as an ASGI app.

    ``allowed_origin`` is the web UI's origin (e.g. ``http://127.0.0.1:8233``): the only one
    whose browser requests are answered, and the only one from which a session cookie counts.
    ``sessions`` defaults to a signer with a per-process random secret. ``secure_cookies``
    forces the cookie's ``Secure`` flag (SameSite=None then); by default it follows the
    request's scheme, so plain-HTTP development gets a SameSite=Lax cookie (the UI and this
    server on one host are the same site, whatever their ports).
    """
    signer = sessions or SessionSigner()
    app = FastAPI(title="Pathway codec server", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[allowed_origin],
        allow_credentials=True,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=list(_ALLOWED_HEADERS),
    )

    @app.exception_handler(_Problem)
    async def _on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Problem)
        return _problem_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _on_http_error(request: Request, exc: Exception) -> Response:
        # Unknown paths and wrong methods answer in the same problem format as everything else.
        assert isinstance(exc, StarletteHTTPException)
        return _problem_response(_Problem(exc.status_code, str(exc.detail)))

    def principal_of(request: Request) -> Principal | None:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            found = credentials.authenticate(token.strip())
            if found is not None:
                return found
            # Not ours (the UI may be set to pass its own OIDC token): the cookie may still be.
        cookie = request.cookies.get(SESSION_COOKIE)
        # A cookie is an ambient credential: it counts only on requests from the web UI's
        # origin, so that another site cannot make a signed-in browser decode or encode for it.
        if cookie and request.headers.get("origin") == allowed_origin:
            return signer.verify(cookie)
        return None

    def authenticated(request: Request) -> Principal:
        principal = principal_of(request)
        if principal is None:
            log.warning("codec request unauthenticated", path=request.url.path,
                        client=request.client.host if request.client else None)
            raise _Problem(401, "authentication required",
                           "send Authorization: Bearer <token>, or sign in at /login")
        return principal

    def erased(principal: Principal, case_ids: list[str], namespace: str | None,
               event: str = "decode failed") -> _Problem:
        log.info(event, principal=principal.name, role=principal.role,
                 case_ids=case_ids, namespace=namespace, refusal="case erased")
        return _Problem(410, "case erased",
                        "the case's data key was destroyed: its payloads can never be read",
                        case_ids=case_ids)

    async def check_access(principal: Principal, case_ids: list[str], namespace: str | None
                           ) -> None:
        try:
            allowed = await asyncio.gather(
                *(case_access.can_decode(principal, case_id) for case_id in case_ids))
        except CaseErased as err:
            raise erased(principal, [err.scope], namespace) from None
        except Exception as err:
            # Fail closed: when the decision cannot be made, nothing is decoded.
            log.error("decode refused", principal=principal.name, role=principal.role,
                      case_ids=case_ids, namespace=namespace,
                      refusal="access check failed", error=type(err).__name__)
            raise _Problem(503, "access check unavailable", "try again later") from None
        refused = [case_id for case_id, ok in zip(case_ids, allowed, strict=True) if not ok]
        if refused:
            log.warning("decode refused", principal=principal.name, role=principal.role,
                        case_ids=refused, namespace=namespace,
                        refusal=f"role {principal.role} may not read these cases whole")
            raise _Problem(403, "not allowed to decode these cases",
                           f"role {principal.role} may not read these cases whole",
                           case_ids=refused)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        principal = authenticated(request)
        namespace = _namespace(request)
        payloads = _parse_payloads(await _read_body(request, MAX_BODY_BYTES))
        case_ids = _case_ids(payloads)
        await check_access(principal, case_ids, namespace)
        try:
            decoded = await codec.decode(payloads)
        except CaseErased as err:
            raise erased(principal, [err.scope], namespace) from None
        except PrivacyError as err:
            # TamperedPayload or UnknownKey; their messages name key IDs only, still not sent.
            log.warning("decode failed", principal=principal.name, role=principal.role,
                        case_ids=case_ids, namespace=namespace, refusal=type(err).__name__)
            raise _Problem(422, "payload cannot be decoded",
                           "a payload failed authentication or names an unknown key"
                           ) from None
        log.info("payloads decoded", principal=principal.name, role=principal.role,
                 case_ids=case_ids, payload_count=len(payloads), namespace=namespace)
        return JSONResponse(_payloads_json(decoded))

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        principal = authenticated(request)
        namespace = _namespace(request)
        # Only operators send signals and updates by hand; organisations send events through
        # their own systems, where each event is validated against its role.
        if not principal.is_operator:
            log.warning("encode refused", principal=principal.name, role=principal.role,
                        namespace=namespace, refusal="only operators may encode")
            raise _Problem(403, "not allowed to encode", "only operators may encode payloads")
        payloads = _parse_payloads(await _read_body(request, MAX_BODY_BYTES))
        try:
            encoded = await codec.encode(payloads)
        except CaseErased as err:
            raise erased(principal, [err.scope], namespace, "encode failed") from None
        log.info("payloads encoded", principal=principal.name, role=principal.role,
                 key_scope=codec.scope, payload_count=len(payloads), namespace=namespace)
        return JSONResponse(_payloads_json(encoded))

    @app.get("/login")
    async def login_form(request: Request) -> Response:
        principal = principal_of_cookie(request)
        if principal is None:
            return _login_page()
        return _login_page(_signed_in_message(principal))

    def principal_of_cookie(request: Request) -> Principal | None:
        # The login page itself is a same-origin visit, so the cookie is read without the
        # origin check: it only shows who is signed in.
        cookie = request.cookies.get(SESSION_COOKIE)
        return signer.verify(cookie) if cookie else None

    def cookie_flags(request: Request) -> _CookieFlags:
        secure = request.url.scheme == "https" if secure_cookies is None else secure_cookies
        # SameSite=None lets the UI on another site send the cookie, and browsers accept it
        # only on Secure cookies; over plain HTTP, Lax (the UI on the same host) is what works.
        return _CookieFlags(httponly=True, secure=secure, samesite="none" if secure else "lax")

    @app.post("/login")
    async def login(request: Request) -> Response:
        try:
            body = await _read_body(request, _MAX_LOGIN_BYTES)
            fields = parse_qs(body.decode("utf-8"), max_num_fields=4)
        except (_Problem, UnicodeDecodeError, ValueError):
            return _login_page("<p><strong>Malformed sign-in form.</strong></p>", 400)
        token = (fields.get("token") or [""])[0].strip()
        principal = credentials.authenticate(token) if token else None
        if principal is None:
            log.warning("codec login failed",
                        client=request.client.host if request.client else None)
            return _login_page("<p><strong>Token not recognised.</strong></p>", 401)
        value, expires = signer.issue(principal)
        response = _login_page(_signed_in_message(principal, expires.isoformat(
            timespec="minutes")))
        response.set_cookie(SESSION_COOKIE, value, max_age=int(signer.ttl.total_seconds()),
                            **cookie_flags(request))
        log.info("codec login", principal=principal.name, role=principal.role)
        return response

    @app.api_route("/logout", methods=["GET", "POST"])
    async def logout(request: Request) -> Response:
        response = _login_page("<p>Signed out.</p>")
        response.delete_cookie(SESSION_COOKIE, **cookie_flags(request))
        return response

    return app


def _signed_in_message(principal: Principal, until: str | None = None) -> str:
    expiry = f" until {html.escape(until)} UTC" if until else ""
    return (f"<p>Signed in as <strong>{html.escape(principal.name)}</strong> "
            f"({html.escape(principal.role)}){expiry}.</p>")


async def serve_codec(app: FastAPI, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve ``app`` on ``host:port`` until ``stop`` is set, then shut down gracefully.

    Raises :class:`OSError` if the address cannot be bound.
    """
    await serve_app(app, host, port, stop, name="codec server", graceful_seconds=5)
