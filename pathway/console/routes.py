"""The console's pages under ``/console``: sign-in, sign-out, the signed-in start page (the
inbox), a case's page, and the language switch (``GET /console/language?to=sl|en``).

Every page is in the language :func:`pathway.console.i18n.negotiate` picks for the request
(the switch's cookie, else the browser's ``Accept-Language``), rendered by that language's
Jinja2 environment (``jinja2.ext.i18n`` with the language's catalogue installed).

Every answer is ``Cache-Control: no-store``; a POST whose CSRF token does not match the
browser's cookie is refused with 403 and changes nothing.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time.
import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

import structlog
from babel.support import Translations
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pathway.access.credentials import Principal, SessionSigner
from pathway.access.identity import AuthUnavailable
from pathway.access.policy import case_view, registers_run_by
from pathway.console.case import case_page
from pathway.console.forms import sendable_types
from pathway.console.i18n import LANGUAGE_COOKIE, LANGUAGES, N_, negotiate, translations
from pathway.console.inbox import InboxFilters, inbox_items
from pathway.console.session import (
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    csrf_token,
    csrf_valid,
    new_pre_session,
    set_cookie,
)
from pathway.console.settings import ConsoleSettings
from pathway.domain.calendar import LJUBLJANA, last_day
from pathway.domain.state import CaseState
from pathway.web.problems import Problem

if TYPE_CHECKING:
    from pathway.gateway.context import GatewayContext

__all__ = [
    "STATIC_DIR",
    "Throttled",
    "page",
    "router",
    "signed_in",
    "start_session",
    "throttled_page",
]

log = structlog.stdlib.get_logger(__name__)

_HERE: Final = Path(__file__).parent
#: The console's stylesheet and other static files, served under ``/console/static``.
STATIC_DIR: Final = _HERE / "static"
#: A sign-in form is a few hundred bytes; anything much larger is not one.
_MAX_FORM_BYTES: Final = 16 * 1024
#: Every console answer: never cached, loads nothing from anywhere but the gateway (no script
#: at all), cannot be framed, and sends no Referer (a case ID) to anywhere else.
_NO_STORE: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
}
#: Pages whose language switch leads to the inbox, never back to their own address.
_NO_ECHO: Final = frozenset({"error.html", "signed_in.html"})
#: How long the language switch's choice is kept (a year, in seconds).
_LANGUAGE_MAX_AGE: Final = 365 * 24 * 3600


@cache
def templates(language: str) -> Environment:
    """The Jinja2 environment of ``language`` (a key of :data:`~pathway.console.i18n.LANGUAGES`):
    ``{% trans %}``, ``_()``, ``ngettext`` from its catalogue (new-style: ``%(name)s``
    placeholders, escaped), and the ``tr`` filter for a text marked in Python (:func:`N_`)."""
    environment = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        auto_reload=False,
        extensions=["jinja2.ext.i18n"],
    )
    catalogue = translations(language)
    environment.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    environment.filters["tr"] = _translator(catalogue)
    environment.globals["lang"] = language
    # The navigation's link to the programme registers, for an organisation that runs one.
    environment.globals["registers_run_by"] = registers_run_by
    return environment


def _translator(catalogue: Translations) -> Callable[[str], str]:
    """The ``tr`` filter: a text made in Python (a title, a reason) looked up as it is, never
    %-formatted; one not in the catalogue as a whole is looked up part by part, the parts
    joined by "; " as the forms join several texts for one input (what no catalogue holds,
    like a rule's own reason, stays as it is)."""

    def tr(text: str) -> str:
        whole = catalogue.gettext(text)
        if whole != text or "; " not in text:
            return whole
        return "; ".join(catalogue.gettext(part) for part in text.split("; "))

    return tr


#: The English environment (tests render templates with it).
_TEMPLATES: Final = templates("en")

router = APIRouter(include_in_schema=False)


def language(request: Request) -> str:
    """The language of the page for ``request`` (:func:`pathway.console.i18n.negotiate`)."""
    return negotiate(request.headers.get("accept-language"), request.cookies.get(LANGUAGE_COOKIE))


def _here(request: Request) -> str:
    """This page's address on the console (path and query), where the switch leads back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _settings(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.console
    return settings


def _signer(request: Request) -> SessionSigner:
    signer: SessionSigner = request.app.state.console_sessions
    return signer


class Throttled(Exception):
    """The signed-in organisation's requests exceed the gateway's rate: the console counts
    against the same per-organisation token bucket as the API (:func:`throttled_page`)."""

    def __init__(self, principal: Principal, wait: int) -> None:
        super().__init__(principal.role)
        self.principal = principal
        self.wait = wait


def signed_in(request: Request) -> Principal | None:
    """Who is signed in at this browser (a genuine, unexpired session cookie of a principal
    whose token is not revoked), else None. Each signed-in request takes from the
    organisation's rate, as an API request does: :class:`Throttled` when it is spent."""
    cookie = request.cookies.get(SESSION_COOKIE)
    session = _signer(request).open(cookie) if cookie else None
    gw: GatewayContext = request.app.state.gateway
    if session is None or not gw.authenticator.still_holds(session):
        return None
    if (wait := gw.limiter.take(session.principal.role)) is not None:
        raise Throttled(session.principal, wait)
    return session.principal


async def throttled_page(request: Request, exc: Exception) -> Response:
    """429 with ``Retry-After`` for a :class:`Throttled` request, as a page."""
    assert isinstance(exc, Throttled)
    response = page(
        request,
        "error.html",
        429,
        principal=exc.principal,
        title=N_("Too many requests"),
        detail=N_("Your organisation has sent too many requests just now: try again shortly."),
    )
    response.headers["Retry-After"] = str(exc.wait)
    return response


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The template ``name`` rendered in the request's :func:`language`, ``no-store``, with
    the CSRF token for the browser's session (or pre-session) cookie and the language switch's
    links back to this page (the inbox from an error page) (``Content-Language`` says which
    language it is in)."""
    cookie = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_SESSION_COOKIE)
    csrf = csrf_token(_settings(request).secret, cookie) if cookie else ""
    chosen = language(request)
    # An error page never echoes the address it answers (the 404 of a case the organisation
    # may not see is the same page, byte for byte, whatever the case ID): its switch leads to
    # the inbox.
    # Nor does the page that follows the identity provider's sign-in (its address holds the
    # code and the state).
    here = "/console" if name in _NO_ECHO else _here(request)
    html = (
        templates(chosen)
        .get_template(name)
        .render(csrf=csrf, here=here, languages=LANGUAGES, **context)
    )
    headers = {**_NO_STORE, "Content-Language": chosen}
    return HTMLResponse(html, status_code=status, headers=headers)


async def _form(request: Request) -> dict[str, str]:
    """The posted ``application/x-www-form-urlencoded`` fields (the first of each name)."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _forged(request: Request, form: dict[str, str], cookie_name: str) -> HTMLResponse | None:
    """403 if the form's CSRF token is not the one for the browser's ``cookie_name``."""
    if csrf_valid(
        _settings(request).secret, request.cookies.get(cookie_name), form.get("csrf_token")
    ):
        return None
    log.warning("console form refused: CSRF token missing or wrong", path=request.url.path)
    return page(
        request,
        "error.html",
        403,
        principal=None,
        title=N_("Form expired"),
        detail=N_("This form is no longer valid. Open the page again and send it once more."),
    )


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=_NO_STORE)


