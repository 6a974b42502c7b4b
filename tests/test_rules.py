"""The law, tested without a server: each test cites the SPEC rule it proves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from pathway.domain.calendar import end_of_day, local_date
from pathway.domain.events import validation_problems
from pathway.domain.rules import Accepted, decide, fire_due, reintegration_eligibility
from pathway.domain.state import (
    CaseState,
    DeadlineKind,
    DeliveryOutcome,
    Notification,
    ObligationKind,
    Phase,
)
from tests.factories import (
    ALL_SUBJECTS,
    CASE_ID,
    EU_ADULT,
    SI_CITIZEN,
    T0,
    TCN_ILLEGAL,
    accept,
    days,
    event,
    opened,
    reject,
)


def interviewed(person: dict[str, Any] | None = None) -> CaseState:
    state = opened(person)
    lang = "es" if person is TCN_ILLEGAL else "sl" if person is SI_CITIZEN else "de"
    return accept(state, event("ngo_interview_held", T0 + timedelta(hours=2), language=lang))


PLACED_AT = T0 + days(1)


def k1_k5_end(at: datetime) -> datetime:
    """When K1's and K5's 30 days from a placement at ``at`` end: 24:00 (Ljubljana) of the 30th
    calendar day after the placement's day (docs/rules.md "Legal time"). From 3 March 2026,
    across the change to summer time on 29 March: 24:00 on 2 April."""
    return end_of_day(local_date(at) + timedelta(days=30))


def k1_k5_reminders(at: datetime) -> datetime:
    """Their reminders: 5 calendar days before the end, at the same Ljubljana time (00:00)."""
    return end_of_day(local_date(at) + timedelta(days=25))


def in_crisis(person: dict[str, Any] | None = None, at: datetime = PLACED_AT) -> CaseState:
    return accept(interviewed(person), event("crisis_accommodation_placed", at))


def notified(state: CaseState, now: datetime) -> tuple[CaseState, list[tuple[str, str]]]:
    """Fire what is due by ``now``; returns the state and (recipient, reason) pairs sent."""
    new, effects = fire_due(state, now)
    return new, [(n.recipient.value, n.reason) for n in effects.notifications]


def open_kinds(state: CaseState) -> set[ObligationKind]:
    return {o.kind for o in state.open_obligations}


class TestIdentification:
    def test_r1_identification_opens_the_case_and_asks_the_ngo_to_act(self) -> None:
        """R1: assistance starts at identification; the NGO is told to interview and inform."""
        decision = decide(None, event("identified"), T0, case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        assert decision.state.phase is Phase.IDENTIFIED
        assert [(n.recipient.value, n.reason) for n in decision.effects.notifications] == [
            ("caritas", "case_identified")
        ]
        assert all(CASE_ID in n.idempotency_key for n in decision.effects.notifications)

    def test_r1_only_an_authorised_authority_identifies(self) -> None:
        """R1: an NGO cannot open a case by itself; the sender's role is checked."""
        rejection = reject(None, event("identified", organisation="caritas"))
        assert (rejection.rule, rejection.field) == ("ACCESS", "organisation")

    def test_a_case_is_identified_once(self) -> None:
        """A second identification of an open case is rejected and changes nothing."""
        rejection = reject(opened(), event("identified", T0 + days(1)))
        assert rejection.rule == "CASE"

    def test_first_event_must_be_identification(self) -> None:
        """R1: no event is accepted for a person before identification."""
        assert reject(None, event("ngo_interview_held")).rule == "CASE"


