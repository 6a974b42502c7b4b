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

from datetime import date, datetime, timedelta

import pytest
from pydantic import ValidationError

from pathway.domain.calendar import LJUBLJANA, local_date
from pathway.domain.config import CaseConfig
from pathway.domain.events import parse_event
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import AgeEstimate, PersonFacts, ResidenceStatus
from pathway.domain.rules import Accepted, decide, fire_due
from pathway.domain.state import DeadlineKind, ObligationKind
from tests.factories import CASE_ID, EU_ADULT, T0, accept, days, event, opened, reject
from tests.gateway_kit import example as documented
from tests.test_domain_mutants import (
    CHILD_NOTE,
    child_turning_18_in_crisis_accommodation,
    host_elsewhere,  # noqa: F401 (a fixture)
)
from tests.test_law_assistance import FIRST, crisis_due, interviewed, recorded_late
from tests.test_law_assistance import placed as law_placed
from tests.test_law_residence import placed_in_crisis
from tests.test_mutants_assistance_core import _child

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

    def test_a_reminder_and_a_deadline_fire_at_their_very_instant(self) -> None:
        """TIME: a reminder is sent when time is checked at its instant, and a deadline is
        reached at its instant (“within 30 days”: the period has ended at 24:00 of its last
        day, not a moment later)."""
        state, _ = fire_due(placed_in_crisis(EU_ADULT), T0 + days(10))
        crisis = state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION]
        (reminder,) = crisis.reminders
        state, _ = fire_due(state, reminder.at)
        assert state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION].reminders[0].sent
        state, effects = fire_due(state, crisis.due_at)
        assert DeadlineKind.CRISIS_ACCOMMODATION not in state.deadlines
        assert DeadlineKind.CRISIS_ACCOMMODATION in effects.deadlines_ended


# -- ACCESS, TIME, CASE: the checks that guard the service itself (rules/dispatch.py) ---------


class TestTheServicesOwnChecks:
    """docs/rules.md "Access", "Legal time", "The case": an event from an organisation that
    may not send it (ACCESS), dated too far ahead or before the case existed (TIME), or that
    does not fit the case's life (CASE) is refused at the field at fault, and changes
    nothing."""

    def test_a_sender_that_may_not_send_it_is_told_who_may(self) -> None:
        """ACCESS, R1: an NGO may not identify a victim (the police, a social work centre or
        the migration office does): the refusal names the field ``organisation``, the sender
        and the type, and lists every organisation that may send it."""
        identified = event("identified", T0, organisation="caritas")
        refused = reject(None, identified)
        assert (refused.rule, refused.field) == ("ACCESS", "organisation")
        assert "'caritas' may not send identified" in refused.reason
        allowed = refused.reason.split("(allowed: ")[1].rstrip(")").split(", ")
        senders = type(identified).senders
        assert allowed == sorted(o.value for o in senders) and len(senders) > 1

    def test_the_tolerance_for_clocks_ahead_is_inclusive(self) -> None:
        """TIME: an event dated exactly the tolerance ahead of the service's clock is
        accepted; a microsecond more is refused at ``occurred_at``."""
        now = T0 + days(1)
        tolerance = CaseConfig().future_tolerance
        at_edge = event("crisis_accommodation_placed", now + tolerance)
        assert isinstance(decide(interviewed(), at_edge, now, case_id=CASE_ID), Accepted)
        beyond = event("crisis_accommodation_placed", now + tolerance + timedelta(microseconds=1))
        refused = reject(interviewed(), beyond, now=now)
        assert (refused.rule, refused.field) == ("TIME", "occurred_at")

    def test_an_event_at_the_instant_of_identification_is_accepted(self) -> None:
        """TIME, R2: the NGO may interview the person at the very instant the police identify
        them; only what lies before the identification is refused, at ``occurred_at``."""
        state = accept(opened(), event("ngo_interview_held", T0))
        assert state.timeline[-1].at == T0
        earlier = event("ngo_interview_held", T0 - timedelta(microseconds=1))
        refused = reject(opened(), earlier, now=T0)
        assert (refused.rule, refused.field) == ("TIME", "occurred_at")
        assert "before" in refused.reason

    def test_a_case_is_identified_once_and_opened_first(self) -> None:
        """CASE: a second identification, an event before any identification and an event in
        a closed case are each refused at the field ``type`` (what was sent does not fit)."""
        again = reject(opened(), event("identified", T0 + days(1)))
        assert (again.rule, again.field) == ("CASE", "type")
        assert "already" in again.reason
        first = reject(None, event("ngo_interview_held", T0))
        assert (first.rule, first.field) == ("CASE", "type")
        assert "identified" in first.reason
        closed = accept(interviewed(), event("case_closed", T0 + days(1)))
        after = reject(closed, event("ngo_interview_held", T0 + days(2)))
        assert (after.rule, after.field) == ("CASE", "type")
        assert "closed" in after.reason

    def test_a_reused_event_id_is_refused_at_the_event_id(self) -> None:
        """IDEMPOTENCY: an event_id names one event; its reuse for another is refused at
        ``event_id``, and a true repeat changes nothing and sends nothing."""
        placed = event("crisis_accommodation_placed", T0 + days(1), event_id="place-1")
        state = accept(interviewed(), placed)
        other = event("departed", T0 + days(2), event_id="place-1", arbitrary=False)
        refused = reject(state, other)
        assert (refused.rule, refused.field) == ("IDEMPOTENCY", "event_id")
        again = decide(state, placed, T0 + days(3), case_id=CASE_ID)
        assert isinstance(again, Accepted)
        assert again.state is state and again.effects.notifications == []
        assert again.result.duplicate


