"""Yearly statistics per programme (docs/rules.md "Reports"), checked against the seed's 2022
figures."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from pathway.domain.calendar import LJUBLJANA
from pathway.domain.programmes import Participant, Programme, ProgrammeState
from pathway.domain.state import CaseState
from pathway.domain.statistics import yearly_report
from tests.factories import accept, event, opened

PLACED_2022 = datetime(2022, 5, 10, 12, tzinfo=LJUBLJANA)
_CASES = itertools.count()


def woman(citizenship: str, status: str) -> dict[str, Any]:
    return {
        "birth_date": "1990-01-01",
        "gender": "female",
        "citizenships": [citizenship],
        "residence_status": status,
        "languages": ["en"],
    }


def in_crisis_2022(person: dict[str, Any], children: tuple[tuple[str, str], ...] = ()) -> CaseState:
    at = PLACED_2022
    # Each person a case of their own: the report counts a case ID once (issue 12).
    state = opened(person, at=at - timedelta(days=1)).model_copy(
        update={"case_id": f"case-{next(_CASES)}"}
    )
    state = accept(state, event("ngo_interview_held", at, language="en"))
    state = accept(state, event("crisis_accommodation_placed", at))
    for n, (birth, citizenship) in enumerate(children):
        state = accept(
            state,
            event(
                "accompanying_child_recorded",
                at,
                child_ref=f"child-{n}",
                birth_date=birth,
                gender="female",
                citizenships=[citizenship],
                placed_with="crisis_accommodation",
            ),
        )
    return state


class TestYearlyReport:
    def test_crisis_accommodation_2022_as_in_the_seed(self) -> None:
        """Nine persons placed in 2022: six women (Colombia, Bosnia and Herzegovina, Portugal,
        Germany, two from Venezuela) and three minors, children of two identified victims,
        counted in the placement statistics."""
        tcn = "third_country_illegal"
        cases = [
            in_crisis_2022(woman("CO", tcn)),
            in_crisis_2022(woman("BA", tcn)),
            in_crisis_2022(woman("PT", "eu_citizen"), (("2016-03-01", "PT"), ("2019-08-01", "PT"))),
            in_crisis_2022(woman("DE", "eu_citizen")),
            in_crisis_2022(woman("VE", tcn), (("2018-02-02", "ES"),)),
            in_crisis_2022(woman("VE", tcn)),
        ]
        figures = yearly_report(2022, cases).crisis_accommodation
        assert (figures.persons, figures.female, figures.adults, figures.minors) == (9, 9, 6, 3)
        assert figures.accompanying_children == 3
        assert figures.by_citizenship == {"BA": 1, "CO": 1, "DE": 1, "ES": 1, "PT": 3, "VE": 2}
        assert yearly_report(2023, cases).crisis_accommodation.persons == 0

    def test_prostitution_exit_2022_as_in_the_seed(self) -> None:
        """X1 2022: seven adult women (six Slovenian, one BiH), one under-age girl (Ukraine)
        and three adult men (two Slovenian, one Ukrainian)."""
        people = (
            [("female", "SI", False)] * 6
            + [("female", "BA", False)]
            + [("female", "UA", True)]
            + [("male", "SI", False)] * 2
            + [("male", "UA", False)]
        )
        register = ProgrammeState(
            register_id="programme-prostitution_exit", programme=Programme.PROSTITUTION_EXIT
        )
        for n, (gender, citizenship, minor) in enumerate(people):
            register.participants[f"p-{n}"] = Participant(
                enrolled_at=PLACED_2022, gender=gender, citizenships=[citizenship], minor=minor
            )
        figures = yearly_report(2022, [], [register]).prostitution_exit
        assert (figures.persons, figures.female, figures.male, figures.minors) == (11, 8, 3, 1)
        assert figures.by_citizenship == {"BA": 1, "SI": 8, "UA": 2}


class TestAcrossRunsAndYears:
    """Issue 12: every placement in the year counts, and a person is counted once."""

    def test_a_person_placed_in_two_years_counts_in_both(self) -> None:
        """Placed in crisis accommodation in November 2026 and again in February 2027: the
        state keeps only the latest placement, the timeline both; each year counts them."""
        november = datetime(2026, 11, 20, 18, tzinfo=LJUBLJANA)
        february = datetime(2027, 2, 3, 10, tzinfo=LJUBLJANA)
        state = opened(woman("DE", "eu_citizen"), at=november - timedelta(hours=9))
        state = accept(state, event("ngo_interview_held", november - timedelta(hours=7)))
        state = accept(state, event("crisis_accommodation_placed", november))
        state = accept(state, event("crisis_accommodation_ended", november + timedelta(days=20)))
        state = accept(state, event("crisis_accommodation_placed", february))
        assert state.crisis_accommodation is not None
        assert state.crisis_accommodation.since == february
        assert yearly_report(2026, [state]).crisis_accommodation.persons == 1
        assert yearly_report(2027, [state]).crisis_accommodation.persons == 1
        assert yearly_report(2025, [state]).crisis_accommodation.persons == 0

    def test_two_episodes_of_one_person_count_once(self) -> None:
        """The states of two episodes of one case (the person identified again after the first
        closed), both placed in 2022: one person."""
        first, second = in_crisis_2022(woman("CO", "third_country_illegal")), None
        second = first.model_copy(deep=True)
        figures = yearly_report(2022, [first, second]).crisis_accommodation
        assert figures.persons == 1
