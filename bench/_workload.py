"""The reference workload of one case, sent the Pathway way and the bare way.

A Pathway case is eight events (issue 14's eight updates): an unaccompanied foreign girl of 14
identified by the social work centre (update-with-start opens the case; Caritas, the police and
the centre are told, R1 and C4), the centre's interview with the child (C5), the appointment of
her guardian (C4) and her accommodation in a facility (C5), the rights information by Caritas
(R3, by personnel qualified for children, C4), criminal proceedings opened by the police without
an authorised representative (C7: the centre and the police are told), the representative's
appointment (C7) and a main hearing scheduled without direct questioning (C8). The guardian is
told of each of the four measures (C3). Today's rules notify nine times for it, as in the
issue's reference: three on identification, one for each measure, two for C7. Nine activities
on the recipients' queues, to the outbox file channel. Its deadlines are a day or more ahead
(the interview's, the accommodation's and the rights information's a day after identification,
all met within seconds; then family contact's, three days, C6): timers that do not fire during
the run. The girl is 14 whenever the bench runs: her birth date is counted back from the day the
case opens.

A bare case receives as many updates with trivial payloads and starts the same number of
activities after the same updates, as its :class:`~bench._bare.BarePlan` (read off a Pathway
case's history) says. Each side is driven through the client path (``pathway.clients.cases`` /
a plain Temporal client) and through HTTP (the project's gateway / a bare HTTP front,
bench._gateway).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import httpx
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy

from bench._bare import BareCaseWorkflow, BarePlan
from bench._worker import BARE_NOTIFY_PREFIX, BARE_NOTIFY_QUEUES, BARE_QUEUE
from pathway.clients import cases
from pathway.domain.calendar import local_date
from pathway.domain.config import CaseConfig
from pathway.domain.events import Identified, RightsSubject, parse_event

#: How many times a side sends an event again when no answer came in time (the same event, so a
#: repeat answers the first result: Pathway dedups by ``event_id``, bare by the update ID). On a
#: busy machine an update-with-start can outlive its RPC deadline; one such event must not end a
#: run of 40 minutes. The repeats are counted (``Side.repeats``) and reported.
SEND_ATTEMPTS: Final = 5
#: Events per case (issue 14: eight updates).
UPDATES: Final = 8
PEPPER: Final = b"bench-pepper"
CHILD: Final[dict[str, Any]] = {
    "citizenships": ["UA"],
    "residence_status": "third_country_illegal",
    "gender": "female",
    "languages": ["uk"],
    "unaccompanied": True,
}
#: Her age on the day the case opens: 14 and about a hundred days, whenever the bench runs (a
#: child under 15 for C7 and C8, her birthdays months ahead).
CHILD_AGE_DAYS: Final = 14 * 365 + 3 + 100
SUBJECTS: Final = [subject.value for subject in RightsSubject]  # R3 (a)-(i)


#: C1, C2: what every decision on a child's case records.
CHILD_DECISION: Final[dict[str, str]] = {
    "best_interests": "A safe place with carers qualified for children, away from the exploiters.",
    "child_views": "She wants to stay somewhere safe, go to school and speak to her mother.",
}
#: Days from the proceedings' opening to the main hearing.
HEARING_AFTER_DAYS: Final = 60
#: Notifications the case sends under today's rules (tests/test_bench_workload.py).
NOTIFICATIONS: Final = 9


def pathway_event(subject: str, k: int, opened: datetime) -> dict[str, Any]:
    """Event ``k`` (0-7) of the case of ``subject``, as JSON (what a sender posts)."""
    at = opened + timedelta(seconds=k)
    common = {"event_id": f"{subject}-{k}", "occurred_at": at.isoformat()}
    qualified = {"qualified_personnel": True}
    interview = {"language": "uk", "interpreter_used": True, **qualified}
    decision = {"child": CHILD_DECISION}
    swc = "social_work_centre"
    born = local_date(opened) - timedelta(days=CHILD_AGE_DAYS)
    person = {**CHILD, "birth_date": born.isoformat()}
    hearing = local_date(at) + timedelta(days=HEARING_AFTER_DAYS)
    events: list[dict[str, Any]] = [
        {"type": "identified", "organisation": swc, "subject_ref": subject, "person": person},
        {
            "type": "swc_interview_held",
            "organisation": swc,
            "emergency_assistance_offered": True,
            "guardian_statement_taken": True,
            "trafficking_indicators": True,
            **qualified,
        },
        {"type": "guardian_appointed", "organisation": swc, **decision},
        {"type": "child_accommodated_in_facility", "organisation": swc, **decision},
        {
            "type": "rights_information_given",
            "organisation": "caritas",
            "subjects": SUBJECTS,
            **interview,
        },
        {"type": "criminal_proceedings_opened", "organisation": "police"},
        {"type": "authorised_representative_appointed", "organisation": swc, **decision},
        {
            "type": "main_hearing_scheduled",
            "organisation": "police",
            "hearing_date": hearing.isoformat(),
            "direct_questioning": False,  # C8: she is under 15
        },
    ]
    return {**events[k], **common}


class Side(Protocol):
    """One side of the comparison: how a case is opened, sent an event and checked."""

    name: str
    #: events sent again after no answer came in time (SEND_ATTEMPTS)
    repeats: int

    async def send(self, case: str, k: int) -> None:
        """Send event ``k`` of ``case`` through the client path (``k == 0`` opens it); sent
        again, up to ``SEND_ATTEMPTS`` times in all, when no answer came in time."""

    async def send_http(self, http: httpx.AsyncClient, case: str, k: int) -> None:
        """The same through the side's HTTP front (its base URL is ``http``'s)."""

    async def unsettled(self, case: str) -> int:
        """Activities of ``case`` not yet completed."""

    def workflow_id(self, case: str) -> str:
        """The workflow ID of ``case``."""


def _token() -> str:
    return secrets.token_hex(4)


@dataclass
class PathwaySide:
    """Pathway's cases: ``pathway.clients.cases`` with the encrypting converter."""

    client: Client
    #: role -> API token of the gateway (bench._gateway)
    tokens: dict[str, str]
    name: str = "pathway"
    repeats: int = 0
    #: The cases' configuration (``None``: the default ``CaseConfig()``, as production opens).
    config: CaseConfig | None = None

    def __post_init__(self) -> None:
        self._opened: dict[str, datetime] = {}
        self._ids: dict[str, str] = {}
        self._run = _token()

    def _event(self, case: str, k: int) -> dict[str, Any]:
        opened = self._opened.setdefault(case, datetime.now(UTC) - timedelta(minutes=1))
        return pathway_event(f"bench-{self._run}-{case}", k, opened)

    async def send(self, case: str, k: int) -> None:
        event = parse_event(self._event(case, k))
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                if k == 0:
                    assert isinstance(event, Identified)
                    self._ids[case], _ = await cases.open_case(
                        self.client, event, pepper=PEPPER, config=self.config
                    )
                else:
                    await cases.record_event(self.client, self._ids[case], event)
                return
            except cases.OutcomeUnknown:
                if attempt == SEND_ATTEMPTS:
                    raise
                self.repeats += 1

    async def send_http(self, http: httpx.AsyncClient, case: str, k: int) -> None:
        event = self._event(case, k)
        auth = {"Authorization": f"Bearer {self.tokens[event['organisation']]}"}
        if k == 0:
            answer = await http.post("/v1/cases", json=event, headers=auth)
            _check(answer, 201)
            self._ids[case] = answer.json()["case_id"]
        else:
            answer = await http.post(
                f"/v1/cases/{self._ids[case]}/events", json=event, headers=auth
            )
            _check(answer, 200)

    async def unsettled(self, case: str) -> int:
        state = await cases.case_state(self.client, self._ids[case])
        return len(state.pending_notifications) + len(state.pending_case_starts)

    def workflow_id(self, case: str) -> str:
        return self._ids[case]


