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
from tests.factories import ALL_SUBJECTS, CASE_ID, T0, TCN_ILLEGAL, accept, days, event, opened
from tests.test_law_residence import in_safe_accommodation, interviewed

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


def ljubljana(text: str) -> datetime:
    """An instant written in Ljubljana's summer time (``2026-06-02T10:00``)."""
    return datetime.fromisoformat(f"{text}:00+02:00")


def permits_lapse_settled(late: CaseState) -> list[tuple[bool, bool]]:
    """(still open, moot) of each S3 obligation of ``late``."""
    kind = ObligationKind.SAFE_ACCOMMODATION_PERMITS
    return [(o.is_open, o.moot) for o in late.obligations if o.kind is kind]


def both_lapsed_then_restored(
    renewed_on: str, extension_first: bool
) -> tuple[CaseState, CaseEvent, CaseEvent]:
    """In safe accommodation, the permit to stay lapsed after 2 June and the residence permit
    after 5 June; its extension (decided 2 June) and the renewal (decided ``renewed_on``), in
    the order they are to be recorded."""
    state = fired_until(
        in_safe_accommodation(residence_until="2026-06-05"), ljubljana("2026-06-06T00:00")
    )
    extension = event("permit_to_stay_extended", ljubljana("2026-06-02T15:00"), months=3)
    renewal = event(
        "temporary_residence_permit_renewed", ljubljana(renewed_on), valid_until="2027-06-05"
    )
    return (state, extension, renewal) if extension_first else (state, renewal, extension)


#: Those the notice of a lapsed permit told (S3): the provider, the police, the migration
#: authority and the interior ministry, sorted.
LAPSE_TOLD = ["interior_ministry", "kljuc", "migration_authority", "police"]


def recorded_rules(state: CaseState, ev: CaseEvent, now: datetime) -> tuple[CaseState, list[str]]:
    """``ev`` recorded at ``now``: the state and the (recipient:reason:rule) it sent."""
    decision = decide(state, ev, now, case_id=CASE_ID)
    assert isinstance(decision, Accepted), decision
    return decision.state, [
        f"{n.recipient.value}:{n.reason}:{n.rule}" for n in decision.effects.notifications
    ]


def moot_for(sent: list[str], rule: str) -> list[str]:
    """Who ``sent`` told that an escalation or notice of ``rule`` is moot, sorted."""
    return sorted(s.split(":")[0] for s in sent if s.endswith(f":escalation_moot:{rule}"))


