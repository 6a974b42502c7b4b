"""The programme registers in the statistics ledger and the annual report (issue 15 items 1-3,
docs/statistics.md): P1 (PATS) interviews with and without suspicion, X1 (prostitution exit)
enrolments, active persons, counselling sessions and exits, by gender × adult/minor and
citizenship.

Simulated event streams go through the register's own rules
(:func:`~pathway.domain.programmes.decide_programme`), their facts
(:func:`~pathway.domain.ledger.register_facts`) anonymised into a real SQLite ledger, and the
report is checked against figures counted here by hand or, in the properties, counted from the
events by an independent tally. One test runs the register workflow on the time-skipping
server with the real workers (patch ``programme-statistics-ledger``)."""

from __future__ import annotations

import io
import itertools
import json
import os
from collections import Counter
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.async_api import Browser
from temporalio.testing import WorkflowEnvironment

from pathway import cli
from pathway.activities.statistics import StatisticsRecorder
from pathway.cli.report import backfill_registers
from pathway.clients.programmes import record_programme_event
from pathway.domain.annual import AnnualReport, annual_report
from pathway.domain.calendar import local_date
from pathway.domain.ledger import (
    LedgerEvent,
    LedgerProgramme,
    PersonRole,
    anonymise,
    register_facts,
)
from pathway.domain.programmes import (
    PROGRAMME_EVENT_ADAPTER,
    Programme,
    ProgrammeState,
    decide_programme,
    register_id,
)
from pathway.domain.rules import Rejection
from pathway.domain.suppression import Cell, Relation, report_cells, suppressed_cells
from pathway.statistics_ledger import SqliteLedger
from tests.harness import LEDGER_SECRET, MemoryLedger, bench
from tests.receivers import eventually
from tests.test_cli_input import run as run_cli
from tests.test_gateway_docs_browser import browser  # noqa: F401 (fixture)
from tests.test_report_html import chart_texts, write_page
from tests.test_statistics_ledger import SCHEMA, at, var  # noqa: F401 (fixture)
from tests.test_statistics_progress import read_all

_IDS = itertools.count()


def register(programme: Programme) -> ProgrammeState:
    return ProgrammeState(register_id=register_id(programme), programme=programme)


def apply(state: ProgrammeState, when: datetime, **fields: Any) -> ProgrammeState:
    """``state`` after one accepted event (a fresh event ID unless one is given)."""
    data = {
        "event_id": f"p-{next(_IDS)}",
        "organisation": "kljuc",
        "occurred_at": when.isoformat(),
        **fields,
    }
    decision = decide_programme(state, PROGRAMME_EVENT_ADAPTER.validate_python(data), when)
    assert not isinstance(decision, Rejection), decision
    return decision[0]


def interview(
    state: ProgrammeState,
    when: datetime,
    gender: str,
    country: str,
    *,
    minor: bool,
    suspicion: bool,
) -> ProgrammeState:
    return apply(
        state,
        when,
        type="pats_interview_recorded",
        language="en",
        gender=gender,
        citizenships=[country],
        minor=minor,
        age_appropriate=True,
        suspicion=suspicion,
    )


def enrol(
    state: ProgrammeState, when: datetime, ref: str, gender: str, country: str, *, minor: bool
) -> ProgrammeState:
    return apply(
        state,
        when,
        type="exit_programme_enrolled",
        participant_ref=ref,
        gender=gender,
        citizenships=[country],
        minor=minor,
    )


def session(state: ProgrammeState, when: datetime, ref: str, kind: str) -> ProgrammeState:
    return apply(state, when, type="exit_counselling_recorded", participant_ref=ref, session=kind)


def leave(state: ProgrammeState, when: datetime, ref: str) -> ProgrammeState:
    return apply(state, when, type="exit_programme_left", participant_ref=ref)


def ledger_of(tmp_path: Path, *states: ProgrammeState) -> SqliteLedger:
    """A real SQLite ledger holding the facts of ``states``, stored as the activity does."""
    ledger = SqliteLedger(tmp_path / "statistics.sqlite3")
    for state in states:
        ledger.write([anonymise(f, LEDGER_SECRET) for f in register_facts(state)])
    return ledger


def report(tmp_path: Path, year: int, *states: ProgrammeState) -> AnnualReport:
    return annual_report(ledger_of(tmp_path, *states).read(until_year=year), year)


