"""The annual report from the statistics ledger alone (issue 15 item 2; docs/statistics.md).

Pure: :func:`annual_report` takes the ledger's records (anonymised, see
:mod:`pathway.domain.ledger`) and a year, and counts persons (distinct keyed hashes), never
records, except for exits (each exit once). Nothing here reads a case, so the figures of a year
stay the same after its cases are erased.

- **entered**: persons with an entry into the programme in the year;
- **continuing**: persons in the programme when the year began (entered earlier, not left
  before the year): for one person and programme, more entries than exits dated before the
  year (each stay has one entry and at most one exit, so no order within a month is needed);
- **active**: entered or continuing (each person once);
- **all programmes**: persons active in any of crisis accommodation, safe accommodation or
  reintegration in the year, each once however many programmes they were in;
- **asylum-procedure interviews** (P1, PATS): interviews in the year, with and without
  suspicion (each interview once: the register keeps no person);
- **prostitution exit** (X1): entered, continuing and active as above, over the register's
  participants (their pseudonyms, keyed), who are not in *all programmes*; counselling
  sessions and exits in the year, each once.

Adult or minor: for *entered* and *identified*, on the date of the entry or identification;
for *continuing*, *active* and *all programmes*, at the person's latest record in the
programme(s) up to the end of the year (adult as soon as any record says adult: a person who
turned 18 during a placement counts as an adult from the first record dated after their
birthday, e.g. their exit). Gender and citizenship: as the person's first record in scope
says; a person with several citizenships is counted under the first recorded.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Annotated

from pydantic import BaseModel, Field, WithJsonSchema

from pathway.domain.ledger import (
    PROGRAMMES,
    LedgerEvent,
    LedgerProgramme,
    PersonRole,
    StatisticsRecord,
)
from pathway.domain.person import Gender

SUPPRESSED_CELL = {
    "type": "object",
    "description": "A count withheld by `--public --k N` (docs/statistics.md, publication "
    "safety): from 1 to below-1, or a complement withheld so that no other can be recovered.",
    "properties": {"suppressed": {"const": True}, "below": {"type": "integer", "minimum": 2}},
    "required": ["suppressed", "below"],
    "additionalProperties": False,
}
Count = Annotated[
    int, WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, SUPPRESSED_CELL]})
]
"""A published count: an integer here; in the JSON of `--public`, possibly a suppressed cell
(:mod:`pathway.domain.suppression`)."""


class GenderAge(BaseModel):
    """Persons by gender × adult/minor."""

    female_adult: Count = 0
    female_minor: Count = 0
    male_adult: Count = 0
    male_minor: Count = 0
    other_or_unknown_adult: Count = 0
    other_or_unknown_minor: Count = 0


class Persons(BaseModel):
    """Distinct persons, with their breakdowns (each sums to ``persons``)."""

    persons: Count = 0
    victims: Count = 0
    accompanying_children: Count = Field(
        default=0, description="Children placed with a victim (included in persons)."
    )
    by_gender_age: GenderAge = Field(default_factory=GenderAge)
    victims_by_citizenship: dict[str, Count] = Field(
        default_factory=dict, description="ISO 3166 alpha-2 code: victims (first citizenship)."
    )
    children_by_citizenship: dict[str, Count] = Field(
        default_factory=dict,
        description="ISO 3166 alpha-2 code: accompanying children (first citizenship).",
    )


class ProgrammeYear(BaseModel):
    """One programme's year."""

    entered: Persons = Field(description="Persons who entered the programme in the year.")
    continuing: Persons = Field(
        description="Persons in the programme when the year began (entered earlier)."
    )
    active: Persons = Field(description="Persons in the programme at any time in the year.")
    exits: dict[str, Count] = Field(
        default_factory=dict, description="Exits in the year by kind (each exit once)."
    )
    services: dict[str, Count] = Field(
        default_factory=dict,
        description="Persons provided (or offered) each service in the year: "
        "`<service>:<offered|provided>` (K3, S2) or `<service>` (I1).",
    )


