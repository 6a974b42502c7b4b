"""The statistics ledger's records (issue 15 item 1; docs/statistics.md): what a case
contributes to the yearly statistics, as anonymised records that outlive the case.

Two pure steps, no I/O and no Temporal import (the workflow runs the first, the activity the
second):

1. :func:`statistics_facts` derives, from one case's state, every fact the statistics count:
   the identification (R1), each entry into and exit from crisis accommodation (K1), safe
   accommodation (S1) and reintegration (I1), each K3/S2 accommodation service and I1
   reintegration service, and each accompanying child placed with the victim. A fact still
   names its case (``case_id``), so it travels only inside the case's sealed history.
2. :func:`anonymise` turns a fact into a :class:`StatisticsRecord` under the ledger secret:
   the case ID becomes a keyed hash (HMAC-SHA256) that counts distinct people and cannot be
   reversed without the secret, dates become a year and a month.

Every fact has a ``key`` that names the event it stands for within its case episode (the
episode's opening instant and the event's ``event_id``), so the same fact derived again (a
retry, a replay, the next run after continue-as-new, the backfill) gets the same record ID and
is stored once.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from pathway.domain.calendar import local_date
from pathway.domain.events import Placement
from pathway.domain.person import Gender, whole_years
from pathway.domain.programmes import Participant, PatsInterview, ProgrammeState
from pathway.domain.state import AccompanyingChild, CaseState


class LedgerProgramme(StrEnum):
    """What a record counts in: the identification (R1), or one of the case's programmes."""

    IDENTIFICATION = "identification"
    CRISIS_ACCOMMODATION = "crisis_accommodation"
    SAFE_ACCOMMODATION = "safe_accommodation"
    REINTEGRATION = "reintegration"
    ASYLUM_PROCEDURE_INTERVIEWS = "asylum_procedure_interviews"  # P1 (PATS), the register's
    PROSTITUTION_EXIT = "prostitution_exit"  # X1, the register's


#: The programmes a person enters and leaves (the identification is one event).
PROGRAMMES = (
    LedgerProgramme.CRISIS_ACCOMMODATION,
    LedgerProgramme.SAFE_ACCOMMODATION,
    LedgerProgramme.REINTEGRATION,
)


class LedgerEvent(StrEnum):
    """What happened to the person."""

    IDENTIFIED = "identified"
    ENTERED = "entered"
    EXITED = "exited"
    SERVICE = "service"
    INTERVIEWED = "interviewed"  # P1: one asylum-procedure interview


class PersonRole(StrEnum):
    """Whether the person is the case's victim or a child placed with the victim (not an
    identified victim unless identified in a case of their own)."""

    VICTIM = "victim"
    ACCOMPANYING_CHILD = "accompanying_child"
    #: P1: an applicant for international protection interviewed (not a victim; the register
    #: keeps no person, so each interview is its own key).
    APPLICANT = "applicant"
    #: X1: a participant of the prostitution-exit programme (not a victim; keyed by the NGO's
    #: pseudonym, which no case shares).
    PARTICIPANT = "participant"


class ExitKind(StrEnum):
    """How a stay in a programme ended (``StatisticsRecord.detail`` of an exit)."""

    ENDED = "ended"  # K1, S5: ended by the programme or the person
    CONSENT_WITHDRAWN = "consent_withdrawn"  # K2
    MOVED_TO_SAFE_ACCOMMODATION = "moved_to_safe_accommodation"  # S1 (crisis only)
    RETURNED_HOME = "returned_home"
    DECLINED_LEFT = "declined_left"
    CLOSED = "closed"