#: The seed's 2022 paragraph of the prostitution-exit programme: "11 persons ... seven adult
#: women (six Slovenian and one BiH citizen), one under-age girl (a citizen of Ukraine) and
#: three adult men (two Slovenian and one Ukrainian citizen)".
SEED_X1 = (
    [("female", "SI", False)] * 6
    + [("female", "BA", False), ("female", "UA", True)]
    + [("male", "SI", False)] * 2
    + [("male", "UA", False)]
)


def seed_2022() -> tuple[ProgrammeState, ProgrammeState]:
    """PATS: 39 interviews in 2022, 3 with suspicion (2 women from AF, a boy from SY), 36
    without (20 men from AF, 16 from MA); X1: the seed's 11, of whom the two Slovenian men
    enrolled in 2021 and are still there; each of the 11 has one individual session in 2022,
    the four Slovenian women one group session too; the BiH woman leaves in 2022."""
    pats = register(Programme.PATS)
    for n, (gender, country, minor, suspicion) in enumerate(
        [("female", "AF", False, True)] * 2
        + [("male", "SY", True, True)]
        + [("male", "AF", False, False)] * 20
        + [("male", "MA", False, False)] * 16
    ):
        when = at(2022, 1 + n % 12, 10)
        pats = interview(pats, when, gender, country, minor=minor, suspicion=suspicion)
    x1 = register(Programme.PROSTITUTION_EXIT)
    for n, (gender, country, minor) in enumerate(SEED_X1):
        earlier = gender == "male" and country == "SI"
        x1 = enrol(
            x1, at(2021 if earlier else 2022, 3, 1 + n), f"k-{n}", gender, country, minor=minor
        )
    for n, (gender, country, _) in enumerate(SEED_X1):
        x1 = session(x1, at(2022, 5, 1 + n), f"k-{n}", "individual")
        if gender == "female" and country == "SI" and n < 4:
            x1 = session(x1, at(2022, 6, 1 + n), f"k-{n}", "group")
    x1 = leave(x1, at(2022, 9, 1), f"k-{SEED_X1.index(('female', 'BA', False))}")
    return pats, x1


class TestRegisterFacts:
    def test_facts_of_both_registers(self) -> None:
        """One fact per interview (with or without suspicion), per enrolment, per session and
        per exit; the register's ID and the NGO's pseudonym only as the fact's case and
        subject, which the anonymised record no longer holds."""
        pats, x1 = seed_2022()
        facts = register_facts(pats)
        assert Counter(f.detail for f in facts) == {"with_suspicion": 3, "without_suspicion": 36}
        assert {(f.programme, f.event, f.role) for f in facts} == {
            (
                LedgerProgramme.ASYLUM_PROCEDURE_INTERVIEWS,
                LedgerEvent.INTERVIEWED,
                PersonRole.APPLICANT,
            )
        }
        x1_facts = register_facts(x1)
        assert Counter((f.event, f.detail) for f in x1_facts) == {
            (LedgerEvent.ENTERED, None): 11,
            (LedgerEvent.SERVICE, "individual_counselling"): 11,
            (LedgerEvent.SERVICE, "group_counselling"): 4,
            (LedgerEvent.EXITED, "left"): 1,
        }
        assert len({f.key for f in [*facts, *x1_facts]}) == len(facts) + len(x1_facts)
        records = [anonymise(f, LEDGER_SECRET) for f in [*facts, *x1_facts]]
        dumped = "".join(r.model_dump_json() for r in records)
        assert "programme-" not in dumped and "k-1" not in dumped
        # A participant is one person in every record; each interview is its own.
        assert len({r.person for r in records[len(facts) :]}) == 11
        assert len({r.person for r in records[: len(facts)]}) == 39

    def test_a_participant_who_comes_back_keeps_the_first_enrolment(self) -> None:
        """Enrolled, left, enrolled again: both enrolments' facts are derived (the first from
        ``former_enrolments``), under one person."""
        x1 = register(Programme.PROSTITUTION_EXIT)
        x1 = enrol(x1, at(2026, 1, 5), "k-back", "female", "SI", minor=False)
        x1 = leave(x1, at(2026, 2, 5), "k-back")
        x1 = enrol(x1, at(2026, 6, 5), "k-back", "female", "SI", minor=False)
        records = [anonymise(f, LEDGER_SECRET) for f in register_facts(x1)]
        assert [(r.event, r.month) for r in records] == [
            (LedgerEvent.ENTERED, 1),
            (LedgerEvent.EXITED, 2),
            (LedgerEvent.ENTERED, 6),
        ]
        assert len({r.person for r in records}) == 1


