"""The statistics ledger and the annual report from it (issue 15 items 1 and 2,
docs/statistics.md), without a server: simulated event streams through the domain's rules,
their facts (:func:`~pathway.domain.ledger.statistics_facts`), anonymised into a real SQLite
ledger, and the annual report from it, checked against figures worked out by hand."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from pathway import cli
from pathway.domain.annual import AnnualReport, annual_report, flatten
from pathway.domain.calendar import LJUBLJANA
from pathway.domain.ledger import (
    ExitKind,
    LedgerEvent,
    LedgerProgramme,
    PersonRole,
    StatisticsFact,
    anonymise,
    person_key,
    statistics_facts,
)
from pathway.domain.state import CaseState
from pathway.privacy.keys import create_master_key
from pathway.statistics_ledger import SqliteLedger
from tests.factories import SI_CITIZEN, accept, event, opened
from tests.harness import LEDGER_SECRET
from tests.test_cli_input import run as run_cli

SCHEMA = Path(__file__).parent.parent / "docs" / "annual-report.schema.json"
_CASES = itertools.count()


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=LJUBLJANA)


def person(gender: str, citizenship: str, birth: str = "1990-01-01", **more: Any) -> dict[str, Any]:
    status = "eu_citizen" if citizenship in {"DE", "PT", "HR"} else "third_country_illegal"
    if citizenship == "SI":
        status = "slovenian_citizen"
    return {
        "birth_date": birth,
        "gender": gender,
        "citizenships": [citizenship],
        "residence_status": status,
        "languages": ["en"],
        **more,
    }


def case(who: dict[str, Any], identified: datetime) -> CaseState:
    """A case of its own (its own case ID), identified and interviewed (R1, R2)."""
    state = opened(who, at=identified).model_copy(update={"case_id": f"case-{next(_CASES)}"})
    # C4: procedures with a child are done by qualified personnel (harmless for adults).
    interview = event(
        "ngo_interview_held", identified + timedelta(hours=1), qualified_personnel=True
    )
    return accept(state, interview)


def then(state: CaseState, type_: str, when: datetime, **fields: Any) -> CaseState:
    return accept(state, event(type_, when, **fields))


def child(ref: str, birth: str, gender: str, citizenship: str, when: datetime) -> dict[str, Any]:
    return {
        "type_": "accompanying_child_recorded",
        "when": when,
        "child_ref": ref,
        "birth_date": birth,
        "gender": gender,
        "citizenships": [citizenship],
        "placed_with": "crisis_accommodation",
    }


def with_child(state: CaseState, **spec: Any) -> CaseState:
    type_, when = spec.pop("type_"), spec.pop("when")
    return then(state, type_, when, **spec)


def ledger_of(tmp_path: Path, *states: CaseState) -> SqliteLedger:
    """A real SQLite ledger holding the facts of ``states``, stored as the activity does."""
    ledger = SqliteLedger(tmp_path / "statistics.sqlite3")
    for state in states:
        ledger.write([anonymise(f, LEDGER_SECRET) for f in statistics_facts(state)])
    return ledger


def report(tmp_path: Path, year: int, *states: CaseState) -> AnnualReport:
    return annual_report(ledger_of(tmp_path, *states).read(until_year=year), year)


class TestFacts:
    """The pure record function: what a case contributes, with stable keys."""

    def test_identification_and_a_crisis_stay(self) -> None:
        """An identification in March and a crisis placement ended in April give three facts,
        each with the month, the person's categories and adult on that date (R1, K1)."""
        state = case(person("female", "CO"), at(2026, 3, 10))
        state = then(state, "crisis_accommodation_placed", at(2026, 3, 11))
        state = then(state, "crisis_accommodation_ended", at(2026, 4, 2))
        facts = statistics_facts(state)
        assert [(f.programme, f.event, f.detail, f.year, f.month) for f in facts] == [
            (LedgerProgramme.IDENTIFICATION, LedgerEvent.IDENTIFIED, None, 2026, 3),
            (LedgerProgramme.CRISIS_ACCOMMODATION, LedgerEvent.ENTERED, None, 2026, 3),
            (LedgerProgramme.CRISIS_ACCOMMODATION, LedgerEvent.EXITED, "ended", 2026, 4),
        ]
        assert {(f.gender.value, f.minor, tuple(f.citizenships), f.role) for f in facts} == {
            ("female", False, ("CO",), PersonRole.VICTIM)
        }
        assert len({f.key for f in facts}) == len(facts)

    def test_the_same_state_gives_the_same_keys(self) -> None:
        """Deriving the facts again (a replay, the next run after continue-as-new, the
        backfill) gives the same keys, so the ledger stores them once."""
        state = case(person("female", "CO"), at(2026, 3, 10))
        state = then(state, "crisis_accommodation_placed", at(2026, 3, 11))
        again = CaseState.model_validate_json(state.model_dump_json())
        assert statistics_facts(again) == statistics_facts(state)

    def test_exit_kinds(self) -> None:
        """Crisis to safe accommodation is a move (S1), a withdrawal of consent ends the safe
        stay (K2), and a departure ends reintegration and any placement (exits)."""
        who = SI_CITIZEN | {"exploited_abroad": True, "birth_date": "1980-01-01"}
        state = case(who, at(2026, 1, 5))
        state = then(state, "crisis_accommodation_placed", at(2026, 1, 6))
        state = then(state, "safe_accommodation_placed", at(2026, 1, 20))
        state = then(state, "consent_withdrawn", at(2026, 2, 1), placement="safe_accommodation")
        state = then(state, "reintegration_enrolled", at(2026, 2, 2), personal_plan=True)
        state = then(state, "departed", at(2026, 5, 5), arbitrary=False)
        exits = {
            f.programme: f.detail for f in statistics_facts(state) if f.event is LedgerEvent.EXITED
        }
        assert exits == {
            LedgerProgramme.CRISIS_ACCOMMODATION: ExitKind.MOVED_TO_SAFE_ACCOMMODATION.value,
            LedgerProgramme.SAFE_ACCOMMODATION: ExitKind.CONSENT_WITHDRAWN.value,
            LedgerProgramme.REINTEGRATION: ExitKind.DECLINED_LEFT.value,
        }

    def test_services_are_facts(self) -> None:
        """K3 services offered or provided, and I1 reintegration services, each a fact dated
        when it happened."""
        who = SI_CITIZEN | {"exploited_abroad": True, "birth_date": "1980-01-01"}
        state = case(who, at(2026, 1, 5))
        state = then(state, "crisis_accommodation_placed", at(2026, 1, 6))
        state = then(
            state,
            "accommodation_service_recorded",
            at(2026, 1, 7),
            programme="crisis_accommodation",
            service="material_assistance",
            status="provided",
        )
        state = then(state, "reintegration_enrolled", at(2026, 2, 2), personal_plan=True)
        state = then(state, "reintegration_service_recorded", at(2026, 3, 3), service="documents")
        services = [
            (f.programme, f.detail, f.month)
            for f in statistics_facts(state)
            if f.event is LedgerEvent.SERVICE
        ]
        assert services == [
            (LedgerProgramme.CRISIS_ACCOMMODATION, "material_assistance:provided", 1),
            (LedgerProgramme.REINTEGRATION, "documents", 3),
        ]


