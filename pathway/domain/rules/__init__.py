"""The law as pure functions: apply an event, or the passing of time, to a case.

``decide`` takes the case state (``None`` before identification), an event and the current time,
and returns either :class:`Accepted` (the new state and the effects to carry out) or
:class:`Rejection` (the rule ID, the field and a readable reason). It never mutates its input, so
the workflow's update validator can call it to reject an event before anything reaches history.
``fire_due`` does the same for reminders and expiries whose time has come.

Every check cites the rule it enforces (docs/rules.md). No Temporal import here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, NoReturn

from pydantic import BaseModel, ValidationError

from pathway.domain import events as ev
from pathway.domain import ids, membership
from pathway.domain.calendar import LJUBLJANA, add_months, end_of_day, local_date
from pathway.domain.config import CaseConfig
from pathway.domain.events import BaseEvent, CaseEvent, Placement, RightsSubject
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import PersonFacts, ResidenceStatus
from pathway.domain.state import (
    CHILD_DEADLINES,
    CHILD_OBLIGATIONS,
    EXIT_PHASES,
    RESULTS_KEPT,
    AccompanyingChild,
    CaseStart,
    CaseState,
    ChildProtection,
    Cooperation,
    CriminalProceedings,
    Deadline,
    DeadlineKind,
    DeliveryOutcome,
    EventResult,
    Hearing,
    Notification,
    Obligation,
    ObligationKind,
    PermitToStay,
    Phase,
    PlacementRecord,
    PoliceInterview,
    ProcessedEvent,
    Reintegration,
    Reminder,
    ResidencePermit,
    RightsGiven,
    SpecialNeedRecord,
    SwcInterview,
    TimelineEntry,
)

# Checks that guard the service itself rather than a rule of the seed carry these IDs.
RULE_ACCESS = "ACCESS"  # docs/rules.md "Access": the sender's role may not send this event
RULE_TIME = "TIME"  # occurred_at in the future beyond tolerance, or before identification
RULE_CASE = "CASE"  # no such case, already identified, or already closed
RULE_IDEMPOTENCY = "IDEMPOTENCY"  # an event_id reused for a different event


@dataclass(frozen=True)
class Rejection:
    """An event that breaks a rule. It changes nothing."""

    rule: str
    field: str | None
    reason: str

    def message(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        return f"{self.rule}: {self.reason}{where}"


@dataclass
class Effects:
    """What the workflow must carry out after a state change."""

    notifications: list[Notification] = field(default_factory=list)
    deadlines_set: list[DeadlineKind] = field(default_factory=list)
    deadlines_ended: list[DeadlineKind] = field(default_factory=list)
    obligations_opened: list[str] = field(default_factory=list)
    obligations_closed: list[str] = field(default_factory=list)


@dataclass
class Accepted:
    state: CaseState
    effects: Effects
    result: EventResult


Decision = Accepted | Rejection


class _Reject(Exception):
    def __init__(self, rule: str, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.rejection = Rejection(rule, field, reason)


def _reject(rule: str, field: str | None, reason: str) -> NoReturn:
    raise _Reject(rule, field, reason)


def event_digest(event: BaseEvent) -> str:
    """A stable fingerprint of an event, to tell a true repeat from a reused ``event_id``."""
    return hashlib.sha256(event.model_dump_json().encode()).hexdigest()


_LEAD_WHY = (
    "leads the case as the NGO: the individual interview, the rights information, the "
    "decision on further support (R2, R3, K5)"
)


@dataclass(frozen=True)
class _Duty:
    """What an obligation asks, of whom, under which rule (opened by
    :meth:`_Change.open_obligation`)."""

    kind: ObligationKind
    rule: str
    owner: Org
    action: str


class _Change:
    """A working copy of the state plus the effects of one change."""

    def __init__(self, state: CaseState, now: datetime, cause: BaseEvent | None = None) -> None:
        self.state = state
        self.now = now
        self.effects = Effects()
        #: The event being applied (None: the passing of time).
        self.cause = cause

    @property
    def config(self) -> CaseConfig:
        return self.state.config

    # -- notifications -------------------------------------------------------------------------
    def notify(
        self,
        recipients: Iterable[Org],
        reason: str,
        rule: str,
        action: str,
        due_at: datetime | None = None,
    ) -> None:
        for recipient in dict.fromkeys(recipients):  # keep order, drop repeats
            self.state.notifications_sent += 1
            # Numbered per recipient (R6, issue 11): a recipient's numbers have no gaps, so
            # they reveal nothing of what was sent to others (e.g. a K4 referral it may not
            # know of). The recipient in the key keeps keys unique across recipients, and
            # apart from the keys of notifications issued before (`<case>:<reason>:<n>`).
            seq = self.state.notifications_to.get(recipient, 0) + 1
            self.state.notifications_to[recipient] = seq
            n = Notification(
                idempotency_key=f"{self.state.case_id}:{recipient.value}:{reason}:{seq}",
                case_id=self.state.case_id,
                sequence=seq,
                recipient=recipient,
                reason=reason,
                rule=rule,
                action=action,
                issued_at=self.now,
                due_at=due_at,
            )
            self.state.pending_notifications.append(n)
            self.effects.notifications.append(n)

    # -- deadlines -----------------------------------------------------------------------------
    def set_deadline(
        self,
        kind: DeadlineKind,
        rule: str,
        due_at: datetime,
        reminder_at: datetime | None = None,
        recipients: Iterable[Org] = (),
        *,
        lead_ngo: bool = False,
    ) -> None:
        """Start or move a deadline, with at most one reminder (``lead_ngo``: also remind the
        NGO leading the case at the time the reminder fires)."""
        reminders = (
            []
            if reminder_at is None
            else [Reminder(at=reminder_at, recipients=list(recipients), lead_ngo=lead_ngo)]
        )
        self.state.deadlines[kind] = Deadline(
            kind=kind, rule=rule, due_at=due_at, reminders=reminders
        )
        self.effects.deadlines_set.append(kind)

    def end_deadline(self, kind: DeadlineKind) -> None:
        if self.state.deadlines.pop(kind, None) is not None:
            self.effects.deadlines_ended.append(kind)

    # -- members (MEMBERS) -----------------------------------------------------------------------
    def _act(self, rule: str, why: str) -> membership.Act:
        by = "pathway" if self.cause is None else _who(self.cause)
        return membership.Act(rule, why, self.now, by)

    def add_member(self, organisation: Org, role: MemberRole, rule: str, why: str) -> None:
        """``organisation`` becomes a member in ``role`` by ``rule``, for the purpose ``why``
        (recorded with the event or timer that did it; nothing if it holds it already)."""
        membership.grant(self.state.membership, organisation, role, self._act(rule, why))

    def end_member(
        self, organisation: Org, role: MemberRole, rule: str, why: str, given_by: str | None = None
    ) -> None:
        """``organisation``'s ``role`` (the one given by ``given_by``, if named) ends by
        ``rule``; the record stays, stamped."""
        membership.end(self.state.membership, organisation, role, self._act(rule, why), given_by)

    def set_lead(self, organisation: Org, rule: str) -> None:
        """The NGO leading the case is now ``organisation`` (R2, K1, S1): the previous lead's
        role ends, the new lead's begins."""
        state = self.state
        if state.lead_ngo is organisation and MemberRole.LEAD_NGO in state.roles_of(organisation):
            return  # leads already
        if state.lead_ngo is not organisation:
            self.end_member(
                state.lead_ngo,
                MemberRole.LEAD_NGO,
                rule,
                f"the lead passed to {organisation.value}",
            )
        state.lead_ngo = organisation
        self.add_member(organisation, MemberRole.LEAD_NGO, rule, _LEAD_WHY)

    # -- obligations ---------------------------------------------------------------------------
    def open_obligation(
        self,
        duty: _Duty,
        *,
        due_at: datetime | None = None,
        suffix: str | None = None,
        escalated: bool = False,
    ) -> Obligation:
        """Open ``duty`` (one per kind, or per ``suffix`` when a kind can be open several
        times), unless it is open already; ``escalated``: opened by an escalation."""
        ob_id = duty.kind.value if suffix is None else f"{duty.kind.value}:{suffix}"
        for existing in self.state.open_obligations:
            if existing.id == ob_id:
                return existing
        # Work assigned by a rule makes the owner a member, for that purpose (MEMBERS).
        self.add_member(
            duty.owner,
            MemberRole.ASSIGNED,
            duty.rule,
            f"a rule assigns it work: {duty.kind.value.replace('_', ' ')} ({duty.rule})",
        )
        ob = Obligation(
            id=ob_id,
            kind=duty.kind,
            rule=duty.rule,
            owner=duty.owner,
            action=duty.action,
            opened_at=self.now,
            due_at=due_at,
            escalated_at=self.now if escalated else None,
        )
        self.state.obligations.append(ob)
        self.effects.obligations_opened.append(ob_id)
        return ob

    def close_obligations(self, by: str, *kinds: ObligationKind, ids: Iterable[str] = ()) -> None:
        wanted = set(ids)
        for ob in self.state.open_obligations:
            if ob.kind in kinds or ob.id in wanted:
                ob.closed_at = self.now
                ob.closed_by = by
                self.effects.obligations_closed.append(ob.id)

    # -- timeline ------------------------------------------------------------------------------
    def record_event(self, event: BaseEvent, rule: str | None) -> None:
        """The accepted ``event`` on the timeline: who did what, when and why."""
        self.state.timeline.append(
            TimelineEntry(
                at=event.occurred_at,
                recorded_at=self.now,
                who=_who(event),
                what=event.type.replace("_", " "),
                why=event.reason,
                rule=rule,
                event_id=event.event_id,
                organisation=event.organisation,
                child=event.child,
            )
        )

    def record_timer(self, what: str, rule: str) -> None:
        """What a timer did, now, on the timeline."""
        self.state.timeline.append(
            TimelineEntry(at=self.now, recorded_at=self.now, who="pathway", what=what, rule=rule)
        )


