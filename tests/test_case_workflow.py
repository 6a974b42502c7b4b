"""The adult path end to end on the time-skipping server, with notifications arriving at real
receivers (a webhook on 127.0.0.1 and an SMTP server) on the right day."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from pathway.activities.statistics import StatisticsRecorder
from pathway.clients import cases
from pathway.domain.calendar import end_of_day, local_date
from pathway.domain.events import Identified
from pathway.domain.organisations import NOTIFIED, notification_task_queue
from pathway.domain.rules import RejectionNote
from pathway.domain.state import (
    CaseState,
    DeliveryOutcome,
    Notification,
    ObligationKind,
    Phase,
)
from pathway.workflows.case import (
    EARLIER_PATCHES,
    ONE_MARKER,
    PERMITS_RESTORED_MOOT,
    VictimCaseWorkflow,
)
from tests.before_patches import CaseBeforePermitsRestoredMoot
from tests.factories import ALL_SUBJECTS, EU_ADULT, TCN_ILLEGAL, event
from tests.harness import (
    LEDGER_SECRET,
    PEPPER,
    Bench,
    MemoryLedger,
    Received,
    bench,
    case_config,
)
from tests.receivers import eventually


def arrivals(received: list[Received], since: datetime | None = None) -> set[tuple[str, str]]:
    return {(r.recipient, r.reason) for r in received if since is None or r.issued_at >= since}


def day_of(received: list[Received], recipient: str, reason: str) -> date:
    """The day (in Ljubljana) a notification was issued; fails if it never arrived."""
    days = [
        local_date(r.issued_at) for r in received if (r.recipient, r.reason) == (recipient, reason)
    ]
    assert days, f"{recipient} never received {reason}"
    return days[0]


async def identify(b: Bench, person: dict[str, object], ref: str) -> tuple[str, datetime]:
    t0 = await b.now()
    ident = event("identified", t0, person=person, subject_ref=ref)
    assert isinstance(ident, Identified)
    case_id, result = await b.open(ident)
    assert result.phase is Phase.IDENTIFIED
    lang = person["languages"][0]  # type: ignore[index]
    await b.skip_to(t0 + timedelta(hours=2))
    await b.send(case_id, event("ngo_interview_held", t0 + timedelta(hours=1), language=lang))
    await b.send(
        case_id,
        event(
            "rights_information_given",
            t0 + timedelta(hours=2),
            subjects=ALL_SUBJECTS,
            language=lang,
            interpreter_used=True,
        ),
    )
    return case_id, t0


async def lapse_then_extend_late(b: Bench, name: str) -> str:
    """A third-country national residing illegally, in crisis accommodation with a permit to
    stay and a residence permit from day 1, in safe accommodation from day 30; the permit to
    stay lapses (S3's notice, checked), and its extension, decided on its last day, is recorded
    two days later. Returns the case ID."""
    case_id, t0 = await identify(b, dict(TCN_ILLEGAL), name)
    placed = t0 + timedelta(days=1)
    await b.skip_to(placed)
    await b.send(case_id, event("crisis_accommodation_placed", placed))
    start = local_date(placed)
    await b.send(
        case_id,
        event("permit_to_stay_granted", placed, valid_from=start.isoformat(), basis="ex_officio"),
    )
    await b.send(
        case_id,
        event(
            "temporary_residence_permit_granted",
            placed,
            basis="witness",
            valid_from=start.isoformat(),
            valid_until=(start + timedelta(days=365)).isoformat(),
        ),
    )
    moved = placed + timedelta(days=29)
    await b.skip_to(moved)
    await b.send(case_id, event("safe_accommodation_placed", moved))
    state = await b.state(case_id)
    assert state.permit_to_stay is not None
    last_day = state.permit_to_stay.valid_until
    await b.skip_to(datetime.fromisoformat(f"{last_day + timedelta(days=2)}T10:00:00+02:00"))
    state = await b.settled(case_id)
    kind = ObligationKind.SAFE_ACCOMMODATION_PERMITS
    assert [o.kind for o in state.open_obligations if o.kind is kind] == [kind]
    assert day_of(b.received(), "kljuc", "safe_accommodation_permit_lapsed") == (
        last_day + timedelta(days=1)
    )
    decided = datetime.fromisoformat(f"{last_day}T15:00:00+02:00")
    await b.send(case_id, event("permit_to_stay_extended", decided, months=3))
    return case_id


class TestAdultPaths:
    async def test_eu_citizen_from_identification_to_closure(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """(a) EU citizen: identification → information → NGO interview → crisis accommodation →
        reflection ends → safe accommodation → reintegration → closure (R1–R3, K1, K5, S1, I1)."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            case_id, t0 = await identify(b, dict(EU_ADULT), "eu-1")
            placed = t0 + timedelta(days=1)
            await b.skip_to(placed)
            await b.send(
                case_id,
                event(
                    "police_information_gathering_started",
                    t0 + timedelta(hours=5),
                    present="ngo_representative",
                ),
            )
            await b.send(case_id, event("crisis_accommodation_placed", placed))
            # S1: safe accommodation is offered during crisis accommodation; she will decide.
            await b.send(case_id, event("safe_accommodation_offered", placed, answer="undecided"))
            await b.settled(case_id)
            assert arrivals(b.received()) == {("caritas", "case_identified")}

            await b.skip_to(placed + timedelta(days=24))
            await b.settled(case_id)
            assert arrivals(b.received()) == {("caritas", "case_identified")}

            # 30 days end at 24:00 of the 30th day after the placement's day; the reminders go
            # 5 calendar days before, at 00:00 (docs/rules.md "Legal time").
            end = end_of_day(local_date(placed) + timedelta(days=30))
            reminders = end_of_day(local_date(placed) + timedelta(days=25))
            await b.skip_to(reminders + timedelta(hours=1))
            await b.settled(case_id)
            received = b.received()
            reminder_day = local_date(reminders)
            for recipient, reason in [
                ("caritas", "reflection_period_reminder"),
                ("police", "reflection_period_reminder"),
                ("caritas", "crisis_accommodation_reminder"),
                ("labour_ministry", "crisis_accommodation_reminder"),
            ]:
                assert day_of(received, recipient, reason) == reminder_day

            await b.skip_to(end + timedelta(hours=1))
            state = await b.settled(case_id)
            received = b.received()
            end_day = local_date(end)
            assert day_of(received, "caritas", "reflection_period_ended") == end_day
            assert day_of(received, "police", "reflection_period_ended") == end_day
            assert day_of(received, "labour_ministry", "crisis_accommodation_escalation") == end_day
            assert state.phase is Phase.REFLECTION  # K5: nobody leaves assistance by the clock
            assert {o.kind.value for o in state.open_obligations} >= {
                "reflection_decision",
                "follow_on_placement",
            }

            moved = placed + timedelta(days=31)
            await b.skip_to(moved)
            result = await b.send(case_id, event("safe_accommodation_placed", moved))
            assert result.phase is Phase.SAFE_ACCOMMODATION
            assert (await b.state(case_id)).summary().open_obligations == []
            enrolled = moved + timedelta(days=120)
            await b.skip_to(enrolled)
            await b.send(case_id, event("reintegration_enrolled", enrolled, personal_plan=True))
            closed = enrolled + timedelta(days=200)
            await b.skip_to(closed)
            before = len(b.received())
            await b.send(case_id, event("case_closed", closed))
            outcome = await b.client.get_workflow_handle(case_id).result()
            assert outcome["phase"] == "closed"
            assert len(b.received()) == before  # nothing else was due between
            state = await b.state(case_id)
            assert [t.what for t in state.timeline if t.event_id] == [
                "identified",
                "ngo interview held",
                "rights information given",
                "police information gathering started",
                "crisis accommodation placed",
                "safe accommodation offered",
                "safe accommodation placed",
                "reintegration enrolled",
                "case closed",
            ]
            await b.keep_history(case_id, "adult-eu-citizen-to-closure")

    async def test_third_country_national_residing_illegally(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """(b) permit to stay, one extension, residence permit as a witness, safe accommodation
        until proceedings conclude (K7, S3, S4, S5)."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            case_id, t0 = await identify(b, dict(TCN_ILLEGAL), "tcn-1")
            placed = t0 + timedelta(days=1)
            await b.skip_to(placed)
            await b.send(case_id, event("crisis_accommodation_placed", placed))
            start = local_date(placed)
            await b.send(
                case_id,
                event(
                    "permit_to_stay_granted",
                    placed,
                    valid_from=start.isoformat(),
                    basis="ex_officio",
                ),
            )
            with pytest.raises(cases.EventRejected) as rejected:
                await b.send(
                    case_id, event("safe_accommodation_placed", placed + timedelta(minutes=1))
                )
            assert rejected.value.rule == "S3"
            witness_day = placed + timedelta(days=10)
            await b.skip_to(witness_day)
            await b.send(
                case_id,
                event(
                    "cooperation_recorded",
                    witness_day,
                    willing_to_cooperate=True,
                    willing_to_be_witness=True,
                ),
            )
            await b.send(case_id, event("criminal_proceedings_opened", witness_day))
            permit_end = local_date(witness_day) + timedelta(days=365)
            await b.send(
                case_id,
                event(
                    "temporary_residence_permit_granted",
                    witness_day,
                    basis="witness",
                    valid_from=local_date(witness_day).isoformat(),
                    valid_until=permit_end.isoformat(),
                ),
            )
            moved = placed + timedelta(days=29)
            await b.skip_to(moved)
            result = await b.send(case_id, event("safe_accommodation_placed", moved))
            assert result.phase is Phase.SAFE_ACCOMMODATION

            state = await b.state(case_id)
            assert state.permit_to_stay is not None
            stay_until = state.permit_to_stay.valid_until
            reminder_day = stay_until + timedelta(days=1) - timedelta(days=14)
            await b.skip_to(datetime.fromisoformat(f"{reminder_day}T12:00:00+02:00"))
            await b.settled(case_id)
            received = b.received()
            assert day_of(received, "police", "permit_to_stay_reminder") == reminder_day
            assert day_of(received, "kljuc", "permit_to_stay_reminder") == reminder_day

            extended = await b.send(
                case_id,
                event(
                    "permit_to_stay_extended",
                    await b.now(),
                    months=3,
                    reason="reasonable grounds: witness in proceedings",
                ),
            )
            due = {d.kind.value: d.due_at for d in extended.changes.deadlines_set}
            assert local_date(due["permit_to_stay"]) > stay_until + timedelta(days=80)
            with pytest.raises(cases.EventRejected) as second:
                await b.send(case_id, event("permit_to_stay_extended", await b.now(), months=1))
            assert second.value.rule == "K7"

            residence_reminder = permit_end + timedelta(days=1) - timedelta(days=30)
            await b.skip_to(datetime.fromisoformat(f"{residence_reminder}T12:00:00+01:00"))
            await b.settled(case_id)
            received = b.received()
            assert (
                day_of(received, "migration_authority", "temporary_residence_permit_reminder")
                == residence_reminder
            )
            await b.send(
                case_id,
                event(
                    "temporary_residence_permit_renewed",
                    await b.now(),
                    valid_until=(permit_end + timedelta(days=365)).isoformat(),
                ),
            )
            concluded = await b.now() + timedelta(days=60)
            await b.skip_to(concluded)
            await b.send(case_id, event("criminal_proceedings_concluded", concluded))
            state = await b.settled(case_id)
            assert state.safe_accommodation is not None and state.safe_accommodation.active
            assert day_of(b.received(), "kljuc", "proceedings_concluded") == local_date(concluded)
            assert "residence_permit_expired" not in {r.reason for r in b.received()}
            await b.keep_history(case_id, "adult-third-country-national-permits")

    async def test_permit_extended_on_its_last_day_recorded_after_the_lapse(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """K7, S3 and late-recorded events (known gap 2 until the patch
        ``s3-permits-restored-moot``): the permit to stay lapses while the person is in safe
        accommodation, which opens S3's obligation and tells the provider, the police, the
        migration authority and the interior ministry; the extension decided on the permit's
        last day is recorded two days later. The case settles the obligation as moot and tells
        the four so, tells the police and the lead NGO that the permit's expiry notice was moot,
        and its history records the patch's marker."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            case_id = await lapse_then_extend_late(b, "tcn-late")
            state = await b.settled(case_id)
            kind = ObligationKind.SAFE_ACCOMMODATION_PERMITS
            assert [(o.is_open, o.moot) for o in state.obligations if o.kind is kind] == [
                (False, True)
            ]
            told = sorted(r.recipient for r in b.received() if r.reason == "escalation_moot")
            # S3's lapse notice (four), and K7's expiry notice (the police and the lead NGO).
            assert told == sorted(
                [
                    "interior_ministry",
                    "kljuc",
                    "migration_authority",
                    "police",
                    "police",
                    state.lead_ngo.value,
                ]
            )
            history = await b.client.get_workflow_handle(case_id).fetch_history()
            assert patch_ids(history) == [ONE_MARKER, PERMITS_RESTORED_MOOT]
            await b.keep_history(case_id, "adult-permit-extended-late")

    async def test_before_the_patch_a_late_extension_left_the_lapse_open(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """The old branch of ``s3-permits-restored-moot``, as a case running before it
        recorded it (a worker that never asks the patch): the late extension leaves the S3
        obligation open, and seven days after the lapse it escalates. Its history, kept in the
        corpus as ``adult-permit-extended-late-before-patch``, is what makes the replay tests
        fail if the patch's answer is ever ignored (tests/test_replay.py)."""
        async with bench(
            time_skipping,
            upsert_search_attributes=False,
            workflows=[CaseBeforePermitsRestoredMoot],
        ) as b:
            case_id = await lapse_then_extend_late(b, "tcn-late-old")
            state = await b.settled(case_id)
            kind = ObligationKind.SAFE_ACCOMMODATION_PERMITS
            (ob,) = [o for o in state.open_obligations if o.kind is kind]
            assert ob.due_at is not None
            await b.skip_to(ob.due_at + timedelta(hours=1))
            await b.settled(case_id)
            received = b.received()
            assert "escalation_moot" not in {r.reason for r in received}
            assert day_of(received, "kljuc", "safe_accommodation_permits_overdue") == local_date(
                ob.due_at
            )
            history = await b.client.get_workflow_handle(case_id).fetch_history()
            assert patch_ids(history) == [ONE_MARKER]
            await b.keep_history(case_id, "adult-permit-extended-late-before-patch")

    async def test_arbitrary_departure_during_reflection(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """(c) An arbitrary departure alerts police and NGO that day; the reflection and crisis
        timers end, so no reminder or escalation follows."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            case_id, t0 = await identify(b, dict(EU_ADULT), "eu-left")
            placed = t0 + timedelta(days=1)
            await b.skip_to(placed)
            await b.send(case_id, event("crisis_accommodation_placed", placed))
            left = placed + timedelta(days=9)
            await b.skip_to(left)
            result = await b.send(case_id, event("departed", left, arbitrary=True))
            assert result.phase is Phase.DECLINED_LEFT
            assert (await b.state(case_id)).summary().upcoming_deadlines == []
            assert result.changes.deadlines_ended
            await b.settled(case_id)
            received = b.received()
            assert day_of(received, "police", "arbitrary_departure") == local_date(left)
            assert day_of(received, "caritas", "arbitrary_departure") == local_date(left)
            await b.skip_to(placed + timedelta(days=40))
            await b.settled(case_id)
            assert arrivals(b.received(), since=left + timedelta(minutes=1)) == set()
            await b.keep_history(case_id, "adult-arbitrary-departure")


class TestEventIntake:
    async def test_duplicate_event_returns_first_result_and_changes_nothing(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """A repeated event_id is answered with the first result; history does not grow."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            case_id, t0 = await identify(b, dict(EU_ADULT), "dup-1")
            placement = event("crisis_accommodation_placed", t0 + timedelta(hours=2))
            first = await b.send(case_id, placement)
            state = await b.settled(case_id)
            history = await b.client.get_workflow_handle(case_id).fetch_history()
            again = await b.send(case_id, placement)
            assert again.duplicate and not first.duplicate
            assert again == first.model_copy(update={"duplicate": True})
            assert (await b.state(case_id)).timeline == state.timeline
            await b.keep_history(case_id, "duplicate-event")
            after = await b.client.get_workflow_handle(case_id).fetch_history()
            # An accepted duplicate is an update with no state change: nothing new is scheduled.
            new_events = after.events[len(history.events) :]
            assert not any(
                e.HasField("activity_task_scheduled_event_attributes") for e in new_events
            )

    async def test_rejected_event_never_reaches_history(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """R2 rejection and a time beyond tolerance are refused by the validator and the error
        names the rule and field: the events never reach history. What does is each
        rejection's note (issue 17 item 3): a ``note_rejection`` update whose argument is the
        metadata only (no actor, no reason of the sender's), and nothing else changes: no
        activity, timer or search attribute."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            t0 = await b.now()
            ident = event("identified", t0, person=dict(EU_ADULT), subject_ref="rej-1")
            assert isinstance(ident, Identified)
            case_id, _ = await b.open(ident)
            before_state = await b.settled(case_id)
            handle = b.client.get_workflow_handle(case_id)
            before = len((await handle.fetch_history()).events)
            early = event(
                "police_information_gathering_started",
                t0,
                event_id="pol-early",
                actor="CANARY-ACTOR-rejected",
                reason="CANARY-REASON-rejected",
            )
            with pytest.raises(cases.EventRejected) as r2:
                await b.send(case_id, early)
            assert (r2.value.rule, r2.value.field) == ("R2", "type")
            with pytest.raises(cases.EventRejected) as future:
                await b.send(case_id, event("ngo_interview_held", t0 + timedelta(hours=1)))
            assert (future.value.rule, future.value.field) == ("TIME", "occurred_at")
            # The same rejected event again: its note is refused as kept already, so the repeat
            # adds no update to the history (review of issue 17: repeats grew it without end).
            with pytest.raises(cases.EventRejected):
                await b.send(case_id, early)
            added = (await handle.fetch_history()).events[before:]
            # The test server records the workflow tasks that ran the validators (the dev server
            # drops them as speculative); the notes are updates, and nothing else is recorded.
            assert {EventType.Name(e.event_type) for e in added} <= {
                "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
                "EVENT_TYPE_WORKFLOW_TASK_STARTED",
                "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
                "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
                "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED",
            }
            accepted = [
                e.workflow_execution_update_accepted_event_attributes.accepted_request
                for e in added
                if e.HasField("workflow_execution_update_accepted_event_attributes")
            ]
            assert [r.input.name for r in accepted] == ["note_rejection", "note_rejection"]
            notes = [
                (await b.client.data_converter.decode(r.input.args.payloads, [RejectionNote]))[0]
                for r in accepted
            ]
            assert [(n.event_type, n.rule) for n in notes] == [
                ("police_information_gathering_started", "R2"),
                ("ngo_interview_held", "TIME"),
            ]
            assert "CANARY" not in "".join(n.model_dump_json() for n in notes)
            state = await b.state(case_id)
            assert [(r.event_id, r.rule, r.field) for r in state.rejections] == [
                ("pol-early", "R2", "type"),
                (notes[1].event_id, "TIME", "occurred_at"),
            ]
            assert state.model_copy(update={"rejections": []}) == before_state
            await b.keep_history(case_id, "rejections-noted")

    async def test_what_may_not_be_sent_is_never_noted(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """R6: an organisation that is no member of the case, or may not send the event, gets
        its ACCESS refusal and leaves nothing in the case; a note in its name is refused by
        the case itself (the client's own check aside)."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            t0 = await b.now()
            ident = event("identified", t0, person=dict(TCN_ILLEGAL), subject_ref="rej-2")
            assert isinstance(ident, Identified)
            case_id, _ = await b.open(ident)
            stranger = event(
                "cooperation_recorded", t0, organisation="kljuc", willing_to_cooperate=True
            )
            with pytest.raises(cases.EventRejected) as refused:
                await cases.record_event(b.client, case_id, stranger, sender="kljuc")
            assert (refused.value.rule, refused.value.field) == ("ACCESS", "organisation")
            forged = cases.EventRejected("R5", "type", "a rule's reason")
            assert not await cases.note_rejection(
                b.client, case_id, stranger, forged, sender="kljuc"
            )
            # Nobody notes in another's name; the migration authority, a member of this
            # third-country national's case, may not send cooperation_recorded at all.
            police = event(
                "cooperation_recorded", t0, organisation="police", willing_to_cooperate=True
            )
            assert not await cases.note_rejection(
                b.client, case_id, police, forged, sender="migration_authority"
            )
            migration = event(
                "cooperation_recorded",
                t0,
                organisation="migration_authority",
                willing_to_cooperate=True,
            )
            assert not await cases.note_rejection(
                b.client, case_id, migration, forged, sender="migration_authority"
            )
            assert (await b.state(case_id)).rejections == []
            # The police, a member, may: the same note in their own name is kept.
            assert await cases.note_rejection(b.client, case_id, police, forged, sender="police")
            assert not await cases.note_rejection(
                b.client, case_id, police, forged, sender="police"
            )
            assert [r.rule for r in (await b.state(case_id)).rejections] == ["R5"]

    async def test_event_for_unknown_case(self, time_skipping: WorkflowEnvironment) -> None:
        """An event for a case that was never opened gets UnknownCase, naming the case."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            with pytest.raises(cases.UnknownCase, match="case-nobody"):
                await b.send("case-nobody", event("ngo_interview_held", await b.now()))

    async def test_same_person_identified_twice_meets_in_one_case(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """R1: a second identification of the same person (same reference) reaches the same
        case and is rejected there, so no second case exists."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            t0 = await b.now()
            first = event("identified", t0, person=dict(EU_ADULT), subject_ref="Same Person")
            second = event(
                "identified",
                t0,
                person=dict(EU_ADULT),
                subject_ref="same  person",
                organisation="uoim",
            )
            assert isinstance(first, Identified) and isinstance(second, Identified)
            case_id, _ = await b.open(first)
            with pytest.raises(cases.EventRejected) as again:
                await b.open(second)
            assert again.value.rule == "CASE"
            assert (await b.state(case_id)).timeline[0].who == "police"


@activity.defn(name="notify")
async def undeliverable(notification: Notification) -> DeliveryOutcome:
    """A stub of the notify activity that fails for good, as on a notification no channel can
    carry (``InvalidNotification``)."""
    raise ApplicationError(
        "no channel can carry it", type="InvalidNotification", non_retryable=True
    )


class TestNotificationOutcome:
    async def test_a_notification_that_fails_for_good_is_settled_as_failed(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """A delivery that fails without retry leaves the pending list, and the timeline says it
        failed and why (the failure's kind), instead of retrying for ever."""
        queue = f"test-{uuid.uuid4()}"
        config = case_config(queue, upsert_search_attributes=False)
        client = time_skipping.client
        workers = [
            Worker(
                client,
                task_queue=queue,
                workflows=[VictimCaseWorkflow],
                activities=StatisticsRecorder(MemoryLedger(), LEDGER_SECRET).activities(),
            )
        ]
        prefix = config.notification_queue_prefix
        workers += [
            Worker(
                client, task_queue=notification_task_queue(org, prefix), activities=[undeliverable]
            )
            for org in NOTIFIED
        ]
        async with contextlib.AsyncExitStack() as stack:
            for worker in workers:
                await stack.enter_async_context(worker)
            ident = event(
                "identified",
                await time_skipping.get_current_time(),
                person=dict(EU_ADULT),
                subject_ref="undeliverable-1",
            )
            assert isinstance(ident, Identified)
            case_id, _ = await cases.open_case(
                client, ident, pepper=PEPPER, config=config, task_queue=queue
            )

            async def settled() -> CaseState | None:
                state = await cases.case_state(client, case_id)
                return None if state.pending_notifications else state

            state = await eventually(settled)
            assert state is not None
            assert [t.what for t in state.timeline if t.what.startswith("notification ")] == [
                "notification case_identified to caritas: failed: ApplicationError"
            ]


class TestTimers:
    async def test_one_timer_per_wake_up_instant(self, time_skipping: WorkflowEnvironment) -> None:
        """Every settled notification and ledger write wakes the main loop, but none of them
        moves the case's earliest deadline: the loop keeps sleeping on the timer it started
        after identification (``one-timer-per-wake-up``, issue 14: "one timer per wake-up")
        instead of cancelling it and starting another for the same instant at every wake."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            t0 = await b.now()
            ident = event("identified", t0, person=dict(EU_ADULT), subject_ref="one-timer")
            assert isinstance(ident, Identified)
            case_id, _ = await b.open(ident)
            await b.settled(case_id)
            history = await b.client.get_workflow_handle(case_id).fetch_history()
        types = [e.event_type for e in history.events]
        # The wait for the identification (update-with-start) has a timer of its own; count
        # from the first notification the loop scheduled.
        after = types[types.index(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) :]
        completed = after.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
        assert completed >= 2  # the notification and the statistics ledger: two wakes
        assert after.count(EventType.EVENT_TYPE_TIMER_STARTED) == 1
        assert EventType.EVENT_TYPE_TIMER_CANCELED not in after


def patch_ids(history: object) -> list[str]:
    """The patch IDs of the history's patch markers, in order."""
    found = []
    for e in history.events:  # type: ignore[attr-defined]
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads:
                found.append(json.loads(payload.data)["id"])
    return found


class TestPatchMarkers:
    async def test_a_new_case_records_one_marker(self, time_skipping: WorkflowEnvironment) -> None:
        """A case started on today's code records the one marker that stands for every patch
        before it (issue 14: each marker is a history event, and sdk-core upserts the
        ``TemporalChangeVersion`` search attribute with each, a visibility write), not one per
        patch, and runs every patch's new branch (one timer per wake-up among them)."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            t0 = await b.now()
            ident = event("identified", t0, person=dict(EU_ADULT), subject_ref="one-marker")
            assert isinstance(ident, Identified)
            case_id, _ = await b.open(ident)
            state = await b.settled(case_id)
            history = await b.client.get_workflow_handle(case_id).fetch_history()
        assert patch_ids(history) == [ONE_MARKER]
        assert state.config.legal_time == "ljubljana"  # legal-time-ljubljana's new branch

    def test_a_later_patch_cannot_ride_on_the_one_marker(self) -> None:
        """A patch added after the one marker must ask ``workflow.patched`` itself: a run that
        recorded the marker before the patch existed would take the patch's new branch on
        replay (docs/versioning.md)."""
        assert ONE_MARKER not in EARLIER_PATCHES
        workflow_like = SimpleNamespace(_one_marker=True)
        with pytest.raises(ValueError, match="newer than 'one-marker-for-earlier-patches'"):
            VictimCaseWorkflow._earlier_patch(workflow_like, "a-later-patch")  # type: ignore[arg-type]
        assert VictimCaseWorkflow._earlier_patch(workflow_like, "legal-time-ljubljana")  # type: ignore[arg-type]
