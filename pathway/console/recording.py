"""Recording an event in the console (issue 17 item 4): ``GET /console/cases/{case_id}/events/new``
lists the event types the signed-in organisation may send to the case; with ``?type=T`` it is
the form of ``T`` (:mod:`pathway.console.forms`), and ``POST`` to the same address sends it.

The case is looked up as the gateway looks it up (:func:`pathway.gateway.dependencies.
known_case_id`, :func:`~pathway.gateway.dependencies.member_state`): a non-member, a malformed
or unknown case ID, an erased case (for all but its former members) are the same 404, and so is
an event type the access policy does not let the organisation send to this case (no form is
offered for it). A posted form goes through the CSRF check, then becomes the event
(:func:`~pathway.console.forms.event_data`, :func:`~pathway.domain.events.parse_event`) and is
sent by the gateway's own send path (:func:`pathway.gateway.routes.cases.send_event`), whose
answer is the case's: a rejection re-renders the form (409) with the rule ID and the reason next
to the field it names; an accepted event (or a repeat of its ``event_id``: applied once) is a
303 to the case page (``/console/cases/{case_id}``), which shows the updated case.

Nothing personal goes in a URL: the form's values travel only in the POST body.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time.
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from pathway.access.credentials import Principal
from pathway.console.forms import (
    EventForm,
    event_data,
    event_form,
    local_input,
    new_event_id,
    posted_event_id,
    sendable_types,
)
from pathway.console.i18n import N_
from pathway.console.routes import (
    _MAX_FORM_BYTES,
    _forged,
    _refused,
    _see_other,
    page,
    signed_in,
)
from pathway.console.session import SESSION_COOKIE
from pathway.domain.events import CaseEvent, parse_event, validation_problems
from pathway.domain.rules.core import RULE_IDEMPOTENCY
from pathway.domain.state import CaseState
from pathway.web.problems import Problem

if TYPE_CHECKING:
    from pathway.gateway.context import GatewayContext

__all__ = ["FORM_PATH", "placed_errors", "posted_form", "router"]

log = structlog.stdlib.get_logger(__name__)

#: The form's address (and the chooser's, without ``?type=``).
FORM_PATH: Final = "/console/cases/{case_id}/events/new"
#: Where an accepted event leads: the case page (:func:`pathway.console.routes.case`).
CASE_PAGE: Final = "/console/cases/{case_id}"

router = APIRouter(include_in_schema=False)


def _problem_page(request: Request, principal: Principal, problem: Problem) -> HTMLResponse:
    """The case page's answer to the same refusal (:func:`pathway.console.routes._refused`):
    its one 404 page for a case the organisation may not see, whatever the reason."""
    return _refused(request, principal, problem)


async def _member_state(request: Request, principal: Principal, case_id: str) -> CaseState:
    """The case's state if the signed-in organisation is a member of it (the gateway's own
    checks: :class:`Problem` 404 for a malformed, unknown or foreign case, 410 as it says)."""
    # Imported here: the gateway's app imports the console (mounting it).
    from pathway.gateway.dependencies import case_reader, known_case_id, member_state

    gw: GatewayContext = request.app.state.gateway
    await case_reader(principal)
    await known_case_id(request, case_id, principal, gw)
    return await member_state(gw, principal, case_id)


def _form_of(state: CaseState, principal: Principal, event_type: str) -> EventForm:
    """The form of ``event_type`` if the policy lets ``principal`` send it to the case; the
    unknown case's 404 if not (the organisation learns nothing from a form it cannot have)."""
    from pathway.gateway.dependencies import not_found

    if event_type not in sendable_types(state, principal.role):
        raise not_found(state.case_id)
    return event_form(event_type)


def _after(case_id: str) -> str:
    """The case's page, where an accepted event shows."""
    return CASE_PAGE.format(case_id=case_id)


