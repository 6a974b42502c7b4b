"""Criminal proceedings and the main hearing (K6, C7, C8).

- K6, help around the proceedings: “assistance and support prior to and during the criminal
  proceedings and in an appropriate period after their completion”
  (:func:`_proceedings_opened`, :func:`_proceedings_concluded`: assistance does not end with
  the proceedings; for a third-country national in safe accommodation their conclusion opens
  the S5 obligation to agree the next step).
- C7, the minor injured party: “the injured party who is a minor will throughout the criminal
  proceedings have an authorised representative to ensure their rights”
  (:func:`_criminal_proceedings_for_minor`, :func:`_representative`, an escalating obligation
  of the social work centre, :data:`_REPRESENTATIVE`).
- C8, the main hearing: “Direct questioning of persons under 15 years of age who are victims of
  criminal offences of trafficking in human beings is not permitted in the main hearing.”
  (:func:`_main_hearing`; :func:`_turns_15` tells the police when the person turns 15).

A hearing is scheduled in open proceedings, not before they opened, and proceedings conclude
no earlier than they opened (K6: refused naming the field). C7 and C8 are decided again when the
person's facts change (:func:`pathway.domain.rules.children.child_facts_changed`).
"""

from __future__ import annotations

from pathway.domain import events as ev
from pathway.domain.calendar import local_date
from pathway.domain.events import BaseEvent
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules.children import (
    _REPRESENTATIVE,
    _child_obligation,
    _close_child_obligation,
    _repeat_child_escalation,
    _require_child,
)
from pathway.domain.rules.core import Expiry, Handler, _Change, _Duty, _reject
from pathway.domain.rules.safe_accommodation import after_proceedings, expire_after_proceedings
from pathway.domain.state import CriminalProceedings, DeadlineKind, Hearing, ObligationKind


def _proceedings_opened(change: _Change, event: ev.CriminalProceedingsOpened) -> None:
    cp = change.state.criminal_proceedings
    if cp is not None and cp.concluded_at is None:
        _reject("K6", "type", "criminal proceedings are already open")
    change.state.criminal_proceedings = CriminalProceedings(
        opened_at=event.occurred_at,
        authorised_representative=event.authorised_representative and change.state.seed_child_rules,
    )
    _criminal_proceedings_for_minor(change, event)


def _proceedings_concluded(change: _Change, event: ev.CriminalProceedingsConcluded) -> None:
    state = change.state
    cp = state.criminal_proceedings
    if cp is None or cp.concluded_at is not None:
        _reject("K6", "type", "there are no open criminal proceedings")
    if state.seed_child_rules and event.occurred_at < cp.opened_at:
        _reject("K6", "occurred_at", "criminal proceedings cannot conclude before they opened")
    cp.concluded_at = event.occurred_at
    placed = state.safe_accommodation is not None and state.safe_accommodation.active
    if placed and state.person.is_third_country_national and state.seed_residence_rules:
        after_proceedings(change, "proceedings_concluded", "Criminal proceedings concluded")
    elif placed and state.person.is_third_country_national:
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
    if state.seed_child_rules:
        if event.occurred_at < cp.opened_at:
            _reject(
                "K6",
                "occurred_at",
                "a main hearing cannot be scheduled before the proceedings opened",
            )
        if event.hearing_date < local_date(cp.opened_at):
            _reject("K6", "hearing_date", "a main hearing cannot lie before the proceedings opened")
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


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# This track's tables, which pathway.domain.rules.dispatch and .deadlines merge with the others'
# ---------------------------------------------------------------------------------------------

#: The events this track applies, and the function that applies each.
HANDLERS: dict[type[BaseEvent], Handler] = {
    ev.CriminalProceedingsOpened: _proceedings_opened,
    ev.CriminalProceedingsConcluded: _proceedings_concluded,
    ev.AuthorisedRepresentativeAppointed: _representative,
    ev.MainHearingScheduled: _main_hearing,
}

#: The rules each event's timeline entry cites.
EVENT_RULES: dict[str, str] = {
    "criminal_proceedings_opened": "K6",
    "criminal_proceedings_concluded": "S5, K6",
    "authorised_representative_appointed": "C7",
    # K6: a main hearing belongs to open proceedings (refused under K6 otherwise); C8: how the
    # person may be questioned at it.
    "main_hearing_scheduled": "C8, K6",
}

#: What each of this track's deadlines does when it is reached.
EXPIRIES: dict[DeadlineKind, Expiry] = {
    DeadlineKind.AUTHORISED_REPRESENTATIVE: _repeat_child_escalation(
        _REPRESENTATIVE,
        "authorised_representative_missing",
        "The minor injured party still has no authorised representative (C7).",
        extra=(Org.POLICE,),
    ),
    DeadlineKind.TURNS_15: _turns_15,
    # S5's date after the proceedings (safe_accommodation.after_proceedings).
    DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS: expire_after_proceedings,
}
REMINDERS: dict[DeadlineKind, str] = {
    DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS: (
        "The criminal proceedings of a third-country national in safe accommodation have "
        "concluded: agree and record the next step by {due} (S5)."
    ),
}
