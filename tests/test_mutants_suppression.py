"""Tests that kill mutants of the small-cell suppression, pathway/domain/suppression.py (issue 13;
docs/mutation.md; issue 15 item 3, docs/statistics.md "Publication safety"). Pure: the
functions on hand-made tables and reports, no Temporal server. Each test says what publication
safety requires: which counts are withheld, which relations a reader knows, and that no
withheld count can be worked out from the published ones.
"""

from __future__ import annotations

from collections import Counter
from typing import cast

from pathway.domain.annual import (
    AnnualReport,
    ExitProgrammeYear,
    GenderAge,
    Interviews,
    Participants,
    Persons,
    ProgrammeYear,
)
from pathway.domain.suppression import (
    Cell,
    Relation,
    public_report,
    report_cells,
    report_relations,
    suppress,
    suppressed_cells,
)
from tests.test_suppression import recoverable

A, B, C, E, S, T, U, W, Y, Z = [cast("Cell", (name,)) for name in "abcestuwyz"]

GENDER_AGE = (
    "female_adult",
    "female_minor",
    "male_adult",
    "male_minor",
    "other_or_unknown_adult",
    "other_or_unknown_minor",
)


class TestComplementaryToAFixedPoint:
    def test_a_complement_that_opens_an_earlier_relation(self) -> None:
        """Step 2 is "iterated over all relations to a fixed point": s = x + y comes first and
        has nothing suppressed; t = a + x then takes x as the complement of a = 1, which leaves
        x alone in s, so a second pass must take y (the smallest non-zero part of s), not the
        total t that the exact check would reach for."""
        values = {S: 26, Y: 20, ("x",): 6, T: 7, A: 1}
        x = cast("Cell", ("x",))
        relations = [Relation(S, (x, Y)), Relation(T, (A, x))]
        hidden = suppress(values, relations, 5)
        assert hidden == {A, x, Y}
        assert recoverable(set(hidden), relations) == set()

    def test_a_total_whose_parts_are_all_published_zeros(self) -> None:
        """A small total whose parts are all published zeros (the breakdowns of active =
        entered + continuing need not add up: age is taken at different dates, see
        :func:`report_relations`): no non-zero part is left and the total is the suppressed
        cell, so a zero part goes with it, the first by path; shown ``<k``, which is true."""
        values = {T: 2, C: 0, B: 0}
        assert suppress(values, [Relation(T, (C, B))], 5) == {T, B}

    def test_nothing_left_to_suppress_returns_what_is_suppressed(self) -> None:
        """Step 3 stops when every cell linked to a determined one is suppressed already
        ("nothing more can help") and still returns the suppressed cells: t = a + b and t = a,
        all three small (the relations a reader assumes need not hold exactly), fix b = 0."""
        relations = [Relation(T, (A, B)), Relation(T, (A,))]
        assert suppress({T: 1, A: 1, B: 1}, relations, 5) == frozenset({T, A, B})


class TestExactCheckTakesTheNearestNonZeroCell:
    def test_the_smallest_non_zero_cell_of_a_relation_of_the_determined_cell(self) -> None:
        """t = a + b + e + y + z and s = a + b: a = 1 takes e (5) in t and b (8) in s, and
        then e = t - y - z - s. The exact check withholds the smallest *non-zero* published
        cell sharing a relation with e: y (30), not the zero z (a zero reveals no one and
        hides nothing), nor the total t (44), which comes first by path only."""
        values = {T: 44, S: 9, A: 1, B: 8, E: 5, Y: 30, Z: 0}
        relations = [Relation(T, (A, B, E, Y, Z)), Relation(S, (A, B))]
        hidden = suppress(values, relations, 5)
        assert hidden == {A, B, E, Y}
        assert recoverable(set(hidden), relations) == set()


def _programme() -> ProgrammeYear:
    return ProgrammeYear(entered=Persons(), continuing=Persons(), active=Persons())


def _report(
    identified: Persons | None = None,
    interviews: Interviews | None = None,
    exit_programme: ExitProgrammeYear | None = None,
) -> AnnualReport:
    return AnnualReport(
        year=2026,
        identified=identified or Persons(),
        crisis_accommodation=_programme(),
        safe_accommodation=_programme(),
        reintegration=_programme(),
        all_programmes=Persons(),
        asylum_procedure_interviews=interviews or Interviews(),
        prostitution_exit=exit_programme or ExitProgrammeYear(),
    )


