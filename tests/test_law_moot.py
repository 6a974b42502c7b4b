"""Late-recorded events on every track (issue 13, docs/rules.md "Legal time"): an event that
happened before an escalation fired, but was recorded after it, settles that escalation as moot
and tells those it told: R3's rights information, the child-protection obligations (C4, C6,
C7) and the obligations after a safe placement (S3, S5), as K1, K5 and S1 already did
(tests/test_law_assistance.py::TestLateRecordedEvents). Each test quotes the seed's words."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from pathway.domain.events import CaseEvent
from pathway.domain.rules import Accepted, decide, fire_due
from pathway.domain.state import CaseState, ObligationKind
from tests.factories import ALL_SUBJECTS, CASE_ID, T0, accept, days, event, opened
from tests.test_law_residence import in_safe_accommodation

CHILD: dict[str, Any] = {
    "citizenships": ["SI"],
    "residence_status": "slovenian_citizen",
    "gender": "female",
    "languages": ["sl"],
    "birth_date": "2012-05-01",
    "unaccompanied": True,
}


#: A decision on a child's case carries the best-interests note (C1) and the child's views (C2).
DECISION: dict[str, str] = {
    "best_interests": "Stays in a safe facility near her school",
    "child_views": "Wants to stay near her school",
}


def fired_until(state: CaseState, end: datetime) -> CaseState:
    """Every timer due by ``end`` fires when it falls, as the workflow does."""
    while (wake := state.next_wake_at()) is not None and wake <= end:
        state, _ = fire_due(state, wake)
    return state


def recorded(state: CaseState, ev: CaseEvent, now: datetime) -> tuple[CaseState, list[str]]:
    """``ev`` recorded at ``now``: the state and the (recipient:reason) it sent."""
    decision = decide(state, ev, now, case_id=CASE_ID)
    assert isinstance(decision, Accepted), decision
    return decision.state, [
        f"{n.recipient.value}:{n.reason}" for n in decision.effects.notifications
    ]


def moot_told(sent: list[str]) -> list[str]:
    return sorted(s.split(":")[0] for s in sent if s.endswith(":escalation_moot"))


def escalated(state: CaseState, kind: ObligationKind) -> datetime:
    (ob,) = [o for o in state.obligations if o.kind is kind]
    assert ob.escalated_at is not None, "the timer escalated it"
    return ob.escalated_at


def old_rules(state: CaseState) -> CaseState:
    """The state as a case recorded before the patch ``moot-escalations-every-track``."""
    return state.model_copy(update={"moot_every_track": False})


class TestR3InformationRecordedLate:
    """R3: “information (in a language the victim understands) on: …” the nine subjects; the
    supervising NGO is alerted when they are missing after 24 hours."""

    def escalated_case(self) -> CaseState:
        return fired_until(opened(), T0 + timedelta(hours=25))

    def test_information_given_before_the_escalation_recorded_after_it_is_moot(self) -> None:
        """R3: the nine subjects given at 20 hours, recorded at 26 hours after the escalation
        of 24 hours: the escalation is moot, the lead NGO it alerted is told once (not once
        per subject), and every subject's obligation is marked moot."""
        state = self.escalated_case()
        late, sent = recorded(
            state,
            event("rights_information_given", T0 + timedelta(hours=20), subjects=ALL_SUBJECTS),
            T0 + timedelta(hours=26),
        )
        assert moot_told(sent) == ["caritas"]
        subjects = [o for o in late.obligations if o.kind is ObligationKind.RIGHTS_INFORMATION]
        assert len(subjects) == 9 and all(o.moot and not o.is_open for o in subjects)
        assert any(t.what.startswith("rights_information escalation moot") for t in late.timeline)

    def test_information_at_the_escalation_is_not_moot(self) -> None:
        """Boundary: given at the instant the escalation fired, it was due: settled as
        usual, nobody told it is moot; a second before, it is moot."""
        state = self.escalated_case()
        fired_at = min(
            o.escalated_at
            for o in state.obligations
            if o.kind is ObligationKind.RIGHTS_INFORMATION and o.escalated_at is not None
        )
        for at, moot in ((fired_at, False), (fired_at - timedelta(seconds=1), True)):
            info = event("rights_information_given", at, subjects=ALL_SUBJECTS)
            late, sent = recorded(state, info, fired_at + timedelta(hours=2))
            assert (moot_told(sent) == ["caritas"]) is moot
            assert all(o.moot is moot for o in late.obligations if o.rule == "R3")

    def test_old_histories_tell_nobody(self) -> None:
        """Replay: a case recorded before the patch settles it without telling anyone."""
        state = old_rules(opened())
        state = fired_until(state, T0 + timedelta(hours=25))
        _, sent = recorded(
            state,
            event("rights_information_given", T0 + timedelta(hours=20), subjects=ALL_SUBJECTS),
            T0 + timedelta(hours=26),
        )
        assert moot_told(sent) == []


#: Each child-protection obligation, and the event that meets it.
CHILD_DUTIES = [
    pytest.param(
        ObligationKind.GUARDIAN_APPOINTMENT,
        lambda at: event("guardian_appointed", at, qualified_personnel=True, child=DECISION),
        id="C4-guardian",
    ),
    pytest.param(
        ObligationKind.FAMILY_CONTACT,
        lambda at: event("family_contact_recorded", at, outcome="established", child=DECISION),
        id="C6-family",
    ),
]


