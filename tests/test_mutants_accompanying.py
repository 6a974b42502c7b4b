"""Tests that kill mutants of the accompanying children's rules,
pathway/domain/rules/accompanying.py (issue 13; docs/mutation.md): a child placed with the
victim (K1, S1), the child's own linked case (R1), the start settled and an erased linked case
forgotten (issue 11 item 6). Pure: ``decide`` and the module's functions on a case's state, no
Temporal server. Each test names the rule it keeps and asserts what the rule requires.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from pathway.domain.calendar import local_date
from pathway.domain.events import EVENT_ID_MAX_LENGTH, AccompanyingChildIdentified, CaseEvent
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import AgeEstimate, Gender, PersonFacts, ResidenceStatus
from pathway.domain.rules import (
    Accepted,
    Rejection,
    decide,
    forget_linked_case,
    settle_case_start,
)
from pathway.domain.rules.accompanying import own_case_event_id
from pathway.domain.rules.core import RULE_CASE
from pathway.domain.state import CaseState, TimelineEntry
from tests.factories import CASE_ID, EU_ADULT, T0, accept, days, event, opened, reject

SECRET = "1f" * 32
#: The rule the case's own timer and system entries are made by (TimelineEntry.who).
PATHWAY = "pathway"
#: When the child is recorded, and when identified, unless a test says otherwise.
RECORDED_AT, IDENTIFIED_AT = T0 + days(2), T0 + days(5)


def _placed(placement: str = "crisis_accommodation") -> CaseState:
    """A case (with a link secret) whose victim is in ``placement``."""
    decision = decide(
        None, event("identified", T0, person=EU_ADULT), T0, case_id=CASE_ID, link_secret=SECRET
    )
    assert isinstance(decision, Accepted)
    state = accept(decision.state, event("ngo_interview_held", T0 + days(0.1), language="de"))
    # S1: safe accommodation straight from identification says why.
    why = {"reason": "no crisis place free"} if placement == "safe_accommodation" else {}
    return accept(state, event(f"{placement}_placed", T0 + days(1), **why))


def _recorded(
    state: CaseState, child_ref: str = "child-1", at: datetime = RECORDED_AT, **facts: Any
) -> CaseState:
    defaults: dict[str, Any] = {
        "birth_date": "2016-05-05",
        "gender": "female",
        "citizenships": ["DE"],
        "placed_with": "crisis_accommodation",
    }
    return accept(
        state,
        event("accompanying_child_recorded", at, child_ref=child_ref, **defaults | facts),
    )


def _identify(child_ref: str = "child-1", at: datetime = IDENTIFIED_AT, **fields: Any) -> CaseEvent:
    return event(
        "accompanying_child_identified",
        at,
        child_ref=child_ref,
        residence_status=fields.pop("residence_status", "eu_citizen"),
        **fields,
    )


class TestRecordingAChild:
    """K1: crisis accommodation is for “identified victims, both adults and children”; S1: safe
    accommodation. A child is recorded with the victim's running placement, once."""

    @pytest.mark.parametrize(
        ("placed_in", "placed_with", "rule"),
        [
            (None, "crisis_accommodation", "K1"),
            (None, "safe_accommodation", "S1"),
            ("safe_accommodation", "crisis_accommodation", "K1"),
            ("crisis_accommodation", "safe_accommodation", "S1"),
        ],
    )
    def test_a_child_without_that_placement_is_refused_under_its_rule(
        self, placed_in: str | None, placed_with: str, rule: str
    ) -> None:
        """K1 for crisis accommodation, S1 for safe accommodation: the refusal cites the rule
        of the placement the child was said to share, at ``placed_with``, naming it."""
        state = opened(EU_ADULT) if placed_in is None else _placed(placed_in)
        r = reject(
            state,
            event(
                "accompanying_child_recorded",
                T0 + days(2),
                child_ref="child-1",
                citizenships=["DE"],
                placed_with=placed_with,
            ),
        )
        assert (r.rule, r.field) == (rule, "placed_with")
        assert placed_with in r.reason

    def test_a_child_recorded_again_is_refused_saying_so(self) -> None:
        """CASE: an accompanying child is recorded once; the refusal says it is recorded
        already, at ``child_ref``."""
        state = _recorded(_placed())
        r = reject(
            state,
            event(
                "accompanying_child_recorded",
                T0 + days(3),
                child_ref="child-1",
                citizenships=["DE"],
                placed_with="crisis_accommodation",
            ),
        )
        assert (r.rule, r.field) == (RULE_CASE, "child_ref")
        assert "already recorded" in r.reason


