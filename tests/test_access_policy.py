"""The one access policy (issue 11, docs/rules.md "Access", R6): (organisation or operator, roles
in the case, action, field) -> allow or deny, and the minimisation of existence of what a role may
not read.

The expected answers are written out here from the issue's text, independently of
``pathway/access/policy.py``: the per-field rows come from the hand-written grids of
``tests/test_gateway_access.py`` (who reads which field, who sends which event), the rest from
the table below. A property over random event sequences from random organisations then checks
that no sequence of accepted events lets a non-member in.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway.access.policy import (
    READ_MATRIX,
    Action,
    case_allows,
    case_view,
    decide,
    may_read,
    minimised,
    summary_view,
    timeline_view,
)
from pathway.domain.events import EVENT_TYPES, CaseEvent
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules import Accepted, fire_due, settle_notification
from pathway.domain.rules import decide as apply_event
from pathway.domain.state import CaseState, DeliveryOutcome
from tests.factories import CASE_ID, EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened
from tests.profiles import examples
from tests.test_gateway_access import COLUMNS, READERS, SENDERS
from tests.test_r5_property import PARAMS

# -- the expected answers, written out from the issue --------------------------------------------
#: Exit and closure events (issue 11, item 2).
EXITS = ("case_closed", "departed", "returned_home")
#: Memberships to try: none, each role alone, and every role at once.
MEMBERSHIPS: dict[str, frozenset[MemberRole]] = {
    "none": frozenset(),
    **{role.value: frozenset({role}) for role in MemberRole},
    "all": frozenset(MemberRole),
}
#: A field no matrix names and an event type that does not exist: denied to everyone.
UNKNOWN_FIELD = "no_such_field"

TABLE = """
membership    action             field              expected
none          send               identified         sender
none          *                  *                  no
member        read               (none)             case-reader
member        read               <field>            reader
member        decode             (none)             no
member        decode             <field>            reader
member        list_obligations   (none)             reader-of-obligations
member        send               identified         sender
member        send               <exit>             sender-and-lead-or-k7
member        send               <event>            sender
member        close              <exit>             sender-and-lead-or-k7
member        close              other              no
member        close              (none)             no
member        manage_members     (none)             no
operator      read               (none)             yes
operator      read               <field>            yes
operator      decode             *                  yes
operator      list_obligations   (none)             yes
operator      send               *                  no
operator      close              <exit>             yes
operator      close              (none)             yes
operator      close              other              no
operator      manage_members     (none)             yes
"""
"""How to read it: a non-member may only send an identification (which opens a new case, R1);
members act within the read and send grids; exits only from the lead NGO or, for
``returned_home``, from the police holding the residence-authority role they get by deciding a
permit to stay (K7); a whole payload that cannot be filtered decodes for the operator only; the
operator sends no event but may close a case through its own command."""


def _row(membership: str, action: str, field: str) -> str:
    """The table's answer for the row that matches (first match wins, ``*`` matches all)."""
    for line in TABLE.strip().splitlines()[1:]:
        who, act, what, answer = line.split()
        if who == membership and act in (action, "*") and what in (field, "*"):
            return answer
    raise AssertionError(f"no row for {membership} {action} {field}")


def _field_kind(action: Action, field: str | None) -> str:
    if field is None:
        return "(none)"
    if action is Action.SEND and field == "identified":
        return "identified"
    if action in (Action.SEND, Action.CLOSE) and field in EXITS:
        return "<exit>"
    if action is Action.SEND:
        return "<event>"
    if action is Action.CLOSE:
        return "other"
    return "<field>"


