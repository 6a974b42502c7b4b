"""Child victims and the programmes end to end on the time-skipping server, with notifications
arriving at real receivers (webhook on 127.0.0.1, SMTP) on the right day."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from pathway.clients import cases
from pathway.clients.programmes import (
    PatsInterviewReport,
    record_programme_event,
    report_pats_interview,
)
from pathway.domain.calendar import add_working_days, end_of_day, local_date
from pathway.domain.events import Identified
from pathway.domain.ids import linked_case_id
from pathway.domain.programmes import (
    PROGRAMME_EVENT_ADAPTER,
    PatsInterviewRecorded,
    ProgrammeEvent,
)
from pathway.domain.state import Phase
from pathway.privacy.erasure import erase_case
from pathway.workflows.case import VictimCaseWorkflow
from pathway.workflows.programme import ProgrammeRegisterWorkflow
from tests.factories import ALL_SUBJECTS, event
from tests.harness import PEPPER, Bench, Received, bench
from tests.keys import TEST_KEYS

CHILD = {
    "best_interests": "Safety and stability come first",
    "child_views": "Wants to stay with the people she trusts",
}


def born_for(birthday: datetime, years: int) -> str:
    """The birth date of someone who turns ``years`` on ``birthday``'s day in Ljubljana."""
    day = local_date(birthday)
    return day.replace(year=day.year - years).isoformat()


def day_of(received: list[Received], recipient: str, reason: str) -> date:
    days = [
        local_date(r.issued_at) for r in received if (r.recipient, r.reason) == (recipient, reason)
    ]
    got = [(r.recipient, r.reason) for r in received]
    assert days, f"{recipient} never received {reason}: {got}"
    return days[0]


def programme_event(data: dict[str, Any]) -> ProgrammeEvent:
    return PROGRAMME_EVENT_ADAPTER.validate_python(data)


async def replays(b: Bench, case_id: str) -> None:
    """The case's history so far replays against the current code without non-determinism."""
    history = await b.client.get_workflow_handle(case_id).fetch_history()
    replayer = Replayer(
        workflows=[VictimCaseWorkflow, ProgrammeRegisterWorkflow],
        data_converter=b.client.data_converter,
    )
    await replayer.replay_workflow(history, raise_on_replay_failure=True)


@pytest.fixture(autouse=True)
def _erased_keys_restored() -> Iterator[None]:
    """The erasures here destroy keys in the process-wide ``TEST_KEYS``, and case IDs derive
    from fixed subject refs: the corpus (tests/histories/) holds cases with the same IDs, which
    later tests in this process replay. Each test's destroyed keys are restored after it."""
    with TEST_KEYS.erasures_undone():
        yield


async def mother_with_an_identified_child(
    b: Bench, subject_ref: str = "mother-1"
) -> tuple[str, datetime]:
    """The mother's case with two accompanying children, the second identified as a victim on
    day 10 (R1), so the mother's case opens the child's; the mother's ID and the start time."""
    t0 = await b.now()
    mother = {
        "birth_date": "1992-03-03",
        "gender": "female",
        "citizenships": ["PT"],
        "residence_status": "eu_citizen",
        "languages": ["pt"],
    }
    ident = event("identified", t0, person=mother, subject_ref=subject_ref)
    assert isinstance(ident, Identified)
    case_id, _ = await b.open(ident)
    # An hour past the rights-information deadline: the time-skipping test server fails
    # an update that lands in the same workflow task as a firing timer ("invalid history
    # builder state for action"); the dev server has no such problem.
    await b.skip_to(t0 + timedelta(days=1, hours=1))
    await b.settled(case_id)
    await b.send(case_id, event("ngo_interview_held", await b.now(), language="pt"))
    await b.send(case_id, event("crisis_accommodation_placed", await b.now()))
    for ref, birth, gender in (
        ("child-1", "2020-06-01", "male"),
        ("child-2", born_for(t0 + timedelta(days=200), 14), "female"),
    ):
        await b.send(
            case_id,
            event(
                "accompanying_child_recorded",
                await b.now(),
                child_ref=ref,
                birth_date=birth,
                gender=gender,
                citizenships=["PT"],
                placed_with="crisis_accommodation",
            ),
        )
    await b.skip_to(t0 + timedelta(days=10))
    await b.send(
        case_id,
        event(
            "accompanying_child_identified",
            await b.now(),
            child_ref="child-2",
            residence_status="eu_citizen",
            languages=["pt"],
            organisation="social_work_centre",
        ),
    )
    return case_id, t0