class TestTheChildsOwnCase:
    """R1: “assistance and support as soon as the authorised authorities have reasonable grounds
    to suspect that the person has been a victim of trafficking in human beings”: a child
    identified in their own right gets their own case, opened with the child's facts."""

    def test_the_own_case_opens_with_the_childs_recorded_facts_and_this_events(self) -> None:
        """R1: the child's identification carries the facts recorded for the child (age
        estimate, gender, citizenships) and those this event states (status, languages,
        unaccompanied), and who identified the child and why."""
        estimate = {"years": 9, "as_of": "2026-03-01", "source": "paediatrician"}
        state = _recorded(
            _placed(), birth_date=None, age_estimate=estimate, gender="male", citizenships=["AT"]
        )
        state = accept(
            state,
            _identify(
                organisation="social_work_centre",
                actor="officer-7",
                reason="Told the social worker she was sold with her mother",
                languages=["de", "tr"],
                unaccompanied=True,
            ),
        )
        (start,) = state.pending_case_starts
        identified = start.identified
        assert identified.person == PersonFacts(
            age_estimate=AgeEstimate.model_validate(estimate),
            gender=Gender.MALE,
            citizenships=["AT"],
            residence_status=ResidenceStatus.EU_CITIZEN,
            languages=["de", "tr"],
            unaccompanied=True,
        )
        assert identified.organisation is Org.SOCIAL_WORK_CENTRE
        assert identified.actor == "officer-7"
        assert identified.reason == "Told the social worker she was sold with her mother"

    def test_an_unknown_child_is_refused_saying_so(self) -> None:
        """R1: only a recorded accompanying child is identified from the parent's case; the
        refusal says no such child is recorded."""
        r = reject(_recorded(_placed()), _identify("child-9"))
        assert (r.rule, r.field) == ("R1", "child_ref")
        assert "no accompanying child" in r.reason

    def test_a_child_whose_case_is_open_is_refused_saying_so(self) -> None:
        """R1: the child's own case opens once; a second identification is refused at
        ``child_ref``, saying the case is open already."""
        state = accept(_recorded(_placed()), _identify())
        r = reject(state, _identify(at=T0 + days(6)))
        assert (r.rule, r.field) == ("R1", "child_ref")
        assert "already open" in r.reason

    def test_identified_on_the_day_of_the_age_estimate(self) -> None:
        """R1: an estimate made on a day holds on that day: the child is identified on it (and
        not the day before, tests/test_law_children.py)."""
        as_of = local_date(T0 + days(5))
        state = _recorded(
            _placed(),
            birth_date=None,
            at=T0 + days(5),
            age_estimate={"years": 9, "as_of": as_of.isoformat(), "source": "paediatrician"},
        )
        accept(state, _identify(at=T0 + days(5)))