# ---------------------------------------------------------------------------------------------
# Facts derived from state
# ---------------------------------------------------------------------------------------------


def in_criminal_or_pretrial_proceedings(state: CaseState) -> bool:
    """Treated as a victim in Slovenian pre-trial (police information gathering) or criminal
    proceedings (I1)."""
    return state.police_interview is not None or state.criminal_proceedings is not None


def resides_legally(state: CaseState, at: datetime) -> bool:
    """I1: legal residence. Citizens of Slovenia and of EU states reside legally; a third-country
    national does with a legal residence status or a temporary residence permit valid at ``at``.
    A permit to stay (K7) only tolerates the stay, so it does not count."""
    status = state.person.residence_status
    if status in (
        ResidenceStatus.SLOVENIAN_CITIZEN,
        ResidenceStatus.EU_CITIZEN,
        ResidenceStatus.THIRD_COUNTRY_LEGAL,
    ):
        return True
    return _residence_permit_valid(state, at)


def reintegration_eligibility(state: CaseState, at: datetime) -> tuple[bool, str]:
    """I1: who the reintegration programme is for, with the reason either way."""
    person = state.person
    if "SI" in person.citizenships and person.exploited_abroad:
        return True, "Slovenian citizen treated as a victim abroad"
    if not in_criminal_or_pretrial_proceedings(state):
        return False, (
            "reintegration needs a Slovenian citizen treated as a victim abroad, or a person "
            "treated as a victim in Slovenian pre-trial or criminal proceedings"
        )
    if not resides_legally(state, at):
        return False, "a third-country national must reside legally (status or residence permit)"
    return True, "treated as a victim in Slovenian proceedings and residing legally"


def _permit_to_stay_valid(state: CaseState, at: datetime) -> bool:
    p = state.permit_to_stay
    return p is not None and p.valid_from <= local_date(at) <= p.valid_until


def _residence_permit_valid(state: CaseState, at: datetime) -> bool:
    p = state.residence_permit
    return p is not None and p.valid_from <= local_date(at) <= p.valid_until


def _follow_on_decided(state: CaseState) -> bool:
    return state.further_support is not None or (
        state.safe_accommodation is not None and state.safe_accommodation.active
    )


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------


def _who(event: BaseEvent) -> str:
    return event.organisation.value + (f" ({event.actor})" if event.actor else "")


def _open_case(change: _Change, event: ev.Identified) -> None:
    """R1: assistance starts at identification, before any formal status."""
    state, cfg = change.state, change.config
    sla_due = event.occurred_at + cfg.rights_information_sla
    _first_members(change, event)
    change.open_obligation(
        _Duty(
            ObligationKind.NGO_INTERVIEW,
            "R2",
            state.lead_ngo,
            "Hold the individual interview with the victim before the police gather information.",
        )
    )
    for subject in RightsSubject:
        change.open_obligation(
            _Duty(
                ObligationKind.RIGHTS_INFORMATION,
                "R3",
                state.lead_ngo,
                "Inform the victim, in a language they understand, on subject "
                f"({subject.value[0]}).",
            ),
            due_at=sla_due,
            suffix=subject.value,
        )
    change.set_deadline(DeadlineKind.RIGHTS_INFORMATION, "R3", sla_due)
    change.notify(
        [state.lead_ngo],
        "case_identified",
        "R1",
        "New case: assistance starts now. Hold the individual interview (R2) and give the "
        "rights information on all nine subjects (R3).",
        due_at=sla_due,
    )
    if event.organisation is not Org.POLICE:
        change.notify(
            [Org.POLICE],
            "case_identified",
            "R1",
            "New case identified by another authority; no information gathering "
            "before the NGO interview (R2).",
        )
    state.found_in = event.found_in
    if state.is_minor_at(event.occurred_at):
        _open_child_track(change, event.occurred_at)


def _first_members(change: _Change, event: ev.Identified) -> None:
    """R1: the identifying authority, the NGO that leads the case and the police (told of
    every case, R2) are its first members; the migration authority too for a third-country
    national (S3, S4)."""
    change.add_member(
        event.organisation,
        MemberRole.IDENTIFYING_AUTHORITY,
        "R1",
        "identified the person on reasonable grounds and opened the case (R1)",
    )
    change.set_lead(change.state.lead_ngo, "R2")
    if event.organisation is not Org.POLICE:
        change.add_member(
            Org.POLICE,
            MemberRole.ASSIGNED,
            "R2",
            "told of the new case: no information gathering before the NGO interview (R2)",
        )
    _residence_authority(change)


def _residence_authority(change: _Change) -> None:
    """S3, S4: a third-country national's stay depends on a temporary residence permit, which
    the migration authority decides."""
    if change.state.person.is_third_country_national:
        change.add_member(
            Org.MIGRATION_AUTHORITY,
            MemberRole.RESIDENCE_AUTHORITY,
            "S4",
            "decides the temporary residence permit of a third-country national (S3, S4)",
        )