class TestTheIdentificationKeepsWhatItWasGiven:
    """R1, docs/rules.md "Deadlines": the identification opens the case with the configuration
    it is given (a running case keeps the periods it was opened with), the secret its linked
    cases' IDs derive from, and the rules-version flags of the workflow's patches."""

    def test_the_configuration_given_is_the_cases(self) -> None:
        """K5: a case opened with a 45-day reflection period keeps that configuration; one
        opened without any gets the defaults (30 days)."""
        longer = CaseConfig(reflection_period=timedelta(days=45))
        decision = decide(None, event("identified", T0), T0, case_id=CASE_ID, config=longer)
        assert isinstance(decision, Accepted)
        assert decision.state.config == longer
        assert decision.state.config.reflection_period == timedelta(days=45)
        assert opened().config == CaseConfig()

    def test_the_link_secret_and_the_rules_flags_are_kept(self) -> None:
        """R1: the link secret given is kept in the new case; a case opened under the rules
        before the patch ``seed-status-rules`` carries that flag off, one opened without flags
        every rule as it stands now."""
        decision = decide(
            None,
            event("identified", T0),
            T0,
            case_id=CASE_ID,
            link_secret="s" * 43,
            rules={"seed_status_rules": False},
        )
        assert isinstance(decision, Accepted)
        assert decision.state.link_secret == "s" * 43
        assert decision.state.seed_status_rules is False
        assert opened().seed_status_rules is True


# -- R6, issue 12: notifications, numbered per recipient --------------------------------------


class TestNotificationsAreCountedAndKeyed:
    """R6 (“respect for their integrity”), issues 11 and 12: each notification's key is
    ``<case ID>:<episode>:<recipient>:<reason>:<sequence>``, the episode being the opening
    instant in UTC (``YYYYMMDDTHHMMSSZ``); the case counts every notification it sent (read by
    operators only)."""

    def test_the_key_names_the_episode_recipient_reason_and_number(self) -> None:
        """R1, issue 12: the identification on 2 March 2026 at 09:00 UTC tells Caritas; its
        key is the case, ``20260302T090000Z``, ``caritas``, ``case_identified`` and 1."""
        (sent,) = opened().pending_notifications
        assert sent.idempotency_key == f"{CASE_ID}:20260302T090000Z:caritas:case_identified:1"
        assert sent.sequence == 1

    @pytest.mark.usefixtures("host_elsewhere")
    def test_the_episode_is_in_utc_whatever_the_hosts_zone(self) -> None:
        """Issue 12, TIME: on a machine set to New York's time, the episode in the key is
        still the opening instant in UTC (the same key on every worker, every retry)."""
        (sent,) = opened().pending_notifications
        assert sent.idempotency_key.split(":")[1] == "20260302T090000Z"

    def test_the_case_counts_every_notification_it_sent(self) -> None:
        """R6: after several events telling several organisations, the count of
        notifications sent is the number issued, which is the sum of each recipient's
        numbers."""
        state = opened()
        issued = len(state.pending_notifications)
        for ev in (
            event("ngo_interview_held", T0 + timedelta(hours=2)),
            event("crisis_accommodation_placed", T0 + days(1)),
            event("departed", T0 + days(2), arbitrary=True),
        ):
            decision = decide(state, ev, ev.occurred_at, case_id=CASE_ID)
            assert isinstance(decision, Accepted)
            issued += len(decision.effects.notifications)
            state = decision.state
        assert issued >= 3 and len(state.notifications_to) >= 2
        assert state.notifications_sent == issued == sum(state.notifications_to.values())