class TestRegisterFigures:
    def test_the_seed_2022_paragraphs(self, tmp_path: Path) -> None:
        """The seed's shape: 39 interviews (3 with suspicion), and 11 persons in X1, "seven
        adult women (six Slovenian and one BiH citizen), one under-age girl (UA) and three
        adult men (two Slovenian and one Ukrainian citizen)"; two of them from 2021."""
        year = report(tmp_path, 2022, *seed_2022())
        p1 = year.asylum_procedure_interviews
        assert (p1.interviews, p1.with_suspicion, p1.without_suspicion) == (39, 3, 36)
        assert (p1.by_gender_age.female_adult, p1.by_gender_age.male_minor) == (2, 1)
        assert p1.by_gender_age.male_adult == 36
        assert p1.by_citizenship == {"AF": 22, "MA": 16, "SY": 1}
        x1 = year.prostitution_exit
        assert (x1.active.persons, x1.entered.persons, x1.continuing.persons) == (11, 9, 2)
        assert x1.active.by_gender_age_citizenship == {
            "female_adult": {"BA": 1, "SI": 6},
            "female_minor": {"UA": 1},
            "male_adult": {"SI": 2, "UA": 1},
        }
        assert x1.active.by_citizenship == {"BA": 1, "SI": 8, "UA": 2}
        assert x1.continuing.by_gender_age_citizenship == {"male_adult": {"SI": 2}}
        assert x1.sessions == {"group_counselling": 4, "individual_counselling": 11}
        assert x1.exits == {"left": 1}
        # Not victims: neither register reaches the victims' figures.
        assert year.all_programmes.persons == 0 and year.identified.persons == 0

    def test_a_participant_across_the_year_boundary_is_active(self, tmp_path: Path) -> None:
        """Enrolled in November 2025, sessions in December and February, left in March 2026:
        in 2026 continuing and active, not entered; only 2026's session counts; the exit is
        2026's. In 2027 nobody is active."""
        x1 = register(Programme.PROSTITUTION_EXIT)
        x1 = enrol(x1, at(2025, 11, 20), "k-over", "female", "UA", minor=True)
        x1 = session(x1, at(2025, 12, 15), "k-over", "individual")
        x1 = session(x1, at(2026, 2, 15), "k-over", "group")
        x1 = leave(x1, at(2026, 3, 1), "k-over")
        ledger = ledger_of(tmp_path, x1)
        figures = annual_report(ledger.read(until_year=2026), 2026).prostitution_exit
        assert (figures.entered.persons, figures.continuing.persons) == (0, 1)
        assert figures.active.persons == 1
        assert figures.active.by_gender_age_citizenship == {"female_minor": {"UA": 1}}
        assert figures.sessions == {"group_counselling": 1}
        assert figures.exits == {"left": 1}
        before = annual_report(ledger.read(until_year=2025), 2025).prostitution_exit
        assert (before.entered.persons, before.active.persons) == (1, 1)
        assert before.sessions == {"individual_counselling": 1} and before.exits == {}
        after = annual_report(ledger.read(until_year=2027), 2027).prostitution_exit
        assert after.active.persons == 0

    def test_the_same_record_twice_counts_once(self, tmp_path: Path) -> None:
        """The facts stored again (a retried activity, the next run after continue-as-new,
        derived from a copy of the state) add no record; a repeated event (its event ID again)
        is no new fact; the figures stay."""
        pats, x1 = seed_2022()
        ledger = ledger_of(tmp_path, pats, x1)
        first = annual_report(ledger.read(), 2022)
        again = [anonymise(f, LEDGER_SECRET) for s in (pats, x1) for f in register_facts(s)]
        assert ledger.write(again) == 0
        # The register's next state: its facts are the earlier ones (same keys) and one more.
        later = interview(pats, at(2022, 12, 1), "male", "AF", minor=False, suspicion=False)
        assert ledger.write([anonymise(f, LEDGER_SECRET) for f in register_facts(later)]) == 1
        first.asylum_procedure_interviews.interviews += 1
        first.asylum_procedure_interviews.without_suspicion += 1
        first.asylum_procedure_interviews.by_gender_age.male_adult += 1
        first.asylum_procedure_interviews.by_citizenship["AF"] += 1
        copied = ProgrammeState.model_validate_json(x1.model_dump_json())
        assert ledger.write([anonymise(f, LEDGER_SECRET) for f in register_facts(copied)]) == 0
        event = PROGRAMME_EVENT_ADAPTER.validate_python(
            {
                "type": "exit_counselling_recorded",
                "event_id": "repeated",
                "organisation": "kljuc",
                "occurred_at": at(2022, 10, 1).isoformat(),
                "participant_ref": "k-0",
                "session": "individual",
            }
        )
        once = decide_programme(x1, event, at(2022, 10, 1))
        assert not isinstance(once, Rejection)
        twice = decide_programme(once[0], event, at(2022, 10, 2))
        assert not isinstance(twice, Rejection) and twice[1].duplicate
        assert register_facts(twice[0]) == register_facts(once[0])
        assert ledger.write([anonymise(f, LEDGER_SECRET) for f in register_facts(twice[0])]) == 1
        assert annual_report(ledger.read(), 2022).asylum_procedure_interviews == (
            first.asylum_procedure_interviews
        )
        sessions = annual_report(ledger.read(), 2022).prostitution_exit.sessions
        assert sessions["individual_counselling"] == 12