class TestInterviewAndInformation:
    def test_r2_police_information_gathering_before_ngo_interview_is_rejected(self) -> None:
        """R2: the police may not gather information before the NGO interview."""
        rejection = reject(
            opened(), event("police_information_gathering_started", T0 + timedelta(hours=1))
        )
        assert rejection.rule == "R2"

    def test_r2_police_information_gathering_after_ngo_interview_is_accepted(self) -> None:
        """R2, R4: after the interview it is accepted, with the offer and attendance recorded."""
        state = accept(
            interviewed(),
            event(
                "police_information_gathering_started",
                T0 + days(1),
                trusted_person_offered=True,
                present="trusted_person",
            ),
        )
        assert state.police_interview is not None
        assert state.police_interview.trusted_person_offered is True
        assert state.police_interview.present.value == "trusted_person"

    def test_r2_an_interview_dated_after_the_police_start_does_not_count(self) -> None:
        """R2: the order is by when things happened, not when they were recorded."""
        state = accept(opened(), event("ngo_interview_held", T0 + days(2)))
        rejection = reject(
            state, event("police_information_gathering_started", T0 + days(1)), now=T0 + days(3)
        )
        assert rejection.rule == "R2"

    def test_r3_each_missing_subject_is_an_open_obligation(self) -> None:
        """R3: all nine subjects start as open obligations of the supervising NGO."""
        state = opened()
        rights = [o for o in state.open_obligations if o.kind is ObligationKind.RIGHTS_INFORMATION]
        assert len(rights) == 9
        assert {o.owner.value for o in rights} == {"caritas"}

    def test_r3_information_given_closes_those_subjects_with_language_and_interpreter(self) -> None:
        """R3: the given subjects close; language and interpreter use are tracked per subject."""
        state = accept(
            opened(),
            event(
                "rights_information_given",
                T0 + days(0.5),
                subjects=["a_institutions", "g_compensation"],
                language="de",
                interpreter_used=True,
            ),
        )
        open_ids = {o.id for o in state.open_obligations}
        assert "rights_information:a_institutions" not in open_ids
        assert "rights_information:b_assistance_types" in open_ids
        given = state.rights_information
        assert set(given) == {"a_institutions", "g_compensation"}
        assert all(g.interpreter_used and g.language == "de" for g in given.values())

    def test_r3_information_in_a_language_not_understood_is_rejected(self) -> None:
        """R3: the language must be one the victim understands."""
        rejection = reject(opened(), event("rights_information_given", language="fr"))
        assert (rejection.rule, rejection.field) == ("R3", "language")

    def test_r3_missing_subjects_escalate_after_the_sla(self) -> None:
        """R3: after 24 h the supervising NGO is told which subjects are still missing."""
        state = accept(
            opened(), event("rights_information_given", T0 + days(0.5), subjects=ALL_SUBJECTS[:7])
        )
        state, sent = notified(state, T0 + timedelta(hours=23))
        assert sent == []
        state, sent = notified(state, T0 + timedelta(hours=24))
        assert sent == [("caritas", "rights_information_escalation")]
        action = state.pending_notifications[-1].action
        assert "(h)" in action and "(i)" in action and "(a)" not in action
        missing = [o for o in state.open_obligations if o.kind is ObligationKind.RIGHTS_INFORMATION]
        assert len(missing) == 2 and all(o.escalated_at is not None for o in missing)

    def test_r3_complete_information_ends_the_sla_timer(self) -> None:
        """R3: once all nine subjects are given, nothing escalates."""
        state = accept(
            opened(), event("rights_information_given", T0 + days(0.5), subjects=ALL_SUBJECTS)
        )
        assert DeadlineKind.RIGHTS_INFORMATION not in state.deadlines
        _, sent = notified(state, T0 + days(2))
        assert sent == []


