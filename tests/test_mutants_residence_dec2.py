"""Tests written against the survivors of the mutation run over the functions of
``rules/residence.py``, ``rules/core.py``, ``rules/safe_accommodation.py`` and ``config.py``
changed on 2 December (issue 13; docs/mutation.md): each pins what a survivor changed unseen."""

from __future__ import annotations

from datetime import datetime, timedelta

from pathway.domain.calendar import Counting
from pathway.domain.config import CaseConfig, DeadlineCounting
from pathway.domain.deadline_kinds import DeadlineKind
from pathway.domain.rules import Accepted, decide, fire_due
from pathway.domain.state import CaseState, ObligationKind
from tests.factories import CASE_ID, accept, event
from tests.test_config_validation import refused
from tests.test_law_moot import fired_until, ljubljana
from tests.test_law_residence import in_safe_accommodation

S3 = ObligationKind.SAFE_ACCOMMODATION_PERMITS


def _lapsed_residence() -> CaseState:
    """In safe accommodation; the residence permit ran to 20 May and its lapse was noticed at
    24:00 that day."""
    return fired_until(
        in_safe_accommodation(residence_until="2026-05-20"), ljubljana("2026-05-21T00:00")
    )


def _decided(
    state: CaseState, type_: str, at: datetime, now: datetime, **fields: object
) -> Accepted:
    decision = decide(state, event(type_, at, **fields), now, case_id=CASE_ID)
    assert isinstance(decision, Accepted), decision
    return decision


def _s3(state: CaseState) -> list[tuple[bool, bool, str | None]]:
    return [(o.is_open, o.moot, o.closed_by) for o in state.obligations if o.kind is S3]


