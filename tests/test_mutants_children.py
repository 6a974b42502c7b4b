"""Tests that kill mutants of the child victims' rules, pathway/domain/rules/children.py
(issue 13; docs/mutation.md): the child track closed at 18 or when corrected facts show an adult
(C4), and the social work centre's escalating obligations (C4–C7). Pure: ``decide``,
``fire_due`` and the module's functions on a case's state, no Temporal server. Each test names
the rule it keeps and asserts what the rule requires.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest

from pathway.domain.calendar import LJUBLJANA, local_date
from pathway.domain.events import CaseEvent
from pathway.domain.membership import MemberRole, Membership
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules import children, deadlines, fire_due
from pathway.domain.rules.core import _Change
from pathway.domain.state import (
    CHILD_OBLIGATIONS,
    CaseState,
    DeadlineKind,
    Notification,
    Obligation,
    ObligationKind,
)
from tests.factories import EU_ADULT, T0, accept, days, event, opened, reject
from tests.test_law_children import CHILD as CHILD_NOTE
from tests.test_law_children import DAY0, person, years_before

#: The steps C5 makes due together with the interview.
C5_STEPS = {
    ObligationKind.SWC_INTERVIEW,
    ObligationKind.EMERGENCY_ASSISTANCE,
    ObligationKind.GUARDIAN_STATEMENT,
}


def _guardianships(state: CaseState) -> list[Membership]:
    return [
        m
        for m in state.membership
        if (m.organisation, m.role) == (Org.GUARDIAN, MemberRole.GUARDIAN)
    ]


def _sent(state: CaseState, reason: str) -> list[Notification]:
    return [n for n in state.pending_notifications if n.reason == reason]


def _closed_list(action: str) -> list[str]:
    """The obligation kinds a closing notice lists (“… closed: a, b.”), or none."""
    found = re.search(r"closed: (.*)\.$", action)
    return found.group(1).split(", ") if found else []


def _unaccompanied_16() -> CaseState:
    """An unaccompanied foreign 16-year-old: C4, C5 and C6 obligations open."""
    return opened(person(years_before(DAY0, 16), unaccompanied=True))


def _accompanied_16() -> CaseState:
    """A 16-year-old with a holder of parental responsibility able to act: no C4–C6 duty."""
    return opened(person(years_before(DAY0, 16), holder_can_act=True))


def _corrected_to_adult(state: CaseState, event_id: str = "ev-adult") -> CaseState:
    at = T0 + days(2)
    facts = person(years_before(local_date(at), 18), unaccompanied=True)
    return accept(state, event("facts_updated", at, person=facts, event_id=event_id))


class TestAdultAfterAll:
    """C4: “the child is to be appointed a guardian or a representative”: a guardian is for a
    child. Corrected facts that show an adult close the child track as the 18th birthday
    does."""

    def test_the_guardianship_ends_under_c4_when_the_event_is_recorded(self) -> None:
        """C4: the guardian's role on the case ends, stamped with the correction's time, the
        rule C4 and why; the record stays."""
        state = _unaccompanied_16()
        assert [m.is_active for m in _guardianships(state)] == [True]
        state = _corrected_to_adult(state)
        (record,) = _guardianships(state)
        assert not record.is_active
        assert record.removed_at == T0 + days(2)
        assert record.removed_rule == "C4"
        assert record.removed_why and "adult" in record.removed_why
        assert MemberRole.GUARDIAN not in state.roles_of(Org.GUARDIAN)

    def test_the_child_obligations_are_closed_by_the_correction(self) -> None:
        """C4: each open child-protection obligation is closed by the event that corrected the
        facts (its id), and only those."""
        before = _unaccompanied_16()
        others = {o.id for o in before.open_obligations if o.kind not in CHILD_OBLIGATIONS}
        state = _corrected_to_adult(before, event_id="ev-corrected")
        closed = [o for o in state.obligations if o.kind in CHILD_OBLIGATIONS]
        assert closed and all(o.closed_by == "ev-corrected" for o in closed)
        assert others <= {o.id for o in state.open_obligations}

    def test_the_notice_lists_the_child_obligations_it_closed(self) -> None:
        """C4: the social work centre, the guardian and the lead NGO are told under C4, with
        the child-protection obligations that closed (their kinds, sorted), and no other."""
        before = _unaccompanied_16()
        kinds = sorted(o.kind.value for o in before.open_obligations if o.kind in CHILD_OBLIGATIONS)
        assert {"guardian_appointment", "family_contact"} <= set(kinds)
        state = _corrected_to_adult(before)
        notices = _sent(state, "child_track_closed")
        assert {n.recipient for n in notices} == {
            Org.SOCIAL_WORK_CENTRE,
            Org.GUARDIAN,
            state.lead_ngo,
        }
        assert {n.rule for n in notices} == {"C4"}
        assert all(_closed_list(n.action) == kinds for n in notices)

    def test_with_no_child_obligation_open_the_notice_lists_none(self) -> None:
        """C4: a child whose holder could act had no C4–C6 obligation: the notice says the
        track ends and lists nothing; with obligations, the same notice has the list after."""
        bare = _sent(_corrected_to_adult(_accompanied_16()), "child_track_closed")[0].action
        listed = _sent(_corrected_to_adult(_unaccompanied_16()), "child_track_closed")[0].action
        assert _closed_list(bare) == []
        assert listed.startswith(bare) and len(listed) > len(bare)


class TestTurning18:
    """C4 and the end of the child track: at 18 the track closes, its obligations and timers
    end, the guardianship measures end, the guardian and the lead NGO are told."""

    @staticmethod
    def _at_18(state: CaseState) -> CaseState:
        birthday = state.deadlines[DeadlineKind.TURNS_18].due_at
        return fire_due(state, birthday)[0]

    @staticmethod
    def _almost_18(**facts: object) -> CaseState:
        return opened(person(years_before(DAY0, 18, plus_days=3), **facts))

    def test_the_obligations_are_closed_by_turning_18(self) -> None:
        """C4: the open child-protection obligations are closed by “turned 18” (no event
        closed them: the birthday did)."""
        state = self._at_18(self._almost_18(unaccompanied=True))
        closed = [o for o in state.obligations if o.kind in CHILD_OBLIGATIONS]
        assert closed and all(o.closed_by == "turned 18" for o in closed)

    def test_the_guardianship_ends_under_c4_with_a_reason(self) -> None:
        """C4: the guardian's role ends at the birthday, under C4, with why."""
        state = self._almost_18(unaccompanied=True)
        birthday = state.deadlines[DeadlineKind.TURNS_18].due_at
        (record,) = _guardianships(self._at_18(state))
        assert record.removed_at == birthday
        assert record.removed_rule == "C4"
        assert record.removed_why and "18" in record.removed_why

    def test_the_notice_lists_the_child_obligations_it_closed(self) -> None:
        """C4: the guardian and the lead NGO are told under C4, with the obligations closed."""
        before = self._almost_18(unaccompanied=True)
        kinds = sorted(o.kind.value for o in before.open_obligations if o.kind in CHILD_OBLIGATIONS)
        assert kinds
        notices = _sent(self._at_18(before), "turned_18")
        assert {n.recipient for n in notices} == {Org.GUARDIAN, before.lead_ngo}
        assert {n.rule for n in notices} == {"C4"}
        assert all(_closed_list(n.action) == kinds for n in notices)

    def test_with_no_child_obligation_open_the_notice_lists_none(self) -> None:
        """C4: with nothing open, the birthday's notice lists nothing; with obligations, the
        same notice has the list after."""
        bare = _sent(self._at_18(self._almost_18(holder_can_act=True)), "turned_18")[0].action
        listed = _sent(self._at_18(self._almost_18(unaccompanied=True)), "turned_18")[0].action
        assert _closed_list(bare) == []
        assert listed.startswith(bare) and len(listed) > len(bare)

    def test_a_track_closed_before_keeps_its_closing_time(self) -> None:
        """C4: a track already closed (corrected facts showed an adult) keeps the time it
        closed; turning 18 later does not stamp it again."""
        state = _corrected_to_adult(_unaccompanied_16())
        assert state.child_protection is not None
        closed_at = state.child_protection.closed_at
        later = T0 + days(400)
        change = _Change(state.model_copy(deep=True), later)
        children._turns_18(change)
        assert change.state.child_protection is not None
        assert change.state.child_protection.closed_at == closed_at


