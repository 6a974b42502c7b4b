"""The residence track and reintegration exactly as the seed states them (issue 13): I1, K7,
S3, S4, S5. Each test's docstring quotes the seed's words it rests on; docs/rules.md gives the
readings chosen where the seed is ambiguous."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from pathway.domain.calendar import LJUBLJANA, end_of_day
from pathway.domain.events import CaseEvent
from pathway.domain.rules import Accepted, decide, fire_due, reintegration_eligibility
from pathway.domain.state import CaseState, DeadlineKind, ObligationKind, Phase
from tests.factories import (
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

TCN_LEGAL: dict[str, Any] = {**TCN_ILLEGAL, "residence_status": "third_country_legal"}
APPLICANT: dict[str, Any] = {
    **TCN_ILLEGAL,
    "residence_status": "international_protection_applicant",
}


def interviewed(person: dict[str, Any], at: datetime = T0) -> CaseState:
    state = opened(person, at)
    return accept(
        state, event("ngo_interview_held", at + timedelta(hours=2), language=person["languages"][0])
    )


def old_rules(state: CaseState) -> CaseState:
    """The state as a case recorded before the patch ``seed-residence-rules`` replays it."""
    return state.model_copy(update={"seed_residence_rules": False})


def open_kinds(state: CaseState) -> set[ObligationKind]:
    return {o.kind for o in state.open_obligations}


def fired(state: CaseState, now: datetime) -> tuple[CaseState, list[tuple[str, str, str]]]:
    """Fire what is due by ``now``: the state and (recipient, reason, rule) of what was sent."""
    new, effects = fire_due(state, now)
    return new, [(n.recipient.value, n.reason, n.rule) for n in effects.notifications]


# ---------------------------------------------------------------------------------------------
# I1: who the reintegration programme is for
# ---------------------------------------------------------------------------------------------


def in_proceedings(person: dict[str, Any], abroad: bool = False) -> CaseState:
    state = interviewed({**person, "exploited_abroad": abroad})
    return accept(state, event("criminal_proceedings_opened", T0 + days(2)))


ENROLLED_AT = T0 + days(10)


def enrol(at: datetime = ENROLLED_AT) -> CaseEvent:
    return event("reintegration_enrolled", at, personal_plan=True)


class TestI1Reintegration:
    def test_slovenian_citizen_treated_abroad_is_in_the_programme(self) -> None:
        """I1: “intended for citizens of the Republic of Slovenia who have been treated as
        victims of trafficking in human beings abroad”, with or without Slovenian
        proceedings."""
        state = interviewed({**SI_CITIZEN, "exploited_abroad": True})
        assert accept(state, enrol()).phase is Phase.REINTEGRATION

    def test_slovenian_citizen_treated_in_slovenia_is_not(self) -> None:
        """I1: the seed names Slovenian citizens treated as victims *abroad*; one treated as a
        victim in Slovenian proceedings is not in the programme (the “EU citizens … treated
        … in the Republic of Slovenia” are citizens of the other member states). Rejected
        naming I1, and nothing changes."""
        state = in_proceedings(SI_CITIZEN)
        assert reintegration_eligibility(state, T0 + days(10))[0] is False
        rejection = reject(state, enrol())
        assert (rejection.rule, rejection.field) == ("I1", "type")
        assert "abroad" in rejection.reason
        assert state.reintegration is None and state.phase is not Phase.REINTEGRATION

    def test_dual_slovenian_and_eu_citizen_treated_in_slovenia_is_not(self) -> None:
        """I1: a Slovenian citizen who is also a citizen of another member state is still a
        citizen of the Republic of Slovenia, so only treatment abroad admits them."""
        person = {**SI_CITIZEN, "citizenships": ["SI", "HR"]}
        assert reject(in_proceedings(person), enrol()).rule == "I1"

    def test_eu_citizen_in_slovenian_proceedings_is_in_the_programme(self) -> None:
        """I1: “EU citizens … who have been treated as victims … in the Republic of Slovenia
        in pre-trial or criminal proceedings and legally reside there”."""
        assert accept(in_proceedings(EU_ADULT), enrol()).phase is Phase.REINTEGRATION

    def test_eu_citizen_without_proceedings_is_not(self) -> None:
        """I1: “treated as victims … in pre-trial or criminal proceedings”: none, no programme."""
        assert reject(interviewed(EU_ADULT), enrol()).rule == "I1"

    def test_pre_trial_police_information_gathering_counts_as_proceedings(self) -> None:
        """I1: “in pre-trial or criminal proceedings”: the police information gathering is
        the pre-trial procedure."""
        state = accept(
            interviewed(EU_ADULT), event("police_information_gathering_started", T0 + days(1))
        )
        assert accept(state, enrol()).phase is Phase.REINTEGRATION

    def test_third_country_national_with_a_permit_to_stay_only_is_not(self) -> None:
        """I1: “third-country nationals … who … legally reside there”. A permit to stay (K7)
        is for “victims who reside illegally”: it tolerates the stay, it is not legal
        residence."""
        state = in_proceedings(TCN_ILLEGAL)
        state = accept(
            state,
            event(
                "permit_to_stay_granted", T0 + days(2), valid_from="2026-03-04", basis="ex_officio"
            ),
        )
        rejection = reject(state, enrol())
        assert rejection.rule == "I1" and "permit to stay" in rejection.reason

    def test_third_country_national_with_a_residence_permit_valid_that_day(self) -> None:
        """I1: “legally reside there”: a temporary residence permit valid on the day of
        enrolment, through its last day and not the day after."""
        state = accept(
            in_proceedings(TCN_ILLEGAL),
            event(
                "temporary_residence_permit_granted",
                T0 + days(3),
                basis="witness",
                valid_from="2026-03-05",
                valid_until="2026-03-31",
            ),
        )
        last_day = datetime.fromisoformat("2026-03-31T23:00:00+02:00")
        assert accept(state, enrol(last_day), last_day).phase is Phase.REINTEGRATION
        day_after = datetime.fromisoformat("2026-04-01T08:00:00+02:00")
        assert reject(state, enrol(day_after), day_after).rule == "I1"

    @pytest.mark.parametrize(("person", "eligible"), [(TCN_LEGAL, True), (APPLICANT, False)])
    def test_third_country_national_by_residence_status(
        self, person: dict[str, Any], eligible: bool
    ) -> None:
        """I1: “legally reside there”: a legally resident third-country national does; an
        applicant for international protection without a residence permit is not recorded as
        residing legally (read: the applicant's right to remain during the procedure is not
        the residence the programme asks for)."""
        state = in_proceedings(person)
        assert reintegration_eligibility(state, T0 + days(10))[0] is eligible

    def test_old_cases_keep_the_old_reading_on_replay(self) -> None:
        """Versioning: a case recorded before the patch admitted a Slovenian citizen in
        Slovenian proceedings; replaying it must accept that enrolment again."""
        state = old_rules(in_proceedings(SI_CITIZEN))
        assert accept(state, enrol()).phase is Phase.REINTEGRATION


# ---------------------------------------------------------------------------------------------
# K7: the permit to stay
# ---------------------------------------------------------------------------------------------


GRANTED_AT = T0 + days(1)


def grant(at: datetime = GRANTED_AT, valid_from: str = "2026-03-03") -> CaseEvent:
    return event("permit_to_stay_granted", at, valid_from=valid_from, basis="ex_officio")


def placed_in_crisis(person: dict[str, Any]) -> CaseState:
    return accept(interviewed(person), event("crisis_accommodation_placed", T0 + days(1)))


class TestK7PermitToStay:
    @pytest.mark.parametrize("person", [TCN_LEGAL, APPLICANT, EU_ADULT, SI_CITIZEN])
    def test_only_for_victims_residing_illegally(self, person: dict[str, Any]) -> None:
        """K7: “The Police allow victims who reside illegally in the Republic of Slovenia to
        stay”: not a legally resident third-country national, nor an applicant for
        international protection (who may remain while the application runs; if it ends and
        the stay becomes illegal, the status is recorded first). Nothing changes."""
        state = interviewed(person)
        rejection = reject(state, grant())
        assert (rejection.rule, rejection.field) == ("K7", "type")
        assert state.permit_to_stay is None

    def test_the_start_is_tied_to_the_case(self) -> None:
        """K7: the 3 months “include the 30-day period of recovery and reflection”: the permit
        starts neither before the case, nor after the day it is granted, nor after the
        reflection period started (here with crisis accommodation, 3 March)."""
        state = placed_in_crisis(TCN_ILLEGAL)
        for valid_from in ("2026-03-01", "2029-03-03", "2026-03-04"):
            at = T0 + days(5)
            rejection = reject(state, grant(at, valid_from))
            assert (rejection.rule, rejection.field) == ("K7", "valid_from"), valid_from
        assert accept(state, grant(T0 + days(5), "2026-03-02")).permit_to_stay is not None
        assert accept(state, grant(T0 + days(5), "2026-03-03")).permit_to_stay is not None

    def test_three_months_to_the_day_before_across_a_month_end(self) -> None:
        """K7: “for a period of 3 (three) months”: from 1 December to 28 February (2026-27,
        no 29 February), the police deciding the extension by the end of that day."""
        state = interviewed(TCN_ILLEGAL, datetime.fromisoformat("2026-12-01T09:00:00+01:00"))
        at = datetime.fromisoformat("2026-12-01T12:00:00+01:00")
        state = accept(state, grant(at, "2026-12-01"))
        assert state.permit_to_stay is not None
        assert state.permit_to_stay.valid_until == date(2027, 2, 28)
        decision = [
            o
            for o in state.open_obligations
            if o.kind is ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION
        ]
        assert decision and decision[0].owner.value == "police"
        assert decision[0].due_at is not None
        assert decision[0].due_at.isoformat().startswith("2027-03-01T00:00:00")

    def test_extension_on_the_expiry_day_is_accepted_the_day_after_is_not(self) -> None:
        """K7: “If reasonable grounds exist, the victims may be permitted to remain for another
        period of three months at the most”: decided before the permit expires, on its last
        day (2 June) at the latest; on 3 June it is refused naming the field, and nothing
        changes."""
        state = accept(interviewed(TCN_ILLEGAL), grant())
        last_day = datetime.fromisoformat("2026-06-02T23:30:00+02:00")
        extended = accept(state, event("permit_to_stay_extended", last_day, months=3), last_day)
        assert extended.permit_to_stay is not None
        assert extended.permit_to_stay.valid_until == date(2026, 9, 2)
        assert ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION not in open_kinds(extended)
        day_after = datetime.fromisoformat("2026-06-03T00:30:00+02:00")
        late = reject(state, event("permit_to_stay_extended", day_after, months=3), day_after)
        assert (late.rule, late.field) == ("K7", "occurred_at")
        assert state.permit_to_stay is not None
        assert state.permit_to_stay.valid_until == date(2026, 6, 2)

    def test_extension_cannot_predate_the_permit(self) -> None:
        """K7: an extension extends a permit that exists: one dated before the permit starts
        is refused."""
        state = accept(interviewed(TCN_ILLEGAL), grant(T0 + days(3), "2026-03-05"))
        early = T0 + days(3)  # 5 March: granted on the day it starts; an extension on 4 March
        rejection = reject(
            state, event("permit_to_stay_extended", early - days(1), months=1), early
        )
        assert (rejection.rule, rejection.field) == ("K7", "occurred_at")

    def test_expiry_without_extension_tells_police_and_ngo(self) -> None:
        """K7: the extension was due before expiry; at expiry police and NGO are told and no
        extension decision is left open."""
        state = accept(interviewed(TCN_ILLEGAL), grant())
        on_last_day = datetime.fromisoformat("2026-06-02T23:59:00+02:00")
        state, sent = fired(state, on_last_day)
        assert ("police", "permit_to_stay_expired", "K7") not in sent
        state, sent = fired(state, datetime.fromisoformat("2026-06-03T00:00:00+02:00"))
        assert ("police", "permit_to_stay_expired", "K7") in sent
        assert ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION not in open_kinds(state)


def granted_from(valid_from: str, rules: bool = True) -> CaseState:
    """A permit to stay valid from ``valid_from``, granted that day at noon in Ljubljana to a
    third-country national identified there that morning (``rules``: under the seed's rules)."""
    morning = datetime.fromisoformat(f"{valid_from}T08:00:00+01:00")
    state = interviewed(TCN_ILLEGAL, morning)
    if not rules:
        state = old_rules(state)
    return accept(state, grant(morning + timedelta(hours=4), valid_from))


class TestK7MonthEnds:
    """K7: “for a period of 3 (three) months” … “If reasonable grounds exist, the victims may be
    permitted to remain for another period of three months at the most.” A permit valid from a
    day counts that day and runs through the day before the same date 3 months on; when that
    month has no such date, through its last day (docs/rules.md "Legal time")."""

    @pytest.mark.parametrize(
        ("valid_from", "through"),
        [
            ("2026-11-30", date(2027, 2, 28)),  # no 30 February: through its last day, not 27
            ("2027-11-30", date(2028, 2, 29)),  # leap year: 29 February
            ("2027-11-29", date(2028, 2, 28)),  # 29 February exists: the day before it
            ("2027-01-31", date(2027, 4, 30)),  # no 31 April: through 30 April, not 29
            ("2026-03-01", date(2026, 5, 31)),  # the same date exists: the day before it
            ("2026-12-01", date(2027, 2, 28)),
            ("2028-02-29", date(2028, 5, 28)),  # from 29 February: the day before 29 May
        ],
    )
    def test_three_months_at_month_ends(self, valid_from: str, through: date) -> None:
        """K7: 3 months from a month's end are not a day short: from 30 November 2026 the
        permit runs through 28 February 2027 (it ran through 27 February), from 31 January
        through 30 April (it ran through 29 April); the extension decision is due then."""
        state = granted_from(valid_from)
        assert state.permit_to_stay is not None
        assert state.permit_to_stay.valid_until == through
        due = end_of_day(through)
        assert state.deadlines[DeadlineKind.PERMIT_TO_STAY].due_at == due
        decision = [
            o
            for o in state.open_obligations
            if o.kind is ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION
        ]
        assert decision and decision[0].due_at == due

    def test_the_last_day_is_within_and_the_next_is_not(self) -> None:
        """K7 boundary: from 30 November 2026 the permit has not expired at 23:59 on 28 February
        2027, and has at 00:00 on 1 March."""
        state = granted_from("2026-11-30")
        _, sent = fired(state, datetime.fromisoformat("2027-02-28T23:59:00+01:00"))
        assert ("police", "permit_to_stay_expired", "K7") not in sent
        _, sent = fired(state, datetime.fromisoformat("2027-03-01T00:00:00+01:00"))
        assert ("police", "permit_to_stay_expired", "K7") in sent

    @pytest.mark.parametrize(
        ("valid_from", "months", "through"),
        [
            ("2026-08-30", 3, date(2027, 2, 28)),  # through 29 Nov; from 30 Nov: no 30 Feb
            ("2027-01-31", 3, date(2027, 7, 31)),  # through 30 Apr; from 1 May
            ("2026-11-30", 3, date(2027, 5, 31)),  # through 28 Feb; from 1 March
            ("2026-11-30", 1, date(2027, 3, 31)),
        ],
    )
    def test_the_extension_counts_on_from_the_day_after(
        self, valid_from: str, months: int, through: date
    ) -> None:
        """K7: “another period of three months at the most” runs from the day after the
        permit's last day, by the same count: a permit through 29 November 2026 extended by 3
        months runs through 28 February 2027 (it ran through 27 February)."""
        state = granted_from(valid_from)
        assert state.permit_to_stay is not None
        at = datetime.combine(state.permit_to_stay.valid_until, datetime.min.time()).replace(
            tzinfo=LJUBLJANA
        ) + timedelta(hours=10)
        extended = accept(state, event("permit_to_stay_extended", at, months=months), at)
        assert extended.permit_to_stay is not None
        assert extended.permit_to_stay.valid_until == through

    def test_the_reminder_is_14_calendar_days_before_across_the_change_to_summer_time(
        self,
    ) -> None:
        """K7 “3 (three) months”, reminded 14 days before (SPEC): a permit through 8 April 2027
        ends at 24:00 that day; the reminder goes at 00:00 on 26 March, 14 calendar days
        before in Ljubljana, across the change to summer time on 28 March (14 × 24 hours of
        elapsed time would be 23:00 on 25 March, a day early)."""
        state = granted_from("2027-01-09")
        assert state.permit_to_stay is not None
        assert state.permit_to_stay.valid_until == date(2027, 4, 8)
        reminder = state.deadlines[DeadlineKind.PERMIT_TO_STAY].reminders[0].at
        assert reminder.astimezone(LJUBLJANA) == datetime(2027, 3, 26, tzinfo=LJUBLJANA)

    def test_old_histories_keep_the_day_they_had(self) -> None:
        """Replay: a case recorded before the patch ``seed-residence-rules`` keeps the last
        day it computed then (27 February from 30 November 2026), so its timers do not move."""
        state = granted_from("2026-11-30", rules=False)
        assert state.permit_to_stay is not None
        assert state.permit_to_stay.valid_until == date(2027, 2, 27)


# ---------------------------------------------------------------------------------------------
# S3, S4, S5 after placement
# ---------------------------------------------------------------------------------------------


def residence_permit(at: datetime, until: str) -> CaseEvent:
    return event(
        "temporary_residence_permit_granted",
        at,
        basis="witness",
        valid_from=at.date().isoformat(),
        valid_until=until,
    )


def in_safe_accommodation(residence_until: str = "2027-03-03") -> CaseState:
    """A third-country national with a permit to stay from 3 March to 2 June 2026, placed in
    safe accommodation on 1 April."""
    state = accept(placed_in_crisis(TCN_ILLEGAL), grant())
    state = accept(state, residence_permit(T0 + days(2), residence_until))
    state = accept(state, event("criminal_proceedings_opened", T0 + days(3)))
    return accept(state, event("safe_accommodation_placed", T0 + days(30)))


EXPIRED = datetime.fromisoformat("2026-06-03T00:00:00+02:00")


class TestS3AfterPlacement:
    def test_permit_to_stay_lapsing_in_safe_accommodation_opens_a_dated_obligation(self) -> None:
        """S3: “conditional on their having a permit to stay and a temporary residence permit”
        … “included in the safe accommodation programme for the period of validity of the
        permit to stay”. The day after its last day, Ključ must agree with police and the
        migration authority whether the placement ends, by a date, all four told; not on the
        last day itself."""
        state = in_safe_accommodation()
        _, sent = fired(state, EXPIRED - timedelta(minutes=1))
        assert not any(reason == "safe_accommodation_permit_lapsed" for _, reason, _ in sent)
        state, sent = fired(state, EXPIRED)
        lapsed = {r for r, reason, rule in sent if reason == "safe_accommodation_permit_lapsed"}
        assert lapsed == {"kljuc", "police", "migration_authority", "interior_ministry"}
        assert all(rule == "S3" for _, reason, rule in sent if reason.startswith("safe_"))
        (ob,) = [
            o for o in state.open_obligations if o.kind is ObligationKind.SAFE_ACCOMMODATION_PERMITS
        ]
        assert (ob.owner.value, ob.rule) == ("kljuc", "S3")
        assert ob.due_at is not None and ob.due_at.isoformat().startswith("2026-06-10T00:00:00")
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS in state.deadlines

    def test_reminder_then_escalation_until_the_placement_ends(self) -> None:
        """S3: reminded two days before the date, escalated to Ključ and the interior ministry
        (which co-finances safe accommodation) at it; ending the placement settles it."""
        state, _ = fired(in_safe_accommodation(), EXPIRED)
        state, sent = fired(state, datetime.fromisoformat("2026-06-08T00:00:00+02:00"))
        assert ("kljuc", "safe_accommodation_permits_reminder", "S3") in sent
        state, sent = fired(state, datetime.fromisoformat("2026-06-10T00:00:00+02:00"))
        assert ("interior_ministry", "safe_accommodation_permits_overdue", "S3") in sent
        ended = accept(state, event("safe_accommodation_ended", EXPIRED + days(8)))
        assert ObligationKind.SAFE_ACCOMMODATION_PERMITS not in open_kinds(ended)

    def test_extended_permit_lapsing_also_opens_it(self) -> None:
        """S3, K7: the same when the one extension runs out (2 September)."""
        state = in_safe_accommodation()
        state = accept(state, event("permit_to_stay_extended", T0 + days(80), months=3))
        state, _sent = fired(state, EXPIRED)
        assert ObligationKind.SAFE_ACCOMMODATION_PERMITS not in open_kinds(state)
        state, _sent = fired(state, datetime.fromisoformat("2026-09-03T00:00:00+02:00"))
        assert ObligationKind.SAFE_ACCOMMODATION_PERMITS in open_kinds(state)

    def test_not_in_safe_accommodation_no_s3_obligation(self) -> None:
        """S3 is about safe accommodation: a permit lapsing in crisis accommodation opens
        none."""
        state = accept(placed_in_crisis(TCN_ILLEGAL), grant())
        state, _sent = fired(state, EXPIRED)
        assert ObligationKind.SAFE_ACCOMMODATION_PERMITS not in open_kinds(state)

    def test_residence_permit_expiry_cites_s4_and_s3_only_when_placed(self) -> None:
        """S4: the renewal is the migration authority's, cited S4 (it was cited S3 even for a
        person not in safe accommodation); in safe accommodation S3's own obligation follows,
        and a renewal while the permit to stay runs settles it."""
        state = in_safe_accommodation(residence_until="2026-04-30")
        state, sent = fired(state, datetime.fromisoformat("2026-05-01T00:00:00+02:00"))
        assert ("migration_authority", "residence_permit_expired", "S4") in sent
        assert ObligationKind.SAFE_ACCOMMODATION_PERMITS in open_kinds(state)
        renewed = accept(
            state,
            event(
                "temporary_residence_permit_renewed",
                datetime.fromisoformat("2026-05-02T10:00:00+02:00"),
                valid_until="2027-04-30",
            ),
        )
        assert ObligationKind.SAFE_ACCOMMODATION_PERMITS not in open_kinds(renewed)
        crisis = accept(placed_in_crisis(TCN_ILLEGAL), residence_permit(T0 + days(2), "2026-04-30"))
        _, sent = fired(crisis, datetime.fromisoformat("2026-05-01T00:00:00+02:00"))
        assert ("migration_authority", "residence_permit_expired", "S4") in sent

    def test_a_second_residence_permit_while_one_is_valid_is_refused(self) -> None:
        """S4: a temporary residence permit is renewed, not granted twice: a second grant on
        its last day is refused (nothing changes); the day after it expired, a new permit may
        be granted."""
        state = accept(interviewed(TCN_ILLEGAL), residence_permit(T0 + days(1), "2026-03-31"))
        last_day = datetime.fromisoformat("2026-03-31T20:00:00+02:00")
        rejection = reject(state, residence_permit(last_day, "2027-03-31"), last_day)
        assert (rejection.rule, rejection.field) == ("S4", "type")
        day_after = datetime.fromisoformat("2026-04-01T08:00:00+02:00")
        new = accept(state, residence_permit(day_after, "2027-03-31"), day_after)
        assert new.residence_permit is not None
        assert new.residence_permit.valid_until == date(2027, 3, 31)

    def test_old_cases_replay_the_old_expiry(self) -> None:
        """Versioning: a case recorded before the patch gets the old expiry: no S3 obligation."""
        state = old_rules(in_safe_accommodation())
        state, _sent = fired(state, EXPIRED)
        assert ObligationKind.SAFE_ACCOMMODATION_PERMITS not in open_kinds(state)


class TestS5AfterProceedings:
    def test_conclusion_opens_a_dated_obligation_with_reminders(self) -> None:
        """S5: “for the victims from third countries it may last until the conclusion of the
        criminal proceedings”; K6: support “in an appropriate period after their
        completion”. Ključ agrees the next step within 30 days (concluded 30 April: by the end
        of 30 May), reminded 7 days before with the interior ministry, escalated at it."""
        state = accept(
            in_safe_accommodation(),
            event(
                "criminal_proceedings_concluded",
                datetime.fromisoformat("2026-04-30T10:00:00+02:00"),
            ),
        )
        (ob,) = [
            o
            for o in state.open_obligations
            if o.kind is ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS
        ]
        assert (ob.owner.value, ob.rule) == ("kljuc", "S5")
        assert ob.due_at is not None and ob.due_at.isoformat().startswith("2026-05-31T00:00:00")
        state, sent = fired(state, datetime.fromisoformat("2026-05-24T00:00:00+02:00"))
        assert ("interior_ministry", "accommodation_after_proceedings_reminder", "S5") in sent
        state, sent = fired(state, datetime.fromisoformat("2026-05-31T00:00:00+02:00"))
        assert ("kljuc", "accommodation_after_proceedings_overdue", "S5") in sent
        assert state.safe_accommodation is not None and state.safe_accommodation.active

    def test_placed_after_proceedings_concluded_is_flagged(self) -> None:
        """S5: a third-country national placed after the proceedings concluded is past the
        time the seed gives: accepted (accommodation is voluntary, nobody is refused help) but
        flagged with the same dated obligation."""
        state = accept(placed_in_crisis(TCN_ILLEGAL), grant())
        state = accept(state, residence_permit(T0 + days(2), "2027-03-03"))
        state = accept(state, event("criminal_proceedings_opened", T0 + days(3)))
        state = accept(state, event("criminal_proceedings_concluded", T0 + days(10)))
        placed = decide_effects(state, event("safe_accommodation_placed", T0 + days(20)))
        assert ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS in open_kinds(placed[0])
        assert ("kljuc", "placed_after_proceedings") in placed[1]

    def test_eu_citizen_no_obligation(self) -> None:
        """S5: “for other victims the legislation does not define any time limit”."""
        state = accept(interviewed(EU_ADULT), event("crisis_accommodation_placed", T0 + days(1)))
        state = accept(state, event("criminal_proceedings_opened", T0 + days(2)))
        state = accept(state, event("safe_accommodation_placed", T0 + days(20)))
        state = accept(state, event("criminal_proceedings_concluded", T0 + days(40)))
        assert ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS not in open_kinds(state)
        assert DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS not in state.deadlines


def decide_effects(state: CaseState, ev: CaseEvent) -> tuple[CaseState, list[tuple[str, str]]]:
    decision = decide(state, ev, ev.occurred_at, case_id=CASE_ID)
    assert isinstance(decision, Accepted), decision
    return decision.state, [(n.recipient.value, n.reason) for n in decision.effects.notifications]
