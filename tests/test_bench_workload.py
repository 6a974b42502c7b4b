"""The bench's reference case (bench/_workload.py) does the work issue 14's reference does:
eight updates, nine notifications, every event accepted and no deadline due during a run.

Pure: the case is run through the domain the way the workflow runs it (``fire_due`` before each
event, ``decide``, then each pending notification settled as delivered: one ``notify`` activity
each), without a Temporal server. ``python -m bench`` reads the bare side's plan off a Pathway
case's history, so these counts are what both sides do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench._workload import NOTIFICATIONS, UPDATES, pathway_event
from bench.decide import deliver_all
from pathway.domain.events import CaseEvent, parse_event
from pathway.domain.rules import Accepted, decide, fire_due
from pathway.domain.state import CaseState

#: Who each event tells, and by which rule: C3's notifications to the guardian are the measures.
TOLD: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "identified",
        [("caritas", "R1"), ("police", "R1"), ("social_work_centre", "C4")],
    ),
    ("swc_interview_held", []),
    ("guardian_appointed", [("guardian", "C3")]),
    ("child_accommodated_in_facility", [("guardian", "C3")]),
    ("rights_information_given", []),
    ("criminal_proceedings_opened", [("social_work_centre", "C7"), ("police", "C7")]),
    ("authorised_representative_appointed", [("guardian", "C3")]),
    ("main_hearing_scheduled", [("guardian", "C3")]),
]


def run_case(opened: datetime) -> tuple[CaseState, list[list[tuple[str, str]]], list[datetime]]:
    """The case opened at ``opened``, as the bench sends it (events a second apart, decided a
    minute after ``opened``): its final state, who each event told, and the case's next wake-up
    after each event."""
    state: CaseState | None = None
    told: list[list[tuple[str, str]]] = []
    wakes: list[datetime] = []
    for k in range(UPDATES):
        event = parse_event(pathway_event("bench-test", k, opened))
        now = opened + timedelta(minutes=1, seconds=k)
        if state is not None:
            state, _ = fire_due(state, now)
        decision = decide(state, event, now, case_id="case-bench-test")
        assert isinstance(decision, Accepted), (k, event.type, decision)
        state = decision.state
        told.append([(n.recipient.value, n.rule) for n in state.pending_notifications])
        deliver_all(state, now)
        wake = state.next_wake_at()
        assert wake is not None
        wakes.append(wake)
    assert state is not None
    return state, told, wakes


@pytest.mark.parametrize(
    "opened",
    [
        datetime.now(UTC) - timedelta(minutes=1),  # as the bench opens its cases
        datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 0, 30, tzinfo=UTC),  # a daylight-saving change in Ljubljana
        datetime(2028, 2, 29, 23, 30, tzinfo=UTC),  # a leap day, after midnight in Ljubljana
    ],
)
def test_workload_sends_nine_notifications_from_eight_events(opened: datetime) -> None:
    """Issue 14's reference workload: 8 updates, 9 notification activities. Every event is
    accepted (none is refused), each tells whom the rules say, and the case's next wake-up
    stays a day or more after its identification: no timer fires during a run."""
    state, told, wakes = run_case(opened)
    assert UPDATES == 8
    assert [event.type for event in _events(opened)] == [kind for kind, _ in TOLD]
    assert told == [who for _, who in TOLD]
    assert sum(len(who) for who in told) == NOTIFICATIONS == 9
    assert state.notifications_sent == NOTIFICATIONS
    assert not state.pending_notifications
    assert min(wakes) >= opened + timedelta(days=1)


def _events(opened: datetime) -> list[CaseEvent]:
    return [parse_event(pathway_event("bench-test", k, opened)) for k in range(UPDATES)]