async def no_temporal_link(b: Bench, parent_id: str, child_id: str) -> None:
    """Issue 11 item 6: no Temporal metadata links the two cases: the child's execution has no
    parent, and the parent's history has no child-workflow event (nor the child's ID)."""
    description = await b.client.get_workflow_handle(child_id).describe()
    assert description.parent_id is None
    assert not description.raw_description.workflow_execution_info.HasField("parent_execution")
    history = await b.client.get_workflow_handle(parent_id).fetch_history()
    kinds = {e.WhichOneof("attributes") or "" for e in history.events}
    assert not [k for k in kinds if "child_workflow" in k], kinds
    assert child_id.encode() not in b"".join(e.SerializeToString() for e in history.events)


class TestChildScenarios:
    async def test_unaccompanied_14_year_old_found_in_an_asylum_procedure(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """(a) PATS suspicion → case → SWC interview → guardian → family contact → crisis
        accommodation; direct questioning at a hearing before the 15th birthday is rejected,
        after it accepted (P1, R1, C1–C6, C8)."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            t0 = await b.now()
            fifteenth = t0 + timedelta(days=60)
            person = {
                "birth_date": born_for(fifteenth, 15),
                "gender": "female",
                "citizenships": ["AF"],
                "languages": ["ps"],
                "unaccompanied": True,
                "residence_status": "international_protection_applicant",
            }
            interview = PatsInterviewRecorded.model_validate(
                {
                    "type": "pats_interview_recorded",
                    "event_id": "pats-1",
                    "organisation": "kljuc",
                    "occurred_at": t0.isoformat(),
                    "language": "ps",
                    "gender": "female",
                    "citizenships": ["AF"],
                    "minor": True,
                    "age_appropriate": True,
                    "suspicion": True,
                }
            )
            report = PatsInterviewReport(
                interview=interview,
                suspected_victim={"subject_ref": "asylum-2026-7781", "person": person},
            )
            result, case_id = await report_pats_interview(
                b.client, report, pepper=PEPPER, config=b.config, task_queue=b.task_queue
            )
            assert result.interviews == 1 and case_id is not None
            state = await b.settled(case_id)
            assert state.found_in == "asylum_procedure_interview"
            received = b.received()
            assert day_of(received, "uoim", "pats_suspicion") == local_date(t0)
            assert day_of(received, "social_work_centre", "child_identified") == local_date(t0)

            await b.skip_to(t0 + timedelta(hours=3))
            await b.send(
                case_id,
                event(
                    "swc_interview_held",
                    t0 + timedelta(hours=2),
                    emergency_assistance_offered=True,
                    guardian_statement_taken=True,
                    trafficking_indicators=True,
                    qualified_personnel=True,
                ),
            )
            await b.send(
                case_id,
                event("child_accommodated_in_facility", t0 + timedelta(hours=3), child=CHILD),
            )
            await b.skip_to(t0 + timedelta(days=1, hours=1))  # past the R3 timer (see (c))
            await b.settled(case_id)
            await b.send(case_id, event("guardian_appointed", await b.now(), child=CHILD))
            # C6's 3 days are working days: they end at 24:00 of the third working day after
            # the day of identification, whichever weekday the test runs on ("Legal time").
            family_due = end_of_day(add_working_days(local_date(t0), 3))
            await b.skip_to(family_due + timedelta(hours=1))
            await b.settled(case_id)
            assert day_of(
                b.received(), "social_work_centre", "family_contact_reminder"
            ) == local_date(family_due)
            await b.send(
                case_id,
                event("family_contact_recorded", await b.now(), outcome="established", child=CHILD),
            )
            await b.send(
                case_id,
                event("ngo_interview_held", await b.now(), language="ps", qualified_personnel=True),
            )
            await b.send(
                case_id,
                event(
                    "rights_information_given",
                    await b.now(),
                    subjects=ALL_SUBJECTS,
                    language="ps",
                    interpreter_used=True,
                    qualified_personnel=True,
                ),
            )
            with pytest.raises(cases.EventRejected) as c1:
                await b.send(case_id, event("crisis_accommodation_placed", await b.now()))
            assert c1.value.rule == "C1"
            placed = await b.send(
                case_id, event("crisis_accommodation_placed", await b.now(), child=CHILD)
            )
            assert placed.phase is Phase.REFLECTION
            await b.send(
                case_id,
                event("criminal_proceedings_opened", await b.now(), authorised_representative=True),
            )
            early = local_date(fifteenth) - timedelta(days=5)
            with pytest.raises(cases.EventRejected) as c8:
                await b.send(
                    case_id,
                    event(
                        "main_hearing_scheduled",
                        await b.now(),
                        hearing_date=early.isoformat(),
                        direct_questioning=True,
                    ),
                )
            assert (c8.value.rule, c8.value.field) == ("C8", "direct_questioning")
            later = local_date(fifteenth) + timedelta(days=10)
            await b.send(
                case_id,
                event(
                    "main_hearing_scheduled",
                    await b.now(),
                    hearing_date=later.isoformat(),
                    direct_questioning=True,
                ),
            )
            await b.skip_to(fifteenth + timedelta(hours=1))
            state = await b.settled(case_id)
            received = b.received()
            assert day_of(received, "police", "turned_15") == local_date(fifteenth)
            measures = [
                r for r in received if (r.recipient, r.reason) == ("guardian", "child_measure")
            ]
            assert len(measures) >= 4  # facility, guardian, family contact, placement (C3)
            assert {o.kind.value for o in state.open_obligations}.isdisjoint(
                {
                    "guardian_appointment",
                    "swc_interview",
                    "family_contact",
                    "facility_accommodation",
                }
            )
            await b.keep_history(case_id, "child-unaccompanied-asylum")

    async def test_seventeen_year_old_turns_18_in_safe_accommodation(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """(b) At 18 the child track closes on the birthday: the guardian and the NGO are told,
        child obligations close and decisions need no child block any more."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            t0 = await b.now()
            eighteenth = t0 + timedelta(days=70)
            person = {
                "birth_date": born_for(eighteenth, 18),
                "gender": "female",
                "citizenships": ["PT"],
                "residence_status": "eu_citizen",
                "languages": ["pt"],
                "holder_can_act": False,
            }
            ident = event("identified", t0, person=person, subject_ref="teen-1")
            assert isinstance(ident, Identified)
            case_id, _ = await b.open(ident)
            await b.skip_to(t0 + timedelta(hours=1))
            await b.send(
                case_id,
                event("ngo_interview_held", await b.now(), language="pt", qualified_personnel=True),
            )
            await b.send(case_id, event("crisis_accommodation_placed", await b.now(), child=CHILD))
            await b.skip_to(t0 + timedelta(days=20))
            await b.send(case_id, event("safe_accommodation_placed", await b.now(), child=CHILD))
            state = await b.settled(case_id)
            assert "guardian_appointment" in {o.id for o in state.open_obligations}
            await b.skip_to(eighteenth + timedelta(hours=2))
            state = await b.settled(case_id)
            received = b.received()
            assert day_of(received, "guardian", "turned_18") == local_date(eighteenth)
            assert day_of(received, "kljuc", "turned_18") == local_date(eighteenth)
            assert state.child_protection is not None and state.child_protection.closed_at
            assert "guardian_appointment" not in {o.id for o in state.open_obligations}
            assert state.phase is Phase.SAFE_ACCOMMODATION
            ended = await b.send(case_id, event("safe_accommodation_ended", await b.now()))
            assert ended.phase is Phase.SAFE_ACCOMMODATION
            await b.keep_history(case_id, "child-turns-18")

    async def test_mother_with_two_children_one_identified_as_a_victim(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """(c) Two accompanying children are recorded with the mother's crisis placement; one
        is identified as a victim and gets her own case, opened by the mother's and linked."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            case_id, t0 = await mother_with_an_identified_child(b)
            parent = await b.settled(case_id)
            child_case = parent.accompanying_children[1].own_case_id
            # Its own pseudonym (issue 11 item 6): the format of every case ID, nothing of the
            # mother's ID; the link is only in the encrypted state of both cases.
            assert child_case is not None and re.fullmatch(r"case-[a-z2-7]{24}", child_case)
            assert case_id.removeprefix("case-") not in child_case and "child" not in child_case
            assert parent.link_secret is not None
            assert child_case == linked_case_id(parent.link_secret, "child-2")
            assert parent.linked_cases == [child_case]
            assert [c.own_case_id for c in parent.accompanying_children] == [None, child_case]
            assert "linked case" in parent.timeline[-1].what or any(
                "linked case" in t.what for t in parent.timeline
            )
            description = await b.client.get_workflow_handle(child_case).describe()
            assert description.status is WorkflowExecutionStatus.RUNNING
            await no_temporal_link(b, case_id, child_case)
            child = await b.settled(child_case)
            assert child.linked_cases == [case_id]
            assert child.link_secret not in (None, parent.link_secret)
            assert child.child_protection is not None
            await replays(b, case_id)
            assert day_of(b.received(), "social_work_centre", "child_identified") == local_date(
                t0 + timedelta(days=10)
            )
            # The child started by the start_linked_case activity (patch
            # linked-case-started-by-activity); mother-with-accompanying-children holds the
            # child-workflow start of cases recorded before it.
            await b.keep_history(case_id, "mother-with-child-case-started-by-activity")
            # Issue 11 item 6: erasing one case removes its ID from the linked case's state
            # (erase_case updates the running linked case); forgetting again is a no-op.
            erasure = await erase_case(b.client, TEST_KEYS, case_id, by="dpo", why="request")
            assert erasure.key_destroyed and "caritas" in erasure.former_members
            child = await b.state(child_case)
            assert child.linked_cases == [] and case_id not in child.model_dump_json()
            assert not await cases.forget_linked_case(b.client, child_case, case_id)
            with pytest.raises(cases.UnknownCase):
                await cases.forget_linked_case(b.client, "case-never-opened", case_id)

    async def test_erasing_the_childs_case_leaves_the_mothers_case_working(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """Issue 11 item 6: erasing the child's case (R1, opened by the mother's) destroys its
        key; the mother's case forgets it, still takes events, and its history still replays,
        since nothing in it is sealed under the child's key."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            # Not mother-1: the other test erases that case in the same test server.
            case_id, _ = await mother_with_an_identified_child(b, "mother-2")
            parent = await b.settled(case_id)
            child_case = parent.accompanying_children[1].own_case_id
            assert child_case is not None and parent.linked_cases == [child_case]
            await b.settled(child_case)
            erasure = await erase_case(b.client, TEST_KEYS, child_case, by="dpo", why="request")
            assert erasure.key_destroyed
            parent = await b.state(case_id)
            assert parent.linked_cases == [] and child_case not in parent.model_dump_json()
            assert not await cases.forget_linked_case(b.client, case_id, child_case)
            result = await b.send(
                case_id,
                event(
                    "accompanying_child_recorded",
                    await b.now(),
                    child_ref="child-3",
                    birth_date="2022-01-01",
                    gender="female",
                    citizenships=["PT"],
                    placed_with="crisis_accommodation",
                ),
            )
            assert not result.duplicate
            parent = await b.settled(case_id)
            assert [c.child_ref for c in parent.accompanying_children][-1] == "child-3"
            await no_temporal_link(b, case_id, child_case)
            # Replayed with the child's key destroyed (the bench's converter holds TEST_KEYS).
            await replays(b, case_id)


class TestProstitutionExit:
    async def test_no_police_notification_in_the_whole_run(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """(d) X1: enrolment, counselling and exit over months, and the police receive
        nothing at all."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            t0 = await b.now()
            common = {"organisation": "kljuc", "participant_ref": "k-2026-11"}
            steps: list[dict[str, Any]] = [
                {
                    "type": "exit_programme_enrolled",
                    "citizenships": ["SI"],
                    "minor": False,
                    "gender": "female",
                },
                {"type": "exit_counselling_recorded", "session": "individual"},
                {"type": "exit_counselling_recorded", "session": "group"},
                {"type": "exit_programme_left"},
            ]
            results = []
            for n, step in enumerate(steps):
                await b.skip_to(t0 + timedelta(days=20 * n))
                results.append(
                    await record_programme_event(
                        b.client,
                        programme_event(
                            {
                                **common,
                                **step,
                                "event_id": f"x1-{n}",
                                "occurred_at": (await b.now()).isoformat(),
                            }
                        ),
                        task_queue=b.task_queue,
                        notification_queue_prefix=b.config.notification_queue_prefix,
                    )
                )
            assert results[-1].participants == 1
            register = b.client.get_workflow_handle(results[0].register_id)
            state = await register.query("state")
            assert state["participants"]["k-2026-11"]["individual_sessions"] == 1
            assert [r for r in b.webhook.requests if "/police" in r.path] == []
            assert [r for r in b.received() if r.recipient == "police"] == []
            await b.keep_history(results[0].register_id, "programme-prostitution-exit")