class Interviews(BaseModel):
    """P1 (PATS): asylum-procedure interviews in the year, each interview once (the register
    keeps no person: an applicant interviewed twice is two interviews)."""

    interviews: Count = 0
    with_suspicion: Count = Field(
        default=0, description="Interviews that raised suspicion of trafficking (UOIM informed)."
    )
    without_suspicion: Count = 0
    by_gender_age: GenderAge = Field(default_factory=GenderAge)
    by_citizenship: dict[str, Count] = Field(
        default_factory=dict, description="ISO 3166 alpha-2 code: interviews (first citizenship)."
    )


class Participants(BaseModel):
    """X1: distinct participants (the NGO's pseudonyms, keyed), with their breakdowns, as the
    seed states them: "seven adult women (six Slovenian and one BiH citizen)"."""

    persons: Count = 0
    by_gender_age: GenderAge = Field(default_factory=GenderAge)
    by_citizenship: dict[str, Count] = Field(
        default_factory=dict, description="ISO 3166 alpha-2 code: persons (first citizenship)."
    )
    by_gender_age_citizenship: dict[str, dict[str, Count]] = Field(
        default_factory=dict,
        description="Gender × adult/minor (the keys of by_gender_age that are not 0) → "
        "citizenship → persons.",
    )


class ExitProgrammeYear(BaseModel):
    """X1: the prostitution-exit programme's year."""

    entered: Participants = Field(
        default_factory=Participants, description="Persons enrolled in the year."
    )
    continuing: Participants = Field(
        default_factory=Participants,
        description="Persons in the programme when the year began (enrolled earlier).",
    )
    active: Participants = Field(
        default_factory=Participants,
        description="Persons in the programme at any time in the year.",
    )
    sessions: dict[str, Count] = Field(
        default_factory=dict,
        description="Counselling sessions in the year, each once: `individual_counselling`, "
        "`group_counselling`.",
    )
    exits: dict[str, Count] = Field(
        default_factory=dict, description="Persons who left in the year (each exit once): `left`."
    )


class AnnualReport(BaseModel):
    """``pathway report annual --year YYYY --format json``: the year's figures from the
    statistics ledger (docs/statistics.md; schema docs/annual-report.schema.json)."""

    year: int = Field(ge=1900, le=9999)
    identified: Persons = Field(description="Persons identified in the year (R1).")
    crisis_accommodation: ProgrammeYear
    safe_accommodation: ProgrammeYear
    reintegration: ProgrammeYear
    all_programmes: Persons = Field(
        description="Distinct persons active in any programme in the year."
    )
    asylum_procedure_interviews: Interviews = Field(
        default_factory=Interviews, description="P1 (PATS): interviews in the year."
    )
    prostitution_exit: ExitProgrammeYear = Field(
        default_factory=ExitProgrammeYear,
        description="X1: the prostitution-exit programme (its participants are not counted in "
        "all_programmes: the register's pseudonyms cannot be matched to cases).",
    )


def _gender_age(gender: Gender, minor: bool) -> str:
    kind = gender.value if gender in (Gender.FEMALE, Gender.MALE) else "other_or_unknown"
    return f"{kind}_{'minor' if minor else 'adult'}"


def _persons(groups: dict[str, list[StatisticsRecord]]) -> Persons:
    """Count each person of ``groups`` (person → the records that decide their breakdown:
    gender, role and citizenship from the first, minor only if every one says minor)."""
    out = Persons()
    ages: Counter[str] = Counter()
    victims: Counter[str] = Counter()
    children: Counter[str] = Counter()
    for records in groups.values():
        first = min(records, key=lambda r: (r.year, r.month, r.record_id))
        out.persons += 1
        ages[_gender_age(first.gender, all(r.minor for r in records))] += 1
        if first.role is PersonRole.VICTIM:
            out.victims += 1
            victims[first.citizenships[0]] += 1
        else:
            out.accompanying_children += 1
            children[first.citizenships[0]] += 1
    out.by_gender_age = GenderAge(**ages)
    out.victims_by_citizenship = dict(sorted(victims.items()))
    out.children_by_citizenship = dict(sorted(children.items()))
    return out