class TestCrisisAccommodationAndReflection:
    def test_k2_placement_without_written_consent_is_rejected(self) -> None:
        """K2: placement needs consent by written statement."""
        rejection = reject(
            interviewed(), event("crisis_accommodation_placed", T0 + days(1), consent=None)
        )
        assert (rejection.rule, rejection.field) == ("K2", "consent")

    def test_k2_consent_dated_after_placement_is_rejected(self) -> None:
        """K2: the written consent must exist at placement. One signed after it is refused by
        the event itself, naming K2 and the field, before any case is asked (docs/rules.md
        "INPUT"; the boundaries are in tests/test_plausible.py)."""
        with pytest.raises(ValidationError) as raised:
            event("crisis_accommodation_placed", T0 + days(1), consent={"signed_on": "2026-03-10"})
        assert validation_problems(raised.value) == [
            ("consent.signed_on", "K2: the written consent is dated after the placement")
        ]

    def test_k1_k5_placement_starts_both_30_day_periods(self) -> None:
        """K1, K5: crisis accommodation and reflection each run 30 days from placement."""
        at = T0 + days(1)
        state = in_crisis(at=at)
        assert state.phase is Phase.REFLECTION
        assert state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION].due_at == k1_k5_end(at)
        assert state.deadlines[DeadlineKind.REFLECTION_PERIOD].due_at == k1_k5_end(at)

    def test_k1_k5_reminders_go_five_days_before_to_the_spec_recipients(self) -> None:
        """K1: Caritas and the labour ministry; K5: the NGO and the police; 5 days before.
        (Safe accommodation offered, S1, so that its own reminder does not go.)"""
        at = T0 + days(1)
        state = accept(
            in_crisis(at=at), event("rights_information_given", at, subjects=ALL_SUBJECTS)
        )
        state = accept(state, event("safe_accommodation_offered", at, answer="undecided"))
        state, sent = notified(state, k1_k5_reminders(at) - timedelta(seconds=1))
        assert sent == []
        state, sent = notified(state, k1_k5_reminders(at))
        assert sorted(sent) == sorted(
            [
                ("caritas", "crisis_accommodation_reminder"),
                ("labour_ministry", "crisis_accommodation_reminder"),
                ("caritas", "reflection_period_reminder"),
                ("police", "reflection_period_reminder"),
            ]
        )

    def test_k5_expiry_opens_a_decision_and_keeps_the_victim_in_assistance(self) -> None:
        """K5, R5: at the end of reflection a decision is due; nobody is removed."""
        at = T0 + days(1)
        state, _ = notified(in_crisis(at=at), k1_k5_end(at))
        assert ObligationKind.REFLECTION_DECISION in open_kinds(state)
        assert state.phase is Phase.REFLECTION
        assert state.crisis_accommodation is not None and state.crisis_accommodation.active

    def test_k1_expiry_without_follow_on_escalates(self) -> None:
        """K1: after 30 days with no follow-on placement decided, Caritas and the ministry
        are alerted."""
        at = T0 + days(1)
        state, sent = notified(in_crisis(at=at), k1_k5_end(at))
        assert ("labour_ministry", "crisis_accommodation_escalation") in sent
        assert ObligationKind.FOLLOW_ON_PLACEMENT in open_kinds(state)

    def test_k1_expiry_after_a_decision_does_not_escalate(self) -> None:
        """K1, K5: a decision on further support moves the case on; no escalation."""
        at = T0 + days(1)
        state = accept(
            in_crisis(at=at),
            event("further_support_decided", at + days(20), option="other_support"),
        )
        assert DeadlineKind.REFLECTION_PERIOD not in state.deadlines
        state, sent = notified(state, k1_k5_end(at))
        assert ("caritas", "crisis_accommodation_reminder") in sent
        assert not any(reason == "crisis_accommodation_escalation" for _, reason in sent)
        assert ObligationKind.FOLLOW_ON_PLACEMENT not in open_kinds(state)

    def test_k1_second_placement_while_placed_is_rejected(self) -> None:
        """K1: one crisis placement at a time."""
        assert reject(in_crisis(), event("crisis_accommodation_placed", T0 + days(2))).rule == "K1"

    def test_k2_withdrawal_ends_the_placement_only(self) -> None:
        """K2: withdrawing consent ends the placement; reflection and assistance go on."""
        state = accept(
            in_crisis(), event("consent_withdrawn", T0 + days(3), placement="crisis_accommodation")
        )
        assert state.crisis_accommodation is not None
        assert not state.crisis_accommodation.active
        assert DeadlineKind.CRISIS_ACCOMMODATION not in state.deadlines
        assert DeadlineKind.REFLECTION_PERIOD in state.deadlines
        assert state.phase is Phase.REFLECTION

    def test_k2_withdrawal_without_placement_is_rejected(self) -> None:
        """K2: there must be a placement to withdraw from."""
        rejection = reject(
            interviewed(), event("consent_withdrawn", T0 + days(1), placement="safe_accommodation")
        )
        assert (rejection.rule, rejection.field) == ("K2", "placement")

    def test_k5_reflection_without_accommodation(self) -> None:
        """K5: a reflection period can start without crisis accommodation, once."""
        state = accept(interviewed(), event("reflection_period_started", T0 + days(1)))
        assert state.phase is Phase.REFLECTION
        assert reject(state, event("reflection_period_started", T0 + days(2))).rule == "K5"