class TestAnonymise:
    """The record keeps no reversible ID and no date finer than the month."""

    def fact(self, case_id: str = "case-abc", subject: str | None = None) -> StatisticsFact:
        return StatisticsFact(
            case_id=case_id,
            key="2026-01-01T00:00:00+01:00|identified:ev-1",
            subject=subject,
            year=2026,
            month=1,
            programme=LedgerProgramme.IDENTIFICATION,
            event=LedgerEvent.IDENTIFIED,
            gender="female",
            minor=False,
            citizenships=["CO"],
            role=PersonRole.VICTIM,
        )

    def test_no_case_id_and_no_day(self) -> None:
        """The record names neither the case nor the child, and has only a year and a month."""
        record = anonymise(self.fact(subject="child-7"), LEDGER_SECRET)
        text = record.model_dump_json()
        assert "case-abc" not in text and "child-7" not in text
        assert set(record.model_dump()) == {
            "record_id",
            "person",
            "year",
            "month",
            "programme",
            "event",
            "detail",
            "gender",
            "minor",
            "citizenships",
            "role",
        }

    def test_person_key_is_keyed(self) -> None:
        """The same case gives the same person under one secret and another under another
        secret; a child of the case is another person."""
        one = anonymise(self.fact(), LEDGER_SECRET)
        assert one.person == person_key(LEDGER_SECRET, "case-abc")
        assert one.person != anonymise(self.fact(), b"another-secret-of-32-bytes......").person
        assert one.person != anonymise(self.fact(subject="c"), LEDGER_SECRET).person
        assert one.person != anonymise(self.fact("case-abd"), LEDGER_SECRET).person

    def test_a_short_secret_is_refused(self) -> None:
        """A ledger secret shorter than 16 bytes is an error, not a weak hash."""
        with pytest.raises(ValueError, match="16 bytes"):
            anonymise(self.fact(), b"short")