# ---------------------------------------------------------------------------------------------
# Children (C1–C8)
# ---------------------------------------------------------------------------------------------


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
_REPRESENTATIVE = _ChildTimer(
    ObligationKind.AUTHORISED_REPRESENTATIVE,
    DeadlineKind.AUTHORISED_REPRESENTATIVE,
    "C7",
    lambda c: c.authorised_representative_sla,
)


def _child_obligation(change: _Change, timer: _ChildTimer, action: str, since: datetime) -> None:
    """Open ``timer``'s obligation with its timer running from ``since`` (when the need arose,
    which a back-dated event puts in the past)."""
    due = since + timer.sla(change.config)
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


def _representative(change: _Change, event: ev.AuthorisedRepresentativeAppointed) -> None:
    cp = _require_child(change, event, "C7")
    cp.authorised_representative_at = event.occurred_at
    _close_child_obligation(change, event.event_id, _REPRESENTATIVE)
    change.add_member(
        Org.GUARDIAN,
        MemberRole.GUARDIAN,
        "C7",
        "the minor injured party's authorised representative in criminal proceedings (C7)",
    )


def _main_hearing(change: _Change, event: ev.MainHearingScheduled) -> None:
    state = change.state
    cp = state.criminal_proceedings
    if cp is None or cp.concluded_at is not None:
        _reject("K6", "type", "there are no open criminal proceedings")
    if event.direct_questioning:
        age = state.person.age_on(event.hearing_date)
        if age is None:
            _reject(
                "C8",
                "direct_questioning",
                "the person's age is not recorded: direct questioning at the main hearing "
                "needs a known age of at least 15",
            )
        if age < 15:
            _reject(
                "C8",
                "direct_questioning",
                "no direct questioning at the main hearing of a person under 15 on the "
                "hearing date",
            )
    state.hearings.append(
        Hearing(
            hearing_date=event.hearing_date,
            direct_questioning=event.direct_questioning,
            scheduled_at=event.occurred_at,
        )
    )


def _accompanying_child(change: _Change, event: ev.AccompanyingChildRecorded) -> None:
    state = change.state
    if any(c.child_ref == event.child_ref for c in state.accompanying_children):
        _reject("CASE", "child_ref", "this accompanying child is already recorded")
    placement = (
        state.crisis_accommodation
        if event.placed_with is Placement.CRISIS_ACCOMMODATION
        else state.safe_accommodation
    )
    if placement is None or not placement.active:
        rule = "K1" if event.placed_with is Placement.CRISIS_ACCOMMODATION else "S1"
        _reject(rule, "placed_with", f"the victim is not in {event.placed_with.value}")
    state.accompanying_children.append(
        AccompanyingChild(
            child_ref=event.child_ref,
            birth_date=event.birth_date,
            age_estimate=event.age_estimate,
            gender=event.gender,
            citizenships=list(event.citizenships),
            placed_with=event.placed_with,
            recorded_at=event.occurred_at,
        )
    )


def _accompanying_child_identified(change: _Change, event: ev.AccompanyingChildIdentified) -> None:
    """R1: the child's own case opens, started by this workflow and linked to this case."""
    state = change.state
    child = next((c for c in state.accompanying_children if c.child_ref == event.child_ref), None)
    if child is None:
        _reject("R1", "child_ref", "no accompanying child with this reference is recorded")
    if child.own_case_id is not None:
        _reject("R1", "child_ref", "this child's own case is already open")
    try:
        person = PersonFacts(
            birth_date=child.birth_date,
            age_estimate=child.age_estimate,
            gender=child.gender,
            citizenships=child.citizenships,
            residence_status=event.residence_status,
            languages=event.languages,
            unaccompanied=event.unaccompanied,
        )
    except ValidationError as err:
        _reject("R1", "residence_status", str(err.errors()[0]["msg"]))
    case_id, subject_ref, secret = _linked_case(state, event.child_ref)
    identified = ev.Identified(
        event_id=f"{event.event_id}/own-case",
        organisation=event.organisation,
        actor=event.actor,
        occurred_at=event.occurred_at,
        reason=event.reason,
        subject_ref=subject_ref,
        person=person,
    )
    child.own_case_id = case_id
    state.linked_cases.append(case_id)
    state.pending_case_starts.append(
        CaseStart(case_id=case_id, identified=identified, link_secret=secret)
    )


def _linked_case(state: CaseState, child_ref: str) -> tuple[str, str, str | None]:
    """R1: the child's own case ID, the reference its identification carries, and its link
    secret.

    With the case's link secret (every case opened since linked cases had one): a keyed hash
    of the child's reference (:func:`~pathway.domain.ids.linked_case_id`), in the format of
    every case ID, which reveals nothing of this case's ID; the identification's reference is
    the child's own case ID (so the child's case holds no trace of the parent's ID but its
    ``linked_cases``); the child's secret derives from this one. Without it (cases opened
    before, replayed from their histories), the old scheme, unchanged: the parent's ID with the
    child's reference appended.
    """
    if state.link_secret is None:
        return f"{state.case_id}-{child_ref}", f"{state.case_id}/{child_ref}", None
    case_id = ids.linked_case_id(state.link_secret, child_ref)
    return case_id, case_id, ids.linked_case_secret(state.link_secret, child_ref)


def _criminal_proceedings_for_minor(change: _Change, event: ev.CriminalProceedingsOpened) -> None:
    """C7: a minor injured party has an authorised representative throughout."""
    if event.authorised_representative or not change.state.is_minor_at(event.occurred_at):
        return
    _child_obligation(
        change,
        _REPRESENTATIVE,
        "The minor injured party has no authorised representative in the "
        "criminal proceedings: have one appointed (C7).",
        event.occurred_at,
    )
    change.notify(
        [Org.SOCIAL_WORK_CENTRE, Org.POLICE],
        "authorised_representative_missing",
        "C7",
        "Criminal proceedings opened for a minor injured party without an "
        "authorised representative (C7).",
    )


# ---------------------------------------------------------------------------------------------
# Special needs (K4) and reintegration services (I1)
# ---------------------------------------------------------------------------------------------


def _special_need(change: _Change, event: ev.SpecialNeedFlagged) -> None:
    state = change.state
    provider = event.provider or state.lead_ngo
    state.special_needs.append(
        SpecialNeedRecord(
            need=event.need,
            detail=event.detail,
            provider=provider,
            flagged_at=event.occurred_at,
        )
    )
    # The obligation's ID and the notification name no need: that is a health detail.
    change.open_obligation(
        _Duty(
            ObligationKind.SPECIAL_NEED_REFERRAL,
            "K4",
            provider,
            "Refer the person for appropriate help with a special need (K4).",
        ),
        suffix=str(len(state.special_needs)),
    )
    change.notify(
        [provider],
        "special_need_referral",
        "K4",
        "A special need calls for appropriate help: see the case and refer (K4).",
    )


def _special_need_referred(change: _Change, event: ev.SpecialNeedReferralMade) -> None:
    state = change.state
    for number, record in enumerate(state.special_needs, start=1):
        if record.need is event.need and record.referred_at is None:
            record.referred_at = event.occurred_at
            change.add_member(
                record.provider,
                MemberRole.PROVIDER,
                "K4",
                "provides appropriate help with a special need (K4)",
            )
            change.close_obligations(
                event.event_id, ids=[f"{ObligationKind.SPECIAL_NEED_REFERRAL.value}:{number}"]
            )
            return
    _reject("K4", "need", "no unreferred special need of this kind is flagged")