# -- MEMBERS, the timeline: who did it --------------------------------------------------------


class TestWhoDidIt:
    """MEMBERS, docs/rules.md "The timeline": each entry and each membership record names who
    did it: the organisation that sent the event (with its staff member's reference, when
    given), or ``pathway`` for what a timer did."""

    def test_an_event_is_by_its_sender_and_actor(self) -> None:
        """R2: an interview recorded by Caritas without a staff reference is by ``caritas``;
        with one, by ``caritas (ngo-17)``."""
        plain = accept(opened(), event("ngo_interview_held", T0 + timedelta(hours=2)))
        assert plain.timeline[-1].who == "caritas"
        named = accept(
            opened(), event("ngo_interview_held", T0 + timedelta(hours=2), actor="ngo-17")
        )
        assert named.timeline[-1].who == "caritas (ngo-17)"

    def test_a_member_a_timer_made_was_added_by_pathway(self) -> None:
        """MEMBERS, K1: an undelivered reminder escalated at the deadline makes the interior
        ministry a member, to tell the lead NGO another way; the record says the service added
        it, at that moment."""
        state, _ = fire_due(placed_in_crisis(EU_ADULT), T0 + days(28))
        now = T0 + days(40)
        state, _ = fire_due(state, now)
        added = {
            m.rule: m
            for m in state.membership
            if m.organisation is Org.INTERIOR_MINISTRY and m.role is MemberRole.ASSIGNED
        }
        assert added["K1"].added_by == "pathway"
        assert added["K1"].since == now
        assert {m.added_by for m in added.values()} == {"pathway"}

    def test_the_moot_settlement_is_the_services_entry(self) -> None:
        """K1, docs/rules.md "Legal time": placed in safe accommodation on day 28 and recorded
        on day 33, after the escalation: the timeline's entry saying the escalation is moot is
        by ``pathway``, at the recording, citing K1, and names no event."""
        state = law_placed(FIRST)
        now = FIRST + days(32)
        state, _ = recorded_late(state, event("safe_accommodation_placed", FIRST + days(27)), now)
        moot = [t for t in state.timeline if "escalation moot" in t.what]
        assert moot
        assert {(t.who, t.at, t.recorded_at, t.event_id) for t in moot} == {
            ("pathway", now, now, None)
        }
        assert "K1" in {t.rule for t in moot}


