"""I1, the reintegration programme, decided on the enrolment's own day (issue 13): the
proceedings that count are those begun by the day of the enrolment, and a service of the
programme is not dated before the enrolment. Each test's docstring quotes the seed's words."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pathway.domain.events import CaseEvent
from pathway.domain.state import CaseState, Phase
from tests.factories import EU_ADULT, SI_CITIZEN, T0, accept, days, event, opened, reject

#: When these cases are recorded: after everything they hold happened (late recording).
RECORDED_AT = T0 + days(30)


def interviewed(person: dict[str, Any]) -> CaseState:
    return accept(
        opened(person), event("ngo_interview_held", T0 + timedelta(hours=2), language="en")
    )


def proceedings_opened(state: CaseState, at: datetime) -> CaseState:
    return accept(state, event("criminal_proceedings_opened", at), now=RECORDED_AT)


def enrol(at: datetime) -> CaseEvent:
    return event("reintegration_enrolled", at, personal_plan=True)


def service(at: datetime) -> CaseEvent:
    return event("reintegration_service_recorded", at, service="psychotherapy")


def old_rules(state: CaseState) -> CaseState:
    """The state as a case recorded before the patch ``seed-reintegration-dates`` replays it."""
    return state.model_copy(update={"seed_reintegration_dates": False})


class TestI1AsOfTheEnrolmentsDay:
    """I1: “EU citizens and third-country nationals who have been treated as victims of
    trafficking in human beings in the Republic of Slovenia in pre-trial or criminal
    proceedings and legally reside there”: treated so when they enrol, not later."""

    def test_an_enrolment_before_the_proceedings_opened_is_refused(self) -> None:
        """I1: “have been treated as victims … in pre-trial or criminal proceedings”: an
        enrolment dated the day before the proceedings opened, recorded after they did, is
        refused naming I1, and changes nothing."""
        state = proceedings_opened(interviewed(EU_ADULT), T0 + days(5))
        rejection = reject(state, enrol(T0 + days(4)), now=RECORDED_AT)
        assert (rejection.rule, rejection.field) == ("I1", "type")
        assert "by the day of the enrolment" in rejection.reason
        assert state.reintegration is None and state.phase is not Phase.REINTEGRATION

    def test_an_enrolment_at_the_instant_the_proceedings_opened_is_accepted(self) -> None:
        """I1: proceedings opened at the enrolment's instant have begun: the boundary is
        inclusive."""
        state = proceedings_opened(interviewed(EU_ADULT), T0 + days(5))
        enrolled = accept(state, enrol(T0 + days(5)), now=RECORDED_AT)
        assert enrolled.phase is Phase.REINTEGRATION

    def test_a_moment_before_the_police_information_gathering_is_not_pre_trial(self) -> None:
        """I1: “in pre-trial … proceedings”: the police information gathering begun a minute
        after the enrolment does not make it eligible; at its instant it does."""
        started = T0 + days(3)
        state = accept(
            interviewed(EU_ADULT),
            event("police_information_gathering_started", started),
            now=RECORDED_AT,
        )
        assert reject(state, enrol(started - timedelta(minutes=1)), now=RECORDED_AT).rule == "I1"
        assert accept(state, enrol(started), now=RECORDED_AT).phase is Phase.REINTEGRATION

    def test_slovenian_citizen_treated_abroad_needs_no_proceedings_on_any_day(self) -> None:
        """I1: “citizens of the Republic of Slovenia who have been treated as victims of
        trafficking in human beings abroad”: no Slovenian proceedings needed, so the day does
        not matter."""
        state = interviewed({**SI_CITIZEN, "exploited_abroad": True})
        assert accept(state, enrol(T0 + days(1)), now=RECORDED_AT).phase is Phase.REINTEGRATION

    def test_old_histories_decide_on_the_case_as_it_stands(self) -> None:
        """Versioning: a case recorded before the patch accepted an enrolment dated before the
        proceedings opened; replaying it must accept it again."""
        state = old_rules(proceedings_opened(interviewed(EU_ADULT), T0 + days(5)))
        assert accept(state, enrol(T0 + days(4)), now=RECORDED_AT).reintegration is not None


class TestI1NoServiceBeforeTheEnrolment:
    """I1: “The users of the programme participated in therapeutic workshops …” and “other
    services agreed in personal plans”: a service of the programme is given to a person in
    it, so not before the enrolment."""

    def enrolled(self) -> CaseState:
        state = proceedings_opened(interviewed(EU_ADULT), T0 + days(2))
        return accept(state, enrol(T0 + days(10)), now=RECORDED_AT)

    def test_a_service_dated_before_the_enrolment_is_refused(self) -> None:
        """I1: a service dated a minute before the enrolment is refused naming I1 and
        ``occurred_at``, and the services recorded are unchanged."""
        state = self.enrolled()
        rejection = reject(state, service(T0 + days(10) - timedelta(minutes=1)), now=RECORDED_AT)
        assert (rejection.rule, rejection.field) == ("I1", "occurred_at")
        assert "before the enrolment" in rejection.reason
        assert state.reintegration is not None and state.reintegration.services == []

    def test_a_service_at_the_enrolment_is_accepted(self) -> None:
        """I1: a service at the enrolment's instant is within the programme."""
        state = accept(self.enrolled(), service(T0 + days(10)), now=RECORDED_AT)
        assert state.reintegration is not None
        assert [s.value for s in state.reintegration.services] == ["psychotherapy"]

    def test_old_histories_keep_a_service_dated_before(self) -> None:
        """Versioning: a case recorded before the patch accepted such a service; replaying it
        must accept it again."""
        state = old_rules(self.enrolled())
        assert accept(state, service(T0 + days(9)), now=RECORDED_AT).reintegration is not None
