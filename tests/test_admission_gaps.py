"""The admission checks that close the known gaps 4, 6, 9 and 10 (issue 13, "the law";
pathway/domain/rules/admission.py, docs/rules.md "Admission checks"): refusals an event meets
when it arrives, made in the case workflow's validator only (and, for gap 9, by the client
before it sends), so that histories recorded before them replay unchanged. Pure: no server."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from pathway.domain.events import SafeAccommodationPlaced, parse_event
from pathway.domain.rules import Rejection, admission_refusal, unstated_refusal
from pathway.domain.rules.admission import reflection_last_day
from pathway.domain.state import CaseState, Phase
from tests.factories import EU_ADULT, SI_CITIZEN, T0, TCN_ILLEGAL, accept, days, event, opened


def _refused(state: CaseState | None, type_: str, at: Any, **fields: Any) -> Rejection | None:
    return admission_refusal(state, event(type_, at, **fields))


class TestEveryEarlierPlacementCounts:
    """K1, S1 (gap 4): crisis and safe accommodation are never both active (docs/rules.md);
    S1: “During crisis accommodation, victims are offered long-term assistance and safe
    accommodation”. Placements are often recorded late, and not in the order they happened:
    a new one is compared with every earlier placement of the case, not only the latest of
    each kind (the case keeps only those; the timeline keeps them all)."""

    @staticmethod
    def _two_safe_stays() -> CaseState:
        """Safe accommodation from day 30 to day 40, then one recorded after it but dated
        earlier, from day 5 to day 8: the latest safe placement is the earlier one."""
        state = opened(EU_ADULT)
        for placed, ended in ((30, 40), (5, 8)):
            placement = event("safe_accommodation_placed", T0 + days(placed), reason="direct")
            state = accept(state, placement)
            state = accept(state, event("safe_accommodation_ended", T0 + days(ended)))
        return state

    def test_a_crisis_placement_inside_an_earlier_safe_placement_is_refused(self) -> None:
        state = self._two_safe_stays()
        assert state.safe_accommodation is not None
        assert state.safe_accommodation.since == T0 + days(5)  # the latest: not the one hit
        assert _refused(state, "crisis_accommodation_placed", T0 + days(35)) == Rejection(
            "K1",
            "occurred_at",
            "safe accommodation ran from 2026-04-01 to 2026-04-11: a crisis placement dated "
            "before its end would make both active, and crisis and safe accommodation are "
            "never both active (placements are recorded in the order they happened)",
        )

    def test_at_the_earlier_safe_placement_s_end_or_after_it_is_admitted(self) -> None:
        """The boundary: the instant before the end is refused, the end and later admitted."""
        state = self._two_safe_stays()
        end = T0 + days(40)
        assert _refused(state, "crisis_accommodation_placed", end - timedelta(seconds=1))
        assert _refused(state, "crisis_accommodation_placed", end) is None
        assert _refused(state, "crisis_accommodation_placed", end + days(1)) is None

    @staticmethod
    def _two_crisis_stays() -> CaseState:
        """Crisis accommodation from day 20 to day 25, then one recorded after it but dated
        earlier, from day 5 to day 8."""
        state = opened(EU_ADULT)
        for placed, ended in ((20, 25), (5, 8)):
            state = accept(state, event("crisis_accommodation_placed", T0 + days(placed)))
            state = accept(state, event("crisis_accommodation_ended", T0 + days(ended)))
        return state

    def test_a_safe_placement_inside_an_earlier_crisis_placement_is_refused(self) -> None:
        state = self._two_crisis_stays()
        assert _refused(state, "safe_accommodation_placed", T0 + days(22)) == Rejection(
            "S1",
            "occurred_at",
            "crisis accommodation ran from 2026-03-22 to 2026-03-27: a safe placement dated "
            "before its end would make both active (one while crisis accommodation runs ends "
            "it), and crisis and safe accommodation are never both active (placements are "
            "recorded in the order they happened)",
        )

    def test_a_safe_placement_before_an_earlier_crisis_placement_is_refused(self) -> None:
        """Dated day 12, after the latest crisis placement (days 5 to 8) but before the one of
        days 20 to 25 began: from its date on it would run beside it."""
        refusal = _refused(self._two_crisis_stays(), "safe_accommodation_placed", T0 + days(12))
        assert refusal is not None and (refusal.rule, refusal.field) == ("S1", "occurred_at")

    def test_a_safe_placement_at_the_last_crisis_end_or_after_is_admitted(self) -> None:
        state = self._two_crisis_stays()
        end = T0 + days(25)
        assert _refused(state, "safe_accommodation_placed", end - timedelta(seconds=1))
        assert _refused(state, "safe_accommodation_placed", end) is None
        assert _refused(state, "safe_accommodation_placed", end + days(1)) is None

    def test_a_safe_placement_inside_the_finished_crisis_placement_is_refused(self) -> None:
        """Crisis accommodation from day 10 to day 12, recorded: a safe placement dated day 11
        would have ended it then (moving on), yet it ran to day 12: both active for a day."""
        state = accept(opened(EU_ADULT), event("crisis_accommodation_placed", T0 + days(10)))
        state = accept(state, event("crisis_accommodation_ended", T0 + days(12)))
        assert _refused(state, "safe_accommodation_placed", T0 + days(11))
        assert _refused(state, "safe_accommodation_placed", T0 + days(12)) is None

    def test_moving_on_from_running_crisis_accommodation_is_admitted(self) -> None:
        """S1: a safe placement while crisis accommodation runs ends it; it is the way on."""
        state = accept(opened(EU_ADULT), event("crisis_accommodation_placed", T0 + days(10)))
        assert _refused(state, "safe_accommodation_placed", T0 + days(10)) is None
        assert _refused(state, "safe_accommodation_placed", T0 + days(20)) is None

    def test_not_in_a_case_recorded_before_the_seed_s_assistance_rules(self) -> None:
        state = self._two_safe_stays().model_copy(update={"seed_assistance_rules": False})
        assert _refused(state, "crisis_accommodation_placed", T0 + days(35)) is None


class TestThePermitIncludesTheReflectionPeriod:
    """K7 (gap 6): “The Police allow victims who reside illegally in the Republic of Slovenia
    to stay … for a period of 3 (three) months (which includes the 30-day period of recovery
    and reflection)”. Read: the permit's 3 months, from its ``valid_from``, reach the last day
    of the reflection period the case has started, and the day the permit is granted (a
    permit expired when granted includes nothing)."""

    @staticmethod
    def _grant(valid_from: date, at: Any) -> Any:
        return event(
            "permit_to_stay_granted", at, valid_from=valid_from.isoformat(), basis="ex_officio"
        )

    @staticmethod
    def _reflection_from_day_80() -> CaseState:
        """Reflection from day 80 (21 May 2026): its 30 days run through 20 June."""
        state = opened(TCN_ILLEGAL)
        state = accept(state, event("reflection_period_started", T0 + days(80)))
        assert reflection_last_day(state) == date(2026, 6, 20)
        return state

    def test_a_permit_from_identification_that_ends_before_the_reflection_is_refused(
        self,
    ) -> None:
        """Valid from the identification (2 March), the 3 months end on 1 June: the reflection
        period that started on 21 May runs to 20 June."""
        state = self._reflection_from_day_80()
        refusal = admission_refusal(state, self._grant(date(2026, 3, 2), T0 + days(80)))
        assert refusal == Rejection(
            "K7",
            "valid_from",
            "the 3 months include the 30-day reflection period, which runs until 2026-06-20: a "
            "permit to stay valid from 2026-03-02 would end on 2026-06-01, before it",
        )

    def test_the_boundary_is_the_reflection_period_s_last_day(self) -> None:
        """From 21 March, through 20 June: the last day of the reflection period, admitted; from
        20 March, through 19 June: refused."""
        state = self._reflection_from_day_80()
        assert admission_refusal(state, self._grant(date(2026, 3, 21), T0 + days(80))) is None
        assert admission_refusal(state, self._grant(date(2026, 3, 20), T0 + days(80)))
        assert admission_refusal(state, self._grant(date(2026, 5, 21), T0 + days(80))) is None

    def test_a_permit_granted_two_years_late_from_identification_is_refused(self) -> None:
        state = opened(TCN_ILLEGAL)
        refusal = admission_refusal(state, self._grant(date(2026, 3, 2), T0 + days(730)))
        assert refusal == Rejection(
            "K7",
            "valid_from",
            "a permit to stay of 3 months valid from 2026-03-02 would end on 2026-06-01, before "
            "the day it is granted (2028-03-01): it would be expired at once",
        )

    def test_a_permit_granted_on_its_last_day_is_admitted_the_day_after_not(self) -> None:
        """Valid from 2 March through 1 June: granted on 1 June (in Ljubljana) it is admitted,
        on 2 June it is not."""
        state = opened(TCN_ILLEGAL)
        last_day = T0 + days(91)  # 1 June 2026, 11:00 in Ljubljana
        assert admission_refusal(state, self._grant(date(2026, 3, 2), last_day)) is None
        assert admission_refusal(state, self._grant(date(2026, 3, 2), last_day + days(1)))

    def test_what_decide_refuses_anyway_is_left_to_decide(self) -> None:
        """A permit for a person who gets none, or valid from before the case: ``decide``'s
        own K7 refusals, with their reasons."""
        late = self._grant(date(2026, 3, 2), T0 + days(730))
        assert admission_refusal(opened(EU_ADULT), late) is None
        assert admission_refusal(opened(TCN_ILLEGAL), self._grant(date(2020, 1, 1), T0)) is None

    def test_not_in_cases_under_the_older_residence_rules(self) -> None:
        state = self._reflection_from_day_80().model_copy(update={"seed_residence_rules": False})
        assert admission_refusal(state, self._grant(date(2026, 3, 2), T0 + days(80))) is None

    def test_a_reflection_period_after_the_permit_is_not_refused(self) -> None:
        """The reading: the grant is checked against the reflection period the case has
        started. One started after the grant is the victim's right (K5) and is not refused for
        the permit's sake: the police's one extension covers it (K7)."""
        state = accept(opened(TCN_ILLEGAL), self._grant(date(2026, 3, 2), T0))
        assert _refused(state, "reflection_period_started", T0 + days(80)) is None


class TestTheProgrammeIsStated:
    """S1 (gap 9): “During accommodation the victims are provided with all the needed
    protection on the basis of a preliminary assistance and protection programme.” Whether one
    was drawn up is stated by the sender, not assumed (the field defaults to true only so that
    events recorded without it still decode)."""

    @staticmethod
    def _unstated() -> SafeAccommodationPlaced:
        data = event("safe_accommodation_placed", T0 + days(5), reason="direct").model_dump(
            mode="json", exclude={"preliminary_programme"}
        )
        placed = parse_event(data)
        assert isinstance(placed, SafeAccommodationPlaced)
        return placed

    def test_a_placement_that_does_not_state_it_is_refused(self) -> None:
        expected = Rejection(
            "S1",
            "preliminary_programme",
            "state whether a preliminary assistance and protection programme was drawn up "
            "(true or false): safe accommodation gives protection on the basis of one, and it "
            "is recorded, not assumed",
        )
        assert unstated_refusal(self._unstated()) == expected
        assert admission_refusal(opened(EU_ADULT), self._unstated()) == expected

    @pytest.mark.parametrize("given", [True, False])
    def test_a_placement_that_states_it_is_admitted(self, given: bool) -> None:
        placed = event(
            "safe_accommodation_placed", T0 + days(5), reason="x", preliminary_programme=given
        )
        assert unstated_refusal(placed) is None
        assert admission_refusal(opened(EU_ADULT), placed) is None

    def test_the_workflow_s_decoded_event_states_every_field(self) -> None:
        """Why the client checks it before sending: decoded from the JSON the workflow gets,
        the default reads as stated (pathway.clients.cases.record_event)."""
        decoded = parse_event(self._unstated().model_dump(mode="json"))
        assert unstated_refusal(decoded) is None

    def test_a_repeat_and_a_closed_case_are_decide_s(self) -> None:
        unstated = self._unstated()
        held = accept(opened(EU_ADULT), unstated)
        assert admission_refusal(held, unstated) is None
        closed = opened(EU_ADULT).model_copy(update={"phase": Phase.CLOSED})
        assert admission_refusal(closed, unstated) is None

    def test_other_events_are_not_this_check_s(self) -> None:
        assert unstated_refusal(event("crisis_accommodation_placed", T0)) is None


class TestNoEnrolmentAfterTheReturnHome:
    """I1 (gap 10): the programme is “for EU citizens and third-country nationals who have
    been treated as victims of trafficking in human beings in the Republic of Slovenia in
    pre-trial or criminal proceedings and legally reside there”: not for one who returned
    home, unless they came back into assistance."""

    @staticmethod
    def _returned(person: dict[str, Any]) -> CaseState:
        state = opened(person)
        state = accept(state, event("criminal_proceedings_opened", T0 + days(1)))
        return accept(state, event("returned_home", T0 + days(10)))

    def test_an_enrolment_after_the_return_is_refused(self) -> None:
        refusal = _refused(self._returned(EU_ADULT), "reintegration_enrolled", T0 + days(11))
        assert refusal == Rejection(
            "I1",
            "occurred_at",
            "the person returned home on 2026-03-12: reintegration is for victims in Slovenia, "
            "and nothing records their return since (a placement, a reflection period or a "
            "permit): record it, or give the enrolment a reason saying they are back",
        )

    def test_a_permit_since_the_return_or_a_reason_admits_it(self) -> None:
        """I1: “EU citizens and third-country nationals who have been treated as victims …
        in pre-trial or criminal proceedings and legally reside there”: a residence permit
        granted since the return shows the person back in Slovenia, and an EU citizen back
        under free movement has none to show, so a reason from the sender admits it too."""
        back = accept(
            self._returned(TCN_ILLEGAL),
            event(
                "temporary_residence_permit_granted",
                T0 + days(50),
                basis="witness",
                valid_from=(T0 + days(50)).date().isoformat(),
                valid_until=(T0 + days(400)).date().isoformat(),
            ),
        )
        assert _refused(back, "reintegration_enrolled", T0 + days(60)) is None
        said = _refused(
            self._returned(EU_ADULT),
            "reintegration_enrolled",
            T0 + days(11),
            reason="back in Slovenia since 20 March, living in Maribor",
        )
        assert said is None

    def test_on_the_return_s_day_or_before_it_is_admitted(self) -> None:
        state = self._returned(EU_ADULT)
        for at in (T0 + days(9), T0 + days(10), T0 + days(10) + timedelta(hours=5)):
            assert _refused(state, "reintegration_enrolled", at) is None

    def test_after_coming_back_into_assistance_it_is_admitted(self) -> None:
        state = accept(
            self._returned(EU_ADULT), event("crisis_accommodation_placed", T0 + days(20))
        )
        assert _refused(state, "reintegration_enrolled", T0 + days(15))  # before coming back
        assert _refused(state, "reintegration_enrolled", T0 + days(20)) is None
        assert _refused(state, "reintegration_enrolled", T0 + days(21)) is None

    def test_a_slovenian_citizen_comes_home_to_the_programme(self) -> None:
        """Citizens of Slovenia treated as victims abroad: their home is Slovenia."""
        person = {**SI_CITIZEN, "exploited_abroad": True}
        assert _refused(self._returned(person), "reintegration_enrolled", T0 + days(11)) is None


class TestAResidencePermitFollowsTheCase:
    """S4 (gap 10): a temporary residence permit under Article 50 is issued “to victims of
    trafficking in human beings”: it follows their identification. Read: valid from no more
    than a year before the day the case was opened (2 March 2026), and never before the
    person's birth (INPUT)."""

    @staticmethod
    def _permit(valid_from: str) -> Any:
        return event(
            "temporary_residence_permit_granted",
            T0 + days(5),
            basis="witness",
            valid_from=valid_from,
            valid_until="2027-12-31",
        )

    def test_a_permit_valid_from_decades_before_the_case_is_refused(self) -> None:
        refusal = admission_refusal(opened(TCN_ILLEGAL), self._permit("1996-03-02"))
        assert refusal == Rejection(
            "S4",
            "valid_from",
            "a temporary residence permit for a victim of trafficking (Article 50) follows the "
            "identification (2026-03-02): one valid from before 2025-03-02 belongs to another "
            "matter (check the year)",
        )

    def test_a_year_before_the_case_is_the_first_day_admitted(self) -> None:
        state = opened(TCN_ILLEGAL)
        assert admission_refusal(state, self._permit("2025-03-02")) is None
        assert admission_refusal(state, self._permit("2025-03-01"))
        assert admission_refusal(state, self._permit("2026-03-02")) is None

    def test_an_eu_citizen_s_permit_is_left_to_decide(self) -> None:
        """S4's permit is for third-country nationals: ``decide`` refuses it, with that reason."""
        assert admission_refusal(opened(EU_ADULT), self._permit("1996-03-02")) is None

    def test_a_permit_valid_before_the_birth_is_refused(self) -> None:
        baby = {**TCN_ILLEGAL, "birth_date": "2026-01-10"}
        state = opened(baby)
        assert admission_refusal(state, self._permit("2026-01-09")) == Rejection(
            "INPUT",
            "valid_from",
            "the permit cannot be valid before the person was born (2026-01-10)",
        )
        assert admission_refusal(state, self._permit("2026-01-10")) is None