def expected(actor: str, roles: frozenset[MemberRole], action: Action, field: str | None) -> bool:
    membership = "operator" if actor == "operator" else "member" if roles else "none"
    kind = _field_kind(action, field)
    answer = _row(membership, action.value, kind)
    if field == UNKNOWN_FIELD:
        return False
    sender = field in SENDERS and actor in SENDERS[field]
    k7 = actor == "police" and MemberRole.RESIDENCE_AUTHORITY in roles and field == "returned_home"
    return {
        "no": False,
        "yes": True,
        "sender": sender,
        "case-reader": actor != "analyst",
        "reader": field in READERS and actor in READERS[field],
        "reader-of-obligations": actor in READERS["obligations"],
        "sender-and-lead-or-k7": sender and (MemberRole.LEAD_NGO in roles or k7),
    }[answer]


def cells() -> list[tuple[Action, str | None]]:
    """Every (action, field) pair to try."""
    fields = [None, *READERS, UNKNOWN_FIELD]
    events = [*SENDERS, UNKNOWN_FIELD]
    return [
        *((Action.READ, f) for f in fields),
        *((Action.DECODE, f) for f in fields),
        *((Action.SEND, e) for e in events),
        *((Action.CLOSE, e) for e in [None, *EXITS, "cooperation_recorded"]),
        (Action.LIST_OBLIGATIONS, None),
        (Action.MANAGE_MEMBERS, None),
    ]


class TestTable:
    """The policy, cell by cell, against the table written out above."""

    def test_the_table_covers_every_action(self) -> None:
        assert {action for action, _ in cells()} == set(Action)
        assert set(READERS) == set(READ_MATRIX), "the grid and the matrix name the same fields"

    @pytest.mark.parametrize("membership", sorted(MEMBERSHIPS))
    @pytest.mark.parametrize("actor", COLUMNS)
    def test_cells(self, actor: str, membership: str) -> None:
        """Every (action, field) for this role and membership agrees with the table."""
        roles = MEMBERSHIPS[membership]
        wrong = [
            (action.value, field, decide(actor, roles, action, field))
            for action, field in cells()
            if decide(actor, roles, action, field) is not expected(actor, roles, action, field)
        ]
        assert wrong == []

    @pytest.mark.parametrize(
        ("actor", "roles", "action", "field", "allowed"),
        [
            # Issue 11's attacks: Ključ outside a Caritas-led case.
            ("kljuc", set(), Action.SEND, "cooperation_recorded", False),
            ("kljuc", set(), Action.READ, None, False),
            ("kljuc", set(), Action.DECODE, "special_needs", False),
            ("kljuc", set(), Action.SEND, "case_closed", False),
            ("kljuc", set(), Action.LIST_OBLIGATIONS, None, False),
            # A member that does not lead closes nothing.
            ("kljuc", {MemberRole.REFERRED}, Action.SEND, "case_closed", False),
            ("kljuc", {MemberRole.REFERRED}, Action.SEND, "cooperation_recorded", True),
            ("kljuc", {MemberRole.LEAD_NGO}, Action.CLOSE, "case_closed", True),
            ("caritas", {MemberRole.PROVIDER}, Action.CLOSE, "departed", False),
            # The police: a return home only by K7; never a departure or closure.
            ("police", {MemberRole.RESIDENCE_AUTHORITY}, Action.SEND, "returned_home", True),
            ("police", {MemberRole.ASSIGNED}, Action.SEND, "returned_home", False),
            ("police", set(MemberRole), Action.CLOSE, "case_closed", False),
            # An identification opens a new case: the one thing a non-member may send.
            ("uoim", set(), Action.SEND, "identified", True),
            ("caritas", set(), Action.SEND, "identified", False),
            # Decoding follows the read matrix; whole payloads only for the operator.
            ("migration_authority", {MemberRole.RESIDENCE_AUTHORITY}, Action.DECODE,
             "special_needs", False),
            ("caritas", {MemberRole.LEAD_NGO}, Action.DECODE, "special_needs", True),
            ("caritas", {MemberRole.LEAD_NGO}, Action.DECODE, None, False),
            ("operator", set(), Action.DECODE, None, True),
            # Operators manage members and may close; they send no events.
            ("operator", set(), Action.MANAGE_MEMBERS, None, True),
            ("operator", set(), Action.SEND, "case_closed", False),
            ("operator", set(), Action.CLOSE, None, True),
            ("caritas", {MemberRole.LEAD_NGO}, Action.MANAGE_MEMBERS, None, False),
            # Analysts read no case, member or not.
            ("analyst", set(MemberRole), Action.READ, None, False),
        ],
    )  # fmt: skip
    def test_the_issues_cases(
        self, actor: str, roles: set[MemberRole], action: Action, field: str | None, allowed: bool
    ) -> None:
        """The cases issue 11 names, one by one."""
        assert decide(actor, frozenset(roles), action, field) is allowed


