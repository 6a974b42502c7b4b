"""The yearly report's figures and the statistics ledger's facts, for the mutants that survived
the other pure tests (issue 13; docs/mutation.md): :mod:`pathway.domain.annual` read from
hand-made ledger records, :func:`~pathway.domain.ledger.statistics_facts` and
:func:`~pathway.domain.ledger.register_facts` (the P1 and X1 registers) from states, no server.

The keyed hashes and the facts' keys are pinned as known answers: the ledger stores them (a
record's ID is the HMAC of its case and key, a person's the HMAC of the case), so a change in
how they are derived would count the same fact or person twice after an upgrade or the backfill
(docs/statistics.md: "the same fact derived again ... is stored once")."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, date, datetime
from typing import Any

import pytest

from pathway.domain.annual import annual_report, flatten
from pathway.domain.calendar import LJUBLJANA
from pathway.domain.events import Placement
from pathway.domain.events import ReintegrationService as Service
from pathway.domain.ledger import (
    LedgerEvent,
    LedgerProgramme,
    PersonRole,
    StatisticsFact,
    StatisticsRecord,
    anonymise,
    child_is_minor,
    person_key,
    register_facts,
    statistics_facts,
    victim_stays,
)
from pathway.domain.organisations import Organisation
from pathway.domain.person import AgeEstimate, Gender
from pathway.domain.programmes import (
    CounsellingSession,
    FormerEnrolment,
    Participant,
    PatsInterview,
    Programme,
    ProgrammeState,
)
from pathway.domain.state import (
    AccompanyingChild,
    CaseState,
    PlacementRecord,
    Reintegration,
    TimelineEntry,
)
from tests.factories import accept, event

SECRET = b"a-ledger-secret-of-32-bytes-...."
_RECORDS = itertools.count(1)

A = LedgerProgramme
E = LedgerEvent
F, M, U = Gender.FEMALE, Gender.MALE, Gender.UNKNOWN


def rec(
    who: str, year: int, programme: LedgerProgramme, event_: LedgerEvent, **fields: Any
) -> StatisticsRecord:
    """One ledger record of person ``who`` (hashed like the ledger's keys): ``fields``
    override month (June), detail, gender (female), minor (no), citizenships (Slovenian) and
    role (victim). Record IDs grow in the order the records are made."""
    data: dict[str, Any] = {
        "record_id": f"{next(_RECORDS):064x}",
        "person": hashlib.sha256(who.encode()).hexdigest(),
        "year": year,
        "month": 6,
        "programme": programme,
        "event": event_,
        "gender": Gender.FEMALE,
        "minor": False,
        "citizenships": ["SI"],
        "role": PersonRole.VICTIM,
    }
    return StatisticsRecord.model_validate(data | fields)


# -- the annual report (pathway/domain/annual.py) -------------------------------------------


class TestPersonsBreakdowns:
    """Each breakdown counts every person once (issue 15 item 2: persons, not records)."""

    def test_several_persons_in_one_cell_add_up(self) -> None:
        """Two adult women victims from Slovenia and two boys from Croatia placed with them,
        all entering crisis accommodation (K1): each cell counts 2, not 1."""
        records = [
            rec("v1", 2026, A.CRISIS_ACCOMMODATION, E.ENTERED),
            rec("v2", 2026, A.CRISIS_ACCOMMODATION, E.ENTERED),
            *(
                rec(
                    c,
                    2026,
                    A.CRISIS_ACCOMMODATION,
                    E.ENTERED,
                    gender=M,
                    minor=True,
                    citizenships=["HR"],
                    role=PersonRole.ACCOMPANYING_CHILD,
                )
                for c in ("c1", "c2")
            ),
        ]
        entered = annual_report(records, 2026).crisis_accommodation.entered
        assert (entered.persons, entered.victims, entered.accompanying_children) == (4, 2, 2)
        assert (entered.by_gender_age.female_adult, entered.by_gender_age.male_minor) == (2, 2)
        assert entered.victims_by_citizenship == {"SI": 2}
        assert entered.children_by_citizenship == {"HR": 2}

    @pytest.mark.parametrize("gender", [Gender.UNKNOWN, Gender.TRANSGENDER_NONCONFORMING])
    def test_a_gender_other_than_female_or_male(self, gender: Gender) -> None:
        """HTCDS's other genders (unknown, transgender or non-conforming) are counted in
        ``other_or_unknown``, adult and minor apart, never dropped (R1)."""
        records = [
            rec("adult", 2026, A.IDENTIFICATION, E.IDENTIFIED, gender=gender),
            rec("minor", 2026, A.IDENTIFICATION, E.IDENTIFIED, gender=gender, minor=True),
        ]
        ages = annual_report(records, 2026).identified.by_gender_age
        assert ages.model_dump() == {
            "female_adult": 0,
            "female_minor": 0,
            "male_adult": 0,
            "male_minor": 0,
            "other_or_unknown_adult": 1,
            "other_or_unknown_minor": 1,
        }

    def test_identified_only_in_the_year(self) -> None:
        """R1: ``identified`` counts identifications dated in the year; one of the year before
        is not counted again."""
        records = [
            rec("earlier", 2025, A.IDENTIFICATION, E.IDENTIFIED),
            rec("now", 2026, A.IDENTIFICATION, E.IDENTIFIED, gender=M),
        ]
        identified = annual_report(records, 2026).identified
        assert identified.persons == 1
        assert identified.by_gender_age.male_adult == 1


class TestAllProgrammes:
    """``all_programmes``: persons active in the year in any programme (the module's
    definition: entered in the year, or more entries than exits before it)."""

    def test_a_stay_still_running_from_two_years_before(self) -> None:
        """I1: enrolled in reintegration in 2024, a service in 2025, still enrolled in 2026:
        active in 2026 (the service does not reset the balance of entries and exits)."""
        records = [
            rec("p", 2024, A.REINTEGRATION, E.ENTERED),
            rec("p", 2025, A.REINTEGRATION, E.SERVICE, detail="counselling"),
        ]
        figures = annual_report(records, 2026)
        assert figures.reintegration.continuing.persons == 1
        assert figures.all_programmes.persons == 1

    def test_a_stay_that_ended_before_the_year(self) -> None:
        """Entered and left in 2025 (K1): not active in 2026, in no programme; nor is a
        person whose only earlier record is a service."""
        records = [
            rec("left", 2025, A.CRISIS_ACCOMMODATION, E.ENTERED),
            rec("left", 2025, A.CRISIS_ACCOMMODATION, E.EXITED, detail="ended"),
            rec("served", 2025, A.SAFE_ACCOMMODATION, E.SERVICE, detail="legal_aid:provided"),
        ]
        figures = annual_report(records, 2026)
        assert figures.crisis_accommodation.active.persons == 0
        assert figures.all_programmes.persons == 0


def interviews_2026() -> list[StatisticsRecord]:
    """P1 (PATS): the asylum register's interviews, each its own person key: one in 2025 and
    five in 2026 (three with suspicion), with a record of another kind in between."""
    pats = A.ASYLUM_PROCEDURE_INTERVIEWS
    applicant = PersonRole.APPLICANT
    return [
        rec("i0", 2025, pats, E.INTERVIEWED, detail="with_suspicion", role=applicant),
        rec("x", 2026, pats, E.SERVICE, detail="with_suspicion", role=applicant),
        rec("i1", 2026, pats, E.INTERVIEWED, detail="with_suspicion", role=applicant),
        rec(
            "i2",
            2026,
            pats,
            E.INTERVIEWED,
            detail="with_suspicion",
            gender=M,
            minor=True,
            citizenships=["AF", "IR"],
            role=applicant,
        ),
        rec(
            "i3",
            2026,
            pats,
            E.INTERVIEWED,
            detail="without_suspicion",
            gender=M,
            minor=True,
            citizenships=["AF"],
            role=applicant,
        ),
        rec("i4", 2026, pats, E.INTERVIEWED, detail="with_suspicion", role=applicant),
        rec("i5", 2026, pats, E.INTERVIEWED, detail="without_suspicion", role=applicant),
    ]


class TestInterviews:
    """P1 (PATS): "interviews in the year, with and without suspicion (each interview once)"."""

    def test_the_years_interviews(self) -> None:
        """Five interviews in 2026, three raising suspicion (UOIM informed) and two not; by
        gender × age and by first citizenship; the one of 2025 and the record that is not an
        interview are not counted."""
        p1 = annual_report(interviews_2026(), 2026).asylum_procedure_interviews
        assert (p1.interviews, p1.with_suspicion, p1.without_suspicion) == (5, 3, 2)
        assert (p1.by_gender_age.female_adult, p1.by_gender_age.male_minor) == (3, 2)
        assert p1.by_gender_age.male_adult == 0
        assert p1.by_citizenship == {"AF": 2, "SI": 3}

    def test_flattened_for_csv(self) -> None:
        """The CSV rows of P1: section ``asylum_procedure_interviews``, measure
        ``interviews``, the key as in the JSON (``by_gender_age.male_minor``); the year is not
        a row of its own."""
        rows = flatten(annual_report(interviews_2026(), 2026))
        p1 = {(m, k): v for s, m, k, v in rows if s == "asylum_procedure_interviews"}
        assert p1[("interviews", "interviews")] == 5
        assert p1[("interviews", "with_suspicion")] == 3
        assert p1[("interviews", "by_gender_age.male_minor")] == 2
        assert p1[("interviews", "by_citizenship.AF")] == 2
        assert {s for s, *_ in rows} == {
            "identified",
            "crisis_accommodation",
            "safe_accommodation",
            "reintegration",
            "all_programmes",
            "asylum_procedure_interviews",
            "prostitution_exit",
        }
        assert all(v != 2026 for *_, v in rows)


def x1(
    who: str, year: int, event_: LedgerEvent, detail: str | None = None, **more: Any
) -> StatisticsRecord:
    return rec(
        who, year, A.PROSTITUTION_EXIT, event_, detail=detail, role=PersonRole.PARTICIPANT, **more
    )


def exit_programme() -> list[StatisticsRecord]:
    """X1 as the seed states it ("seven adult women (six Slovenian and one BiH citizen)"),
    smaller: in 2026 three adult women enrolled (two Slovenian, one from Bosnia and
    Herzegovina), a girl enrolled in 2025 still in the programme, and a woman who was in it
    as a minor in 2024, left, and came back as an adult in 2026 (her later records listed
    first, with a second citizenship recorded then)."""
    return [
        x1("back", 2026, E.ENTERED, month=2, citizenships=["HR", "SI"]),
        x1("back", 2024, E.ENTERED, month=3, minor=True, citizenships=["SI"]),
        x1("back", 2024, E.EXITED, "left", month=9, minor=True, citizenships=["SI"]),
        x1("w1", 2026, E.ENTERED),
        x1("w2", 2026, E.ENTERED),
        x1("w3", 2026, E.ENTERED, citizenships=["BA"]),
        x1("girl", 2025, E.ENTERED, minor=True, citizenships=["BA"]),
        x1("girl", 2025, E.SERVICE, "group_counselling", minor=True, citizenships=["BA"]),
        x1("w1", 2026, E.SERVICE, "individual_counselling"),
        x1("w1", 2026, E.SERVICE, "individual_counselling"),
        x1("w2", 2026, E.SERVICE, "group_counselling"),
        x1("w2", 2026, E.EXITED, "left", month=11),
        x1("w9", 2027, E.ENTERED),
    ]


class TestProstitutionExit:
    """X1: entered, continuing and active over the register's participants (their keyed
    pseudonyms), counselling sessions and exits in the year, each once."""

    def test_participants(self) -> None:
        """Entered in 2026: four adult women (the one who came back counted under the
        citizenship first recorded, Slovenian); continuing: the girl; active: all five."""
        x = annual_report(exit_programme(), 2026).prostitution_exit
        assert x.entered.persons == 4
        assert x.entered.by_gender_age.female_adult == 4
        assert x.entered.by_citizenship == {"BA": 1, "HR": 1, "SI": 2}
        assert x.entered.by_gender_age_citizenship == {"female_adult": {"BA": 1, "HR": 1, "SI": 2}}
        assert x.continuing.persons == 1
        assert x.continuing.by_gender_age_citizenship == {"female_minor": {"BA": 1}}
        assert x.active.persons == 5
        assert (x.active.by_gender_age.female_adult, x.active.by_gender_age.female_minor) == (
            4,
            1,
        )
        # "back" counts under her first record's citizenship (2024, Slovenian), as an adult
        # (not every record of hers says minor).
        assert x.active.by_citizenship == {"BA": 2, "SI": 3}
        assert x.active.by_gender_age_citizenship == {
            "female_adult": {"BA": 1, "SI": 3},
            "female_minor": {"BA": 1},
        }

    def test_sessions_and_exits(self) -> None:
        """Sessions of 2026 each once (two individual, one group; the girl's session of 2025
        not), exits of 2026 (one left; the exit of 2024 not)."""
        x = annual_report(exit_programme(), 2026).prostitution_exit
        assert x.sessions == {"group_counselling": 1, "individual_counselling": 2}
        assert x.exits == {"left": 1}
        earlier = annual_report(exit_programme(), 2024).prostitution_exit
        assert earlier.exits == {"left": 1}
        assert earlier.sessions == {}
        assert earlier.entered.by_gender_age.female_minor == 1

    def test_not_in_all_programmes(self) -> None:
        """The register's pseudonyms cannot be matched to cases: X1's participants are not
        counted in ``all_programmes``."""
        assert annual_report(exit_programme(), 2026).all_programmes.persons == 0


# -- the ledger's keyed hashes (pathway/domain/ledger.py) -----------------------------------


class TestKeyedHashes:
    """The keyed hashes the ledger stores: known answers under a fixed secret, and what makes
    two persons different."""

    def test_known_answers(self) -> None:
        """A case's victim, a child placed with them, a P1 interview, an X1 participant and
        a record: each hash as the ledger has stored it so far (a different derivation would
        split one person or fact into two across an upgrade)."""
        assert person_key(SECRET, "case-1") == (
            "173bedd25a83726c1fc094874c7ff8b214bf3c3875cd8b5bd00aa08dc94b8c3b"
        )
        assert person_key(SECRET, "case-1", "child-a") == (
            "0f1cfbafdbec28e43913970a4d0991fabe6098aa46cd03a7fb8f7a057c0e149f"
        )
        assert person_key(SECRET, "programme-pats", "interview:0", PersonRole.APPLICANT) == (
            "1c40d5d30d004c3ac1f8d69575fbf4974bc543e84ee2b13dde309c0c06dbe507"
        )
        assert person_key(SECRET, "programme-prostitution_exit", "K-7", PersonRole.PARTICIPANT) == (
            "508ddd2c6b187f5df67672cd996bba258ce5ea8d9629fe02b6b4c00478f277f7"
        )
        assert anonymise(victim_fact("case-1", "k"), SECRET).record_id == (RECORD_ID_OF_CASE_1_K)

    def test_register_participants_apart(self) -> None:
        """X1: each pseudonym is its own person, and a participant is not the applicant of a
        P1 interview with the same subject (the role is part of the key)."""
        reg = "programme-prostitution_exit"
        keys = {
            person_key(SECRET, reg, "K-7", PersonRole.PARTICIPANT),
            person_key(SECRET, reg, "K-8", PersonRole.PARTICIPANT),
            person_key(SECRET, reg, "K-7", PersonRole.APPLICANT),
            person_key(SECRET, reg, "K-7"),
        }
        assert len(keys) == 4

    def test_a_register_fact_keyed_by_its_role(self) -> None:
        """A register's record is keyed as its role says (participant), not as a case's
        child with the same subject."""
        fact = victim_fact("programme-prostitution_exit", "x1:K-7:entered").model_copy(
            update={"subject": "K-7", "role": PersonRole.PARTICIPANT}
        )
        record = anonymise(fact, SECRET)
        assert record.person == person_key(
            SECRET, "programme-prostitution_exit", "K-7", PersonRole.PARTICIPANT
        )
        assert record.person != person_key(SECRET, "programme-prostitution_exit", "K-7")

    def test_the_secret_is_at_least_16_bytes(self) -> None:
        """A ledger secret of 16 bytes is enough; one of 15 is refused (HMAC-SHA256 key)."""
        fact = victim_fact("case-1", "k")
        assert anonymise(fact, SECRET[:16]).person == person_key(SECRET[:16], "case-1")
        with pytest.raises(ValueError, match="16 bytes"):
            anonymise(fact, SECRET[:15])


RECORD_ID_OF_CASE_1_K = "fb2b25836986e2eda7d01d0e76791ba78d23b6e1d697c451230b0dc249217aee"


def victim_fact(case_id: str, key: str) -> StatisticsFact:
    return StatisticsFact(
        case_id=case_id,
        key=key,
        year=2026,
        month=1,
        programme=LedgerProgramme.IDENTIFICATION,
        event=LedgerEvent.IDENTIFIED,
        gender=Gender.FEMALE,
        minor=False,
        citizenships=["SI"],
        role=PersonRole.VICTIM,
    )


# -- a case's facts (pathway/domain/ledger.py) ----------------------------------------------


def lj(month: int, day: int, hour: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=LJUBLJANA)


SI_WOMAN = {
    "birth_date": "1980-01-01",
    "gender": "female",
    "citizenships": ["SI"],
    "residence_status": "slovenian_citizen",
    "languages": ["sl"],
    "exploited_abroad": True,
}


def then(state: CaseState, type_: str, when: datetime, event_id: str, **fields: Any) -> CaseState:
    return accept(state, event(type_, when, event_id=event_id, **fields))


def rich_case() -> CaseState:
    """A Slovenian woman identified on 5 January 2026 (R1), in crisis accommodation with her
    son (K1), a material service (K3), moved to safe accommodation (S1), enrolled in
    reintegration (I1) with one service, then a service in safe accommodation (S2)."""
    state = accept(None, event("identified", lj(1, 5), person=SI_WOMAN, event_id="ev-id"))
    state = then(state, "crisis_accommodation_placed", lj(1, 6), "ev-k")
    state = then(
        state,
        "accompanying_child_recorded",
        lj(1, 7),
        "ev-c",
        child_ref="c-1",
        birth_date="2010-05-01",
        gender="male",
        citizenships=["SI"],
        placed_with="crisis_accommodation",
    )
    state = then(
        state,
        "accommodation_service_recorded",
        lj(1, 8),
        "ev-a1",
        programme="crisis_accommodation",
        service="material_assistance",
        status="provided",
    )
    state = then(state, "safe_accommodation_placed", lj(1, 20), "ev-s")
    state = then(state, "reintegration_enrolled", lj(2, 2), "ev-r", personal_plan=True)
    state = then(state, "reintegration_service_recorded", lj(3, 3), "ev-rs", service="documents")
    return then(
        state,
        "accommodation_service_recorded",
        lj(4, 4),
        "ev-a2",
        programme="safe_accommodation",
        service="material_assistance",
        status="offered",
        organisation="kljuc",
    )


class TestCaseFacts:
    """:func:`statistics_facts`: every fact of a case, with stable keys (docs/statistics.md)."""

    def test_every_fact_and_its_key(self) -> None:
        """The facts of :func:`rich_case`, in their stable order, each key naming the episode
        (its opening instant) and the event it stands for (R1, K1, K3, S1, S2, I1)."""
        facts = statistics_facts(rich_case())
        episode = "2026-01-05T12:00:00+01:00|"
        kid = "crisis_accommodation:ev-k:child:c-1"
        assert [f.key for f in facts] == [
            episode + key
            for key in (
                "identified:ev-id",
                "crisis_accommodation:ev-k:entered",
                "crisis_accommodation:ev-k:exited",
                "safe_accommodation:ev-s:entered",
                "reintegration:ev-r:entered",
                "service:0",
                "service:1",
                "reintegration-service:0:ev-rs",
                f"{kid}:entered",
                f"{kid}:exited",
            )
        ]
        crisis, safe, moved = (
            "crisis_accommodation",
            "safe_accommodation",
            "moved_to_safe_accommodation",
        )
        material = "material_assistance"
        assert [
            (f.subject, f.programme.value, f.event.value, f.detail, f.month, f.minor) for f in facts
        ] == [
            (None, "identification", "identified", None, 1, False),
            (None, crisis, "entered", None, 1, False),
            (None, crisis, "exited", moved, 1, False),
            (None, safe, "entered", None, 1, False),
            (None, "reintegration", "entered", None, 2, False),
            (None, crisis, "service", f"{material}:provided", 1, False),
            (None, safe, "service", f"{material}:offered", 4, False),
            (None, "reintegration", "service", "documents", 3, False),
            ("c-1", crisis, "entered", None, 1, True),
            ("c-1", crisis, "exited", moved, 1, True),
        ]

    def test_identification_dated_by_its_event(self) -> None:
        """R1: the identification is dated when the identifying event happened, not when the
        case was opened; a case whose timeline holds no identification (an older one) dates
        it from the opening, with an empty event ID in its key."""
        state = rich_case()
        opened_earlier = state.model_copy(update={"opened_at": lj(12, 30, year=2025)})
        first = statistics_facts(opened_earlier)[0]
        assert (first.key, first.year, first.month) == (
            "2025-12-30T12:00:00+01:00|identified:ev-id",
            2026,
            1,
        )
        without = opened_earlier.model_copy(
            update={"timeline": [t for t in state.timeline if t.what != "identified"]}
        )
        first = statistics_facts(without)[0]
        assert (first.key, first.year, first.month) == (
            "2025-12-30T12:00:00+01:00|identified:",
            2025,
            12,
        )

    def test_a_timers_line_is_not_an_identification(self) -> None:
        """A line without an event ID named like the identification (a timer's or the
        service's own) neither dates nor names it."""
        state = rich_case()
        timer = line("identified", lj(2, 1))
        state = state.model_copy(update={"timeline": [timer, *state.timeline]})
        first = statistics_facts(state)[0]
        assert (first.key.rsplit("|", 1)[1], first.month) == ("identified:ev-id", 1)


def line(what: str, when: datetime, event_id: str | None = None) -> TimelineEntry:
    return TimelineEntry(at=when, recorded_at=when, who="test", what=what, event_id=event_id)


def case_with(*lines: TimelineEntry, **update: Any) -> CaseState:
    """A case identified on 5 January 2026 whose timeline then reads ``lines`` (a case
    recorded under earlier rules, or a timeline the rules cannot make today)."""
    state = accept(None, event("identified", lj(1, 5), person=SI_WOMAN, event_id="ev-id"))
    return state.model_copy(update={"timeline": [state.timeline[0], *lines], **update})


def exits(state: CaseState) -> list[tuple[str, str | None, str | None]]:
    return [
        (s.programme.value, s.entry_event, s.exit_kind.value if s.exit_kind else None)
        for s in victim_stays(state)
    ]


def safe_record(end_reason: str | None) -> PlacementRecord:
    return PlacementRecord(
        provider=Organisation.KLJUC,
        since=lj(1, 6),
        consent_signed_on=date(2026, 1, 6),
        ended_at=None if end_reason is None else lj(1, 9),
        end_reason=end_reason,
    )


class TestStays:
    """:func:`victim_stays`: the stays the timeline tells, and what ended each."""

    def test_a_timers_line_does_not_stop_the_reading(self) -> None:
        """A timer's line (no event ID) between events changes no placement, and the events
        after it still count (K1: the end after a deadline's reminder)."""
        state = case_with(
            line("crisis accommodation placed", lj(1, 6), "ev-1"),
            line("deadline reminder", lj(1, 20)),
            line("crisis accommodation ended", lj(1, 25), "ev-2"),
        )
        assert exits(state) == [("crisis_accommodation", "ev-1", "ended")]

    def test_straight_into_safe_accommodation(self) -> None:
        """S1: a placement in safe accommodation straight from identification ends no crisis
        stay (there is none), and S5's end ends it."""
        state = case_with(
            line("safe accommodation placed", lj(1, 6), "ev-1"),
            line("safe accommodation ended", lj(3, 1), "ev-2"),
        )
        assert exits(state) == [("safe_accommodation", "ev-1", "ended")]

    def test_two_stays_in_one_programme_are_two_entries(self) -> None:
        """K1: a second crisis stay after the first ended is its own entry, named by its own
        event (so both are stored)."""
        state = case_with(
            line("crisis accommodation placed", lj(1, 6), "ev-1"),
            line("crisis accommodation ended", lj(1, 10), "ev-2"),
            line("crisis accommodation placed", lj(2, 6), "ev-3"),
        )
        assert exits(state) == [
            ("crisis_accommodation", "ev-1", "ended"),
            ("crisis_accommodation", "ev-3", None),
        ]
        keys = [f.key for f in statistics_facts(state)]
        assert len(keys) == len(set(keys)) == 4

    @pytest.mark.parametrize(
        ("safe", "ended"),
        [
            (safe_record("consent withdrawn (K2)"), "safe_accommodation"),
            (safe_record(None), "crisis_accommodation"),
            (safe_record("ended"), "crisis_accommodation"),
            (None, "crisis_accommodation"),
        ],
    )
    def test_consent_withdrawn_with_both_placements_running(
        self, safe: PlacementRecord | None, ended: str
    ) -> None:
        """K2 in a case from before the seed's rules, with crisis and safe accommodation both
        running: the withdrawal ends the one whose record says consent was withdrawn (safe
        accommodation's end reason), else crisis accommodation."""
        state = case_with(
            line("safe accommodation placed", lj(1, 6), "ev-1"),
            line("crisis accommodation placed", lj(1, 7), "ev-2"),
            line("consent withdrawn", lj(1, 9), "ev-3"),
            safe_accommodation=safe,
        )
        withdrawn = [p for p, _, kind in exits(state) if kind == "consent_withdrawn"]
        assert withdrawn == [ended]

    def test_consent_withdrawn_from_the_one_placement_running(self) -> None:
        """K2: with one placement running, the withdrawal ends that one, even when safe
        accommodation ended by an earlier withdrawal."""
        state = case_with(
            line("safe accommodation placed", lj(1, 6), "ev-1"),
            line("consent withdrawn", lj(1, 9), "ev-2"),
            line("crisis accommodation placed", lj(2, 1), "ev-3"),
            line("consent withdrawn", lj(2, 5), "ev-4"),
            safe_accommodation=safe_record("consent withdrawn (K2)"),
        )
        assert exits(state) == [
            ("safe_accommodation", "ev-1", "consent_withdrawn"),
            ("crisis_accommodation", "ev-3", "consent_withdrawn"),
        ]


def child(**fields: Any) -> AccompanyingChild:
    data: dict[str, Any] = {
        "child_ref": "c-1",
        "gender": Gender.MALE,
        "citizenships": ["SI"],
        "placed_with": Placement.CRISIS_ACCOMMODATION,
        "recorded_at": lj(1, 7),
    }
    return AccompanyingChild.model_validate(data | fields)


class TestChildren:
    """Accompanying children: minor on each date, counted in the stays of their placement."""

    def test_minor_from_the_birth_date(self) -> None:
        """Under 18 on the day: a minor until the day before the 18th birthday, an adult on
        it."""
        boy = child(birth_date=date(2008, 6, 15))
        assert child_is_minor(boy, date(2026, 6, 14))
        assert not child_is_minor(boy, date(2026, 6, 15))

    def test_minor_from_the_age_estimate(self) -> None:
        """Without a birth date, from the estimate: estimated 16 on 1 March 2024, so 17 on
        1 March 2025 (a minor) and 18 on 1 March 2026 (an adult)."""
        estimate = AgeEstimate(years=16, as_of=date(2024, 3, 1), source="the social worker")
        boy = child(age_estimate=estimate)
        assert child_is_minor(boy, date(2025, 3, 1))
        assert child_is_minor(boy, date(2026, 2, 28))
        assert not child_is_minor(boy, date(2026, 3, 1))

    def test_neither_is_a_minor(self) -> None:
        """A child placed with the victim with neither a birth date nor an estimate counts
        as a minor."""
        assert child_is_minor(child(), date(2026, 1, 1))

    def _facts(self, state: CaseState, kid: AccompanyingChild) -> list[tuple[str, str, Any]]:
        state = state.model_copy(update={"accompanying_children": [kid]})
        return [
            (f.programme.value, f.event.value, f.detail)
            for f in statistics_facts(state)
            if f.subject == kid.child_ref
        ]

    def test_placed_with_safe_accommodation(self) -> None:
        """A child placed with the victim in safe accommodation counts in the safe stay, not
        in the crisis stay before it."""
        state = case_with(
            line("crisis accommodation placed", lj(1, 6), "ev-1"),
            line("safe accommodation placed", lj(1, 20), "ev-2"),
            line("safe accommodation ended", lj(3, 1), "ev-3"),
        )
        kid = child(placed_with=Placement.SAFE_ACCOMMODATION, recorded_at=lj(1, 21))
        assert self._facts(state, kid) == [
            ("safe_accommodation", "entered", None),
            ("safe_accommodation", "exited", "ended"),
        ]

    def test_only_the_stays_running_when_or_after_recorded(self) -> None:
        """A stay that ended before the child was recorded is not the child's; one that ended
        at the instant the child was recorded is, as is the next one."""
        state = case_with(
            line("crisis accommodation placed", lj(1, 6), "ev-1"),
            line("crisis accommodation ended", lj(1, 8), "ev-2"),
            line("crisis accommodation placed", lj(1, 10), "ev-3"),
            line("crisis accommodation ended", lj(1, 12), "ev-4"),
            line("crisis accommodation placed", lj(2, 1), "ev-5"),
        )
        kid = child(recorded_at=lj(1, 12))
        state = state.model_copy(update={"accompanying_children": [kid]})
        keys = [f.key.rsplit("|", 1)[1] for f in statistics_facts(state) if f.subject == "c-1"]
        assert keys == [
            "crisis_accommodation:ev-3:child:c-1:entered",
            "crisis_accommodation:ev-3:child:c-1:exited",
            "crisis_accommodation:ev-5:child:c-1:entered",
        ]


class TestReintegrationServices:
    """I1: each reintegration service a fact, dated by its record on the timeline."""

    def test_reintegration_services_beyond_the_timeline(self) -> None:
        """I1: services the state holds beyond the timeline's records (none under the rules
        today) date from the enrolment with no event ID; the k-th of the rest from the k-th
        record."""
        state = case_with(
            line("reintegration enrolled", lj(2, 2), "ev-r"),
            line("reintegration service recorded", lj(3, 3), "ev-1"),
            line("reintegration service recorded", lj(4, 4), "ev-2"),
            line("reintegration service recorded", lj(5, 5), "ev-3"),
            reintegration=Reintegration(
                enrolled_at=lj(2, 2),
                personal_plan=True,
                services=[Service.DOCUMENTS, Service.COUNSELLING, Service.OTHER, Service.DOCUMENTS],
            ),
        )
        services = [
            (f.key.rsplit("|", 1)[1], f.detail, f.month)
            for f in statistics_facts(state)
            if f.programme is LedgerProgramme.REINTEGRATION and f.event is LedgerEvent.SERVICE
        ]
        assert services == [
            ("reintegration-service:0:", "documents", 2),
            ("reintegration-service:1:ev-1", "counselling", 3),
            ("reintegration-service:2:ev-2", "other", 4),
            ("reintegration-service:3:ev-3", "documents", 5),
        ]


# -- the programme registers' facts (P1, X1; pathway/domain/ledger.py) ----------------------


def utc(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def interview(when: datetime, **fields: Any) -> PatsInterview:
    data: dict[str, Any] = {
        "at": when,
        "organisation": Organisation.UOIM,
        "gender": Gender.FEMALE,
        "citizenships": ["SY"],
        "minor": False,
        "age_appropriate": True,
        "shortened_at_placement": False,
        "suspicion": False,
    }
    return PatsInterview.model_validate(data | fields)


def expected(
    register: str, key: str, subject: str, when: tuple[int, int], what: tuple[Any, ...]
) -> StatisticsFact:
    """A register's fact: ``what`` is (programme, event, detail, gender, minor, citizenships,
    role)."""
    programme, event_, detail, gender, minor, citizenships, role = what
    return StatisticsFact(
        case_id=register,
        key=key,
        subject=subject,
        year=when[0],
        month=when[1],
        programme=programme,
        event=event_,
        detail=detail,
        gender=gender,
        minor=minor,
        citizenships=citizenships,
        role=role,
    )


class TestRegisterFacts:
    """:func:`register_facts`: what the P1 and X1 registers contribute (docs/statistics.md)."""

    def test_pats_interviews(self) -> None:
        """P1 (PATS): one ``interviewed`` fact per interview, with or without suspicion, each
        its own applicant (its place in the register), dated in Ljubljana (31 January 23:30
        UTC is 1 February there), gender, minor and citizenships as recorded."""
        pats = ProgrammeState(
            register_id="programme-pats",
            programme=Programme.PATS,
            interviews=[
                interview(
                    utc(2026, 1, 31, 23, 30),
                    gender=M,
                    minor=True,
                    citizenships=["AF", "IR"],
                    suspicion=True,
                ),
                interview(utc(2026, 3, 2), organisation=Organisation.KLJUC),
            ],
        )
        p1, applicant = A.ASYLUM_PROCEDURE_INTERVIEWS, PersonRole.APPLICANT
        assert register_facts(pats) == [
            expected(
                "programme-pats",
                "pats:0",
                "interview:0",
                (2026, 2),
                (p1, E.INTERVIEWED, "with_suspicion", M, True, ["AF", "IR"], applicant),
            ),
            expected(
                "programme-pats",
                "pats:1",
                "interview:1",
                (2026, 3),
                (p1, E.INTERVIEWED, "without_suspicion", F, False, ["SY"], applicant),
            ),
        ]

    def test_exit_programme_enrolments(self) -> None:
        """X1: a participant who came back (her earlier enrolment first: entered on
        1 January 2025 in Ljubljana, a group session, left on 1 July 2025 in Ljubljana), her
        current enrolment with two sessions, and another participant who left; every fact
        keyed by the pseudonym and the enrolment's instant, adult or minor as recorded at
        each enrolment."""
        reg = "programme-prostitution_exit"
        earlier = Participant(
            enrolled_at=utc(2024, 12, 31, 23, 30),
            gender=F,
            citizenships=["SI"],
            minor=True,
            sessions=[CounsellingSession(at=utc(2025, 2, 10), session="group")],
            left_at=utc(2025, 6, 30, 22, 30),
        )
        now = Participant(
            enrolled_at=utc(2026, 2, 1),
            gender=F,
            citizenships=["SI", "BA"],
            minor=False,
            sessions=[
                CounsellingSession(at=utc(2026, 2, 3), session="individual"),
                CounsellingSession(at=utc(2026, 3, 4), session="group"),
            ],
        )
        other = Participant(
            enrolled_at=utc(2026, 5, 5),
            gender=U,
            citizenships=["BA"],
            minor=False,
            left_at=utc(2026, 8, 8),
        )
        state = ProgrammeState(
            register_id=reg,
            programme=Programme.PROSTITUTION_EXIT,
            participants={"K-7": now, "K-9": other},
            former_enrolments=[FormerEnrolment(participant_ref="K-7", enrolment=earlier)],
        )
        x, who = A.PROSTITUTION_EXIT, PersonRole.PARTICIPANT
        k7a, k7b = "x1:K-7:2024-12-31T23:30:00+00:00", "x1:K-7:2026-02-01T09:00:00+00:00"
        k9 = "x1:K-9:2026-05-05T09:00:00+00:00"
        minor_si = (F, True, ["SI"], who)
        adult = (F, False, ["SI", "BA"], who)
        other_adult = (U, False, ["BA"], who)
        assert register_facts(state) == [
            expected(reg, f"{k7a}:entered", "K-7", (2025, 1), (x, E.ENTERED, None, *minor_si)),
            expected(
                reg,
                f"{k7a}:session:0",
                "K-7",
                (2025, 2),
                (x, E.SERVICE, "group_counselling", *minor_si),
            ),
            expected(reg, f"{k7a}:exited", "K-7", (2025, 7), (x, E.EXITED, "left", *minor_si)),
            expected(reg, f"{k7b}:entered", "K-7", (2026, 2), (x, E.ENTERED, None, *adult)),
            expected(
                reg,
                f"{k7b}:session:0",
                "K-7",
                (2026, 2),
                (x, E.SERVICE, "individual_counselling", *adult),
            ),
            expected(
                reg,
                f"{k7b}:session:1",
                "K-7",
                (2026, 3),
                (x, E.SERVICE, "group_counselling", *adult),
            ),
            expected(reg, f"{k9}:entered", "K-9", (2026, 5), (x, E.ENTERED, None, *other_adult)),
            expected(reg, f"{k9}:exited", "K-9", (2026, 8), (x, E.EXITED, "left", *other_adult)),
        ]

    def test_registers_in_the_annual_report(self) -> None:
        """P1 and X1 facts, anonymised, read by the annual report: the two interviews, one
        participant counted once across her two enrolments (her pseudonym is one person)."""
        pats = ProgrammeState(
            register_id="programme-pats",
            programme=Programme.PATS,
            interviews=[interview(utc(2026, 1, 10)), interview(utc(2026, 1, 11))],
        )
        first = Participant(
            enrolled_at=utc(2026, 1, 5), gender=F, citizenships=["SI"], minor=False,
            left_at=utc(2026, 2, 5),
        )  # fmt: skip
        again = first.model_copy(update={"enrolled_at": utc(2026, 4, 5), "left_at": None})
        x1_state = ProgrammeState(
            register_id="programme-prostitution_exit",
            programme=Programme.PROSTITUTION_EXIT,
            participants={"K-7": again},
            former_enrolments=[FormerEnrolment(participant_ref="K-7", enrolment=first)],
        )
        records = [anonymise(f, SECRET) for s in (pats, x1_state) for f in register_facts(s)]
        figures = annual_report(records, 2026)
        assert figures.asylum_procedure_interviews.interviews == 2
        assert figures.prostitution_exit.entered.persons == 1
        assert figures.prostitution_exit.exits == {"left": 1}