class StatisticsFact(BaseModel):
    """One countable fact of one case, before anonymisation (the ``record_statistics``
    activity's input; sealed in the case's history like every payload).

    ``key``: the fact's name within the case, unique and stable (see the module docstring).
    ``subject``: None for the victim, the child's reference for an accompanying child.
    ``detail``: an exit's :class:`ExitKind`, or a service as ``<service>:<offered|provided>``
    (K3/S2) or ``<service>`` (I1); None otherwise."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    key: str
    subject: str | None = None
    year: int = Field(ge=1900, le=9999)
    month: int = Field(ge=1, le=12)
    programme: LedgerProgramme
    event: LedgerEvent
    detail: str | None = None
    gender: Gender
    minor: bool = Field(description="Under 18 on the date of the event.")
    citizenships: list[str] = Field(min_length=1)
    role: PersonRole


class StatisticsRecord(BaseModel):
    """One anonymised record of the ledger (what the storage keeps, what the report reads).

    ``record_id``: HMAC-SHA256 of the case ID and the fact's key (64 hex characters): the same
    fact is one record. ``person``: HMAC-SHA256 of the case ID (and the child's reference for
    an accompanying child), 64 hex characters: equal for the same person in every record,
    every programme and every episode of the case, and no way back to the case ID without the
    ledger secret. No date finer than the month."""

    model_config = ConfigDict(frozen=True)

    record_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    person: str = Field(pattern=r"^[0-9a-f]{64}$")
    year: int = Field(ge=1900, le=9999)
    month: int = Field(ge=1, le=12)
    programme: LedgerProgramme
    event: LedgerEvent
    detail: str | None = None
    gender: Gender
    minor: bool
    citizenships: list[str] = Field(min_length=1)
    role: PersonRole


class StatisticsBatch(BaseModel):
    """The ``record_statistics`` activity's input: the facts of one case to store."""

    facts: list[StatisticsFact]