# -- the social work centre's escalations (C4–C7) ------------------------------------------------

#: The reason and text a test gives the expiry it builds.
REASON, TEXT = "test_overdue", "The obligation is still not met."


@pytest.fixture
def built_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child-protection expiries, built by ``_repeat_child_escalation`` while the test runs
    (the module builds its table once, at import) with the test's reason and text, and the
    police as an extra recipient of the guardian's."""
    table = {
        DeadlineKind.GUARDIAN_APPOINTMENT: (children._GUARDIAN, (Org.POLICE,)),
        DeadlineKind.SWC_INTERVIEW: (children._SWC_INTERVIEW, ()),
        DeadlineKind.FAMILY_CONTACT: (children._FAMILY_CONTACT, ()),
    }
    for kind, (timer, extra) in table.items():
        expiry = children._repeat_child_escalation(timer, REASON, TEXT, extra)
        monkeypatch.setitem(deadlines._EXPIRY, kind, expiry)


def _open_of(state: CaseState, *kinds: ObligationKind) -> list[Obligation]:
    return [o for o in state.open_obligations if o.kind in kinds]


@pytest.mark.usefixtures("built_now")
class TestEscalation:
    """C4–C7: “the child is to be appointed a guardian” (C4), the social work centre's
    interview (C5), contact with the family “as soon as possible” (C6): while the obligation is
    open, at each expiry the social work centre (and any other recipient named) is alerted
    again, the obligation's due date and the timer move on by the obligation's period."""

    def test_an_open_obligation_is_escalated_and_its_timer_rearmed(self) -> None:
        """C4: at the guardian timer's expiry the social work centre and the extra recipient
        are told under C4, with the new due date; the obligation carries that due date and who
        was told; the timer runs again, under C4, to the same date."""
        state = opened(person(years_before(DAY0, 15), holder_can_act=False))
        expiry = state.deadlines[DeadlineKind.GUARDIAN_APPOINTMENT].due_at
        state, effects = fire_due(state, expiry)
        due = _Change(state.model_copy(deep=True), expiry).period_end(
            DeadlineKind.GUARDIAN_APPOINTMENT, expiry, state.config.guardian_sla
        )
        assert due > expiry
        told = [n for n in effects.notifications if n.reason == REASON]
        assert [n.recipient for n in told] == [Org.SOCIAL_WORK_CENTRE, Org.POLICE]
        assert {(n.rule, n.action, n.due_at) for n in told} == {("C4", TEXT, due)}
        (ob,) = _open_of(state, ObligationKind.GUARDIAN_APPOINTMENT)
        assert ob.due_at == due
        assert ob.escalated_at == expiry
        assert ob.escalated_to == [Org.SOCIAL_WORK_CENTRE, Org.POLICE]
        timer = state.deadlines[DeadlineKind.GUARDIAN_APPOINTMENT]
        assert (timer.rule, timer.due_at) == ("C4", due)

    def test_only_the_timers_obligation_is_escalated(self) -> None:
        """C6: the family-contact timer escalates the family-contact obligation, not the
        guardian's or C5's (their own timers do that)."""
        state = _unaccompanied_16()
        expiry = state.deadlines[DeadlineKind.FAMILY_CONTACT].due_at
        others = {o.id: o.due_at for o in state.open_obligations if o.kind in CHILD_OBLIGATIONS}
        change = _Change(state.model_copy(deep=True), expiry)
        children._repeat_child_escalation(children._FAMILY_CONTACT, REASON, TEXT)(change)
        assert [n.rule for n in change.effects.notifications] == ["C6"]
        escalated = [o for o in change.state.open_obligations if o.escalated_at is not None]
        assert [o.kind for o in escalated] == [ObligationKind.FAMILY_CONTACT]
        del others[escalated[0].id]
        after = {o.id: o.due_at for o in _open_of(change.state, *CHILD_OBLIGATIONS)}
        assert others.items() <= after.items()

    def test_a_met_obligation_is_not_escalated(self) -> None:
        """C4: once the guardian is appointed, the timer's expiry (should it still fire) tells
        no one and moves nothing."""
        state = opened(person(years_before(DAY0, 15), holder_can_act=False))
        expiry = state.deadlines[DeadlineKind.GUARDIAN_APPOINTMENT].due_at
        change = _Change(state.model_copy(deep=True), expiry)
        change.close_obligations("ev-met", ObligationKind.GUARDIAN_APPOINTMENT)
        build = children._repeat_child_escalation(children._GUARDIAN, REASON, TEXT)
        build(change)
        assert not change.effects.notifications
        assert change.state.deadlines[DeadlineKind.GUARDIAN_APPOINTMENT].due_at == expiry

    def test_c5_steps_due_together_are_escalated_together(self) -> None:
        """C5: “the interview with the minor foreigner is conducted by a professional worker from
        a social work centre who will also offer the foreigner emergency social assistance and
        obtain the foreigner's statement on the appointment of a guardian”: the three steps are
        due together; at the interview timer's expiry each still open is escalated and due
        again, and the notice names what is still to do, in order."""
        state = _unaccompanied_16()
        steps = _open_of(state, *C5_STEPS)
        assert {o.kind for o in steps} == C5_STEPS
        expiry = state.deadlines[DeadlineKind.SWC_INTERVIEW].due_at
        state, effects = fire_due(state, expiry)
        (notice,) = [n for n in effects.notifications if n.reason == REASON]
        assert (notice.recipient, notice.rule) == (Org.SOCIAL_WORK_CENTRE, "C5")
        assert notice.action.startswith("Still to do for the minor (C5): ")
        assert notice.action.endswith(" ".join(o.action for o in steps))
        steps = _open_of(state, *C5_STEPS)
        assert {o.escalated_at for o in steps} == {expiry}
        assert {o.due_at for o in steps} == {notice.due_at}
        assert state.deadlines[DeadlineKind.SWC_INTERVIEW].due_at == notice.due_at

    def test_before_the_patch_only_the_interview_escalates(self) -> None:
        """C5 in cases from before ``seed_child_rules``: the interview alone is escalated, with
        the timer's own text; emergency assistance and the statement stay as they were."""
        old = opened(EU_ADULT).model_copy(update={"seed_child_rules": False})
        old = accept(
            old,
            event(
                "facts_updated",
                T0 + days(1),
                person=person(years_before(DAY0, 16), unaccompanied=True),
            ),
        )
        assert {o.kind for o in old.open_obligations} >= C5_STEPS
        expiry = old.deadlines[DeadlineKind.SWC_INTERVIEW].due_at
        old, effects = fire_due(old, expiry)
        (notice,) = [n for n in effects.notifications if n.reason == REASON]
        assert notice.action == TEXT
        escalated = {o.kind for o in _open_of(old, *C5_STEPS) if o.escalated_at is not None}
        assert escalated == {ObligationKind.SWC_INTERVIEW}


