"""Gaps in the law found by a reviewer on 2 December 2026 and not yet fixed (issue 13;
docs/rules.md "Known gaps"). Each test states what the rule requires and is marked
``xfail(strict=True)``: it fails today, and the day a fix makes it pass, the strict marker turns
that pass into a failure, so the marker (and the gap's entry in docs/rules.md) must go with the
fix. Not a test of what is done: none of these counts as built. Outside mutmut's selection
(an expected failure cannot kill a mutant)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pathway.domain.rules import fire_due
from pathway.domain.state import CaseState, ObligationKind
from tests.factories import T0, TCN_ILLEGAL, accept, days, event, opened


def _fire_until(state: CaseState, until: datetime) -> CaseState:
    while (wake := state.next_wake_at()) is not None and wake <= until:
        state, _ = fire_due(state, wake)
    return state


@pytest.mark.xfail(strict=True, reason="known gap 2 (docs/rules.md): K7, S3, late events")
def test_a_late_recorded_extension_settles_the_lapsed_permit_obligation() -> None:
    """K7, S3 and late-recorded events: an extension decided on the permit's last day and
    recorded four days later restores the permit; the S3 obligation opened by its lapse must be
    settled (moot), not left open to escalate although both permits are valid."""
    state = opened(TCN_ILLEGAL)
    state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
    state = accept(
        state,
        event(
            "permit_to_stay_granted",
            T0 + days(1),
            valid_from=T0.date().isoformat(),
            basis="ex_officio",
        ),
    )
    state = accept(
        state,
        event(
            "temporary_residence_permit_granted",
            T0 + days(2),
            basis="witness",
            valid_from=(T0 + days(2)).date().isoformat(),
            valid_until=(T0 + days(400)).date().isoformat(),
        ),
    )
    state = accept(state, event("safe_accommodation_placed", T0 + days(31)))
    state = _fire_until(state, T0 + days(94))
    assert any(o.kind is ObligationKind.SAFE_ACCOMMODATION_PERMITS for o in state.open_obligations)
    late = event("permit_to_stay_extended", datetime(2026, 6, 1, 10, tzinfo=UTC), months=3)
    state = accept(state, late, T0 + days(95))
    assert not any(
        o.kind is ObligationKind.SAFE_ACCOMMODATION_PERMITS for o in state.open_obligations
    )
