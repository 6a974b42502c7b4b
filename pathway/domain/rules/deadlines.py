"""The passing of time, and what became of notifications.

:func:`fire_due` sends the reminders and runs the expiries whose time has come; which track's
rule a deadline belongs to, and what its expiry does, is in the tracks' own tables
(``EXPIRIES``, ``REMINDERS``). A reminder still undelivered when its deadline is reached is
escalated to someone reachable (:func:`_escalate_undelivered_reminders`).
:func:`settle_notification` records a notification's delivery (or final failure) on the
timeline.
"""

from __future__ import annotations

from datetime import datetime

import pathway.domain.rules.assistance as assistance
import pathway.domain.rules.children as children
import pathway.domain.rules.proceedings as proceedings
import pathway.domain.rules.residence as residence
from pathway.domain.calendar import describe_end
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules.core import Effects, Expiry, _Change, _Duty, merged, working_copy
from pathway.domain.state import (
    CaseState,
    Deadline,
    DeadlineKind,
    DeliveryOutcome,
    Notification,
    ObligationKind,
    TimelineEntry,
)

#: What each deadline's expiry does, by the track its rule belongs to.
_EXPIRY: dict[DeadlineKind, Expiry] = merged(
    assistance.EXPIRIES,
    children.EXPIRIES,
    proceedings.EXPIRIES,
    residence.EXPIRIES,
)

#: The reminder's text for each deadline that has one before it expires.
_REMINDER_TEXT: dict[DeadlineKind, str] = merged(
    assistance.REMINDERS,
    children.REMINDERS,
    proceedings.REMINDERS,
    residence.REMINDERS,
)


def _escalate_undelivered_reminders(change: _Change, deadline: Deadline) -> None:
    """A reminder still undelivered when its deadline is reached has lost its lead time:
    someone reachable must now tell the recipient (the reminder itself keeps retrying)."""
    state = change.state
    reason = f"{deadline.kind.value}_reminder"
    stuck = [
        n for n in state.pending_notifications if n.reason == reason and n.due_at == deadline.due_at
    ]
    for reminder in stuck:
        unreachable = reminder.recipient
        owner = state.lead_ngo if unreachable is not state.lead_ngo else Org.INTERIOR_MINISTRY
        action = (
            f"A reminder to {unreachable.value} about the {deadline.kind.value} deadline "
            f"({deadline.rule}) could not be delivered before the deadline: tell them "
            "another way."
        )
        change.open_obligation(
            _Duty(ObligationKind.NOTIFICATION_UNDELIVERED, deadline.rule, owner, action),
            suffix=reminder.idempotency_key,
            escalated=True,
        )
        recipients = [o for o in (state.lead_ngo, Org.INTERIOR_MINISTRY) if o is not unreachable]
        change.notify(recipients, "notification_undelivered", deadline.rule, action)


def fire_due(
    state: CaseState, now: datetime, *, escalate_undelivered: bool = True
) -> tuple[CaseState, Effects]:
    """Send the reminders and run the expiries whose time has come by ``now``. Pure.

    ``escalate_undelivered`` is off only when replaying histories from before that rule.
    """
    wake_at = state.next_wake_at()
    if wake_at is None or wake_at > now:
        return state, Effects()
    change = _Change(working_copy(state), now)
    for deadline in sorted(change.state.deadlines.values(), key=lambda d: (d.due_at, d.kind)):
        if change.state.deadlines.get(deadline.kind) is not deadline:
            continue  # ended or re-armed by an expiry handled earlier in this pass
        for reminder in deadline.reminders:
            if not reminder.sent and reminder.at <= now:
                reminder.sent = True
                # The precise end, in Ljubljana: "2026-11-19 at 24:00 (Ljubljana time)".
                text = _REMINDER_TEXT[deadline.kind].format(due=describe_end(deadline.due_at))
                recipients = [*reminder.recipients]
                if reminder.lead_ngo:
                    recipients.append(change.state.lead_ngo)
                change.notify(
                    recipients,
                    f"{deadline.kind.value}_reminder",
                    deadline.rule,
                    text,
                    due_at=deadline.due_at,
                )
                change.record_timer(f"{deadline.kind.value} reminder sent", deadline.rule)
        if deadline.due_at <= now:
            change.end_deadline(deadline.kind)
            change.record_timer(f"{deadline.kind.value} deadline reached", deadline.rule)
            if escalate_undelivered:
                _escalate_undelivered_reminders(change, deadline)
            _EXPIRY[deadline.kind](change)
    return change.state, change.effects


def settle_notification(
    state: CaseState, notification: Notification, now: datetime, outcome: DeliveryOutcome
) -> None:
    """Record that a notification was delivered (or finally failed) and stop tracking it.

    In place: called by the workflow on state it owns, after the delivery activity finished.
    """
    state.pending_notifications = [
        n for n in state.pending_notifications if n.idempotency_key != notification.idempotency_key
    ]
    if outcome.delivered:
        escalation = (
            f"{ObligationKind.NOTIFICATION_UNDELIVERED.value}:{notification.idempotency_key}"
        )
        for ob in state.open_obligations:
            if ob.id == escalation:
                ob.closed_at = now
                ob.closed_by = "delivered"
    state.timeline.append(
        TimelineEntry(
            at=now,
            recorded_at=now,
            who="pathway",
            what=(
                f"notification {notification.reason} to {notification.recipient.value}: "
                f"{outcome.describe()}"
            ),
            rule=notification.rule,
            organisation=notification.recipient,
        )
    )
