"""What the gateway's routes depend on, as FastAPI dependencies and small helpers:

- the gateway's context (:data:`Gateway`);
- the caller, from the one ``Authorization`` header (:data:`Caller`), rate-limited per
  organisation, and one who may read cases (:data:`CaseReader`);
- the case named in the path: well-formed and not erased (:data:`KnownCaseId`), and its state
  if the caller is a member of it and may read it (:data:`ReadableCase`, :func:`member_state`:
  :func:`pathway.access.policy.case_allows` with the caller's roles in the case's membership);
- Temporal within the gateway's patience (:func:`temporal`), and an event sent to a case in
  its turn (:func:`case_update`), with Temporal's three kinds of trouble told apart: busy (429,
  nothing recorded), no answer in time while Temporal is up (504, outcome unknown) and
  unreachable (503);
- the event in the body, parsed and checked against the caller's role (:data:`OpeningEvent`,
  :data:`SentEvent`).

A route's dependencies run before the route, each after those it depends on: the caller is
always known (400 for two ``Authorization`` headers, 401, 429, 403) before the path (404; 410
for those who may learn of an erasure) and then the body (415, 413, 400, 422, 403) are looked
at; the case itself (404 for a non-member) last.

A non-member learns nothing about a case: whether it exists, was erased or never was, every
request about it is answered with the same 404 (:func:`not_found`), before any rule is checked.
Erased cases answer 410 to operators and to the case's former members (organisation codes kept
beside the destroyed key at erasure), 404 to everyone else.
"""

# No `from __future__ import annotations`: FastAPI reads these annotations at run time.
import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any, Final, TypeVar

import structlog
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from pathway.access.credentials import Principal
from pathway.access.identity import AuthUnavailable
from pathway.access.policy import Action, case_allows, may_read_cases, may_send, roles_in_case
from pathway.clients.cases import CaseBusy, OutcomeUnknown, UnknownCase, is_busy
from pathway.domain.events import BaseEvent, CaseEvent, Identified, parse_event, validation_problems
from pathway.domain.state import CaseStanding, CaseState
from pathway.gateway.context import GatewayContext, GatewaySettings
from pathway.privacy.keys import CaseErased
from pathway.web.bodies import read_json
from pathway.web.problems import Problem, field_errors, unavailable

__all__ = [
    "UNKNOWN_OUTCOME",
    "Caller",
    "CaseReader",
    "Gateway",
    "KnownCaseId",
    "OpeningEvent",
    "ReadableCase",
    "SentEvent",
    "busy",
    "case_update",
    "erased",
    "gone",
    "member_standing",
    "member_state",
    "not_found",
    "temporal",
    "temporal_errors",
    "temporal_reachable",
]

log = structlog.stdlib.get_logger(__name__)

T = TypeVar("T")

#: Case IDs are ``case-`` and lower-case base32 (children's cases add ``-<label>``). Anything
#: else cannot be a case: 404 without asking Temporal.
_CASE_ID: Final = re.compile(r"case-[a-z0-9][a-z0-9-]{0,150}")
UNKNOWN_OUTCOME: Final = (
    "try again later; an event whose answer this is may or may not have "
    "been recorded: send it again with the same event_id"
)
#: Seconds to wait for Temporal to say it is there at all, once a call got no answer in time.
PROBE_SECONDS: Final = 2.0
#: Pauses between sending an event again while Temporal says its case is busy (beyond the
#: retries of the SDK itself), within the gateway's patience.
BUSY_PAUSES: Final = (0.1, 0.25, 0.5, 1.0)


# -- the gateway --------------------------------------------------------------------------------
def gateway_context(request: Request) -> GatewayContext:
    """The context :func:`~pathway.gateway.app.create_gateway_app` keeps on the app."""
    context: GatewayContext = request.app.state.gateway
    return context


Gateway = Annotated[GatewayContext, Depends(gateway_context)]


# -- who is calling -----------------------------------------------------------------------------
bearer: Final = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description=("An organisation's API token, or a JWT from the deployment's identity provider."),
)


