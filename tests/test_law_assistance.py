"""The assistance track as the seed states it (issue 13): K1, K2, S1, R3, R4.

Each test quotes the seed's words it rests on. Dates are compared with what the case itself
set (the first placement's deadline), so they hold however legal time counts days
(docs/rules.md "Legal time"). ``seed_assistance_rules`` off is how a history recorded before
the patch ``seed-assistance-rules`` replays (docs/versioning.md).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pathway.domain.events import CaseEvent
from pathway.domain.rules import Accepted, decide, fire_due
from pathway.domain.state import CaseState, DeadlineKind, ObligationKind
from tests.factories import CASE_ID, T0, accept, days, event, opened, reject
from tests.test_law_residence import in_safe_accommodation

FIRST = T0 + days(1)  # the first crisis placement


def interviewed(person: dict[str, Any] | None = None) -> CaseState:
    return accept(opened(person), event("ngo_interview_held", T0 + timedelta(hours=2)))


def placed(at: datetime = FIRST, state: CaseState | None = None) -> CaseState:
    return accept(state or interviewed(), event("crisis_accommodation_placed", at))


def withdrawn(state: CaseState, at: datetime, placement: str = "crisis_accommodation") -> CaseState:
    return accept(state, event("consent_withdrawn", at, placement=placement))


def withdrawal(at: datetime, placement: str = "crisis_accommodation") -> CaseEvent:
    return event("consent_withdrawn", at, placement=placement)


def placement_signed(signed_on: date, at: datetime = FIRST) -> CaseEvent:
    return event("crisis_accommodation_placed", at, consent={"signed_on": signed_on.isoformat()})


def old_rules(state: CaseState) -> CaseState:
    """``state`` as a history recorded before ``seed-assistance-rules`` replays it."""
    return state.model_copy(update={"seed_assistance_rules": False})


def crisis_due(state: CaseState) -> datetime:
    return state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION].due_at


def escalations(state: CaseState, now: datetime) -> list[str]:
    _, effects = fire_due(state, now)
    return [
        n.recipient.value
        for n in effects.notifications
        if n.reason == "crisis_accommodation_escalation"
    ]


def open_kinds(state: CaseState) -> set[ObligationKind]:
    return {o.kind for o in state.open_obligations}


class TestK1ThirtyDaysOfTheCase:
    """K1: “comprehensive assistance provided for up to 30 days to identified victims”; “To
    begin with, the accommodation of victims is organised within the Crisis Accommodation
    Programme, which is (or may be) then extended to the Safe Accommodation Programme.”"""

    def test_withdrawal_on_day_25_and_replacement_on_day_26_keep_the_first_end(self) -> None:
        """K1: the 30 days count from the first placement of the case; withdrawing consent on
        day 25 and placing again on day 26 does not restart them (it gave 55 days)."""
        first = placed(FIRST)
        due = crisis_due(first)
        again = placed(FIRST + days(26), withdrawn(first, FIRST + days(25)))
        assert crisis_due(again) == due
        assert again.crisis_accommodation is not None
        assert again.crisis_accommodation.counted_from == FIRST

    def test_two_cycles_still_end_on_day_30(self) -> None:
        """K1: after two withdrawals and re-placements the end is still the first one's (it
        gave 88 days)."""
        state = placed(FIRST)
        due = crisis_due(state)
        for n in (10, 20):
            state = placed(FIRST + days(n + 1), withdrawn(state, FIRST + days(n)))
        assert crisis_due(state) == due

    def test_day_30_is_within_and_day_31_is_not_after_a_replacement(self) -> None:
        """K1 boundary: re-placed on day 26, the case escalates at the first placement's end,
        not a moment before (day 30 is still within the 30 days, day 31 is not)."""
        first = placed(FIRST)
        due = crisis_due(first)
        again = placed(FIRST + days(26), withdrawn(first, FIRST + days(25)))
        assert escalations(again, due - timedelta(seconds=1)) == []
        assert "caritas" in escalations(again, due)

    def test_a_replacement_after_the_30_days_escalates_at_once(self) -> None:
        """K1: a placement on day 31 has no days left of the case's 30: the follow-on
        placement is due now."""
        first = placed(FIRST)
        due = crisis_due(first)
        late = FIRST + days(31)
        again = placed(late, withdrawn(first, FIRST + days(25)))
        assert crisis_due(again) == due
        assert "labour_ministry" in escalations(again, late)

    def test_no_crisis_accommodation_during_safe_accommodation(self) -> None:
        """K1, S1: crisis accommodation comes first and is extended to safe accommodation;
        the two are never both active. Refused naming K1 and the type, changing nothing."""
        state = accept(placed(FIRST), event("safe_accommodation_placed", FIRST + days(10)))
        rejection = reject(state, event("crisis_accommodation_placed", FIRST + days(11)))
        assert (rejection.rule, rejection.field) == ("K1", "type")
        assert state.crisis_accommodation is not None and not state.crisis_accommodation.active

    def test_old_histories_count_from_each_placement(self) -> None:
        """Replay: a case recorded before the patch keeps its old arithmetic."""
        first = old_rules(placed(FIRST))
        again = placed(FIRST + days(26), withdrawn(first, FIRST + days(25)))
        assert crisis_due(again) > crisis_due(first) + days(25)
        assert again.crisis_accommodation is not None
        assert again.crisis_accommodation.counted_from is None


class TestK2Order:
    """K2: “Upon placement the victims accept assistance and accommodation by way of a written
    statement whereby they acquire rights and obligations”; “Victims are accommodated with
    their consent”. A statement comes upon a placement of an identified victim; a withdrawal
    ends a placement that began."""

    def test_a_withdrawal_dated_before_the_placement_is_refused(self) -> None:
        """K2: the withdrawal cannot end a placement that had not begun; refused naming K2 and
        ``occurred_at``, changing nothing."""
        state = placed(FIRST + days(3))
        rejection = reject(
            state, event("consent_withdrawn", FIRST + days(2), placement="crisis_accommodation")
        )
        assert (rejection.rule, rejection.field) == ("K2", "occurred_at")
        assert state.crisis_accommodation is not None and state.crisis_accommodation.active

    def test_a_withdrawal_on_the_placement_day_is_accepted_and_stamped_then(self) -> None:
        """K2 boundary: withdrawn an hour after the placement, the same day; and recorded
        a week later, the end carries the day it happened, not the day it was recorded."""
        state = placed(FIRST)
        ended = accept(
            state,
            event(
                "consent_withdrawn", FIRST + timedelta(hours=1), placement="crisis_accommodation"
            ),
            now=FIRST + days(7),
        )
        assert ended.crisis_accommodation is not None
        assert ended.crisis_accommodation.ended_at == FIRST + timedelta(hours=1)
        assert DeadlineKind.CRISIS_ACCOMMODATION not in ended.deadlines

    def test_an_end_dated_before_the_placement_is_refused(self) -> None:
        """K1: crisis accommodation cannot end before it began (K1, ``occurred_at``)."""
        rejection = reject(placed(FIRST + days(3)), event("crisis_accommodation_ended", FIRST))
        assert (rejection.rule, rejection.field) == ("K1", "occurred_at")

    def test_consent_on_the_identification_day_is_accepted(self) -> None:
        """K2 boundary: signed on the day of the identification (in Ljubljana), accepted."""
        state = placed(FIRST, None)
        ok = accept(
            interviewed(),
            event(
                "crisis_accommodation_placed", FIRST, consent={"signed_on": T0.date().isoformat()}
            ),
        )
        assert ok.crisis_accommodation is not None and state.crisis_accommodation is not None

    def test_consent_the_day_before_the_identification_is_refused(self) -> None:
        """K2: a statement signed before the day the victim was identified is not one given
        upon this placement (K2, ``consent.signed_on``); nor years before."""
        for signed in ((T0 - days(1)).date(), date(2019, 5, 1)):
            rejection = reject(
                interviewed(),
                event(
                    "crisis_accommodation_placed", FIRST, consent={"signed_on": signed.isoformat()}
                ),
            )
            assert (rejection.rule, rejection.field) == ("K2", "consent.signed_on")

    def test_safe_accommodation_consent_before_identification_is_refused_under_s1(self) -> None:
        """S1: “By way of a written statement the victim accepts assistance and accommodation”:
        the same order, naming S1."""
        rejection = reject(
            placed(FIRST),
            event(
                "safe_accommodation_placed",
                FIRST + days(5),
                consent={"signed_on": (T0 - days(400)).date().isoformat()},
            ),
        )
        assert (rejection.rule, rejection.field) == ("S1", "consent.signed_on")

    def test_withdrawing_consent_settles_the_s5_obligation_as_an_end_does(self) -> None:
        """S5: “Accommodation within the programme is voluntary”: withdrawing consent from
        safe accommodation after the proceedings concluded settles the next-step obligation
        and its deadline, as ending the placement does."""
        concluded = accept(
            in_safe_accommodation(), event("criminal_proceedings_concluded", T0 + days(40))
        )
        assert ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS in open_kinds(concluded)
        left = accept(
            concluded,
            event(
                "consent_withdrawn",
                T0 + days(41),
                organisation="kljuc",
                placement="safe_accommodation",
            ),
        )
        assert ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS not in open_kinds(left)
        assert DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS not in left.deadlines

    def test_old_histories_keep_the_recording_time_and_no_order_checks(self) -> None:
        """Replay: before the patch the end was stamped when recorded."""
        state = old_rules(placed(FIRST))
        ended = accept(
            state,
            event(
                "consent_withdrawn", FIRST + timedelta(hours=1), placement="crisis_accommodation"
            ),
            now=FIRST + days(7),
        )
        assert ended.crisis_accommodation is not None
        assert ended.crisis_accommodation.ended_at == FIRST + days(7)


NO_LANGUAGE: dict[str, Any] = {
    "citizenships": ["DE"],
    "residence_status": "eu_citizen",
    "gender": "female",
    "birth_date": "1995-04-01",
}


class TestR3LanguageAndReturn:
    """R3: “information (in a language the victim understands) on:” the nine subjects."""

    def test_no_recorded_language_the_language_is_asked_first(self) -> None:
        """R3: with no language recorded the service cannot tell that the victim understands
        the information: it is refused (R3, ``language``) until the languages are recorded,
        then accepted in one of them."""
        state = interviewed(NO_LANGUAGE)
        rejection = reject(state, event("rights_information_given", T0 + days(1), language="de"))
        assert (rejection.rule, rejection.field) == ("R3", "language")
        known = accept(
            state,
            event("facts_updated", T0 + days(1), person={**NO_LANGUAGE, "languages": ["de"]}),
        )
        given = accept(known, event("rights_information_given", T0 + days(1), language="de"))
        assert given.rights_information

    def test_old_histories_accept_any_language_when_none_is_recorded(self) -> None:
        """Replay: before the patch any language was accepted."""
        state = old_rules(interviewed(NO_LANGUAGE))
        accept(state, event("rights_information_given", T0 + days(1), language="fr"))

    def test_after_a_departure_and_return_the_missing_subjects_are_open_again(self) -> None:
        """R3: a victim who left and comes back is still owed the subjects not yet given: the
        missing ones are open obligations again (the given one is not), due anew."""
        state = accept(interviewed(), event("rights_information_given", T0 + timedelta(hours=3)))
        left = accept(state, event("departed", T0 + days(2), arbitrary=True))
        assert ObligationKind.RIGHTS_INFORMATION not in open_kinds(left)
        back = placed(T0 + days(5), left)
        reopened = {
            o.id for o in back.open_obligations if o.kind is ObligationKind.RIGHTS_INFORMATION
        }
        assert len(reopened) == 8
        assert "rights_information:a_institutions" not in reopened
        assert DeadlineKind.RIGHTS_INFORMATION in back.deadlines
        assert back.deadlines[DeadlineKind.RIGHTS_INFORMATION].due_at > T0 + days(5)

    def test_a_return_to_safe_accommodation_reopens_them_too(self) -> None:
        """R3: the same when the victim comes back straight into safe accommodation."""
        left = accept(placed(FIRST), event("returned_home", T0 + days(3)))
        back = accept(
            left, event("safe_accommodation_placed", T0 + days(9), reason="came back, placed")
        )
        assert ObligationKind.RIGHTS_INFORMATION in open_kinds(back)


class TestR4TrustedPerson:
    """R4: “the presence of representatives of non-governmental and/or humanitarian
    organisations or other persons whom the victim trusts in the interview with police
    officers”."""

    def gathering(self, offered: bool, present: str, at: datetime) -> CaseEvent:
        return event(
            "police_information_gathering_started",
            at,
            trusted_person_offered=offered,
            present=present,
        )

    def test_no_offer_and_nobody_present_opens_an_obligation(self) -> None:
        """R4: an interview without the offer, with nobody present, opens an obligation for
        the police and tells the police and the NGO leading the case."""
        state = accept(interviewed(), self.gathering(False, "nobody", T0 + days(1)))
        (ob,) = [o for o in state.open_obligations if o.kind is ObligationKind.TRUSTED_PERSON]
        assert (ob.rule, ob.owner.value) == ("R4", "police")
        told = {
            n.recipient.value
            for n in state.pending_notifications
            if n.reason == "trusted_person_not_offered"
        }
        assert told == {"police", "caritas"}

    def test_the_offer_made_later_settles_it(self) -> None:
        """R4: the interview recorded again with the offer closes the obligation."""
        state = accept(interviewed(), self.gathering(False, "nobody", T0 + days(1)))
        state = accept(state, self.gathering(True, "trusted_person", T0 + days(2)))
        assert ObligationKind.TRUSTED_PERSON not in open_kinds(state)

    def test_someone_present_without_a_formal_offer_is_no_breach(self) -> None:
        """R4: the right is to someone's presence; an NGO representative present is it."""
        state = accept(interviewed(), self.gathering(False, "ngo_representative", T0 + days(1)))
        assert ObligationKind.TRUSTED_PERSON not in open_kinds(state)

    def test_old_histories_only_record_it(self) -> None:
        """Replay: before the patch the missing offer was recorded, nothing opened."""
        state = old_rules(interviewed())
        state = accept(state, self.gathering(False, "nobody", T0 + days(1)))
        assert ObligationKind.TRUSTED_PERSON not in open_kinds(state)