class TestAnnualFigures:
    """Figures from simulated event streams, checked against expectations worked out by hand
    (issue 15's list)."""

    def test_mother_with_accompanying_children(self, tmp_path: Path) -> None:
        """A Portuguese woman placed in crisis accommodation with two children (a Portuguese
        girl and a Spanish boy): three persons entered, one victim and two children, their
        citizenships apart (K1)."""
        state = case(person("female", "PT"), at(2026, 5, 9))
        state = then(state, "crisis_accommodation_placed", at(2026, 5, 10))
        state = with_child(state, **child("c-1", "2016-03-01", "female", "PT", at(2026, 5, 10)))
        state = with_child(state, **child("c-2", "2019-08-01", "male", "ES", at(2026, 5, 11)))
        figures = report(tmp_path, 2026, state)
        crisis = figures.crisis_accommodation.entered
        assert (crisis.persons, crisis.victims, crisis.accompanying_children) == (3, 1, 2)
        ages = crisis.by_gender_age
        assert (ages.female_adult, ages.female_minor, ages.male_minor) == (1, 1, 1)
        assert crisis.victims_by_citizenship == {"PT": 1}
        assert crisis.children_by_citizenship == {"ES": 1, "PT": 1}
        assert figures.identified.persons == 1  # the children are not identified victims
        assert figures.all_programmes.persons == 3

    def test_a_person_in_two_programmes_counts_once_overall(self, tmp_path: Path) -> None:
        """Crisis then safe accommodation in one year: one person in each programme, one
        distinct person across them, one crisis exit by a move (K1, S1)."""
        state = case(person("female", "DE"), at(2026, 2, 1))
        state = then(state, "crisis_accommodation_placed", at(2026, 2, 2))
        state = then(state, "safe_accommodation_placed", at(2026, 2, 20))
        other = case(person("male", "HR"), at(2026, 6, 1))
        other = then(other, "crisis_accommodation_placed", at(2026, 6, 1))
        figures = report(tmp_path, 2026, state, other)
        assert figures.crisis_accommodation.entered.persons == 2
        assert figures.safe_accommodation.entered.persons == 1
        assert figures.all_programmes.persons == 2
        assert figures.all_programmes.by_gender_age.male_adult == 1
        assert figures.crisis_accommodation.exits == {"moved_to_safe_accommodation": 1}

    def test_a_person_active_across_the_year_boundary(self, tmp_path: Path) -> None:
        """Placed in December 2026, ended in February 2027: entered in 2026; in 2027 not
        entered but continuing and active, with the exit; nowhere in 2028."""
        state = case(person("female", "CO"), at(2026, 12, 10))
        state = then(state, "crisis_accommodation_placed", at(2026, 12, 11))
        state = then(state, "crisis_accommodation_ended", at(2027, 2, 3))
        ledger = ledger_of(tmp_path, state)
        y2026, y2027, y2028 = (annual_report(ledger.read(), y) for y in (2026, 2027, 2028))
        crisis = [y.crisis_accommodation for y in (y2026, y2027, y2028)]
        assert [(c.entered.persons, c.continuing.persons, c.active.persons) for c in crisis] == [
            (1, 0, 1),
            (0, 1, 1),
            (0, 0, 0),
        ]
        assert [c.exits for c in crisis] == [{}, {"ended": 1}, {}]
        assert y2027.all_programmes.persons == 1

    def test_a_person_turning_18_during_a_placement(self, tmp_path: Path) -> None:
        """A girl born in January 2009, placed in December 2026 (17) and leaving in February
        2027 (18): a minor entered in 2026, an adult in 2027 (her exit says so)."""
        state = case(person("female", "DE", birth="2009-01-15"), at(2026, 12, 1))
        note = {"best_interests": "Safe from the traffickers", "child_views": "Wants to stay"}
        state = then(state, "crisis_accommodation_placed", at(2026, 12, 2), child=note)
        state = then(state, "crisis_accommodation_ended", at(2027, 2, 10), child=note)
        ledger = ledger_of(tmp_path, state)
        y2026, y2027 = (annual_report(ledger.read(), y) for y in (2026, 2027))
        assert y2026.crisis_accommodation.entered.by_gender_age.female_minor == 1
        assert y2026.crisis_accommodation.active.by_gender_age.female_minor == 1
        assert y2027.crisis_accommodation.continuing.by_gender_age.female_adult == 1
        assert y2027.crisis_accommodation.continuing.by_gender_age.female_minor == 0

    def test_erasure_after_counting_keeps_the_figures(self, tmp_path: Path) -> None:
        """The report reads only the ledger: once the facts are stored, the case's state
        may be gone (erased) and the figures stay, and nothing in the ledger names it."""
        state = case(person("female", "CO"), at(2026, 3, 10))
        state = then(state, "crisis_accommodation_placed", at(2026, 3, 11))
        ledger = ledger_of(tmp_path, state)
        before = annual_report(ledger.read(), 2026)
        case_id = state.case_id
        del state  # the case is erased: only the ledger is left
        reopened = SqliteLedger(tmp_path / "statistics.sqlite3")
        assert annual_report(reopened.read(), 2026) == before
        assert before.crisis_accommodation.entered.persons == 1
        raw = (tmp_path / "statistics.sqlite3").read_bytes()
        assert case_id.encode() not in raw

    def test_continue_as_new_and_reidentification_count_once(self, tmp_path: Path) -> None:
        """The same state stored again (the next run after continue-as-new) adds nothing; a
        second episode of the same case (identified again, placed again in the year) is the
        same person: one identified, one in crisis accommodation, with two entries."""
        first = case(person("female", "CO"), at(2026, 3, 10))
        first = then(first, "crisis_accommodation_placed", at(2026, 3, 11))
        first = then(first, "case_closed", at(2026, 4, 1))
        ledger = ledger_of(tmp_path, first)
        again = [anonymise(f, LEDGER_SECRET) for f in statistics_facts(first)]
        assert ledger.write(again) == 0  # continue-as-new: the same facts, nothing new
        second = opened(person("female", "CO"), at=at(2026, 9, 1)).model_copy(
            update={"case_id": first.case_id}
        )
        second = then(second, "ngo_interview_held", at(2026, 9, 1) + timedelta(hours=1))
        second = then(second, "crisis_accommodation_placed", at(2026, 9, 2))
        assert ledger.write([anonymise(f, LEDGER_SECRET) for f in statistics_facts(second)]) == 2
        figures = annual_report(ledger.read(), 2026)
        assert figures.identified.persons == 1
        assert figures.crisis_accommodation.entered.persons == 1
        assert figures.crisis_accommodation.active.persons == 1
        assert figures.crisis_accommodation.exits == {"closed": 1}

    def test_services_count_persons(self, tmp_path: Path) -> None:
        """A service provided twice to one person and once to another: two persons (K3)."""
        states = []
        for n in range(2):
            state = case(person("female", "CO"), at(2026, 3, 10))
            state = then(state, "crisis_accommodation_placed", at(2026, 3, 11))
            for day in range(2 - n):
                state = then(
                    state,
                    "accommodation_service_recorded",
                    at(2026, 3, 12 + day),
                    programme="crisis_accommodation",
                    service="material_assistance",
                    status="provided",
                )
            states.append(state)
        figures = report(tmp_path, 2026, *states)
        assert figures.crisis_accommodation.services == {"material_assistance:provided": 2}


