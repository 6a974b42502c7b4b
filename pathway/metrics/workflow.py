"""The case workflow's metrics, recorded through ``workflow.metric_meter()``: the SDK's
replay-safe meter, which records nothing while a history is replayed, so a case counts each
event and timer once however often its history is replayed. Recording a metric writes no
command: the histories stay the same (tests/test_replay.py).

Labels are codes only (an event type, a rule ID, a deadline kind); :func:`code` keeps anything
else out of a label. The meter adds ``namespace``, ``task_queue`` and ``workflow_type``, never
the workflow ID.

- ``pathway_events_accepted_total{event_type}``: events recorded in a case (a repeat of an
  ``event_id`` is not counted again).
- ``pathway_events_rejected_total{event_type, rule}``: events a case refused, by the rule that
  refused them (nothing of a rejected event reaches the history).
- ``pathway_deadline_timers_fired_total{rule, deadline, firing}``: a deadline's reminder
  (``firing="reminder"``) or expiry (``firing="expiry"``) that came due.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pathway.domain.state import CaseState

__all__ = ["OTHER", "code", "event_accepted", "event_rejected", "timers_fired"]

#: The label value of anything that is not a code.
OTHER: Final = "other"
# Codes: event types and deadline kinds (snake_case), rule IDs (R1, K7, CASE, MEMBERS).
_CODE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}")

EVENTS_ACCEPTED: Final = "pathway_events_accepted"
EVENTS_REJECTED: Final = "pathway_events_rejected"
TIMERS_FIRED: Final = "pathway_deadline_timers_fired"


def code(value: str | None) -> str:
    """``value`` if it is a code (a letter, then up to 47 letters, digits or ``_``), else
    ``"other"``: a label never carries free text, a name or an ID with digits and dashes."""
    if value is not None and _CODE.fullmatch(value):
        return value
    return OTHER


def event_accepted(event_type: str) -> None:
    """Count an event recorded in the case (from the update handler)."""
    workflow.metric_meter().create_counter(
        EVENTS_ACCEPTED, "Events recorded in a case", "events"
    ).add(1, {"event_type": code(event_type)})


def event_rejected(event_type: str, rule: str) -> None:
    """Count an event the case refused under ``rule`` (from the update validator)."""
    workflow.metric_meter().create_counter(
        EVENTS_REJECTED, "Events a case refused, by the rule that refused them", "events"
    ).add(1, {"event_type": code(event_type), "rule": code(rule)})


def timers_fired(state: CaseState, now: datetime) -> None:
    """Count the reminders and expiries of ``state``'s deadlines that are due at ``now`` and
    not yet carried out: what :func:`pathway.domain.rules.fire_due` is about to do. Reads
    ``state`` only."""
    counter = workflow.metric_meter().create_counter(
        TIMERS_FIRED, "Deadline reminders and expiries that came due", "timers"
    )
    for deadline in state.deadlines.values():
        labels = {"rule": code(deadline.rule), "deadline": code(deadline.kind.value)}
        for reminder in deadline.reminders:
            if not reminder.sent and reminder.at <= now:
                counter.add(1, {**labels, "firing": "reminder"})
        if deadline.due_at <= now:
            counter.add(1, {**labels, "firing": "expiry"})