def _reintegration_service(change: _Change, event: ev.ReintegrationServiceRecorded) -> None:
    if change.state.reintegration is None:
        _reject("I1", "type", "the person is not enrolled in reintegration")
    change.state.reintegration.services.append(event.service)


def _ngo_interview(change: _Change, event: ev.NgoInterviewHeld) -> None:
    change.state.ngo_interview_at = event.occurred_at
    change.set_lead(event.organisation, "R2")
    change.close_obligations(event.event_id, ObligationKind.NGO_INTERVIEW)


def _rights_information(change: _Change, event: ev.RightsInformationGiven) -> None:
    state = change.state
    if state.person.languages and event.language not in state.person.languages:
        # The reason names no recorded language: error texts travel to senders and logs.
        _reject(
            "R3",
            "language",
            "information must be given in a language the victim is recorded as understanding",
        )
    for subject in event.subjects:
        state.rights_information[subject] = RightsGiven(
            at=event.occurred_at,
            language=event.language,
            interpreter_used=event.interpreter_used,
            by=event.organisation,
        )
    change.close_obligations(
        event.event_id,
        ids=[f"{ObligationKind.RIGHTS_INFORMATION.value}:{s.value}" for s in event.subjects],
    )
    if len(state.rights_information) == len(RightsSubject):
        change.end_deadline(DeadlineKind.RIGHTS_INFORMATION)


def _police_information_gathering(
    change: _Change, event: ev.PoliceInformationGatheringStarted
) -> None:
    state = change.state
    if state.ngo_interview_at is None or state.ngo_interview_at > event.occurred_at:
        _reject(
            "R2",
            "type",
            "the individual interview with an NGO must take place before the police start "
            "gathering information",
        )
    state.police_interview = PoliceInterview(
        at=event.occurred_at,
        trusted_person_offered=event.trusted_person_offered,
        present=event.present,
    )


def _consent_or_reject(
    rule: str, event: ev.CrisisAccommodationPlaced | ev.SafeAccommodationPlaced
) -> ev.WrittenConsent:
    if event.consent is None:
        _reject(rule, "consent", "placement needs the victim's consent by written statement")
    if event.consent.signed_on > local_date(event.occurred_at):
        _reject(rule, "consent.signed_on", "the written consent is dated after the placement")
    return event.consent


def _start_reflection(change: _Change, at: datetime) -> None:
    """K5: the 30-day recovery and reflection period, with its reminder to NGO and police."""
    state, cfg = change.state, change.config
    state.reflection_started_at = at
    due = at + cfg.reflection_period
    change.set_deadline(
        DeadlineKind.REFLECTION_PERIOD,
        "K5",
        due,
        due - cfg.reflection_reminder,
        [Org.POLICE],
        lead_ngo=True,
    )
    if state.phase in (Phase.IDENTIFIED, *EXIT_PHASES):
        state.phase = Phase.REFLECTION


def _crisis_accommodation(change: _Change, event: ev.CrisisAccommodationPlaced) -> None:
    state, cfg = change.state, change.config
    consent = _consent_or_reject("K2", event)
    if state.crisis_accommodation is not None and state.crisis_accommodation.active:
        _reject("K1", "type", "the victim is already in crisis accommodation")
    state.crisis_accommodation = PlacementRecord(
        provider=event.organisation,
        since=event.occurred_at,
        consent_signed_on=consent.signed_on,
    )
    change.set_lead(event.organisation, "K1")
    _placement_members(change, Placement.CRISIS_ACCOMMODATION, event.organisation)
    due = event.occurred_at + cfg.crisis_accommodation
    change.set_deadline(
        DeadlineKind.CRISIS_ACCOMMODATION,
        "K1",
        due,
        due - cfg.crisis_accommodation_reminder,
        [Org.CARITAS, Org.LABOUR_MINISTRY],
    )
    if state.reflection_started_at is None:
        _start_reflection(change, event.occurred_at)
    elif state.phase in EXIT_PHASES:
        state.phase = Phase.REFLECTION


def _reflection_started(change: _Change, event: ev.ReflectionPeriodStarted) -> None:
    if change.state.reflection_started_at is not None:
        _reject("K5", "type", "the reflection period has already started")
    _start_reflection(change, event.occurred_at)


def _decision_taken(change: _Change, by: str) -> None:
    """K5: a decision on further support ends the reflection decision point."""
    change.end_deadline(DeadlineKind.REFLECTION_PERIOD)
    change.close_obligations(
        by, ObligationKind.REFLECTION_DECISION, ObligationKind.FOLLOW_ON_PLACEMENT
    )


def _further_support(change: _Change, event: ev.FurtherSupportDecided) -> None:
    change.state.further_support = event.option
    _decision_taken(change, event.event_id)
    referral = membership.REFERRALS.get(event.option)
    if referral is not None:  # K5: a referral to Ključ makes it a member (S1, I1)
        change.add_member(Org.KLJUC, MemberRole.REFERRED, *referral)


#: What each placement's provider and co-financing ministry are members for, and by which rule.
_PLACEMENT_MEMBERS: dict[Placement, tuple[str, Org, str, str]] = {
    Placement.CRISIS_ACCOMMODATION: (
        "K1",
        Org.LABOUR_MINISTRY,
        "provides crisis accommodation (K1, K3)",
        "co-finances crisis accommodation; alerted at 30 days (K1)",
    ),
    Placement.SAFE_ACCOMMODATION: (
        "S1",
        Org.INTERIOR_MINISTRY,
        "provides safe accommodation (S1, S2)",
        "co-finances safe accommodation (S1)",
    ),
}


def _placement_members(change: _Change, placement: Placement, provider: Org) -> None:
    rule, ministry, provides, finances = _PLACEMENT_MEMBERS[placement]
    change.add_member(provider, MemberRole.PROVIDER, rule, provides)
    change.add_member(ministry, MemberRole.CO_FINANCER, rule, finances)


def _end_placement(change: _Change, placement: Placement, reason: str) -> bool:
    state = change.state
    record = (
        state.crisis_accommodation
        if placement is Placement.CRISIS_ACCOMMODATION
        else state.safe_accommodation
    )
    if record is None or not record.active:
        return False
    record.ended_at = change.now
    record.end_reason = reason
    if placement is Placement.CRISIS_ACCOMMODATION:
        change.end_deadline(DeadlineKind.CRISIS_ACCOMMODATION)
    rule, ministry, _, _ = _PLACEMENT_MEMBERS[placement]
    why = f"the placement ended: {reason}"
    change.end_member(record.provider, MemberRole.PROVIDER, rule, why, given_by=rule)
    change.end_member(ministry, MemberRole.CO_FINANCER, rule, why, given_by=rule)
    return True


def _crisis_ended(change: _Change, event: ev.CrisisAccommodationEnded) -> None:
    if not _end_placement(change, Placement.CRISIS_ACCOMMODATION, "ended"):
        _reject("K1", "type", "the victim is not in crisis accommodation")


def _safe_accommodation(change: _Change, event: ev.SafeAccommodationPlaced) -> None:
    state = change.state
    consent = _consent_or_reject("S1", event)
    if state.safe_accommodation is not None and state.safe_accommodation.active:
        _reject("S1", "type", "the victim is already in safe accommodation")
    if state.person.is_third_country_national:
        if not _permit_to_stay_valid(state, event.occurred_at):
            _reject(
                "S3",
                "type",
                "safe accommodation of a third-country national requires a valid permit to "
                "stay (K7)",
            )
        if not _residence_permit_valid(state, event.occurred_at):
            _reject(
                "S3",
                "type",
                "safe accommodation of a third-country national requires a valid temporary "
                "residence permit (S4)",
            )
    _end_placement(change, Placement.CRISIS_ACCOMMODATION, "moved to safe accommodation")
    state.safe_accommodation = PlacementRecord(
        provider=event.organisation,
        since=event.occurred_at,
        consent_signed_on=consent.signed_on,
    )
    change.set_lead(event.organisation, "S1")
    _placement_members(change, Placement.SAFE_ACCOMMODATION, event.organisation)
    state.phase = Phase.SAFE_ACCOMMODATION
    _decision_taken(change, event.event_id)


