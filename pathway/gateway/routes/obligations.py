"""``/v1/obligations``: an organisation's open obligations and the deadlines it is reminded of,
across the running cases that the ``PathwayObligationOwners`` search attribute finds for it."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time.
import asyncio
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Final

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from pathway import search_attributes
from pathway.access.credentials import Principal
from pathway.access.policy import Action, case_allows, listed_ids, may_read, minimised
from pathway.clients.cases import UnknownCase, case_state
from pathway.domain.organisations import Organisation
from pathway.domain.state import CaseState, DeadlineKind, ObligationKind
from pathway.gateway.context import GatewayContext
from pathway.gateway.dependencies import Caller, Gateway, temporal
from pathway.gateway.openapi import CASE_ERRORS
from pathway.privacy.keys import CaseErased
from pathway.web.problems import Problem, problem_response

__all__ = [
    "CaseObligations",
    "ObligationsAnswer",
    "OwnObligation",
    "RemindedDeadline",
    "router",
]

router = APIRouter(tags=["obligations"])

_ANALYST: Final = Organisation.ANALYST.value
_NEVER: Final = datetime.max.replace(tzinfo=UTC)


# -- answers (documented in the OpenAPI) --------------------------------------------------------
class OwnObligation(BaseModel):
    id: str
    kind: ObligationKind
    rule: str
    action: str
    due_at: datetime | None
    escalated: bool


class RemindedDeadline(BaseModel):
    kind: DeadlineKind
    rule: str
    due_at: datetime
    next_reminder_at: datetime | None = Field(
        description="The next reminder to this organisation, if one is still to come"
    )


class CaseObligations(BaseModel):
    case_id: str
    obligations: list[OwnObligation]
    deadlines: list[RemindedDeadline]


class ObligationsAnswer(BaseModel):
    """Open obligations of one organisation, and deadlines it is reminded of, across cases."""

    organisation: Organisation
    cases: list[CaseObligations]
    truncated: bool = Field(description="More cases matched than one answer holds")
    unanswered: int = Field(
        default=0,
        description="Cases found that did not answer in time (left out: ask again later)",
    )


# -- the route ----------------------------------------------------------------------------------
@router.get(
    "/v1/obligations",
    summary="Open obligations and upcoming deadlines of an organisation, across cases",
    description="Cases are found through the `PathwayObligationOwners` search attribute: "
    "those where the organisation owns an open obligation. Deadlines listed are those of "
    "these cases whose reminders go to the organisation. Only cases the organisation is a "
    "member of are listed. Organisations see their own; "
    "operators name one in `organisation`.",
    response_model=ObligationsAnswer,
    responses={**CASE_ERRORS, 422: problem_response("Invalid parameters")},
)
async def get_obligations(
    principal: Caller,
    gw: Gateway,
    organisation: Annotated[
        Organisation | None,
        Query(description="Whose obligations (operators only; others see their own)"),
    ] = None,
) -> ObligationsAnswer:
    return await obligations_of(gw, whose(principal, organisation))


def whose(principal: Principal, organisation: Organisation | None) -> Organisation:
    """The organisation whose obligations ``principal`` asks for: their own, or for an
    operator the one named (403 for analysts and for another's, 422 if an operator names
    none)."""
    if principal.role == _ANALYST:
        raise Problem(
            403, "forbidden", "not allowed", "analysts read aggregates only", rule="ACCESS"
        )
    if principal.is_operator:
        if organisation is None:
            raise Problem(
                422,
                "invalid-request",
                "organisation required",
                "operators name the organisation",
                field="organisation",
            )
        return organisation
    assert isinstance(principal.organisation, Organisation)
    if organisation not in (None, principal.organisation):
        raise Problem(
            403,
            "forbidden",
            "not allowed",
            "an organisation reads only its own obligations",
            rule="ACCESS",
            field="organisation",
        )
    return principal.organisation


# -- finding them -------------------------------------------------------------------------------
async def obligations_of(gw: GatewayContext, org: Organisation) -> ObligationsAnswer:
    """``org``'s obligations and reminded deadlines in up to ``obligations_limit`` running
    cases, queried a few at a time; the cases whose first due date comes soonest first."""
    query = (
        f"{search_attributes.OBLIGATION_OWNERS.name} = '{org.value}' "
        f"AND ExecutionStatus = 'Running' AND TaskQueue = '{gw.settings.task_queue}'"
    )
    limit = gw.settings.obligations_limit
    case_ids = await temporal(gw, _listed(gw, query, limit + 1))
    gate = asyncio.Semaphore(gw.settings.obligations_concurrency)
    found = await asyncio.gather(
        *(_in_case(gw, gate, org, case_id) for case_id in case_ids[:limit])
    )
    cases = sorted((c for c in found if isinstance(c, CaseObligations)), key=_earliest)
    return ObligationsAnswer(
        organisation=org,
        cases=cases,
        truncated=len(case_ids) > limit,
        unanswered=sum(c is _UNANSWERED for c in found),
    )


#: A case that did not answer in time: left out of the listing and counted, so that one stuck
#: case never hides an organisation's obligations in every other (review of issue 11).
_UNANSWERED: Final = object()


async def _listed(gw: GatewayContext, query: str, limit: int) -> list[str]:
    return [execution.id async for execution in gw.client.list_workflows(query, limit=limit)]


async def _in_case(
    gw: GatewayContext, gate: asyncio.Semaphore, org: Organisation, case_id: str
) -> CaseObligations | object | None:
    """The case's part of the listing; None if nothing of it is listed for ``org``;
    :data:`_UNANSWERED` if it did not answer in time (504) or is busy (429), while Temporal answers
    (a 503 still fails the listing: nothing can be listed then)."""
    async with gate:
        if gw.erased(case_id):
            return None
        try:
            state = await temporal(gw, case_state(gw.client, case_id))
        except (UnknownCase, CaseErased):
            return None  # closed or erased since the listing
        except Problem as problem:
            if problem.status not in (HTTPStatus.GATEWAY_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS):
                raise
            return _UNANSWERED
    return _obligations_in(state, org)


def _obligations_in(state: CaseState, org: Organisation) -> CaseObligations | None:
    """``org``'s obligations and reminded deadlines in the case, if the policy lets it list
    the case's obligations (it is a member, and its role reads obligations): only those the
    policy's minimised view of the case leaves it (:func:`~pathway.access.policy.minimised`:
    no obligation that reveals a field its role may not read, whoever owns it), under IDs that
    count nothing hidden (:func:`listed_ids`). R6, issue 11."""
    if not case_allows(state, org.value, Action.LIST_OBLIGATIONS):
        return None
    seen = minimised(state, org.value).obligations
    ids = dict(zip(map(id, seen), listed_ids([(o.id, o.kind.value) for o in seen]), strict=True))
    obligations = [
        OwnObligation(
            id=ids[id(o)],
            kind=o.kind,
            rule=o.rule,
            action=o.action,
            due_at=o.due_at,
            escalated=o.escalated_at is not None,
        )
        for o in seen
        if o.is_open and o.owner is org
    ]
    deadlines = []
    if may_read(org.value, "deadlines"):
        for deadline in state.deadlines.values():
            ours = [
                r
                for r in deadline.reminders
                if org in r.recipients or (r.lead_ngo and org is state.lead_ngo)
            ]
            if ours:
                deadlines.append(
                    RemindedDeadline(
                        kind=deadline.kind,
                        rule=deadline.rule,
                        due_at=deadline.due_at,
                        next_reminder_at=min((r.at for r in ours if not r.sent), default=None),
                    )
                )
    if not obligations and not deadlines:
        return None
    deadlines.sort(key=lambda d: (d.due_at, d.kind))
    return CaseObligations(case_id=state.case_id, obligations=obligations, deadlines=deadlines)


def _earliest(entry: CaseObligations) -> tuple[datetime, str]:
    """Sort key: the case whose first due date comes soonest first (undated ones last)."""
    dues = [o.due_at for o in entry.obligations if o.due_at is not None]
    dues += [d.due_at for d in entry.deadlines]
    return min(dues, default=_NEVER), entry.case_id