class TestAgeTimers:
    """C8 and the end of the child track: the 15th and 18th birthdays are durable timers, at
    the start of the birthday in Ljubljana, each under its rule, and only while still to come."""

    def test_each_birthday_still_to_come_is_a_timer_under_its_rule(self) -> None:
        """C8 (“under 15”) for the 15th birthday, C1 (the child's track) for the 18th; each
        at 00:00 of the birthday, Ljubljana time."""
        state = opened(person(years_before(DAY0, 15, plus_days=10)))
        turns_15 = state.deadlines[DeadlineKind.TURNS_15]
        turns_18 = state.deadlines[DeadlineKind.TURNS_18]
        assert turns_15.rule == "C8"
        assert turns_18.rule == "C1"
        fifteenth = DAY0 + timedelta(days=10)
        assert turns_15.due_at == datetime.combine(fifteenth, time(0), tzinfo=LJUBLJANA)
        eighteenth = fifteenth.replace(year=fifteenth.year + 3)
        assert turns_18.due_at == datetime.combine(eighteenth, time(0), tzinfo=LJUBLJANA)

    def test_a_birthday_already_begun_is_no_timer(self) -> None:
        """C8: identified at the first instant of the 15th birthday, the child is 15: no
        15th-birthday timer, only the 18th's."""
        at = datetime.combine(DAY0, time(0), tzinfo=LJUBLJANA)
        state = opened(person(years_before(DAY0, 15)), at=at)
        assert DeadlineKind.TURNS_15 not in state.deadlines
        assert DeadlineKind.TURNS_18 in state.deadlines


