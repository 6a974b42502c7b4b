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
  the child track (:func:`_turns_18`).
- When the person's facts change (``facts_updated``: a corrected birth date or estimate, found
  unaccompanied, a holder of parental responsibility found unable to act), C4–C8 are decided
  again from the facts as they now stand (:func:`child_facts_changed`): the child track opens,
  or closes when the person proves an adult; C4–C6 obligations open or close; C7 and C8 are
  checked against the proceedings and the hearings already scheduled. A corrected birth date
  after the case's identification is refused (INPUT,
  :func:`refuse_birth_after_identification`).
- What turning 15 means for the main hearing (C8), and the authorised representative in
  criminal proceedings (C7), are in :mod:`pathway.domain.rules.proceedings`; children placed
  with a victim, in :mod:`pathway.domain.rules.accompanying`.

The social work centre's obligations escalate (:class:`_ChildTimer`): at each expiry the centre
is alerted again and the timer re-armed, until the obligation is met (C4–C7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pathway.domain import events as ev
from pathway.domain.calendar import LJUBLJANA, local_date
from pathway.domain.config import CaseConfig
from pathway.domain.events import BaseEvent
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import SLOVENIA, PersonFacts
from pathway.domain.plausible import RULE_INPUT
from pathway.domain.rules.core import Expiry, Handler, _Change, _Duty, _reject
from pathway.domain.state import (
    CHILD_DEADLINES,
    CHILD_OBLIGATIONS,
    CaseState,
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
    #: Other obligations due with ``obligation`` and escalated by the same timer, in cases under
    #: ``CaseState.seed_child_rules`` (C5: the worker who interviews the minor also offers
    #: emergency assistance and takes the statement on a guardian).
    shared: frozenset[ObligationKind] = frozenset()


_GUARDIAN = _ChildTimer(
    ObligationKind.GUARDIAN_APPOINTMENT,
    DeadlineKind.GUARDIAN_APPOINTMENT,
    "C4",
    lambda c: c.guardian_sla,
)
_SWC_INTERVIEW = _ChildTimer(
    ObligationKind.SWC_INTERVIEW,
    DeadlineKind.SWC_INTERVIEW,
    "C5",
    lambda c: c.swc_interview_sla,
    shared=frozenset({ObligationKind.EMERGENCY_ASSISTANCE, ObligationKind.GUARDIAN_STATEMENT}),
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
_REPRESENTATIVE = _ChildTimer(
    ObligationKind.AUTHORISED_REPRESENTATIVE,
    DeadlineKind.AUTHORISED_REPRESENTATIVE,
    "C7",
    lambda c: c.authorised_representative_sla,
)

_GUARDIAN_ACTION = "Appoint a guardian or representative for the child (C4)."
#: C5's steps at the interview, in the order they open; all due with the interview.
_C5_STEPS: dict[ObligationKind, str] = {
    ObligationKind.SWC_INTERVIEW: "Interview the unaccompanied foreign minor (C5).",
    ObligationKind.EMERGENCY_ASSISTANCE: "Offer the minor emergency social assistance (C5).",
    ObligationKind.GUARDIAN_STATEMENT: (
        "Obtain the minor's statement on the appointment of a guardian (C5)."
    ),
}
_FAMILY_ACTION = "Seek contact with the child's family as soon as possible (C6)."


def _child_obligation(
    change: _Change,
    timer: _ChildTimer,
    action: str,
    since: datetime,
    kind: ObligationKind | None = None,
) -> None:
    """Open ``timer``'s obligation (or ``kind``, one it shares) with its timer running from
    ``since`` (when the need arose, which a back-dated event puts in the past)."""
    due = change.period_end(timer.deadline, since, timer.sla(change.config))
    change.open_obligation(
        _Duty(kind or timer.obligation, timer.rule, Org.SOCIAL_WORK_CENTRE, action), due_at=due
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
    if state.seed_child_rules:
        _child_duties(change, at, "")
    elif person.unaccompanied or person.holder_can_act is False:
        _child_obligation(
            change, _GUARDIAN, "Appoint a guardian or representative for the child (C4).", at
        )
    if person.unaccompanied and not state.seed_child_rules:
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


def _minor_foreigner(state: CaseState) -> bool:
    """C5's “minor foreigner”: not a Slovenian citizen (a citizen of another EU member state
    too); in cases from before ``seed_child_rules``, a third-country national."""
    if state.seed_child_rules:
        return SLOVENIA not in state.person.citizenships
    return state.person.is_third_country_national


def _child_duties(change: _Change, at: datetime, by: str) -> None:
    """C4–C6 as the facts now stand (``seed_child_rules``): each obligation the facts call for
    and that is not met is open, due from ``at``; each the facts no longer call for is closed
    (``by``: the event that changed the facts)."""
    state = change.state
    person = state.person
    cp = state.child_protection
    assert cp is not None
    open_kinds = {o.kind for o in state.open_obligations}
    # C4: the holder of parental responsibility cannot act (or there is none with the child).
    if (person.unaccompanied or person.holder_can_act is False) and not cp.guardian_appointed_at:
        if ObligationKind.GUARDIAN_APPOINTMENT not in open_kinds:
            _child_obligation(change, _GUARDIAN, _GUARDIAN_ACTION, at)
    elif ObligationKind.GUARDIAN_APPOINTMENT in open_kinds:
        _close_child_obligation(change, by, _GUARDIAN)
    # C5: the unaccompanied minor foreigner, each step until done.
    interview = cp.swc_interview
    foreigner = person.unaccompanied and _minor_foreigner(state)
    missing = {
        ObligationKind.SWC_INTERVIEW: interview is None,
        ObligationKind.EMERGENCY_ASSISTANCE: interview is None
        or not interview.emergency_assistance_offered,
        ObligationKind.GUARDIAN_STATEMENT: interview is None
        or not interview.guardian_statement_taken,
    }
    wanted = [kind for kind in _C5_STEPS if foreigner and missing[kind]]
    _c5_steps(change, wanted, at, by)
    # C6: the family of an unaccompanied minor.
    contact_open = cp.family_contact in (None, ev.FamilyContactOutcome.ATTEMPTED)
    if person.unaccompanied and contact_open:
        if ObligationKind.FAMILY_CONTACT not in open_kinds:
            _child_obligation(change, _FAMILY_CONTACT, _FAMILY_ACTION, at)
    elif ObligationKind.FAMILY_CONTACT in open_kinds:
        _close_child_obligation(change, by, _FAMILY_CONTACT)


def _c5_steps(change: _Change, wanted: list[ObligationKind], at: datetime, by: str) -> None:
    """C5's interview steps ``wanted`` open, due together on the interview's timer; the others
    closed (``by``), and the timer ended when none is wanted."""
    state = change.state
    open_kinds = {o.kind for o in state.open_obligations}
    unwanted = [kind for kind in _C5_STEPS if kind not in wanted and kind in open_kinds]
    if unwanted:
        change.close_obligations(by, *unwanted)
    to_open = [kind for kind in wanted if kind not in open_kinds]
    if to_open and DeadlineKind.SWC_INTERVIEW not in state.deadlines:
        first = to_open.pop(0)
        _child_obligation(change, _SWC_INTERVIEW, _C5_STEPS[first], at, kind=first)
    for kind in to_open:
        change.open_obligation(
            _Duty(kind, "C5", Org.SOCIAL_WORK_CENTRE, _C5_STEPS[kind]),
            due_at=state.deadlines[DeadlineKind.SWC_INTERVIEW].due_at,
        )
    if not wanted:
        change.end_deadline(DeadlineKind.SWC_INTERVIEW)


def refuse_birth_after_identification(state: CaseState, person: PersonFacts) -> None:
    """INPUT: a birth date corrected after identification still lies on or before the day of
    the identification (in Ljubljana): the person was born when identified."""
    opened_on = local_date(state.opened_at)
    if person.birth_date is not None and person.birth_date > opened_on:
        _reject(
            RULE_INPUT,
            "person.birth_date",
            f"a birth date cannot lie after the case's identification ({opened_on.isoformat()})",
        )


def child_facts_changed(change: _Change, event: ev.FactsUpdated, before: PersonFacts) -> None:
    """C4–C8 decided again from the person's facts as ``event`` states them (``before``: the
    facts it replaces; ``seed_child_rules``)."""
    state = change.state
    at = event.occurred_at
    cp = state.child_protection
    minor = state.is_minor_at(at)
    track_open = cp is not None and cp.closed_at is None
    if minor and not track_open:
        _open_child_track(change, at)  # a child after all (again, if the track had closed)
    elif track_open and not minor:
        _adult_after_all(change, event)
    elif track_open:
        _set_age_timers(change)
        _child_duties(change, at, event.event_id)
    if minor:
        _representative_needed(change, at)
    _hearings_barred(change, event, before)


def _adult_after_all(change: _Change, event: ev.FactsUpdated) -> None:
    """The corrected facts show an adult: the child track closes as at the 18th birthday (its
    timers and C4–C7 obligations end, the guardianship ends); assistance goes on as an
    adult's."""
    state = change.state
    assert state.child_protection is not None
    state.child_protection.closed_at = event.occurred_at
    handed = [o.kind.value for o in state.open_obligations if o.kind in CHILD_OBLIGATIONS]
    change.close_obligations(event.event_id, *CHILD_OBLIGATIONS)
    for kind in CHILD_DEADLINES:
        change.end_deadline(kind)
    change.end_member(
        Org.GUARDIAN,
        MemberRole.GUARDIAN,
        "C4",
        "the corrected facts show an adult: the guardianship measures end (C4)",
    )
    note = f" Child-protection obligations closed: {', '.join(sorted(handed))}." if handed else ""
    change.notify(
        [Org.SOCIAL_WORK_CENTRE, Org.GUARDIAN, state.lead_ngo],
        "child_track_closed",
        "C4",
        "The corrected facts show that the person is an adult: the child-protection track and "
        "the guardianship measures under it end; assistance continues on the adult path." + note,
    )


def _representative_needed(change: _Change, at: datetime) -> None:
    """C7: a person found to be a minor while criminal proceedings run needs an authorised
    representative."""
    state = change.state
    proceedings = state.criminal_proceedings
    cp = state.child_protection
    if (
        proceedings is None
        or proceedings.concluded_at is not None
        or proceedings.authorised_representative
        or cp is None
        or cp.authorised_representative_at is not None
        or any(o.kind is _REPRESENTATIVE.obligation for o in state.open_obligations)
    ):
        return
    _child_obligation(
        change,
        _REPRESENTATIVE,
        "The injured party is a minor: have an authorised representative appointed for the "
        "criminal proceedings (C7).",
        at,
    )
    change.notify(
        [Org.SOCIAL_WORK_CENTRE, Org.POLICE],
        "authorised_representative_missing",
        "C7",
        "The injured party in running criminal proceedings is a minor and has no authorised "
        "representative (C7).",
    )


def _hearings_barred(change: _Change, event: ev.FactsUpdated, before: PersonFacts) -> None:
    """C8: a main hearing still to come with direct questioning, which the facts before allowed
    and the corrected facts bar (under 15 on the hearing date, or the age no longer known),
    is reported to the police."""
    state = change.state
    proceedings = state.criminal_proceedings
    if proceedings is None or proceedings.concluded_at is not None:
        return

    def barred(person: PersonFacts, day: date) -> bool:
        age = person.age_on(day)
        return age is None or age < 15

    days = sorted(
        {
            h.hearing_date
            for h in state.hearings
            if h.direct_questioning
            and h.hearing_date >= event.day
            and barred(state.person, h.hearing_date)
            and not barred(before, h.hearing_date)
        }
    )
    if not days:
        return
    change.notify(
        [Org.POLICE, Org.SOCIAL_WORK_CENTRE],
        "direct_questioning_barred",
        "C8",
        "The corrected facts show the injured party under 15 (or of unknown age) on the date of "
        f"the main hearing {', '.join(d.isoformat() for d in days)}: direct questioning there "
        "is not permitted (C8); schedule it without direct questioning.",
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
    if change.state.seed_child_rules:
        # The steps not taken at the interview stay due, on the interview's timer.
        change.close_obligations(event.event_id, ObligationKind.SWC_INTERVIEW)
    else:
        _close_child_obligation(change, event.event_id, _SWC_INTERVIEW)
    if event.emergency_assistance_offered:
        change.close_obligations(event.event_id, ObligationKind.EMERGENCY_ASSISTANCE)
    if event.guardian_statement_taken:
        change.close_obligations(event.event_id, ObligationKind.GUARDIAN_STATEMENT)
    still = {o.kind for o in change.state.open_obligations} & set(_C5_STEPS)
    if change.state.seed_child_rules and not still:
        change.end_deadline(DeadlineKind.SWC_INTERVIEW)
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
        shared = timer.shared if state.seed_child_rules else frozenset()
        kinds = {timer.obligation, *shared}
        open_ones = [o for o in state.open_obligations if o.kind in kinds]
        if not open_ones:
            return
        due = change.period_end(timer.deadline, change.now, timer.sla(change.config))
        for ob in open_ones:
            change.escalated(ob, [Org.SOCIAL_WORK_CENTRE, *extra])
            ob.due_at = due
        message = text
        if shared:
            # Which of the steps due together are still to be taken.
            message = f"Still to do for the minor ({timer.rule}): " + " ".join(
                o.action for o in open_ones
            )
        change.notify([Org.SOCIAL_WORK_CENTRE, *extra], reason, timer.rule, message, due_at=due)
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