async def _authenticate(request: Request, gw: GatewayContext, token: str) -> Principal:
    try:
        principal = await gw.authenticator.authenticate(token)
    except AuthUnavailable:
        raise unavailable(
            "authentication-unavailable",
            "authentication temporarily unavailable",
            gw.settings.retry_after_seconds,
            "the identity provider's keys cannot be fetched",
        ) from None
    if principal is None:
        log.warning(
            "gateway authentication failed", client=request.client.host if request.client else None
        )
        raise Problem(
            401,
            "authentication-required",
            "authentication failed",
            "the token is unknown, expired or not for this service",
        )
    return principal


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    gw: Gateway,
) -> Principal:
    """Who is calling (401 if nobody we know), within their organisation's rate (429). Two
    ``Authorization`` headers are refused (400): which one counts would be a guess."""
    if len(request.headers.getlist("authorization")) > 1:
        raise Problem(
            400,
            "malformed-request",
            "malformed request",
            "more than one Authorization header: send exactly one",
            header="Authorization",
        )
    if credentials is None:
        raise Problem(
            401,
            "authentication-required",
            "authentication required",
            "send Authorization: Bearer <token>",
        )
    principal = await _authenticate(request, gw, credentials.credentials)
    request.state.principal = principal
    wait = gw.limiter.take(principal.role)
    if wait is not None:
        raise Problem(
            429,
            "rate-limited",
            "too many requests",
            f"at most {gw.settings.rate_per_second:g} requests per second on "
            f"average for {principal.role}",
            headers={"Retry-After": str(wait)},
        )
    return principal


Caller = Annotated[Principal, Depends(caller)]


async def case_reader(principal: Caller) -> Principal:
    """A caller whose role reads cases (analysts read aggregates only: 403)."""
    if not may_read_cases(principal.role):
        raise Problem(
            403,
            "forbidden",
            "not allowed",
            f"role {principal.role} reads aggregates only, never a case",
            rule="ACCESS",
        )
    return principal


CaseReader = Annotated[Principal, Depends(case_reader)]


# -- Temporal -----------------------------------------------------------------------------------
async def temporal_reachable(gw: GatewayContext) -> bool:
    """Temporal answers at all (its system info, one try, within :data:`PROBE_SECONDS`)."""
    try:
        async with asyncio.timeout(PROBE_SECONDS + 1):
            await gw.client.workflow_service.get_system_info(
                GetSystemInfoRequest(), retry=False, timeout=timedelta(seconds=PROBE_SECONDS)
            )
    except (TimeoutError, RPCError, RuntimeError):
        return False
    return True


def busy(settings: GatewaySettings, case_id: str | None = None) -> Problem:
    """429: Temporal (or the case's lane here) takes no more events for the case just now;
    nothing was recorded."""
    return Problem(
        429,
        "busy",
        "case busy",
        "the case is receiving more events at once than it can take; nothing was recorded: "
        "send the request again (an event with the same event_id) after Retry-After seconds",
        case_id=case_id,
        headers={"Retry-After": str(settings.busy_retry_after_seconds)},
    )


def outcome_unknown(settings: GatewaySettings, detail: str) -> Problem:
    """504: Temporal is up, but the answer did not come in time."""
    return Problem(
        504,
        "outcome-unknown",
        "no answer in time",
        f"the case service is up but did not answer in time; {detail}",
        headers={"Retry-After": str(settings.retry_after_seconds)},
    )


_TROUBLE: Final = (
    TimeoutError,
    OutcomeUnknown,
    RPCError,
    RuntimeError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowQueryFailedError,
)


@asynccontextmanager
async def temporal_errors(
    gw: GatewayContext, detail: str = UNKNOWN_OUTCOME, *, probe: bool = True
) -> AsyncIterator[None]:
    """The block within the gateway's patience. Temporal's trouble in it becomes 429 busy if
    Temporal said "not now", else 504 outcome-unknown if Temporal still answers (``probe``),
    else 503 temporal-unavailable; the 504 and 503 carry ``Retry-After`` and ``detail``.
    Any other error (a :class:`CaseBusy` too) passes through."""
    settings = gw.settings
    try:
        async with asyncio.timeout(settings.temporal_timeout):
            yield
    except _TROUBLE as err:
        status = getattr(getattr(err, "status", None), "name", None)
        if isinstance(err, RPCError) and is_busy(err):
            log.warning("temporal busy", status=status)
            raise busy(settings) from None
        if probe and await temporal_reachable(gw):
            log.warning("temporal slow", error=type(err).__name__, status=status)
            raise outcome_unknown(settings, detail) from None
        log.error("temporal unavailable", error=type(err).__name__, status=status)
        raise unavailable(
            "temporal-unavailable",
            "the case service is unavailable",
            settings.retry_after_seconds,
            detail,
        ) from None