def _interview(at: datetime, indicators: bool, **taken: bool) -> CaseEvent:
    return event(
        "swc_interview_held",
        at,
        emergency_assistance_offered=taken.get("assistance", True),
        guardian_statement_taken=taken.get("statement", True),
        trafficking_indicators=indicators,
        qualified_personnel=True,
    )


class TestFacility:
    """C5: “the social service responsible for the foreigner provides the victim with
    accommodation in an appropriate facility”: indicators of trafficking found at the social
    work centre's interview make that an obligation of the centre, due a working day after."""

    def test_indicators_open_the_facility_obligation_on_its_own_timer(self) -> None:
        """C5: the obligation is the social work centre's, under C5, due with the facility
        timer that runs from the interview for the configured period."""
        at = T0 + days(2)
        state = accept(_unaccompanied_16(), _interview(at, indicators=True))
        (ob,) = _open_of(state, ObligationKind.FACILITY_ACCOMMODATION)
        timer = state.deadlines[DeadlineKind.FACILITY_ACCOMMODATION]
        due = _Change(state.model_copy(deep=True), at).period_end(
            DeadlineKind.FACILITY_ACCOMMODATION, at, state.config.facility_accommodation_sla
        )
        assert (ob.owner, ob.rule, ob.due_at) == (Org.SOCIAL_WORK_CENTRE, "C5", due)
        assert (timer.rule, timer.due_at) == ("C5", due)

    def test_no_indicators_or_already_accommodated_opens_nothing(self) -> None:
        """C5: without indicators no facility is owed; once the minor is accommodated, a later
        interview with indicators owes none again."""
        state = accept(_unaccompanied_16(), _interview(T0 + days(2), indicators=False))
        assert not _open_of(state, ObligationKind.FACILITY_ACCOMMODATION)
        assert DeadlineKind.FACILITY_ACCOMMODATION not in state.deadlines
        state = accept(
            state, event("child_accommodated_in_facility", T0 + days(3), child=CHILD_NOTE)
        )
        state = accept(state, _interview(T0 + days(4), indicators=True))
        assert not _open_of(state, ObligationKind.FACILITY_ACCOMMODATION)
        assert DeadlineKind.FACILITY_ACCOMMODATION not in state.deadlines


