"""``/v1/cases``: open a case with an identification, send an event to a case, read a case and
its timeline, each as the caller's role may (:mod:`pathway.access.policy`).

An event is answered only once its case's workflow accepted or rejected it (a Temporal Update),
so "accepted" means durably recorded; a repeat of an ``event_id`` returns the first result.
Events for one case take turns (:func:`~pathway.gateway.dependencies.case_update`): a burst
waits in the gateway rather than overrunning Temporal, and beyond what it absorbs the answer is
429 busy (nothing recorded), never an outage.

Every request about a case asks the access policy (:func:`pathway.access.policy.case_allows`)
with the caller's roles in the case's membership. Before an event takes a place in the case's
lane, the case's state is read to learn them: a non-member gets the answer for an unknown case
(404), whatever the event and however busy the case, before any rule is checked, and sending
never makes anyone a member (R6, issue 11).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time.
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.client import WorkflowUpdateFailedError

from pathway.access.credentials import Principal
from pathway.access.policy import (
    NOT_A_MEMBER_FIELD,
    Action,
    acknowledgement_view,
    case_view,
    decide,
    timeline_view,
)
from pathway.clients.cases import EventRejected, UnknownCase, open_case, record_event
from pathway.domain.events import CaseEvent
from pathway.domain.ids import case_id_for
from pathway.domain.state import CaseStanding, EventResult, Phase
from pathway.gateway.context import GatewayContext
from pathway.gateway.dependencies import (
    CaseReader,
    Gateway,
    KnownCaseId,
    OpeningEvent,
    ReadableCase,
    SentEvent,
    case_update,
    erased,
    gone,
    member_standing,
    not_found,
)
from pathway.gateway.openapi import CASE_ERRORS, EVENT_ERRORS, request_body
from pathway.privacy.keys import CaseErased
from pathway.web.problems import Problem

__all__ = ["ChangesView", "EventAnswer", "OpenedCase", "TimelineAnswer", "router", "send_event"]

log = structlog.stdlib.get_logger(__name__)

router = APIRouter(tags=["cases"])


# -- answers (documented in the OpenAPI) --------------------------------------------------------
class ChangesView(BaseModel):
    """What the event changed in the case (only the parts the caller may read): obligations
    opened and settled, deadlines set (or moved) and ended, as the case shows them."""

    obligations_opened: list[dict[str, Any]] | None = None
    obligations_settled: list[dict[str, Any]] | None = None
    deadlines_set: list[dict[str, Any]] | None = None
    deadlines_ended: list[dict[str, Any]] | None = None


class EventAnswer(BaseModel):
    """An accepted event's acknowledgement (issue 14: a few hundred bytes, not the whole case;
    ``GET /v1/cases/{case_id}`` reads the case). ``duplicate`` marks a repeat of an
    ``event_id``: the first acknowledgement; nothing changed this time."""

    event_id: str
    event_type: str
    duplicate: bool
    phase: Phase | None = None
    changes: ChangesView


class OpenedCase(EventAnswer):
    """The case an identification opened (or, on a repeat, had opened)."""

    case_id: str


class TimelineAnswer(BaseModel):
    case_id: str
    timeline: list[dict[str, Any]] = Field(
        description="Entries with the fields the caller's role may read"
    )


# -- the refusals of an event -------------------------------------------------------------------
def rejected(err: EventRejected, case_id: str | None = None) -> Problem:
    return Problem(
        409,
        "event-rejected",
        "event rejected",
        err.reason,
        rule=err.rule,
        field=err.field,
        case_id=case_id,
    )


def unprocessable(request: Request, err: WorkflowUpdateFailedError) -> Problem:
    # The case refused the event for a reason that is no rule (a fault in the domain's
    # checks): nothing was applied, and sending it again will not help.
    log.error("event refused without a rule", error=type(err.cause).__name__, **request.state.audit)
    return Problem(
        422,
        "event-unprocessable",
        "event cannot be processed",
        "the case could not process this event; nothing was recorded",
    )


# -- routes -------------------------------------------------------------------------------------
@router.post(
    "/v1/cases",
    status_code=201,
    summary="Open a case with an identification (R1)",
    description="Starts the person's case, or joins it if another identification of the "
    "same `subject_ref` got there first (then 409, rule CASE, with the `case_id`). A "
    "repeat of an `event_id` answers 200 with the first result.",
    openapi_extra=request_body("Identified"),
    responses={
        201: {"model": OpenedCase, "description": "The case was opened"},
        200: {"model": OpenedCase, "description": "A repeat: the first result"},
        **EVENT_ERRORS,
    },
)
async def post_case(
    request: Request, principal: CaseReader, event: OpeningEvent, gw: Gateway
) -> Response:
    settings = gw.settings
    case_id = case_id_for(event.subject_ref, settings.pepper)
    request.state.audit["case_id"] = case_id
    # An erased person identified again opens a new episode of the case (R1, issue 12): no
    # refusal here. CaseErased below is only a race with an erasure of the episode just opened.
    try:
        case_id, result = await case_update(
            gw,
            case_id,
            lambda: open_case(
                gw.client,
                event,
                pepper=settings.pepper,
                config=settings.case_config,
                task_queue=settings.task_queue,
            ),
        )
    except EventRejected as err:
        # Both identifications name the same person: the second caller learns the case.
        raise rejected(err, case_id if err.rule == "CASE" else None) from None
    except WorkflowUpdateFailedError as err:
        raise unprocessable(request, err) from None
    except CaseErased:
        raise gone(case_id) from None
    body = {"case_id": case_id, **acknowledgement_view(result, principal.role)}
    return JSONResponse(
        body,
        status_code=200 if result.duplicate else 201,
        headers={"Location": f"/v1/cases/{case_id}"},
    )


@router.post(
    "/v1/cases/{case_id}/events",
    summary="Send one event to a case",
    description="Answers once the case's workflow accepted the event (durably recorded) "
    "or rejected it (409 with the rule and field; nothing changed). The event's "
    "`organisation` must be the caller's. A repeat of an `event_id` answers the first "
    "result.",
    openapi_extra=request_body("CaseEvent"),
    responses={
        200: {"model": EventAnswer, "description": "Accepted (or a repeat)"},
        **EVENT_ERRORS,
    },
)
async def post_event(
    request: Request, case_id: KnownCaseId, principal: CaseReader, event: SentEvent, gw: Gateway
) -> Response:
    result = await send_event(request, gw, principal, case_id, event)
    return JSONResponse(acknowledgement_view(result, principal.role))


async def send_event(
    request: Request, gw: GatewayContext, principal: Principal, case_id: str, event: CaseEvent
) -> EventResult:
    """Send ``event`` (already parsed, naming ``principal``'s organisation) to ``case_id`` as
    ``POST /v1/cases/{case_id}/events`` does, for it and the console's forms (issue 17): 404
    for a non-member before any rule, then the policy (403, rule ACCESS, field ``type``), then
    a closed case (409, rule CASE); the case's own rules decide, in the case's turn. Returns
    the case's :class:`~pathway.domain.state.EventResult` (``duplicate`` for a repeat of an
    ``event_id``: the first result, applied once). Raises :class:`Problem`: 409 ``rule`` and
    ``field`` of a rejection, 404, 410, 422, 429, 503, 504 as the route answers."""

    async def may_send() -> None:
        # 404 for a non-member, before any rule; then the policy, then a closed case. Only the
        # caller's standing is read, not the whole state (issue 14).
        standing = await member_standing(gw, principal, case_id)
        _check_send(principal, standing, event.type)
        if standing.phase is Phase.CLOSED:
            raise closed()

    try:
        return await case_update(
            gw,
            case_id,
            lambda: record_event(gw.client, case_id, event, sender=principal.role),
            before=may_send,
        )
    except EventRejected as err:
        if err.rule == "ACCESS":
            # The case's own check, as its membership stood when the event arrived (a member
            # removed since may_send): what may_send would answer now.
            if err.field == NOT_A_MEMBER_FIELD:
                raise not_found(case_id) from None
            raise forbidden_send(principal, event.type) from None
        raise rejected(err) from None
    except WorkflowUpdateFailedError as err:
        raise unprocessable(request, err) from None
    except CaseErased:
        raise erased(principal, case_id, gw.former_members(case_id)) from None
    except UnknownCase:
        # Closed (its workflow has completed) since the state was read, or gone.
        if (await member_standing(gw, principal, case_id)).phase is Phase.CLOSED:
            raise closed() from None
        raise not_found(case_id) from None


def forbidden_send(principal: Principal, event_type: str) -> Problem:
    return Problem(
        403,
        "forbidden",
        "not allowed",
        f"{principal.role} may not send {event_type} to this case: only the lead NGO ends "
        "assistance or the case (the police record a return home by K7)",
        rule="ACCESS",
        field="type",
    )


def _check_send(principal: Principal, standing: CaseStanding, event_type: str) -> None:
    """A member may send ``event_type`` to the case (the policy with its roles in the case: its
    role's events, and exits only from the lead NGO, or the police by K7 for
    ``returned_home``); 403 if not."""
    if not decide(principal.role, standing.roles, Action.SEND, event_type):
        raise forbidden_send(principal, event_type)


def closed() -> Problem:
    """An event for a closed case (told only to its members)."""
    return Problem(
        409,
        "event-rejected",
        "event rejected",
        "the case is closed",
        rule="CASE",
        field="type",
    )


@router.get(
    "/v1/cases/{case_id}",
    summary="The case, as the caller's role may see it",
    description="Only the case's members (and operators) read it; each role sees the "
    "fields the read matrix grants it (docs/gateway.md).",
    responses={
        200: {
            "description": "The case's readable fields",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **CASE_ERRORS,
    },
)
async def get_case(principal: CaseReader, state: ReadableCase) -> Response:
    return JSONResponse(case_view(state, principal.role))


@router.get(
    "/v1/cases/{case_id}/timeline",
    summary="Who did what when in the case, as the caller's role may see it",
    response_model=TimelineAnswer,
    responses=CASE_ERRORS,
)
async def get_timeline(
    case_id: KnownCaseId, principal: CaseReader, state: ReadableCase
) -> TimelineAnswer:
    return TimelineAnswer(case_id=case_id, timeline=timeline_view(state, principal.role))
