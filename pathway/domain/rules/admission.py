"""Checks an event meets when it arrives, besides :func:`~pathway.domain.rules.decide`'s (issue
13; docs/rules.md "Admission checks"): refusals found missing after cases were already running.

The case workflow makes them in its update validator only, which Temporal does not run when a
history replays: a history that recorded such an event as accepted replays unchanged, with no
patch (docs/versioning.md, "No patch is needed for"), and every event that arrives from now on
meets them. They only refuse; they never change what an accepted event does.

- :func:`admission_refusal`, before deciding: a ``facts_updated`` that would drop the recorded
  birth date or age estimate (C1, C8: a child's protection rests on the age), an age estimate
  that puts the birth before 1900 (INPUT), a citizenship that names no country or names one
  twice (INPUT), a C1 or C2 note of characters that show nothing (C1, C2), a placement dated
  so that crisis and safe accommodation would both be active, with any earlier placement of
  the case (K1, S1), a permit to stay whose 3 months cannot include the reflection period or
  that would be expired when granted (K7), a permit-to-stay extension dated before the
  permit's grant (K7), a temporary residence permit valid from before the person's birth or
  long before the case (INPUT, S4), an offer of safe accommodation with no crisis placement
  and no reason (S1), and an enrolment in reintegration after the person returned home (I1).
- :func:`unstated_refusal`: a safe placement that does not state whether a preliminary
  assistance and protection programme was drawn up (S1). The client makes it before it sends
  an event (:func:`pathway.clients.cases.record_event`): the workflow decodes every field,
  defaults included, so only the event its sender sent shows what was left out.
- :func:`linked_case_refusal`, after deciding: an accepted event that would start a linked
  case whose own identification would be refused (R1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, Final

from pathway.domain import calendar
from pathway.domain.calendar import local_date, months_through
from pathway.domain.events import (
    AccompanyingChildRecorded,
    BaseEvent,
    CaseEvent,
    ChildDecision,
    CrisisAccommodationPlaced,
    FactsUpdated,
    Identified,
    PermitToStayExtended,
    PermitToStayGranted,
    ReintegrationEnrolled,
    SafeAccommodationOffered,
    SafeAccommodationPlaced,
    TemporaryResidencePermitGranted,
)
from pathway.domain.person import CITIZENSHIP_CODES, PersonFacts, ResidenceStatus
from pathway.domain.plausible import EARLIEST_DATE, RULE_INPUT, shows_nothing
from pathway.domain.rules.core import Accepted, Rejection
from pathway.domain.rules.dispatch import decide, idempotency_key
from pathway.domain.rules.reintegration import is_slovenian_citizen
from pathway.domain.state import CaseState, DeadlineKind, Phase


def admission_refusal(state: CaseState | None, event: CaseEvent) -> Rejection | None:
    """The refusal of ``event`` by an admission check, or None. Pure.

    Of the event alone (also before the case, ``state`` None):

    - INPUT, ``person.age_estimate``: an ``identified`` or ``facts_updated`` whose age estimate
      puts the birth before :data:`~pathway.domain.plausible.EARLIEST_DATE` (as a birth date
      before it is refused).
    - INPUT, ``person.citizenships.<i>`` (``citizenships.<i>`` of an
      ``accompanying_child_recorded``): a citizenship that is no ISO 3166-1 alpha-2 country
      code (:data:`~pathway.domain.person.CITIZENSHIP_CODES`), or one named twice.
    - C1, ``child.best_interests``; C2, ``child.child_views``: a note of characters that show
      nothing (:func:`~pathway.domain.plausible.shows_nothing`: a Hangul filler, the braille
      blank), which the event models, blind to them, let through.
    - S1, ``preliminary_programme``: :func:`unstated_refusal`.

    Of the event in its case:

    - K1, ``occurred_at``: a crisis placement dated before the end of any safe placement of the
      case that has ended (from its date on it would run beside it; one while a safe placement
      still runs is :func:`decide`'s refusal). S1, ``occurred_at``: a safe placement dated
      before any crisis placement of the case began, or before the end of one that has ended
      (a safe placement while crisis accommodation runs ends it: dated from its start on, it is
      admitted). Every placement is read from the timeline (``ledger.victim_stays``); not in
      cases recorded before ``seed_assistance_rules``, whose placements ended when the end was
      recorded, not when it happened.
    - K7, ``valid_from``: a ``permit_to_stay_granted`` whose months, from its ``valid_from``,
      end before the day it is granted (expired at once), or before the last day of the
      reflection period the case has started (the 3 months include it). Cases under
      ``seed_residence_rules`` only.
    - K7, ``occurred_at``: a ``permit_to_stay_extended`` dated on a day (in Ljubljana) before
      the day the permit to stay was granted (the grant's own date, from the case's timeline;
      its ``valid_from`` may lie earlier).
    - INPUT, ``valid_from``: a temporary residence permit valid from before the person's birth
      date; S4, ``valid_from``: one valid from more than :data:`RESIDENCE_PERMIT_YEARS_BEFORE`
      year before the day the case was opened.
    - S1, ``reason``: a ``safe_accommodation_offered`` dated before any crisis placement of the
      case began, without a reason (as a safe placement straight from identification needs
      one). Cases under ``seed_assistance_rules`` only.
    - I1, ``occurred_at``: a ``reintegration_enrolled`` dated on a day after the person
      returned home, with no return into assistance (a placement, a reflection period) dated
      between; not for a citizen of Slovenia, whose home it is.
    - INPUT, ``person.birth_date`` (or ``person.age_estimate``): a ``facts_updated`` that
      leaves out the birth date (or, with none recorded, the age estimate) the case holds,
      with neither in its place. The person's facts are replaced whole; an age left out would
      read as unknown, and an unknown age as an adult's, closing a child's protection (C1,
      C4-C8). A wrong birth date is corrected, or replaced by an estimate; never dropped.

    None, and no check made, for a repeat of an event the case holds (it answers its first
    result) and in a closed case (``decide`` refuses with CASE).
    """
    if state is not None and (
        state.phase is Phase.CLOSED or idempotency_key(state, event) in state.processed
    ):
        return None  # decide's to answer: a repeat gets its first result, a closed case CASE
    refusal = _event_refusal(event)
    if refusal is not None or state is None:
        return refusal
    check = _CASE_CHECKS.get(type(event))
    return None if check is None else check(state, event)


def _event_refusal(event: CaseEvent) -> Rejection | None:
    """The admission checks of the event alone."""
    refusal: Rejection | None = None
    if isinstance(event, Identified | FactsUpdated):
        refusal = _estimate_before_earliest(event.person) or _unknown_citizenship(
            event.person.citizenships, "person.citizenships"
        )
    elif isinstance(event, AccompanyingChildRecorded):
        refusal = _unknown_citizenship(event.citizenships, "citizenships")
    return refusal or _blank_note(event.child) or unstated_refusal(event)


def unstated_refusal(event: BaseEvent) -> Rejection | None:
    """S1, ``preliminary_programme``: the refusal of a ``safe_accommodation_placed`` that does
    not state whether a preliminary assistance and protection programme was drawn up, or None.

    S1: “During accommodation the victims are provided with all the needed protection on the
    basis of a preliminary assistance and protection programme.” The field defaults to true,
    so that events recorded without it decode; a sender states it (read from the event's
    ``model_fields_set``: only the event as its sender sent it shows what was left out, not
    one decoded from the workflow's payload, which carries every field). Pure."""
    if (
        isinstance(event, SafeAccommodationPlaced)
        and "preliminary_programme" not in event.model_fields_set
    ):
        return Rejection(
            "S1",
            "preliminary_programme",
            "state whether a preliminary assistance and protection programme was drawn up "
            "(true or false): safe accommodation gives protection on the basis of one, and it "
            "is recorded, not assumed",
        )
    return None


def _estimate_before_earliest(person: PersonFacts) -> Rejection | None:
    estimate = person.age_estimate
    if estimate is None or person.birth_date is not None:
        return None
    born = person.birthday(0)
    if born is None or born >= EARLIEST_DATE:
        return None
    return Rejection(
        RULE_INPUT,
        "person.age_estimate.years",
        f"an estimate of {estimate.years} years on {estimate.as_of} puts the birth in "
        f"{born.year}, before {EARLIEST_DATE.year}: no one the service assists was born then",
    )


def _unknown_citizenship(codes: Sequence[str], field: str) -> Rejection | None:
    """INPUT: each citizenship is a country's ISO 3166-1 alpha-2 code (XK for Kosovo), or XX
    for a stateless person, ZZ for one whose citizenship is not known yet
    (:data:`~pathway.domain.person.CITIZENSHIP_CODES`), named once. The reason names the
    position, not the code (a citizenship is personal data, and rejections are kept as
    metadata, R6)."""
    for i, code in enumerate(codes):
        if code not in CITIZENSHIP_CODES:
            return Rejection(
                RULE_INPUT,
                f"{field}.{i}",
                "a citizenship is the ISO 3166-1 alpha-2 code of a country (XK for Kosovo), XX "
                "for a stateless person or ZZ while it is not known: this code is none of them",
            )
        if code in codes[:i]:
            return Rejection(
                RULE_INPUT,
                f"{field}.{i}",
                "this citizenship is named twice: name each country once",
            )
    return None


def _blank_note(child: ChildDecision | None) -> Rejection | None:
    """C1, C2: the best-interests note and the child's views say something (the event models
    refuse blank ones, but not ones of Hangul fillers or braille blanks)."""
    if child is None:
        return None
    if child.best_interests is not None and shows_nothing(child.best_interests):
        return Rejection(
            "C1",
            "child.best_interests",
            "a best-interests note cannot be blank: it holds only characters that show "
            "nothing (such as U+3164 or U+2800)",
        )
    if child.child_views is not None and shows_nothing(child.child_views):
        return Rejection(
            "C2",
            "child.child_views",
            "the child's views cannot be blank: they hold only characters that show nothing "
            "(such as U+3164 or U+2800)",
        )
    return None


def _age_dropped(state: CaseState, event: FactsUpdated) -> Rejection | None:
    recorded, updated = state.person, event.person
    if updated.birth_date is not None or updated.age_estimate is not None:
        return None
    if recorded.birth_date is not None:
        return Rejection(
            RULE_INPUT,
            "person.birth_date",
            "the case holds a birth date: send it with the other facts, corrected if it was "
            "wrong, or an age estimate in its place; it is never left out (a child's "
            "protection rests on the age, C1)",
        )
    if recorded.age_estimate is not None:
        return Rejection(
            RULE_INPUT,
            "person.age_estimate",
            "the case holds an age estimate: send it with the other facts, corrected if it was "
            "wrong, or a birth date in its place; it is never left out (a child's protection "
            "rests on the age, C1)",
        )
    return None


#: The placements of :func:`_stays` (``ledger.LedgerProgramme`` values).
_CRISIS: Final = "crisis_accommodation"
_SAFE: Final = "safe_accommodation"


def _stays(state: CaseState) -> list[tuple[str, datetime, datetime | None]]:
    """The victim's stays in crisis and safe accommodation, as the timeline records them
    (``ledger.victim_stays``: every placement, each event at its own time, in the order they
    began): (programme, from, to or None while it runs)."""
    # Imported here: the ledger imports the rules (through the programmes), which import this.
    from pathway.domain.ledger import victim_stays

    return [
        (str(stay.programme), stay.entered_at, stay.exited_at)
        for stay in victim_stays(state)
        if stay.programme in (_CRISIS, _SAFE)
    ]


def _placements_overlap(
    state: CaseState, event: CrisisAccommodationPlaced | SafeAccommodationPlaced
) -> Rejection | None:
    """K1, S1 against every earlier placement of the case, as the timeline records them."""
    if not state.seed_assistance_rules:
        return None
    at = event.occurred_at
    crisis = isinstance(event, CrisisAccommodationPlaced)
    other = _SAFE if crisis else _CRISIS
    for programme, entered_at, exited_at in _stays(state):
        if programme != other:
            continue
        since, end = local_date(entered_at), exited_at
        if crisis and end is not None and at < end:
            return Rejection(
                "K1",
                "occurred_at",
                f"safe accommodation ran from {since} to {local_date(end)}: a crisis placement "
                "dated before its end would make both active, and crisis and safe "
                "accommodation are never both active (placements are recorded in the order "
                "they happened)",
            )
        if not crisis and at < entered_at:
            return Rejection(
                "S1",
                "occurred_at",
                f"the crisis accommodation placed on {since} would run beside it: safe "
                "accommodation follows crisis accommodation, so it cannot be dated before it "
                "(placements are recorded in the order they happened)",
            )
        if not crisis and end is not None and at < end:
            return Rejection(
                "S1",
                "occurred_at",
                f"crisis accommodation ran from {since} to {local_date(end)}: a safe placement "
                "dated before its end would make both active (one while crisis accommodation "
                "runs ends it), and crisis and safe accommodation are never both active "
                "(placements are recorded in the order they happened)",
            )
    return None


#: The timeline's ``what`` of an accepted ``permit_to_stay_granted`` (its type, spaced).
GRANTED: Final = "permit to stay granted"


def _extension_before_grant(state: CaseState, event: PermitToStayExtended) -> Rejection | None:
    permit = state.permit_to_stay
    granted = None if permit is None else permit.granted_at
    if granted is None:
        # A permit recorded before its grant's time was kept: the timeline's entry.
        grants = [entry.at for entry in state.timeline if entry.what == GRANTED]
        granted = grants[-1] if grants else None
    if granted is None or local_date(event.occurred_at) >= local_date(granted):
        return None
    return Rejection(
        "K7",
        "occurred_at",
        f"the permit to stay was granted on {local_date(granted)}: its extension cannot be "
        "decided before it",
    )


def reflection_last_day(state: CaseState) -> date | None:
    """K5: the last day (in Ljubljana) of the case's reflection period, counted as the case
    counts it (docs/rules.md "Legal time"), or None before it started."""
    start = state.reflection_started_at
    if start is None:
        return None
    cfg = state.config
    if cfg.legal_time == "elapsed":
        end = start + cfg.reflection_period
    else:
        how = cfg.counting_for(DeadlineKind.REFLECTION_PERIOD.value)
        end = calendar.period_end(
            start, cfg.reflection_period, how.counting, next_working=how.next_working_day
        )
    return local_date(end - timedelta(microseconds=1))


def _permit_misses_reflection(state: CaseState, event: PermitToStayGranted) -> Rejection | None:
    """K7: “for a period of 3 (three) months (which includes the 30-day period of recovery
    and reflection)”. The permit's months, counted from its ``valid_from`` as the grant will
    count them, must reach the day it is granted and the reflection period's last day."""
    granted_on = local_date(event.occurred_at)
    if (
        not state.seed_residence_rules
        or state.permit_to_stay is not None
        or state.person.residence_status is not ResidenceStatus.THIRD_COUNTRY_ILLEGAL
        or not local_date(state.opened_at) <= event.valid_from <= granted_on
    ):
        # decide's: the rules of older cases, a permit granted already, a person who gets none,
        # a permit from before the case or from after its grant
        return None
    months = state.config.permit_to_stay_months
    until = months_through(event.valid_from, months)
    if until < granted_on:
        return Rejection(
            "K7",
            "valid_from",
            f"a permit to stay of {months} months valid from {event.valid_from} would end on "
            f"{until}, before the day it is granted ({granted_on}): it would be expired at "
            "once",
        )
    reflection_ends = reflection_last_day(state)
    if reflection_ends is not None and until < reflection_ends:
        return Rejection(
            "K7",
            "valid_from",
            f"the {months} months include the {state.config.reflection_period.days}-day "
            f"reflection period, which runs until "
            f"{reflection_ends}: a permit to stay valid from {event.valid_from} would end on "
            f"{until}, before it",
        )
    return None


#: S4: how many years before the day its case was opened a temporary residence permit may be
#: valid from (a permit under Article 50 follows the identification; the year allows for one
#: granted on a victim's earlier case, or back-dated to an application made before this one).
RESIDENCE_PERMIT_YEARS_BEFORE: Final = 1


def _residence_permit_too_early(
    state: CaseState, event: TemporaryResidencePermitGranted
) -> Rejection | None:
    if state.person.is_eu_citizen:
        return None  # decide's: the permit is for third-country nationals
    born = state.person.birth_date
    if born is not None and event.valid_from < born:
        return Rejection(
            RULE_INPUT,
            "valid_from",
            f"the permit cannot be valid before the person was born ({born})",
        )
    opened = local_date(state.opened_at)
    earliest = calendar.add_months(opened, -12 * RESIDENCE_PERMIT_YEARS_BEFORE)
    if event.valid_from < earliest:
        return Rejection(
            "S4",
            "valid_from",
            f"a temporary residence permit for a victim of trafficking (Article 50) follows "
            f"the identification ({opened}): one valid from before {earliest} belongs to "
            "another matter (check the year)",
        )
    return None


def _offer_without_crisis(state: CaseState, event: SafeAccommodationOffered) -> Rejection | None:
    """S1: “During crisis accommodation, victims are offered long-term assistance and safe
    accommodation.” An offer with no crisis placement begun by its date departs from that, as
    a safe placement straight from identification does: it needs its reason recorded."""
    if not state.seed_assistance_rules or event.reason:
        return None
    if any(
        programme == _CRISIS and entered_at <= event.occurred_at
        for programme, entered_at, _ in _stays(state)
    ):
        return None
    return Rejection(
        "S1",
        "reason",
        "safe accommodation is offered during crisis accommodation, and no crisis placement "
        "began by this offer's date: an offer outside crisis accommodation needs its reason "
        "recorded",
    )


#: Timeline entries (an accepted event's type, spaced) of leaving for home, and of coming back
#: into assistance (the events that bring a victim back after an exit, as ``decide`` has it).
RETURNED_HOME: Final = "returned home"
BACK_IN_ASSISTANCE: Final = frozenset(
    {
        "crisis accommodation placed",
        "safe accommodation placed",
        "reflection period started",
        # A permit is decided for a person in Slovenia (K7, S4): they are back.
        "permit to stay granted",
        "temporary residence permit granted",
        "temporary residence permit renewed",
    }
)


def _enrolled_after_return(state: CaseState, event: ReintegrationEnrolled) -> Rejection | None:
    """I1: the programme is for victims “in the Republic of Slovenia … and legally reside
    there” (and for citizens of Slovenia back from abroad). An enrolment on a day after the
    person returned home, with no return into assistance dated between, is refused."""
    if is_slovenian_citizen(state):
        return None  # home is Slovenia: a Slovenian citizen comes home to the programme
    if event.reason is not None:
        return None  # the sender says why (an EU citizen back under free movement, say)
    at = event.occurred_at
    returns = [
        e.at
        for e in state.timeline
        if e.event_id is not None and e.what == RETURNED_HOME and local_date(e.at) < local_date(at)
    ]
    if not returns:
        return None
    left = max(returns)
    if any(
        e.event_id is not None and e.what in BACK_IN_ASSISTANCE and left < e.at <= at
        for e in state.timeline
    ):
        return None
    return Rejection(
        "I1",
        "occurred_at",
        f"the person returned home on {local_date(left)}: reintegration is for victims in "
        "Slovenia, and nothing records their return since (a placement, a reflection period "
        "or a permit): record it, or give the enrolment a reason saying they are back",
    )


#: The admission checks of an event in its case, by event type.
_CASE_CHECKS: Final[dict[type[BaseEvent], Callable[[CaseState, Any], Rejection | None]]] = {
    FactsUpdated: _age_dropped,
    CrisisAccommodationPlaced: _placements_overlap,
    SafeAccommodationPlaced: _placements_overlap,
    PermitToStayGranted: _permit_misses_reflection,
    PermitToStayExtended: _extension_before_grant,
    TemporaryResidencePermitGranted: _residence_permit_too_early,
    SafeAccommodationOffered: _offer_without_crisis,
    ReintegrationEnrolled: _enrolled_after_return,
}


def admit(
    state: CaseState | None,
    event: CaseEvent,
    now: datetime,
    decided: Callable[[], Accepted | Rejection],
) -> Accepted | Rejection:
    """The whole decision on ``event`` arriving at ``state`` at ``now``, in its one order: the
    admission checks (:func:`admission_refusal`), then the rules (``decided``: the caller's
    :func:`~pathway.domain.rules.decide` on the same state, event and time, with its own
    configuration and rule flags), then the linked cases the decision would start
    (:func:`linked_case_refusal`). The first refusal is the answer. Pure but for what
    ``decided`` does; the case workflow's validator, the client's check before it opens a
    case, and a linked child's own identification all decide through it."""
    refusal = admission_refusal(state, event)
    if refusal is not None:
        return refusal
    decision = decided()
    if isinstance(decision, Rejection):
        return decision
    return linked_case_refusal(state, decision, now) or decision


def linked_case_refusal(
    previous: CaseState | None, decision: Accepted, now: datetime
) -> Rejection | None:
    """R1: the refusal of an accepted event (``decision``, taken on ``previous`` at ``now``)
    that would start a linked case whose own identification would be refused, or None. Pure.

    An accompanying child identified as a victim gets a case of their own (R1). Each case the
    decision adds to ``pending_case_starts`` is decided as the started case will decide it
    (its identification, ID and link secret, this case's configuration); if that refuses, so
    does this event, under R1, naming the child's field and giving the child's reason. Without
    it the parent would record a link to a case that never opens."""
    before = set() if previous is None else {s.case_id for s in previous.pending_case_starts}
    for start in decision.state.pending_case_starts:
        if start.case_id in before:
            continue
        own = admit(
            None,
            start.identified,
            now,
            partial(
                decide,
                None,
                start.identified,
                now,
                case_id=start.case_id,
                config=decision.state.config,
                link_secret=start.link_secret,
            ),
        )
        if isinstance(own, Rejection):
            field = (own.field or "").removeprefix("person.") or None
            # The child's reason is not passed on: it may name recorded facts (a citizenship)
            # the sender may not read (R6; as _accompanying_child_identified words it).
            return Rejection(
                "R1",
                field,
                "the accompanying child's own case could not open: these facts do not agree "
                "with the child's recorded facts",
            )
    return None