class TestC7FoundMinor:
    """C7: “the injured party who is a minor will throughout the criminal proceedings have an
    authorised representative to ensure their rights”."""

    @staticmethod
    def _adult_in_proceedings() -> CaseState:
        state = opened(person(years_before(DAY0, 22)))
        return accept(state, event("criminal_proceedings_opened", T0 + days(1)))

    def test_the_representative_is_the_centres_obligation_under_c7(self) -> None:
        """C7: the social work centre owes it, due the representative's period after the
        facts showed a minor, on a C7 timer; the centre and the police are told under C7."""
        at = T0 + days(2)
        state = accept(
            self._adult_in_proceedings(),
            event("facts_updated", at, person=person(years_before(DAY0, 16))),
        )
        (ob,) = _open_of(state, ObligationKind.AUTHORISED_REPRESENTATIVE)
        due = _Change(state.model_copy(deep=True), at).period_end(
            DeadlineKind.AUTHORISED_REPRESENTATIVE, at, state.config.authorised_representative_sla
        )
        assert (ob.owner, ob.rule, ob.due_at) == (Org.SOCIAL_WORK_CENTRE, "C7", due)
        timer = state.deadlines[DeadlineKind.AUTHORISED_REPRESENTATIVE]
        assert (timer.rule, timer.due_at) == ("C7", due)
        notices = _sent(state, "authorised_representative_missing")
        assert [n.recipient for n in notices] == [Org.SOCIAL_WORK_CENTRE, Org.POLICE]
        assert {n.rule for n in notices} == {"C7"}

    def test_a_second_correction_asks_nothing_again(self) -> None:
        """C7: while the obligation is open, or once a representative is appointed, a further
        correction that still shows a minor opens no second obligation and tells no one."""
        minor = person(years_before(DAY0, 16))
        state = accept(
            self._adult_in_proceedings(), event("facts_updated", T0 + days(2), person=minor)
        )
        again = accept(state, event("facts_updated", T0 + days(3), person=minor))
        assert len(_open_of(again, ObligationKind.AUTHORISED_REPRESENTATIVE)) == 1
        assert len(_sent(again, "authorised_representative_missing")) == 2  # the first two
        appointed = accept(
            state,
            event("authorised_representative_appointed", T0 + days(3), child=CHILD_NOTE),
        )
        assert not _open_of(appointed, ObligationKind.AUTHORISED_REPRESENTATIVE)
        later = accept(appointed, event("facts_updated", T0 + days(4), person=minor))
        assert not _open_of(later, ObligationKind.AUTHORISED_REPRESENTATIVE)