def _safe_ended(change: _Change, event: ev.SafeAccommodationEnded) -> None:
    if not _end_placement(change, Placement.SAFE_ACCOMMODATION, "ended"):
        _reject("S5", "type", "the victim is not in safe accommodation")
    change.close_obligations(event.event_id, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS)


def _consent_withdrawn(change: _Change, event: ev.ConsentWithdrawn) -> None:
    """K2: withdrawal ends the placement, never the other rights (reflection, permits...)."""
    if not _end_placement(change, event.placement, "consent withdrawn (K2)"):
        _reject("K2", "placement", f"the victim is not in {event.placement.value}")


def _permit_to_stay(change: _Change, event: ev.PermitToStayGranted) -> None:
    state, cfg = change.state, change.config
    if state.person.is_eu_citizen:
        _reject("K7", "type", "a permit to stay is for victims residing illegally, not EU citizens")
    if state.permit_to_stay is not None:
        _reject("K7", "type", "a permit to stay was already granted; extend it instead")
    # Valid through the day before the same date N months on (1 March + 3 months: 31 May).
    until = add_months(event.valid_from, cfg.permit_to_stay_months) - timedelta(days=1)
    state.permit_to_stay = PermitToStay(
        basis=event.basis, valid_from=event.valid_from, valid_until=until
    )
    change.add_member(
        Org.POLICE,
        MemberRole.RESIDENCE_AUTHORITY,
        "K7",
        "decided the stay of a victim residing illegally, and may record the return home at "
        "its end (K7)",
    )
    _set_permit_deadline(change)


def _set_permit_deadline(change: _Change) -> None:
    state, cfg = change.state, change.config
    assert state.permit_to_stay is not None
    due = end_of_day(state.permit_to_stay.valid_until)
    change.set_deadline(
        DeadlineKind.PERMIT_TO_STAY,
        "K7",
        due,
        due - cfg.permit_to_stay_reminder,
        [Org.POLICE],
        lead_ngo=True,
    )


def _permit_extended(change: _Change, event: ev.PermitToStayExtended) -> None:
    state, cfg = change.state, change.config
    permit = state.permit_to_stay
    if permit is None:
        _reject("K7", "type", "there is no permit to stay to extend")
    if permit.extended_by_months is not None:
        _reject("K7", "type", "the permit to stay may be extended only once")
    if event.months > cfg.permit_to_stay_extension_max_months:
        _reject(
            "K7",
            "months",
            f"an extension may last at most {cfg.permit_to_stay_extension_max_months} months",
        )
    permit.extended_by_months = event.months
    permit.valid_until = add_months(
        permit.valid_until + timedelta(days=1), event.months
    ) - timedelta(days=1)
    _set_permit_deadline(change)
    change.close_obligations(event.event_id, ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION)


def _set_residence_deadline(change: _Change) -> None:
    state, cfg = change.state, change.config
    assert state.residence_permit is not None
    due = end_of_day(state.residence_permit.valid_until)
    change.set_deadline(
        DeadlineKind.TEMPORARY_RESIDENCE_PERMIT,
        "S4",
        due,
        due - cfg.residence_permit_reminder,
        [Org.MIGRATION_AUTHORITY],
        lead_ngo=True,
    )


def _residence_permit(change: _Change, event: ev.TemporaryResidencePermitGranted) -> None:
    state = change.state
    if state.person.is_eu_citizen:
        _reject(
            "S4",
            "type",
            "a temporary residence permit under Article 50 is for third-country nationals",
        )
    if event.valid_until <= event.valid_from:
        _reject("S4", "valid_until", "the permit must end after it starts")
    state.residence_permit = ResidencePermit(
        basis=event.basis,
        valid_from=event.valid_from,
        valid_until=event.valid_until,
        permit_number=event.permit_number,
    )
    _set_residence_deadline(change)
    change.close_obligations(event.event_id, ObligationKind.RESIDENCE_PERMIT_RENEWAL)


def _residence_renewed(change: _Change, event: ev.TemporaryResidencePermitRenewed) -> None:
    permit = change.state.residence_permit
    if permit is None:
        _reject("S4", "type", "there is no temporary residence permit to renew")
    if event.valid_until <= permit.valid_until:
        _reject("S4", "valid_until", "a renewal must end after the current permit")
    permit.valid_until = event.valid_until
    _set_residence_deadline(change)
    change.close_obligations(event.event_id, ObligationKind.RESIDENCE_PERMIT_RENEWAL)


def _proceedings_opened(change: _Change, event: ev.CriminalProceedingsOpened) -> None:
    cp = change.state.criminal_proceedings
    if cp is not None and cp.concluded_at is None:
        _reject("K6", "type", "criminal proceedings are already open")
    change.state.criminal_proceedings = CriminalProceedings(opened_at=event.occurred_at)
    _criminal_proceedings_for_minor(change, event)


def _proceedings_concluded(change: _Change, event: ev.CriminalProceedingsConcluded) -> None:
    state = change.state
    cp = state.criminal_proceedings
    if cp is None or cp.concluded_at is not None:
        _reject("K6", "type", "there are no open criminal proceedings")
    cp.concluded_at = event.occurred_at
    placed = state.safe_accommodation is not None and state.safe_accommodation.active
    if placed and state.person.is_third_country_national:
        # S5: for third-country nationals safe accommodation lasts until proceedings conclude;
        # K6: assistance continues for an appropriate period after, so it is a plan, not an end.
        action = (
            "Criminal proceedings concluded: agree the victim's next step after safe "
            "accommodation (K6 support continues for an appropriate period)."
        )
        change.open_obligation(
            _Duty(ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS, "S5", Org.KLJUC, action)
        )
        change.notify([Org.KLJUC], "proceedings_concluded", "S5", action)


def _cooperation(change: _Change, event: ev.CooperationRecorded) -> None:
    """R5: recorded only. No rule reads it to end or refuse assistance."""
    change.state.cooperation = Cooperation(
        at=event.occurred_at,
        willing_to_cooperate=event.willing_to_cooperate,
        willing_to_be_witness=event.willing_to_be_witness,
    )


def _reintegration(change: _Change, event: ev.ReintegrationEnrolled) -> None:
    state = change.state
    if state.reintegration is not None:
        _reject("I1", "type", "already enrolled in reintegration")
    eligible, why = reintegration_eligibility(state, event.occurred_at)
    if not eligible:
        _reject("I1", "type", why)
    state.reintegration = Reintegration(
        enrolled_at=event.occurred_at, personal_plan=event.personal_plan
    )
    change.add_member(
        event.organisation, MemberRole.PROVIDER, "I1", "provides the reintegration programme (I1)"
    )
    state.phase = Phase.REINTEGRATION
    _decision_taken(change, event.event_id)


def _facts_updated(change: _Change, event: ev.FactsUpdated) -> None:
    state = change.state
    state.person = event.person
    _residence_authority(change)
    if state.child_protection is None and state.is_minor_at(event.occurred_at):
        _open_child_track(change, event.occurred_at)  # an age estimate may reveal a child
    elif state.child_track_open_at(event.occurred_at):
        _set_age_timers(change)