def _participants(groups: dict[str, list[StatisticsRecord]]) -> Participants:
    """Count each participant of ``groups`` (person → their records: gender and citizenship
    from the first, minor only if every one says minor)."""
    out = Participants()
    ages: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    cross: dict[str, Counter[str]] = defaultdict(Counter)
    for records in groups.values():
        first = min(records, key=lambda r: (r.year, r.month, r.record_id))
        age = _gender_age(first.gender, all(r.minor for r in records))
        out.persons += 1
        ages[age] += 1
        countries[first.citizenships[0]] += 1
        cross[age][first.citizenships[0]] += 1
    out.by_gender_age = GenderAge(**ages)
    out.by_citizenship = dict(sorted(countries.items()))
    out.by_gender_age_citizenship = {
        age: dict(sorted(cross[age].items())) for age in GenderAge.model_fields if age in cross
    }
    return out


def _stays(
    records: list[StatisticsRecord], year: int
) -> tuple[
    dict[str, list[StatisticsRecord]],
    dict[str, list[StatisticsRecord]],
    dict[str, list[StatisticsRecord]],
]:
    """``records`` (one programme's, of ``year`` and before) as the persons who entered in the
    year (→ their entries), those continuing from before it and those active in it (→ all
    their records); see the module."""
    by_person: dict[str, list[StatisticsRecord]] = defaultdict(list)
    for r in records:
        by_person[r.person].append(r)
    entered: dict[str, list[StatisticsRecord]] = {}
    continuing: dict[str, list[StatisticsRecord]] = {}
    active: dict[str, list[StatisticsRecord]] = {}
    for person, mine in by_person.items():
        entries = [r for r in mine if r.event is LedgerEvent.ENTERED and r.year == year]
        before = [r for r in mine if r.year < year]
        ins = sum(r.event is LedgerEvent.ENTERED for r in before)
        outs = sum(r.event is LedgerEvent.EXITED for r in before)
        if entries:
            entered[person] = entries
        if ins > outs:
            continuing[person] = mine
        if entries or ins > outs:
            active[person] = mine
    return entered, continuing, active


def _interviews(records: list[StatisticsRecord], year: int) -> Interviews:
    """P1: the interviews of ``year`` (each record is one interview)."""
    out = Interviews()
    ages: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    for r in records:
        if r.year != year or r.event is not LedgerEvent.INTERVIEWED:
            continue
        out.interviews += 1
        if r.detail == "with_suspicion":
            out.with_suspicion += 1
        else:
            out.without_suspicion += 1
        ages[_gender_age(r.gender, r.minor)] += 1
        countries[r.citizenships[0]] += 1
    out.by_gender_age = GenderAge(**ages)
    out.by_citizenship = dict(sorted(countries.items()))
    return out


def _exit_programme_year(records: list[StatisticsRecord], year: int) -> ExitProgrammeYear:
    """X1: ``records`` of the programme, of ``year`` and before."""
    entered, continuing, active = _stays(records, year)
    return ExitProgrammeYear(
        entered=_participants(entered),
        continuing=_participants(continuing),
        active=_participants(active),
        sessions=_each_once(records, year, LedgerEvent.SERVICE),
        exits=_each_once(records, year, LedgerEvent.EXITED),
    )


def _each_once(records: list[StatisticsRecord], year: int, event: LedgerEvent) -> dict[str, int]:
    """The ``event`` records of ``year`` by their detail, each record once."""
    kinds = Counter(r.detail or "" for r in records if r.year == year and r.event is event)
    return dict(sorted(kinds.items()))


