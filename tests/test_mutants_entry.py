"""Tests that kill mutants of the rules' entry points and shared machinery (issue 13;
docs/mutation.md): ``rules/core.py`` (a change and its effects), ``rules/dispatch.py``
(``decide``: ACCESS, TIME, CASE, IDEMPOTENCY), ``rules/deadlines.py`` (``fire_due``) and the
small modules under them (``config.py``, ``state.py``, ``events.py``, ``person.py``,
``plausible.py``, ``calendar.py``, ``membership.py``).

These are the mutants the first whole run never reached. Pure: ``decide`` and ``fire_due`` on
a case's state, no Temporal server. Each test names the rule it keeps and asserts what the
rule requires, never a value copied from a run.
"""

from __future__ import annotations

from pathway.domain.rules import fire_due
from tests.factories import EU_ADULT, T0, days
from tests.test_domain_mutants import child_turning_18_in_crisis_accommodation
from tests.test_law_residence import placed_in_crisis

# -- TIME: what a timer does is done by the service -------------------------------------------


class TestTimersActAsTheService:
    """TIME: a reminder sent and a deadline reached are the service's own acts: the timeline
    names ``pathway`` as who did them (an organisation's name there would say it acted), at the
    moment time was checked, citing the deadline's rule."""

    def test_reminders_and_deadlines_reached_are_by_pathway(self) -> None:
        """K1, K5, C1: checked 40 days on, every reminder sent and every deadline reached is on
        the timeline by ``pathway``, at that moment, with its rule."""
        now = T0 + days(40)
        state, _ = fire_due(child_turning_18_in_crisis_accommodation(), now)
        timers = [
            t for t in state.timeline if t.what.endswith(("deadline reached", "reminder sent"))
        ]
        assert len(timers) >= 4
        assert {t.who for t in timers} == {"pathway"}
        assert {t.at for t in timers} == {now}
        assert {t.recorded_at for t in timers} == {now}
        assert all(t.rule for t in timers)
        assert all(t.event_id is None for t in timers)


class TestTheOneTimerTheWorkflowSleepsOn:
    """TIME: the workflow sleeps until the earliest reminder or expiry still to fire
    (``CaseState.next_wake_at``): a reminder is sent ahead of its deadline, and one already
    sent does not wake it again."""

    def test_it_wakes_for_the_first_reminder_then_for_what_is_left(self) -> None:
        """K1, K5: placed in crisis accommodation and past R3's 24 hours, the next timer is a
        reminder, days before any deadline; fired then, that reminder is sent and the next
        wake lies after it."""
        state, _ = fire_due(placed_in_crisis(EU_ADULT), T0 + days(10))
        reminders = [r.at for d in state.deadlines.values() for r in d.reminders]
        dues = [d.due_at for d in state.deadlines.values()]
        first = min(reminders)
        assert first < min(dues)
        assert state.next_wake_at() == first
        state, _ = fire_due(state, first)
        sent = [r for d in state.deadlines.values() for r in d.reminders if r.sent]
        assert sent and all(r.at == first for r in sent)
        after = state.next_wake_at()
        assert after is not None and after > first