# -- random registers: the figures against an independent tally, and suppression ------------


@st.composite
def registers(
    draw: st.DrawFn, countries: tuple[str, ...] = ("SI", "UA", "BA")
) -> tuple[ProgrammeState, ProgrammeState, list[tuple[Any, ...]]]:
    """A PATS register and an X1 register over 2025-2026, and the events behind them as
    plain tuples (the tally's input)."""
    genders = st.sampled_from(["female", "male", "unknown"])
    nationality = st.sampled_from(countries)
    pats = register(Programme.PATS)
    x1 = register(Programme.PROSTITUTION_EXIT)
    log: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(0, 14))):
        year, month = draw(st.sampled_from([2025, 2026])), draw(st.integers(1, 12))
        gender, country = draw(genders), draw(nationality)
        minor, suspicion = draw(st.booleans()), draw(st.booleans())
        pats = interview(
            pats, at(year, month, 3), gender, country, minor=minor, suspicion=suspicion
        )
        log.append(("interview", year, gender, country, minor, suspicion))
    for n in range(draw(st.integers(0, 12))):
        ref = f"k-{n}"
        gender, country, minor = draw(genders), draw(nationality), draw(st.booleans())
        start = draw(st.sampled_from([(2025, 2), (2025, 11), (2026, 4)]))
        x1 = enrol(x1, at(*start, 2), ref, gender, country, minor=minor)
        sessions = draw(st.integers(0, 2))
        for s in range(sessions):
            x1 = session(x1, at(*start, 5 + s), ref, "individual")
        left = draw(st.sampled_from([None, (start[0], start[1] + 1), (2026, 12)]))
        if left is not None:
            x1 = leave(x1, at(*left, 20), ref)
        log.append(("enrolment", ref, gender, country, minor, start, sessions, left))
    return pats, x1, log


def tally(log: list[tuple[Any, ...]], year: int) -> dict[str, Any]:
    """The expected 2026 figures, counted from the events alone (not from the ledger)."""
    out: dict[str, Any] = {
        "interviews": Counter(),
        "entered": Counter(),
        "active": Counter(),
        "continuing": 0,
        "sessions": 0,
        "exits": 0,
    }
    for entry in log:
        if entry[0] == "interview":
            _, y, gender, country, minor, suspicion = entry
            if y == year:
                out["interviews"]["all"] += 1
                out["interviews"]["with" if suspicion else "without"] += 1
                out["interviews"][country] += 1
            continue
        _, _, gender, country, minor, start, sessions, left = entry
        kind = gender if gender != "unknown" else "other_or_unknown"
        age = f"{kind}_{'minor' if minor else 'adult'}"
        ended_before = left is not None and left[0] < year
        if start[0] == year:
            out["entered"][(age, country)] += 1
        elif start[0] < year and not ended_before:
            out["continuing"] += 1
        if start[0] == year or (start[0] < year and not ended_before):
            out["active"][(age, country)] += 1
        out["sessions"] += sessions if start[0] == year else 0
        out["exits"] += left is not None and left[0] == year
    return out