def with_permits(state: CaseState, at: datetime) -> CaseState:
    state = accept(
        state,
        event("permit_to_stay_granted", at, valid_from=at.date().isoformat(), basis="ex_officio"),
    )
    until = (at + days(365)).date().isoformat()
    return accept(
        state,
        event(
            "temporary_residence_permit_granted",
            at + days(1),
            basis="witness",
            valid_from=(at + days(1)).date().isoformat(),
            valid_until=until,
        ),
    )


class TestPermitToStay:
    def test_k7_three_months_with_a_reminder_14_days_before(self) -> None:
        """K7: 3 months from the start; police and NGO reminded 14 days before expiry."""
        state = accept(
            in_crisis(TCN_ILLEGAL),
            event(
                "permit_to_stay_granted", T0 + days(1), valid_from="2026-03-03", basis="on_request"
            ),
        )
        assert state.permit_to_stay is not None
        assert state.permit_to_stay.valid_until.isoformat() == "2026-06-02"
        deadline = state.deadlines[DeadlineKind.PERMIT_TO_STAY]
        reminder = deadline.reminders[0]
        assert deadline.due_at - reminder.at == timedelta(days=14)
        assert reminder.recipients == ["police"] and reminder.lead_ngo
        _, sent = notified(state, deadline.due_at - timedelta(days=14))
        assert ("police", "permit_to_stay_reminder") in sent
        assert ("caritas", "permit_to_stay_reminder") in sent

    def test_k7_one_extension_of_at_most_three_months(self) -> None:
        """K7: one extension of ≤3 months moves the timer; a second or longer one is rejected."""
        state = accept(
            in_crisis(TCN_ILLEGAL),
            event(
                "permit_to_stay_granted", T0 + days(1), valid_from="2026-03-03", basis="ex_officio"
            ),
        )
        too_long = reject(state, event("permit_to_stay_extended", T0 + days(80), months=4))
        assert (too_long.rule, too_long.field) == ("K7", "months")
        state = accept(state, event("permit_to_stay_extended", T0 + days(80), months=3))
        assert state.permit_to_stay is not None
        assert state.permit_to_stay.valid_until.isoformat() == "2026-09-02"
        # Expires at midnight after its last day, Ljubljana time (22:00 UTC in summer).
        assert state.deadlines[DeadlineKind.PERMIT_TO_STAY].due_at.astimezone(UTC) == datetime(
            2026, 9, 2, 22, 0, tzinfo=UTC
        )
        second = reject(state, event("permit_to_stay_extended", T0 + days(90), months=1))
        assert second.rule == "K7"

    def test_k7_the_extension_decision_is_due_by_expiry(self) -> None:
        """K7: the police decide on the extension while the permit runs (issue 13: not after
        it expired); at expiry without one, police and NGO are told and the decision lapses."""
        state = accept(
            in_crisis(TCN_ILLEGAL),
            event(
                "permit_to_stay_granted", T0 + days(1), valid_from="2026-03-03", basis="ex_officio"
            ),
        )
        assert ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION in open_kinds(state)
        state, sent = notified(state, T0 + days(100))
        assert ("police", "permit_to_stay_expired") in sent
        assert ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION not in open_kinds(state)

    def test_k7_not_for_eu_citizens(self) -> None:
        """K7: a permit to stay is for victims residing illegally; EU citizens need none."""
        rejection = reject(
            interviewed(),
            event(
                "permit_to_stay_granted", T0 + days(1), valid_from="2026-03-03", basis="ex_officio"
            ),
        )
        assert rejection.rule == "K7"

    def test_k7_extension_without_permit_is_rejected(self) -> None:
        """K7: there must be a permit to extend."""
        assert (
            reject(
                interviewed(TCN_ILLEGAL), event("permit_to_stay_extended", T0 + days(1), months=1)
            ).rule
            == "K7"
        )


