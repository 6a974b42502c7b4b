"""Rejected events noted in the case (issue 17 item 3), without Temporal: the bounded list of
rejection entries (:func:`pathway.domain.rules.note_rejection`) and who reads it (READ_MATRIX
``rejections``, :func:`pathway.access.policy.minimised`).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from pathway.access.policy import case_view, minimised
from pathway.codec_server.views import PLACEHOLDER, filtered, view_of
from pathway.domain.events import CaseEvent
from pathway.domain.organisations import Organisation
from pathway.domain.rules import Rejection, RejectionNote, is_noted, note_rejection
from pathway.domain.state import REJECTIONS_KEPT, CaseState, Phase
from tests.factories import T0, TCN_ILLEGAL, event, opened, reject

LATER = T0 + timedelta(hours=1)
#: Free text and identifiers a rejected event carries: none may reach the case.
CANARIES = ("CANARY-REJECTED-ACTOR", "CANARY-REJECTED-REASON")


def note_of(ev: CaseEvent, rejection: Rejection, sender: str | None = None) -> RejectionNote:
    """The note the client sends after ``rejection`` of ``ev``."""
    return RejectionNote(
        event_id=ev.event_id,
        event_type=ev.type,
        organisation=ev.organisation,
        rule=rejection.rule,
        field=rejection.field,
        reason=rejection.reason,
        sender=sender,
    )


def noted(state: CaseState, note: RejectionNote, minutes: int = 0) -> CaseState:
    result = note_rejection(state, note, LATER + timedelta(minutes=minutes))
    assert isinstance(result, CaseState), result
    return result


def police_before_interview() -> tuple[CaseState, CaseEvent, Rejection]:
    """R2: the police gather information before the NGO's interview (rejected)."""
    state = opened(dict(TCN_ILLEGAL))
    ev = event(
        "police_information_gathering_started",
        LATER,
        event_id="pol-early",
        actor=CANARIES[0],
        reason=CANARIES[1],
    )
    return state, ev, reject(state, ev)


class TestNoted:
    def test_metadata_only(self) -> None:
        """The entry holds the event's ID and type, its organisation, the rule, field and
        reason and when it was noted; none of the event's values (its actor, its reason)."""
        state, ev, rejection = police_before_interview()
        assert rejection.rule == "R2"
        after = noted(state, note_of(ev, rejection, "police"))
        [entry] = after.rejections
        assert (entry.event_id, entry.event_type, entry.organisation.value) == (
            "pol-early",
            "police_information_gathering_started",
            "police",
        )
        assert (entry.rule, entry.field, entry.reason) == (
            rejection.rule,
            rejection.field,
            rejection.reason,
        )
        assert entry.at == LATER
        dumped = after.model_dump_json()
        assert not any(canary in dumped for canary in CANARIES)
        # Nothing else of the case changed, and the state given is untouched.
        assert after.model_copy(update={"rejections": []}) == state
        assert state.rejections == []

    def test_the_latest_are_kept(self) -> None:
        """A flood of rejections keeps the latest REJECTIONS_KEPT, oldest dropped."""
        state, ev, rejection = police_before_interview()
        for n in range(REJECTIONS_KEPT + 10):
            note = note_of(ev, rejection).model_copy(update={"event_id": f"pol-{n}"})
            state = noted(state, note, minutes=n)
        assert len(state.rejections) == REJECTIONS_KEPT
        assert [r.event_id for r in state.rejections] == [
            f"pol-{n}" for n in range(10, REJECTIONS_KEPT + 10)
        ]

    def test_one_organisations_flood_keeps_anothers_rejections(self) -> None:
        """The cap is per organisation: a flood of one organisation's rejected events keeps its
        own latest REJECTIONS_KEPT and leaves every other organisation's rejections in the case
        (review of issue 17: with one shared cap, a member could push out the record of its own
        or another's refused event)."""
        state, ev, rejection = police_before_interview()
        state = noted(state, note_of(ev, rejection))
        uoim = note_of(ev, rejection).model_copy(update={"organisation": Organisation.UOIM})
        for n in range(REJECTIONS_KEPT * 3):
            state = noted(state, uoim.model_copy(update={"event_id": f"uoim-{n}"}), minutes=n)
        police = [r for r in state.rejections if r.organisation.value == "police"]
        assert [r.event_id for r in police] == [ev.event_id]
        assert len(state.rejections) == REJECTIONS_KEPT + 1
        assert is_noted(state, note_of(ev, rejection))
        assert not is_noted(state, uoim.model_copy(update={"event_id": "uoim-0"}))

    def test_a_repeat_is_kept_once(self) -> None:
        """The same rejection of the same event (a double click, a retried note) is kept
        once, as first noted; the same event rejected by another rule is an entry of its
        own."""
        state, ev, rejection = police_before_interview()
        once = noted(state, note_of(ev, rejection))
        assert note_rejection(once, note_of(ev, rejection), LATER + timedelta(hours=1)) is once
        other = note_of(ev, Rejection("TIME", "occurred_at", "the event lies in the future"))
        twice = noted(once, other)
        assert [(r.event_id, r.rule) for r in twice.rejections] == [
            ("pol-early", "R2"),
            ("pol-early", "TIME"),
        ]

    def test_access_refusals_are_never_noted(self) -> None:
        """An ACCESS refusal (no member, an event the role may not send) writes nothing."""
        state, ev, _ = police_before_interview()
        refused = Rejection("ACCESS", "organisation", "the sender is no member of this case")
        assert note_rejection(state, note_of(ev, refused), LATER) == Rejection(
            "ACCESS", "rule", "a refusal of access is never noted in the case"
        )

    def test_a_closed_case_notes_nothing(self) -> None:
        state, ev, rejection = police_before_interview()
        closed = state.model_copy(update={"phase": Phase.CLOSED})
        result = note_rejection(closed, note_of(ev, rejection), LATER)
        assert isinstance(result, Rejection) and result.rule == "CASE"

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("event_type", "no_such_event"),
            ("rule", "R2; drop table"),
            ("field", "Name Surname"),
            ("reason", "x" * 501),
        ],
    )
    def test_the_note_holds_codes(self, name: str, value: str) -> None:
        """The note's type is a case event's, its rule and field are codes, its reason
        bounded: it carries no free text of the sender's."""
        _, ev, rejection = police_before_interview()
        data = note_of(ev, rejection).model_dump() | {name: value}
        with pytest.raises(ValidationError) as err:
            RejectionNote.model_validate(data)
        assert err.value.errors()[0]["loc"] == (name,)


