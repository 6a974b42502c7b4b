"""The law as pure functions: apply an event, or the passing of time, to a case.

``decide`` takes the case state (``None`` before identification), an event and the current time,
and returns either :class:`Accepted` (the new state and the effects to carry out) or
:class:`Rejection` (the rule ID, the field and a readable reason). It never mutates its input, so
the workflow's update validator can call it to reject an event before anything reaches history.
``fire_due`` does the same for reminders and expiries whose time has come.

Every check cites the rule it enforces (docs/rules.md). No Temporal import here.

One track of the seed per module, so that one track reads in one file:

- :mod:`~pathway.domain.rules.assistance`: general rights (R1–R5), crisis accommodation,
  consent, special needs and the reflection period (K1, K2, K4, K5), new facts and leaving
  assistance.
- :mod:`~pathway.domain.rules.children`: child victims (C1–C6; the age timers of C8 and of the
  child track's end).
- :mod:`~pathway.domain.rules.accompanying`: children placed with a victim and their own linked
  cases (R1, K1, S1).
- :mod:`~pathway.domain.rules.proceedings`: criminal proceedings and the main hearing (K6, C7,
  C8).
- :mod:`~pathway.domain.rules.residence`: the permit to stay (K7), the temporary residence
  permit (S4) and safe accommodation's need of both (S3).
- :mod:`~pathway.domain.rules.safe_accommodation`: safe accommodation (S1, S5).
- :mod:`~pathway.domain.rules.services`: what crisis and safe accommodation comprise,
  services offered and provided (K3, S2).
- :mod:`~pathway.domain.rules.reintegration`: the reintegration programme (I1). The programme
  registers (P1, X1) are :mod:`pathway.domain.programmes`.

And the machinery they share:

- :mod:`~pathway.domain.rules.core`: a change to a case and its effects (notifications,
  deadlines, obligations, members, timeline), :class:`Rejection`, :class:`Accepted`, the IDs
  of the service's own checks.
- :mod:`~pathway.domain.rules.dispatch`: :func:`decide`, the service's checks and the table of
  which track handles which event.
- :mod:`~pathway.domain.rules.deadlines`: :func:`fire_due` (reminders and expiries) and
  :func:`settle_notification`.
- :mod:`~pathway.domain.rules.members`: :func:`decide_membership`, the operator's changes to a
  case's members (MEMBERS).
- :mod:`~pathway.domain.rules.rejections`: :func:`note_rejection`, the rejected events a case
  keeps (metadata only) for its timeline (issue 17 item 3).
"""

from __future__ import annotations

from pathway.domain.rules.accompanying import forget_linked_case, settle_case_start
from pathway.domain.rules.admission import (
    admission_refusal,
    admit,
    linked_case_refusal,
    unstated_refusal,
)
from pathway.domain.rules.core import (
    RULE_ACCESS,
    RULE_CASE,
    RULE_IDEMPOTENCY,
    RULE_TIME,
    Accepted,
    Decision,
    Effects,
    Rejection,
    event_digest,
    working_copy,
)
from pathway.domain.rules.deadlines import fire_due, settle_notification
from pathway.domain.rules.dispatch import decide
from pathway.domain.rules.members import decide_membership
from pathway.domain.rules.reintegration import (
    in_criminal_or_pretrial_proceedings,
    reintegration_eligibility,
    resides_legally,
)
from pathway.domain.rules.rejections import RejectionNote, is_noted, note_rejection

__all__ = [
    "RULE_ACCESS",
    "RULE_CASE",
    "RULE_IDEMPOTENCY",
    "RULE_TIME",
    "Accepted",
    "Decision",
    "Effects",
    "Rejection",
    "RejectionNote",
    "admission_refusal",
    "admit",
    "decide",
    "decide_membership",
    "event_digest",
    "fire_due",
    "forget_linked_case",
    "in_criminal_or_pretrial_proceedings",
    "is_noted",
    "linked_case_refusal",
    "note_rejection",
    "reintegration_eligibility",
    "resides_legally",
    "settle_case_start",
    "settle_notification",
    "unstated_refusal",
    "working_copy",
]