class TestWhatSettlesTheLapse:
    """S3 and late-recorded events (docs/rules.md "Legal time")."""

    def test_a_new_residence_permit_is_never_in_time(self) -> None:
        """S4: a new permit is granted only after the last one expired: even back-dated to the
        day of the lapse, it settles the obligation without making the notice moot."""
        decision = _decided(
            _lapsed_residence(),
            "temporary_residence_permit_granted",
            ljubljana("2026-05-23T09:00"),
            ljubljana("2026-05-23T10:00"),
            basis="witness",
            valid_from="2026-05-21",
            valid_until="2027-05-20",
        )
        assert [(o, m) for o, m, _ in _s3(decision.state)] == [(False, False)]

    def test_a_renewal_at_the_lapse_itself_is_not_in_time(self) -> None:
        """A renewal at 24:00 of the last day, the lapse's own instant, came too late: the
        notice was right, not moot."""
        decision = _decided(
            _lapsed_residence(),
            "temporary_residence_permit_renewed",
            ljubljana("2026-05-21T00:00"),
            ljubljana("2026-05-23T10:00"),
            valid_until="2027-05-20",
        )
        assert [(o, m) for o, m, _ in _s3(decision.state)] == [(False, False)]

    def test_the_settling_event_closes_it_and_says_so(self) -> None:
        """The obligation a late end of the placement settles as moot is closed by that event,
        and the change lists it among the obligations it closed."""
        state = fired_until(in_safe_accommodation(), ljubljana("2026-06-03T00:00"))
        ended = event("safe_accommodation_ended", ljubljana("2026-06-01T12:00"))
        decision = decide(state, ended, ljubljana("2026-06-04T09:00"), case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        assert _s3(decision.state) == [(False, True, ended.event_id)]
        assert "safe_accommodation_permits" in decision.effects.obligations_closed

    def test_the_k7_moot_line_cites_k7(self) -> None:
        state = fired_until(in_safe_accommodation(), ljubljana("2026-06-03T00:00"))
        decision = _decided(
            state,
            "permit_to_stay_extended",
            ljubljana("2026-06-02T15:00"),
            ljubljana("2026-06-05T09:00"),
            months=3,
        )
        (line,) = [t for t in decision.state.timeline if "expiry notice moot" in t.what]
        assert line.rule == "K7"


def test_s5_moves_to_the_next_working_day_where_configured() -> None:
    """S5's period in calendar days, moved to the next working day: concluded on Friday 1 May
    2026 (a holiday itself), 30 days end on Sunday 31 May, moved to Monday 1 June."""
    moved = CaseConfig(
        deadline_counting={
            "accommodation_after_proceedings": DeadlineCounting(
                counting=Counting.CALENDAR_DAYS, next_working_day=True
            )
        }
    )
    state = in_safe_accommodation().model_copy(update={"config": moved})
    state = accept(state, event("criminal_proceedings_concluded", ljubljana("2026-05-01T10:00")))
    due = state.deadlines[DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS].due_at
    assert due == ljubljana("2026-06-02T00:00")


def test_hours_for_days_are_refused_with_the_way_out() -> None:
    """Gap 11: a period of hours counted in days is refused, and the reason says how to set
    hours (elapsed counting)."""
    message = refused("guardian_sla", guardian_sla=timedelta(hours=36))
    assert "(set its counting to elapsed for hours)" in message


class TestThePermitsRestored:
    """S3 when a permit is restored: the old branch as it was, and the new one's details."""

    def test_before_the_patch_a_renewal_with_the_permit_to_stay_lapsed_settles_nothing(
        self,
    ) -> None:
        """Old branch: both permits are needed; a renewed residence permit while the permit to
        stay has lapsed leaves the obligation open. Once both are valid, the renewal closes it
        by its own event and ends S3's deadline."""
        state = fired_until(
            in_safe_accommodation(residence_until="2026-06-05"), ljubljana("2026-06-06T00:00")
        ).model_copy(update={"permits_restored_moot": False})
        renewal = _decided(
            state,
            "temporary_residence_permit_renewed",
            ljubljana("2026-06-06T09:00"),
            ljubljana("2026-06-06T10:00"),
            valid_until="2027-06-05",
        )
        assert [o for o, _, _ in _s3(renewal.state)] == [True]
        lapsed = fired_until(
            in_safe_accommodation(residence_until="2026-05-20"), ljubljana("2026-05-21T00:00")
        ).model_copy(update={"permits_restored_moot": False})
        ev = event(
            "temporary_residence_permit_renewed",
            ljubljana("2026-05-21T09:00"),
            valid_until="2027-05-20",
        )
        cured = decide(lapsed, ev, ljubljana("2026-05-21T10:00"), case_id=CASE_ID)
        assert isinstance(cured, Accepted)
        assert _s3(cured.state) == [(False, False, ev.event_id)]
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS not in cured.state.deadlines

    def test_settled_either_way_it_ends_s3_s_deadline(self) -> None:
        """Moot (an extension in time) or a cure (a renewal after the lapse), the obligation's
        settle-by deadline ends with it."""
        state = fired_until(in_safe_accommodation(), ljubljana("2026-06-03T00:00"))
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS in state.deadlines
        moot = _decided(
            state,
            "permit_to_stay_extended",
            ljubljana("2026-06-02T15:00"),
            ljubljana("2026-06-05T09:00"),
            months=3,
        )
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS not in moot.state.deadlines
        cure = _decided(
            _lapsed_residence(),
            "temporary_residence_permit_renewed",
            ljubljana("2026-05-21T09:00"),
            ljubljana("2026-05-23T10:00"),
            valid_until="2027-05-20",
        )
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS not in cure.state.deadlines

    def test_after_the_escalation_too(self) -> None:
        """The lapse of 3 June escalated at the end of 10 June (its deadline gone); the
        extension of 2 June, recorded on 12 June, still finds the notice moot."""
        state = fired_until(in_safe_accommodation(), ljubljana("2026-06-11T00:00"))
        (ob,) = [o for o in state.obligations if o.kind is S3]
        assert ob.escalated_at is not None
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS not in state.deadlines
        moot = _decided(
            state,
            "permit_to_stay_extended",
            ljubljana("2026-06-02T15:00"),
            ljubljana("2026-06-12T09:00"),
            months=3,
        )
        assert [(o, m) for o, m, _ in _s3(moot.state)] == [(False, True)]
        # The notice itself was moot, not only its escalation: all four are told.
        told = sorted(
            n.recipient.value
            for n in moot.effects.notifications
            if n.reason == "escalation_moot" and n.rule == "S3"
        )
        assert told == ["interior_ministry", "kljuc", "migration_authority", "police"]

    def test_a_late_wake_reads_the_lapse_not_the_wake(self) -> None:
        """The permit to stay ran to 2 June; the case woke only on 10 July; extended by one
        month on 2 June (to 2 July) and recorded on 11 July: valid at the lapse (3 June), not
        at the wake, so the notice was moot."""
        state = in_safe_accommodation()
        state, _ = fire_due(state, ljubljana("2026-07-10T08:00"))
        (ob,) = [o for o in state.open_obligations if o.kind is S3]
        assert ob.opened_at == ljubljana("2026-07-10T08:00")
        moot = _decided(
            state,
            "permit_to_stay_extended",
            ljubljana("2026-06-02T15:00"),
            ljubljana("2026-07-11T09:00"),
            months=1,
        )
        assert next((o, m) for o, m, _ in _s3(moot.state)) == (False, True)