class TestC8Reported:
    """C8: “Direct questioning of persons under 15 years of age who are victims of criminal
    offences of trafficking in human beings is not permitted in the main hearing.”"""

    @staticmethod
    def _scheduled(*hearings: tuple[date, bool], born: str | None = None) -> CaseState:
        state = opened(person(born or years_before(DAY0, 16)))
        state = accept(
            state,
            event("criminal_proceedings_opened", T0 + days(1), authorised_representative=True),
        )
        for day, direct in hearings:
            state = accept(
                state,
                event(
                    "main_hearing_scheduled",
                    T0 + days(2),
                    hearing_date=day.isoformat(),
                    direct_questioning=direct,
                ),
            )
        return state

    def test_the_police_and_the_centre_are_told_each_date_in_order(self) -> None:
        """C8: the police and the social work centre are told under C8, with each hearing
        date now barred, once each and in order; a hearing without direct questioning is not
        named."""
        first, second, plain = date(2026, 6, 1), date(2026, 7, 1), date(2026, 6, 15)
        state = self._scheduled((second, True), (first, True), (plain, False))
        young = person(years_before(second, 15, plus_days=5))
        state = accept(state, event("facts_updated", T0 + days(3), person=young))
        notices = _sent(state, "direct_questioning_barred")
        assert [n.recipient for n in notices] == [Org.POLICE, Org.SOCIAL_WORK_CENTRE]
        assert {n.rule for n in notices} == {"C8"}
        for n in notices:
            named = re.findall(r"\d{4}-\d{2}-\d{2}", n.action)
            assert named == [first.isoformat(), second.isoformat()]

    def test_a_hearing_on_the_day_of_the_correction_is_still_to_come(self) -> None:
        """C8 (boundary): a main hearing on the day the facts are corrected is still to come."""
        hearing = local_date(T0 + days(3))
        state = self._scheduled((hearing, True), born=years_before(DAY0, 16))
        young = person(years_before(hearing, 15, plus_days=1))
        state = accept(state, event("facts_updated", T0 + days(3), person=young))
        assert _sent(state, "direct_questioning_barred")

    def test_barred_before_as_well_is_not_reported_again(self) -> None:
        """C8: what the facts before already barred was reported then; a correction that
        leaves the witness under 15 on the date tells no one."""
        hearing = date(2026, 6, 1)
        state = self._scheduled((hearing, True))
        state = accept(
            state,
            event("facts_updated", T0 + days(3), person=person(years_before(hearing, 15, 10))),
        )
        state = accept(
            state,
            event("facts_updated", T0 + days(4), person=person(years_before(hearing, 15, 20))),
        )
        assert len(_sent(state, "direct_questioning_barred")) == 2  # the first correction's


def test_a_birthday_corrected_into_the_past_ends_its_timer() -> None:
    """C8: a 14-year-old's 15th-birthday timer ends when corrected facts show a 16-year-old
    (the birthday has passed); the 18th's moves to the corrected birthday."""
    state = opened(person(years_before(DAY0, 14)))
    assert DeadlineKind.TURNS_15 in state.deadlines
    at = T0 + days(1)
    state = accept(state, event("facts_updated", at, person=person(years_before(DAY0, 16))))
    assert DeadlineKind.TURNS_15 not in state.deadlines
    eighteenth = local_date(state.deadlines[DeadlineKind.TURNS_18].due_at)
    assert eighteenth.isoformat() == years_before(DAY0, -2)


def test_c8_concluded_proceedings_report_nothing() -> None:
    """C8: the main hearing belongs to running proceedings; once they concluded, a
    correction that would bar direct questioning tells no one."""
    hearing = date(2026, 6, 1)
    state = TestC8Reported._scheduled((hearing, True))
    state = accept(state, event("criminal_proceedings_concluded", T0 + days(3)))
    young = person(years_before(hearing, 15, plus_days=10))
    state = accept(state, event("facts_updated", T0 + days(4), person=young))
    assert not _sent(state, "direct_questioning_barred")