class TestRegisterProperties:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(registers())
    def test_figures_match_an_independent_tally(
        self, drawn: tuple[ProgrammeState, ProgrammeState, list[tuple[Any, ...]]]
    ) -> None:
        pats, x1, log = drawn
        records = [anonymise(f, LEDGER_SECRET) for s in (pats, x1) for f in register_facts(s)]
        year = annual_report(records, 2026)
        expected = tally(log, 2026)
        p1 = year.asylum_procedure_interviews
        assert p1.interviews == expected["interviews"]["all"]
        assert p1.with_suspicion == expected["interviews"]["with"]
        assert p1.without_suspicion == expected["interviews"]["without"]
        assert p1.by_citizenship == {
            c: n for c, n in sorted(expected["interviews"].items()) if c in {"SI", "UA", "BA"}
        }
        figures = year.prostitution_exit
        for measure in ("entered", "active"):
            cross = getattr(figures, measure).by_gender_age_citizenship
            got = Counter({(age, c): n for age, row in cross.items() for c, n in row.items()})
            assert got == expected[measure], measure
        assert figures.continuing.persons == expected["continuing"]
        assert figures.sessions.get("individual_counselling", 0) == expected["sessions"]
        assert figures.exits.get("left", 0) == expected["exits"]

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(registers(), st.integers(2, 6))
    def test_no_suppressed_register_cell_can_be_recovered(
        self, drawn: tuple[ProgrammeState, ProgrammeState, list[tuple[Any, ...]]], k: int
    ) -> None:
        """The complementary-suppression property (tests/test_suppression.py) on the report's
        register tables, as the report's own ``suppressed_cells`` hides them, against the
        relations a reader knows (:func:`reader_relations`: the P1 margins, X1's two-way
        gender × age × citizenship tables, active = entered + continuing): every small cell
        is hidden, no relation has exactly one hidden cell, and no hidden cell is a linear
        combination of published ones."""
        pats, x1, _ = drawn
        records = [anonymise(f, LEDGER_SECRET) for s in (pats, x1) for f in register_facts(s)]
        year = annual_report(records, 2026)
        values = {
            c: v
            for c, v in report_cells(year).items()
            if c[0] in _REGISTERS and c[1] not in ("sessions", "exits")
        }
        known = reader_relations(year)
        assert values.keys() <= {c for r in known for c in r.cells}
        for relation in known:  # they hold
            assert values[relation.total] == sum(values[c] for c in relation.parts), relation
        hidden = set(suppressed_cells(year, k))
        assert {c for c, v in values.items() if 1 <= v < k} <= hidden
        for relation in known:
            assert sum(c in hidden for c in relation.cells) != 1, relation
        assert in_row_space(hidden & set(values), known) == set()


def reader_relations(year: AnnualReport) -> list[Relation]:
    """What a reader of the register sections knows adds up, worked out here from the
    report's JSON (not from the module's own list): P1 interviews = with + without suspicion
    = the gender × age cells = the citizenships; in X1's entered, continuing and active,
    persons = the gender × age cells = the citizenships, each gender × age cell = its row of
    the cross table, each citizenship = its column; active = entered + continuing, cell by
    cell."""
    data = year.model_dump(mode="json")
    p1 = data["asylum_procedure_interviews"]
    pats = ("asylum_procedure_interviews",)
    total = (*pats, "interviews")
    relations = [
        Relation(total, ((*pats, "with_suspicion"), (*pats, "without_suspicion"))),
        Relation(total, tuple((*pats, "by_gender_age", a) for a in p1["by_gender_age"])),
        Relation(total, tuple((*pats, "by_citizenship", c) for c in p1["by_citizenship"])),
    ]
    x1 = data["prostitution_exit"]
    cells: dict[str, list[tuple[str, ...]]] = {}
    for measure in ("entered", "continuing", "active"):
        block, at_ = x1[measure], ("prostitution_exit", measure)
        persons = (*at_, "persons")
        ages = [(*at_, "by_gender_age", a) for a in block["by_gender_age"]]
        countries = [(*at_, "by_citizenship", c) for c in block["by_citizenship"]]
        cross = [
            (*at_, "by_gender_age_citizenship", a, c)
            for a, row in block["by_gender_age_citizenship"].items()
            for c in row
        ]
        relations += [Relation(persons, tuple(ages)), Relation(persons, tuple(countries))]
        relations += [Relation(a, tuple(x for x in cross if x[3] == a[3])) for a in ages]
        relations += [Relation(c, tuple(x for x in cross if x[4] == c[3])) for c in countries]
        cells[measure] = [persons, *ages, *countries, *cross]
    for cell in cells["active"]:
        parts = tuple(
            part
            for m in ("entered", "continuing")
            if (part := ("prostitution_exit", m, *cell[2:])) in cells[m]
        )
        relations.append(Relation(cell, parts))
    return relations