# -- no sequence of accepted events lets a non-member in -----------------------------------------
ORGS = [org.value for org in Org]
STEP_TYPES = sorted(
    set(EVENT_TYPES) - {"accompanying_child_recorded", "accompanying_child_identified"}
)
MINOR: dict[str, Any] = {
    "birth_date": (T0 - days(14 * 365.25)).date().isoformat(),
    "gender": "female",
    "citizenships": ["AF"],
    "residence_status": "international_protection_applicant",
    "languages": ["ps"],
    "unaccompanied": True,
}
NEEDS = ["pregnancy", "health_condition", "disability"]
EXTRA: dict[str, Any] = {
    "special_need_flagged": lambda draw: {
        "need": draw(st.sampled_from(NEEDS)),
        "provider": draw(st.sampled_from([None, *ORGS])),
    },
    "special_need_referral_made": lambda draw: {"need": draw(st.sampled_from(NEEDS))},
    "swc_interview_held": lambda draw: {
        "emergency_assistance_offered": draw(st.booleans()),
        "guardian_statement_taken": draw(st.booleans()),
        "trafficking_indicators": draw(st.booleans()),
    },
    "family_contact_recorded": lambda draw: {
        "outcome": draw(st.sampled_from(["attempted", "established"]))
    },
    "main_hearing_scheduled": lambda draw: {
        "hearing_date": "2026-06-01",
        "direct_questioning": draw(st.booleans()),
    },
    "reintegration_service_recorded": lambda _draw: {"service": "counselling"},
    "safe_accommodation_offered": lambda draw: {
        "answer": draw(st.sampled_from(["accepted", "refused", "undecided"]))
    },
    "accommodation_service_recorded": lambda draw: {
        "programme": draw(st.sampled_from(["crisis_accommodation", "safe_accommodation"])),
        "service": "material_assistance",
        "status": draw(st.sampled_from(["offered", "provided"])),
    },
}
CHILD_NOTES = {"best_interests": "b", "child_views": "v"}


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[str, Any], str, list[CaseEvent]]:
    """A person, the identifying authority, and events of any type from any organisation."""
    person = draw(st.sampled_from([EU_ADULT, TCN_ILLEGAL, MINOR]))
    identifier = draw(st.sampled_from(["police", "social_work_centre", "uoim"]))
    at, steps = T0, []
    for _ in range(draw(st.integers(1, 30))):
        at += timedelta(hours=draw(st.integers(1, 24 * 12)))
        type_ = draw(st.sampled_from(STEP_TYPES))
        fields: dict[str, Any] = {"organisation": draw(st.sampled_from(ORGS))}
        if type_ in PARAMS:
            fields |= PARAMS[type_](at.date(), draw)
        if type_ in EXTRA:
            fields |= EXTRA[type_](draw)
        if type_ == "facts_updated":
            fields["person"] = person
        if type_ in ("ngo_interview_held", "rights_information_given"):
            fields["language"] = person["languages"][0]
        fields |= {"child": CHILD_NOTES, "qualified_personnel": True}
        steps.append(event(type_, at, **fields))
    return person, identifier, steps


#: What a non-member must never be allowed: read, decode, list obligations, exit.
DENIED_OUTSIDE = [
    (Action.READ, None),
    *((Action.READ, f) for f in READ_MATRIX),
    (Action.DECODE, None),
    *((Action.DECODE, f) for f in READ_MATRIX),
    (Action.LIST_OBLIGATIONS, None),
    *((Action.CLOSE, e) for e in EXITS),
    *((Action.SEND, e) for e in EXITS),
]