@router.get("/console/sign-in")
async def sign_in_page(request: Request) -> Response:
    if signed_in(request) is not None:
        return _see_other("/console")
    pre = request.cookies.get(PRE_SESSION_COOKIE) or new_pre_session()
    request.cookies[PRE_SESSION_COOKIE] = pre  # the form's token is bound to it
    # The identity provider's button, where OIDC sign-in is configured (pathway.console.oidc).
    response = page(request, "sign_in.html", principal=None, oidc=_settings(request).oidc)
    set_cookie(request, response, PRE_SESSION_COOKIE, pre, max_age=3600)
    return response


@router.post("/console/sign-in")
async def sign_in(request: Request) -> Response:
    form = await _form(request)
    if refused := _forged(request, form, PRE_SESSION_COOKIE):
        return refused
    gw: GatewayContext = request.app.state.gateway
    try:
        principal = await gw.authenticator.authenticate(form.get("token", "").strip())
    except AuthUnavailable:
        principal, error = None, N_("Sign-in is unavailable just now: try again in a minute.")
    else:
        error = N_("This token is unknown, expired or not for this service.")
    if principal is None:
        log.warning("console sign-in failed")
        return page(
            request,
            "sign_in.html",
            401,
            principal=None,
            error=error,
            oidc=_settings(request).oidc,
        )
    credential = gw.authenticator.credential_of(principal, form.get("token", ""))
    return start_session(request, _see_other("/console"), principal, credential)


