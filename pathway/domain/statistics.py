"""Yearly statistics per programme (docs/rules.md "Reports"), as in the seed's 2022 figures:
persons by gender, adult/minor and citizenship, with accompanying children counted in the placement
programmes. Aggregates only: no case ID or date leaves this module.

A person is counted once per programme they entered in the year (issue 12): every placement or
enrolment recorded in a case's timeline counts, not only the latest its state keeps, so a
person placed in two different years counts in both; and a person is one case ID however many
runs (continue-as-new) or episodes (re-identifications) the case has, so the states of several
episodes of one case count that person once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime

from pydantic import BaseModel, Field

from pathway.domain.calendar import local_date
from pathway.domain.events import ServiceStatus
from pathway.domain.person import whole_years
from pathway.domain.programmes import Programme, ProgrammeState
from pathway.domain.state import AccompanyingChild, CaseState, PlacementRecord


class ProgrammeFigures(BaseModel):
    """One programme's year."""

    persons: int = 0
    female: int = 0
    male: int = 0
    other_or_unknown_gender: int = 0
    adults: int = 0
    minors: int = 0
    by_citizenship: dict[str, int] = Field(default_factory=dict)
    accompanying_children: int = Field(
        default=0, description="Children placed with a victim (included in persons)."
    )
    interviews_with_suspicion: int = Field(default=0, description="P1 only.")
    services_offered: dict[str, int] = Field(
        default_factory=dict,
        description="K3, S2 (crisis and safe accommodation only): per service, the persons "
        "offered it in the year.",
    )
    services_provided: dict[str, int] = Field(
        default_factory=dict,
        description="K3, S2 (crisis and safe accommodation only): per service, the persons "
        "provided with it in the year.",
    )


class YearlyReport(BaseModel):
    year: int
    crisis_accommodation: ProgrammeFigures
    safe_accommodation: ProgrammeFigures
    reintegration: ProgrammeFigures
    asylum_procedure_interviews: ProgrammeFigures
    prostitution_exit: ProgrammeFigures
    skipped_erased: int = Field(
        default=0,
        description="Episodes of cases not counted because they were erased (issue 12).",
    )


class _Tally:
    def __init__(self) -> None:
        self.figures = ProgrammeFigures()
        self.citizenships: Counter[str] = Counter()
        #: Who is counted already (a case ID, or a case ID and a child's reference).
        self.counted: set[tuple[str, str]] = set()

    def once(self, who: tuple[str, str]) -> bool:
        """True the first time ``who`` is seen (then count them), False after."""
        if who in self.counted:
            return False
        self.counted.add(who)
        return True

    def add(self, gender: str, minor: bool | None, citizenships: Iterable[str]) -> None:
        f = self.figures
        f.persons += 1
        if gender == "female":
            f.female += 1
        elif gender == "male":
            f.male += 1
        else:
            f.other_or_unknown_gender += 1
        if minor:
            f.minors += 1
        else:
            f.adults += 1
        # A person with two citizenships is counted under the first recorded.
        self.citizenships[next(iter(citizenships), "unknown")] += 1

    def done(self) -> ProgrammeFigures:
        self.figures.by_citizenship = dict(sorted(self.citizenships.items()))
        self.figures.services_offered = dict(sorted(self.figures.services_offered.items()))
        self.figures.services_provided = dict(sorted(self.figures.services_provided.items()))
        return self.figures


def _in_year(at: datetime | None, year: int) -> bool:
    return at is not None and local_date(at).year == year


def _child_is_minor(child: AccompanyingChild, day: date) -> bool:
    if child.birth_date is not None:
        return whole_years(child.birth_date, day) < 18
    if child.age_estimate is not None:
        return child.age_estimate.years + whole_years(child.age_estimate.as_of, day) < 18
    return True  # placed as a child with the victim


#: The events that place a person in a programme, as their timeline entries name them.
_PLACED: dict[str, str] = {
    "crisis_accommodation": "crisis accommodation placed",
    "safe_accommodation": "safe accommodation placed",
    "reintegration": "reintegration enrolled",
}


def entered_in(state: CaseState, programme: str, year: int) -> datetime | None:
    """The first time in ``year`` the case entered ``programme`` (``crisis_accommodation``,
    ``safe_accommodation``, ``reintegration``): every placement or enrolment recorded in the
    timeline, and the one the state holds (None: not in that year)."""
    times = [t.at for t in state.timeline if t.event_id and t.what == _PLACED[programme]]
    record = getattr(state, programme)
    if isinstance(record, PlacementRecord):
        times.append(record.since)
    elif record is not None:
        times.append(record.enrolled_at)
    return min((at for at in times if _in_year(at, year)), default=None)


def _placement(tally: _Tally, state: CaseState, placement: str, year: int) -> None:
    at = entered_in(state, placement, year)
    if at is None:
        return
    day = local_date(at)
    if tally.once((state.case_id, "")):
        tally.add(
            state.person.gender.value, state.person.is_minor_on(day), state.person.citizenships
        )
    if placement == "reintegration":
        return
    for child in state.accompanying_children:
        if child.placed_with.value == placement and tally.once((state.case_id, child.child_ref)):
            tally.add(child.gender.value, _child_is_minor(child, day), child.citizenships)
            tally.figures.accompanying_children += 1


def _services(tally: _Tally, state: CaseState, placement: str, year: int) -> None:
    """K3, S2: each person once per service and status in the year (aggregates only)."""
    seen = {
        (record.status, record.service.value)
        for record in state.accommodation_services
        if record.programme.value == placement and _in_year(record.at, year)
    }
    for status, service in seen:
        if tally.once((state.case_id, f"{status.value}:{service}")):
            counts = (
                tally.figures.services_offered
                if status is ServiceStatus.OFFERED
                else tally.figures.services_provided
            )
            counts[service] = counts.get(service, 0) + 1


def yearly_report(
    year: int, cases: Iterable[CaseState], registers: Iterable[ProgrammeState] = ()
) -> YearlyReport:
    """Count each person once per programme they entered in ``year``: any placement or
    enrolment in the year counts (:func:`entered_in`), and the states of several episodes of
    one case (one person) count once (issue 12)."""
    crisis, safe, reintegration, pats, exit_ = (_Tally() for _ in range(5))
    for state in cases:
        _placement(crisis, state, "crisis_accommodation", year)
        _placement(safe, state, "safe_accommodation", year)
        _services(crisis, state, "crisis_accommodation", year)
        _services(safe, state, "safe_accommodation", year)
        _placement(reintegration, state, "reintegration", year)
    for register in registers:
        if register.programme is Programme.PATS:
            for interview in register.interviews:
                if _in_year(interview.at, year):
                    pats.add(interview.gender.value, interview.minor, interview.citizenships)
                    pats.figures.interviews_with_suspicion += interview.suspicion
        else:
            for participant in register.participants.values():
                if _in_year(participant.enrolled_at, year):
                    exit_.add(participant.gender.value, participant.minor, participant.citizenships)
    return YearlyReport(
        year=year,
        crisis_accommodation=crisis.done(),
        safe_accommodation=safe.done(),
        reintegration=reintegration.done(),
        asylum_procedure_interviews=pats.done(),
        prostitution_exit=exit_.done(),
    )