def _check_outsiders(state: CaseState) -> None:
    for org in ORGS:
        if not state.roles_of(org):
            assert not any(case_allows(state, org, a, f) for a, f in DENIED_OUTSIDE), org


_ENDING = {"removed_at", "removed_by", "removed_rule", "removed_why"}


def _check_records(before: CaseState, after: CaseState, sender: str | None) -> None:
    """Records are only appended or stamped as ended; one lead NGO, the one the case names;
    whoever was added by the sender's event, the sender was a member when it sent it."""
    old = before.membership
    assert len(after.membership) >= len(old)
    for was, now in zip(old, after.membership, strict=False):
        assert now.model_dump(exclude=_ENDING) == was.model_dump(exclude=_ENDING)
        assert was.is_active or now == was
    leads = [m.organisation for m in after.membership if m.is_active and m.role.value == "lead_ngo"]
    assert leads == [after.lead_ngo]
    if sender is not None and after.membership[len(old) :]:
        assert before.roles_of(sender), f"{sender} added members without being one"


class TestNoWayInBySending:
    @settings(max_examples=examples(200))
    @given(history=histories())
    def test_no_sequence_of_events_from_a_non_member_lets_it_in(
        self, history: tuple[dict[str, Any], str, list[CaseEvent]]
    ) -> None:
        """Random events from random organisations, each refused unless the policy lets its
        sender send it and then applied by the rules (deadlines firing in between): an
        organisation outside the case never gets an event accepted, never reads, decodes,
        lists or exits it, and only members' events and the service's timers add members."""
        person, identifier, steps = history
        opening = event("identified", T0, person=person, organisation=identifier)
        first = apply_event(None, opening, T0, case_id=CASE_ID)
        assert isinstance(first, Accepted)
        state = first.state
        _check_outsiders(state)
        for step in steps:
            fired, _ = fire_due(state, step.occurred_at)
            _check_records(state, fired, None)
            state = fired
            sender = step.organisation.value
            outside = not state.roles_of(sender)
            if not case_allows(state, sender, Action.SEND, step.type):
                continue
            assert not outside or step.type == "identified"
            decision = apply_event(state, step, step.occurred_at, case_id=CASE_ID)
            if isinstance(decision, Accepted):
                assert not outside, f"{sender} got {step.type} accepted from outside"
                _check_records(state, decision.state, sender)
                state = decision.state
            _check_outsiders(state)


# -- minimisation of existence (item 5) ------------------------------------------------------------
#: Roles that may not read special needs, from the hand-written grid.
NO_HEALTH = [role for role in COLUMNS if role not in READERS["special_needs"]]
CARE = sorted(READERS["special_needs"])


def _delivered(state: CaseState) -> CaseState:
    """Every pending notification delivered (their outcomes go on the timeline)."""
    state = state.model_copy(deep=True)
    for n in list(state.pending_notifications):
        outcome = DeliveryOutcome(
            idempotency_key=n.idempotency_key, recipient=n.recipient, channel="outbox"
        )
        settle_notification(state, n, n.issued_at, outcome)
    return state


def twin_cases() -> tuple[CaseState, CaseState]:
    """The same case twice, the second with a special need flagged and referred in the middle
    (the same event objects in both, so that everything else is equal)."""
    steps = [
        event("ngo_interview_held", T0 + days(0.1)),
        event("crisis_accommodation_placed", T0 + days(1)),
        event("rights_information_given", T0 + days(1.5), subjects=["a_institutions"]),
    ]
    needs = [
        event("special_need_flagged", T0 + days(1.2), need="pregnancy", detail="CANARY-NEED"),
        event("special_need_referral_made", T0 + days(1.3), need="pregnancy"),
    ]
    plain = flagged = opened()
    for step in steps[:2]:
        plain = _delivered(accept(plain, step))
        flagged = _delivered(accept(flagged, step))
    for step in needs:
        flagged = _delivered(accept(flagged, step))
    for step in steps[2:]:
        plain = _delivered(accept(plain, step))
        flagged = _delivered(accept(flagged, step))
    return plain, flagged


