"""Publication safety of the annual report (issue 15 item 3; docs/statistics.md, "Publication
safety"): small-cell and complementary suppression, checked by hand, by a Hypothesis property
over random tables (no suppressed cell is determined by the published ones, by an independent
rank test over the rationals), and through ``pathway report annual --public --k 3``."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import cast

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway import cli
from pathway.domain.annual import AnnualReport, GenderAge, Persons, ProgrammeYear
from pathway.domain.suppression import (
    Cell,
    Relation,
    determined_cells,
    public_report,
    report_relations,
    suppress,
    suppressed_cells,
)
from tests.test_cli_input import run as run_cli
from tests.test_statistics_ledger import SCHEMA, at, case, ledger_of, person, then, var

__all__ = ["var"]  # the fixture, shared with tests/test_statistics_ledger.py

A, B, C, D, E, S, T, X, Z = [cast("Cell", (name,)) for name in "abcdestxz"]


class TestSuppress:
    def test_a_small_part_and_its_smallest_neighbour(self) -> None:
        """t = a + b + c + d, a = 3 < 5: a, then the smallest non-zero part (c, before d;
        not b = 0)."""
        values = {T: 15, A: 3, B: 0, C: 6, D: 6}
        relation = Relation(T, (A, B, C, D))
        assert suppress(values, [relation], 5) == {A, C}

    def test_zero_stays_published(self) -> None:
        """A zero is not suppressed; the small total and its only non-zero part are."""
        assert suppress({T: 3, A: 3, B: 0}, [Relation(T, (A, B))], 5) == {T, A}

    def test_the_total_when_no_part_is_left(self) -> None:
        """s = a + x, t = x + z: a = 2 is small, x (9) complements it in s, and in t the
        other part is zero, so the total t goes too."""
        values = {S: 11, A: 2, X: 9, T: 9, Z: 0}
        relations = [Relation(S, (A, X)), Relation(T, (X, Z))]
        assert suppress(values, relations, 5) == {A, X, T}

    def test_no_small_cell_nothing_suppressed(self) -> None:
        assert suppress({T: 10, A: 5, B: 5}, [Relation(T, (A, B))], 5) == frozenset()

    def test_nested_totals_need_the_exact_check(self) -> None:
        """t = a + b + e and s = a + b, a = 1: e (5) complements a in t, b (8) in s; then
        e = t - s would be recovered, so t goes too."""
        values = {T: 14, S: 9, A: 1, B: 8, E: 5}
        relations = [Relation(T, (A, B, E)), Relation(S, (A, B))]
        assert determined_cells({A, B, E}, relations) == {E}
        assert suppress(values, relations, 5) == {A, B, E, T}
        assert determined_cells({A, B, E, T}, relations) == set()

    def test_a_two_way_table(self) -> None:
        """2 × 2 with margins: suppressing one row's two cells leaves them recoverable from
        the columns; the four inner cells together are not."""
        cells: dict[str, Cell] = {n: (n,) for n in ("a", "b", "c", "d", "r1", "r2", "c1", "c2")}
        a, b, c, d = cells["a"], cells["b"], cells["c"], cells["d"]
        relations = [
            Relation(cells["r1"], (a, b)),
            Relation(cells["r2"], (c, d)),
            Relation(cells["c1"], (a, c)),
            Relation(cells["c2"], (b, d)),
        ]
        assert determined_cells({a, b}, relations) == {a, b}
        assert determined_cells({a, b, c, d}, relations) == set()
        values = {a: 1, b: 7, c: 8, d: 9, cells["r1"]: 8, cells["r2"]: 17}
        values |= {cells["c1"]: 9, cells["c2"]: 16}
        assert suppress(values, relations, 5) == {a, b, c, d}

    def test_k_below_2_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least 2"):
            suppress({A: 1}, [], 1)


# -- the property ---------------------------------------------------------------------------------


@st.composite
def tables(draw: st.DrawFn) -> tuple[dict[Cell, int], list[Relation], int]:
    """A two-way table with row, column and grand totals (the grand total twice), then a few
    totals over random sets of cells already there (nested and overlapping, as a report's
    blocks are), all consistent."""
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    small = st.integers(0, 12)
    values: dict[Cell, int] = {
        ("g", str(i), str(j)): draw(small) for i in range(rows) for j in range(cols)
    }
    relations: list[Relation] = []
    for i in range(rows):
        parts = tuple(("g", str(i), str(j)) for j in range(cols))
        relations.append(Relation(("row", str(i)), parts))
        values[("row", str(i))] = sum(values[p] for p in parts)
    for j in range(cols):
        parts = tuple(("g", str(i), str(j)) for i in range(rows))
        relations.append(Relation(("col", str(j)), parts))
        values[("col", str(j))] = sum(values[p] for p in parts)
    grand = ("grand",)
    values[grand] = sum(values[("row", str(i))] for i in range(rows))
    relations.append(Relation(grand, tuple(("row", str(i)) for i in range(rows))))
    relations.append(Relation(grand, tuple(("col", str(j)) for j in range(cols))))
    for n in range(draw(st.integers(0, 4))):
        parts = tuple(draw(st.sets(st.sampled_from(sorted(values)), min_size=1, max_size=5)))
        total = ("extra", str(n))
        values[total] = sum(values[p] for p in parts)
        relations.append(Relation(total, parts))
    return values, relations, draw(st.integers(2, 6))


def _rank(rows: list[list[Fraction]]) -> int:
    """The rank of ``rows`` (Gaussian elimination over the rationals; not the module's)."""
    rows = [list(r) for r in rows]
    rank = 0
    for col in range(len(rows[0]) if rows else 0):
        pivot = next((r for r in range(rank, len(rows)) if rows[r][col] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for r in range(rank + 1, len(rows)):
            factor = rows[r][col] / rows[rank][col]
            rows[r] = [x - factor * y for x, y in zip(rows[r], rows[rank], strict=True)]
        rank += 1
    return rank


def recoverable(hidden: set[Cell], relations: list[Relation]) -> set[Cell]:
    """The hidden cells that are a fixed linear combination of the published ones: with the
    published cells fixed, the relations are A·x = const over the hidden cells x; a cell is
    fixed iff its unit vector lies in the row space of A, i.e. appending it keeps the rank
    (otherwise some direction in the null space of A moves it)."""
    columns = sorted(hidden)
    matrix = []
    for relation in relations:
        row = [Fraction(0)] * len(columns)
        for i, cell in enumerate(columns):
            row[i] += (cell == relation.total) - relation.parts.count(cell)
        matrix.append(row)
    base = _rank(matrix)
    found = set()
    for i, cell in enumerate(columns):
        unit = [Fraction(int(i == j)) for j in range(len(columns))]
        if _rank([*matrix, unit]) == base:
            found.add(cell)
    return found


class TestProperty:
    @settings(max_examples=150, deadline=None)
    @given(tables())
    def test_no_suppressed_cell_can_be_recovered(
        self, table: tuple[dict[Cell, int], list[Relation], int]
    ) -> None:
        values, relations, k = table
        hidden = set(suppress(values, relations, k))
        assert {c for c, v in values.items() if 1 <= v < k} <= hidden
        for relation in relations:
            assert sum(c in hidden for c in relation.cells) != 1, relation
        assert recoverable(hidden, relations) == set()


# -- the annual report ---------------------------------------------------------------------------


def _six_women_and_a_girl() -> Persons:
    return Persons(
        persons=7,
        victims=6,
        accompanying_children=1,
        by_gender_age=GenderAge(female_adult=6, female_minor=1),
        victims_by_citizenship={"PT": 6},
        children_by_citizenship={"PT": 1},
    )


class TestReport:
    def report(self) -> AnnualReport:
        crisis = ProgrammeYear(
            entered=_six_women_and_a_girl(),
            continuing=Persons(),
            active=_six_women_and_a_girl(),
            exits={"ended": 7},
        )
        return AnnualReport(
            year=2026,
            identified=Persons(),
            crisis_accommodation=crisis,
            safe_accommodation=ProgrammeYear(
                entered=Persons(), continuing=Persons(), active=Persons()
            ),
            reintegration=ProgrammeYear(entered=Persons(), continuing=Persons(), active=Persons()),
            all_programmes=Persons(),
        )

    def test_six_women_and_a_girl(self) -> None:
        """The girl (1), her citizenship and the children's count are small; each relation
        takes a complement: the women (persons = gender × age), the victims (persons = victims
        + children) and so the victims' citizenship. The persons stay published, in entered
        and in active (active = entered + continuing), and so do the exits."""
        hidden = suppressed_cells(self.report(), 5)
        block = {
            ("by_gender_age", "female_minor"),
            ("by_gender_age", "female_adult"),
            ("accompanying_children",),
            ("victims",),
            ("children_by_citizenship", "PT"),
            ("victims_by_citizenship", "PT"),
        }
        expected = {
            ("crisis_accommodation", m, *cell) for m in ("entered", "active") for cell in block
        }
        assert hidden == expected

    def test_relations_of_the_report(self) -> None:
        relations = report_relations(self.report())
        entered = ("crisis_accommodation", "entered")
        assert (
            Relation((*entered, "victims"), ((*entered, "victims_by_citizenship", "PT"),))
            in relations
        )
        assert (
            Relation(
                ("crisis_accommodation", "active", "persons"),
                (
                    ("crisis_accommodation", "entered", "persons"),
                    ("crisis_accommodation", "continuing", "persons"),
                ),
            )
            in relations
        )
        hidden = set(suppressed_cells(self.report(), 5))
        assert recoverable(hidden, relations) == set()

    def test_public_json_validates_against_the_schema(self) -> None:
        """Suppressed cells are ``{"suppressed": true, "below": k}`` in the JSON, which the
        committed schema accepts; a malformed one it refuses."""
        schema = json.loads(SCHEMA.read_text())
        assert schema == AnnualReport.model_json_schema()
        data = public_report(self.report(), 5)
        entered = data["crisis_accommodation"]["entered"]
        assert entered["by_gender_age"]["female_minor"] == {"suppressed": True, "below": 5}
        assert entered["persons"] == 7
        validator = jsonschema_rs.validator_for(schema)
        validator.validate(data)
        entered["victims"] = {"suppressed": True, "below": 1}
        assert not validator.is_valid(data)
        entered["victims"] = -1
        assert not validator.is_valid(data)


class TestPublicCommand:
    def run(self, *argv: str) -> tuple[int, str, str]:
        return run_cli(*argv)

    def test_public_k3_in_json_csv_and_table(self, var: Path) -> None:
        """Two women from PT and a man from CO enter crisis accommodation: with k = 3 the 3
        persons and victims stay, the 2 women and 1 man go (each other's complement), and so
        do PT 2 and CO 1."""
        states = []
        for gender, citizenship in (("female", "PT"), ("female", "PT"), ("male", "CO")):
            state = case(person(gender, citizenship), at(2026, 5, 9))
            states.append(then(state, "crisis_accommodation_placed", at(2026, 5, 10)))
        ledger_of(var, *states)
        argv = ("report", "annual", "--year", "2026", "--public", "--k", "3")
        code, out, err = self.run(*argv, "--format", "json")
        assert (code, err) == (cli.EXIT_OK, "")
        data = json.loads(out)
        jsonschema_rs.validator_for(json.loads(SCHEMA.read_text())).validate(data)
        entered = data["crisis_accommodation"]["entered"]
        hidden = {"suppressed": True, "below": 3}
        assert (entered["persons"], entered["victims"]) == (3, 3)
        assert entered["by_gender_age"]["female_adult"] == hidden
        assert entered["by_gender_age"]["male_adult"] == hidden
        assert entered["by_gender_age"]["female_minor"] == 0
        assert entered["victims_by_citizenship"] == {"CO": hidden, "PT": hidden}
        code, out, _ = self.run(*argv, "--format", "csv")
        lines = out.splitlines()
        assert "crisis_accommodation,entered,by_gender_age.female_adult,<3" in lines
        assert "crisis_accommodation,entered,victims_by_citizenship.PT,<3" in lines
        assert "crisis_accommodation,entered,persons,3" in lines
        assert not any(line.endswith((",1", ",2")) for line in lines)
        code, out, _ = self.run(*argv)
        assert "entered in the year: 3 person(s): 3 victim(s)" in out
        assert "women <3, girls 0, men <3" in out
        assert "victims' citizenship: CO <3, PT <3" in out

    def test_without_public_nothing_is_suppressed(self, var: Path) -> None:
        state = case(person("male", "CO"), at(2026, 5, 9))
        ledger_of(var, then(state, "crisis_accommodation_placed", at(2026, 5, 10)))
        code, out, _ = self.run("report", "annual", "--year", "2026", "--format", "csv")
        assert code == cli.EXIT_OK
        assert "crisis_accommodation,entered,by_gender_age.male_adult,1" in out.splitlines()

    @pytest.mark.parametrize(
        ("argv", "message"),
        [(("--k", "3"), "goes with --public"), (("--public", "--k", "1"), "at least 2")],
    )
    def test_bad_k(self, var: Path, argv: tuple[str, ...], message: str) -> None:
        code, out, err = self.run("report", "annual", "--year", "2026", *argv)
        assert (code, out) == (cli.EXIT_BAD_INPUT, "")
        assert message in err