class TestSafeAccommodation:
    def test_s3_third_country_national_needs_a_permit_to_stay(self) -> None:
        """S3: safe accommodation of a third-country national needs a valid permit to stay."""
        rejection = reject(
            in_crisis(TCN_ILLEGAL), event("safe_accommodation_placed", T0 + days(10))
        )
        assert rejection.rule == "S3" and "permit to stay" in rejection.reason

    def test_s3_third_country_national_needs_a_residence_permit(self) -> None:
        """S3: and a valid temporary residence permit."""
        state = accept(
            in_crisis(TCN_ILLEGAL),
            event(
                "permit_to_stay_granted", T0 + days(1), valid_from="2026-03-03", basis="ex_officio"
            ),
        )
        rejection = reject(state, event("safe_accommodation_placed", T0 + days(10)))
        assert rejection.rule == "S3" and "residence permit" in rejection.reason

    def test_s3_expired_permit_does_not_count(self) -> None:
        """S3: the permits must be valid on the day of placement."""
        state = with_permits(in_crisis(TCN_ILLEGAL), T0 + days(1))
        rejection = reject(state, event("safe_accommodation_placed", T0 + days(200)))
        assert rejection.rule == "S3"

    def test_s3_with_both_permits_the_placement_is_accepted(self) -> None:
        """S1, S3: with both permits valid the placement is accepted and ends crisis care."""
        state = with_permits(in_crisis(TCN_ILLEGAL), T0 + days(1))
        state = accept(state, event("safe_accommodation_placed", T0 + days(25)))
        assert state.phase is Phase.SAFE_ACCOMMODATION
        assert state.crisis_accommodation is not None and not state.crisis_accommodation.active
        assert DeadlineKind.CRISIS_ACCOMMODATION not in state.deadlines
        assert state.lead_ngo.value == "kljuc"

    def test_s1_safe_accommodation_needs_written_consent(self) -> None:
        """S1: consent by written statement."""
        rejection = reject(
            in_crisis(), event("safe_accommodation_placed", T0 + days(10), consent=None)
        )
        assert (rejection.rule, rejection.field) == ("S1", "consent")

    def test_s3_eu_citizens_need_no_permits(self) -> None:
        """S3 applies to third-country nationals only."""
        state = accept(in_crisis(), event("safe_accommodation_placed", T0 + days(10)))
        assert state.phase is Phase.SAFE_ACCOMMODATION

    def test_s4_residence_permit_reminder_30_days_before_and_renewal_moves_it(self) -> None:
        """S4: reminder 30 days before expiry to the migration authority; renewal moves it."""
        state = with_permits(in_crisis(TCN_ILLEGAL), T0 + days(1))
        deadline = state.deadlines[DeadlineKind.TEMPORARY_RESIDENCE_PERMIT]
        assert deadline.due_at - deadline.reminders[0].at == timedelta(days=30)
        assert "migration_authority" in deadline.reminders[0].recipients
        earlier = reject(
            state,
            event("temporary_residence_permit_renewed", T0 + days(300), valid_until="2026-06-01"),
        )
        assert (earlier.rule, earlier.field) == ("S4", "valid_until")
        state = accept(
            state,
            event("temporary_residence_permit_renewed", T0 + days(300), valid_until="2028-03-01"),
        )
        moved = state.deadlines[DeadlineKind.TEMPORARY_RESIDENCE_PERMIT]
        assert moved.due_at > deadline.due_at and not moved.reminders[0].sent

    def test_s4_not_for_eu_citizens(self) -> None:
        """S4: Article 50 permits are for third-country nationals."""
        rejection = reject(
            interviewed(),
            event(
                "temporary_residence_permit_granted",
                T0 + days(1),
                basis="witness",
                valid_from="2026-03-03",
                valid_until="2027-03-03",
            ),
        )
        assert rejection.rule == "S4"

    def test_s5_safe_accommodation_lasts_until_proceedings_conclude(self) -> None:
        """S5, K6: for a third-country national, conclusion of proceedings opens a plan for
        Ključ; the placement itself goes on."""
        state = with_permits(in_crisis(TCN_ILLEGAL), T0 + days(1))
        state = accept(state, event("criminal_proceedings_opened", T0 + days(5)))
        state = accept(state, event("safe_accommodation_placed", T0 + days(25)))
        state = accept(state, event("criminal_proceedings_concluded", T0 + days(300)))
        assert ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS in open_kinds(state)
        assert state.safe_accommodation is not None and state.safe_accommodation.active
        assert "kljuc" in [n.recipient.value for n in state.pending_notifications]

    def test_k6_proceedings_open_and_close_once(self) -> None:
        """K6: proceedings cannot be opened twice or concluded before they open."""
        state = interviewed()
        assert reject(state, event("criminal_proceedings_concluded", T0 + days(1))).rule == "K6"
        state = accept(state, event("criminal_proceedings_opened", T0 + days(1)))
        assert reject(state, event("criminal_proceedings_opened", T0 + days(2))).rule == "K6"