class TestPersonsBlocks:
    def identified(self) -> Persons:
        """Eleven identified: five women from UA, six boys accompanying them (five from UA,
        one from NG)."""
        return Persons(
            persons=11,
            victims=5,
            accompanying_children=6,
            by_gender_age=GenderAge(female_adult=5, male_minor=6),
            victims_by_citizenship={"UA": 5},
            children_by_citizenship={"NG": 1, "UA": 5},
        )

    def test_the_identified_childrens_citizenships(self) -> None:
        """docs/statistics.md: in each block of persons, identified included, "accompanying
        children = theirs" (their citizenships). The one child from NG is withheld, and so is
        the UA children's 5, or 6 - 5 would give the NG child away."""
        hidden = suppressed_cells(_report(identified=self.identified()), 5)
        ident = "identified"
        assert hidden == {
            (ident, "children_by_citizenship", "NG"),
            (ident, "children_by_citizenship", "UA"),
        }
        relations = report_relations(_report(identified=self.identified()))
        children = (ident, "accompanying_children")
        assert (
            Relation(
                children,
                (
                    (ident, "children_by_citizenship", "NG"),
                    (ident, "children_by_citizenship", "UA"),
                ),
            )
            in relations
        )
        persons = (ident, "persons")
        assert Relation(persons, ((ident, "victims"), children)) in relations
        assert Relation(persons, tuple((ident, "by_gender_age", g) for g in GENDER_AGE)) in (
            relations
        )

    def test_the_year_is_not_a_count(self) -> None:
        """report_cells: "every published count of report (all but the year)": the year is
        published as it is whatever k is."""
        report = _report(identified=self.identified())
        cells = report_cells(report)
        assert ("year",) not in cells
        assert cells[("identified", "children_by_citizenship", "NG")] == 1
        assert public_report(report, 5)["year"] == 2026


# -- the registers (P1, X1) ------------------------------------------------------------------

P1 = "asylum_procedure_interviews"
X1 = "prostitution_exit"


def _p1(*path: str) -> Cell:
    return (P1, *path)


def _x1(measure: str, *path: str) -> Cell:
    return (X1, measure, *path)


def _registers() -> AnnualReport:
    """P1: nine interviews, two with suspicion; six women and three boys; seven from SI, two
    from BA. X1 as the seed prints it for active: "seven adult women (six Slovenian and one
    BiH citizen)", and two men from HR; of them three women (two SI, one BA) entered in the
    year, four women (SI) and the two men continued."""
    entered = Participants(
        persons=3,
        by_gender_age=GenderAge(female_adult=3),
        by_citizenship={"BA": 1, "SI": 2},
        by_gender_age_citizenship={"female_adult": {"BA": 1, "SI": 2}},
    )
    continuing = Participants(
        persons=6,
        by_gender_age=GenderAge(female_adult=4, male_adult=2),
        by_citizenship={"HR": 2, "SI": 4},
        by_gender_age_citizenship={"female_adult": {"SI": 4}, "male_adult": {"HR": 2}},
    )
    active = Participants(
        persons=9,
        by_gender_age=GenderAge(female_adult=7, male_adult=2),
        by_citizenship={"BA": 1, "HR": 2, "SI": 6},
        by_gender_age_citizenship={"female_adult": {"BA": 1, "SI": 6}, "male_adult": {"HR": 2}},
    )
    return _report(
        interviews=Interviews(
            interviews=9,
            with_suspicion=2,
            without_suspicion=7,
            by_gender_age=GenderAge(female_adult=6, male_minor=3),
            by_citizenship={"BA": 2, "SI": 7},
        ),
        exit_programme=ExitProgrammeYear(
            entered=entered,
            continuing=continuing,
            active=active,
            sessions={"individual_counselling": 12},
            exits={"left": 1},
        ),
    )