class TestTheTimelineEntryOfAnEvent:
    """docs/rules.md "The timeline": an accepted event's entry says when it happened and when
    it was recorded, who sent it, what it was, why (the sender's reason), under which rules,
    which event it was, and, on a child's case, the note on the child's best interests and
    views (C1, C2)."""

    def test_every_part_of_the_entry(self) -> None:
        """K1, K2: a crisis placement on day 1, recorded two hours later with a reason."""
        at = T0 + days(1)
        now = at + timedelta(hours=2)
        placed = event(
            "crisis_accommodation_placed", at, event_id="place-7", reason="Referred by police"
        )
        decision = decide(interviewed(), placed, now, case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        entry = decision.state.timeline[-1]
        assert (entry.at, entry.recorded_at, entry.who, entry.organisation) == (
            at,
            now,
            "caritas",
            Org.CARITAS,
        )
        assert (entry.what, entry.why, entry.rule, entry.event_id) == (
            "crisis accommodation placed",
            "Referred by police",
            "K1, K2",
            "place-7",
        )
        assert entry.child is None

    def test_a_decision_on_a_child_keeps_the_childs_note(self) -> None:
        """C1, C2: the crisis placement of a child keeps its note on the timeline."""
        entry = child_turning_18_in_crisis_accommodation().timeline[-1]
        assert entry.what == "crisis accommodation placed"
        assert entry.child is not None
        assert entry.child.best_interests == CHILD_NOTE["best_interests"]
        assert entry.child.child_views == CHILD_NOTE["child_views"]


class TestEscalatedOnlyByATimer:
    """R3, K1, docs/rules.md "Legal time": an obligation an event opens is not escalated; one a
    timer opens to escalate (a reminder not delivered by its deadline) is escalated from the
    moment it is opened, which decides whether a late-recorded event makes it moot."""

    def test_an_event_opens_duties_unescalated(self) -> None:
        """R2, R3: the interview opens the rights information duties, none escalated."""
        state = interviewed()
        assert state.open_obligations
        assert all(o.escalated_at is None for o in state.open_obligations)

    def test_an_undelivered_reminder_is_escalated_when_opened(self) -> None:
        """K1: the reminders of crisis accommodation's 30 days still undelivered at the
        deadline open duties to tell the recipients another way, escalated then."""
        state, _ = fire_due(placed_in_crisis(EU_ADULT), T0 + days(28))
        now = T0 + days(40)
        state, _ = fire_due(state, now)
        undelivered = [
            o for o in state.obligations if o.kind is ObligationKind.NOTIFICATION_UNDELIVERED
        ]
        assert undelivered
        assert all(o.escalated_at == o.opened_at for o in undelivered)


class TestTheLeadIsGivenOnce:
    """MEMBERS, R2, K1: the NGO that leads the case holds that role once; an event by which it
    would become the lead when it leads already (its own crisis placement) adds no second
    record."""

    def test_the_lead_placing_in_crisis_accommodation_keeps_its_one_record(self) -> None:
        """R2, K1: Caritas leads from the identification; its crisis placement leaves one
        active lead record, Caritas's, given under R2."""
        state = placed_in_crisis(EU_ADULT)
        leads = [m for m in state.membership if m.role is MemberRole.LEAD_NGO and m.is_active]
        assert [(m.organisation, m.rule) for m in leads] == [(Org.CARITAS, "R2")]
        assert state.lead_ngo is Org.CARITAS


class TestTheAcknowledgementSaysWhatChanged:
    """Issue 14 item 2: an accepted event's acknowledgement lists the obligations it opened and
    settled and the deadlines it set and ended, each once, as the case summary shows them (an
    ended deadline as it stood before the event)."""

    def test_a_crisis_placement_then_a_safe_placement(self) -> None:
        """K1, K5, S1: the crisis placement sets crisis accommodation's 30 days and the
        reflection period and opens duties; the safe placement ten days later ends crisis
        accommodation's deadline (shown with the due date it had) and settles duties, then
        and there."""
        before = interviewed()
        crisis = decide(before, event("crisis_accommodation_placed", FIRST), FIRST, case_id=CASE_ID)
        assert isinstance(crisis, Accepted)
        changes, after = crisis.result.changes, crisis.state
        set_kinds = [d.kind for d in changes.deadlines_set]
        assert {DeadlineKind.CRISIS_ACCOMMODATION, DeadlineKind.REFLECTION_PERIOD} <= set(set_kinds)
        assert len(set_kinds) == len(set(set_kinds))
        assert changes.deadlines_set == [after.deadlines[k].view() for k in set_kinds]
        opened_ids = [o.id for o in changes.obligations_opened]
        was_open = {o.id for o in before.open_obligations}
        assert opened_ids and not was_open & set(opened_ids)
        assert set(opened_ids) <= {o.id for o in after.open_obligations}

        now = FIRST + days(10)
        safe = event("safe_accommodation_placed", now)
        placed = decide(after, safe, now, case_id=CASE_ID)
        assert isinstance(placed, Accepted)
        changes = placed.result.changes
        ended = {d.kind: d for d in changes.deadlines_ended}
        crisis_kind = DeadlineKind.CRISIS_ACCOMMODATION
        assert ended[crisis_kind] == after.deadlines[crisis_kind].view()
        assert crisis_kind not in placed.state.deadlines
        settled = {o.id for o in changes.obligations_settled}
        closed_now = {o.id for o in placed.state.obligations if o.closed_at == now}
        assert settled and settled == closed_now

    def test_a_moved_deadline_is_set_not_ended(self) -> None:
        """C1: a child's birth date corrected (a year younger) moves the end of the child track:
        the acknowledgement shows the 18th birthday's deadline as set, at its new day, and
        not as ended."""
        state = opened(_child(16))
        younger = {**_child(16), "birth_date": _child(15)["birth_date"]}
        corrected = event("facts_updated", T0 + days(2), person=younger, child=CHILD_NOTE)
        decision = decide(state, corrected, T0 + days(2), case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        changes = decision.result.changes
        moved = decision.state.deadlines[DeadlineKind.TURNS_18]
        assert moved.due_at.year == state.deadlines[DeadlineKind.TURNS_18].due_at.year + 1
        assert changes.deadlines_set == [moved.view()]
        assert changes.deadlines_ended == []

    def test_only_what_this_event_settled(self) -> None:
        """R3: two rights informations recorded at the same instant, on two subjects: the
        second's acknowledgement settles its own subject only, not the first's."""
        at = T0 + timedelta(hours=3)
        state = accept(
            interviewed(), event("rights_information_given", at, subjects=["a_institutions"])
        )
        second = event("rights_information_given", at, subjects=["b_assistance_types"])
        decision = decide(state, second, at, case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        settled = [o.id for o in decision.result.changes.obligations_settled]
        assert settled == ["rights_information:b_assistance_types"]


class TestMootOnlyWhenItHappenedBefore:
    """K1, docs/rules.md "Legal time": a late-recorded event makes an escalation moot only when
    it happened *before* the timer fired; one that happened at that very instant leaves the
    escalation as it was (nobody is told it was moot)."""

    def test_at_the_instant_of_the_escalation_it_stands(self) -> None:
        """K1: placed in safe accommodation exactly when crisis accommodation's 30 days ended,
        recorded two days later: the follow-on placement it settles is not moot, and no one is
        told of a moot escalation."""
        state = law_placed(FIRST)
        due = crisis_due(state)
        state, sent = recorded_late(state, event("safe_accommodation_placed", due), due + days(2))
        follow_on = [o for o in state.obligations if o.kind is ObligationKind.FOLLOW_ON_PLACEMENT]
        assert follow_on and all(o.escalated_at == due for o in follow_on)
        assert not any(o.moot for o in follow_on)
        assert not [s for s in sent if s.endswith(":escalation_moot")]

    def test_the_moot_entry_says_what_happened_when(self) -> None:
        """K1: placed on day 28, recorded on day 33: the moot entry names the event in words
        and the day it happened."""
        state = law_placed(FIRST)
        happened = FIRST + days(27)
        state, _ = recorded_late(
            state, event("safe_accommodation_placed", happened), FIRST + days(32)
        )
        whats = [t.what for t in state.timeline if "escalation moot" in t.what]
        assert whats
        day = local_date(happened).isoformat()
        assert all(w.endswith(f"safe accommodation placed on {day}, recorded late") for w in whats)


class TestEachUndeliveredReminderIsEscalatedOnce:
    """K1: each reminder still undelivered when its deadline is reached, and only those, opens
    one duty to tell its recipient another way, and the ones who can do so are told under the
    deadline's rule."""

    def test_two_reminders_two_duties_told_to_the_others(self) -> None:
        """K1: crisis accommodation's reminder went to Caritas (the lead NGO) and the labour
        ministry, neither delivered: two duties, one per reminder, keyed by it; the notice
        ``notification_undelivered`` (K1) goes to those who were reachable, never to the
        recipient not reached."""
        state, _ = fire_due(placed_in_crisis(EU_ADULT), T0 + days(28))
        reminders = {
            n.idempotency_key: n.recipient
            for n in state.pending_notifications
            if n.reason == "crisis_accommodation_reminder"
        }
        assert set(reminders.values()) == {Org.CARITAS, Org.LABOUR_MINISTRY}
        state, effects = fire_due(state, T0 + days(40))
        duties = [
            o
            for o in state.obligations
            if o.kind is ObligationKind.NOTIFICATION_UNDELIVERED and o.rule == "K1"
        ]
        assert sorted(o.id for o in duties) == sorted(
            f"notification_undelivered:{key}" for key in reminders
        )
        told = [
            (n.recipient, n.rule)
            for n in effects.notifications
            if n.reason == "notification_undelivered" and n.rule == "K1"
        ]
        assert sorted(told) == sorted(
            [(Org.INTERIOR_MINISTRY, "K1"), (Org.CARITAS, "K1"), (Org.INTERIOR_MINISTRY, "K1")]
        )


class TestWhatTheSummaryShows:
    """Issue 14, docs/rules.md "The case": the case summary (and each acknowledgement) shows a
    deadline's next reminder still to be sent, and whether an open duty has been escalated."""

    def test_the_next_reminder_is_the_one_not_yet_sent(self) -> None:
        """K1: crisis accommodation's deadline shows its reminder until it is sent, then
        none."""
        state, _ = fire_due(placed_in_crisis(EU_ADULT), T0 + days(10))
        crisis = state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION]
        (reminder,) = crisis.reminders
        assert crisis.view().next_reminder_at == reminder.at
        state, _ = fire_due(state, reminder.at)
        assert state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION].view().next_reminder_at is None

    def test_an_escalated_duty_shows_as_escalated(self) -> None:
        """R3, K1: the interview's duties show as not escalated; a duty opened to pass on an
        undelivered reminder shows as escalated."""
        assert not any(o.view().escalated for o in interviewed().open_obligations)
        state, _ = fire_due(placed_in_crisis(EU_ADULT), T0 + days(28))
        state, _ = fire_due(state, T0 + days(40))
        undelivered = [
            o for o in state.open_obligations if o.kind is ObligationKind.NOTIFICATION_UNDELIVERED
        ]
        assert undelivered and all(o.view().escalated for o in undelivered)


class TestDatesThatCannotBe:
    """S4, C1: a temporary residence permit “ends after it starts” (one ending the day it starts
    is refused at ``valid_until``); an age estimated as of a day counts whole years from that
    day, a year more on each anniversary."""

    def test_a_permit_ending_the_day_it_starts_is_refused(self) -> None:
        """S4: ``valid_until`` equal to ``valid_from`` is refused at ``valid_until`` under
        S4; a day later is accepted."""
        same = documented(
            "temporary_residence_permit_granted", valid_from="2026-03-20", valid_until="2026-03-20"
        )
        with pytest.raises(ValidationError) as refused:
            parse_event(same)
        [problem] = refused.value.errors(include_url=False)
        assert problem["loc"] == ("temporary_residence_permit_granted", "valid_until")
        assert problem["msg"].startswith("S4: ")
        next_day = {**same, "valid_until": "2026-03-21"}
        assert parse_event(next_day).type == "temporary_residence_permit_granted"

    def test_an_estimated_age_grows_on_the_anniversary_of_the_estimate(self) -> None:
        """C1: estimated 16 as of 2 March 2024, the person is 17 on 1 March 2026 and 18 (an
        adult) on 2 March 2026."""
        facts = PersonFacts(
            citizenships=["DE"],
            residence_status=ResidenceStatus.EU_CITIZEN,
            age_estimate=AgeEstimate(years=16, as_of=date(2024, 3, 2), source="police estimate"),
        )
        assert facts.age_on(date(2026, 3, 1)) == 17
        assert facts.is_minor_on(date(2026, 3, 1))
        assert facts.age_on(date(2026, 3, 2)) == 18
        assert not facts.is_minor_on(date(2026, 3, 2))


class TestRemindersAcrossTheClockChange:
    """docs/rules.md "Legal time": a reminder's lead is counted in calendar days in Ljubljana
    (the same local time that many days earlier), also across the change to summer time; only
    cases opened before legal time (``elapsed``) keep subtracting elapsed time."""

    def test_five_calendar_days_before_in_ljubljana(self) -> None:
        """K1: placed on 3 March 2026, crisis accommodation's 30 days end at 24:00 on 2 April
        (summer time); the reminder five days before is at 24:00 on 28 March (winter time):
        an hour less than five times 24 hours."""
        crisis = law_placed(FIRST).deadlines[DeadlineKind.CRISIS_ACCOMMODATION]
        (reminder,) = crisis.reminders
        assert reminder.at.astimezone(LJUBLJANA) == datetime(2026, 3, 29, tzinfo=LJUBLJANA)
        assert crisis.due_at - reminder.at == timedelta(days=5, hours=-1)

    def test_elapsed_cases_subtract_elapsed_time(self) -> None:
        """K1, replay: in a case opened before legal time, placed on 3 March 2026, the reminder
        is exactly five times 24 hours before the end, across the clock change."""
        config = CaseConfig(legal_time="elapsed")
        decision = decide(None, event("identified", T0), T0, case_id=CASE_ID, config=config)
        assert isinstance(decision, Accepted)
        state = accept(decision.state, event("ngo_interview_held", T0 + timedelta(hours=2)))
        state = accept(state, event("crisis_accommodation_placed", FIRST))
        crisis = state.deadlines[DeadlineKind.CRISIS_ACCOMMODATION]
        assert crisis.due_at == FIRST + days(30)
        (reminder,) = crisis.reminders
        assert crisis.due_at - reminder.at == timedelta(days=5)
