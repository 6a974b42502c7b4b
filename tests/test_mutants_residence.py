"""Tests that kill mutants of the residence rules, pathway/domain/rules/residence.py (issue 13;
docs/mutation.md): the permit to stay (K7), the temporary residence permit (S4) and safe
accommodation's dependence on both (S3), under the seed's rules and as cases recorded before the
patch ``seed-residence-rules`` (or ``seed-assistance-rules``) replay them. Pure: ``decide`` and
``fire_due`` on a case's state, no Temporal server. Each test names the rule it keeps and
asserts what the rule requires.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pathway.domain.calendar import LJUBLJANA, end_of_day
from pathway.domain.events import CaseEvent
from pathway.domain.rules import fire_due
from pathway.domain.state import CaseState, DeadlineKind, Notification, Obligation, ObligationKind
from tests.factories import EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened, reject

#: S3: the days to settle a lapsed permit (``CaseConfig.s3_decision_period``: 7 by default).
S3_DECISION_DAYS = 7

#: The permit to stay of :func:`_granted` runs from 3 March through 2 June 2026 (K7: 3 months).
PERMIT_EXPIRED = datetime.fromisoformat("2026-06-03T00:00:00+02:00")
#: The residence permit of :func:`_in_safe_accommodation` runs through 30 April 2026 (S4).
RESIDENCE_EXPIRED = datetime.fromisoformat("2026-05-01T00:00:00+02:00")


def _old_residence_rules(state: CaseState) -> CaseState:
    """The state as a case recorded before the patch ``seed-residence-rules`` replays it."""
    return state.model_copy(update={"seed_residence_rules": False})


def _residence_permit(at: datetime, until: str, valid_from: str | None = None) -> CaseEvent:
    return event(
        "temporary_residence_permit_granted",
        at,
        basis="witness",
        valid_from=valid_from or at.astimezone(LJUBLJANA).date().isoformat(),
        valid_until=until,
    )


def _granted(person: dict[str, Any] = TCN_ILLEGAL, *, rules: bool = True) -> CaseState:
    """A third-country national residing illegally, in crisis accommodation from 3 March 2026,
    with a permit to stay from that day (K7); ``rules``: granted under the seed's rules."""
    state = accept(
        opened(person),
        event("ngo_interview_held", T0 + timedelta(hours=2), language=person["languages"][0]),
    )
    state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
    if not rules:
        state = _old_residence_rules(state)
    return accept(
        state,
        event("permit_to_stay_granted", T0 + days(1), valid_from="2026-03-03", basis="ex_officio"),
    )


def _in_safe_accommodation(residence_until: str = "2026-04-30") -> CaseState:
    """:func:`_granted`, with a residence permit from 4 March through ``residence_until``,
    proceedings opened, and placed in safe accommodation on 1 April (S3)."""
    state = accept(_granted(), _residence_permit(T0 + days(2), residence_until))
    state = accept(state, event("criminal_proceedings_opened", T0 + days(3)))
    return accept(state, event("safe_accommodation_placed", T0 + days(30)))


def _fire(state: CaseState, now: datetime) -> tuple[CaseState, list[Notification]]:
    new, effects = fire_due(state, now)
    return new, list(effects.notifications)


def _sent(notes: list[Notification], reason: str) -> list[Notification]:
    return [n for n in notes if n.reason == reason]


def _obligations(state: CaseState, kind: ObligationKind) -> list[Obligation]:
    return [o for o in state.obligations if o.kind is kind]