def in_row_space(hidden: set[Cell], relations: list[Relation]) -> set[Cell]:
    """The hidden cells a reader can compute from the published ones: with the published
    cells fixed, the relations are A·x = const over the hidden cells x, and a cell is fixed
    iff its unit vector lies in the row space of A. Checked here (as tests/test_suppression.py
    ``recoverable`` does, faster for a report's size: A brought to echelon form once, each
    unit vector reduced against it), not with the module's own solver."""
    columns = sorted(hidden)
    index = {c: i for i, c in enumerate(columns)}
    echelon: list[tuple[int, list[Fraction]]] = []  # (pivot column, row with 1 there)

    def reduce(row: list[Fraction]) -> list[Fraction]:
        for col, pivot_row in echelon:
            if row[col] != 0:
                factor = row[col]
                row = [x - factor * y for x, y in zip(row, pivot_row, strict=True)]
        return row

    for relation in relations:
        row = [Fraction(0)] * len(columns)
        for cell in relation.cells:
            if cell in index:
                row[index[cell]] += 1 if cell == relation.total else -relation.parts.count(cell)
        row = reduce(row)
        lead = next((i for i, x in enumerate(row) if x != 0), None)
        if lead is not None:
            row = [x / row[lead] for x in row]
            echelon = [
                (col, [x - r[lead] * y for x, y in zip(r, row, strict=True)]) for col, r in echelon
            ]
            echelon.append((lead, row))
    found = set()
    for i, cell in enumerate(columns):
        unit = [Fraction(int(i == j)) for j in range(len(columns))]
        if not any(reduce(unit)):
            found.add(cell)
    return found


_REGISTERS = ("asylum_procedure_interviews", "prostitution_exit")


# -- the command -----------------------------------------------------------------------------


class TestRegisterCommand:
    def test_public_json_csv_and_table(self, var: Path) -> None:  # noqa: F811
        """The seed's 2022 with ``--public --k 3``: the girl (1) and the BiH woman (1) go, and
        their complements so that neither can be worked out; the 11 persons and the 39
        interviews stay; the JSON validates against the committed schema."""
        ledger_of(var, *seed_2022())
        argv = ("report", "annual", "--year", "2022")
        code, out, err = run_cli(*argv)
        assert (code, err) == (cli.EXIT_OK, "")
        assert "Asylum-procedure interviews (P1, PATS)" in out
        assert "interviews in the year: 39: with suspicion of trafficking 3, without 36" in out
        assert (
            "  active in the year: 11 person(s)\n    women 7 (BA 1, SI 6), girls 1 (UA 1), " in out
        )
        assert "men 3 (SI 2, UA 1), boys 0," in out
        code, out, _ = run_cli(*argv, "--public", "--k", "3", "--format", "json")
        data = json.loads(out)
        jsonschema_rs.validator_for(json.loads(SCHEMA.read_text())).validate(data)
        hidden = {"suppressed": True, "below": 3}
        active = data["prostitution_exit"]["active"]
        assert active["persons"] == 11
        assert active["by_gender_age_citizenship"]["female_minor"]["UA"] == hidden
        assert active["by_gender_age"]["female_minor"] == hidden
        assert active["by_gender_age_citizenship"]["female_adult"]["BA"] == hidden
        assert data["asylum_procedure_interviews"]["interviews"] == 39
        assert data["asylum_procedure_interviews"]["by_citizenship"]["SY"] == hidden
        code, out, _ = run_cli(*argv, "--public", "--k", "3", "--format", "csv")
        rows = out.splitlines()
        assert "prostitution_exit,active,by_gender_age_citizenship.female_minor.UA,<3" in rows
        assert "asylum_procedure_interviews,interviews,interviews,39" in rows
        assert not [r for r in rows if r.split(",")[0] in _REGISTERS and r.endswith((",1", ",2"))]
        code, out, _ = run_cli(*argv, "--public", "--k", "3")
        assert "girls <3 (UA <3)" in out


# -- the workflow ----------------------------------------------------------------------------