@dataclass
class BareSide:
    """Bare cases: a plain client (default converter) and :class:`BareCaseWorkflow`."""

    client: Client
    plan: BarePlan
    name: str = "bare"
    repeats: int = 0

    def __post_init__(self) -> None:
        self._run = _token()

    def workflow_id(self, case: str) -> str:
        return f"bare-{self._run}-{case}"

    async def send(self, case: str, k: int) -> None:
        # The update ID makes a repeat answer the first result, as Pathway's event_id does.
        update_id = f"{self.workflow_id(case)}-e{k}"
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                if k == 0:
                    start = WithStartWorkflowOperation(
                        BareCaseWorkflow.run,
                        self.plan,
                        id=self.workflow_id(case),
                        task_queue=BARE_QUEUE,
                        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    )
                    await self.client.execute_update_with_start_workflow(
                        BareCaseWorkflow.record,
                        f"e{k}",
                        start_workflow_operation=start,
                        id=update_id,
                    )
                else:
                    handle = self.client.get_workflow_handle(self.workflow_id(case))
                    await handle.execute_update(BareCaseWorkflow.record, f"e{k}", id=update_id)
                return
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                if attempt == SEND_ATTEMPTS:
                    raise
                self.repeats += 1

    async def send_http(self, http: httpx.AsyncClient, case: str, k: int) -> None:
        answer = await http.post(
            f"/bare/cases/{self.workflow_id(case)}/events", json={"event": f"e{k}", "k": k}
        )
        _check(answer, 200)

    async def unsettled(self, case: str) -> int:
        handle = self.client.get_workflow_handle(self.workflow_id(case))
        return await handle.query(BareCaseWorkflow.unsettled)


def bare_plan(activities: list[int], timed: list[bool]) -> BarePlan:
    return BarePlan(
        activities=activities,
        timed=timed,
        queues=BARE_NOTIFY_QUEUES,
        queue_prefix=BARE_NOTIFY_PREFIX,
    )


def _check(answer: httpx.Response, status: int) -> None:
    if answer.status_code != status:
        raise RuntimeError(f"HTTP {answer.status_code} (wanted {status}): {answer.text[:300]}")
