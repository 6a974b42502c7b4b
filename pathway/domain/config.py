"""All legal periods and lead times in one place, with the defaults of docs/rules.md "Deadlines".

A running case carries the configuration it was opened with, so a change of defaults never
alters the deadlines of cases already running (and never breaks their replay).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    field_validator,
    model_validator,
)

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


#: True while payloads Temporal stored are decoded (:func:`decoding_stored`).
_STORED: ContextVar[bool] = ContextVar("pathway_stored_configuration", default=False)


@contextmanager
def decoding_stored() -> Iterator[None]:
    """While payloads that Temporal stored are decoded (``pathway.privacy.sealing``'s payload
    converter: a case's input, state and continue-as-new arguments), a :class:`CaseConfig` is
    taken as the case was opened with it: the refusals of gap 11 (docs/rules.md "Legal time",
    the configuration's bounds) apply when a configuration is built, not to one a running case
    already holds, which must keep decoding (a refused configuration would stop the case: its
    workflow tasks failing, its timers firing into them). The range checks pydantic makes on
    single fields (months, the residence reminder, the tolerance, the identification wait) still
    apply; every configuration the corpus holds meets them."""
    token = _STORED.set(True)
    try:
        yield
    finally:
        _STORED.reset(token)


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

#: The deadlines whose due instant is a date another rule sets, not a period the configuration
#: counts, and why (docs/rules.md "Legal time"): no counting but the calendar's (the date as it
#: is, not moved) can be configured for them, so that no setting is silently ignored.
FIXED_DEADLINES: dict[str, str] = {
    "permit_to_stay": "the permit's validity is a date set by its decision (K7)",
    "temporary_residence_permit": "the permit's validity is a date set by its decision (S4)",
    "turns_15": "a birthday is a date of birth, not a period (C8)",
    "turns_18": "a birthday is a date of birth, not a period (C1)",
    "safe_accommodation_offer": "the offer falls due the crisis accommodation reminder's lead "
    "before crisis accommodation ends (S1): a notice time set by K1's period",
}

#: Deadlines whose period runs from a day (the last day of a lapsed permit, S3), not from an
#: instant: counted in calendar or working days, never as elapsed time.
DAY_DEADLINES: dict[str, str] = {
    "safe_accommodation_permits": "S3's period runs from the permit's last day, a date",
}

#: The longest period or reminder lead of days a configuration may set: a year and its leap
#: day. The seed's longest period of days is 30 (K1, K5); a year keeps a generous margin for a
#: service's choice and keeps every date the rules compute (events 1900–2200) far from the end
#: of Python's calendar.
MAX_PERIOD = timedelta(days=366)
#: K7: the seed grants "a period of 3 (three) months" and "another period of three months at
#: the most"; a configuration may set up to 24 months for the permit and 12 for the extension.
MAX_PERMIT_MONTHS = 24
MAX_EXTENSION_MONTHS = 12
#: How far in the future an event may lie (clock skew): at most a week.
MAX_FUTURE_TOLERANCE = timedelta(days=7)
#: How long a started case may wait for its identification: at most a day.
MAX_IDENTIFICATION_WAIT = timedelta(days=1)

#: The periods, each with the deadline whose counting it follows.
_PERIODS: dict[str, str] = {
    "reflection_period": "reflection_period",
    "crisis_accommodation": "crisis_accommodation",
    "rights_information_sla": "rights_information",
    "guardian_sla": "guardian_appointment",
    "family_contact_sla": "family_contact",
    "swc_interview_sla": "swc_interview",
    "facility_accommodation_sla": "facility_accommodation",
    "authorised_representative_sla": "authorised_representative",
    "s3_decision_period": "safe_accommodation_permits",
    "s5_next_step_period": "accommodation_after_proceedings",
}
#: The reminder leads, each with the period it must be shorter than.
_LEADS: dict[str, str] = {
    "reflection_reminder": "reflection_period",
    "crisis_accommodation_reminder": "crisis_accommodation",
    "s3_reminder": "s3_decision_period",
    "s5_reminder": "s5_next_step_period",
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
    permit_to_stay_months: int = Field(
        default=3,
        ge=1,
        le=MAX_PERMIT_MONTHS,
        description="K7: the permit to stay, 'a period of 3 (three) months'; at most 24.",
    )
    permit_to_stay_extension_max_months: int = Field(
        default=3,
        ge=0,
        le=MAX_EXTENSION_MONTHS,
        description="K7: 'another period of three months at the most'; at most 12.",
    )
    permit_to_stay_reminder: timedelta = Field(default=timedelta(days=14), description="K7")
    residence_permit_reminder: timedelta = Field(
        default=timedelta(days=30),
        ge=timedelta(0),
        le=MAX_PERIOD,
        description="S3/S4 lead time (the permit's validity is set by its decision)",
    )
    s3_decision_period: timedelta = Field(
        default=timedelta(days=7),
        description="S3: the days the provider has, after a permit lapses during safe "
        "accommodation, to agree with the police and the migration authority whether the "
        "placement ends (the seed gives no period), counted from the permit's last day.",
    )
    s3_reminder: timedelta = Field(default=timedelta(days=2), description="S3 lead time")
    s5_next_step_period: timedelta = Field(
        default=timedelta(days=30),
        description="S5: the days the provider has to agree the next step once a "
        "third-country national's criminal proceedings concluded (K6: support goes on 'in an "
        "appropriate period after their completion'; the seed gives no period).",
    )
    s5_reminder: timedelta = Field(default=timedelta(days=7), description="S5 lead time")
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
        ge=timedelta(0),
        le=MAX_FUTURE_TOLERANCE,
        description="How far in the future an event's occurred_at may lie (clock skew).",
    )
    identification_wait: timedelta = Field(
        default=timedelta(minutes=10),
        gt=timedelta(0),
        le=MAX_IDENTIFICATION_WAIT,
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
        """Only deadlines that exist, each counted in a way the rules honour; a partial table
        keeps the defaults of the others (docs/rules.md "Legal time")."""
        unknown = value.keys() - {kind.value for kind in DeadlineKind}
        if unknown:
            raise ValueError(f"no such deadline: {sorted(unknown)}")
        for kind, how in sorted(value.items()) if not _STORED.get() else ():
            if kind in FIXED_DEADLINES and how != _CALENDAR:
                raise ValueError(
                    f"{kind}: its counting cannot be set ({FIXED_DEADLINES[kind]}); only "
                    "calendar days without moving to the next working day"
                )
            if how.counting is Counting.ELAPSED and how.next_working_day:
                raise ValueError(
                    f"{kind}: next_working_day moves the last day of a period of days, not "
                    "the end of elapsed time"
                )
            if kind in DAY_DEADLINES and how.counting is Counting.ELAPSED:
                raise ValueError(
                    f"{kind}: cannot be counted as elapsed time ({DAY_DEADLINES[kind]}); "
                    "calendar or working days"
                )
        return {**DEFAULT_DEADLINE_COUNTING, **value}

    @model_validator(mode="wrap")
    @classmethod
    def _refusals(cls, value: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Gap 11's refusals, made when a configuration is built from its fields: not for a
        configuration that is one already (placed in a case's input or state, continue-as-new:
        it was checked when it was built, or is one a running case holds), nor while a stored
        one is decoded (:func:`decoding_stored`)."""
        if isinstance(value, cls):
            return value
        config = handler(value)
        if not _STORED.get():
            config._sane_periods()
            config._sane_leads()
        return config

    def _sane_periods(self) -> Self:
        """Gap 11 (docs/rules.md "Legal time"): a period the rules can count, refused when the
        configuration is built. Raises ``ValueError`` (pydantic's ``ValidationError``) naming
        the field: a period of zero or less, or longer than ``MAX_PERIOD``; a period counted in
        calendar or working days that is not a whole number of days (36 hours)."""
        for field, kind in _PERIODS.items():
            period: timedelta = getattr(self, field)
            if period <= timedelta(0):
                raise ValueError(f"{field}: a period must be longer than zero, not {period}")
            if period > MAX_PERIOD:
                raise ValueError(f"{field}: a period may last at most {MAX_PERIOD.days} days")
            counting = self.counting_for(kind).counting
            if counting is not Counting.ELAPSED and period % timedelta(days=1):
                raise ValueError(
                    f"{field}: {period} is not a whole number of days, and {kind} is counted "
                    f"in {counting.value.replace('_', ' ')} (set its counting to elapsed for "
                    "hours)"
                )
        return self

    def _sane_leads(self) -> Self:
        """Gap 11: a reminder's lead is zero or more and shorter than its period (a permit to
        stay's: shorter than its shortest length, 28 days a month), and the reflection period
        shorter than that shortest permit, which includes it (K7). Raises ``ValueError`` naming
        the field."""
        leads = [(field, getattr(self, of), of) for field, of in _LEADS.items()]
        permit = timedelta(days=28 * self.permit_to_stay_months)
        # K7: the permit to stay's months include the reflection period (a longer one, or a
        # shorter permit, would leave no permit the admission checks could admit).
        if self.reflection_period >= permit:
            raise ValueError(
                f"reflection_period: K7's {self.permit_to_stay_months} months of a permit to "
                f"stay include the reflection period, which must be shorter than {permit.days} "
                "days (28 a month)"
            )
        leads.append(("permit_to_stay_reminder", permit, f"{permit.days} days (the permit)"))
        for field, period, of in leads:
            lead: timedelta = getattr(self, field)
            if lead < timedelta(0):
                raise ValueError(f"{field}: a reminder's lead cannot be negative, not {lead}")
            if lead >= period:
                raise ValueError(f"{field}: the reminder's lead must be shorter than {of}")
        return self

    def counting_for(self, kind: str) -> DeadlineCounting:
        """How the deadline ``kind`` (a ``DeadlineKind`` value) is counted: as configured, else
        by the defaults, else (a deadline without a default) in calendar days."""
        return self.deadline_counting.get(kind, DEFAULT_DEADLINE_COUNTING.get(kind, _CALENDAR))