class TestRegisterWritesTheLedger:
    async def test_interviews_and_an_enrolment_reach_the_ledger_once(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """Two PATS interviews (one with suspicion) and an X1 enrolment with a session reach
        the ledger through ``record_statistics``, once each (a repeated event adds nothing),
        under keyed hashes: neither the register's ID nor the pseudonym is in a record. The
        backfill of the registers stores the same records under the same IDs."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            t0 = await b.now() - timedelta(hours=3)
            common = {"organisation": "kljuc", "occurred_at": t0.isoformat()}
            events: list[dict[str, Any]] = [
                {
                    "type": "pats_interview_recorded",
                    "event_id": "w-pats-1",
                    "language": "ar",
                    "gender": "male",
                    "citizenships": ["SY"],
                    "minor": False,
                    "age_appropriate": True,
                    "suspicion": True,
                },
                {
                    "type": "pats_interview_recorded",
                    "event_id": "w-pats-2",
                    "language": "fa",
                    "gender": "female",
                    "citizenships": ["AF"],
                    "minor": True,
                    "age_appropriate": True,
                    "suspicion": False,
                },
                {
                    "type": "exit_programme_enrolled",
                    "event_id": "w-x1-1",
                    "participant_ref": "k-ledger",
                    "gender": "female",
                    "citizenships": ["SI"],
                    "minor": False,
                },
                {
                    "type": "exit_counselling_recorded",
                    "event_id": "w-x1-2",
                    "participant_ref": "k-ledger",
                    "session": "group",
                },
            ]
            for data in [*events, events[0], events[3]]:
                await record_programme_event(
                    b.client,
                    PROGRAMME_EVENT_ADAPTER.validate_python({**common, **data}),
                    task_queue=b.task_queue,
                    notification_queue_prefix=b.config.notification_queue_prefix,
                )
            await eventually(lambda: len(b.ledger.records) == 4, timeout=60)
            records = b.ledger.read()
            assert len(records) == 4
            dumped = "".join(r.model_dump_json() for r in records)
            for name in ("programme-pats", "programme-prostitution_exit", "k-ledger"):
                assert name not in dumped
            year = local_date(t0).year
            figures = annual_report(records, year)
            p1 = figures.asylum_procedure_interviews
            assert (p1.interviews, p1.with_suspicion, p1.without_suspicion) == (2, 1, 1)
            assert figures.prostitution_exit.entered.by_gender_age_citizenship == {
                "female_adult": {"SI": 1}
            }
            assert figures.prostitution_exit.sessions == {"group_counselling": 1}
            # `pathway statistics backfill` (for registers running under older code) stores
            # the same records under the same IDs: nothing new in the register's ledger, and
            # an empty ledger gets exactly these.
            assert await backfill_registers(
                b.client, StatisticsRecorder(b.ledger, LEDGER_SECRET)
            ) == (
                2,
                4,
                0,
            )
            empty = MemoryLedger()
            assert await backfill_registers(b.client, StatisticsRecorder(empty, LEDGER_SECRET)) == (
                2,
                4,
                4,
            )
            assert empty.records == b.ledger.records


# -- a range of years ------------------------------------------------------------------------


def across_the_boundary() -> ProgrammeState:
    """One participant enrolled in November 2025 who left in March 2026."""
    x1 = register(Programme.PROSTITUTION_EXIT)
    x1 = enrol(x1, at(2025, 11, 20), "k-over", "female", "UA", minor=False)
    return leave(x1, at(2026, 3, 1), "k-over")


class TestRangeOfYears:
    def test_each_year_in_json_csv_and_table(self, var: Path) -> None:  # noqa: F811
        """``--year 2025-2027``: a JSON array of three reports, each valid against the schema,
        the participant active in 2025 and 2026 (continuing), not in 2027; CSV rows with the
        year first (``--public`` applied to each year); the table's three reports in turn."""
        ledger_of(var, across_the_boundary())
        argv = ("report", "annual", "--year", "2025-2027")
        code, out, err = run_cli(*argv, "--format", "json")
        assert (code, err) == (cli.EXIT_OK, "")
        data = json.loads(out)
        validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
        for document in data:
            validator.validate(document)
        assert [d["year"] for d in data] == [2025, 2026, 2027]
        x1 = [d["prostitution_exit"] for d in data]
        assert [f["active"]["persons"] for f in x1] == [1, 1, 0]
        assert [f["continuing"]["persons"] for f in x1] == [0, 1, 0]
        code, out, err = run_cli(*argv, "--format", "csv", "--public", "--k", "2")
        rows = out.splitlines()
        assert rows[0] == "year,section,measure,key,value"
        # Suppressed year by year: the one participant is <2 where counted, a zero stays 0.
        assert "2026,prostitution_exit,continuing,persons,<2" in rows
        assert "2025,prostitution_exit,entered,persons,<2" in rows
        assert "2027,prostitution_exit,active,persons,0" in rows
        code, out, err = run_cli(*argv)
        assert [line for line in out.splitlines() if line.startswith("Annual report")] == [
            f"Annual report {y} (from the statistics ledger)" for y in (2025, 2026, 2027)
        ]

    def test_progress_on_a_terminal_only(self, var: Path) -> None:  # noqa: F811
        """Each year shows on a terminal (stderr a pty), rewritten in place; on a pipe or a
        file nothing but the report."""
        ledger_of(var, across_the_boundary())
        master, slave = os.openpty()
        try:
            with open(slave, "w", encoding="utf-8", closefd=False) as terminal:
                out = io.StringIO()
                code = cli.run(["report", "annual", "--year", "2025-2027"], out, terminal)
            shown = read_all(master)
        finally:
            os.close(master)
            os.close(slave)
        assert code == cli.EXIT_OK
        for n, year in enumerate((2025, 2026, 2027), start=1):
            assert f"\rreport: year {year} ({n} of 3)".encode() in shown
        assert "report: year" not in out.getvalue()
        code, _, err = run_cli("report", "annual", "--year", "2025-2027")
        assert (code, err) == (cli.EXIT_OK, "")

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (("--year", "2027-2025"), "--year"),
            (("--year", "20x6"), "--year"),
            (("--year", "1800-2026"), "--year"),
            (("--year", "2025-2026", "--format", "html"), "--format html"),
        ],
    )
    def test_bad_ranges(self, var: Path, argv: tuple[str, ...], message: str) -> None:  # noqa: F811
        ledger_of(var, across_the_boundary())
        code, out, err = run_cli("report", "annual", *argv)
        assert (code, out) == (cli.EXIT_BAD_INPUT, "")
        assert message in err and "Traceback" not in err