def _hmac(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def person_key(
    secret: bytes, case_id: str, subject: str | None = None, role: PersonRole | None = None
) -> str:
    """The keyed hash that stands for one person: the case's victim, or (``subject``) one
    accompanying child of the case; for a programme register (``case_id`` its register ID,
    ``role`` applicant or participant), the interview or the participant ``subject`` names.
    64 hex characters."""
    if role in (PersonRole.APPLICANT, PersonRole.PARTICIPANT):
        return _hmac(secret, role.value, case_id, subject or "")
    if subject is None:
        return _hmac(secret, "person", case_id)
    return _hmac(secret, "child", case_id, subject)


def anonymise(fact: StatisticsFact, secret: bytes) -> StatisticsRecord:
    """The ledger record of ``fact`` under the ledger ``secret`` (at least 16 bytes; a
    :class:`ValueError` otherwise): no case ID, no child reference, no date finer than the
    month."""
    if len(secret) < 16:
        raise ValueError("the ledger secret must be at least 16 bytes")
    return StatisticsRecord(
        record_id=_hmac(secret, "record", fact.case_id, fact.key),
        person=person_key(secret, fact.case_id, fact.subject, fact.role),
        year=fact.year,
        month=fact.month,
        programme=fact.programme,
        event=fact.event,
        detail=fact.detail,
        gender=fact.gender,
        minor=fact.minor,
        citizenships=list(fact.citizenships),
        role=fact.role,
    )


# -- deriving the facts of one case ---------------------------------------------------------


@dataclass
class _Stay:
    """One stay of the victim in one programme, as the timeline tells it."""

    programme: LedgerProgramme
    entry_event: str
    entered_at: datetime
    exit_event: str | None = None
    exited_at: datetime | None = None
    exit_kind: ExitKind | None = None


#: Timeline entries (an accepted event's type, spaced) that place the victim in a programme.
_ENTRIES = {
    "crisis accommodation placed": LedgerProgramme.CRISIS_ACCOMMODATION,
    "safe accommodation placed": LedgerProgramme.SAFE_ACCOMMODATION,
    "reintegration enrolled": LedgerProgramme.REINTEGRATION,
}
#: Timeline entries that end every running stay (leaving assistance; the phase they lead to).
_EXITS = {
    "returned home": ExitKind.RETURNED_HOME,
    "departed": ExitKind.DECLINED_LEFT,
    "case closed": ExitKind.CLOSED,
}
_PLACEMENTS = {
    LedgerProgramme.CRISIS_ACCOMMODATION: Placement.CRISIS_ACCOMMODATION,
    LedgerProgramme.SAFE_ACCOMMODATION: Placement.SAFE_ACCOMMODATION,
}


def _withdrawn_from(state: CaseState, active: dict[LedgerProgramme, _Stay]) -> LedgerProgramme:
    """K2: the placement a withdrawal of consent ended. Crisis and safe accommodation are
    never both active under the seed's rules; in a case from before them, the one whose
    record in the state says so, else crisis accommodation."""
    running = [p for p in _PLACEMENTS if p in active]
    if len(running) == 1:
        return running[0]
    safe = state.safe_accommodation
    if safe is not None and safe.end_reason is not None and "consent" in safe.end_reason:
        return LedgerProgramme.SAFE_ACCOMMODATION
    return LedgerProgramme.CRISIS_ACCOMMODATION


def _ended_by(
    what: str, state: CaseState, active: dict[LedgerProgramme, _Stay]
) -> list[tuple[LedgerProgramme, ExitKind]]:
    """The stays the accepted event named ``what`` (a timeline entry) ends, and how."""
    if what == "safe accommodation placed":
        return [(LedgerProgramme.CRISIS_ACCOMMODATION, ExitKind.MOVED_TO_SAFE_ACCOMMODATION)]
    if what == "crisis accommodation ended":
        return [(LedgerProgramme.CRISIS_ACCOMMODATION, ExitKind.ENDED)]
    if what == "safe accommodation ended":
        return [(LedgerProgramme.SAFE_ACCOMMODATION, ExitKind.ENDED)]
    if what == "consent withdrawn":
        return [(_withdrawn_from(state, active), ExitKind.CONSENT_WITHDRAWN)]
    if what in _EXITS:
        return [(programme, _EXITS[what]) for programme in active]
    return []


def victim_stays(state: CaseState) -> list[_Stay]:
    """The victim's stays in crisis accommodation, safe accommodation and reintegration, in
    the order they began, read from the timeline (the accepted events, each with its
    ``event_id`` and the time it happened): a placement or an enrolment begins one; its end
    (K1, S5), a withdrawal of consent (K2), a move from crisis to safe accommodation (S1) or
    leaving assistance (returned home, departed, case closed) ends it. An exit is dated no
    earlier than its entry."""
    stays: list[_Stay] = []
    active: dict[LedgerProgramme, _Stay] = {}
    for entry in state.timeline:
        if entry.event_id is None:
            continue  # a timer's or the service's own line: no placement changes
        for programme, kind in _ended_by(entry.what, state, active):
            stay = active.pop(programme, None)
            if stay is not None:
                stay.exit_event, stay.exit_kind = entry.event_id, kind
                stay.exited_at = max(entry.at, stay.entered_at)
        programme_entered = _ENTRIES.get(entry.what)
        if programme_entered is not None and programme_entered not in active:
            active[programme_entered] = _Stay(programme_entered, entry.event_id, entry.at)
            stays.append(active[programme_entered])
    return stays


def child_is_minor(child: AccompanyingChild, day: date) -> bool:
    """Under 18 on ``day``: from the birth date, else the age estimate; a child placed with
    the victim with neither counts as a minor."""
    if child.birth_date is not None:
        return whole_years(child.birth_date, day) < 18
    if child.age_estimate is not None:
        return child.age_estimate.years + whole_years(child.age_estimate.as_of, day) < 18
    return True


def statistics_facts(state: CaseState) -> list[StatisticsFact]:
    """Every fact the statistics count in ``state`` (one episode of one case), in a stable
    order; see the module docstring and docs/statistics.md. Pure and deterministic: the
    workflow calls it on every state change and stores the facts it has not stored yet.

    Adult or minor is decided on the date of each event (months and years in Ljubljana), from
    the facts as the state holds them. Accompanying children are counted in the stays of the
    placement they were placed with (crisis or safe accommodation) that ran when or after they
    were recorded: entering when the later of the two happened, leaving with the victim."""
    episode = state.opened_at.isoformat()
    person = state.person
    facts: list[StatisticsFact] = []

    def victim(
        key: str,
        at: datetime,
        programme: LedgerProgramme,
        event: LedgerEvent,
        detail: str | None = None,
    ) -> None:
        day = local_date(at)
        facts.append(
            StatisticsFact(
                case_id=state.case_id,
                key=f"{episode}|{key}",
                year=day.year,
                month=day.month,
                programme=programme,
                event=event,
                detail=detail,
                gender=person.gender,
                minor=person.is_minor_on(day),
                citizenships=list(person.citizenships),
                role=PersonRole.VICTIM,
            )
        )

    identified = next(
        (t for t in state.timeline if t.event_id is not None and t.what == "identified"), None
    )
    victim(
        f"identified:{identified.event_id if identified else ''}",
        identified.at if identified else state.opened_at,
        LedgerProgramme.IDENTIFICATION,
        LedgerEvent.IDENTIFIED,
    )
    stays = victim_stays(state)
    for stay in stays:
        base = f"{stay.programme.value}:{stay.entry_event}"
        victim(f"{base}:entered", stay.entered_at, stay.programme, LedgerEvent.ENTERED)
        if stay.exited_at is not None and stay.exit_kind is not None:
            victim(
                f"{base}:exited",
                stay.exited_at,
                stay.programme,
                LedgerEvent.EXITED,
                stay.exit_kind.value,
            )
    for index, service in enumerate(state.accommodation_services):
        victim(
            f"service:{index}",
            service.at,
            LedgerProgramme(service.programme.value),
            LedgerEvent.SERVICE,
            f"{service.service.value}:{service.status.value}",
        )
    _reintegration_services(state, victim)
    for child in state.accompanying_children:
        facts.extend(_child_facts(state, episode, child, stays))
    return facts


def _reintegration_services(state: CaseState, victim: _VictimFact) -> None:
    """I1: one fact per service recorded. The state keeps the services in the order they were
    recorded (one per ``reintegration_service_recorded`` event, none at enrolment), so the
    k-th service is the k-th such event of the timeline, which dates it."""
    if state.reintegration is None:
        return
    recorded = [
        t
        for t in state.timeline
        if t.event_id is not None and t.what == "reintegration service recorded"
    ]
    services = state.reintegration.services
    # Services beyond the timeline's (none under the rules today) date from the enrolment.
    undated = max(0, len(services) - len(recorded))
    dated = [(state.reintegration.enrolled_at, "")] * undated
    dated += [(t.at, t.event_id or "") for t in recorded[len(recorded) - len(services) + undated :]]
    for index, (service, (at, event_id)) in enumerate(zip(services, dated, strict=True)):
        victim(
            f"reintegration-service:{index}:{event_id}",
            at,
            LedgerProgramme.REINTEGRATION,
            LedgerEvent.SERVICE,
            service.value,
        )


class _VictimFact(Protocol):
    """The signature of the local ``victim`` helper of :func:`statistics_facts` (for mypy)."""

    def __call__(
        self,
        key: str,
        at: datetime,
        programme: LedgerProgramme,
        event: LedgerEvent,
        detail: str | None = None,
    ) -> None: ...


def _child_facts(
    state: CaseState, episode: str, child: AccompanyingChild, stays: list[_Stay]
) -> list[StatisticsFact]:
    programme = LedgerProgramme(child.placed_with.value)
    facts: list[StatisticsFact] = []
    for stay in stays:
        if stay.programme is not programme:
            continue
        if stay.exited_at is not None and stay.exited_at < child.recorded_at:
            continue  # the stay ended before the child was recorded
        base = f"{programme.value}:{stay.entry_event}:child:{child.child_ref}"
        moves: list[tuple[str, datetime, str | None]] = [
            (f"{base}:entered", max(stay.entered_at, child.recorded_at), None)
        ]
        if stay.exited_at is not None and stay.exit_kind is not None:
            moves.append((f"{base}:exited", stay.exited_at, stay.exit_kind.value))
        for key, at, detail in moves:
            day = local_date(at)
            facts.append(
                StatisticsFact(
                    case_id=state.case_id,
                    key=f"{episode}|{key}",
                    subject=child.child_ref,
                    year=day.year,
                    month=day.month,
                    programme=programme,
                    event=LedgerEvent.EXITED if detail else LedgerEvent.ENTERED,
                    detail=detail,
                    gender=child.gender,
                    minor=child_is_minor(child, day),
                    citizenships=list(child.citizenships),
                    role=PersonRole.ACCOMPANYING_CHILD,
                )
            )
    return facts


# -- the programme registers (P1, X1) -------------------------------------------------------


_Who = PatsInterview | Participant


def register_facts(state: ProgrammeState) -> list[StatisticsFact]:
    """Every fact the statistics count in a programme register's ``state`` (P1 or X1), in a
    stable order; the register workflow stores those it has not stored yet (patch
    ``programme-statistics-ledger``), as the case workflow does with :func:`statistics_facts`.
    ``case_id`` is the register's ID (:func:`pathway.domain.programmes.register_id`).

    - P1: one ``interviewed`` fact per interview, ``detail`` ``with_suspicion`` or
      ``without_suspicion``, role applicant; the register keeps no person, so each interview
      is its own subject (its place in the register, which only grows: the key is stable).
    - X1: per enrolment (the current one and the earlier ones of a participant who came back),
      ``entered`` at enrolment, one ``service`` per dated counselling session (``detail``
      ``individual_counselling`` or ``group_counselling``) and ``exited`` (``left``) when the
      participant left; role participant, subject the NGO's pseudonym, so a participant is one
      person across enrolments and years. Adult or minor as recorded at enrolment (the register
      holds no birth date). Sessions recorded before sessions were dated are not counted."""
    register = state.register_id
    facts: list[StatisticsFact] = []

    def fact(
        key: str, subject: str, at: datetime, *, event: LedgerEvent, detail: str | None, who: _Who
    ) -> None:
        pats = isinstance(who, PatsInterview)
        day = local_date(at)
        facts.append(
            StatisticsFact(
                case_id=register,
                key=key,
                subject=subject,
                year=day.year,
                month=day.month,
                programme=LedgerProgramme.ASYLUM_PROCEDURE_INTERVIEWS
                if pats
                else LedgerProgramme.PROSTITUTION_EXIT,
                event=event,
                detail=detail,
                gender=who.gender,
                minor=who.minor,
                citizenships=list(who.citizenships),
                role=PersonRole.APPLICANT if pats else PersonRole.PARTICIPANT,
            )
        )

    for index, interview in enumerate(state.interviews):
        suspicion = "with_suspicion" if interview.suspicion else "without_suspicion"
        fact(
            f"pats:{index}",
            f"interview:{index}",
            interview.at,
            event=LedgerEvent.INTERVIEWED,
            detail=suspicion,
            who=interview,
        )
    enrolments = [(f.participant_ref, f.enrolment) for f in state.former_enrolments]
    enrolments += list(state.participants.items())
    for ref, enrolment in enrolments:
        base = f"x1:{ref}:{enrolment.enrolled_at.isoformat()}"
        moves: list[tuple[str, datetime, LedgerEvent, str | None]] = [
            ("entered", enrolment.enrolled_at, LedgerEvent.ENTERED, None)
        ]
        moves += [
            (f"session:{n}", s.at, LedgerEvent.SERVICE, f"{s.session}_counselling")
            for n, s in enumerate(enrolment.sessions)
        ]
        if enrolment.left_at is not None:
            moves.append(("exited", enrolment.left_at, LedgerEvent.EXITED, "left"))
        for name, at, event, detail in moves:
            fact(f"{base}:{name}", ref, at, event=event, detail=detail, who=enrolment)
    return facts
