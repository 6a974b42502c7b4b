"""What the gateway's routes depend on, as FastAPI dependencies and small helpers:

- the gateway's context (:data:`Gateway`);
- the caller, from the ``Authorization`` header (:data:`Caller`), rate-limited per
  organisation, and one who may read cases (:data:`CaseReader`);
- the case named in the path: well-formed and not erased (:data:`KnownCaseId`), and its state
  if the caller is involved in it (:data:`ReadableCase`);
- Temporal within the gateway's patience, its trouble a 503 (:func:`temporal`);
- the event in the body, parsed and checked against the caller's role (:data:`OpeningEvent`,
  :data:`SentEvent`).

A route's dependencies run before the route, each after those it depends on: the caller is
always known (401, 429, 403) before the path (404, 410) and then the body (415, 413, 400, 422)
are looked at.
"""

# No `from __future__ import annotations`: FastAPI reads these annotations at run time.
import asyncio
import re
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Final, TypeVar

import structlog
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from pathway.access.credentials import Principal
from pathway.access.identity import AuthUnavailable
from pathway.access.policy import may_read_cases, may_send
from pathway.clients.cases import UnknownCase, case_state
from pathway.domain.events import BaseEvent, CaseEvent, Identified, parse_event, validation_problems
from pathway.domain.state import CaseState
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
    "gone",
    "involved_state",
    "not_found",
    "temporal",
    "temporal_errors",
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
    """Who is calling (401 if nobody we know), within their organisation's rate (429)."""
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
@asynccontextmanager
async def temporal_errors(
    settings: GatewaySettings, detail: str = UNKNOWN_OUTCOME
) -> AsyncIterator[None]:
    """The block within the gateway's patience; Temporal trouble in it becomes a 503 (with
    ``Retry-After`` and ``detail``). Any other error passes through."""
    try:
        async with asyncio.timeout(settings.temporal_timeout):
            yield
    except (
        TimeoutError,
        RPCError,
        RuntimeError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
        WorkflowQueryFailedError,
    ) as err:
        log.error(
            "temporal unavailable",
            error=type(err).__name__,
            status=getattr(getattr(err, "status", None), "name", None),
        )
        raise unavailable(
            "temporal-unavailable",
            "the case service is unavailable",
            settings.retry_after_seconds,
            detail,
        ) from None


async def temporal(gw: GatewayContext, call: Awaitable[T], detail: str = UNKNOWN_OUTCOME) -> T:
    """``call`` within :func:`temporal_errors`."""
    async with temporal_errors(gw.settings, detail):
        return await call


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
    # The same answer whether the case does not exist or the caller is not involved in it,
    # so that case existence does not leak.
    return Problem(404, "not-found", "no such case", case_id=case_id)


async def known_case_id(request: Request, case_id: str, principal: CaseReader, gw: Gateway) -> str:
    """The path's case ID, once the caller is known: 404 if it cannot be a case, 410 if the
    case was erased."""
    if not _CASE_ID.fullmatch(case_id):
        # Not even echoed: whatever the caller put in the path stays out of the answer.
        raise Problem(404, "not-found", "no such case")
    request.state.audit["case_id"] = case_id
    if gw.erased(case_id):
        raise gone(case_id)
    return case_id


KnownCaseId = Annotated[str, Depends(known_case_id)]


async def involved_state(gw: GatewayContext, principal: Principal, case_id: str) -> CaseState:
    """The case's state, if the caller is involved in it (operators are in every case); 404
    if not, or if there is no such case."""
    try:
        state = await temporal(gw, case_state(gw.client, case_id))
    except UnknownCase:
        raise not_found(case_id) from None
    except CaseErased:
        raise gone(case_id) from None
    if not principal.is_operator and principal.organisation not in state.involved():
        raise not_found(case_id)
    return state


async def readable_case(case_id: KnownCaseId, principal: CaseReader, gw: Gateway) -> CaseState:
    return await involved_state(gw, principal, case_id)


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