class TestReintegrationEligibility:
    @pytest.mark.parametrize(
        ("person", "abroad", "proceedings", "residence_permit", "eligible"),
        [
            (SI_CITIZEN, True, False, False, True),
            (SI_CITIZEN, False, False, False, False),
            (SI_CITIZEN, False, True, False, False),  # I1: abroad only (issue 13)
            (EU_ADULT, False, False, False, False),
            (EU_ADULT, False, True, False, True),
            ({**TCN_ILLEGAL}, False, True, False, False),
            ({**TCN_ILLEGAL}, False, True, True, True),
            ({**TCN_ILLEGAL}, False, False, True, False),
            ({**TCN_ILLEGAL, "residence_status": "third_country_legal"}, False, True, False, True),
            (
                {**TCN_ILLEGAL, "residence_status": "international_protection_applicant"},
                False,
                True,
                False,
                False,
            ),
        ],
    )
    def test_i1_eligibility_per_citizenship_and_residence(
        self,
        person: dict[str, Any],
        abroad: bool,
        proceedings: bool,
        residence_permit: bool,
        eligible: bool,
    ) -> None:
        """I1: Slovenians treated as victims abroad; others in Slovenian proceedings who
        reside legally."""
        state = opened({**person, "exploited_abroad": abroad})
        state = accept(
            state, event("ngo_interview_held", T0 + days(1), language=state.person.languages[0])
        )
        if proceedings:
            state = accept(state, event("criminal_proceedings_opened", T0 + days(2)))
        if residence_permit:
            state = accept(
                state,
                event(
                    "temporary_residence_permit_granted",
                    T0 + days(3),
                    basis="personal_circumstances",
                    valid_from="2026-03-05",
                    valid_until="2027-03-05",
                ),
            )
        at = T0 + days(10)
        assert reintegration_eligibility(state, at)[0] is eligible
        enrol = event("reintegration_enrolled", at, personal_plan=True)
        if eligible:
            assert accept(state, enrol).phase is Phase.REINTEGRATION
        else:
            assert reject(state, enrol).rule == "I1"


class TestExits:
    def test_arbitrary_departure_ends_placement_and_alerts_police_and_ngo(self) -> None:
        """An arbitrary departure ends accommodation timers, keeps the case open."""
        state = accept(in_crisis(), event("departed", T0 + days(10), arbitrary=True))
        assert state.phase is Phase.DECLINED_LEFT
        assert DeadlineKind.REFLECTION_PERIOD not in state.deadlines
        assert {
            n.recipient.value
            for n in state.pending_notifications
            if n.reason == "arbitrary_departure"
        } == {"police", "caritas"}

    def test_closed_case_accepts_nothing(self) -> None:
        """Closure ends all timers and obligations; later events are rejected."""
        state = accept(in_crisis(), event("case_closed", T0 + days(5)))
        assert state.phase is Phase.CLOSED and not state.deadlines
        assert state.open_obligations == []
        assert reject(state, event("departed", T0 + days(6), arbitrary=False)).rule == "CASE"