class TestS3BothPermitsFromTheirFirstDay:
    """S3: long-term safe accommodation of a third-country national “is conditional on their
    having a permit to stay and a temporary residence permit”: a permit is valid on its first
    day, so a placement that day is not refused, and a permit granted that day restores both."""

    def test_placed_on_the_residence_permits_first_day(self) -> None:
        """S3, S4: a residence permit valid from 1 April allows safe accommodation on 1 April."""
        placed_at = T0 + days(30)  # 1 April 2026, 11:00 in Ljubljana
        state = accept(_granted(), _residence_permit(placed_at, "2027-03-31"))
        state = accept(state, event("criminal_proceedings_opened", placed_at))
        placed = accept(state, event("safe_accommodation_placed", placed_at + timedelta(hours=1)))
        assert placed.safe_accommodation is not None and placed.safe_accommodation.active

    def test_placed_on_the_permit_to_stays_first_day(self) -> None:
        """S3, K7: a permit to stay valid from 3 March allows safe accommodation on 3 March."""
        state = accept(_granted(), _residence_permit(T0 + days(1), "2027-03-02"))
        state = accept(state, event("criminal_proceedings_opened", T0 + days(1)))
        placed = accept(
            state, event("safe_accommodation_placed", T0 + days(1) + timedelta(hours=2))
        )
        assert placed.safe_accommodation is not None and placed.safe_accommodation.active

    def test_placed_on_the_permit_to_stays_last_day(self) -> None:
        """S3, K7: the permit to stay runs through 2 June 2026, so placement on 2 June is not
        refused."""
        state = accept(_granted(), _residence_permit(T0 + days(1), "2027-03-02"))
        state = accept(state, event("criminal_proceedings_opened", T0 + days(1)))
        at = PERMIT_EXPIRED - timedelta(hours=2)
        placed = accept(state, event("safe_accommodation_placed", at), at)
        assert placed.safe_accommodation is not None and placed.safe_accommodation.active

    def test_a_new_residence_permit_valid_from_today_settles_the_lapse(self) -> None:
        """S3: the residence permit lapsed in safe accommodation (1 May); a new one granted and
        valid from 2 May, while the permit to stay runs, settles the S3 obligation that day,
        by the grant, and ends its deadline."""
        state, _ = _fire(_in_safe_accommodation(), RESIDENCE_EXPIRED)
        assert _obligations(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)[0].is_open
        at = datetime.fromisoformat("2026-05-02T10:00:00+02:00")
        grant = _residence_permit(at, "2027-05-01")
        new = accept(state, grant, at)
        (ob,) = _obligations(new, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        assert ob.closed_by == grant.event_id
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS not in new.deadlines


class TestS3PermitLapsedInSafeAccommodation:
    """S3: “conditional on their having a permit to stay and a temporary residence permit” …
    “included in the safe accommodation programme for the period of validity of the permit to
    stay”. A lapse opens a dated decision; its reminder goes to those who decide it, and the
    notice names the permit and the date."""

    def test_the_notice_names_the_permit_that_lapsed_and_carries_the_date(self) -> None:
        """S3, K7, S4: the permit to stay's lapse says "permit to stay", the residence
        permit's says "temporary residence permit"; each notice carries the date by which the
        placement is to be settled (the obligation's)."""
        for now, what in (
            (RESIDENCE_EXPIRED, "temporary residence permit"),
            (PERMIT_EXPIRED, "permit to stay"),
        ):
            state = _in_safe_accommodation(
                "2026-04-30" if what != "permit to stay" else "2027-03-03"
            )
            state, notes = _fire(state, now)
            (ob,) = _obligations(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
            lapsed = _sent(notes, "safe_accommodation_permit_lapsed")
            assert len(lapsed) == 4
            for n in lapsed:
                assert n.due_at == ob.due_at
                assert f"The {what} of a third-country national" in n.action
            assert ob.action.startswith(f"The {what} of a third-country national")

    def test_the_reminder_goes_to_the_three_who_decide_not_the_ministry(self) -> None:
        """S3: the provider agrees with the police and the migration authority: the reminder two
        days before the date goes to those three; the interior ministry, told of the lapse, is
        told again only at the date (escalation), not reminded."""
        state, _ = _fire(_in_safe_accommodation(), RESIDENCE_EXPIRED)
        (ob,) = _obligations(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        assert ob.due_at == end_of_day(date(2026, 5, 7))
        _, notes = _fire(state, ob.due_at - days(2))
        reminded = {n.recipient.value for n in _sent(notes, "safe_accommodation_permits_reminder")}
        assert reminded == {"kljuc", "police", "migration_authority"}

    def test_ending_the_placement_settles_the_obligation_and_its_deadline(self) -> None:
        """S3: the placement ended, so the question of its permits is settled by that event: the
        obligation is closed by it and the dated deadline (with its reminder) is gone."""
        state, _ = _fire(_in_safe_accommodation(), RESIDENCE_EXPIRED)
        ended = event("safe_accommodation_ended", RESIDENCE_EXPIRED + days(1))
        new = accept(state, ended)
        (ob,) = _obligations(new, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        assert ob.closed_by == ended.event_id
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS not in new.deadlines
        _, notes = _fire(new, RESIDENCE_EXPIRED + days(30))
        assert not [n for n in notes if n.reason.startswith("safe_accommodation_permits")]

    def test_a_placement_ended_without_settling_is_settled_at_the_date(self) -> None:
        """S3, replay: a case recorded before ``seed-assistance-rules`` did not settle the
        permits when consent to safe accommodation was withdrawn; at the date the placement has
        ended, so the obligation is closed (by the placement's end, recorded as its closer) and
        nobody is told it is overdue."""
        state, _ = _fire(_in_safe_accommodation(), RESIDENCE_EXPIRED)
        state = state.model_copy(update={"seed_assistance_rules": False})
        state = accept(
            state,
            event("consent_withdrawn", RESIDENCE_EXPIRED + days(1), placement="safe_accommodation"),
        )
        assert _obligations(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)[0].is_open
        new, notes = _fire(state, RESIDENCE_EXPIRED + days(8))
        (ob,) = _obligations(new, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        assert not ob.is_open
        assert ob.closed_by is not None and ob.closed_by != "expired"
        assert not _sent(notes, "safe_accommodation_permits_overdue")


class TestS3LapsedPermitDatedByItsValidity:
    """S3 (issue 13, found by mutation testing): the notice of a permit lapsed in safe
    accommodation names the permit's last day of validity, and the settle-by date counts
    ``S3_DECISION_DAYS`` from it, however late the case woke (a worker down across midnight
    fires the expiry days after it); a case recorded before the patch
    ``s3-lapsed-permit-day-from-validity`` replays the day before the wake-up."""

    @staticmethod
    def _lapse(state: CaseState, now: datetime) -> tuple[Obligation, list[Notification]]:
        state, notes = _fire(state, now)
        (ob,) = _obligations(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        return ob, _sent(notes, "safe_accommodation_permit_lapsed")

    def test_the_last_day_of_validity_however_late_the_case_woke(self) -> None:
        """S3: the residence permit valid through 30 April, the permit to stay through 2 June:
        woken on time, one second late, or three days and five hours late, the notice says
        each expired on its own last day and the settle-by date is the same."""
        for now, last_day in (
            (RESIDENCE_EXPIRED, date(2026, 4, 30)),
            (PERMIT_EXPIRED, date(2026, 6, 2)),
        ):
            residence_until = "2026-04-30" if last_day.month == 4 else "2027-03-03"
            due = end_of_day(last_day + timedelta(days=S3_DECISION_DAYS))
            for late in (timedelta(0), timedelta(seconds=1), timedelta(days=3, hours=5)):
                ob, lapsed = self._lapse(_in_safe_accommodation(residence_until), now + late)
                assert ob.due_at == due, (last_day, late)
                assert lapsed
                for n in lapsed:
                    assert f"expired on {last_day}:" in n.action, (last_day, late)
                    assert n.due_at == due

    def test_a_case_recorded_before_the_patch_replays_the_day_before_it_woke(self) -> None:
        """S3 (replay): before the patch the day was the Ljubljana day of one second before
        the wake-up; a case woken two days and an hour late named 3 May and counted from it."""
        state = _in_safe_accommodation("2026-04-30").model_copy(
            update={"lapsed_permit_day_from_validity": False}
        )
        ob, lapsed = self._lapse(state, RESIDENCE_EXPIRED + timedelta(days=2, hours=1))
        assert ob.due_at == end_of_day(date(2026, 5, 3) + timedelta(days=S3_DECISION_DAYS))
        assert all("expired on 2026-05-03:" in n.action for n in lapsed)

    def test_before_the_patch_a_wake_at_midnight_names_the_day_before(self) -> None:
        """S3 (replay): "one second before the wake-up", exactly: woken at 00:00 on 3 May the
        old rule named 2 May (the last whole day before), woken at 00:00:01 it named 3 May."""
        state = _in_safe_accommodation("2026-04-30").model_copy(
            update={"lapsed_permit_day_from_validity": False}
        )
        midnight = datetime.fromisoformat("2026-05-03T00:00:00+02:00")
        for now, named in (
            (midnight, "2026-05-02"),
            (midnight + timedelta(seconds=1), "2026-05-03"),
        ):
            ob, lapsed = self._lapse(state, now)
            assert ob.due_at == end_of_day(
                date.fromisoformat(named) + timedelta(days=S3_DECISION_DAYS)
            )
            assert lapsed
            assert all(f"expired on {named}:" in n.action for n in lapsed)


class TestK7PermitToStayExpiry:
    """K7: “If reasonable grounds exist, the victims may be permitted to remain for another
    period of three months at the most.” Under the seed's rules the extension is decided while
    the permit runs; at expiry the decision's obligation closes and the notice says whether the
    one extension was used."""

    def test_expiry_closes_the_extension_decision_as_expired(self) -> None:
        """K7: the extension was to be decided before the permit expired: at expiry the
        decision's obligation is closed by the expiry (a recorded closer), and police and the
        lead NGO are told under K7."""
        state, notes = _fire(_granted(), PERMIT_EXPIRED)
        (ob,) = _obligations(state, ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION)
        assert not ob.is_open and ob.closed_by is not None
        told = {(n.recipient.value, n.rule) for n in _sent(notes, "permit_to_stay_expired")}
        assert told == {("police", "K7"), (state.lead_ngo.value, "K7")}

    def test_the_notice_says_whether_the_extension_was_used(self) -> None:
        """K7: without an extension the notice says none was decided in time; after the one
        extension it says no further one is possible, and does not claim there was none."""
        _, notes = _fire(_granted(), PERMIT_EXPIRED)
        (plain,) = {n.action for n in _sent(notes, "permit_to_stay_expired")}
        assert "without an extension" in plain
        extended = accept(_granted(), event("permit_to_stay_extended", T0 + days(80), months=3))
        _, notes = _fire(extended, datetime.fromisoformat("2026-09-03T00:00:00+02:00"))
        (after,) = {n.action for n in _sent(notes, "permit_to_stay_expired")}
        assert "without an extension" not in after
        assert "(further) extension" in after


class TestReplayedExpiries:
    """Cases recorded before the patch ``seed-residence-rules`` replay the expiries they had:
    K7's extension decided after expiry, S4's expiry cited S3, with S3's dependence spelled out
    only in safe accommodation."""

    def test_k7_an_unextended_permit_opens_the_police_decision_at_expiry(self) -> None:
        """K7 (replay): at the expiry of an unextended permit the police must decide the one
        extension, of at most 3 months; police and the lead NGO are told under K7."""
        state, notes = _fire(_granted(rules=False), PERMIT_EXPIRED)
        (ob,) = _obligations(state, ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION)
        assert (ob.owner.value, ob.rule, ob.is_open) == ("police", "K7", True)
        assert "extension" in ob.action and "3 months" in ob.action
        told = {(n.recipient.value, n.rule) for n in _sent(notes, "permit_to_stay_expired")}
        assert told == {("police", "K7"), (state.lead_ngo.value, "K7")}
        assert {n.action for n in _sent(notes, "permit_to_stay_expired")} == {ob.action}

    def test_k7_an_extended_permit_opens_nothing_at_expiry(self) -> None:
        """K7 (replay): after the one extension no further decision is opened; police and the
        lead NGO are told that none is possible."""
        state = _granted(rules=False)
        state = accept(state, event("permit_to_stay_extended", T0 + days(80), months=3))
        state, notes = _fire(state, datetime.fromisoformat("2026-09-03T00:00:00+02:00"))
        assert not [
            o
            for o in state.open_obligations
            if o.kind is ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION
        ]
        expired = _sent(notes, "permit_to_stay_expired")
        lead = state.lead_ngo.value
        assert {(n.recipient.value, n.rule) for n in expired} == {("police", "K7"), (lead, "K7")}
        assert all("no further extension" in n.action for n in expired)

    def test_s4_expiry_cites_s3_and_names_safe_accommodation_only_when_placed(self) -> None:
        """S4, S3 (replay): the expiry opens the migration authority's renewal and tells it and
        the lead NGO, cited S3; in safe accommodation the notice adds that the placement depends
        on the permit, otherwise it does not."""
        state, notes = _fire(_old_residence_rules(_in_safe_accommodation()), RESIDENCE_EXPIRED)
        (renewal,) = _obligations(state, ObligationKind.RESIDENCE_PERMIT_RENEWAL)
        assert (renewal.owner.value, renewal.rule) == ("migration_authority", "S4")
        placed = _sent(notes, "residence_permit_expired")
        assert {(n.recipient.value, n.rule) for n in placed} == {
            ("migration_authority", "S3"),
            (state.lead_ngo.value, "S3"),
        }
        (text,) = {n.action for n in placed}
        assert text.startswith(renewal.action) and "Safe accommodation" in text
        crisis = accept(_granted(), _residence_permit(T0 + days(2), "2026-04-30"))
        _, notes = _fire(_old_residence_rules(crisis), RESIDENCE_EXPIRED)
        (text,) = {n.action for n in _sent(notes, "residence_permit_expired")}
        assert "renewal" in text and "Safe accommodation" not in text


class TestK7GrantAndExtension:
    """K7: “for a period of 3 (three) months” … “another period of three months at the most”:
    granted once, with its basis, the one extension decided by the police within the permit's
    validity, the police and the lead NGO reminded before it ends."""

    def test_the_grant_records_its_basis_and_arms_the_deadline_and_decision(self) -> None:
        """K7: the permit keeps its basis (ex officio); its end is a deadline reminded 14 days
        before to the police and the lead NGO; the extension decision is the police's, under
        K7, due at the end of the last day."""
        state = _granted()
        assert state.permit_to_stay is not None
        assert state.permit_to_stay.basis.value == "ex_officio"
        deadline = state.deadlines[DeadlineKind.PERMIT_TO_STAY]
        assert deadline.rule == "K7"
        (reminder,) = deadline.reminders
        assert [o.value for o in reminder.recipients] == ["police"] and reminder.lead_ngo
        assert reminder.at.astimezone(LJUBLJANA) == datetime(2026, 5, 20, tzinfo=LJUBLJANA)
        (ob,) = _obligations(state, ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION)
        assert (ob.owner.value, ob.rule) == ("police", "K7")
        assert ob.due_at == end_of_day(date(2026, 6, 2))

    def test_granted_once_and_extended_once(self) -> None:
        """K7: a second grant is refused (extend it instead); an extension without a permit is
        refused; a second extension is refused; all at ``type`` under K7."""
        again = event(
            "permit_to_stay_granted", T0 + days(2), valid_from="2026-03-03", basis="ex_officio"
        )
        assert (reject(_granted(), again).rule, reject(_granted(), again).field) == ("K7", "type")
        before = accept(
            opened(TCN_ILLEGAL),
            event("ngo_interview_held", T0 + timedelta(hours=2), language="ar"),
        )
        extend = event("permit_to_stay_extended", T0 + days(2), months=3)
        r = reject(before, extend)
        assert (r.rule, r.field) == ("K7", "type")
        once = accept(_granted(), event("permit_to_stay_extended", T0 + days(80), months=3))
        r = reject(once, event("permit_to_stay_extended", T0 + days(81), months=1))
        assert (r.rule, r.field) == ("K7", "type")

    def test_the_extension_from_the_permits_first_day_closes_the_decision(self) -> None:
        """K7: the extension may be decided on the permit's first day (3 March); it closes the
        police's decision, by the extension event, and moves the deadline 3 months on."""
        at = datetime.fromisoformat("2026-03-03T15:00:00+01:00")
        extend = event("permit_to_stay_extended", at, months=3)
        state = accept(_granted(), extend, at)
        assert state.permit_to_stay is not None
        assert state.permit_to_stay.extended_by_months == 3
        assert state.permit_to_stay.valid_until == date(2026, 9, 2)
        (ob,) = _obligations(state, ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION)
        assert ob.closed_by == extend.event_id
        assert state.deadlines[DeadlineKind.PERMIT_TO_STAY].due_at == end_of_day(date(2026, 9, 2))

    def test_an_extension_longer_than_three_months_is_refused(self) -> None:
        """K7: “another period of three months at the most”: 4 months are refused, at
        ``months``."""
        r = reject(_granted(), event("permit_to_stay_extended", T0 + days(80), months=4))
        assert (r.rule, r.field) == ("K7", "months")

    def test_replayed_cases_refuse_eu_citizens_and_accept_a_legal_resident(self) -> None:
        """K7 (replay): before ``seed-residence-rules`` only EU citizens were refused (at
        ``type``); a third-country national recorded as residing legally was granted one."""
        eu = _old_residence_rules(opened(EU_ADULT))
        r = reject(
            eu,
            event(
                "permit_to_stay_granted", T0 + days(1), valid_from="2026-03-02", basis="ex_officio"
            ),
        )
        assert (r.rule, r.field) == ("K7", "type")
        legal = _old_residence_rules(
            opened({**TCN_ILLEGAL, "residence_status": "third_country_legal"})
        )
        granted = accept(
            legal,
            event(
                "permit_to_stay_granted", T0 + days(1), valid_from="2026-03-02", basis="ex_officio"
            ),
        )
        assert granted.permit_to_stay is not None


class TestS4GrantAndRenewal:
    """S4: “A temporary residence permit may be issued to victims of trafficking in human
    beings …”: valid from a day to a later one, renewed to a later end; its end reminded to the
    migration authority and the lead NGO; a renewal or new permit settles the renewal due."""

    def test_the_grant_keeps_its_facts_and_arms_the_deadline(self) -> None:
        """S4: the permit keeps its basis and number; its end is a deadline cited S4, reminded
        30 days before to the migration authority and the lead NGO."""
        state = accept(
            _granted(),
            event(
                "temporary_residence_permit_granted",
                T0 + days(2),
                basis="witness",
                valid_from="2026-03-04",
                valid_until="2026-09-30",
                permit_number="TRP-1",
            ),
        )
        permit = state.residence_permit
        assert permit is not None
        assert (permit.basis.value, permit.permit_number) == ("witness", "TRP-1")
        assert (permit.valid_from, permit.valid_until) == (date(2026, 3, 4), date(2026, 9, 30))
        deadline = state.deadlines[DeadlineKind.TEMPORARY_RESIDENCE_PERMIT]
        assert deadline.rule == "S4" and deadline.due_at == end_of_day(date(2026, 9, 30))
        (reminder,) = deadline.reminders
        assert [o.value for o in reminder.recipients] == ["migration_authority"]
        assert reminder.lead_ngo
        assert reminder.at.astimezone(LJUBLJANA) == datetime(2026, 9, 1, tzinfo=LJUBLJANA)

    def test_a_renewal_must_end_later_and_needs_a_permit(self) -> None:
        """S4: a renewal to the same last day is refused at ``valid_until``; without a permit
        there is nothing to renew (``type``)."""
        state = accept(_granted(), _residence_permit(T0 + days(2), "2026-04-30"))
        same = event("temporary_residence_permit_renewed", T0 + days(3), valid_until="2026-04-30")
        r = reject(state, same)
        assert (r.rule, r.field) == ("S4", "valid_until")
        r = reject(_granted(), same)
        assert (r.rule, r.field) == ("S4", "type")

    def test_a_renewal_or_new_permit_settles_the_renewal_due(self) -> None:
        """S4: after expiry the migration authority owes the renewal; a renewal closes it by
        that event and moves the deadline; a new permit after expiry does the same."""
        state = accept(_granted(), _residence_permit(T0 + days(2), "2026-04-30"))
        state, _ = _fire(state, RESIDENCE_EXPIRED)
        at = datetime.fromisoformat("2026-05-02T10:00:00+02:00")
        for ev_ in (
            event("temporary_residence_permit_renewed", at, valid_until="2027-04-30"),
            _residence_permit(at, "2027-04-30"),
        ):
            new = accept(state, ev_, at)
            (ob,) = _obligations(new, ObligationKind.RESIDENCE_PERMIT_RENEWAL)
            assert (ob.owner.value, ob.rule, ob.closed_by) == (
                "migration_authority",
                "S4",
                ev_.event_id,
            )
            due = new.deadlines[DeadlineKind.TEMPORARY_RESIDENCE_PERMIT].due_at
            assert due == end_of_day(date(2027, 4, 30))


class TestS3Escalation:
    """S3: past the date, safe accommodation continuing without the permits is escalated to
    the provider and the interior ministry, who are kept to be told if it becomes moot."""

    def test_the_escalation_tells_and_keeps_the_provider_and_ministry(self) -> None:
        """S3: at the date the open obligation is escalated then, to Ključ and the interior
        ministry, both told it is overdue under S3."""
        state, _ = _fire(_in_safe_accommodation(), RESIDENCE_EXPIRED)
        (ob,) = _obligations(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        assert ob.due_at is not None
        state, notes = _fire(state, ob.due_at)
        (ob,) = _obligations(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        assert ob.is_open and ob.escalated_at == ob.due_at
        assert [o.value for o in ob.escalated_to] == ["kljuc", "interior_ministry"]
        overdue = _sent(notes, "safe_accommodation_permits_overdue")
        assert {(n.recipient.value, n.rule) for n in overdue} == {
            ("kljuc", "S3"),
            ("interior_ministry", "S3"),
        }

    def test_cases_before_moot_every_track_keep_no_one_on_the_obligation(self) -> None:
        """S3 (replay): before ``moot_every_track`` S3 kept no escalation on the obligation;
        the provider and the ministry are still told it is overdue."""
        state, _ = _fire(_in_safe_accommodation(), RESIDENCE_EXPIRED)
        state = state.model_copy(update={"moot_every_track": False})
        (ob,) = _obligations(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        assert ob.due_at is not None
        state, notes = _fire(state, ob.due_at)
        (ob,) = _obligations(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        assert ob.escalated_at is None and ob.escalated_to == []
        assert {n.recipient.value for n in _sent(notes, "safe_accommodation_permits_overdue")} == {
            "kljuc",
            "interior_ministry",
        }


class TestS3BothPermitsNeeded:
    """S3: “For victims who are citizens of third countries such a form of long-term safe
    accommodation is conditional on their having a permit to stay and a temporary residence
    permit.” Read with K7, for victims residing illegally."""

    def test_a_renewal_without_a_valid_permit_to_stay_settles_nothing(self) -> None:
        """S3: the residence permit renewed after the permit to stay expired: only one permit
        is held, so the S3 obligation stays open."""
        state, _ = _fire(_in_safe_accommodation("2026-06-02"), PERMIT_EXPIRED)
        assert _obligations(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS)[0].is_open
        at = PERMIT_EXPIRED + days(1)
        renewed = accept(
            state, event("temporary_residence_permit_renewed", at, valid_until="2027-06-02"), at
        )
        assert _obligations(renewed, ObligationKind.SAFE_ACCOMMODATION_PERMITS)[0].is_open
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS in renewed.deadlines

    def test_placement_needs_each_permit(self) -> None:
        """S3: without a permit to stay, or without a residence permit, safe accommodation of a
        third-country national residing illegally is refused at ``type`` under S3; a
        third-country national residing legally needs neither (K7 gives them none), unless the
        case replays the rules before ``seed-residence-rules``."""
        placed = event("safe_accommodation_placed", T0 + days(30))
        opened_ = event("criminal_proceedings_opened", T0 + days(3))

        def crisis(person: dict[str, Any]) -> CaseState:
            state = accept(
                opened(person),
                event("ngo_interview_held", T0 + timedelta(hours=2), language="ar"),
            )
            state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
            return accept(state, opened_)

        no_permit_to_stay = accept(
            crisis(TCN_ILLEGAL), _residence_permit(T0 + days(2), "2027-03-03")
        )
        no_residence_permit = accept(_granted(), opened_)
        for state in (no_permit_to_stay, no_residence_permit):
            r = reject(state, placed)
            assert (r.rule, r.field) == ("S3", "type")
        legal = crisis({**TCN_ILLEGAL, "residence_status": "third_country_legal"})
        assert accept(legal, placed).safe_accommodation is not None
        r = reject(_old_residence_rules(legal), placed)
        assert (r.rule, r.field) == ("S3", "type")


class TestReplayedDecisions:
    """Cases recorded before the patch ``seed-residence-rules`` replay the decisions they
    accepted then: the extension decided after the permit expired (K7), a new residence permit
    granted while one was valid (S4)."""

    def test_k7_an_extension_after_expiry_is_accepted_in_a_replayed_case(self) -> None:
        """K7 (replay): the police decided the extension at expiry, so an extension recorded
        after the last day is accepted; under the seed's rules it is refused at
        ``occurred_at``."""
        at = PERMIT_EXPIRED + days(2)
        extend = event("permit_to_stay_extended", at, months=3)
        state, _ = _fire(_granted(rules=False), PERMIT_EXPIRED)
        extended = accept(state, extend, at)
        assert extended.permit_to_stay is not None
        assert extended.permit_to_stay.valid_until == date(2026, 9, 2)
        state, _ = _fire(_granted(), PERMIT_EXPIRED)
        r = reject(state, extend, at)
        assert (r.rule, r.field) == ("K7", "occurred_at")

    def test_s4_a_second_grant_while_valid_is_accepted_in_a_replayed_case(self) -> None:
        """S4 (replay): a new permit granted while one was valid replaced it; under the seed's
        rules it is refused (renew instead)."""
        at = T0 + days(10)
        state = accept(_granted(rules=False), _residence_permit(T0 + days(2), "2026-04-30"))
        again = accept(state, _residence_permit(at, "2027-03-31"), at)
        assert again.residence_permit is not None
        assert again.residence_permit.valid_until == date(2027, 3, 31)
        state = accept(_granted(), _residence_permit(T0 + days(2), "2026-04-30"))
        r = reject(state, _residence_permit(at, "2027-03-31"), at)
        assert (r.rule, r.field) == ("S4", "type")