class TestReportFormats:
    def test_json_matches_the_committed_schema(self, tmp_path: Path) -> None:
        """The committed JSON Schema is the report model's, and a real report validates
        against it; a report missing a section does not."""
        schema = json.loads(SCHEMA.read_text())
        assert schema == AnnualReport.model_json_schema()
        state = case(person("female", "PT"), at(2026, 5, 9))
        state = then(state, "crisis_accommodation_placed", at(2026, 5, 10))
        data = report(tmp_path, 2026, state).model_dump(mode="json")
        validator = jsonschema_rs.validator_for(schema)
        validator.validate(data)
        del data["all_programmes"]
        assert not validator.is_valid(data)

    def test_csv_rows_carry_every_figure(self, tmp_path: Path) -> None:
        """The CSV rows hold the figures of the JSON (here: persons entered, per section)."""
        state = case(person("female", "PT"), at(2026, 5, 9))
        state = then(state, "crisis_accommodation_placed", at(2026, 5, 10))
        rows = flatten(report(tmp_path, 2026, state))
        assert ("crisis_accommodation", "entered", "persons", 1) in rows
        assert ("crisis_accommodation", "entered", "victims_by_citizenship.PT", 1) in rows
        assert ("all_programmes", "persons", "persons", 1) in rows


class TestSqliteLedger:
    def test_write_is_idempotent_and_read_filters_years(self, tmp_path: Path) -> None:
        """A record stored twice is one record; ``until_year`` leaves later years out."""
        state = case(person("female", "CO"), at(2026, 12, 10))
        state = then(state, "crisis_accommodation_placed", at(2026, 12, 11))
        state = then(state, "crisis_accommodation_ended", at(2027, 1, 3))
        records = [anonymise(f, LEDGER_SECRET) for f in statistics_facts(state)]
        ledger = SqliteLedger(tmp_path / "s.sqlite3")
        assert ledger.write(records) == 3
        assert ledger.write(records) == 0
        assert len(ledger.read()) == 3
        assert {r.year for r in ledger.read(until_year=2026)} == {2026}
        assert sorted(ledger.read(), key=lambda r: r.record_id) == sorted(
            records, key=lambda r: r.record_id
        )


