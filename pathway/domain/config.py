"""All legal periods and lead times in one place, with the defaults of docs/rules.md "Deadlines".

A running case carries the configuration it was opened with, so a change of defaults never
alters the deadlines of cases already running (and never breaks their replay).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field


class CaseConfig(BaseModel):
    """Periods and lead times. Every field is a legal or service-level period."""

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