def _register_relations_by_hand() -> list[Relation]:
    """The relations docs/statistics.md lists for P1 and X1, written out for
    :func:`_registers`."""
    interviews = _p1("interviews")
    relations = [
        Relation(interviews, (_p1("with_suspicion"), _p1("without_suspicion"))),
        Relation(interviews, tuple(_p1("by_gender_age", g) for g in GENDER_AGE)),
        Relation(interviews, (_p1("by_citizenship", "BA"), _p1("by_citizenship", "SI"))),
    ]
    countries = {"entered": ("BA", "SI"), "continuing": ("HR", "SI"), "active": ("BA", "HR", "SI")}
    cross: dict[str, dict[str, tuple[str, ...]]] = {
        "entered": {"female_adult": ("BA", "SI")},
        "continuing": {"female_adult": ("SI",), "male_adult": ("HR",)},
        "active": {"female_adult": ("BA", "SI"), "male_adult": ("HR",)},
    }
    for m in ("entered", "continuing", "active"):
        persons = _x1(m, "persons")
        relations += [
            Relation(persons, tuple(_x1(m, "by_gender_age", g) for g in GENDER_AGE)),
            Relation(persons, tuple(_x1(m, "by_citizenship", c) for c in countries[m])),
        ]
        table = "by_gender_age_citizenship"
        for age, inner in cross[m].items():
            parts = tuple(_x1(m, table, age, c) for c in inner)
            relations.append(Relation(_x1(m, "by_gender_age", age), parts))
        for c in countries[m]:
            parts = tuple(_x1(m, table, age, c) for age in cross[m] if c in cross[m][age])
            relations.append(Relation(_x1(m, "by_citizenship", c), parts))
    # active = entered + continuing, cell by cell (a part only where the block has the cell)
    both = ("entered", "continuing")
    active: list[tuple[str, ...]] = [("persons",), *(("by_gender_age", g) for g in GENDER_AGE)]
    active += [("by_citizenship", c) for c in countries["active"]]
    active += [
        ("by_gender_age_citizenship", "female_adult", "BA"),
        ("by_gender_age_citizenship", "female_adult", "SI"),
        ("by_gender_age_citizenship", "male_adult", "HR"),
    ]
    missing: dict[str, set[tuple[str, ...]]] = {
        "entered": {("by_citizenship", "HR"), ("by_gender_age_citizenship", "male_adult", "HR")},
        "continuing": {
            ("by_citizenship", "BA"),
            ("by_gender_age_citizenship", "female_adult", "BA"),
        },
    }
    for rest in active:
        parts = tuple(_x1(m, *rest) for m in both if rest not in missing[m])
        relations.append(Relation(_x1("active", *rest), parts))
    return relations


class TestRegisters:
    def test_the_relations_of_p1_and_x1(self) -> None:
        """docs/statistics.md: "P1: interviews = with + without suspicion = the gender ×
        adult/minor cells = the citizenships; X1, in entered, continuing and active: persons =
        the gender × adult/minor cells = the citizenships; the two-way table: each gender ×
        adult/minor cell = its citizenships, each citizenship = its gender × adult/minor cells;
        and active = entered + continuing, cell by cell". Sessions and exits are in none (no
        total of them is published)."""
        relations = report_relations(_registers())
        registers = [r for r in relations if r.total[0] in (P1, X1)]
        assert Counter(registers) == Counter(_register_relations_by_hand())
        sessions_and_exits = {_x1("sessions", "individual_counselling"), _x1("exits", "left")}
        assert not any(sessions_and_exits & set(r.cells) for r in relations)

    def test_the_one_bih_woman_cannot_be_recovered(self) -> None:
        """The seed's "seven adult women (six Slovenian and one BiH citizen)": with k = 5 the one
        BiH woman (and every other count from 1 to 4) is withheld, and no withheld count
        follows from the published ones by the relations a reader knows (written out by
        hand, not taken from the module)."""
        report = _registers()
        hidden = set(suppressed_cells(report, 5))
        cells = report_cells(report)
        assert {c for c, v in cells.items() if 1 <= v < 5} <= hidden
        assert _x1("active", "by_gender_age_citizenship", "female_adult", "BA") in hidden
        assert recoverable(hidden, _register_relations_by_hand()) == set()
        for relation in _register_relations_by_hand():
            assert sum(c in hidden for c in relation.cells) != 1, relation
        assert cells[_p1("interviews")] == 9
        assert _p1("interviews") not in hidden