def offer_due(state: CaseState) -> datetime:
    return state.deadlines[DeadlineKind.SAFE_ACCOMMODATION_OFFER].due_at


def offer_escalations(state: CaseState, now: datetime) -> list[str]:
    _, effects = fire_due(state, now)
    return [
        n.recipient.value
        for n in effects.notifications
        if n.reason == "safe_accommodation_offer_overdue"
    ]


def offered(state: CaseState, at: datetime, answer: str = "accepted") -> CaseState:
    return accept(state, event("safe_accommodation_offered", at, answer=answer))


class TestS1TheOfferDuringCrisis:
    """S1: “During crisis accommodation, victims are offered long-term assistance and safe
    accommodation.” The offer is an obligation of the NGO leading the case while crisis
    accommodation runs, due 5 days (the crisis reminder's lead) before its 30 days end."""

    def test_crisis_placement_opens_the_offer_due_before_the_30_days_end(self) -> None:
        """S1: placed in crisis accommodation, Caritas owes the offer; due 5 calendar days
        before the 30 days end (the end of day 25), reminded 5 days before that."""
        state = placed(FIRST)
        [offer] = [
            o for o in state.open_obligations if o.kind is ObligationKind.SAFE_ACCOMMODATION_OFFER
        ]
        assert (offer.owner.value, offer.rule) == ("caritas", "S1")
        due = offer_due(state)
        assert offer.due_at == due
        assert due == crisis_due(state) - days(5)
        assert due < crisis_due(state)
        deadline = state.deadlines[DeadlineKind.SAFE_ACCOMMODATION_OFFER]
        assert [r.at for r in deadline.reminders] == [due - days(5)]
        assert deadline.reminders[0].lead_ngo

    def test_the_date_is_within_and_its_end_escalates(self) -> None:
        """S1 boundary: no escalation a moment before the date; at it, the NGO leading the case
        and the labour ministry are told and the obligation is marked escalated, still open."""
        state = placed(FIRST)
        due = offer_due(state)
        assert offer_escalations(state, due - timedelta(seconds=1)) == []
        assert offer_escalations(state, due) == ["caritas", "labour_ministry"]
        after, _ = fire_due(state, due)
        [offer] = [
            o for o in after.open_obligations if o.kind is ObligationKind.SAFE_ACCOMMODATION_OFFER
        ]
        assert offer.escalated_at == due

    def test_each_answer_settles_the_offer_and_is_recorded(self) -> None:
        """S1: the offer settles the obligation whatever the answer: accepted, refused (the
        victim's choice, R5), or undecided; nothing escalates at the date."""
        for answer in ("accepted", "refused", "undecided"):
            state = offered(placed(FIRST), FIRST + days(10), answer)
            assert ObligationKind.SAFE_ACCOMMODATION_OFFER not in open_kinds(state)
            assert DeadlineKind.SAFE_ACCOMMODATION_OFFER not in state.deadlines
            assert state.safe_accommodation_offer is not None
            assert state.safe_accommodation_offer.answer.value == answer
            assert state.safe_accommodation_offer.at == FIRST + days(10)
            assert offer_escalations(state, FIRST + days(40)) == []

    def test_a_safe_placement_settles_it(self) -> None:
        """S1: a placement in safe accommodation is the offer taken up."""
        state = accept(placed(FIRST), event("safe_accommodation_placed", FIRST + days(20)))
        assert ObligationKind.SAFE_ACCOMMODATION_OFFER not in open_kinds(state)
        assert DeadlineKind.SAFE_ACCOMMODATION_OFFER not in state.deadlines

    def test_the_end_of_crisis_accommodation_or_an_exit_makes_it_moot(self) -> None:
        """S1: the offer is owed “during crisis accommodation”: its end (or a withdrawal, or an
        exit from assistance) closes the obligation and its timer."""
        ends = [
            event("crisis_accommodation_ended", FIRST + days(8)),
            withdrawal(FIRST + days(8)),
            event("departed", FIRST + days(8), arbitrary=True),
            event("returned_home", FIRST + days(8)),
        ]
        for end in ends:
            state = accept(placed(FIRST), end)
            assert ObligationKind.SAFE_ACCOMMODATION_OFFER not in open_kinds(state), end.type
            assert DeadlineKind.SAFE_ACCOMMODATION_OFFER not in state.deadlines, end.type

    def test_a_replacement_owes_it_again_unless_it_was_made(self) -> None:
        """S1: placed again after a withdrawal, the offer is owed again by the same date (the
        30 days are the case's, K1); once made, it is not owed again."""
        first = placed(FIRST)
        due = offer_due(first)
        again = placed(FIRST + days(6), withdrawn(first, FIRST + days(5)))
        assert offer_due(again) == due
        made = offered(first, FIRST + days(3), "undecided")
        again = placed(FIRST + days(6), withdrawn(made, FIRST + days(5)))
        assert ObligationKind.SAFE_ACCOMMODATION_OFFER not in open_kinds(again)

    def test_no_offer_in_safe_accommodation(self) -> None:
        """S1: in safe accommodation there is nothing to offer: refused (S1, ``type``)."""
        state = accept(placed(FIRST), event("safe_accommodation_placed", FIRST + days(10)))
        rejection = reject(
            state, event("safe_accommodation_offered", FIRST + days(11), answer="accepted")
        )
        assert (rejection.rule, rejection.field) == ("S1", "type")

    def test_old_histories_owe_no_offer(self) -> None:
        """Replay: a case recorded before the patch ``seed-assistance-rules`` opens no offer
        obligation and no timer, so its commands do not change."""
        state = placed(FIRST, old_rules(interviewed()))
        assert ObligationKind.SAFE_ACCOMMODATION_OFFER not in open_kinds(state)
        assert DeadlineKind.SAFE_ACCOMMODATION_OFFER not in state.deadlines


