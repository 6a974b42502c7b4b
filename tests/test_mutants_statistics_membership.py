"""Tests that kill surviving mutants of the yearly statistics and of case membership (issue 13;
docs/mutation.md): ``pathway/domain/statistics.py`` and ``pathway/domain/membership.py``.

Pure: no Temporal server. Each test names the rule it keeps (docs/rules.md "Reports" for the
figures, R1, R2, K1, K4, K5, K7, S1, S4, C3, C4, I1 and MEMBERS for membership) and asserts what
the rule requires, never a value copied from a run.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from pathway.domain.calendar import LJUBLJANA, local_date
from pathway.domain.membership import (
    REFERRALS,
    Act,
    MemberRole,
    Membership,
    MembershipRefused,
    add_member,
    derive_membership,
    end,
    grant,
    remove_member,
)
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import Gender
from pathway.domain.programmes import Participant, PatsInterview, Programme, ProgrammeState
from pathway.domain.rules import fire_due
from pathway.domain.state import CaseState
from pathway.domain.statistics import entered_in, yearly_report
from tests.factories import EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened

# -- the yearly statistics (docs/rules.md "Reports"; the seed's 2022 figures) -------------------

PLACED = datetime(2026, 5, 10, 12, tzinfo=LJUBLJANA)
PLACED_DAY = local_date(PLACED)


def person(
    gender: str = "female", birth: str = "1990-01-01", citizenship: str = "DE"
) -> dict[str, Any]:
    return {
        "birth_date": birth,
        "gender": gender,
        "citizenships": [citizenship],
        "residence_status": "eu_citizen",
        "languages": ["en"],
    }


def in_crisis(case_id: str, who: dict[str, Any] | None = None, **child: Any) -> CaseState:
    """A case identified the day before ``PLACED`` and placed in crisis accommodation then
    (``child``: C1's note and C4's qualified personnel, for a child's case)."""
    state = opened(who or person(), at=PLACED - timedelta(days=1))
    state = state.model_copy(update={"case_id": case_id})
    interview = event("ngo_interview_held", PLACED - timedelta(hours=2), language="en", **child)
    state = accept(state, interview)
    note = {"child": child["child"]} if "child" in child else {}
    return accept(state, event("crisis_accommodation_placed", PLACED, **note))


def with_child(state: CaseState, ref: str, placed_with: str, **age: Any) -> CaseState:
    return accept(
        state,
        event(
            "accompanying_child_recorded",
            PLACED,
            child_ref=ref,
            gender="female",
            citizenships=["DE"],
            placed_with=placed_with,
            **age,
        ),
    )


def years_before(day: date, years: int) -> str:
    return day.replace(year=day.year - years).isoformat()


class TestWhoIsCountedInWhichProgramme:
    def test_entering_a_programme_is_the_placement_not_the_identification(self) -> None:
        """Reports, issue 12: a person counts in a programme from the placement (or enrolment)
        the timeline records, not from any other entry: identified in December 2025 and placed
        in January 2026, they count in 2026's crisis accommodation and not in 2025's; a case
        never placed counts in no programme."""
        identified = datetime(2025, 12, 30, 10, tzinfo=LJUBLJANA)
        placed = datetime(2026, 1, 5, 10, tzinfo=LJUBLJANA)
        state = opened(person(), at=identified)
        state = accept(state, event("ngo_interview_held", identified + timedelta(hours=1)))
        assert entered_in(state, "crisis_accommodation", 2025) is None
        state = accept(state, event("crisis_accommodation_placed", placed))
        assert entered_in(state, "crisis_accommodation", 2025) is None
        assert entered_in(state, "crisis_accommodation", 2026) == placed
        assert yearly_report(2025, [state]).crisis_accommodation.persons == 0
        never = opened(person(), at=placed).model_copy(update={"case_id": "case-never"})
        report = yearly_report(2026, [never])
        for figures in (report.crisis_accommodation, report.safe_accommodation):
            assert figures.persons == 0
        assert report.reintegration.persons == 0

    def test_the_placement_the_state_holds_counts_without_its_timeline_entry(self) -> None:
        """Reports (entered_in): the placement or enrolment the state holds counts as well as
        those in the timeline, so a state whose timeline does not name it (a hand-made or
        older state) still counts the person."""
        placed = in_crisis("case-a")
        bare = placed.model_copy(update={"timeline": []})
        assert entered_in(bare, "crisis_accommodation", 2026) == PLACED
        enrolled = accept(
            opened(dict(EU_ADULT)), event("criminal_proceedings_opened", T0 + days(1))
        )
        enrolled = accept(enrolled, event("reintegration_enrolled", T0 + days(2)))
        bare = enrolled.model_copy(update={"timeline": []})
        assert entered_in(bare, "reintegration", T0.year) == T0 + days(2)

    def test_safe_accommodation_and_reintegration_are_counted(self) -> None:
        """Reports: a person moved from crisis to safe accommodation counts in both, without
        the child placed with her in crisis accommodation counting in safe accommodation; a
        person enrolled in reintegration counts there."""
        state = with_child(in_crisis("case-a"), "child-1", "crisis_accommodation")
        state = accept(
            state, event("further_support_decided", PLACED + days(1), option="safe_accommodation")
        )
        state = accept(state, event("safe_accommodation_placed", PLACED + days(2)))
        enrolled = accept(
            opened(dict(EU_ADULT)), event("criminal_proceedings_opened", T0 + days(1))
        )
        enrolled = accept(enrolled, event("reintegration_enrolled", T0 + days(2)))
        enrolled = enrolled.model_copy(update={"case_id": "case-b"})
        report = yearly_report(2026, [state, enrolled])
        crisis, safe = report.crisis_accommodation, report.safe_accommodation
        assert (crisis.persons, crisis.accompanying_children) == (2, 1)
        assert (safe.persons, safe.accompanying_children, safe.adults) == (1, 0, 1)
        assert (report.reintegration.persons, report.reintegration.female) == (1, 1)
        assert yearly_report(2025, [state, enrolled]).reintegration.persons == 0


class TestAgeGenderCitizenship:
    def test_a_minor_victim_counts_as_a_minor(self) -> None:
        """Reports ("adult/minor", as in the seed's 2022 figures): the victim's age on the day
        of the placement decides."""
        child = person(birth=years_before(PLACED_DAY, 16))
        note = {"best_interests": "Safe with her peers", "child_views": "Wants to stay"}
        placed = in_crisis("case-a", child, child=note, qualified_personnel=True)
        figures = yearly_report(2026, [placed]).crisis_accommodation
        assert (figures.persons, figures.minors, figures.adults) == (1, 1, 0)

    def test_an_accompanying_childs_age_on_the_day_of_the_placement(self) -> None:
        """Reports: a child placed with the victim counts as a minor while under 18 on the day
        of the placement, by the birth date, else the age estimate carried forward from its
        day, else (no age recorded) as the child placed with the victim: 18 that day is an
        adult."""
        estimate_day = PLACED_DAY - timedelta(days=400)  # one whole year and a bit before
        state = in_crisis("case-a")
        children: dict[str, dict[str, Any]] = {
            "child-18": {"birth_date": years_before(PLACED_DAY, 18)},  # 18 that day: adult
            "child-17": {"birth_date": years_before(PLACED_DAY + timedelta(days=1), 18)},
            "est-18": {
                "age_estimate": {"years": 17, "as_of": estimate_day.isoformat(), "source": "doctor"}
            },
            "est-17": {
                "age_estimate": {"years": 16, "as_of": estimate_day.isoformat(), "source": "doctor"}
            },
            "no-age": {},
        }
        for ref, age in children.items():
            state = with_child(state, ref, "crisis_accommodation", **age)
        figures = yearly_report(2026, [state]).crisis_accommodation
        assert figures.accompanying_children == 5
        # Adults: the victim, child-18 and est-18; minors: child-17, est-17, no-age.
        assert (figures.persons, figures.adults, figures.minors) == (6, 3, 3)

    def test_every_other_or_unknown_gender_counts(self) -> None:
        """Reports ("by gender"): each person of a gender other than female or male, or not
        known, is one more in ``other_or_unknown_gender``."""
        cases = [
            in_crisis("case-a", person(gender="unknown")),
            in_crisis("case-b", person(gender="transgender_nonconforming")),
            in_crisis("case-c", person(gender="male")),
        ]
        figures = yearly_report(2026, cases).crisis_accommodation
        assert (figures.female, figures.male, figures.other_or_unknown_gender) == (0, 1, 2)

    def test_no_citizenship_recorded_counts_as_unknown(self) -> None:
        """Reports ("by citizenship"): the registers' models allow a participant without a
        citizenship; they are counted under the key ``unknown``, beside the country codes."""
        register = ProgrammeState(
            register_id="programme-prostitution_exit", programme=Programme.PROSTITUTION_EXIT
        )
        for ref, citizenships in (("p-1", []), ("p-2", ["SI"]), ("p-3", [])):
            register.participants[ref] = Participant(
                enrolled_at=PLACED, gender=Gender.FEMALE, citizenships=citizenships, minor=False
            )
        figures = yearly_report(2026, [], [register]).prostitution_exit
        assert figures.by_citizenship == {"SI": 1, "unknown": 2}


def interview(
    at: datetime, gender: Gender, citizenship: str, minor: bool, suspicion: bool
) -> PatsInterview:
    return PatsInterview(
        at=at,
        organisation=Org.KLJUC,
        gender=gender,
        citizenships=[citizenship],
        minor=minor,
        age_appropriate=True,
        shortened_at_placement=False,
        suspicion=suspicion,
    )


class TestAsylumProcedureInterviews:
    def test_p1_each_interview_in_the_year_counts_with_its_suspicion(self) -> None:
        """P1, Reports: every individual interview in an asylum procedure in the year counts
        (whatever its outcome), by gender, age and citizenship, and those that raised a
        suspicion of trafficking are counted; interviews of other years are not."""
        register = ProgrammeState(register_id="programme-pats", programme=Programme.PATS)
        register.interviews = [
            interview(PLACED, Gender.FEMALE, "UA", True, True),
            interview(PLACED + days(1), Gender.MALE, "SY", False, True),
            interview(PLACED + days(2), Gender.UNKNOWN, "AF", False, False),
            interview(datetime(2025, 6, 1, tzinfo=LJUBLJANA), Gender.FEMALE, "UA", True, True),
        ]
        figures = yearly_report(2026, [], [register]).asylum_procedure_interviews
        assert (figures.persons, figures.female, figures.male, figures.other_or_unknown_gender) == (
            3,
            1,
            1,
            1,
        )
        assert (figures.minors, figures.adults) == (1, 2)
        assert figures.by_citizenship == {"AF": 1, "SY": 1, "UA": 1}
        assert figures.interviews_with_suspicion == 2
        assert yearly_report(2025, [], [register]).asylum_procedure_interviews.persons == 1


# -- membership (docs/rules.md "Access", R6, MEMBERS) --------------------------------------------


def held(records: list[Membership]) -> set[tuple[str, str, str]]:
    """(organisation, role, rule) of the records in force."""
    return {(m.organisation.value, m.role.value, m.rule) for m in records if m.is_active}


def dated(records: list[Membership]) -> set[tuple[str, str, str, datetime]]:
    return {(m.organisation.value, m.role.value, m.rule, m.since) for m in records if m.is_active}


def minor(years: int, **facts: Any) -> dict[str, Any]:
    return {
        "birth_date": years_before(local_date(T0) + timedelta(days=30), years),
        "gender": "female",
        "citizenships": ["AF"],
        "residence_status": "international_protection_applicant",
        "languages": ["ps"],
        **facts,
    }


def _interviewed() -> CaseState:
    return accept(opened(), event("ngo_interview_held", T0 + timedelta(hours=2)))


def _reintegration() -> CaseState:
    state = accept(opened(dict(EU_ADULT)), event("criminal_proceedings_opened", T0 + days(1)))
    return accept(state, event("reintegration_enrolled", T0 + days(2)))


def _special_needs() -> CaseState:
    state = opened()
    for need, provider in (("pregnancy", "kljuc"), ("disability", "caritas")):
        state = accept(
            state, event("special_need_flagged", T0 + days(1), need=need, provider=provider)
        )
    return accept(
        state,
        event("special_need_referral_made", T0 + days(2), need="pregnancy", organisation="kljuc"),
    )


def _permit() -> CaseState:
    at = T0 + days(1)
    return accept(
        opened(TCN_ILLEGAL),
        event("permit_to_stay_granted", at, valid_from=at.date().isoformat(), basis="on_request"),
    )


def _crisis_ended() -> CaseState:
    state = accept(_interviewed(), event("crisis_accommodation_placed", T0 + days(1)))
    return accept(state, event("crisis_accommodation_ended", T0 + days(3)))


def _referred(option: str) -> CaseState:
    state = accept(_interviewed(), event("crisis_accommodation_placed", T0 + days(1)))
    return accept(state, event("further_support_decided", T0 + days(2), option=option))


def _child_turned_18() -> CaseState:
    state = opened(minor(17, unaccompanied=True))
    state, _ = fire_due(state, T0 + days(60))
    return state


CASES = {
    "identified by UOIM": lambda: accept(None, event("identified", organisation="uoim")),
    "interviewed": _interviewed,
    "a child": lambda: opened(minor(14, unaccompanied=True)),
    "a child who turned 18": _child_turned_18,
    "a permit to stay": _permit,
    "in crisis accommodation": lambda: accept(
        _interviewed(), event("crisis_accommodation_placed", T0 + days(1))
    ),
    "crisis accommodation ended": _crisis_ended,
    "referred for safe accommodation": lambda: _referred("safe_accommodation"),
    "referred to reintegration": lambda: _referred("reintegration"),
    "in safe accommodation": lambda: accept(
        _referred("safe_accommodation"), event("safe_accommodation_placed", T0 + days(3))
    ),
    "in reintegration": _reintegration,
    "special needs": _special_needs,
}
#: Dates the state does not keep: the derived record is dated from the opening of the case.
UNDATED = {
    ("police", "residence_authority", "K7"),
    ("kljuc", "referred", "S1"),
    ("kljuc", "referred", "I1"),
}


class TestMembersOfACaseRecordedBeforeMembership:
    @pytest.mark.parametrize("name", CASES)
    def test_derived_members_are_those_the_rules_give(self, name: str) -> None:
        """R6, MEMBERS: a case recorded before membership existed gets, read from its state,
        the members the rules would have given it: the same organisations in the same roles
        under the same rules (R1, R2, K1, K4, K5, K7, S1, S4, C3, C4, I1), since the same
        time where the state keeps it. Only the lead NGO is derived under R2 whatever moved
        it (its rule is not kept)."""
        state = CASES[name]()
        derived = derive_membership(state)
        lead = ("lead_ngo",)
        assert {h for h in held(derived) if h[1:2] != lead} == {
            h for h in held(state.membership) if h[1:2] != lead
        }
        assert {d for d in dated(derived) if d[:3] not in UNDATED and d[1:2] != lead} == {
            d for d in dated(state.membership) if d[:3] not in UNDATED and d[1:2] != lead
        }
        assert (state.lead_ngo.value, "lead_ngo", "R2") in held(derived)
        assert all(
            m.since == state.opened_at
            for m in derived
            if (m.organisation.value, m.role.value, m.rule) in UNDATED
        )

    def test_the_derived_cases_cover_each_role_the_rules_give(self) -> None:
        """The cases above reach every branch of the derivation: a check on the test itself
        (each rule's record appears in at least one derived case)."""
        seen = set().union(*(held(derive_membership(build())) for build in CASES.values()))
        rules = {rule for _, _, rule in seen}
        assert {"R1", "R2", "K1", "K4", "K7", "S1", "S4", "C3", "C4", "I1"} <= rules
        assert {rule for rule, _ in REFERRALS.values()} <= rules

    def test_r1_without_an_identification_in_the_timeline_the_police_identified(self) -> None:
        """R1: the identifying authority is the organisation of the timeline's
        identification; a state whose timeline keeps none (older, or trimmed) is taken as
        identified by the police, the usual identifying authority, and not by whoever acted
        first in what is left."""
        state = _interviewed()
        trimmed = state.model_copy(
            update={"timeline": [t for t in state.timeline if t.what != "identified"]}
        )
        assert trimmed.timeline and trimmed.timeline[0].organisation is Org.CARITAS
        derived = held(derive_membership(trimmed))
        assert ("police", "identifying_authority", "R1") in derived
        assert not [h for h in derived if h[1] == "identifying_authority" and h[0] != "police"]


NOW = T0 + days(3)


class TestEndingARole:
    def test_members_end_returns_the_records_it_ended_stamped(self) -> None:
        """MEMBERS: ``end`` ends every active record of the role (only the one given under
        ``given_by``, if named) and returns those records as they now stand in the list:
        stamped with when, by whom, under which rule and why; other records are untouched."""
        records: list[Membership] = []
        given = Act("K1", "provides crisis accommodation (K1)", T0, "caritas")
        grant(records, Org.CARITAS, MemberRole.PROVIDER, given)
        grant(records, Org.CARITAS, MemberRole.PROVIDER, Act("MEMBERS", "Ticket 42", T0, "op"))
        grant(records, Org.CARITAS, MemberRole.LEAD_NGO, Act("R2", "leads", T0, "police"))
        by_rule = end(
            records, Org.CARITAS, MemberRole.PROVIDER, Act("K1", "ended", NOW, "caritas"), "K1"
        )
        assert by_rule == [records[0]]
        assert (by_rule[0].removed_at, by_rule[0].removed_by, by_rule[0].removed_rule) == (
            NOW,
            "caritas",
            "K1",
        )
        assert by_rule[0].removed_why == "ended"
        rest = end(
            records, Org.CARITAS, MemberRole.PROVIDER, Act("MEMBERS", "Ticket 43", NOW, "op")
        )
        assert rest == [records[1]] and rest[0].removed_rule == "MEMBERS"
        assert records[2].is_active
        assert end(records, Org.CARITAS, MemberRole.PROVIDER, Act("MEMBERS", "x", NOW, "op")) == []


class TestOperatorRefusals:
    def test_members_removing_an_analyst_is_refused_as_an_analyst(self) -> None:
        """MEMBERS: an analyst is never a member of a case, so removing one is refused at
        ``organisation`` (analysts read aggregates only), not as a role not held."""
        with pytest.raises(MembershipRefused) as refused:
            remove_member(opened(), Org.ANALYST, MemberRole.REFERRED, by="ops-1", why="x", now=NOW)
        assert (refused.value.rule, refused.value.field) == ("MEMBERS", "organisation")

    def test_members_the_operators_removal_is_recorded_under_members(self) -> None:
        """MEMBERS: a role the operator ends is stamped with the rule MEMBERS (the operator's
        changes), whatever rule gave it."""
        state = accept(None, event("identified", organisation="uoim"))
        removed = remove_member(
            state, Org.POLICE, MemberRole.ASSIGNED, by="ops-1", why="Court order 7", now=NOW
        )
        (ended,) = [
            m for m in removed.membership if m.organisation is Org.POLICE and not m.is_active
        ]
        assert (ended.rule, ended.removed_rule) == ("R2", "MEMBERS")

    @pytest.mark.parametrize(
        ("change", "field", "named"),
        [
            (("add", Org.KLJUC, MemberRole.LEAD_NGO, "x"), "role", ("lead_ngo",)),
            (("add", Org.KLJUC, MemberRole.REFERRED, " "), "why", ("reason",)),
            (("add", Org.CARITAS, MemberRole.ASSIGNED, "x"), "role", ("caritas", "assigned")),
            (("remove", Org.KLJUC, MemberRole.REFERRED, "x"), "role", ("kljuc", "referred")),
        ],
    )
    def test_members_a_refusal_says_what_is_wrong(
        self, change: tuple[str, Org, MemberRole, str], field: str, named: tuple[str, ...]
    ) -> None:
        """MEMBERS: a refused change keeps its reason, and its message is that reason, naming
        the role or organisation at fault (or asking for the reason missing)."""
        action, org, role, why = change
        make = add_member if action == "add" else remove_member
        with pytest.raises(MembershipRefused) as refused:
            make(opened(), org, role, by="o", why=why, now=NOW)
        assert refused.value.field == field
        assert str(refused.value) == refused.value.reason
        assert all(word in refused.value.reason for word in named)