class TestMinimisation:
    @pytest.mark.parametrize("role", NO_HEALTH)
    def test_r6_no_trace_of_a_special_need(self, role: str) -> None:
        """R6, K4: a role that may not read special needs reads the case exactly as if none
        had been flagged: no timeline entry, obligation, notification, membership or count
        differs (the notifications' sequence numbers are the operators' only)."""
        plain, flagged = twin_cases()
        assert case_view(flagged, role) == case_view(plain, role)
        assert timeline_view(flagged, role) == timeline_view(plain, role)
        text = json.dumps(case_view(flagged, role))
        assert "special" not in text and "K4" not in text

    def test_r6_a_recipients_numbers_reveal_nothing_sent_to_others(self) -> None:
        """R6, K4: each recipient numbers its notifications 1, 2, 3… without gaps, so an
        organisation that may not know of a special need gets the same notifications, numbers
        and idempotency keys whether or not a need was flagged and referred to a provider."""

        def issued(with_need: bool) -> dict[Org, list[tuple[int, str]]]:
            state = opened()
            steps = [
                event("ngo_interview_held", T0 + days(0.1)),
                *(
                    [
                        event("special_need_flagged", T0 + days(0.2), need="pregnancy"),
                        event("special_need_referral_made", T0 + days(0.3), need="pregnancy"),
                    ]
                    if with_need
                    else []
                ),
                event("crisis_accommodation_placed", T0 + days(1)),
                event("departed", T0 + days(2), arbitrary=True),
            ]
            for step in steps:
                state = accept(state, step)  # nothing delivered: every notification stays
            by_recipient: dict[Org, list[tuple[int, str]]] = {}
            for n in state.pending_notifications:
                by_recipient.setdefault(n.recipient, []).append((n.sequence, n.idempotency_key))
            return by_recipient

        plain, flagged = issued(with_need=False), issued(with_need=True)
        for recipient, numbered in flagged.items():
            assert [seq for seq, _ in numbered] == list(range(1, len(numbered) + 1))
            if recipient.value in NO_HEALTH:
                assert numbered == plain.get(recipient, [])
        # The referral did go out (to a care organisation), and someone without health
        # details was notified after it.
        assert any(":special_need_referral:" in key for n in flagged.values() for _, key in n)
        assert any(r.value in NO_HEALTH for r in flagged)

    @pytest.mark.parametrize("role", NO_HEALTH)
    def test_r6_no_trace_in_an_events_answer(self, role: str) -> None:
        """R6, K4: the summary an accepted event answers hides the referral obligation."""
        state = accept(opened(), event("special_need_flagged", T0 + days(1), need="pregnancy"))
        assert "special" not in json.dumps(summary_view(state.summary(), role))

    @pytest.mark.parametrize("role", CARE)
    def test_k4_those_who_may_read_it_see_it_whole(self, role: str) -> None:
        """K4: care roles (and operators) see the need, its referral, obligation and provider."""
        _, flagged = twin_cases()
        view = case_view(flagged, role)
        assert "CANARY-NEED" in json.dumps(view["special_needs"])
        assert any(e.get("rule") == "K4" for e in view["timeline"])
        assert any(m["rule"] == "K4" for m in view["membership"])
        state = accept(opened(), event("special_need_flagged", T0 + days(1), need="pregnancy"))
        assert "special_need_referral" in json.dumps(summary_view(state.summary(), role))

    def test_minimised_leaves_the_case_alone(self) -> None:
        """The helper returns a view: the case itself keeps everything."""
        _, flagged = twin_cases()
        before = flagged.model_dump_json()
        assert minimised(flagged, "police").timeline != flagged.timeline
        assert flagged.model_dump_json() == before
        assert minimised(flagged, "caritas") is flagged
        assert may_read("operator", "special_needs")