def start_session(
    request: Request, response: Response, principal: Principal, credential: str | None
) -> Response:
    """``response`` with the session cookie of ``principal`` (``credential``: the hash of the
    token it signed in with, None for a JWT or an OIDC sign-in; :meth:`SessionSigner.issue`),
    for the console's session lifetime, and without the pre-session cookie. The one way a
    sign-in, by form or by the identity provider, opens a session."""
    value, _expires = _signer(request).issue(principal, credential)
    request.state.principal = principal
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        value,
        int(_settings(request).session_ttl.total_seconds()),
    )
    response.delete_cookie(PRE_SESSION_COOKIE, path="/console")
    return response


def _back(target: str | None) -> str:
    """``target`` if it is a page of the console (a path under ``/console``, never another
    site's address), else the inbox."""
    if not target or "\\" in target or not target.isprintable() or "//" in target:
        return "/console"
    path = target.partition("?")[0]
    # No dot segments: "/console/../v1/cases" is not a console page, whatever a browser makes
    # of it.
    if "%2e" in path.lower() or any(part in (".", "..") for part in path.split("/")):
        return "/console"
    if path == "/console" or path.startswith("/console/"):
        return target
    return "/console"


@router.get("/console/language")
async def switch_language(request: Request) -> Response:
    """The language switch: ``?to=sl|en`` kept in the cookie :data:`LANGUAGE_COOKIE` (a year;
    it names a language, nothing else), then back (303) to ``back``, the page it was chosen on
    (only a console page). An unknown language changes nothing. A GET: it changes only how the
    console speaks to this browser, so it needs no session and no CSRF token (a forged link
    could at most switch the language)."""
    query = request.query_params
    response = _see_other(_back(query.get("back")))
    chosen = query.get("to", "")
    if chosen in LANGUAGES:
        set_cookie(request, response, LANGUAGE_COOKIE, chosen, max_age=_LANGUAGE_MAX_AGE)
    return response


