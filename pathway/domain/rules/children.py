"""Child victims (C1–C6, and the age timers of C8 and of the child track's end).

- C1, the child's best interests: “must comply with the principles of the best interest of the
  child; these principles prevail over issues of immigration or crime prevention”
  (:func:`_child_checks`: every decision on a child's case records a best-interests note).
- C2, the child's views: “The opinions and wishes of children who are victims of trafficking
  in human beings is to be established and considered whenever decisions related to children
  are taken” (:func:`_child_checks`).
- C3, every measure told: “The child and the holder of parental responsibilities or another
  legal representative, if there is one, is informed of all measures or rights specifically
  focused on the child.” (:func:`_inform_of_measure`).
- C4, a guardian and qualified staff: “If the holder of parental responsibilities is prevented
  from enforcing the principle of the best interests of the child and/or their representation,
  the child is to be appointed a guardian or a representative.” … “conducted by personnel
  appropriately qualified to perform procedures with children” (:func:`_open_child_track`,
  :func:`_guardian`, :func:`_child_checks`).
- C5, the unaccompanied foreign minor: “the interview with the minor foreigner is conducted by
  a professional worker from a social work centre who will also offer the foreigner emergency
  social assistance and obtain the foreigner's statement on the appointment of a guardian” …
  “the social service responsible for the foreigner provides the victim with accommodation in
  an appropriate facility” (:func:`_open_child_track`, :func:`_swc_interview`,
  :func:`_facility`).
- C6, the family: “If the victim is an unaccompanied minor, the authorities are to do
  everything to establish contact with the victim's family as soon as possible.”
  (:func:`_family_contact`).
- The 15th and 18th birthdays are durable timers (:func:`_set_age_timers`); turning 18 closes
  the child track (:func:`_turns_18`). What turning 15 means for the main hearing (C8), and the
  authorised representative in criminal proceedings (C7), are in
  :mod:`pathway.domain.rules.proceedings`; children placed with a victim, in
  :mod:`pathway.domain.rules.accompanying`.

The social work centre's obligations escalate (:class:`_ChildTimer`): at each expiry the centre
is alerted again and the timer re-armed, until the obligation is met (C4–C7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pathway.domain import events as ev
from pathway.domain.calendar import LJUBLJANA
from pathway.domain.config import CaseConfig
from pathway.domain.events import BaseEvent
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules.core import Expiry, Handler, _Change, _Duty, _reject
from pathway.domain.state import (
    CHILD_DEADLINES,
    CHILD_OBLIGATIONS,
    ChildProtection,
    DeadlineKind,
    ObligationKind,
    SwcInterview,
)


def _birthday_instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LJUBLJANA)


def _set_age_timers(change: _Change) -> None:
    """Turning 15 (C8) and turning 18 (end of the child track) are durable timers."""
    state = change.state
    for years, kind in ((15, DeadlineKind.TURNS_15), (18, DeadlineKind.TURNS_18)):
        change.end_deadline(kind)
        birthday = state.person.birthday(years)
        if birthday is not None and _birthday_instant(birthday) > change.now:
            change.set_deadline(kind, "C8" if years == 15 else "C1", _birthday_instant(birthday))


@dataclass(frozen=True)
class _ChildTimer:
    """An escalating child-protection obligation of the social work centre and the timer that
    escalates it: due ``sla`` after the need arose, and at each expiry the centre is alerted
    again and the timer re-armed, until the obligation is met (C4–C7)."""

    obligation: ObligationKind
    deadline: DeadlineKind
    rule: str
    sla: Callable[[CaseConfig], timedelta]


_GUARDIAN = _ChildTimer(
    ObligationKind.GUARDIAN_APPOINTMENT,
    DeadlineKind.GUARDIAN_APPOINTMENT,
    "C4",
    lambda c: c.guardian_sla,
)
_SWC_INTERVIEW = _ChildTimer(
    ObligationKind.SWC_INTERVIEW, DeadlineKind.SWC_INTERVIEW, "C5", lambda c: c.swc_interview_sla
)
_FACILITY = _ChildTimer(
    ObligationKind.FACILITY_ACCOMMODATION,
    DeadlineKind.FACILITY_ACCOMMODATION,
    "C5",
    lambda c: c.facility_accommodation_sla,
)
_FAMILY_CONTACT = _ChildTimer(
    ObligationKind.FAMILY_CONTACT, DeadlineKind.FAMILY_CONTACT, "C6", lambda c: c.family_contact_sla
)


def _child_obligation(change: _Change, timer: _ChildTimer, action: str, since: datetime) -> None:
    """Open ``timer``'s obligation with its timer running from ``since`` (when the need arose,
    which a back-dated event puts in the past)."""
    due = change.period_end(timer.deadline, since, timer.sla(change.config))
    change.open_obligation(
        _Duty(timer.obligation, timer.rule, Org.SOCIAL_WORK_CENTRE, action), due_at=due
    )
    change.set_deadline(timer.deadline, timer.rule, due)


def _open_child_track(change: _Change, at: datetime) -> None:
    state = change.state
    state.child_protection = ChildProtection(opened_at=at)
    change.add_member(
        Org.SOCIAL_WORK_CENTRE,
        MemberRole.ASSIGNED,
        "C4",
        "child protection: the measures for a child victim (C1–C8)",
    )
    change.add_member(
        Org.GUARDIAN,
        MemberRole.GUARDIAN,
        "C3",
        "the child's guardian or legal representative, informed of every measure (C3)",
    )
    _set_age_timers(change)
    person = state.person
    if person.unaccompanied or person.holder_can_act is False:
        _child_obligation(
            change, _GUARDIAN, "Appoint a guardian or representative for the child (C4).", at
        )
    if person.unaccompanied:
        if person.is_third_country_national:
            _child_obligation(
                change, _SWC_INTERVIEW, "Interview the unaccompanied foreign minor (C5).", at
            )
            change.open_obligation(
                _Duty(
                    ObligationKind.EMERGENCY_ASSISTANCE,
                    "C5",
                    Org.SOCIAL_WORK_CENTRE,
                    "Offer the minor emergency social assistance (C5).",
                )
            )
            change.open_obligation(
                _Duty(
                    ObligationKind.GUARDIAN_STATEMENT,
                    "C5",
                    Org.SOCIAL_WORK_CENTRE,
                    "Obtain the minor's statement on the appointment of a guardian (C5).",
                )
            )
        _child_obligation(
            change,
            _FAMILY_CONTACT,
            "Seek contact with the child's family as soon as possible (C6).",
            at,
        )
    change.notify(
        [Org.SOCIAL_WORK_CENTRE],
        "child_identified",
        "C4",
        "A child victim was identified: child-protection measures apply (C1–C8).",
    )


def _child_checks(change: _Change, event: BaseEvent) -> None:
    """C1, C2, C4 on a child's case: decisions carry the best-interests note and the child's
    views; procedures are done by qualified personnel."""
    if not change.state.child_track_open_at(event.occurred_at):
        return
    cls = type(event)
    if cls.decision:
        child = event.child
        if child is None or not child.best_interests:
            _reject(
                "C1",
                "child.best_interests",
                "every decision on a child's case records a best-interests note",
            )
        if not child.child_views:
            _reject(
                "C2",
                "child.child_views",
                "every decision on a child's case records the child's views",
            )
    if cls.procedure and event.qualified_personnel is not True:
        _reject(
            "C4",
            "qualified_personnel",
            "procedures with a child are done by personnel qualified for children",
        )


def _inform_of_measure(change: _Change, event: BaseEvent) -> None:
    """C3: the child and the legal representative are told of every measure."""
    if type(event).measure and change.state.child_track_open_at(event.occurred_at):
        change.notify(
            [Org.GUARDIAN],
            "child_measure",
            "C3",
            f"A measure concerning the child was taken ({event.type}): inform the "
            "child in an age-appropriate way, and the holder of parental "
            "responsibility or legal representative (C3).",
        )


def _require_child(change: _Change, event: BaseEvent, rule: str) -> ChildProtection:
    cp = change.state.child_protection
    if cp is None or not change.state.child_track_open_at(event.occurred_at):
        _reject(rule, "type", "this applies only to a child's case")
    return cp


def _close_child_obligation(change: _Change, by: str, timer: _ChildTimer) -> None:
    change.close_obligations(by, timer.obligation)
    change.end_deadline(timer.deadline)


def _swc_interview(change: _Change, event: ev.SwcInterviewHeld) -> None:
    cp = _require_child(change, event, "C5")
    cp.swc_interview = SwcInterview(
        at=event.occurred_at,
        emergency_assistance_offered=event.emergency_assistance_offered,
        guardian_statement_taken=event.guardian_statement_taken,
        trafficking_indicators=event.trafficking_indicators,
    )
    _close_child_obligation(change, event.event_id, _SWC_INTERVIEW)
    if event.emergency_assistance_offered:
        change.close_obligations(event.event_id, ObligationKind.EMERGENCY_ASSISTANCE)
    if event.guardian_statement_taken:
        change.close_obligations(event.event_id, ObligationKind.GUARDIAN_STATEMENT)
    if event.trafficking_indicators and cp.facility_accommodation_at is None:
        _child_obligation(
            change,
            _FACILITY,
            "Indicators of trafficking: accommodate the minor in an appropriate facility (C5).",
            event.occurred_at,
        )


def _facility(change: _Change, event: ev.ChildAccommodatedInFacility) -> None:
    cp = _require_child(change, event, "C5")
    cp.facility_accommodation_at = event.occurred_at
    _close_child_obligation(change, event.event_id, _FACILITY)


def _guardian(change: _Change, event: ev.GuardianAppointed) -> None:
    cp = _require_child(change, event, "C4")
    cp.guardian_appointed_at = event.occurred_at
    _close_child_obligation(change, event.event_id, _GUARDIAN)
    change.add_member(
        Org.GUARDIAN, MemberRole.GUARDIAN, "C4", "appointed the child's guardian (C4)"
    )


def _family_contact(change: _Change, event: ev.FamilyContactRecorded) -> None:
    cp = _require_child(change, event, "C6")
    cp.family_contact = event.outcome
    if event.outcome is not ev.FamilyContactOutcome.ATTEMPTED:
        _close_child_obligation(change, event.event_id, _FAMILY_CONTACT)


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------


def _repeat_child_escalation(
    timer: _ChildTimer, reason: str, text: str, extra: tuple[Org, ...] = ()
) -> Callable[[_Change], None]:
    """``timer``'s expiry: while its obligation is open, the social work centre (and
    ``extra``) is alerted again and the timer re-armed (C4–C7)."""

    def expire(change: _Change) -> None:
        state = change.state
        open_ones = [o for o in state.open_obligations if o.kind is timer.obligation]
        if not open_ones:
            return
        due = change.period_end(timer.deadline, change.now, timer.sla(change.config))
        for ob in open_ones:
            ob.escalated_at = ob.escalated_at or change.now
            ob.due_at = due
        change.notify([Org.SOCIAL_WORK_CENTRE, *extra], reason, timer.rule, text, due_at=due)
        change.set_deadline(timer.deadline, timer.rule, due)

    return expire


def _turns_18(change: _Change) -> None:
    """The child-protection track closes; the adult path goes on."""
    state = change.state
    if state.child_protection is not None and state.child_protection.closed_at is None:
        state.child_protection.closed_at = change.now
    handed = [o.kind.value for o in state.open_obligations if o.kind in CHILD_OBLIGATIONS]
    change.close_obligations("turned 18", *CHILD_OBLIGATIONS)
    for kind in CHILD_DEADLINES:
        change.end_deadline(kind)
    change.end_member(
        Org.GUARDIAN,
        MemberRole.GUARDIAN,
        "C4",
        "the person turned 18: the guardianship measures end (C4)",
    )
    note = f" Child-protection obligations closed: {', '.join(sorted(handed))}." if handed else ""
    change.notify(
        [Org.GUARDIAN, state.lead_ngo],
        "turned_18",
        "C4",
        "The person has turned 18: the child-protection track and the guardianship "
        "measures under it end; assistance continues on the adult path." + note,
    )


# ---------------------------------------------------------------------------------------------
# This track's tables, which pathway.domain.rules.dispatch and .deadlines merge with the others'
# ---------------------------------------------------------------------------------------------

#: The events this track applies, and the function that applies each.
HANDLERS: dict[type[BaseEvent], Handler] = {
    ev.SwcInterviewHeld: _swc_interview,
    ev.ChildAccommodatedInFacility: _facility,
    ev.GuardianAppointed: _guardian,
    ev.FamilyContactRecorded: _family_contact,
}

#: The rules each event's timeline entry cites.
EVENT_RULES: dict[str, str] = {
    "swc_interview_held": "C5",
    "child_accommodated_in_facility": "C5",
    "guardian_appointed": "C4",
    "family_contact_recorded": "C6",
}

#: What each of this track's deadlines does when it is reached.
EXPIRIES: dict[DeadlineKind, Expiry] = {
    DeadlineKind.GUARDIAN_APPOINTMENT: _repeat_child_escalation(
        _GUARDIAN,
        "guardian_appointment_overdue",
        "A guardian for the child is still not appointed (C4).",
    ),
    DeadlineKind.FAMILY_CONTACT: _repeat_child_escalation(
        _FAMILY_CONTACT,
        "family_contact_reminder",
        "Contact with the child's family is still not established or found not in the child's "
        "interest (C6).",
    ),
    DeadlineKind.SWC_INTERVIEW: _repeat_child_escalation(
        _SWC_INTERVIEW,
        "swc_interview_overdue",
        "The unaccompanied minor has not been interviewed (C5).",
    ),
    DeadlineKind.FACILITY_ACCOMMODATION: _repeat_child_escalation(
        _FACILITY,
        "facility_accommodation_overdue",
        "The minor is not yet accommodated in an appropriate facility (C5).",
    ),
    DeadlineKind.TURNS_18: _turns_18,
}
# The child-protection deadlines have no reminder before expiry: their expiry is the reminder,
# repeated until the obligation is met.
REMINDERS: dict[DeadlineKind, str] = {}
