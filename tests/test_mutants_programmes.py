"""Tests that kill mutants of the programme registers, pathway/domain/programmes.py (issue 13;
docs/mutation.md): P1, the asylum-procedure interviews (PATS), and X1, support for persons in
prostitution and leaving it. Pure: ``decide_programme`` on a register's state, no Temporal
server. Each test names the rule it keeps and asserts what the rule requires.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from pathway.domain.organisations import Organisation as Org
from pathway.domain.programmes import (
    CounsellingSession,
    ExitCounsellingRecorded,
    ExitProgrammeEnrolled,
    ExitProgrammeLeft,
    FormerEnrolment,
    PatsInterviewRecorded,
    Programme,
    ProgrammeEvent,
    ProgrammeResult,
    ProgrammeState,
    _notify,
    decide_programme,
    register_id,
)
from pathway.domain.rules import RULE_ACCESS, RULE_IDEMPOTENCY, RULE_TIME, Rejection

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
EARLIER = NOW - timedelta(days=30)


def _register(programme: Programme) -> ProgrammeState:
    return ProgrammeState(register_id=register_id(programme), programme=programme)


def _interview(
    event_id: str = "iv-1",
    *,
    organisation: Org = Org.UOIM,
    minor: bool = False,
    age_appropriate: bool = True,
    suspicion: bool = False,
    at: datetime = EARLIER,
) -> PatsInterviewRecorded:
    return PatsInterviewRecorded(
        event_id=event_id,
        organisation=organisation,
        occurred_at=at,
        language="ar",
        citizenships=["SY"],
        minor=minor,
        age_appropriate=age_appropriate,
        suspicion=suspicion,
    )


def _enrol(
    event_id: str = "en-1", ref: str = "p-1", at: datetime = EARLIER
) -> ExitProgrammeEnrolled:
    return ExitProgrammeEnrolled(
        event_id=event_id,
        organisation=Org.KLJUC,
        occurred_at=at,
        participant_ref=ref,
        citizenships=["NG"],
        minor=False,
    )


def _session(
    event_id: str, kind: Literal["individual", "group"], ref: str = "p-1", at: datetime = EARLIER
) -> ExitCounsellingRecorded:
    return ExitCounsellingRecorded(
        event_id=event_id, organisation=Org.KLJUC, occurred_at=at, participant_ref=ref, session=kind
    )


def _left(event_id: str = "lv-1", ref: str = "p-1", at: datetime = EARLIER) -> ExitProgrammeLeft:
    return ExitProgrammeLeft(
        event_id=event_id, organisation=Org.KLJUC, occurred_at=at, participant_ref=ref
    )


def _accept(
    state: ProgrammeState, event: ProgrammeEvent, now: datetime = NOW
) -> tuple[ProgrammeState, ProgrammeResult]:
    decided = decide_programme(state, event, now)
    assert not isinstance(decided, Rejection), decided
    return decided


def _refuse(state: ProgrammeState, event: ProgrammeEvent, now: datetime = NOW) -> Rejection:
    decided = decide_programme(state, event, now)
    assert isinstance(decided, Rejection), decided
    return decided


def _run(programme: Programme, *events: ProgrammeEvent) -> ProgrammeState:
    state = _register(programme)
    for event in events:
        state, _ = _accept(state, event)
    return state


# -- IDEMPOTENCY: an event recorded once, whatever is sent again --------------------------------


def test_a_new_event_is_recorded_and_a_repeat_is_answered_as_a_duplicate() -> None:
    """IDEMPOTENCY: the first delivery of an event is recorded (``duplicate`` False, the
    register's counts after it); the same event again changes nothing and is answered as a
    duplicate with the same counts, so a retried delivery is harmless."""
    state = _register(Programme.PATS)
    first, result = _accept(state, _interview("iv-1"))
    assert result == ProgrammeResult(
        register_id="programme-pats", event_id="iv-1", duplicate=False, interviews=1, participants=0
    )
    assert first.processed == {"iv-1": "pats_interview_recorded"}

    again, repeat = _accept(first, _interview("iv-1"))
    assert again is first
    assert len(again.interviews) == 1
    assert repeat == ProgrammeResult(
        register_id="programme-pats", event_id="iv-1", duplicate=True, interviews=1, participants=0
    )


def test_an_event_id_used_for_another_event_is_refused() -> None:
    """IDEMPOTENCY: an ``event_id`` already recorded for one type of event is refused for
    another, at the field ``event_id``, saying it was already used; the register is unchanged."""
    state = _run(Programme.PROSTITUTION_EXIT, _enrol("x-1"))
    refusal = _refuse(state, _session("x-1", "individual"))
    assert refusal.rule == RULE_IDEMPOTENCY
    assert refusal.field == "event_id"
    assert "already used" in refusal.reason
    assert state.participants["p-1"].individual_sessions == 0


def test_deciding_leaves_the_register_given_as_it_was() -> None:
    """``decide_programme`` is pure (its docstring): the state passed in is not modified, so a
    refused or replayed event cannot leave half an entry behind."""
    state = _run(Programme.PROSTITUTION_EXIT, _enrol())
    before = state.model_dump()
    new, _ = _accept(state, _session("s-1", "individual"))
    assert new.participants["p-1"].individual_sessions == 1
    assert state.model_dump() == before
    pats = _register(Programme.PATS)
    _accept(pats, _interview(suspicion=True))
    assert pats.interviews == [] and pats.pending_notifications == []
    assert pats.notifications_sent == 0


# -- ACCESS, TIME: the checks before each programme's own ---------------------------------------


def test_a_sender_outside_the_programme_is_refused_at_organisation() -> None:
    """ACCESS: only Ključ records X1 events (SPEC: Ključ runs prostitution-exit support); another
    organisation is refused at ``organisation``, naming itself and the event type."""
    event = _enrol().model_copy(update={"organisation": Org.UOIM})
    refusal = _refuse(_register(Programme.PROSTITUTION_EXIT), event)
    assert refusal.rule == RULE_ACCESS
    assert refusal.field == "organisation"
    assert Org.UOIM.value in refusal.reason
    assert "exit_programme_enrolled" in refusal.reason


def test_an_event_for_another_register_is_refused_at_type() -> None:
    """ACCESS: one register per programme; an X1 event sent to the PATS register is refused at
    ``type``, naming the register it belongs to."""
    refusal = _refuse(_register(Programme.PATS), _enrol())
    assert refusal.rule == RULE_ACCESS
    assert refusal.field == "type"
    assert "programme-prostitution_exit" in refusal.reason


def test_an_event_more_than_five_minutes_ahead_is_refused() -> None:
    """TIME: an event may lie up to the tolerance (300 s by default) after the register's clock,
    not a moment more; beyond it, refused at ``occurred_at`` as lying in the future."""
    state = _register(Programme.PATS)
    _accept(state, _interview(at=NOW + timedelta(seconds=300)))
    refusal = _refuse(state, _interview("iv-2", at=NOW + timedelta(seconds=300, milliseconds=1)))
    assert refusal == Rejection(RULE_TIME, "occurred_at", refusal.reason)
    assert "future" in refusal.reason


# -- P1: asylum-procedure interviews -------------------------------------------------------------


def test_an_interview_with_a_child_must_be_adapted_to_age_and_an_adults_need_not() -> None:
    """P1: "In the case of children and adolescents, information is provided in a way that is
    appropriate and adapted to their age and stage of development." A child's interview not
    so adapted is refused at ``age_appropriate``; an adult's is recorded either way."""
    state = _register(Programme.PATS)
    refusal = _refuse(state, _interview(minor=True, age_appropriate=False))
    assert (refusal.rule, refusal.field) == ("P1", "age_appropriate")
    assert "children" in refusal.reason and "age" in refusal.reason

    adult, result = _accept(state, _interview(minor=False, age_appropriate=False))
    assert result.interviews == 1
    assert adult.interviews[0].age_appropriate is False


def test_each_suspicion_tells_uoim_in_its_own_numbered_notification() -> None:
    """P1: "In the event of suspicion that a person is a potential victim of trafficking in
    human beings, the UOIM informs the competent institutions." Each interview raising
    suspicion issues one notification to UOIM under rule P1, numbered 1, 2, … in the register
    with a key of its own; an interview without suspicion issues none."""
    state = _run(
        Programme.PATS,
        _interview("iv-1", suspicion=True),
        _interview("iv-2", suspicion=False),
        _interview("iv-3", organisation=Org.KLJUC, suspicion=True),
    )
    sent = state.pending_notifications
    assert [n.sequence for n in sent] == [1, 2]
    assert state.notifications_sent == 2
    assert [n.idempotency_key for n in sent] == [
        "programme-pats:pats_suspicion:1",
        "programme-pats:pats_suspicion:2",
    ]
    for n in sent:
        assert (n.recipient, n.rule, n.reason) == (Org.UOIM, "P1", "pats_suspicion")
        assert n.case_id == "programme-pats"
        assert n.issued_at == NOW
        assert "inform the competent institutions (P1)" in n.action
        assert "a case is opened (R1)" in n.action
        assert "suspicion of trafficking" in n.action


def test_the_exit_programme_never_notifies_the_police_and_nothing_else_is_barred() -> None:
    """X1: support for persons "not (yet) ready to cooperate with law enforcement authorities":
    the exit register's guard refuses a notification to the police, and only that one; the
    PATS register may inform the police as a competent institution (P1)."""
    exit_register = _register(Programme.PROSTITUTION_EXIT)
    with pytest.raises(AssertionError, match="never notifies the police"):
        _notify(exit_register, NOW, Org.POLICE, "x", rule="X1", action="a")
    assert exit_register.pending_notifications == []

    _notify(exit_register, NOW, Org.KLJUC, "x", rule="X1", action="a")
    pats = _register(Programme.PATS)
    _notify(pats, NOW, Org.POLICE, "pats_suspicion", rule="P1", action="a")
    assert [n.recipient for n in exit_register.pending_notifications] == [Org.KLJUC]
    assert [n.recipient for n in pats.pending_notifications] == [Org.POLICE]


# -- X1: enrolment, counselling and leaving ------------------------------------------------------


def test_a_participant_enrols_once_at_a_time_and_again_after_leaving() -> None:
    """X1: a participant already enrolled is refused a second enrolment at ``participant_ref``;
    after leaving, the same pseudonym enrols again, and the earlier enrolment is kept under it
    (left, with its sessions) for the yearly statistics."""
    enrolled = _run(Programme.PROSTITUTION_EXIT, _enrol("en-1"), _session("s-1", "group"))
    refusal = _refuse(enrolled, _enrol("en-2"))
    assert (refusal.rule, refusal.field) == ("X1", "participant_ref")
    assert "already enrolled" in refusal.reason

    left_at = EARLIER + timedelta(days=3)
    again, result = _accept(
        _run(
            Programme.PROSTITUTION_EXIT,
            _enrol("en-1"),
            _session("s-1", "group"),
            _left("lv-1", at=left_at),
        ),
        _enrol("en-2", at=EARLIER + timedelta(days=5)),
    )
    assert result.participants == 1
    assert again.participants["p-1"].enrolled_at == EARLIER + timedelta(days=5)
    assert again.participants["p-1"].left_at is None
    assert again.participants["p-1"].group_sessions == 0
    [former] = again.former_enrolments
    assert isinstance(former, FormerEnrolment)
    assert former.participant_ref == "p-1"
    assert former.enrolment.enrolled_at == EARLIER
    assert former.enrolment.left_at == left_at
    assert former.enrolment.group_sessions == 1


def test_a_first_enrolment_keeps_no_former_one() -> None:
    """X1: a pseudonym enrolling for the first time has no earlier enrolment to keep, and other
    participants' enrolments do not count as its own."""
    state = _run(Programme.PROSTITUTION_EXIT, _enrol("en-1", "p-1"), _enrol("en-2", "p-2"))
    assert state.former_enrolments == []
    assert sorted(state.participants) == ["p-1", "p-2"]


def test_counselling_counts_each_session_by_kind_and_dates_it() -> None:
    """X1: "continuous individual and group counselling": each session adds one to its kind's
    count and is dated in ``sessions`` (issue 15: sessions per year)."""
    kinds: list[Literal["individual", "group"]] = [
        "individual",
        "group",
        "individual",
        "group",
        "individual",
    ]
    dated = [(kind, EARLIER + timedelta(days=d)) for d, kind in enumerate(kinds, start=1)]
    state = _run(
        Programme.PROSTITUTION_EXIT,
        _enrol(),
        *(_session(f"s-{day.day}", kind, at=day) for kind, day in dated),
    )
    participant = state.participants["p-1"]
    assert participant.individual_sessions == 3
    assert participant.group_sessions == 2
    assert participant.sessions == [CounsellingSession(at=day, session=kind) for kind, day in dated]


def test_counselling_or_leaving_needs_a_current_enrolment() -> None:
    """X1: counselling and leaving are recorded for an enrolled participant only: never
    enrolled, or already left, refused at ``participant_ref`` as not enrolled."""
    never = _register(Programme.PROSTITUTION_EXIT)
    gone = _run(Programme.PROSTITUTION_EXIT, _enrol(), _left())
    for state, event in (
        (never, _session("s-1", "individual")),
        (never, _left("lv-2")),
        (gone, _session("s-1", "group")),
        (gone, _left("lv-2")),
    ):
        refusal = _refuse(state, event)
        assert (refusal.rule, refusal.field) == ("X1", "participant_ref")
        assert "not enrolled" in refusal.reason