# -- the HTML page ---------------------------------------------------------------------------


async def test_html_shows_the_register_charts(var: Path, browser: Browser) -> None:  # noqa: F811
    """In Chromium: the PATS chart (5 interviews, 2 with suspicion, 3 without) and the X1
    charts (who took part: 2 women, 1 man; 2 came in 2026, 1 still there from 2025; 3
    one-to-one sessions), numbers counted by hand; the page loaded nothing."""
    pats = register(Programme.PATS)
    for n in range(5):
        pats = interview(pats, at(2026, 2, 1 + n), "male", "AF", minor=False, suspicion=n < 2)
    x1 = register(Programme.PROSTITUTION_EXIT)
    x1 = enrol(x1, at(2025, 10, 1), "k-a", "female", "SI", minor=False)
    x1 = enrol(x1, at(2026, 4, 1), "k-b", "female", "SI", minor=False)
    x1 = enrol(x1, at(2026, 5, 1), "k-c", "male", "UA", minor=False)
    for ref in ("k-a", "k-b", "k-c"):
        x1 = session(x1, at(2026, 6, 1), ref, "individual")
    ledger_of(var, pats, x1)
    page_file = await write_page(var)
    charts, requests = await chart_texts(browser, page_file)
    assert requests == [page_file.as_uri()]
    interviews = charts["Interviews with people seeking asylum in 2026 (PATS)"]
    assert interviews == {
        "all interviews": "5",
        "suspicion of trafficking: the authorities told": "2",
        "no suspicion of trafficking": "3",
        "(title in the chart)": "true",
    }
    who = charts["Who took part in the programme for leaving prostitution in 2026"]
    assert (who["women"], who["men"], who["girls"], who["boys"]) == ("2", "1", "0", "0")
    new = charts[
        "New in the programme for leaving prostitution in 2026, and still there from earlier years"
    ]
    assert (new["came in 2026"], new["still there from earlier years"]) == ("2", "1")
    sessions = charts["Counselling sessions in the programme for leaving prostitution in 2026"]
    assert sessions["one-to-one sessions"] == "3"
    # --public --k 3: the two interviews with suspicion and the one man read <3, as in the
    # table; no bar of the page shows 1 or 2.
    charts, _ = await chart_texts(browser, await write_page(var, "--public", "--k", "3"))
    interviews = charts["Interviews with people seeking asylum in 2026 (PATS)"]
    assert interviews["suspicion of trafficking: the authorities told"] == "<3"
    who = charts["Who took part in the programme for leaving prostitution in 2026"]
    assert who["men"] == "<3"
    assert not {v for bars in charts.values() for v in bars.values()} & {"1", "2"}
