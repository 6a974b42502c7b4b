"""Notification idempotency keys (docs/gateway.md "Idempotency-Key"): the same on every retry,
never the same for two notifications — across recipients (R6, issue 11) and across the
episodes of one person's case (issue 12)."""

from __future__ import annotations

from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules.core import notification_key
from pathway.domain.state import CaseState
from tests.factories import T0, accept, days, event, opened


def _keys(state: CaseState) -> set[str]:
    return {n.idempotency_key for n in state.pending_notifications}


class TestNotificationKeys:
    def test_a_new_episode_never_repeats_an_earlier_episodes_keys(self) -> None:
        """Issue 12: a person identified again after a closure starts a new episode whose
        numbers start at 1 again; its keys must differ, or receivers drop them as repeats."""
        first = opened()
        second = opened(at=T0 + days(400))
        assert first.case_id == second.case_id
        assert _keys(first) and _keys(second)
        assert not _keys(first) & _keys(second)
        assert {(n.recipient, n.reason, n.sequence) for n in first.pending_notifications} == {
            (n.recipient, n.reason, n.sequence) for n in second.pending_notifications
        }

    def test_keys_are_stable_and_printable(self) -> None:
        """The same notification has the same key on every computation (retries, replays);
        the key is header-safe ASCII and names no person."""
        state = accept(opened(), event("ngo_interview_held", T0 + days(0.1)))
        for n in state.pending_notifications:
            assert n.idempotency_key == notification_key(state, n.recipient, n.reason, n.sequence)
            assert n.idempotency_key.isascii() and " " not in n.idempotency_key
            case_id, episode, recipient, reason, sequence = n.idempotency_key.split(":")
            assert (case_id, recipient, reason, int(sequence)) == (
                state.case_id,
                n.recipient.value,
                n.reason,
                n.sequence,
            )
            assert episode == state.opened_at.strftime("%Y%m%dT%H%M%SZ")

    def test_two_recipients_of_one_reason_have_different_keys(self) -> None:
        """R6: numbered per recipient, so the recipient is part of the key."""
        state = opened()
        assert notification_key(state, Org.POLICE, "x", 1) != notification_key(
            state, Org.CARITAS, "x", 1
        )
