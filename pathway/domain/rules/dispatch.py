"""Applying an event to a case: :func:`decide`, the checks that guard the service itself
(ACCESS, TIME, CASE, IDEMPOTENCY) and the table of which track handles which event.

The table is built from the tracks' own tables (``HANDLERS``, ``EVENT_RULES`` in each module of
:mod:`pathway.domain.rules`); an event type two tracks both claim is refused at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pathway.domain.rules.accompanying as accompanying
import pathway.domain.rules.assistance as assistance
import pathway.domain.rules.children as children
import pathway.domain.rules.proceedings as proceedings
import pathway.domain.rules.reintegration as reintegration
import pathway.domain.rules.residence as residence
import pathway.domain.rules.safe_accommodation as safe_accommodation
import pathway.domain.rules.services as services
from pathway.domain import events as ev
from pathway.domain.config import CaseConfig
from pathway.domain.events import BaseEvent, CaseEvent
from pathway.domain.rules.assistance import _open_case
from pathway.domain.rules.children import _child_checks, _inform_of_measure
from pathway.domain.rules.core import (
    RULE_ACCESS,
    RULE_CASE,
    RULE_IDEMPOTENCY,
    RULE_TIME,
    Accepted,
    Decision,
    Effects,
    Handler,
    _Change,
    _Reject,
    _reject,
    event_digest,
    merged,
    working_copy,
)
from pathway.domain.state import (
    RESULTS_KEPT,
    CaseChanges,
    CaseState,
    EventResult,
    Phase,
    ProcessedEvent,
)

#: Which track's handler applies each event type (identification opens the case instead).
_HANDLERS: dict[type[BaseEvent], Handler] = merged(
    assistance.HANDLERS,
    children.HANDLERS,
    accompanying.HANDLERS,
    proceedings.HANDLERS,
    residence.HANDLERS,
    safe_accommodation.HANDLERS,
    reintegration.HANDLERS,
    services.HANDLERS,
)

#: The rules each accepted event's timeline entry cites, by event type.
_EVENT_RULES: dict[str, str] = merged(
    assistance.EVENT_RULES,
    children.EVENT_RULES,
    accompanying.EVENT_RULES,
    proceedings.EVENT_RULES,
    residence.EVENT_RULES,
    safe_accommodation.EVENT_RULES,
    reintegration.EVENT_RULES,
    services.EVENT_RULES,
)


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


def decide(  # noqa: PLR0913 (the one entry point: the rest are keyword-only options)
    state: CaseState | None,
    event: CaseEvent,
    now: datetime,
    *,
    case_id: str,
    config: CaseConfig | None = None,
    link_secret: str | None = None,
    rules: Mapping[str, bool] | None = None,
) -> Decision:
    """Apply ``event`` at ``now`` to ``state`` (``None`` before identification).

    Pure: ``state`` is not modified. A repeat of an already accepted ``event_id`` returns the
    first result (marked duplicate) and changes nothing. ``config`` and ``link_secret`` are
    read only by the identification that opens the case, which keeps them in the new state
    (``link_secret``: the random secret from which the IDs of the cases this one opens derive,
    R1; see
    :func:`~pathway.domain.rules.accompanying._linked_case`). ``rules``: the rules-version flags
    of :class:`CaseState` (``{"seed_status_rules": False}``) the identification opens the case
    under (the workflow's patches; default: every rule as it stands now).
    """
    try:
        if state is not None:
            seen = state.processed.get(idempotency_key(state, event))
            if seen is not None:
                if seen.digest != event_digest(event):
                    _reject(
                        RULE_IDEMPOTENCY,
                        "event_id",
                        "this event_id was already used for a different event",
                    )
                return Accepted(state, Effects(), _repeated(state, event, seen.result))
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
            if rules:
                new = new.model_copy(update=dict(rules))
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
        event_id=event.event_id,
        event_type=event.type,
        case_id=change.state.case_id,
        phase=change.state.phase,
        changes=_changes(state, change.state, change.effects, now),
    )
    _remember(change.state, event, result)
    return Accepted(change.state, change.effects, result)


def _changes(
    before: CaseState | None, after: CaseState, effects: Effects, now: datetime
) -> CaseChanges:
    """What an event changed (its acknowledgement, issue 14 item 2), from its effects: the
    obligations it opened and settled and the deadlines it set and ended, each once, as the
    summary shows them (an ended deadline as it stood before)."""
    opened, settled = set(effects.obligations_opened), set(effects.obligations_closed)
    ended = [
        before.deadlines[kind].view()
        for kind in dict.fromkeys(effects.deadlines_ended)
        if before is not None and kind in before.deadlines and kind not in after.deadlines
    ]
    return CaseChanges(
        obligations_opened=[o.view() for o in after.open_obligations if o.id in opened],
        obligations_settled=[
            o.view() for o in after.obligations if o.id in settled and o.closed_at == now
        ],
        deadlines_set=[
            after.deadlines[kind].view()
            for kind in dict.fromkeys(effects.deadlines_set)
            if kind in after.deadlines
        ],
        deadlines_ended=ended,
    )


def _repeated(state: CaseState, event: BaseEvent, first: EventResult | None) -> EventResult:
    """The answer to a repeat of an accepted event: its first acknowledgement, marked
    ``duplicate``. One kept before acknowledgements (with the whole summary) answers with the
    phase it recorded; one no longer kept, with the case's phase now and no changes."""
    if first is None:
        return EventResult(
            event_id=event.event_id,
            event_type=event.type,
            duplicate=True,
            case_id=state.case_id,
            phase=state.phase,
        )
    if first.summary is not None:
        return EventResult(
            event_id=first.event_id,
            event_type=first.event_type,
            duplicate=True,
            case_id=first.summary.case_id,
            phase=first.summary.phase,
        )
    return first.model_copy(update={"duplicate": True})


def idempotency_key(state: CaseState, event: BaseEvent) -> str:
    """Where ``event`` is kept for idempotency in ``state.processed``: under its ``event_id``,
    unless another organisation's event is kept there; then under ``"<organisation> <event_id>"``
    (an event_id never holds a space, so the two never meet).

    An event_id is its sender's key: a sender's repeat is answered as a repeat, its reuse for
    another event is refused (IDEMPOTENCY), and one organisation's event_id tells nothing of
    another's. Refusing it for having been used by another organisation told a member which
    IDs the others had used, hidden events included (review of issue 11, R6). An event kept
    before senders were recorded counts as the sender's own (the old rule)."""
    seen = state.processed.get(event.event_id)
    if seen is None or seen.organisation in (None, event.organisation.value):
        return event.event_id
    return f"{event.organisation.value} {event.event_id}"


def _remember(state: CaseState, event: BaseEvent, result: EventResult) -> None:
    """Keep the event for idempotency; drop the full result of the one that falls out of the
    window of recent events (insertion order is acceptance order)."""
    state.processed[idempotency_key(state, event)] = ProcessedEvent(
        digest=event_digest(event),
        event_type=event.type,
        result=result,
        organisation=event.organisation.value,
    )
    if len(state.processed) > RESULTS_KEPT:
        old_id = list(state.processed)[-RESULTS_KEPT - 1]
        old = state.processed[old_id]
        if old.result is not None:
            state.processed[old_id] = old.model_copy(update={"result": None})