class TestTheTrackOpensAndInforms:
    """C3, C4, C5: a child's case tells the social work centre and brings the guardian in; every
    measure is told to the guardian; the child's own events need the track."""

    def test_the_centre_is_told_under_c4_and_the_guardian_joins_under_c3(self) -> None:
        """C4: the social work centre is told a child victim was identified; C3: the guardian
        or legal representative joins the case to be informed of every measure."""
        state = _accompanied_16()
        notices = _sent(state, "child_identified")
        assert [(n.recipient, n.rule) for n in notices] == [(Org.SOCIAL_WORK_CENTRE, "C4")]
        (guardian,) = _guardianships(state)
        assert guardian.rule == "C3" and guardian.is_active

    def test_every_measure_is_told_to_the_guardian_under_c3(self) -> None:
        """C3: “The child and the holder of parental responsibilities or another legal
        representative … is informed of all measures”: the guardian alone is told, under
        C3, naming the measure."""
        state = accept(
            _accompanied_16(),
            event("ngo_interview_held", T0 + days(0.1), language="ps", qualified_personnel=True),
        )
        placed = accept(state, event("crisis_accommodation_placed", T0 + days(1), child=CHILD_NOTE))
        notices = [n for n in placed.pending_notifications if n.reason == "child_measure"]
        notices = notices[len(_sent(state, "child_measure")) :]
        assert [(n.recipient, n.rule) for n in notices] == [(Org.GUARDIAN, "C3")]
        assert "crisis_accommodation_placed" in notices[0].action

    @pytest.mark.parametrize(
        ("type_", "fields", "rule"),
        [
            ("family_contact_recorded", {"outcome": "established"}, "C6"),
            ("child_accommodated_in_facility", {}, "C5"),
            ("guardian_appointed", {}, "C4"),
        ],
    )
    def test_a_childs_event_on_an_adults_case_is_refused_under_its_rule(
        self, type_: str, fields: dict[str, str], rule: str
    ) -> None:
        """C4–C6 apply to a child's case only: the event is refused under its rule, naming
        the event's type."""
        r = reject(opened(EU_ADULT), event(type_, T0 + days(1), child=CHILD_NOTE, **fields))
        assert (r.rule, r.field) == (rule, "type")


class TestBeforeThePatchOpening:
    """C5 in cases from before ``seed_child_rules``: an unaccompanied third-country minor's
    case opened the interview (on its timer), emergency assistance and the guardian statement,
    each the social work centre's under C5, and family contact under C6."""

    def test_the_old_opening_of_an_unaccompanied_foreign_minor(self) -> None:
        """C5, C6 (the rules the old histories ran under)."""
        old = opened(EU_ADULT).model_copy(update={"seed_child_rules": False})
        at = T0 + days(1)
        old = accept(
            old,
            event(
                "facts_updated",
                at,
                person=person(years_before(DAY0, 16), unaccompanied=True),
            ),
        )
        steps = _open_of(old, *C5_STEPS)
        assert {(o.kind, o.rule, o.owner) for o in steps} == {
            (kind, "C5", Org.SOCIAL_WORK_CENTRE) for kind in C5_STEPS
        }
        (interview,) = _open_of(old, ObligationKind.SWC_INTERVIEW)
        assert interview.due_at == old.deadlines[DeadlineKind.SWC_INTERVIEW].due_at
        (family,) = _open_of(old, ObligationKind.FAMILY_CONTACT)
        assert (family.rule, family.owner) == ("C6", Org.SOCIAL_WORK_CENTRE)


