"""The residence track and reintegration exactly as the seed states them (issue 13): I1, K7,
S3, S4, S5. Each test's docstring quotes the seed's words it rests on; docs/rules.md gives the
readings chosen where the seed is ambiguous."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from pathway.domain.events import CaseEvent
from pathway.domain.rules import fire_due, reintegration_eligibility
from pathway.domain.state import CaseState, DeadlineKind, ObligationKind, Phase
from tests.factories import (
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


_ = (date, DeadlineKind, fired, open_kinds)
