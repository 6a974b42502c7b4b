"""All legal periods and lead times in one place, with the defaults of docs/rules.md "Deadlines".

A running case carries the configuration it was opened with, so a change of defaults never
alters the deadlines of cases already running (and never breaks their replay).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pathway.domain.calendar import Counting
from pathway.domain.deadline_kinds import DeadlineKind


class DeadlineCounting(BaseModel):
    """How one deadline's period is counted (docs/rules.md "Legal time")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    counting: Counting
    #: A last day that is not a working day (weekend, Slovenian public holiday) moves to the
    #: next working day (ZUP Article 101). Off for the seed's periods, which are lengths of
    #: stay and reflection, not time limits for filing with an authority.
    next_working_day: bool = False


_CALENDAR = DeadlineCounting(counting=Counting.CALENDAR_DAYS)
_WORKING = DeadlineCounting(counting=Counting.WORKING_DAYS)

#: The default counting of each deadline (keys: ``DeadlineKind`` values). The seed's periods
#: count calendar days; the service's escalation deadlines of days (C4, C6, C7) count working
#: days; R3's 24 hours and C5's day for an unaccompanied minor are elapsed time. The permits'
#: and birthdays' deadlines fall at the end of (or at the start of) a date the rules compute;
#: their counting governs their reminders' lead times.
DEFAULT_DEADLINE_COUNTING: dict[str, DeadlineCounting] = {
    "rights_information": DeadlineCounting(counting=Counting.ELAPSED),
    "reflection_period": _CALENDAR,
    "crisis_accommodation": _CALENDAR,
    "permit_to_stay": _CALENDAR,
    "temporary_residence_permit": _CALENDAR,
    "guardian_appointment": _WORKING,
    "family_contact": _WORKING,
    # C5: an unaccompanied minor is interviewed and, with indicators, accommodated within a
    # day of elapsed time, weekends and holidays included: social work centres keep an
    # emergency on-call service (intervencijska služba) for exactly this, and a child found
    # on a Friday evening must not wait until the end of Monday.
    "swc_interview": DeadlineCounting(counting=Counting.ELAPSED),
    "facility_accommodation": DeadlineCounting(counting=Counting.ELAPSED),
    "authorised_representative": _WORKING,
    "turns_15": _CALENDAR,
    "turns_18": _CALENDAR,
}

#: How periods are added. ``ljubljana``: by docs/rules.md "Legal time" (calendar or working
#: days in Europe/Ljubljana). ``elapsed``: the arithmetic of cases opened before it (periods
#: added as elapsed time to the event's instant); the workflow sets it for histories recorded
#: before the patch ``legal-time-ljubljana``, so they replay with the due instants they had.
LegalTime = Literal["ljubljana", "elapsed"]


class CaseConfig(BaseModel):
    """Periods and lead times. Every field is a legal or service-level period.

    Periods of days are counted as ``deadline_counting`` says for their deadline: calendar days
    in Ljubljana, working days in Slovenia, or elapsed time (docs/rules.md "Legal time"); lead
    times of reminders are calendar days before the deadline, at the same local time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reflection_period: timedelta = Field(default=timedelta(days=30), description="K5")
    reflection_reminder: timedelta = Field(default=timedelta(days=5), description="K5 lead time")
    crisis_accommodation: timedelta = Field(default=timedelta(days=30), description="K1")
    crisis_accommodation_reminder: timedelta = Field(
        default=timedelta(days=5), description="K1 lead time"
    )
    permit_to_stay_months: int = Field(default=3, ge=1, description="K7")
    permit_to_stay_extension_max_months: int = Field(default=3, ge=0, description="K7")
    permit_to_stay_reminder: timedelta = Field(default=timedelta(days=14), description="K7")
    residence_permit_reminder: timedelta = Field(default=timedelta(days=30), description="S3/S4")
    rights_information_sla: timedelta = Field(default=timedelta(hours=24), description="R3")
    guardian_sla: timedelta = Field(default=timedelta(days=3), description="C4")
    family_contact_sla: timedelta = Field(default=timedelta(days=3), description="C6")
    swc_interview_sla: timedelta = Field(default=timedelta(days=1), description="C5")
    facility_accommodation_sla: timedelta = Field(default=timedelta(days=1), description="C5")
    authorised_representative_sla: timedelta = Field(default=timedelta(days=3), description="C7")
    legal_time: LegalTime = Field(
        default="ljubljana",
        description="How periods are added (docs/rules.md 'Legal time'); 'elapsed' only for "
        "cases opened before it.",
    )
    deadline_counting: dict[str, DeadlineCounting] = Field(
        default_factory=lambda: dict(DEFAULT_DEADLINE_COUNTING),
        description="Per deadline kind: calendar days, working days or elapsed time, and "
        "whether a last day that is not a working day moves to the next working day.",
    )
    future_tolerance: timedelta = Field(
        default=timedelta(minutes=5),
        description="How far in the future an event's occurred_at may lie (clock skew).",
    )
    identification_wait: timedelta = Field(
        default=timedelta(minutes=10),
        description="How long a started case waits for its identification before giving up.",
    )
    notification_queue_prefix: str = Field(
        default="pathway-notify",
        description="Task-queue prefix of the organisations' notification workers.",
    )
    upsert_search_attributes: bool = Field(
        default=True,
        description="Publish the phase as a search attribute (off on the time-skipping server).",
    )

    @field_validator("deadline_counting")
    @classmethod
    def _known_deadlines(cls, value: dict[str, DeadlineCounting]) -> dict[str, DeadlineCounting]:
        """Only deadlines that exist; a partial table keeps the defaults of the others."""
        unknown = value.keys() - {kind.value for kind in DeadlineKind}
        if unknown:
            raise ValueError(f"no such deadline: {sorted(unknown)}")
        return {**DEFAULT_DEADLINE_COUNTING, **value}

    def counting_for(self, kind: str) -> DeadlineCounting:
        """How the deadline ``kind`` (a ``DeadlineKind`` value) is counted: as configured, else
        by the defaults, else (a deadline without a default) in calendar days."""
        return self.deadline_counting.get(kind, DEFAULT_DEADLINE_COUNTING.get(kind, _CALENDAR))
