"""Who takes part in a case, and the task queue each organisation's worker serves.

The roles follow the "Who uses it" table of docs/rules.md.
"""

from __future__ import annotations

from enum import StrEnum

CASE_TASK_QUEUE = "pathway-cases"


class Organisation(StrEnum):
    """An organisation role that sends events or receives notifications."""

    POLICE = "police"
    MIGRATION_AUTHORITY = "migration_authority"
    SOCIAL_WORK_CENTRE = "social_work_centre"
    LABOUR_MINISTRY = "labour_ministry"
    INTERIOR_MINISTRY = "interior_ministry"
    CARITAS = "caritas"
    KLJUC = "kljuc"
    UOIM = "uoim"
    GUARDIAN = "guardian"
    ANALYST = "analyst"


NGOS = frozenset({Organisation.CARITAS, Organisation.KLJUC})

#: Organisations that receive notifications, each on its own task queue
#: (docs/rules.md "Notifications").
NOTIFIED = (
    Organisation.POLICE,
    Organisation.MIGRATION_AUTHORITY,
    Organisation.SOCIAL_WORK_CENTRE,
    Organisation.LABOUR_MINISTRY,
    Organisation.INTERIOR_MINISTRY,
    Organisation.CARITAS,
    Organisation.KLJUC,
    Organisation.UOIM,
    Organisation.GUARDIAN,
)


NOTIFICATION_QUEUE_PREFIX = "pathway-notify"


def notification_task_queue(
    organisation: Organisation, prefix: str = NOTIFICATION_QUEUE_PREFIX
) -> str:
    """The task queue on which ``organisation``'s notification worker listens."""
    return f"{prefix}-{organisation.value}"