class TestPermitsRestoredRecordedLate:
    """K7: “If reasonable grounds exist, the victims may be permitted to remain for another
    period of three months at the most”; S3: “conditional on their having a permit to stay and
    a temporary residence permit … for the period of validity of the permit to stay”. A permit
    extended or renewed on its last day but recorded after the lapse was noticed restores the
    permits: the S3 obligation the lapse opened is settled, and, as the lapse notice was moot,
    those it told are told so (known gap 2 until the patch ``s3-permits-restored-moot``)."""

    def test_an_extension_on_the_last_day_recorded_after_the_lapse_is_moot(self) -> None:
        """The permit to stay ran to 2 June; extended on 2 June, recorded on 5 June after the
        lapse notice of 3 June 00:00: the S3 obligation is settled as moot, the four told, the
        timeline says so, and the extended permit runs to 2 September with its deadline."""
        state = fired_until(in_safe_accommodation(), ljubljana("2026-06-03T00:00"))
        assert permits_lapse_settled(state) == [(True, False)]
        extension = event("permit_to_stay_extended", ljubljana("2026-06-02T15:00"), months=3)
        late, sent = recorded_rules(state, extension, ljubljana("2026-06-05T09:00"))
        assert permits_lapse_settled(late) == [(False, True)]
        assert moot_for(sent, "S3") == LAPSE_TOLD
        (settled,) = [o for o in late.obligations if o.rule == "S3"]
        assert settled.closed_by == extension.event_id
        assert any(
            t.what == "safe_accommodation_permits notice moot: settled by an event recorded late"
            for t in late.timeline
        )
        assert late.permit_to_stay is not None
        assert late.permit_to_stay.valid_until.isoformat() == "2026-09-02"
        assert permits_lapse_settled(fired_until(late, ljubljana("2026-06-30T00:00"))) == [
            (False, True)
        ]

    def test_an_extension_recorded_in_time_opens_nothing(self) -> None:
        """Recorded on 2 June itself, the extension leaves nothing to lapse on 3 June."""
        state = accept(
            in_safe_accommodation(),
            event("permit_to_stay_extended", ljubljana("2026-06-02T15:00"), months=3),
        )
        state = fired_until(state, ljubljana("2026-06-04T00:00"))
        assert permits_lapse_settled(state) == []

    def test_an_extension_while_the_residence_permit_has_lapsed_settles_nothing(self) -> None:
        """S3 needs both permits: the residence permit ended on 20 May, so extending the
        permit to stay late leaves the S3 obligation open and tells nobody it is moot."""
        state = fired_until(
            in_safe_accommodation(residence_until="2026-05-20"), ljubljana("2026-06-03T00:00")
        )
        late, sent = recorded_rules(
            state,
            event("permit_to_stay_extended", ljubljana("2026-06-02T15:00"), months=3),
            ljubljana("2026-06-05T09:00"),
        )
        assert permits_lapse_settled(late) == [(True, False)]
        assert moot_for(sent, "S3") == []

    @pytest.mark.parametrize(
        ("renewed_on", "moot"), [("2026-05-20T15:00", True), ("2026-05-21T09:00", False)]
    )
    def test_a_residence_permit_renewed_on_its_last_day_recorded_late_is_moot(
        self, renewed_on: str, moot: bool
    ) -> None:
        """S4: the residence permit ran to 20 May and its lapse was noticed at 21 May 00:00.
        Renewed on 20 May and recorded on 23 May, the lapse notice was moot: the four are
        told. Renewed on 21 May, after the lapse, it cures the lapse: settled, not moot."""
        state = fired_until(
            in_safe_accommodation(residence_until="2026-05-20"), ljubljana("2026-05-21T00:00")
        )
        assert permits_lapse_settled(state) == [(True, False)]
        late, sent = recorded_rules(
            state,
            event(
                "temporary_residence_permit_renewed",
                ljubljana(renewed_on),
                valid_until="2027-05-20",
            ),
            ljubljana("2026-05-23T09:00"),
        )
        assert permits_lapse_settled(late) == [(False, moot)]
        assert moot_for(sent, "S3") == (LAPSE_TOLD if moot else [])

    def test_a_placement_ended_before_the_lapse_recorded_after_it_is_moot(self) -> None:
        """The placement ended on 1 June, before the permit to stay lapsed; recorded on 4 June,
        after the lapse notice: the notice was moot, the four it told are told so (one
        between the notice and the escalation makes only the escalation moot, above)."""
        state = fired_until(in_safe_accommodation(), ljubljana("2026-06-03T00:00"))
        late, sent = recorded_rules(
            state,
            event("safe_accommodation_ended", ljubljana("2026-06-01T12:00")),
            ljubljana("2026-06-04T09:00"),
        )
        assert permits_lapse_settled(late) == [(False, True)]
        assert moot_for(sent, "S3") == LAPSE_TOLD

    def test_a_placement_ended_at_the_lapse_itself_finds_only_the_escalation_moot(self) -> None:
        """Ended at the very instant the lapse was noticed (24:00 of the permit's last day),
        the notice was due; recorded after the escalation, only the escalation is moot, told
        to the provider and the interior ministry whom it told."""
        lapse = ljubljana("2026-06-03T00:00")
        state = fired_until(in_safe_accommodation(), lapse)
        (ob,) = [o for o in state.open_obligations if o.rule == "S3"]
        assert ob.opened_at == lapse and ob.due_at is not None
        state = fired_until(state, ob.due_at)
        late, sent = recorded_rules(
            state, event("safe_accommodation_ended", lapse), ob.due_at + timedelta(days=1)
        )
        assert permits_lapse_settled(late) == [(False, True)]
        assert moot_for(sent, "S3") == ["interior_ministry", "kljuc"]

    @pytest.mark.parametrize("extension_first", [True, False])
    def test_both_permits_restored_in_time_whatever_the_order_recorded(
        self, extension_first: bool
    ) -> None:
        """Both permits lapse: the permit to stay after 2 June, the residence permit after 5
        June, two notices. The extension (2 June) and the renewal (5 June) were each decided
        before their permit lapsed, and both are recorded on 7 June: whichever is recorded
        first, the case ends with the obligation settled as moot and the four told once (the
        facts as now known decide, not the order they arrived in)."""
        state, first, second = both_lapsed_then_restored("2026-06-05T15:00", extension_first)
        assert permits_lapse_settled(state) == [(True, False)]
        state, sent = recorded_rules(state, first, ljubljana("2026-06-07T09:00"))
        assert permits_lapse_settled(state) == [(True, False)] and moot_for(sent, "S3") == []
        state, sent = recorded_rules(state, second, ljubljana("2026-06-07T10:00"))
        assert permits_lapse_settled(state) == [(False, True)]
        assert moot_for(sent, "S3") == LAPSE_TOLD

    @pytest.mark.parametrize("extension_first", [True, False])
    def test_a_residence_permit_renewed_after_its_lapse_is_a_real_gap(
        self, extension_first: bool
    ) -> None:
        """As above, but the residence permit was renewed on 6 June, after it lapsed: the gap
        was real, so in either order the obligation is settled without a moot notice."""
        state, first, second = both_lapsed_then_restored("2026-06-06T09:00", extension_first)
        state, _ = recorded_rules(state, first, ljubljana("2026-06-07T09:00"))
        state, sent = recorded_rules(state, second, ljubljana("2026-06-07T10:00"))
        assert permits_lapse_settled(state) == [(False, False)]
        assert moot_for(sent, "S3") == []

    @pytest.mark.parametrize(
        ("type_", "fields"),
        [
            ("temporary_residence_permit_renewed", {"valid_until": "2027-05-20"}),
            ("safe_accommodation_ended", {}),
        ],
    )
    def test_a_late_wake_does_not_move_the_lapse(self, type_: str, fields: dict[str, Any]) -> None:
        """The residence permit ran to 20 May and lapsed at its 24:00; the case woke only on
        23 May. A renewal, or the placement's end, on 21 May came after the lapse: the notice
        was right, not moot, however late the case noticed it."""
        state = in_safe_accommodation(residence_until="2026-05-20")
        state, _ = fire_due(state, ljubljana("2026-05-23T08:00"))
        (ob,) = [o for o in state.open_obligations if o.rule == "S3"]
        assert ob.lapsed_at == ljubljana("2026-05-21T00:00")
        assert ob.opened_at == ljubljana("2026-05-23T08:00")
        late, sent = recorded_rules(
            state,
            event(type_, ljubljana("2026-05-21T09:00"), **fields),
            ljubljana("2026-05-23T09:00"),
        )
        assert permits_lapse_settled(late) == [(False, False)]
        assert moot_for(sent, "S3") == []

    def test_the_moot_notices_say_what_happened_and_when_it_was_recorded(self) -> None:
        """The notice names the obligation, the day of the lapse, the event and its day, and
        the day it was recorded; the timeline gets an entry saying so."""
        state = fired_until(in_safe_accommodation(), ljubljana("2026-06-03T00:00"))
        decision = decide(
            state,
            event("permit_to_stay_extended", ljubljana("2026-06-02T15:00"), months=3),
            ljubljana("2026-06-05T09:00"),
            case_id=CASE_ID,
        )
        assert isinstance(decision, Accepted)
        texts = {
            n.rule: n.action
            for n in decision.effects.notifications
            if n.reason == "escalation_moot"
        }
        assert texts == {
            # Neither the event nor its day: the police and the migration authority, told
            # too, read no safe accommodation (R6).
            "S3": "The safe accommodation permits notice of 2026-06-03 (S3) is moot: what "
            "settled it happened before it and was recorded only on 2026-06-05. Nothing more "
            "is needed for it.",
            "K7": "The permit to stay's expiry notice of 2026-06-03 (K7) is moot: its extension, "
            "decided on 2026-06-02, was recorded only on 2026-06-05. The permit to stay runs "
            "until 2026-09-02.",
        }
        assert any(
            t.what == "permit_to_stay expiry notice moot: extended on 2026-06-02"
            for t in decision.state.timeline
        )

    def test_an_extension_recorded_after_the_expiry_outside_safe_accommodation(self) -> None:
        """K7 alone: in crisis accommodation, the permit to stay reached its last day (2 June)
        and its expiry told the police and the lead NGO that no extension is possible; the
        extension decided that day is recorded on 5 June: that notice is moot, the two are told
        so (no S3 obligation: none was opened outside safe accommodation). Recorded on 2 June,
        the extension tells nobody anything is moot."""
        in_crisis = accept(
            accept(interviewed(TCN_ILLEGAL), event("crisis_accommodation_placed", T0 + days(1))),
            event(
                "permit_to_stay_granted",
                T0 + days(1),
                valid_from="2026-03-03",
                basis="ex_officio",
            ),
        )
        lapsed = fired_until(in_crisis, ljubljana("2026-06-03T00:00"))
        extension = event("permit_to_stay_extended", ljubljana("2026-06-02T15:00"), months=3)
        late, sent = recorded_rules(lapsed, extension, ljubljana("2026-06-05T09:00"))
        assert moot_for(sent, "K7") == sorted(["police", late.lead_ngo.value])
        assert moot_for(sent, "S3") == []
        _, sent = recorded_rules(in_crisis, extension, ljubljana("2026-06-02T16:00"))
        assert moot_for(sent, "K7") == []
        before = lapsed.model_copy(update={"permits_restored_moot": False})
        _, sent = recorded_rules(before, extension, ljubljana("2026-06-05T09:00"))
        assert moot_for(sent, "K7") == []
        # A case recorded before seed-residence-rules: its expiry asked for the extension
        # (none was refused after it), so that notice was right, not moot.
        old_k7 = fired_until(
            in_crisis.model_copy(update={"seed_residence_rules": False}),
            ljubljana("2026-06-03T00:00"),
        )
        _, sent = recorded_rules(old_k7, extension, ljubljana("2026-06-05T09:00"))
        assert moot_for(sent, "K7") == []

    def test_an_extension_recorded_after_the_extended_permit_ran_out_too(self) -> None:
        """The permit to stay ran to 2 June; extended by one month on 2 June (to 2 July), the
        extension is recorded only on 10 July. The lapse of 3 June was moot: settled so, the
        four told. The extended permit's own lapse, at 24:00 on 2 July, is real: the case
        notices it when it wakes, with an obligation of its own."""
        state = fired_until(in_safe_accommodation(), ljubljana("2026-06-03T00:00"))
        extension = event("permit_to_stay_extended", ljubljana("2026-06-02T15:00"), months=1)
        late, sent = recorded_rules(state, extension, ljubljana("2026-07-10T09:00"))
        assert permits_lapse_settled(late) == [(False, True)]
        assert moot_for(sent, "S3") == LAPSE_TOLD
        woke = fired_until(late, ljubljana("2026-07-10T09:00"))
        kind = ObligationKind.SAFE_ACCOMMODATION_PERMITS
        (again,) = [o for o in woke.open_obligations if o.kind is kind]
        assert again.lapsed_at == ljubljana("2026-07-03T00:00")
        assert "expired on 2026-07-02" in again.action

    def test_old_histories_replay_as_they_were(self) -> None:
        """Replay: a case recorded before the patch keeps the S3 obligation open after a late
        extension, and settles it after a late renewal without telling anyone."""
        before = in_safe_accommodation(residence_until="2027-03-03").model_copy(
            update={"permits_restored_moot": False}
        )
        state = fired_until(before, ljubljana("2026-06-03T00:00"))
        late, sent = recorded_rules(
            state,
            event("permit_to_stay_extended", ljubljana("2026-06-02T15:00"), months=3),
            ljubljana("2026-06-05T09:00"),
        )
        assert permits_lapse_settled(late) == [(True, False)]
        assert moot_for(sent, "S3") == []
        lapsed = fired_until(
            in_safe_accommodation(residence_until="2026-05-20").model_copy(
                update={"permits_restored_moot": False}
            ),
            ljubljana("2026-05-21T00:00"),
        )
        late, sent = recorded_rules(
            lapsed,
            event(
                "temporary_residence_permit_renewed",
                ljubljana("2026-05-20T15:00"),
                valid_until="2027-05-20",
            ),
            ljubljana("2026-05-23T09:00"),
        )
        assert permits_lapse_settled(late) == [(False, False)]
        assert moot_for(sent, "S3") == []