@dataclass(frozen=True, kw_only=True)
class _Filled:
    """A form as the browser holds it: its event ID (the hidden field) and inputs' values."""

    request: Request
    principal: Principal
    case_id: str
    form: EventForm
    event_id: str
    values: Mapping[str, Sequence[str]]

    def render(
        self,
        errors: Mapping[str, str] | None = None,
        refusal: Problem | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        """The form, with its values in its inputs and each of ``errors`` (dotted field ->
        text) next to the input it names (one of no input, e.g. ``type``, above the form)."""
        placed, general = placed_errors(self.form, errors or {})
        return page(
            self.request,
            "event_form.html",
            status,
            principal=self.principal,
            case_id=self.case_id,
            form=self.form,
            event_id=self.event_id,
            values=self.values,
            errors=placed,
            general=general,
            refusal=refusal,
            back=_after(self.case_id),
            action=FORM_PATH.format(case_id=self.case_id) + f"?type={self.form.event_type}",
        )


def placed_errors(
    form: EventForm, errors: Mapping[str, str]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """``errors`` (dotted field -> text) placed on ``form``: those at an input (the input's
    name -> the texts joined by "; "), and those of no input (``type``, a field the form has
    no input for), in order, to show above the form (shared by the programme registers' forms,
    :mod:`pathway.console.programmes`)."""
    names = {f.name for f in form.all_fields()}
    placed: dict[str, str] = {}
    general: list[tuple[str, str]] = []
    for name, text in errors.items():
        at = _input_for(name, names)
        if at is None:
            general.append((name, text))
        else:
            placed[at] = f"{placed[at]}; {text}" if at in placed else text
    return placed, general


def _input_for(field: str, names: set[str]) -> str | None:
    """The input a rejection's dotted ``field`` belongs to: itself, or the nearest enclosing
    one (``person.citizenships.0`` -> ``person.citizenships``); None if no input holds it."""
    parts = field.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name in names:
            return name
    return None


def posted_form(body: bytes) -> dict[str, list[str]]:
    """Every value posted under each name (checkboxes post several)."""
    if len(body) > _MAX_FORM_BYTES:
        return {}
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


@router.get(FORM_PATH)
async def new_event(request: Request, case_id: str) -> Response:
    """Without ``type``: the event types the organisation may send to the case, one link
    each; with it, that type's empty form (a fresh event ID, the time now in Ljubljana)."""
    principal = signed_in(request)
    if principal is None:
        return _see_other("/console/sign-in")
    request.state.principal = principal
    event_type = request.query_params.get("type")
    try:
        state = await _member_state(request, principal, case_id)
        if event_type is None:
            return page(
                request,
                "event_types.html",
                principal=principal,
                case_id=case_id,
                types=[event_form(t) for t in sendable_types(state, principal.role)],
                path=FORM_PATH.format(case_id=case_id),
                back=_after(case_id),
            )
        form = _form_of(state, principal, event_type)
    except Problem as problem:
        return _problem_page(request, principal, problem)
    values = {f.name: [f.default] for f in form.all_fields() if f.default is not None}
    values["occurred_at"] = [local_input(datetime.now(UTC))]
    event_id = new_event_id(principal.role)
    return _Filled(
        request=request,
        principal=principal,
        case_id=case_id,
        form=form,
        event_id=event_id,
        values=values,
    ).render()


@router.post(FORM_PATH)
async def record(request: Request, case_id: str) -> Response:
    """Send the posted form: 403 for a wrong CSRF token (nothing sent), 404 as for the form,
    422 with the inputs the event's schema refuses, 409 with the rule a case's rule refuses
    it by, else 303 to the case page."""
    principal = signed_in(request)
    if principal is None:
        return _see_other("/console/sign-in")
    request.state.principal = principal
    posted = posted_form(await request.body())
    first = {name: values[0] for name, values in posted.items()}
    if refused := _forged(request, first, SESSION_COOKIE):
        return refused
    event_type = request.query_params.get("type", "")
    try:
        form = _form_of(await _member_state(request, principal, case_id), principal, event_type)
    except Problem as problem:
        return _problem_page(request, principal, problem)
    # The hidden field, as the form was first given (a fresh one only if it is missing).
    filled = _Filled(
        request=request,
        principal=principal,
        case_id=case_id,
        form=form,
        event_id=posted_event_id(principal.role, first.get("event_id")),
        values=posted,
    )
    data, errors = event_data(form, posted, event_id=filled.event_id, organisation=principal.role)
    if errors:
        return filled.render(errors, status=422)
    try:
        event = parse_event(data)
    except ValidationError as err:
        # Each field's first problem.
        return filled.render(dict(reversed(validation_problems(err))), status=422)
    return await _send(filled, event)


async def _send(filled: _Filled, event: CaseEvent) -> Response:
    """``event`` sent by the gateway's send path: 303 to the case page once the case accepted
    it (or had: a repeat); the form again with the rule and reason of a refusal (409)."""
    # Imported here: the gateway's app imports the console (mounting it).
    from pathway.gateway.routes.cases import send_event

    request, principal, case_id = filled.request, filled.principal, filled.case_id
    gw: GatewayContext = request.app.state.gateway
    try:
        result = await send_event(request, gw, principal, case_id, event)
    except Problem as problem:
        field, rule = problem.extra.get("field"), problem.extra.get("rule")
        if problem.status == 409 and isinstance(field, str):
            text = f"{rule}: {problem.detail}" if rule else str(problem.detail)
            if rule == RULE_IDEMPOTENCY:
                # This form's event was recorded, and then the form was changed and sent again
                # (the browser's Back): what is in it now is another event, with an ID of its own.
                text += "; " + N_(
                    "it was recorded as first sent: sending this form records a new event"
                )
                filled = replace(filled, event_id=new_event_id(principal.role))
            return filled.render({field: text}, refusal=problem, status=409)
        return _problem_page(request, principal, problem)
    log.info(
        "console event recorded", case_id=case_id, event_type=event.type, duplicate=result.duplicate
    )
    return _see_other(_after(case_id))
