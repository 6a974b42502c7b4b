"""Programme registers: asylum-procedure interviews (P1, PATS) and support for persons in
prostitution (X1). Neither is a victim's case: most PATS interviews raise no suspicion, and
persons in the prostitution-exit programme are not (yet) ready to cooperate with the police.
One register per programme records what the yearly statistics need (every entry is dated) and
nothing that identifies a person (participants are the NGO's own pseudonyms).

X1 never notifies the police: the register has no path that could (and a guard refuses one).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from pathway.domain.events import EventId
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import CountryCode, Gender, LanguageCode
from pathway.domain.plausible import RULE_INPUT, ServiceInstant, not_blank
from pathway.domain.rules.core import RULE_ACCESS, RULE_IDEMPOTENCY, RULE_TIME, Rejection
from pathway.domain.state import Notification


class Programme(StrEnum):
    PATS = "pats"
    PROSTITUTION_EXIT = "prostitution_exit"


ParticipantRef = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="The NGO's own pseudonym for the person."),
]


class _ProgrammeEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    programme: ClassVar[Programme]
    senders: ClassVar[frozenset[Org]]

    type: str
    event_id: EventId
    organisation: Org
    actor: (
        Annotated[str, Field(max_length=100), not_blank(RULE_INPUT, "the actor's reference")] | None
    ) = None
    occurred_at: ServiceInstant


class PatsInterviewRecorded(_ProgrammeEvent):
    """P1: an individual interview in an asylum procedure, counted whatever its outcome."""

    programme: ClassVar[Programme] = Programme.PATS
    senders: ClassVar[frozenset[Org]] = frozenset({Org.KLJUC, Org.SOCIAL_WORK_CENTRE, Org.UOIM})
    type: Literal["pats_interview_recorded"] = "pats_interview_recorded"
    language: LanguageCode = Field(description="A language the applicant understands.")
    gender: Gender = Gender.UNKNOWN
    citizenships: list[CountryCode] = Field(min_length=1)
    minor: bool
    age_appropriate: bool = Field(
        description="P1: with children and adolescents, adapted to age and development."
    )
    shortened_at_placement: bool = Field(
        default=False, description="P1: shortened information given at placement."
    )
    suspicion: bool = Field(description="Suspicion that the person is a victim of trafficking.")


class ExitProgrammeEnrolled(_ProgrammeEvent):
    """X1: enrolment in support for persons in prostitution and leaving it."""

    programme: ClassVar[Programme] = Programme.PROSTITUTION_EXIT
    senders: ClassVar[frozenset[Org]] = frozenset({Org.KLJUC})
    type: Literal["exit_programme_enrolled"] = "exit_programme_enrolled"
    participant_ref: ParticipantRef
    gender: Gender = Gender.UNKNOWN
    citizenships: list[CountryCode] = Field(min_length=1)
    minor: bool


class ExitCounsellingRecorded(_ProgrammeEvent):
    """X1: an individual or group counselling session."""

    programme: ClassVar[Programme] = Programme.PROSTITUTION_EXIT
    senders: ClassVar[frozenset[Org]] = frozenset({Org.KLJUC})
    type: Literal["exit_counselling_recorded"] = "exit_counselling_recorded"
    participant_ref: ParticipantRef
    session: Literal["individual", "group"]


class ExitProgrammeLeft(_ProgrammeEvent):
    """X1: the person left the programme."""

    programme: ClassVar[Programme] = Programme.PROSTITUTION_EXIT
    senders: ClassVar[frozenset[Org]] = frozenset({Org.KLJUC})
    type: Literal["exit_programme_left"] = "exit_programme_left"
    participant_ref: ParticipantRef


ProgrammeEvent = Annotated[
    PatsInterviewRecorded | ExitProgrammeEnrolled | ExitCounsellingRecorded | ExitProgrammeLeft,
    Field(discriminator="type"),
]
PROGRAMME_EVENT_ADAPTER: TypeAdapter[ProgrammeEvent] = TypeAdapter(ProgrammeEvent)
PROGRAMME_EVENT_TYPES: dict[str, type[_ProgrammeEvent]] = {
    cls.model_fields["type"].default: cls for cls in _ProgrammeEvent.__subclasses__()
}


def register_id(programme: Programme) -> str:
    """One register per programme: a participant's enrolment runs across years."""
    return f"programme-{programme.value}"


def register_of(event: _ProgrammeEvent) -> str:
    return register_id(event.programme)


class PatsInterview(BaseModel):
    at: datetime
    organisation: Org
    gender: Gender
    citizenships: list[str]
    minor: bool
    age_appropriate: bool
    shortened_at_placement: bool
    suspicion: bool


class CounsellingSession(BaseModel):
    """X1: one counselling session, dated (for the statistics ledger: sessions per year)."""

    at: datetime
    session: Literal["individual", "group"]


class Participant(BaseModel):
    """X1: one enrolment of a participant, from enrolment to leaving. ``sessions`` dates each
    session recorded since the statistics ledger (issue 15); the two counts count them all,
    those recorded before it too."""

    enrolled_at: datetime
    gender: Gender
    citizenships: list[str]
    minor: bool
    individual_sessions: int = 0
    group_sessions: int = 0
    sessions: list[CounsellingSession] = Field(default_factory=list)
    left_at: datetime | None = None


class FormerEnrolment(BaseModel):
    """X1: an enrolment that ended before the same participant enrolled again (kept so that
    the statistics ledger can still derive its facts)."""

    participant_ref: str
    enrolment: Participant