class TestS1OfferedDuringCrisis:
    """S1: “During crisis accommodation, victims are offered long-term assistance and safe
    accommodation.” … “During accommodation the victims are provided with all the needed
    protection on the basis of a preliminary assistance and protection programme.”"""

    def test_from_crisis_accommodation_no_reason_is_needed(self) -> None:
        """S1: the usual way, crisis then safe accommodation; crisis ends, never both."""
        state = accept(placed(FIRST), event("safe_accommodation_placed", FIRST + days(20)))
        assert state.safe_accommodation is not None and state.safe_accommodation.active
        assert state.crisis_accommodation is not None and not state.crisis_accommodation.active

    def test_straight_from_identification_needs_a_reason(self) -> None:
        """S1: with no crisis accommodation before, the placement is refused without its
        reason (S1, ``reason``), changing nothing, and accepted with it."""
        state = interviewed()
        rejection = reject(state, event("safe_accommodation_placed", FIRST))
        assert (rejection.rule, rejection.field) == ("S1", "reason")
        assert state.safe_accommodation is None
        ok = accept(
            state,
            event("safe_accommodation_placed", FIRST, reason="crisis places full; referred"),
        )
        assert ok.safe_accommodation is not None
        assert ok.timeline[-1].why == "crisis places full; referred"

    def test_the_preliminary_programme_is_recorded(self) -> None:
        """S1: whether the preliminary programme exists is kept on the placement."""
        for given in (True, False):
            state = accept(
                placed(FIRST),
                event("safe_accommodation_placed", FIRST + days(5), preliminary_programme=given),
            )
            assert state.safe_accommodation is not None
            assert state.safe_accommodation.preliminary_programme is given

    def test_old_histories_accept_a_direct_placement_without_reason(self) -> None:
        """Replay: before the patch a direct placement needed no reason, nothing recorded."""
        state = accept(old_rules(interviewed()), event("safe_accommodation_placed", FIRST))
        assert state.safe_accommodation is not None
        assert state.safe_accommodation.preliminary_programme is None