@router.post("/console/sign-out")
async def sign_out(request: Request) -> Response:
    form = await _form(request)
    if refused := _forged(request, form, SESSION_COOKIE):
        return refused
    response = _see_other("/console/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


def _filters(request: Request) -> InboxFilters:
    """The inbox's filters from the query (a malformed ``days`` is ignored)."""
    query = request.query_params
    days = query.get("days", "")
    return InboxFilters(
        days=int(days) if days.isascii() and days.isdigit() else None,
        rule=query.get("rule") or None,
        case_id=query.get("case") or None,
    )


@router.get("/console")
async def inbox(request: Request) -> Response:
    """The signed-in organisation's inbox (:mod:`pathway.console.inbox`)."""
    principal = signed_in(request)
    if principal is None:
        return _see_other("/console/sign-in")
    request.state.principal = principal
    # Imported here: the gateway's app imports this module (mounting the console).
    from pathway.gateway.routes.obligations import obligations_of, whose

    gw: GatewayContext = request.app.state.gateway
    try:
        answer = await obligations_of(gw, whose(principal, None))
    except Problem as problem:
        return page(
            request,
            "error.html",
            problem.status,
            principal=principal,
            title=problem.title,
            detail=problem.detail,
        )
    filters = _filters(request)
    items = inbox_items(answer, datetime.now(UTC), filters)
    return page(
        request,
        "inbox.html",
        principal=principal,
        items=items,
        overdue=sum(item.overdue for item in items),
        filters=filters,
        answer=answer,
        local=local_time,
    )


#: The one answer for a case the signed-in organisation may not see: unknown, erased (unless it
#: was a member when it was erased) or not a member. Nothing in it depends on the case.
_NO_SUCH_CASE: Final = {
    "title": N_("No such case"),
    "detail": N_("There is no case with this ID that your organisation may see."),
}


def _refused(request: Request, principal: Principal, problem: Problem) -> HTMLResponse:
    """The page for a refused case read: the same 404 page, byte for byte, whenever the
    gateway answers 404 (:func:`pathway.gateway.dependencies.not_found`), else the gateway's
    own title and detail (410 to a former member of an erased case, 403 to an analyst,
    503/504 when Temporal does not answer)."""
    if problem.status == 404:
        return page(request, "error.html", 404, principal=principal, **_NO_SUCH_CASE)
    return page(
        request,
        "error.html",
        problem.status,
        principal=principal,
        title=problem.title,
        detail=problem.detail,
    )


async def _readable_state(request: Request, principal: Principal, case_id: str) -> CaseState:
    """The case's state read exactly as ``GET /v1/cases/{case_id}`` reads it: the same checks
    in the same order (a reader of cases, a possible and not erased case ID, a member the
    policy lets read it). Raises the gateway's :class:`Problem` (404 for a non-member, an
    unknown and an erased case alike)."""
    # Imported here: the gateway's app imports this module (mounting the console).
    from pathway.gateway.dependencies import case_reader, known_case_id, readable_case

    gw: GatewayContext = request.app.state.gateway
    reader = await case_reader(principal)
    known = await known_case_id(request, case_id, reader, gw)
    return await readable_case(known, reader, gw)


async def _signed_in_reading(
    request: Request, case_id: str
) -> tuple[Principal, CaseState] | Response:
    """Who is signed in and the case as they may read it (:func:`_readable_state`), or the
    answer instead: to the sign-in page, or the refusal page (the same 404 for a non-member,
    an unknown and an erased case). Shared by the case page and its picture."""
    principal = signed_in(request)
    if principal is None:
        return _see_other("/console/sign-in")
    request.state.principal = principal
    try:
        return principal, await _readable_state(request, principal, case_id)
    except Problem as problem:
        return _refused(request, principal, problem)


@router.get("/console/cases/{case_id}")
async def case(request: Request, case_id: str) -> Response:
    """The case as the signed-in organisation's role may see it (:mod:`pathway.console.case`):
    read as the gateway reads it (:func:`_readable_state`), shown as its view
    (:func:`pathway.access.policy.case_view`). A non-member, an unknown and an erased case get
    the same 404 page (R6)."""
    read = await _signed_in_reading(request, case_id)
    if isinstance(read, Response):
        return read
    principal, state = read
    return page(
        request,
        "case.html",
        principal=principal,
        case=case_page(case_view(state, principal.role)),
        # The recording forms (pathway.console.recording): offered if the policy lets the
        # organisation send any event to this case.
        may_record=bool(sendable_types(state, principal.role)),
        local=local_time,
    )


#: The timeline picture's own headers: an image, never cached; matplotlib's SVG styles its
#: shapes inline, which the pages' policy forbids, so this one allows inline styles and
#: nothing else (an SVG shown by <img> runs no script and loads nothing).
_SVG_HEADERS: Final = {
    **_NO_STORE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'",
}


@router.get("/console/cases/{case_id}/timeline.svg")
async def case_timeline(request: Request, case_id: str) -> Response:
    """The case's timeline picture (:func:`pathway.timeline_svg.timeline_svg`) from the same
    view as the case page, so it shows nothing the role may not read; refused exactly as the
    case page is (the same 404 page for a non-member, an unknown and an erased case)."""
    read = await _signed_in_reading(request, case_id)
    if isinstance(read, Response):
        return read
    principal, state = read
    view = case_view(state, principal.role)
    # Drawn in a worker thread: a few hundred milliseconds of matplotlib must not hold every
    # other request of the gateway (review finding 5).
    svg = await asyncio.to_thread(_draw_timeline, view, datetime.now(UTC))
    return Response(svg, media_type="image/svg+xml", headers=_SVG_HEADERS)


#: One picture drawn at a time: matplotlib's settings (``rc_context``) are process-wide.
_DRAWING: Final = threading.Lock()


def _draw_timeline(view: dict[str, Any], now: datetime) -> str:
    # Imported here: matplotlib is loaded when a picture is first drawn, not at start.
    from pathway.timeline_svg import timeline_svg

    with _DRAWING:
        return timeline_svg(view, now=now)


def local_time(moment: datetime | None) -> str:
    """``moment`` in Europe/Ljubljana, as Slovenians write it (``1. 12. 2026 09:00``); a
    local midnight, where deadlines end, as the end of the day before (``28. 2. 2027 24:00``,
    :func:`pathway.domain.calendar.last_day`), as the rules and reminders state it."""
    if moment is None:
        return "–"
    here = moment.astimezone(LJUBLJANA)
    if (here.hour, here.minute, here.second, here.microsecond) == (0, 0, 0, 0):
        day = last_day(moment)
        return f"{day.day}. {day.month}. {day.year} 24:00"
    return f"{here.day}. {here.month}. {here.year} {here:%H:%M}"
