"""The operator's changes to a case's members (MEMBERS).

Not a rule of the seed: it follows docs/rules.md "Access" and R6 (“respect for their
integrity”), so that each organisation sees a case only for a stated, recorded purpose. Rules
add and end roles themselves through :class:`~pathway.domain.rules.core._Change`
(``add_member``, ``end_member``, ``set_lead``); :func:`decide_membership` is what an operator
may add or remove by hand, with the reason on the timeline.
"""

from __future__ import annotations

from datetime import datetime

from pathway.domain import membership
from pathway.domain.rules.core import RULE_CASE, Rejection
from pathway.domain.state import CaseState, Phase, TimelineEntry


def decide_membership(
    state: CaseState | None, change: membership.MembershipChange, now: datetime
) -> CaseState | Rejection:
    """The operator's membership change (MEMBERS) applied at ``now``: the new state, with the
    change in the membership records and a timeline entry (who, what, the reason), or the
    :class:`Rejection` that says why it cannot be made (rule ``MEMBERS`` and the field at fault:
    a role given only by rules, an analyst, no reason, a role already held or not held; rule
    ``CASE`` for a case not opened or closed). Pure: ``state`` is not modified, so the
    workflow's validator and its handler can both call it and agree."""
    if state is None:
        return Rejection(RULE_CASE, "case_id", "the case has not been opened")
    if state.phase is Phase.CLOSED:
        return Rejection(RULE_CASE, "case_id", "the case is closed")
    if change.change_id is not None:
        done_as = _change_entry_id(change.change_id)
        if any(e.event_id == done_as for e in state.timeline):
            return Rejection(membership.RULE_MEMBERS, "change_id", "this change was made already")
    change_of = membership.add_member if change.action == "add" else membership.remove_member
    try:
        new = change_of(
            state, change.organisation, change.role, by=change.by, why=change.why, now=now
        )
    except membership.MembershipRefused as refused:
        return Rejection(refused.rule, refused.field, refused.reason)
    done = "added" if change.action == "add" else "removed"
    entry = TimelineEntry(
        at=now,
        recorded_at=now,
        who=f"operator ({change.by})",
        what=f"member {done}: {change.organisation.value} as {change.role.value}",
        why=change.why,
        rule=membership.RULE_MEMBERS,
        event_id=None if change.change_id is None else _change_entry_id(change.change_id),
    )
    return new.model_copy(update={"timeline": [*new.timeline, entry]})


def _change_entry_id(change_id: str) -> str:
    """The ``event_id`` of the timeline entry that records the change ``change_id``."""
    return f"membership-change:{change_id}"