class ProgrammeState(BaseModel):
    register_id: str
    programme: Programme
    interviews: list[PatsInterview] = Field(default_factory=list)
    participants: dict[str, Participant] = Field(default_factory=dict)
    former_enrolments: list[FormerEnrolment] = Field(
        default_factory=list,
        description="X1: earlier enrolments of participants who enrolled again, oldest first.",
    )
    processed: dict[str, str] = Field(default_factory=dict, description="event_id → type")
    pending_notifications: list[Notification] = Field(default_factory=list)
    notifications_sent: int = 0


class ProgrammeResult(BaseModel):
    register_id: str
    event_id: str
    duplicate: bool = False
    interviews: int
    participants: int


def _result(state: ProgrammeState, event_id: str, duplicate: bool = False) -> ProgrammeResult:
    return ProgrammeResult(
        register_id=state.register_id,
        event_id=event_id,
        duplicate=duplicate,
        interviews=len(state.interviews),
        participants=len(state.participants),
    )


class _Guard(Exception):
    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.reason)
        self.rejection = rejection


def _notify(
    state: ProgrammeState, now: datetime, recipient: Org, reason: str, *, rule: str, action: str
) -> None:
    if state.programme is Programme.PROSTITUTION_EXIT and recipient is Org.POLICE:
        # X1 exists for people not ready to cooperate with law enforcement.
        raise AssertionError("X1: the prostitution-exit programme never notifies the police")
    state.notifications_sent += 1
    seq = state.notifications_sent
    state.pending_notifications.append(
        Notification(
            idempotency_key=f"{state.register_id}:{reason}:{seq}",
            case_id=state.register_id,
            sequence=seq,
            recipient=recipient,
            reason=reason,
            rule=rule,
            action=action,
            issued_at=now,
        )
    )


def decide_programme(
    state: ProgrammeState,
    event: ProgrammeEvent,
    now: datetime,
    future_tolerance_seconds: float = 300,
) -> tuple[ProgrammeState, ProgrammeResult] | Rejection:
    """Apply one programme event (pure: ``state`` is not modified)."""
    if (seen := state.processed.get(event.event_id)) is not None:
        if seen != event.type:
            return Rejection(
                RULE_IDEMPOTENCY, "event_id", "this event_id was already used for a different event"
            )
        return state, _result(state, event.event_id, duplicate=True)
    try:
        _admit(state, event, now, future_tolerance_seconds)
        new = state.model_copy(deep=True)
        _apply(new, event, now)
    except _Guard as guard:
        return guard.rejection
    new.processed[event.event_id] = event.type
    return new, _result(new, event.event_id)


def _admit(
    state: ProgrammeState, event: ProgrammeEvent, now: datetime, future_tolerance_seconds: float
) -> None:
    """The checks of every event before its own: the sender, the time and the register."""
    if event.organisation not in type(event).senders:
        raise _Guard(
            Rejection(
                RULE_ACCESS,
                "organisation",
                f"'{event.organisation.value}' may not send {event.type} events",
            )
        )
    if (event.occurred_at - now).total_seconds() > future_tolerance_seconds:
        raise _Guard(Rejection(RULE_TIME, "occurred_at", "the event lies in the future"))
    if register_of(event) != state.register_id:
        raise _Guard(Rejection(RULE_ACCESS, "type", f"the event belongs to {register_of(event)}"))


def _apply(state: ProgrammeState, event: ProgrammeEvent, now: datetime) -> None:
    if isinstance(event, PatsInterviewRecorded):
        if event.minor and not event.age_appropriate:
            raise _Guard(
                Rejection(
                    "P1", "age_appropriate", "interviews with children are adapted to their age"
                )
            )
        state.interviews.append(
            PatsInterview(
                at=event.occurred_at,
                organisation=event.organisation,
                gender=event.gender,
                citizenships=list(event.citizenships),
                minor=event.minor,
                age_appropriate=event.age_appropriate,
                shortened_at_placement=event.shortened_at_placement,
                suspicion=event.suspicion,
            )
        )
        if event.suspicion:
            _notify(
                state,
                now,
                Org.UOIM,
                "pats_suspicion",
                rule="P1",
                action="An asylum-procedure interview raised suspicion of trafficking: "
                "inform the competent institutions (P1); a case is opened (R1).",
            )
        return
    participants = state.participants
    if isinstance(event, ExitProgrammeEnrolled):
        current = participants.get(event.participant_ref)
        if current is not None and current.left_at is None:
            raise _Guard(Rejection("X1", "participant_ref", "already enrolled"))
        if current is not None:
            state.former_enrolments.append(
                FormerEnrolment(participant_ref=event.participant_ref, enrolment=current)
            )
        participants[event.participant_ref] = Participant(
            enrolled_at=event.occurred_at,
            gender=event.gender,
            citizenships=list(event.citizenships),
            minor=event.minor,
        )
        return
    participant = participants.get(event.participant_ref)
    if participant is None or participant.left_at is not None:
        raise _Guard(Rejection("X1", "participant_ref", "not enrolled in the programme"))
    if isinstance(event, ExitCounsellingRecorded):
        if event.session == "individual":
            participant.individual_sessions += 1
        else:
            participant.group_sessions += 1
        participant.sessions.append(CounsellingSession(at=event.occurred_at, session=event.session))
    else:
        participant.left_at = event.occurred_at