class TestEventIntake:
    def test_duplicate_event_id_returns_the_first_result_and_changes_nothing(self) -> None:
        """A repeat of an accepted event is answered with its first result."""
        state = interviewed()
        placed = event("crisis_accommodation_placed", T0 + days(1))
        first = decide(state, placed, T0 + days(1), case_id=CASE_ID)
        assert isinstance(first, Accepted)
        again = decide(first.state, placed, T0 + days(2), case_id=CASE_ID)
        assert isinstance(again, Accepted)
        assert again.result.duplicate and not first.result.duplicate
        assert again.result == first.result.model_copy(update={"duplicate": True})
        assert again.result.changes.obligations_opened  # the first acknowledgement's changes
        assert again.state == first.state and again.effects.notifications == []

    def test_reused_event_id_with_other_content_is_rejected(self) -> None:
        """An event_id names one event: reusing it for another is an error."""
        state = accept(
            interviewed(), event("crisis_accommodation_placed", T0 + days(1), event_id="same")
        )
        rejection = reject(state, event("departed", T0 + days(2), event_id="same", arbitrary=False))
        assert (rejection.rule, rejection.field) == ("IDEMPOTENCY", "event_id")

    def test_event_in_the_future_beyond_tolerance_is_rejected(self) -> None:
        """An event dated ahead of the clock by more than the tolerance is refused."""
        state = interviewed()
        late = event("crisis_accommodation_placed", T0 + days(1) + timedelta(minutes=6))
        rejection = reject(state, late, now=T0 + days(1))
        assert (rejection.rule, rejection.field) == ("TIME", "occurred_at")
        ok = event("crisis_accommodation_placed", T0 + days(1) + timedelta(minutes=4))
        assert accept(state, ok, now=T0 + days(1)).phase is Phase.REFLECTION

    def test_event_before_identification_is_rejected(self) -> None:
        """Nothing can happen to a case before it existed."""
        rejection = reject(opened(), event("ngo_interview_held", T0 - days(1)), now=T0)
        assert (rejection.rule, rejection.field) == ("TIME", "occurred_at")

    def test_rejection_does_not_change_the_state(self) -> None:
        """decide is pure: a rejected event leaves the given state as it was."""
        state = opened()
        before = state.model_copy(deep=True)
        reject(state, event("police_information_gathering_started", T0 + days(1)))
        assert state == before


class TestIdempotencyWindow:
    def test_old_repeats_are_still_recognised_after_their_result_is_dropped(self) -> None:
        """Full first results are kept for the latest events only; an old repeat is still
        answered as a duplicate (with the case as it stands) and changes nothing, and a reused
        old event_id is still refused."""
        from pathway.domain.state import RESULTS_KEPT

        state = interviewed()
        first = event(
            "cooperation_recorded", T0 + days(1), event_id="coop-0", willing_to_cooperate=True
        )
        state = accept(state, first)
        for n in range(1, RESULTS_KEPT + 5):
            state = accept(
                state,
                event(
                    "cooperation_recorded",
                    T0 + days(1),
                    event_id=f"coop-{n}",
                    willing_to_cooperate=n % 2 == 0,
                ),
            )
        assert state.processed["coop-0"].result is None
        assert state.processed[f"coop-{RESULTS_KEPT + 4}"].result is not None
        again = decide(state, first, T0 + days(2), case_id=CASE_ID)
        assert isinstance(again, Accepted)
        assert again.result.duplicate and again.state is state
        reused = reject(
            state,
            event(
                "cooperation_recorded",
                T0 + days(2),
                event_id="coop-0",
                willing_to_cooperate=False,
            ),
            now=T0 + days(2),
        )
        assert reused.rule == "IDEMPOTENCY"


class TestEventIdsAreTheSendersOwn:
    """An event_id is its sender's idempotency key (review of issue 11, R6): one organisation's
    event_id tells nothing of another's, hidden events included."""

    def test_another_organisations_used_id_answers_as_an_unused_one(self) -> None:
        """Caritas placed the person in crisis accommodation (hidden from the police) under
        car-7. The police, probing car-7 and car-8 with an event that must fail (dated in the
        future), get the same TIME rejection for both: no IDEMPOTENCY for car-7."""
        state = accept(
            interviewed(),
            event(
                "crisis_accommodation_placed",
                T0 + days(1),
                event_id="car-7",
                consent={"signed_on": "2026-03-03"},
            ),
        )
        probes = [
            reject(
                state,
                event(
                    "cooperation_recorded",
                    T0 + days(400),
                    event_id=event_id,
                    organisation="police",
                    willing_to_cooperate=True,
                ),
                now=T0 + days(2),
            )
            for event_id in ("car-7", "car-8")
        ]
        assert [(p.rule, p.field, p.reason) for p in probes[:1]] == [
            (p.rule, p.field, p.reason) for p in probes[1:]
        ]
        assert probes[0].rule == "TIME"

    def test_another_organisations_id_is_kept_apart_and_repeats_as_the_senders(self) -> None:
        """The police's event under Caritas's event_id is recorded; each sender's repeat is
        answered as its own repeat, and each sender's reuse for another event is refused."""
        placed = event(
            "crisis_accommodation_placed",
            T0 + days(1),
            event_id="shared-1",
            consent={"signed_on": "2026-03-03"},
        )
        state = accept(interviewed(), placed)
        coop = event(
            "cooperation_recorded",
            T0 + days(1),
            event_id="shared-1",
            organisation="police",
            willing_to_cooperate=True,
        )
        state = accept(state, coop)
        assert state.cooperation is not None and state.cooperation.willing_to_cooperate
        for sent in (placed, coop):
            again = decide(state, sent, T0 + days(2), case_id=CASE_ID)
            assert isinstance(again, Accepted) and again.result.duplicate, sent.type
            assert again.result.event_type == sent.type and again.state is state
        reused = reject(
            state,
            event(
                "cooperation_recorded",
                T0 + days(1),
                event_id="shared-1",
                organisation="police",
                willing_to_cooperate=False,
            ),
            now=T0 + days(2),
        )
        assert (reused.rule, reused.field) == ("IDEMPOTENCY", "event_id")