def _leave_assistance(change: _Change, event: BaseEvent, phase: Phase) -> None:
    """Exits: placements and the accommodation timers end; legal-status timers go on."""
    state = change.state
    _end_placement(change, Placement.CRISIS_ACCOMMODATION, phase.value)
    _end_placement(change, Placement.SAFE_ACCOMMODATION, phase.value)
    change.end_deadline(DeadlineKind.REFLECTION_PERIOD)
    change.end_deadline(DeadlineKind.RIGHTS_INFORMATION)
    change.close_obligations(
        event.event_id,
        ObligationKind.NGO_INTERVIEW,
        ObligationKind.RIGHTS_INFORMATION,
        ObligationKind.REFLECTION_DECISION,
        ObligationKind.FOLLOW_ON_PLACEMENT,
        ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS,
    )
    state.phase = phase


def _returned_home(change: _Change, event: ev.ReturnedHome) -> None:
    _leave_assistance(change, event, Phase.RETURNED_HOME)


def _departed(change: _Change, event: ev.Departed) -> None:
    _leave_assistance(change, event, Phase.DECLINED_LEFT)
    if event.arbitrary:
        change.notify(
            [Org.POLICE, change.state.lead_ngo],
            "arbitrary_departure",
            "R1",
            "The victim left assistance without notice: check on their safety. The case stays "
            "open and assistance resumes if they return.",
        )


def _case_closed(change: _Change, event: ev.CaseClosed) -> None:
    state = change.state
    _leave_assistance(change, event, Phase.CLOSED)
    for kind in list(state.deadlines):
        change.end_deadline(kind)
    change.close_obligations(event.event_id, *ObligationKind)
    state.closed_at = event.occurred_at


_HANDLERS: dict[type[BaseEvent], Callable[[_Change, Any], None]] = {
    ev.NgoInterviewHeld: _ngo_interview,
    ev.RightsInformationGiven: _rights_information,
    ev.PoliceInformationGatheringStarted: _police_information_gathering,
    ev.CrisisAccommodationPlaced: _crisis_accommodation,
    ev.ReflectionPeriodStarted: _reflection_started,
    ev.FurtherSupportDecided: _further_support,
    ev.CrisisAccommodationEnded: _crisis_ended,
    ev.SafeAccommodationPlaced: _safe_accommodation,
    ev.SafeAccommodationEnded: _safe_ended,
    ev.ConsentWithdrawn: _consent_withdrawn,
    ev.PermitToStayGranted: _permit_to_stay,
    ev.PermitToStayExtended: _permit_extended,
    ev.TemporaryResidencePermitGranted: _residence_permit,
    ev.TemporaryResidencePermitRenewed: _residence_renewed,
    ev.CriminalProceedingsOpened: _proceedings_opened,
    ev.CriminalProceedingsConcluded: _proceedings_concluded,
    ev.CooperationRecorded: _cooperation,
    ev.ReintegrationEnrolled: _reintegration,
    ev.FactsUpdated: _facts_updated,
    ev.ReturnedHome: _returned_home,
    ev.Departed: _departed,
    ev.CaseClosed: _case_closed,
    ev.ReintegrationServiceRecorded: _reintegration_service,
    ev.SwcInterviewHeld: _swc_interview,
    ev.ChildAccommodatedInFacility: _facility,
    ev.GuardianAppointed: _guardian,
    ev.FamilyContactRecorded: _family_contact,
    ev.AuthorisedRepresentativeAppointed: _representative,
    ev.MainHearingScheduled: _main_hearing,
    ev.AccompanyingChildRecorded: _accompanying_child,
    ev.AccompanyingChildIdentified: _accompanying_child_identified,
    ev.SpecialNeedFlagged: _special_need,
    ev.SpecialNeedReferralMade: _special_need_referred,
}


def _common_checks(
    state: CaseState | None, event: BaseEvent, now: datetime, config: CaseConfig
) -> None:
    if event.organisation not in type(event).senders:
        allowed = ", ".join(sorted(o.value for o in type(event).senders))
        _reject(
            RULE_ACCESS,
            "organisation",
            f"'{event.organisation.value}' may not send {event.type} events (allowed: {allowed})",
        )
    if event.occurred_at > now + config.future_tolerance:
        _reject(
            RULE_TIME,
            "occurred_at",
            f"the event lies in the future (more than {config.future_tolerance} ahead)",
        )
    if state is not None and event.occurred_at < state.opened_at:
        _reject(RULE_TIME, "occurred_at", "the event lies before the case's identification")


def decide(
    state: CaseState | None,
    event: CaseEvent,
    now: datetime,
    *,
    case_id: str,
    config: CaseConfig | None = None,
    link_secret: str | None = None,
) -> Decision:
    """Apply ``event`` at ``now`` to ``state`` (``None`` before identification).

    Pure: ``state`` is not modified. A repeat of an already accepted ``event_id`` returns the
    first result (marked duplicate) and changes nothing. ``config`` and ``link_secret`` are
    read only by the identification that opens the case, which keeps them in the new state
    (``link_secret``: the random secret from which the IDs of the cases this one opens derive,
    R1; see :func:`_linked_case`).
    """
    try:
        if state is not None:
            seen = state.processed.get(event.event_id)
            if seen is not None:
                if seen.digest != event_digest(event):
                    _reject(
                        RULE_IDEMPOTENCY,
                        "event_id",
                        "this event_id was already used for a different event",
                    )
                result = seen.result or EventResult(
                    event_id=event.event_id, event_type=event.type, summary=state.summary()
                )
                return Accepted(state, Effects(), result.model_copy(update={"duplicate": True}))
        cfg = state.config if state is not None else (config or CaseConfig())
        _common_checks(state, event, now, cfg)
        if isinstance(event, ev.Identified):
            if state is not None:
                _reject(RULE_CASE, "type", "this case has already been identified")
            new = CaseState(
                case_id=case_id,
                config=cfg,
                opened_at=event.occurred_at,
                person=event.person,
                link_secret=link_secret,
            )
            change = _Change(new, now, event)
            _open_case(change, event)
        else:
            if state is None:
                _reject(
                    RULE_CASE,
                    "type",
                    "the case has not been opened: the first event must be 'identified'",
                )
            if state.phase is Phase.CLOSED:
                _reject(RULE_CASE, "type", "the case is closed")
            change = _Change(working_copy(state), now, event)
            _child_checks(change, event)
            _HANDLERS[type(event)](change, event)
            _inform_of_measure(change, event)
    except _Reject as rejected:
        return rejected.rejection
    change.record_event(event, _EVENT_RULES.get(event.type))
    result = EventResult(
        event_id=event.event_id, event_type=event.type, summary=change.state.summary()
    )
    _remember(change.state, event, result)
    return Accepted(change.state, change.effects, result)


def _remember(state: CaseState, event: BaseEvent, result: EventResult) -> None:
    """Keep the event for idempotency; drop the full result of the one that falls out of the
    window of recent events (insertion order is acceptance order)."""
    state.processed[event.event_id] = ProcessedEvent(
        digest=event_digest(event), event_type=event.type, result=result
    )
    if len(state.processed) > RESULTS_KEPT:
        old_id = list(state.processed)[-RESULTS_KEPT - 1]
        old = state.processed[old_id]
        if old.result is not None:
            state.processed[old_id] = old.model_copy(update={"result": None})