class TestAnOfferFollowsACrisisPlacement:
    """S1 (gap 10): “During crisis accommodation, victims are offered long-term assistance and
    safe accommodation.” An offer with no crisis placement begun by its date departs from it,
    as a placement straight from identification does: admitted with its reason only."""

    def test_an_offer_with_no_crisis_placement_is_refused(self) -> None:
        refusal = _refused(
            opened(EU_ADULT), "safe_accommodation_offered", T0 + days(1), answer="accepted"
        )
        assert refusal == Rejection(
            "S1",
            "reason",
            "safe accommodation is offered during crisis accommodation, and no crisis placement "
            "began by this offer's date: an offer outside crisis accommodation needs its reason "
            "recorded",
        )

    def test_with_its_reason_it_is_admitted(self) -> None:
        assert (
            _refused(
                opened(EU_ADULT),
                "safe_accommodation_offered",
                T0 + days(1),
                answer="accepted",
                reason="placed straight from identification: no crisis bed",
            )
            is None
        )

    def test_from_the_crisis_placement_s_time_on_it_is_admitted(self) -> None:
        state = accept(opened(EU_ADULT), event("crisis_accommodation_placed", T0 + days(5)))
        offer = "safe_accommodation_offered"
        assert _refused(state, offer, T0 + days(5) - timedelta(seconds=1), answer="refused")
        assert _refused(state, offer, T0 + days(5), answer="refused") is None
        assert _refused(state, offer, T0 + days(6), answer="refused") is None

    def test_not_in_a_case_recorded_before_the_seed_s_assistance_rules(self) -> None:
        state = opened(EU_ADULT).model_copy(update={"seed_assistance_rules": False})
        assert _refused(state, "safe_accommodation_offered", T0, answer="accepted") is None