def _programme_year(records: list[StatisticsRecord], year: int) -> ProgrammeYear:
    """``records``: one programme's, of ``year`` and before."""
    entered, continuing, active = _stays(records, year)
    exits = Counter(
        r.detail or "" for r in records if r.event is LedgerEvent.EXITED and r.year == year
    )
    services: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.event is LedgerEvent.SERVICE and r.year == year:
            services[r.detail or ""].add(r.person)
    return ProgrammeYear(
        entered=_persons(entered),
        continuing=_persons(continuing),
        active=_persons(active),
        exits=dict(sorted(exits.items())),
        services={service: len(who) for service, who in sorted(services.items())},
    )


def annual_report(records: Iterable[StatisticsRecord], year: int) -> AnnualReport:
    """The figures of ``year`` from the ledger's ``records`` (any years: later ones are
    ignored). See the module docstring for what each figure counts."""
    by_programme: dict[LedgerProgramme, list[StatisticsRecord]] = defaultdict(list)
    for r in records:
        if r.year <= year:
            by_programme[r.programme].append(r)
    identified: dict[str, list[StatisticsRecord]] = defaultdict(list)
    for r in by_programme[LedgerProgramme.IDENTIFICATION]:
        if r.year == year and r.event is LedgerEvent.IDENTIFIED:
            identified[r.person].append(r)
    programmes = {p: _programme_year(by_programme[p], year) for p in PROGRAMMES}
    everyone: dict[str, list[StatisticsRecord]] = defaultdict(list)
    for programme in PROGRAMMES:
        active = _active_persons(by_programme[programme], year)
        for r in by_programme[programme]:
            if r.person in active:
                everyone[r.person].append(r)
    return AnnualReport(
        year=year,
        identified=_persons(identified),
        crisis_accommodation=programmes[LedgerProgramme.CRISIS_ACCOMMODATION],
        safe_accommodation=programmes[LedgerProgramme.SAFE_ACCOMMODATION],
        reintegration=programmes[LedgerProgramme.REINTEGRATION],
        all_programmes=_persons(everyone),
        asylum_procedure_interviews=_interviews(
            by_programme[LedgerProgramme.ASYLUM_PROCEDURE_INTERVIEWS], year
        ),
        prostitution_exit=_exit_programme_year(
            by_programme[LedgerProgramme.PROSTITUTION_EXIT], year
        ),
    )


def _active_persons(records: list[StatisticsRecord], year: int) -> set[str]:
    """The persons active in ``year`` in the programme of ``records`` (see the module)."""
    balance: Counter[str] = Counter()
    entered: set[str] = set()
    for r in records:
        if r.year < year:
            balance[r.person] += (r.event is LedgerEvent.ENTERED) - (r.event is LedgerEvent.EXITED)
        elif r.event is LedgerEvent.ENTERED:
            entered.add(r.person)
    return entered | {person for person, n in balance.items() if n > 0}


def flatten(report: AnnualReport) -> list[tuple[str, str, str, int]]:
    """The report as rows ``(section, measure, key, value)`` for CSV: e.g.
    ``("crisis_accommodation", "entered", "by_gender_age.female_adult", 3)``."""
    rows: list[tuple[str, str, str, int]] = []

    def walk(section: str, measure: str, prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(section, measure, f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, int):
            rows.append((section, measure, prefix, value))

    data = report.model_dump(mode="json")
    for section, value in data.items():
        if section == "year":
            continue
        if section in {*(p.value for p in PROGRAMMES), LedgerProgramme.PROSTITUTION_EXIT.value}:
            for measure, inner in value.items():
                walk(section, measure, "", inner)
        elif section == LedgerProgramme.ASYLUM_PROCEDURE_INTERVIEWS.value:
            walk(section, "interviews", "", value)
        else:
            walk(section, "persons", "", value)
    return rows
