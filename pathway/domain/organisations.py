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

#: K4: the organisations that give care, and so alone may provide help with a special need
#: (be told of one, own its referral): the NGOs that provide the assistance (Caritas, Ključ),
#: the social work centre (emergency social assistance, child protection) and the child's
#: guardian, who is informed of every measure (C3). A special need is a health detail (R6):
#: these are exactly the organisations that may read one (the access policy's ``special_needs``
#: row, operators aside; ``tests/test_k4_provider.py`` keeps the two equal). Never the police,
#: the authorities or the ministries (issue 11).
CARE_PROVIDERS = frozenset(
    {
        Organisation.CARITAS,
        Organisation.KLJUC,
        Organisation.SOCIAL_WORK_CENTRE,
        Organisation.GUARDIAN,
    }
)

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