class TestANoteSaysSomething:
    """C1: “the best interest of the child … is assessed in each individual case”; C2: “The
    opinions and wishes of children … is to be established and considered” (gap 10). A note of
    Hangul fillers (U+3164) or braille blanks (U+2800) shows nothing; the event models let it
    through (they may not refuse what stored histories hold), so it is refused at admission."""

    @staticmethod
    def _decision(best: str, views: str) -> Any:
        child = {"best_interests": best, "child_views": views}
        return event("crisis_accommodation_placed", T0 + days(1), child=child)

    @pytest.mark.parametrize(
        "blank",
        ["\u3164", "\u2800", "\u3164 \u2800\u200b", "\ufe0f", "\U00016fe4", "\u2065", "\U000e0080"],
    )
    def test_a_best_interests_note_that_shows_nothing_is_refused(self, blank: str) -> None:
        refusal = admission_refusal(opened(EU_ADULT), self._decision(blank, "wants to stay"))
        assert refusal == Rejection(
            "C1",
            "child.best_interests",
            "a best-interests note cannot be blank: it holds only characters that show "
            "nothing (such as U+3164 or U+2800)",
        )

    def test_the_child_s_views_that_show_nothing_are_refused(self) -> None:
        refusal = admission_refusal(opened(EU_ADULT), self._decision("assessed", "\u2800\u2800"))
        assert refusal is not None and (refusal.rule, refusal.field) == ("C2", "child.child_views")

    def test_text_that_says_something_is_admitted(self) -> None:
        decision = self._decision("assessed\u3164today", "\u2800wants to stay")
        assert admission_refusal(opened(EU_ADULT), decision) is None