def delivered(notification: Notification) -> DeliveryOutcome:
    """The outcome the notify activity returns for ``notification``."""
    return DeliveryOutcome(
        idempotency_key=notification.idempotency_key,
        recipient=notification.recipient,
        channel="webhook",
    )


class TestUndeliveredReminders:
    def test_reminder_undelivered_at_its_deadline_escalates(self) -> None:
        """A reminder still pending when its deadline is reached opens an escalated obligation
        for the lead NGO and alerts the NGO and the interior ministry; delivery closes it."""
        from pathway.domain.rules import settle_notification

        at = T0 + days(1)
        state = accept(
            in_crisis(at=at), event("rights_information_given", at, subjects=ALL_SUBJECTS)
        )
        state, _ = fire_due(state, k1_k5_reminders(at))  # reminders issued, none delivered yet
        police = next(
            n
            for n in state.pending_notifications
            if (n.recipient.value, n.reason) == ("police", "reflection_period_reminder")
        )
        for n in list(state.pending_notifications):
            if n is not police:
                settle_notification(state, n, k1_k5_reminders(at), delivered(n))
        state, sent = notified(state, k1_k5_end(at))
        assert ("caritas", "notification_undelivered") in sent
        assert ("interior_ministry", "notification_undelivered") in sent
        (ob,) = [
            o for o in state.open_obligations if o.kind is ObligationKind.NOTIFICATION_UNDELIVERED
        ]
        assert (ob.id, ob.rule, ob.owner.value) == (
            f"notification_undelivered:{police.idempotency_key}",
            "K5",
            "caritas",
        )
        assert ob.escalated_at is not None
        settle_notification(state, police, k1_k5_end(at) + days(1), delivered(police))
        assert ob.closed_by == "delivered"

    def test_a_failed_delivery_leaves_the_escalation_open(self) -> None:
        """A reminder that finally failed (no retry can help) is off the pending list and on the
        timeline as failed, and its escalated obligation stays open for the lead NGO."""
        from pathway.domain.rules import settle_notification

        at = T0 + days(1)
        state = accept(
            in_crisis(at=at), event("rights_information_given", at, subjects=ALL_SUBJECTS)
        )
        state, _ = fire_due(state, k1_k5_reminders(at))
        police = next(
            n
            for n in state.pending_notifications
            if (n.recipient.value, n.reason) == ("police", "reflection_period_reminder")
        )
        state, _ = fire_due(state, k1_k5_end(at))
        ob = next(
            o
            for o in state.open_obligations
            if o.id == f"notification_undelivered:{police.idempotency_key}"
        )
        settle_notification(
            state,
            police,
            k1_k5_end(at) + days(1),
            DeliveryOutcome.failed(police, "ApplicationError"),
        )
        assert police not in state.pending_notifications
        assert ob.closed_at is None
        assert state.timeline[-1].what == (
            "notification reflection_period_reminder to police: failed: ApplicationError"
        )

    def test_old_cases_replay_without_the_escalation(self) -> None:
        """With the rule switched off (replay of older histories) nothing new is emitted."""
        at = T0 + days(1)
        state, _ = fire_due(in_crisis(at=at), k1_k5_reminders(at))
        _, effects = fire_due(state, k1_k5_end(at), escalate_undelivered=False)
        assert "notification_undelivered" not in {n.reason for n in effects.notifications}