#: Collections that only ever grow by appending new items, never by changing old ones: a
#: working copy may share their items (a shallow copy of the container suffices).
_APPEND_ONLY = frozenset({"timeline", "processed"})


def working_copy(state: CaseState) -> CaseState:
    """A copy that a change may modify freely, without copying the (large, append-only)
    timeline and idempotency record item by item."""
    copy = state.model_copy()
    for name in type(state).model_fields:
        value = getattr(state, name)
        if name in _APPEND_ONLY:
            setattr(copy, name, type(value)(value))
        elif isinstance(value, (BaseModel, list, dict)):
            setattr(copy, name, deepcopy(value))
    return copy


_EVENT_RULES = {
    "identified": "R1",
    "ngo_interview_held": "R2",
    "rights_information_given": "R3",
    "police_information_gathering_started": "R2, R4",
    "crisis_accommodation_placed": "K1, K2",
    "reflection_period_started": "K5",
    "further_support_decided": "K5",
    "crisis_accommodation_ended": "K1",
    "safe_accommodation_placed": "S1, S3",
    "safe_accommodation_ended": "S5",
    "consent_withdrawn": "K2",
    "permit_to_stay_granted": "K7",
    "permit_to_stay_extended": "K7",
    "temporary_residence_permit_granted": "S4",
    "temporary_residence_permit_renewed": "S4",
    "criminal_proceedings_opened": "K6",
    "criminal_proceedings_concluded": "S5, K6",
    "cooperation_recorded": "R5",
    "reintegration_enrolled": "I1",
    "reintegration_service_recorded": "I1",
    "swc_interview_held": "C5",
    "child_accommodated_in_facility": "C5",
    "guardian_appointed": "C4",
    "family_contact_recorded": "C6",
    "authorised_representative_appointed": "C7",
    "main_hearing_scheduled": "C8",
    "accompanying_child_recorded": "K1, S1",
    "accompanying_child_identified": "R1",
    "special_need_flagged": "K4",
    "special_need_referral_made": "K4",
}


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------


def _expire_rights_information(change: _Change) -> None:
    state = change.state
    missing = [s for s in RightsSubject if s not in state.rights_information]
    if not missing:
        return
    letters = ", ".join(f"({s.value[0]})" for s in missing)
    for ob in state.open_obligations:
        if ob.kind is ObligationKind.RIGHTS_INFORMATION and ob.escalated_at is None:
            ob.escalated_at = change.now
    change.notify(
        [state.lead_ngo],
        "rights_information_escalation",
        "R3",
        f"Rights information is overdue on subjects {letters}: give it now, in a "
        "language the victim understands.",
    )


def _expire_reflection(change: _Change) -> None:
    state = change.state
    action = (
        "The reflection period has ended: decide with the victim on safe accommodation, "
        "return or other support. The victim stays in assistance (K5, R5)."
    )
    change.open_obligation(_Duty(ObligationKind.REFLECTION_DECISION, "K5", state.lead_ngo, action))
    change.notify([state.lead_ngo, Org.POLICE], "reflection_period_ended", "K5", action)


def _expire_crisis(change: _Change) -> None:
    if _follow_on_decided(change.state):
        return
    action = (
        "Crisis accommodation reached 30 days with no follow-on placement decided: "
        "decide the follow-on placement (K1)."
    )
    change.open_obligation(
        _Duty(ObligationKind.FOLLOW_ON_PLACEMENT, "K1", Org.CARITAS, action), escalated=True
    )
    change.notify(
        [Org.CARITAS, Org.LABOUR_MINISTRY], "crisis_accommodation_escalation", "K1", action
    )


def _expire_permit_to_stay(change: _Change) -> None:
    state = change.state
    permit = state.permit_to_stay
    assert permit is not None
    if permit.extended_by_months is None:
        action = (
            "The permit to stay has expired: decide on the one extension of at most "
            f"{change.config.permit_to_stay_extension_max_months} months (K7)."
        )
        change.open_obligation(
            _Duty(ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION, "K7", Org.POLICE, action)
        )
    else:
        action = "The extended permit to stay has expired; no further extension is possible (K7)."
    change.notify([Org.POLICE, state.lead_ngo], "permit_to_stay_expired", "K7", action)


def _expire_residence_permit(change: _Change) -> None:
    state = change.state
    action = "The temporary residence permit has expired: renewal is due (S4)."
    change.open_obligation(
        _Duty(ObligationKind.RESIDENCE_PERMIT_RENEWAL, "S4", Org.MIGRATION_AUTHORITY, action)
    )
    recipients = [Org.MIGRATION_AUTHORITY, state.lead_ngo]
    if state.safe_accommodation is not None and state.safe_accommodation.active:
        action += " Safe accommodation of a third-country national depends on it (S3)."
    change.notify(recipients, "residence_permit_expired", "S3", action)


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
        due = change.now + timer.sla(change.config)
        for ob in open_ones:
            ob.escalated_at = ob.escalated_at or change.now
            ob.due_at = due
        change.notify([Org.SOCIAL_WORK_CENTRE, *extra], reason, timer.rule, text, due_at=due)
        change.set_deadline(timer.deadline, timer.rule, due)

    return expire


def _turns_15(change: _Change) -> None:
    cp = change.state.criminal_proceedings
    if cp is not None and cp.concluded_at is None:
        change.notify(
            [Org.POLICE],
            "turned_15",
            "C8",
            "The injured party has turned 15: C8 no longer bars direct questioning at "
            "the main hearing; other child protections still apply.",
        )


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


_EXPIRY: dict[DeadlineKind, Callable[[_Change], None]] = {
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
    DeadlineKind.AUTHORISED_REPRESENTATIVE: _repeat_child_escalation(
        _REPRESENTATIVE,
        "authorised_representative_missing",
        "The minor injured party still has no authorised representative (C7).",
        extra=(Org.POLICE,),
    ),
    DeadlineKind.TURNS_15: _turns_15,
    DeadlineKind.TURNS_18: _turns_18,
    DeadlineKind.RIGHTS_INFORMATION: _expire_rights_information,
    DeadlineKind.REFLECTION_PERIOD: _expire_reflection,
    DeadlineKind.CRISIS_ACCOMMODATION: _expire_crisis,
    DeadlineKind.PERMIT_TO_STAY: _expire_permit_to_stay,
    DeadlineKind.TEMPORARY_RESIDENCE_PERMIT: _expire_residence_permit,
}

_REMINDER_TEXT: dict[DeadlineKind, str] = {
    DeadlineKind.RIGHTS_INFORMATION: "Rights information (R3) is due by {due}.",
    DeadlineKind.REFLECTION_PERIOD: (
        "The reflection period ends on {due}: prepare the decision on further support (K5)."
    ),
    DeadlineKind.CRISIS_ACCOMMODATION: (
        "Crisis accommodation reaches 30 days on {due}: arrange the follow-on placement (K1)."
    ),
    DeadlineKind.PERMIT_TO_STAY: (
        "The permit to stay expires on {due}: decide on the extension (K7)."
    ),
    DeadlineKind.TEMPORARY_RESIDENCE_PERMIT: (
        "The temporary residence permit expires on {due}: renewal is due (S3, S4)."
    ),
}
# The child-protection deadlines have no reminder before expiry: their expiry is the reminder,
# repeated until the obligation is met.


