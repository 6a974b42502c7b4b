"""Fault-injection bookkeeping: which notifications a case issued, which arrived, and the one-line
report each fault test leaves in the terminal summary (``tests/conftest.py``).

A notification's idempotency key is ``<case ID>:<episode>:<recipient>:<reason>:<sequence>``
and a case numbers each recipient's notifications 1, 2, 3…, so ``CaseState.notifications_to``
says exactly which keys must arrive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pathway.domain.state import CaseState

#: A notification: (case ID, recipient, sequence).
Issued = tuple[str, str, int]


def issued(states: Iterable[CaseState]) -> set[Issued]:
    """Every notification the cases issued, as (case ID, recipient, sequence)."""
    return {
        (s.case_id, recipient.value, seq)
        for s in states
        for recipient, last in s.notifications_to.items()
        for seq in range(1, last + 1)
    }


def key_of(idempotency_key: str) -> Issued:
    """(case ID, recipient, sequence) of an idempotency key."""
    case_id, _episode, recipient, _reason, seq = idempotency_key.split(":")
    return case_id, recipient, int(seq)


def settled_deliveries(state: CaseState) -> int:
    """How many notifications the workflow recorded as delivered in the case's timeline."""
    return sum(
        1
        for t in state.timeline
        if t.what.startswith("notification ") and ": delivered by " in t.what
    )


@dataclass(frozen=True)
class Tally:
    """Notifications expected against those that arrived (every copy of each key)."""

    expected: int
    delivered: int
    duplicated: int
    lost: int
    unexpected: int


def tally(expected: set[Issued], arrivals: Iterable[str]) -> Tally:
    """Count ``arrivals`` (idempotency keys, one per accepted copy) against ``expected``."""
    copies = Counter(key_of(key) for key in arrivals)
    return Tally(
        expected=len(expected),
        delivered=len(expected & copies.keys()),
        duplicated=sum(n - 1 for n in copies.values()),
        lost=len(expected - copies.keys()),
        unexpected=len(copies.keys() - expected),
    )


@dataclass(frozen=True)
class FaultReport:
    """What one fault test injected and what became of the notifications."""

    faults: str
    events_sent: int
    notifications: Tally
    seconds: float

    def line(self) -> str:
        n = self.notifications
        return (
            f"faults: {self.faults}; events sent: {self.events_sent}; notifications "
            f"expected {n.expected}, delivered {n.delivered}, duplicated {n.duplicated} "
            f"(same Idempotency-Key), lost={n.lost}; {self.seconds:.1f} s"
        )