def case_with_rejections() -> CaseState:
    """The police's R2 rejection, and Caritas's K4 rejection of a referral (a health
    detail) and its R3 rejection of rights information in a language not recorded."""
    state, ev, rejection = police_before_interview()
    state = noted(state, note_of(ev, rejection, "police"))
    referral = event("special_need_referral_made", LATER, organisation="caritas", need="pregnancy")
    state = noted(state, note_of(referral, reject(state, referral), "caritas"), 1)
    rights = event(
        "rights_information_given",
        LATER,
        organisation="caritas",
        language="xx",
        subjects=["a_institutions"],
    )
    return noted(state, note_of(rights, reject(state, rights), "caritas"), 2)


class TestWhoReads:
    def test_care_reads_every_rejection(self) -> None:
        state = case_with_rejections()
        for role in ("caritas", "kljuc", "social_work_centre", "guardian", "operator"):
            view = case_view(state, role)
            assert [r["rule"] for r in view["rejections"]] == ["R2", "K4", "R3"], role

    def test_the_sender_reads_its_own(self) -> None:
        """The police read the rejection of their own event (what they were answered), not
        Caritas's; a ministry that sent none reads none, and is not told there are any."""
        state = case_with_rejections()
        police = case_view(state, "police")
        assert [(r["organisation"], r["rule"]) for r in police["rejections"]] == [("police", "R2")]
        assert "rejections" not in case_view(state, "labour_ministry")
        assert "rejections" not in case_view(state, "migration_authority")
        assert case_view(state, "analyst") == {}

    def test_minimised_leaves_out_what_reveals_a_hidden_field(self) -> None:
        """A rejection of an event type, or under a rule, that reveals a field the role may
        not read is no part of its minimised case (R6): the police, who never read special
        needs, keep their own R2 rejection and Caritas's R3 one, not Caritas's K4 one."""
        state = case_with_rejections()
        kept = minimised(state, "police").rejections
        assert [(r.organisation.value, r.rule) for r in kept] == [
            ("police", "R2"),
            ("caritas", "R3"),
        ]
        assert json.dumps(case_view(state, "police")).count("special_need") == 0


class TestDecoded:
    """The ``note_rejection`` update's argument through the codec server (the Temporal web UI):
    the entry it becomes, to exactly those the case's view shows it; the placeholder to
    everyone else (issue 11 item 4, R6)."""

    def notes(self) -> dict[str, dict[str, object]]:
        state, ev, rejection = police_before_interview()
        referral = event(
            "special_need_referral_made", LATER, organisation="caritas", need="pregnancy"
        )
        placed = event("crisis_accommodation_placed", LATER, organisation="caritas")
        late = Rejection("TIME", "occurred_at", "the event lies in the future")
        return {
            # The labour ministry reads the crisis placement it co-finances, not this: care's.
            "caritas TIME": note_of(placed, late, "caritas").model_dump(mode="json"),
            "police R2": note_of(ev, rejection, "police").model_dump(mode="json"),
            "caritas K4": note_of(referral, reject(state, referral), "caritas").model_dump(
                mode="json"
            ),
        }

    @pytest.mark.parametrize(
        ("role", "shown"),
        [
            ("caritas", {"caritas TIME", "police R2", "caritas K4"}),
            ("guardian", {"caritas TIME", "police R2", "caritas K4"}),
            ("police", {"police R2"}),
            ("labour_ministry", set()),
            ("analyst", set()),
        ],
    )
    def test_as_the_case_shows_it(self, role: str, shown: set[str]) -> None:
        for name, data in self.notes().items():
            view = view_of(data, role)
            if name in shown:
                assert view == {k: v for k, v in data.items() if k != "sender"}, (role, name)
            else:
                assert view is None, (role, name)
            assert (filtered(_payload(data), role) == PLACEHOLDER) is (name not in shown)


def _payload(data: dict[str, object]) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(data).encode())