@pytest.fixture
def var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state directory with a pepper and a master key, no Temporal to reach (the report
    commands read only the ledger)."""
    var = tmp_path / "var"
    var.mkdir(mode=0o700)
    (var / "id-pepper").write_text("ab" * 32)
    create_master_key(var / "master-keys")
    monkeypatch.setenv("PATHWAY_VAR", str(var))
    monkeypatch.delenv("PATHWAY_STATISTICS_DSN", raising=False)
    monkeypatch.setenv("PATHWAY_TEMPORAL_ADDRESS", "127.0.0.1:1")
    return var


class TestReportCommand:
    """``pathway report annual --year YYYY [--format table|json|csv]`` reads only the ledger."""

    def run(self, *argv: str) -> tuple[int, str, str]:
        return run_cli(*argv)

    def test_json_csv_and_table_from_the_ledger(self, var: Path) -> None:
        """The three formats show the figures of the ledger under ``var/`` (no Temporal)."""
        state = case(person("female", "PT"), at(2026, 5, 9))
        state = then(state, "crisis_accommodation_placed", at(2026, 5, 10))
        ledger_of(var, state)
        code, out, err = self.run("report", "annual", "--year", "2026", "--format", "json")
        assert (code, err) == (cli.EXIT_OK, "")
        assert json.loads(out)["crisis_accommodation"]["entered"]["persons"] == 1
        code, out, _ = self.run("report", "annual", "--year", "2026", "--format", "csv")
        assert "crisis_accommodation,entered,persons,1" in out.splitlines()
        code, out, _ = self.run("report", "annual", "--year", "2026")
        assert "Crisis accommodation (K1)" in out
        assert "entered in the year: 1 person(s): 1 victim(s)" in out

    def test_no_ledger_is_bad_input_and_none_is_made(self, var: Path) -> None:
        """Before any case wrote to it, the report names the missing file and creates
        nothing."""
        code, out, err = self.run("report", "annual", "--year", "2026")
        assert (code, out) == (cli.EXIT_BAD_INPUT, "")
        assert "no statistics ledger at" in err
        assert not (var / "statistics.sqlite3").exists()