class TestDutiesAsTheFactsNowStand:
    """C4–C6 decided again when the facts change (``seed_child_rules``): what the facts no
    longer call for is closed by the event that changed them; what was met stays met."""

    def test_duties_no_longer_called_for_are_closed_by_the_correction(self) -> None:
        """C4, C5, C6: a child found accompanied, with a holder able to act: the guardian, the
        interview's steps and family contact are closed by that correction."""
        facts = person(years_before(DAY0, 13), unaccompanied=True)
        state = opened(facts)
        kinds = {ObligationKind.GUARDIAN_APPOINTMENT, ObligationKind.FAMILY_CONTACT, *C5_STEPS}
        assert {o.kind for o in state.open_obligations} >= kinds
        update = event(
            "facts_updated",
            T0 + days(1),
            person={**facts, "unaccompanied": False, "holder_can_act": True},
            event_id="ev-accompanied",
        )
        state = accept(state, update)
        closed = [o for o in state.obligations if o.kind in kinds]
        assert {o.kind for o in closed} == kinds
        assert {o.closed_by for o in closed} == {"ev-accompanied"}
        assert not set(state.deadlines) & {
            DeadlineKind.GUARDIAN_APPOINTMENT,
            DeadlineKind.FAMILY_CONTACT,
            DeadlineKind.SWC_INTERVIEW,
        }

    def test_a_guardian_appointed_and_family_found_stay_done(self) -> None:
        """C4, C6: once a guardian is appointed and contact with the family established, a
        later correction that leaves the child unaccompanied owes neither again."""
        facts = person(years_before(DAY0, 13), unaccompanied=True)
        state = opened(facts)
        state = accept(state, event("guardian_appointed", T0 + days(1), child=CHILD_NOTE))
        state = accept(
            state,
            event("family_contact_recorded", T0 + days(1), outcome="established", child=CHILD_NOTE),
        )
        state = accept(state, event("facts_updated", T0 + days(2), person=facts))
        assert not _open_of(state, ObligationKind.GUARDIAN_APPOINTMENT)
        assert not _open_of(state, ObligationKind.FAMILY_CONTACT)

    def test_an_attempt_leaves_one_family_obligation(self) -> None:
        """C6: after an attempt the obligation stays open, once: a correction adds no second."""
        facts = person(years_before(DAY0, 13), unaccompanied=True)
        state = opened(facts)
        state = accept(
            state,
            event("family_contact_recorded", T0 + days(1), outcome="attempted", child=CHILD_NOTE),
        )
        state = accept(state, event("facts_updated", T0 + days(2), person=facts))
        assert len(_open_of(state, ObligationKind.FAMILY_CONTACT)) == 1


class TestMetByTheirEvents:
    """C4–C6: each obligation is met by the event that records it, and closed by that event."""

    def test_the_interview_the_facility_the_guardian_and_the_family(self) -> None:
        """C5: the interview closes what it took (``swc_interview_held``), the facility the
        accommodation; C4: the appointment closes the guardian's, and the guardian joins
        under C4; C6: contact found not in the child's interest closes the family's."""
        state = _unaccompanied_16()
        steps = [
            (_interview(T0 + days(0.5), indicators=True), C5_STEPS),
            (
                event("child_accommodated_in_facility", T0 + days(1), child=CHILD_NOTE),
                {ObligationKind.FACILITY_ACCOMMODATION},
            ),
            (
                event("guardian_appointed", T0 + days(1.5), child=CHILD_NOTE),
                {ObligationKind.GUARDIAN_APPOINTMENT},
            ),
            (
                event(
                    "family_contact_recorded",
                    T0 + days(2),
                    outcome="not_in_childs_interest",
                    child=CHILD_NOTE,
                ),
                {ObligationKind.FAMILY_CONTACT},
            ),
        ]
        for met_by, kinds in steps:
            state = accept(state, met_by)
            closed = [o for o in state.obligations if o.kind in kinds]
            assert {o.kind for o in closed} == kinds
            assert {o.closed_by for o in closed} == {met_by.event_id}
        appointed = [g for g in _guardianships(state) if g.rule == "C4"]
        assert [g.is_active for g in appointed] == [True]
        assert appointed[0].why

    def test_before_the_patch_the_interview_ends_its_timer(self) -> None:
        """C5 before ``seed_child_rules``: the interview closes its obligation and ends its
        timer; a step it did not take stays open."""
        old = opened(EU_ADULT).model_copy(update={"seed_child_rules": False})
        old = accept(
            old,
            event(
                "facts_updated",
                T0 + days(1),
                person=person(years_before(DAY0, 16), unaccompanied=True),
            ),
        )
        held = _interview(T0 + days(1.5), indicators=False, assistance=False)
        old = accept(old, held)
        assert DeadlineKind.SWC_INTERVIEW not in old.deadlines
        assert {o.kind for o in _open_of(old, *C5_STEPS)} == {ObligationKind.EMERGENCY_ASSISTANCE}
        (interview,) = [o for o in old.obligations if o.kind is ObligationKind.SWC_INTERVIEW]
        assert interview.closed_by == held.event_id