def recorded_late(state: CaseState, ev: CaseEvent, now: datetime) -> tuple[CaseState, list[str]]:
    """The crisis accommodation's 30 days end (the escalation fires at its date), then ``ev``
    is recorded at ``now``: the state and the (recipient:reason) of what the event sent."""
    end = crisis_due(state)
    while (wake := state.next_wake_at()) is not None and wake <= end:
        state, _ = fire_due(state, wake)  # each timer when it falls, as the workflow does
    decision = decide(state, ev, now, case_id=CASE_ID)
    assert isinstance(decision, Accepted), decision
    sent = [f"{n.recipient.value}:{n.reason}" for n in decision.effects.notifications]
    return decision.state, sent


class TestLateRecordedEvents:
    """K1 “for up to 30 days”, K5 “a 30-day period”, and docs/rules.md "Legal time": an event
    recorded after a deadline it would have prevented has already fired makes that escalation
    moot; its recipients are told, and the timeline shows when things happened and when they
    were recorded."""

    def test_safe_placement_on_day_28_recorded_on_day_33_makes_the_escalation_moot(self) -> None:
        """K1, K5: placed in safe accommodation on day 28, recorded on day 33 after the
        crisis-accommodation escalation and the reflection decision point of day 30: both are
        settled as moot, and those they told (Caritas and the labour ministry; the NGO and the
        police) are told so."""
        state = placed(FIRST)
        due = crisis_due(state)
        state, sent = recorded_late(
            state, event("safe_accommodation_placed", FIRST + days(27)), FIRST + days(32)
        )
        settled = {o.kind: o for o in state.obligations if o.rule in ("K1", "K5")}
        follow_on = settled[ObligationKind.FOLLOW_ON_PLACEMENT]
        decision = settled[ObligationKind.REFLECTION_DECISION]
        assert follow_on.escalated_at == due and follow_on.moot and not follow_on.is_open
        assert decision.moot and not decision.is_open
        assert sorted(s for s in sent if s.endswith("escalation_moot")) == [
            "caritas:escalation_moot",
            "caritas:escalation_moot",
            "labour_ministry:escalation_moot",
            "police:escalation_moot",
        ]

    def test_the_timeline_shows_the_real_and_the_recording_order(self) -> None:
        """The placement's entry says it happened on day 28 and was recorded on day 33: in
        the recording order (the timeline's) it follows the escalation, in the real order
        (by ``at``) it precedes it; the moot settlement has its own entry."""
        state, _ = recorded_late(
            placed(FIRST), event("safe_accommodation_placed", FIRST + days(27)), FIRST + days(32)
        )
        whats = [t.what for t in state.timeline]
        placed_at = whats.index("safe accommodation placed")
        reached = whats.index("crisis_accommodation deadline reached")
        assert reached < placed_at
        entry = state.timeline[placed_at]
        assert (entry.at, entry.recorded_at) == (FIRST + days(27), FIRST + days(32))
        real = [t.what for t in sorted(state.timeline, key=lambda t: t.at)]
        assert real.index("safe accommodation placed") < real.index(
            "crisis_accommodation deadline reached"
        )
        assert any(w.startswith("follow_on_placement escalation moot") for w in whats)

    def test_an_event_a_moment_before_the_escalation_is_moot_one_after_is_not(self) -> None:
        """Boundary: happened a second before the escalation fired, the escalation is moot;
        at the same instant or after, it was due, and it is settled as usual."""
        state = placed(FIRST)
        due = crisis_due(state)
        for at, moot in ((due - timedelta(seconds=1), True), (due, False)):
            late, sent = recorded_late(state, event("safe_accommodation_placed", at), due + days(2))
            [follow_on] = [
                o for o in late.obligations if o.kind is ObligationKind.FOLLOW_ON_PLACEMENT
            ]
            assert follow_on.moot is moot and not follow_on.is_open
            assert ("labour_ministry:escalation_moot" in sent) is moot

    def test_recorded_in_time_nothing_fires_and_nothing_is_moot(self) -> None:
        """K1: recorded on day 29, before the 30 days end: no escalation, nothing moot."""
        first = placed(FIRST)
        state = accept(first, event("safe_accommodation_placed", FIRST + days(27)))
        assert escalations(state, crisis_due(first) + days(3)) == []
        assert not any(o.moot for o in state.obligations)

    def test_old_histories_tell_nobody(self) -> None:
        """Replay: a case recorded before the patch ``seed-assistance-rules`` settles the
        escalation as it did, with no notification."""
        state = old_rules(placed(FIRST))
        late, sent = recorded_late(
            state, event("safe_accommodation_placed", FIRST + days(27)), FIRST + days(32)
        )
        assert not any(s.endswith("escalation_moot") for s in sent)
        assert not any(o.moot for o in late.obligations)