class TestFactsThatCannotOpenTheCase:
    """R1 with R6: the child's case opens only on facts that hold together; a fault is refused
    under R1, never a crash, and names no value recorded for the child."""

    def test_a_fault_in_the_recorded_facts_is_named_by_the_childs_reference(self) -> None:
        """R1: facts recorded for the child that the person's facts refuse (here a birth date
        kept from before the service's range was checked) are at fault at ``child_ref``; the
        reason says the recorded facts are at fault and names none of them."""
        state = _recorded(_placed())
        kept = state.model_copy(deep=True)
        kept.accompanying_children[0].birth_date = date(1850, 1, 1)
        r = reject(kept, _identify())
        assert (r.rule, r.field) == ("R1", "child_ref")
        assert "recorded facts" in r.reason
        assert "1850" not in r.reason

    def test_a_status_the_recorded_citizenship_contradicts_says_so(self) -> None:
        """R1: a status the child's recorded citizenship contradicts is refused at
        ``residence_status``, saying it disagrees with the recorded facts."""
        r = reject(_recorded(_placed()), _identify(residence_status="third_country_illegal"))
        assert (r.rule, r.field) == ("R1", "residence_status")
        assert "recorded facts" in r.reason

    def test_a_fault_in_a_stated_field_is_named_by_its_path_with_the_validations_reason(
        self,
    ) -> None:
        """R1: a field this event states that the person's facts refuse (the event's own check
        and the person's can drift apart; the event here skipped its own) is refused at that
        field's path with the validation's reason, never a crash."""
        with pytest.raises(ValidationError) as person:
            PersonFacts(
                citizenships=["DE"],
                residence_status=ResidenceStatus.EU_CITIZEN,
                languages=["de", "German"],
            )
        unchecked = AccompanyingChildIdentified.model_construct(
            event_id="ev-unchecked",
            organisation=Org.POLICE,
            occurred_at=T0 + days(5),
            child_ref="child-1",
            residence_status=ResidenceStatus.EU_CITIZEN,
            languages=["de", "German"],
        )
        decision = decide(_recorded(_placed()), unchecked, T0 + days(5), case_id=CASE_ID)
        assert isinstance(decision, Rejection)
        assert (decision.rule, decision.field) == ("R1", "languages.1")
        assert decision.reason == person.value.errors()[0]["msg"]

    @pytest.mark.parametrize("length", [1, 119, 120, 128])
    def test_every_valid_event_id_opens_the_own_case(self, length: int) -> None:
        """R1: the own case's identification is this event's ID with ``/own-case`` while that
        fits in an ``event_id`` (128 characters); a longer one takes the ID's SHA-256 in its
        place (review of issue 13: an ID of 120 to 128 characters was refused, so a sender
        with long idempotency keys could not identify an accompanying child). Either way the
        identification is valid and the same ID always gives the same one."""
        event_id = "a" * length
        state = accept(_recorded(_placed()), _identify(event_id=event_id))
        (start,) = state.pending_case_starts
        own = start.identified.event_id
        assert own == own_case_event_id(event_id)
        assert len(own) <= EVENT_ID_MAX_LENGTH
        if length <= EVENT_ID_MAX_LENGTH - len("/own-case"):
            assert own == f"{event_id}/own-case"
        else:
            assert own == hashlib.sha256(event_id.encode()).hexdigest() + "/own-case"
        assert own_case_event_id("b" * length) != own


class TestTheStartSettled:
    """R1 (issue 11 item 6): the workflow reports each linked case started."""

    def test_settling_one_start_leaves_the_other_pending_and_says_so(self) -> None:
        """R1: settling one child's start removes only that one; the timeline says a linked
        case opened, by ``pathway`` under R1, without its ID."""
        state = _recorded(_recorded(_placed()), "child-2")
        state = accept(accept(state, _identify("child-1")), _identify("child-2"))
        first, second = state.pending_case_starts
        now = T0 + days(6)
        settle_case_start(state, first.case_id, now)
        assert [c.case_id for c in state.pending_case_starts] == [second.case_id]
        entry = state.timeline[-1]
        assert (entry.who, entry.rule, entry.at) == (PATHWAY, "R1", now)
        assert first.case_id not in entry.what


class TestForgettingAnErasedLinkedCase:
    """Issue 11 item 6: a case forgets an erased linked case wherever it kept it."""

    @staticmethod
    def _parent() -> tuple[CaseState, str]:
        state = accept(_recorded(_placed()), _identify())
        return state, state.linked_cases[0]

    @pytest.mark.parametrize("trace", ["linked_cases", "own_case_id", "pending", "timeline"])
    def test_any_one_trace_is_enough_to_forget(self, trace: str) -> None:
        """Issue 11 item 6: a state that keeps the erased case's ID in only one place (the
        list of linked cases, the child's own case, a pending start, a timeline entry) is
        rewritten without it, and the timeline says so, by ``pathway``."""
        state, child_id = self._parent()
        only = state.model_copy(deep=True)
        if trace != "linked_cases":
            only.linked_cases = []
        if trace != "own_case_id":
            only.accompanying_children[0].own_case_id = None
        if trace != "pending":
            only.pending_case_starts = []
        if trace == "timeline":
            only.timeline.append(
                TimelineEntry(at=T0, recorded_at=T0, who=PATHWAY, what=f"{child_id} opened")
            )
        assert child_id in only.model_dump_json()
        now = T0 + days(9)
        forgotten = forget_linked_case(only, child_id, now)
        assert forgotten is not None
        assert child_id not in forgotten.model_dump_json()
        last = forgotten.timeline[-1]
        assert (last.who, last.at) == (PATHWAY, now)
        assert "erased" in last.what