class TestACitizenshipNamesACountry:
    """INPUT (gap 10): citizenships are ISO 3166-1 alpha-2 codes (docs/rules.md "The case"):
    the event models check the shape only (two capital letters), so ``QQ`` and a country named
    twice are refused at admission. Kosovo's ``XK`` is admitted, and two user-assigned codes
    for a person with no citizenship to name: ``XX`` stateless, ``ZZ`` not known yet (an
    undocumented victim is identified before any document is found)."""

    def test_an_unknown_code_is_refused_naming_its_position(self) -> None:
        person = {**TCN_ILLEGAL, "citizenships": ["CO", "QQ"]}
        refusal = admission_refusal(None, event("identified", T0, person=person))
        assert refusal == Rejection(
            "INPUT",
            "person.citizenships.1",
            "a citizenship is the ISO 3166-1 alpha-2 code of a country (XK for Kosovo), XX for "
            "a stateless person or ZZ while it is not known: this code is none of them",
        )

    @pytest.mark.parametrize("code", ["XX", "ZZ"])
    def test_a_stateless_person_or_one_of_unknown_citizenship_is_identified(
        self, code: str
    ) -> None:
        """A false refusal here would leave the victim without a case: neither code is
        refused, and the case opens as a third-country national's."""
        person = {**TCN_ILLEGAL, "citizenships": [code]}
        ident = event("identified", T0, person=person)
        assert admission_refusal(None, ident) is None
        state = accept(None, ident)
        assert state.person.is_third_country_national

    @pytest.mark.parametrize("code", ["QQ", "UK", "EU", "XA", "AA"])
    def test_codes_that_name_no_country_are_refused(self, code: str) -> None:
        person = {**TCN_ILLEGAL, "citizenships": [code]}
        refusal = admission_refusal(None, event("identified", T0, person=person))
        assert refusal is not None and refusal.field == "person.citizenships.0"

    def test_a_country_named_twice_is_refused(self) -> None:
        person = {**EU_ADULT, "citizenships": ["DE", "AT", "DE"]}
        refusal = _refused(opened(EU_ADULT), "facts_updated", T0 + days(1), person=person)
        assert refusal == Rejection(
            "INPUT",
            "person.citizenships.2",
            "this citizenship is named twice: name each country once",
        )

    def test_real_countries_and_kosovo_are_admitted(self) -> None:
        for codes in (["XK"], ["CO", "VE"], ["BA", "HR"]):
            person = {**TCN_ILLEGAL, "citizenships": codes}
            if "HR" in codes:
                person["residence_status"] = "eu_citizen"
            assert admission_refusal(None, event("identified", T0, person=person)) is None

    def test_an_accompanying_child_s_citizenships_too(self) -> None:
        refusal = _refused(
            opened(EU_ADULT),
            "accompanying_child_recorded",
            T0 + days(1),
            child_ref="c1",
            citizenships=["DE", "QQ"],
            placed_with="crisis_accommodation",
        )
        assert refusal is not None and refusal.field == "citizenships.1"
