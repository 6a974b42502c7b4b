"""The machinery every track of the rules uses: a change to one case and its effects.

:class:`_Change` is a working copy of the case state plus what the change makes the workflow
do: notifications (numbered per recipient, R6), deadlines with their reminders, obligations
opened and closed, members added and ended (MEMBERS), and the timeline. :class:`Rejection` is an
event that breaks a rule and changes nothing; :class:`Accepted` is the new state with its
effects. The IDs of the checks that guard the service itself rather than a rule of the seed
(ACCESS, TIME, CASE, IDEMPOTENCY) are here too.

R6 rests on the seed's “respect for their integrity”: a notification's number is counted per
recipient, so it reveals nothing of what others were sent.

No rule of the seed is decided here: each track's module decides its own and calls this
machinery to record what follows. No Temporal import here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel

from pathway.domain import calendar, membership
from pathway.domain.config import CaseConfig
from pathway.domain.events import BaseEvent
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation as Org
from pathway.domain.state import (
    CaseState,
    Deadline,
    DeadlineKind,
    EventResult,
    Notification,
    Obligation,
    ObligationKind,
    Reminder,
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


def _who(event: BaseEvent) -> str:
    return event.organisation.value + (f" ({event.actor})" if event.actor else "")


def notification_key(state: CaseState, recipient: Org, reason: str, sequence: int) -> str:
    """``<case ID>:<episode>:<recipient>:<reason>:<sequence>``: unique for ever, the same on
    every retry (receivers drop repeats by it). The episode is when it was opened (UTC,
    ``YYYYMMDDTHHMMSSZ``): a person identified again after a closure gets a new episode whose
    numbers start again at 1 (issue 12), and its notifications must not look like repeats of
    the first episode's. Per recipient, so the numbers reveal nothing of what others were sent
    (R6, issue 11)."""
    episode = state.opened_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{state.case_id}:{episode}:{recipient.value}:{reason}:{sequence}"


class _Change:
    """A working copy of the state plus the effects of one change."""

    def __init__(self, state: CaseState, now: datetime, cause: BaseEvent | None = None) -> None:
        self.state = state
        self.now = now
        self.effects = Effects()
        #: The event being applied (None: the passing of time).
        self.cause = cause
        #: The obligation kinds whose escalation this change settled as moot (told once per
        #: kind: R3's nine subjects share one escalation).
        self._mooted: set[ObligationKind] = set()

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
                idempotency_key=notification_key(self.state, recipient, reason, seq),
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
    def period_end(self, kind: DeadlineKind, start: datetime, period: timedelta) -> datetime:
        """When ``kind``'s period of ``period`` (whole days, or hours for elapsed time) that
        runs from the event at ``start`` ends: counted as the case's configuration says for
        ``kind`` (docs/rules.md "Legal time"; e.g. 30 calendar days from 20 October end at
        24:00 on 19 November, Ljubljana time). Cases opened before legal time (``elapsed``)
        keep adding elapsed time to ``start``, as their histories recorded."""
        cfg = self.config
        if cfg.legal_time == "elapsed":
            return start + period
        how = cfg.counting_for(kind.value)
        return calendar.period_end(start, period, how.counting, next_working=how.next_working_day)

    def days_end(self, kind: DeadlineKind, start: datetime, period: timedelta) -> datetime:
        """When ``kind``'s period of ``period`` from ``start`` ends, counted as the case's
        configuration says for ``kind`` whatever ``legal_time`` (S3's and S5's periods, which
        were always counted in Ljubljana days, in no case by elapsed time). With no setting for
        ``kind`` (the default) it is the end (24:00 Ljubljana) of the day ``period.days`` after
        ``start``'s local day, as before these periods were configurable (docs/rules.md "Legal
        time"). Raises ``ValueError`` only for a period of days with hours, which ``CaseConfig``
        refuses when it is built."""
        how = self.config.counting_for(kind.value)
        return calendar.period_end(start, period, how.counting, next_working=how.next_working_day)

    def reminder_before(self, due_at: datetime, lead: timedelta) -> datetime:
        """A reminder ``lead`` (whole days) before ``due_at``: the same Ljubljana time that many
        calendar days earlier (``elapsed`` cases: ``lead`` of elapsed time earlier)."""
        if self.config.legal_time == "elapsed":
            return due_at - lead
        return calendar.days_before(due_at, lead)

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

    def escalated(self, ob: Obligation, told: Iterable[Org]) -> None:
        """A timer escalated ``ob`` now, telling ``told``: the first escalation is kept (a
        late-recorded event that happened before it makes it moot); in cases under
        ``CaseState.moot_every_track`` those told are kept too, to be told if it does (R3,
        C4-C7, S3, S5; K1, K5 and S1 keep them under ``seed_assistance_rules``)."""
        if ob.escalated_at is None:
            ob.escalated_at = self.now
        if self.state.moot_every_track:
            ob.escalated_to = list(dict.fromkeys([*ob.escalated_to, *told]))

    def close_obligations(self, by: str, *kinds: ObligationKind, ids: Iterable[str] = ()) -> None:
        wanted = set(ids)
        for ob in self.state.open_obligations:
            if ob.kind in kinds or ob.id in wanted:
                ob.closed_at = self.now
                ob.closed_by = by
                self.effects.obligations_closed.append(ob.id)
                self._moot_if_recorded_late(ob)

    def _moot_if_recorded_late(self, ob: Obligation) -> None:
        """Late-recorded events (docs/rules.md "Legal time"): an event that settles an
        obligation a timer opened or escalated, but that happened before that timer fired and
        was recorded after it (safe accommodation placed on day 28, recorded on day 33, after
        the crisis-accommodation escalation of day 30), makes the escalation moot: it is settled
        as such, those it told are told, and the timeline says so (the event's own entry keeps
        when it happened and when it was recorded). Cases recorded before the patch
        ``seed-assistance-rules`` replay without it."""
        cause = self.cause
        fired_at = ob.escalated_at or ob.opened_at
        if (
            cause is None
            or not ob.escalated_to
            or not self.state.seed_assistance_rules
            or cause.occurred_at >= fired_at
        ):
            return
        happened, fired = calendar.local_date(cause.occurred_at), calendar.local_date(fired_at)
        what = cause.type.replace("_", " ")
        self._announce_moot(
            ob,
            f"The {ob.kind.value.replace('_', ' ')} escalation of {fired} ({ob.rule}) is moot: "
            f"{what} on {happened}, before it, was recorded only on "
            f"{calendar.local_date(self.now)}. Nothing more is needed for it.",
            f"{ob.kind.value} escalation moot: {what} on {happened}, recorded late",
        )

    def close_moot(self, by: str, ob: Obligation, told: Iterable[Org], fired_at: datetime) -> None:
        """Close ``ob`` (open), settled by the event being applied, which a track judged to
        make moot what a timer told at ``fired_at`` (S3: ``pathway.domain.rules.residence``):
        ``told`` are told so, once per obligation kind in this change, and the timeline says
        so. Without an event (a timer) it closes as usual."""
        ob.closed_at = self.now
        ob.closed_by = by
        self.effects.obligations_closed.append(ob.id)
        if self.cause is None:
            return
        ob.escalated_to = list(dict.fromkeys([*told, *ob.escalated_to]))
        fired = calendar.local_date(fired_at)
        # Neither the event nor its day: those told may not read what settled it (R6: the
        # police and the migration authority read no safe accommodation).
        self._announce_moot(
            ob,
            f"The {ob.kind.value.replace('_', ' ')} notice of {fired} ({ob.rule}) is moot: what "
            "settled it happened before it and was recorded only on "
            f"{calendar.local_date(self.now)}. Nothing more is needed for it.",
            f"{ob.kind.value} notice moot: settled by an event recorded late",
        )

    def _announce_moot(self, ob: Obligation, action: str, what: str) -> None:
        """``ob`` is moot: ``action`` to those it told (once per obligation kind in this
        change), ``what`` on the timeline."""
        ob.moot = True
        if ob.kind in self._mooted:
            return
        self._mooted.add(ob.kind)
        self.notify(ob.escalated_to, "escalation_moot", ob.rule, action)
        self.state.timeline.append(
            TimelineEntry(
                at=self.now,
                recorded_at=self.now,
                who="pathway",
                what=what,
                rule=ob.rule,
                event_id=None,
            )
        )

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


#: What a track does with an event of the type its table names (``HANDLERS`` in each track).
Handler = Callable[[_Change, Any], None]
#: What a track does when one of its deadlines is reached (``EXPIRIES`` in each track).
Expiry = Callable[[_Change], None]

_K = TypeVar("_K")
_V = TypeVar("_V")


def merged(*tables: Mapping[_K, _V]) -> dict[_K, _V]:
    """One table from the tracks' tables (event type -> handler, deadline -> expiry, ...). A
    key that two tracks both claim is a mistake in the rules, refused when they are imported."""
    out: dict[_K, _V] = {}
    for table in tables:
        twice = out.keys() & table.keys()
        if twice:
            raise ValueError(f"claimed by two tracks of the rules: {sorted(map(str, twice))}")
        out.update(table)
    return out


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