def _escalate_undelivered_reminders(change: _Change, deadline: Deadline) -> None:
    """A reminder still undelivered when its deadline is reached has lost its lead time:
    someone reachable must now tell the recipient (the reminder itself keeps retrying)."""
    state = change.state
    reason = f"{deadline.kind.value}_reminder"
    stuck = [
        n for n in state.pending_notifications if n.reason == reason and n.due_at == deadline.due_at
    ]
    for reminder in stuck:
        unreachable = reminder.recipient
        owner = state.lead_ngo if unreachable is not state.lead_ngo else Org.INTERIOR_MINISTRY
        action = (
            f"A reminder to {unreachable.value} about the {deadline.kind.value} deadline "
            f"({deadline.rule}) could not be delivered before the deadline: tell them "
            "another way."
        )
        change.open_obligation(
            _Duty(ObligationKind.NOTIFICATION_UNDELIVERED, deadline.rule, owner, action),
            suffix=reminder.idempotency_key,
            escalated=True,
        )
        recipients = [o for o in (state.lead_ngo, Org.INTERIOR_MINISTRY) if o is not unreachable]
        change.notify(recipients, "notification_undelivered", deadline.rule, action)


def fire_due(
    state: CaseState, now: datetime, *, escalate_undelivered: bool = True
) -> tuple[CaseState, Effects]:
    """Send the reminders and run the expiries whose time has come by ``now``. Pure.

    ``escalate_undelivered`` is off only when replaying histories from before that rule.
    """
    wake_at = state.next_wake_at()
    if wake_at is None or wake_at > now:
        return state, Effects()
    change = _Change(working_copy(state), now)
    for deadline in sorted(change.state.deadlines.values(), key=lambda d: (d.due_at, d.kind)):
        if change.state.deadlines.get(deadline.kind) is not deadline:
            continue  # ended or re-armed by an expiry handled earlier in this pass
        for reminder in deadline.reminders:
            if not reminder.sent and reminder.at <= now:
                reminder.sent = True
                text = _REMINDER_TEXT[deadline.kind].format(
                    due=local_date(deadline.due_at).isoformat()
                )
                recipients = [*reminder.recipients]
                if reminder.lead_ngo:
                    recipients.append(change.state.lead_ngo)
                change.notify(
                    recipients,
                    f"{deadline.kind.value}_reminder",
                    deadline.rule,
                    text,
                    due_at=deadline.due_at,
                )
                change.record_timer(f"{deadline.kind.value} reminder sent", deadline.rule)
        if deadline.due_at <= now:
            change.end_deadline(deadline.kind)
            change.record_timer(f"{deadline.kind.value} deadline reached", deadline.rule)
            if escalate_undelivered:
                _escalate_undelivered_reminders(change, deadline)
            _EXPIRY[deadline.kind](change)
    return change.state, change.effects


def settle_case_start(state: CaseState, case_id: str, now: datetime) -> None:
    """Record that a linked case was started (in place, on workflow-owned state); nothing if
    it is no longer pending (:func:`forget_linked_case` removed it meanwhile)."""
    if not any(c.case_id == case_id for c in state.pending_case_starts):
        return
    state.pending_case_starts = [c for c in state.pending_case_starts if c.case_id != case_id]
    # Not the linked case's ID: every reader of the case reads the timeline, while the ID is
    # in ``linked_cases`` for those the read matrix lets see it (issue 11 item 6).
    state.timeline.append(
        TimelineEntry(at=now, recorded_at=now, who="pathway", what="linked case opened", rule="R1")
    )


def decide_membership(
    state: CaseState | None, change: membership.MembershipChange, now: datetime
) -> CaseState | Rejection:
    """The operator's membership change (MEMBERS) applied at ``now``: the new state, with the
    change in the membership records and a timeline entry (who, what, the reason), or the
    :class:`Rejection` that says why it cannot be made (rule ``MEMBERS`` and the field at fault:
    a role given only by rules, an analyst, no reason, a role already held or not held; rule
    ``CASE`` for a case not opened or closed). Pure: ``state`` is not modified, so the
    workflow's validator and its handler can both call it and agree."""
    if state is None:
        return Rejection(RULE_CASE, "case_id", "the case has not been opened")
    if state.phase is Phase.CLOSED:
        return Rejection(RULE_CASE, "case_id", "the case is closed")
    change_of = membership.add_member if change.action == "add" else membership.remove_member
    try:
        new = change_of(
            state, change.organisation, change.role, by=change.by, why=change.why, now=now
        )
    except membership.MembershipRefused as refused:
        return Rejection(refused.rule, refused.field, refused.reason)
    done = "added" if change.action == "add" else "removed"
    entry = TimelineEntry(
        at=now,
        recorded_at=now,
        who=f"operator ({change.by})",
        what=f"member {done}: {change.organisation.value} as {change.role.value}",
        why=change.why,
        rule=membership.RULE_MEMBERS,
    )
    return new.model_copy(update={"timeline": [*new.timeline, entry]})


def forget_linked_case(state: CaseState, case_id: str, now: datetime) -> CaseState | None:
    """The state without any trace of the linked case ``case_id``, which was erased (issue 11
    item 6): gone from ``linked_cases``, from the accompanying children's ``own_case_id`` (the
    child stays recorded) and from ``pending_case_starts``, and replaced by "(erased)" in the
    timeline entries that named it; one timeline entry says a linked case was erased.

    Pure; ``None`` if the state holds no trace of ``case_id``, or ``case_id`` is the case's own
    ID (nothing to do: idempotent)."""
    if case_id == state.case_id:
        return None
    named = [t for t in state.timeline if case_id in t.what]
    if not (
        case_id in state.linked_cases
        or any(c.own_case_id == case_id for c in state.accompanying_children)
        or any(c.case_id == case_id for c in state.pending_case_starts)
        or named
    ):
        return None
    new = working_copy(state)
    new.linked_cases = [c for c in new.linked_cases if c != case_id]
    for child in new.accompanying_children:
        if child.own_case_id == case_id:
            child.own_case_id = None
    new.pending_case_starts = [c for c in new.pending_case_starts if c.case_id != case_id]
    new.timeline = [
        t.model_copy(update={"what": t.what.replace(case_id, "(erased)")})
        if case_id in t.what
        else t
        for t in new.timeline
    ]
    new.timeline.append(
        TimelineEntry(
            at=now,
            recorded_at=now,
            who="pathway",
            what="a linked case was erased: its ID is no longer kept in this case",
        )
    )
    return new


def settle_notification(
    state: CaseState, notification: Notification, now: datetime, outcome: DeliveryOutcome
) -> None:
    """Record that a notification was delivered (or finally failed) and stop tracking it.

    In place: called by the workflow on state it owns, after the delivery activity finished.
    """
    state.pending_notifications = [
        n for n in state.pending_notifications if n.idempotency_key != notification.idempotency_key
    ]
    if outcome.delivered:
        escalation = (
            f"{ObligationKind.NOTIFICATION_UNDELIVERED.value}:{notification.idempotency_key}"
        )
        for ob in state.open_obligations:
            if ob.id == escalation:
                ob.closed_at = now
                ob.closed_by = "delivered"
    state.timeline.append(
        TimelineEntry(
            at=now,
            recorded_at=now,
            who="pathway",
            what=(
                f"notification {notification.reason} to {notification.recipient.value}: "
                f"{outcome.describe()}"
            ),
            rule=notification.rule,
            organisation=notification.recipient,
        )
    )


__all__ = [
    "Accepted",
    "Decision",
    "Effects",
    "Rejection",
    "decide",
    "decide_membership",
    "fire_due",
    "forget_linked_case",
    "reintegration_eligibility",
    "settle_case_start",
    "settle_notification",
]