async def temporal(
    gw: GatewayContext, call: Awaitable[T], detail: str = UNKNOWN_OUTCOME, *, probe: bool = True
) -> T:
    """``call`` within :func:`temporal_errors`."""
    async with temporal_errors(gw, detail, probe=probe):
        return await call


async def _while_busy(budget: float, send: Callable[[], Awaitable[T]]) -> T:
    """``send()``, and again after a pause while it raises :class:`CaseBusy` (nothing was
    recorded, so sending again is safe), as long as ``budget`` seconds allow."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    for pause in BUSY_PAUSES:
        try:
            return await send()
        except CaseBusy:
            if loop.time() + pause >= deadline:
                raise
        await asyncio.sleep(pause)
    return await send()


async def case_update(
    gw: GatewayContext,
    case_id: str,
    send: Callable[[], Awaitable[T]],
    before: Callable[[], Awaitable[object]] | None = None,
) -> T:
    """``send()`` (an event for ``case_id``) in its turn in the case's lane, within the
    gateway's patience (:func:`temporal_errors`), sent again while Temporal says the case is
    busy. 429 busy if no turn comes (too many waiting, or waited ``temporal_timeout``) or the
    case stays busy: nothing was recorded.

    ``before()`` (the membership check, and every other refusal) runs first, before the request
    takes a place in the lane (R6, issue 11, review F10): a non-member gets the 404 of an
    unknown case however busy the case is, and never takes a slot of a case it has nothing to
    do with."""
    settings = gw.settings
    if before is not None:
        async with temporal_errors(gw):
            await before()
    try:
        async with (
            gw.lanes.turn(case_id, settings.temporal_timeout),
            temporal_errors(gw),
        ):
            return await _while_busy(settings.temporal_timeout, send)
    except CaseBusy:
        log.warning("case busy", case_id=case_id, waiting=gw.lanes.waiting(case_id))
        raise busy(settings, case_id) from None


# -- the case -----------------------------------------------------------------------------------
def gone(case_id: str) -> Problem:
    return Problem(
        410,
        "case-erased",
        "case erased",
        "the case was erased: nothing about it can be read or recorded",
        case_id=case_id,
    )


def not_found(case_id: str) -> Problem:
    """The same answer, byte for byte, whether the case does not exist, was erased or the
    caller is not a member of it, so that case existence does not leak (the ID is not echoed:
    the caller has it; the audit log records it)."""
    del case_id
    return Problem(404, "not-found", "no such case")


def _learns_of_erasure(principal: Principal, former_members: AbstractSet[str]) -> bool:
    """Operators and the case's former members (kept beside the destroyed key by
    :func:`pathway.privacy.erasure.erase_case`) learn that a case was erased (issue 11)."""
    return principal.is_operator or principal.role in former_members


def erased(principal: Principal, case_id: str, former_members: AbstractSet[str]) -> Problem:
    """An erased case: 410 for those who learn of the erasure (:func:`_learns_of_erasure`);
    for everyone else the answer for a case that does not exist (issue 11: a non-member cannot
    tell it existed)."""
    if _learns_of_erasure(principal, former_members):
        return gone(case_id)
    return not_found(case_id)


async def known_case_id(request: Request, case_id: str, principal: CaseReader, gw: Gateway) -> str:
    """The path's case ID, once the caller is known: 404 if it cannot be a case; 410 at once if
    the case was erased and the caller may learn of it (an operator or a former member).

    Anyone else goes on exactly as for a case that never was (R6, issue 11, review F1): the
    body is read and checked (415, 413, 400, 422, 403) and only then is the case looked up,
    where an erased case is the same 404 as an unknown one (:func:`member_state`), so every
    answer is the same, byte for byte, for an existing, an erased and an unknown case."""
    if not _CASE_ID.fullmatch(case_id):
        # Not even echoed: whatever the caller put in the path stays out of the answer.
        raise Problem(404, "not-found", "no such case")
    request.state.audit["case_id"] = case_id
    if gw.erased(case_id) and _learns_of_erasure(principal, gw.former_members(case_id)):
        raise gone(case_id)
    return case_id


KnownCaseId = Annotated[str, Depends(known_case_id)]


async def member_state(gw: GatewayContext, principal: Principal, case_id: str) -> CaseState:
    """The case's state, if the caller is a member of it (holds a role in its membership;
    operators need none); 404 if not, or if there is no such case, or (for all but operators)
    if it was erased. Sending an event never makes anyone a member (docs/gateway.md)."""
    try:
        # Shared with the requests for this case meanwhile (a burst makes one query).
        state = await temporal(gw, gw.states.get(case_id))
    except UnknownCase:
        raise not_found(case_id) from None
    except CaseErased:
        raise erased(principal, case_id, gw.former_members(case_id)) from None
    if not principal.is_operator and not roles_in_case(state, principal.role):
        raise not_found(case_id)
    return state


async def member_standing(gw: GatewayContext, principal: Principal, case_id: str) -> CaseStanding:
    """The caller's standing in the case (its phase and the caller's roles,
    :func:`pathway.clients.cases.case_standing`), if the caller is a member of it (operators
    need no role); otherwise the answers of :func:`member_state`, byte for byte. The check
    before an event (issue 14): a few dozen bytes from the case instead of its whole state."""
    try:
        # Shared with the requests of this organisation for this case meanwhile.
        standing = await temporal(gw, gw.standings.get((case_id, principal.role)))
    except UnknownCase:
        raise not_found(case_id) from None
    except CaseErased:
        raise erased(principal, case_id, gw.former_members(case_id)) from None
    if not principal.is_operator and not standing.roles:
        raise not_found(case_id)
    return standing


async def readable_case(case_id: KnownCaseId, principal: CaseReader, gw: Gateway) -> CaseState:
    """The case's state, if the policy lets the caller read it (404 if not: the same answer
    as for a case that does not exist)."""
    state = await member_state(gw, principal, case_id)
    if not case_allows(state, principal.role, Action.READ):
        raise not_found(case_id)
    return state


ReadableCase = Annotated[CaseState, Depends(readable_case)]


# -- the event in the body ----------------------------------------------------------------------
async def _event(request: Request, gw: GatewayContext) -> CaseEvent:
    data: Any = await read_json(
        request, gw.settings.max_body_bytes, media_detail="send the event as application/json"
    )
    try:
        return parse_event(data)
    except ValidationError as err:
        errors = field_errors(validation_problems(err))
        raise Problem(
            422,
            "invalid-event",
            "invalid event",
            "the event does not match its type's schema",
            field=errors[0]["field"] if errors else None,
            errors=errors,
        ) from None


def _check_sender(request: Request, principal: Principal, event: BaseEvent) -> None:
    """Nobody sends as another organisation, nor an event their role may not send (403)."""
    request.state.audit["event_type"] = event.type
    if event.organisation.value != principal.role:
        raise Problem(
            403,
            "forbidden",
            "not allowed",
            f"the event names organisation {event.organisation.value}, but the "
            f"caller acts for {principal.role}: nobody sends as someone else",
            rule="ACCESS",
            field="organisation",
        )
    if not may_send(principal.role, event.type):
        raise Problem(
            403,
            "forbidden",
            "not allowed",
            f"role {principal.role} may not send {event.type} events",
            rule="ACCESS",
            field="type",
        )


async def opening_event(request: Request, principal: CaseReader, gw: Gateway) -> Identified:
    """The body: an identification the caller may send (it opens a case)."""
    event = await _event(request, gw)
    if not isinstance(event, Identified):
        raise Problem(
            422,
            "invalid-event",
            "invalid event",
            "a case is opened by an 'identified' event (R1); other events go "
            "to /v1/cases/{case_id}/events",
            field="type",
        )
    _check_sender(request, principal, event)
    return event


async def sent_event(
    request: Request, case_id: KnownCaseId, principal: CaseReader, gw: Gateway
) -> CaseEvent:
    """The body, once the case ID is checked: any other event the caller may send."""
    event = await _event(request, gw)
    if isinstance(event, Identified):
        raise Problem(
            422,
            "invalid-event",
            "invalid event",
            "an identification opens a case: POST it to /v1/cases",
            field="type",
        )
    _check_sender(request, principal, event)
    return event


OpeningEvent = Annotated[Identified, Depends(opening_event)]
SentEvent = Annotated[CaseEvent, Depends(sent_event)]