class TestChildProtectionRecordedLate:
    """C4: “the child is to be appointed a guardian or a representative”; C6: “the
    authorities are to do everything to establish contact with the victim's family as soon as
    possible”; the social work centre is alerted again and again until it is done."""

    @pytest.mark.parametrize(("kind", "meets"), CHILD_DUTIES)
    def test_met_before_the_escalation_recorded_after_it_is_moot(
        self, kind: ObligationKind, meets: Any
    ) -> None:
        """C4, C6: met a second before the first escalation, recorded days later: the
        escalation is moot and the social work centre is told; met at the escalation, it was
        due."""
        state = opened(CHILD)
        (ob,) = [o for o in state.open_obligations if o.kind is kind]
        assert ob.due_at is not None
        state = fired_until(state, ob.due_at)
        fired_at = escalated(state, kind)
        for at, moot in ((fired_at - timedelta(seconds=1), True), (fired_at, False)):
            late, sent = recorded(state, meets(at), fired_at + days(2))
            (done,) = [o for o in late.obligations if o.kind is kind]
            assert not done.is_open and done.moot is moot
            assert ("social_work_centre" in moot_told(sent)) is moot

    def test_c7_representative_appointed_before_the_escalation(self) -> None:
        """C7: “the injured party who is a minor will throughout the criminal proceedings have
        an authorised representative”: appointed before the escalation, recorded after it,
        the escalation is moot and the social work centre told."""
        state = accept(
            opened(CHILD), event("criminal_proceedings_opened", T0 + days(1), child=DECISION)
        )
        kind = ObligationKind.AUTHORISED_REPRESENTATIVE
        (ob,) = [o for o in state.open_obligations if o.kind is kind]
        assert ob.due_at is not None
        state = fired_until(state, ob.due_at)
        fired_at = escalated(state, kind)
        late, sent = recorded(
            state,
            event(
                "authorised_representative_appointed", fired_at - timedelta(hours=1), child=DECISION
            ),
            fired_at + days(1),
        )
        assert "social_work_centre" in moot_told(sent)
        assert [o.moot for o in late.obligations if o.kind is kind] == [True]

    def test_old_histories_tell_nobody(self) -> None:
        """Replay: a case recorded before the patch settles it without telling anyone."""
        state = old_rules(opened(CHILD))
        (ob,) = [o for o in state.open_obligations if o.kind is ObligationKind.GUARDIAN_APPOINTMENT]
        assert ob.due_at is not None
        state = fired_until(state, ob.due_at)
        fired_at = escalated(state, ObligationKind.GUARDIAN_APPOINTMENT)
        met = event(
            "guardian_appointed", fired_at - days(1), qualified_personnel=True, child=DECISION
        )
        _, sent = recorded(state, met, fired_at + days(2))
        assert moot_told(sent) == []


class TestAfterPlacementRecordedLate:
    """S3: “these victims are included in the safe accommodation programme for the period of
    validity of the permit to stay”; S5: “for the victims from third countries it may last
    until the conclusion of the criminal proceedings”."""

    def test_s5_placement_ended_before_the_escalation_is_moot(self) -> None:
        """S5: proceedings concluded on 30 April, the next step escalated at the end of 30
        May; the placement had ended on 20 May, recorded on 2 June: the escalation is moot,
        Ključ and the interior ministry are told."""
        state = accept(
            in_safe_accommodation(),
            event(
                "criminal_proceedings_concluded",
                datetime.fromisoformat("2026-04-30T10:00:00+02:00"),
            ),
        )
        state = fired_until(state, datetime.fromisoformat("2026-05-31T00:00:00+02:00"))
        kind = ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS
        fired_at = escalated(state, kind)
        for at, moot in ((fired_at - timedelta(days=11), True), (fired_at, False)):
            late, sent = recorded(
                state,
                event("safe_accommodation_ended", at),
                datetime.fromisoformat("2026-06-02T10:00:00+02:00"),
            )
            assert moot_told(sent) == (["interior_ministry", "kljuc"] if moot else [])
            assert [o.moot for o in late.obligations if o.kind is kind] == [moot]

    def test_s3_placement_ended_before_the_lapse_escalation_is_moot(self) -> None:
        """S3: the permit to stay lapsed during safe accommodation and its date to settle
        passed; the placement had ended before that date, recorded after: the escalation is
        moot, the provider and the interior ministry told."""
        state = in_safe_accommodation()
        kind = ObligationKind.SAFE_ACCOMMODATION_PERMITS
        state = fired_until(state, datetime.fromisoformat("2026-06-03T00:00:00+02:00"))
        (ob,) = [o for o in state.open_obligations if o.kind is kind]
        assert ob.due_at is not None
        state = fired_until(state, ob.due_at)
        fired_at = escalated(state, kind)
        late, sent = recorded(
            state, event("safe_accommodation_ended", fired_at - days(1)), fired_at + days(2)
        )
        assert moot_told(sent) == ["interior_ministry", "kljuc"]
        assert [o.moot for o in late.obligations if o.kind is kind] == [True]

    def test_old_histories_keep_no_escalation(self) -> None:
        """Replay: before the patch S3 and S5 kept no escalation on the obligation, so a late
        end settles it as usual and tells nobody."""
        state = accept(
            old_rules(in_safe_accommodation()),
            event(
                "criminal_proceedings_concluded",
                datetime.fromisoformat("2026-04-30T10:00:00+02:00"),
            ),
        )
        state = fired_until(state, datetime.fromisoformat("2026-05-31T00:00:00+02:00"))
        late, sent = recorded(
            state,
            event("safe_accommodation_ended", datetime.fromisoformat("2026-05-20T10:00:00+02:00")),
            datetime.fromisoformat("2026-06-02T10:00:00+02:00"),
        )
        assert moot_told(sent) == []
        assert not any(o.moot for o in late.obligations)
