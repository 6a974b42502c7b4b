"""One durable workflow per person: a deterministic shell around :mod:`pathway.domain.rules`.

- Events arrive as Updates. The validator runs the domain's rule check, so a rejected event never
  reaches history; the handler applies the same pure decision and returns a small acknowledgement
  (:class:`~pathway.domain.state.EventResult`: phase and what changed; issue 14).
  What the case keeps of a rejection is metadata the client notes afterwards by a second update,
  ``note_rejection`` (the event's ID and type, sender, rule, field, reason; issue 17 item 3).
- Every deadline is an updatable timer: the state holds each deadline's due time and reminders,
  and the main loop sleeps until the earliest of them or until an update moves one (the
  ``updatable_timer`` pattern, generalised to all deadlines of the case).
- Notifications are activities on the recipient organisation's own task queue, started by the
  main loop for every pending notification in the state, so they survive continue-as-new.

Live patches (``workflow.patched``; docs/versioning.md), with the date each was deployed:

- ``search-attribute-obligation-owners`` (deployed before this list was kept): the owners of
  open obligations are published.
- ``escalate-undelivered-reminders`` (deployed before this list was kept): undelivered
  reminders escalate.
- ``linked-case-started-by-activity`` (2026-11-30): a linked case is started by the
  ``start_linked_case`` activity, not as a child workflow (issue 11 item 6).
- ``statistics-ledger`` (not deployed yet): the case writes its statistics facts to the ledger
  through the ``record_statistics`` activity (issue 15 item 1, docs/statistics.md).
- ``programme-statistics-ledger`` (not deployed yet): not this workflow's; the programme
  registers write theirs through the same activity (``pathway/workflows/programme.py``, whose
  docstring lists the register's patches).
Recorded in the replay corpus on 2026-11-30 (the ``seed-rules-2026-11-30`` histories):

- ``legal-time-ljubljana``: periods count calendar or working days in Ljubljana (issue 13,
  docs/rules.md "Legal time"; ``CaseConfig.legal_time``).
- ``seed-residence-rules``: I1, K7, S3 and S5 as the seed states them (issue 13;
  ``CaseState.seed_residence_rules``).
- ``seed-assistance-rules``: K1, K2, K3, S1, S2, R3 and R4 as the seed states them, and
  late-recorded events settling escalations as moot (issue 13;
  ``CaseState.seed_assistance_rules``).
- ``seed-child-rules``: C4-C8 re-evaluated when facts change, C5 for every foreign
  unaccompanied minor with due dates, dates checked against the case (issue 13;
  ``CaseState.seed_child_rules``).

Not deployed yet:

- ``seed-reintegration-dates``: I1 decided as of the enrolment's day, no reintegration service
  dated before the enrolment (issue 13; ``CaseState.seed_reintegration_dates``).
- ``moot-escalations-every-track``: a late-recorded event settles as moot the escalations of
  R3, C4-C7, S3 and S5 too (issue 13; ``CaseState.moot_every_track``).
- ``eu-citizen-not-a-protection-applicant``: an EU citizen recorded as an applicant for
  international protection is refused, at identification too (issue 13;
  ``CaseState.seed_status_rules``).
- ``continue-as-new-while-asleep``: a sleeping case continues as new when Temporal suggests
  it, also when the updates that grew its history moved nothing (noted rejections, repeats;
  review of issue 17).
- ``one-timer-per-wake-up``: the main loop keeps its timer across wakes that leave the earliest
  deadline where it was, instead of cancelling it and starting another (issue 14).
- ``one-marker-for-earlier-patches``: a run started since records this one marker instead of
  one per patch above (each patch's marker also made sdk-core upsert ``TemporalChangeVersion``:
  13 markers and as many visibility writes per case of the bench's workload, up to 14; issue
  14). Every patch above is on in such a run (:data:`EARLIER_PATCHES`,
  :meth:`VictimCaseWorkflow._earlier_patch`); a history recorded before it asks each as it
  did. A patch added after it calls ``workflow.patched`` itself.
- ``s3-permits-restored-moot``: an extended permit to stay settles S3's lapse like a renewed
  residence permit, and an event recorded after a lapse notice that happened before it makes
  the notice moot (issue 13, known gap 2; ``CaseState.permits_restored_moot``). Asked lazily,
  by the first event that meets an open S3 obligation
  (:meth:`VictimCaseWorkflow._permits_restored_moot`).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any, Final

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate, VersioningBehavior
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pathway import search_attributes
    from pathway.access.credentials import OPERATOR
    from pathway.access.policy import roles_in_case, send_refusal
    from pathway.domain.config import CaseConfig, LegalTime
    from pathway.domain.deadline_kinds import DeadlineKind
    from pathway.domain.events import Identified, RecordEvent
    from pathway.domain.ledger import StatisticsBatch, StatisticsFact, statistics_facts
    from pathway.domain.membership import Membership, MembershipChange
    from pathway.domain.rules import (
        RULE_ACCESS,
        RULE_CASE,
        Accepted,
        Effects,
        Rejection,
        RejectionNote,
        admit,
        decide,
        decide_membership,
        fire_due,
        forget_linked_case,
        settle_case_start,
        settle_notification,
    )
    from pathway.domain.rules import note_rejection as noted
    from pathway.domain.state import (
        CaseStanding,
        CaseStart,
        CaseState,
        DeliveryOutcome,
        EventResult,
        Notification,
        ObligationKind,
        Phase,
    )
    from pathway.metrics import workflow as metrics
    from pathway.workflows.delivery import Deliveries
    from pathway.workflows.inputs import CaseInput, CaseOutcome, LinkedCaseStart
    from pathway.workflows.rejection import rejection_error


#: Starting a linked case retries with backoff for as long as it takes (the server may be
#: unreachable for a while), like notifications; a retry after success does nothing.
LINKED_CASE_START_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    maximum_attempts=0,
)
LINKED_CASE_START_TIMEOUT = timedelta(seconds=60)
#: Writing statistics retries like starting a linked case: a ledger that is down for a while
#: delays the figures, never loses them; a retry after success stores nothing twice.
STATISTICS_RETRY = LINKED_CASE_START_RETRY
STATISTICS_TIMEOUT = timedelta(seconds=60)
#: The patch whose one marker stands for every patch in :data:`EARLIER_PATCHES` in a run that
#: records it (issue 14; docs/versioning.md "One marker for the patches before it").
ONE_MARKER = "one-marker-for-earlier-patches"
#: A patch newer than :data:`ONE_MARKER` (issue 13, known gap 2): an extended permit to stay
#: settles S3's lapse like a renewed residence permit, and an event recorded after the lapse
#: notice that happened before it makes the notice moot (``CaseState.permits_restored_moot``).
#: Asked only by an event that meets an open S3 obligation (:meth:`VictimCaseWorkflow.
#: _permits_restored_moot`), so a case that never has one records no marker for it.
PERMITS_RESTORED_MOOT = "s3-permits-restored-moot"
#: The patches older than :data:`ONE_MARKER`, each on in a run that recorded it. Closed: a patch
#: added later must not be in it (a run that recorded ``ONE_MARKER`` before that patch existed
#: would take its new branch on replay), so it calls ``workflow.patched`` itself.
EARLIER_PATCHES: Final = frozenset(
    {
        "legal-time-ljubljana",
        "seed-residence-rules",
        "seed-assistance-rules",
        "seed-child-rules",
        "seed-reintegration-dates",
        "moot-escalations-every-track",
        "s3-lapsed-permit-day-from-validity",
        "eu-citizen-not-a-protection-applicant",
        "statistics-ledger",
        "continue-as-new-while-asleep",
        "one-timer-per-wake-up",
        "escalate-undelivered-reminders",
        "linked-case-started-by-activity",
        "search-attribute-obligation-owners",
    }
)


def _with_legal_time(config: CaseConfig, legal_time: LegalTime) -> CaseConfig:
    """``config`` adding periods as ``legal_time`` says (the patch ``legal-time-ljubljana``)."""
    if config.legal_time == legal_time:
        return config
    return config.model_copy(update={"legal_time": legal_time})


@workflow.defn  # no versioning behaviour: VersionedVictimCaseWorkflow below declares it
class VictimCaseWorkflow:
    """The victim's path, from identification (R1) to closure."""

    @workflow.init
    def __init__(self, start: CaseInput) -> None:
        self._config = start.config
        self._state: CaseState | None = start.state
        self._link_secret = start.link_secret
        #: The validator's last decision: (request, state, time, decision, the answer of
        #: :meth:`_permits_restored_moot` it was made under); see _decide.
        self._validated: (
            tuple[RecordEvent, CaseState | None, datetime, Accepted | Rejection, bool | None] | None
        ) = None
        self._episode = start.episode
        # A run started since records one marker for all the patches before it (issue 14); a
        # history recorded before it replays each patch below as it was asked. First, so that
        # a new run's first workflow task records this marker and no other.
        self._one_marker = workflow.patched(ONE_MARKER)
        # Histories recorded before legal time (issue 13) replay with the due instants they
        # had: periods added as elapsed time. A run started since counts days in Ljubljana,
        # also for an older case at its next run (its deadlines already set keep their dates).
        legal_time: LegalTime = (
            "ljubljana" if self._earlier_patch("legal-time-ljubljana") else "elapsed"
        )
        self._config = _with_legal_time(self._config, legal_time)
        if self._state is not None:
            config = _with_legal_time(self._state.config, legal_time)
            self._state = self._state.model_copy(update={"config": config})
        self._wake = False
        self._deliveries = Deliveries(
            self._config.notification_queue_prefix, self._settle_notification
        )
        self._case_starts: dict[str, asyncio.Task[None]] = {}
        self._published: tuple[str, list[str]] | None = None
        # Histories recorded before I1, K7, S3, S5 followed the seed must replay unchanged.
        self._seed_residence_rules = self._earlier_patch("seed-residence-rules")
        # ... and those recorded before K1, K2, S1, R3, R4 followed it (issue 13).
        self._seed_assistance_rules = self._earlier_patch("seed-assistance-rules")
        # ... and those recorded before C4-C8 followed changed facts (issue 13).
        self._seed_child_rules = self._earlier_patch("seed-child-rules")
        # ... and those recorded before I1 was decided as of the enrolment's day (issue 13).
        self._seed_reintegration_dates = self._earlier_patch("seed-reintegration-dates")
        # ... and those recorded before late events made every track's escalations moot.
        self._moot_every_track = self._earlier_patch("moot-escalations-every-track")
        # ... and those recorded before S3 dated a lapsed permit by its validity (issue 13).
        self._lapsed_permit_day = self._earlier_patch("s3-lapsed-permit-day-from-validity")
        # ... and those recorded before an EU citizen was refused as a protection applicant.
        self._seed_status_rules = self._earlier_patch("eu-citizen-not-a-protection-applicant")
        # Histories recorded before the statistics ledger (issue 15) schedule no activity for
        # it: they replay unchanged; a run started since writes its facts (docs/statistics.md).
        self._statistics_ledger = self._earlier_patch("statistics-ledger")
        # Histories recorded before a sleeping case continued as new when Temporal suggested it
        # replay unchanged (their loop woke only for updates that moved the case).
        self._continue_while_asleep = self._earlier_patch("continue-as-new-while-asleep")
        # Histories recorded before the main loop kept one timer per wake-up instant (issue 14)
        # replay with a new timer at every wake (the old one cancelled, even when unmoved).
        self._one_timer_per_wake = self._earlier_patch("one-timer-per-wake-up")
        #: The answer of :data:`PERMITS_RESTORED_MOOT` once asked in this run (asked lazily).
        self._permits_restored: bool | None = None
        #: The timer the main loop sleeps on and the instant it fires (``one-timer-per-wake-up``).
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: datetime | None = None
        #: The keys of the facts this run has stored (a run after continue-as-new stores them
        #: all again once: the ledger keeps one record per fact), the write in flight, and the
        #: state the facts were last derived from.
        self._ledgered: set[str] = set()
        self._ledger_write: asyncio.Task[None] | None = None
        self._ledger_seen: CaseState | None = None

    @workflow.run
    async def run(self, start: CaseInput) -> CaseOutcome:
        case_id = workflow.info().workflow_id
        if self._state is None and start.identified is not None:
            self._open_linked(start.identified, start.linked_case_id)
        if self._state is None:
            # Started by update-with-start: the identification update follows at once. If it was
            # rejected, nothing is left to wait for.
            try:
                await workflow.wait_condition(
                    lambda: self._state is not None,
                    timeout=self._config.identification_wait,
                )
            except TimeoutError:
                return CaseOutcome(case_id=case_id, opened=False)
        while True:
            state = self._require_state()
            self._publish_search_attributes(state)
            self._deliveries.dispatch(state.pending_notifications)
            self._dispatch_case_starts(state)
            self._dispatch_statistics(state)
            if state.phase is Phase.CLOSED:
                await workflow.wait_condition(
                    lambda: not self._busy() and workflow.all_handlers_finished()
                )
                workflow.logger.info("case closed", extra={"case_id": case_id})
                return CaseOutcome(case_id=case_id, opened=True, phase=state.phase)
            if self._may_continue_as_new():
                workflow.logger.info("continuing as new", extra={"case_id": case_id})
                workflow.continue_as_new(
                    CaseInput(config=self._config, state=state, episode=self._episode)
                )
            await self._sleep_until_next_deadline(state)
            self._fire_due()

    async def _sleep_until_next_deadline(self, state: CaseState) -> None:
        """Sleep until the earliest deadline or reminder is due, or an update wakes the loop.

        Under ``one-timer-per-wake-up`` (issue 14) the timer outlives a wake that did not move
        the instant: a case whose events leave its earliest deadline where it was starts no new
        timer for them (one ``StartTimer`` per wake-up instant, one ``CancelTimer`` when the
        instant moves). Before it, each wait started its own timer and a wake cancelled it."""
        self._wake = False
        wake_at = state.next_wake_at()
        if not self._one_timer_per_wake:
            if wake_at is None:
                await workflow.wait_condition(self._woken)
                return
            delay = (wake_at - workflow.now()).total_seconds()
            if delay <= 0:
                return
            # A timeout means the earliest deadline or reminder is due; a wake means it may have
            # moved.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(self._woken, timeout=delay)
            return
        if wake_at != self._timer_at:
            self._drop_timer()
        if wake_at is None:
            await workflow.wait_condition(self._woken)
            return
        delay = (wake_at - workflow.now()).total_seconds()
        if delay <= 0:
            self._drop_timer()
            return
        timer = self._timer
        if timer is None or timer.done():
            timer = self._timer = asyncio.create_task(asyncio.sleep(delay))
            self._timer_at = wake_at
        await workflow.wait_condition(lambda: timer.done() or self._woken())
        if timer.done():
            self._timer, self._timer_at = None, None

    def _drop_timer(self) -> None:
        """Cancel the main loop's timer, if one is running (``one-timer-per-wake-up``)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, None

    def _woken(self) -> bool:
        """Whether the main loop must run: an update moved the case (``_wake``), or, in runs
        under the patch ``continue-as-new-while-asleep``, Temporal suggests continuing as new
        and nothing is in flight. Updates that change no deadline (a noted rejection, a repeat)
        do not wake the loop, so without this a flood of them grew the history without end
        while the case slept (review of issue 17)."""
        return self._wake or (self._continue_while_asleep and self._may_continue_as_new())

    def _may_continue_as_new(self) -> bool:
        return (
            workflow.info().is_continue_as_new_suggested()
            and not self._busy()
            and workflow.all_handlers_finished()
        )

    def _permits_restored_moot(
        self, state: CaseState | None, *, ask: bool, event_type: str = ""
    ) -> bool | None:
        """Whether an event arriving now at ``state`` is decided under the patch
        :data:`PERMITS_RESTORED_MOOT` (``CaseState.permits_restored_moot``), or None when it
        does not matter. Only an event that meets an open S3 obligation
        (``safe_accommodation_permits``), or a permit to stay's extension (``event_type``)
        recorded after the permit's expiry was reached, can be decided differently under it
        (otherwise both branches do the same), so only such an event asks the patch, once per
        run, and a case without a lapsed permit records no marker. ``ask``: False in the validator,
        which may not issue commands: there the answer is what the handler's first ask will
        give outside replay (True: the worker sets no patch activation callback, and a
        validator never runs during replay), or the answer already given. Were the handler's
        answer ever to differ, it decides again under its own (:meth:`_decide`)."""
        if self._permits_restored is not None:
            return self._permits_restored
        if state is None or not (
            any(o.kind is ObligationKind.SAFE_ACCOMMODATION_PERMITS for o in state.open_obligations)
            or (
                event_type == "permit_to_stay_extended"
                and state.permit_to_stay is not None
                and DeadlineKind.PERMIT_TO_STAY not in state.deadlines
            )
        ):
            return None
        if not ask:
            return True
        self._permits_restored = workflow.patched(PERMITS_RESTORED_MOOT)
        return self._permits_restored

    def _keyed(self, state: CaseState, *, permits_restored_moot: bool | None = None) -> CaseState:
        """``state`` under the rules this run follows (the patches that reach the domain);
        ``permits_restored_moot``: :meth:`_permits_restored_moot`'s answer for the event to
        decide, else the run's answer once asked; while neither is known (a timer, an event
        with no open S3 obligation: neither reads it) the state keeps its value."""
        if permits_restored_moot is None:
            permits_restored_moot = self._permits_restored
        if (
            permits_restored_moot is not None
            and state.permits_restored_moot is not permits_restored_moot
        ):
            state = state.model_copy(update={"permits_restored_moot": permits_restored_moot})
        if state.seed_child_rules is not self._seed_child_rules:
            state = state.model_copy(update={"seed_child_rules": self._seed_child_rules})
        if state.seed_status_rules is not self._seed_status_rules:
            state = state.model_copy(update={"seed_status_rules": self._seed_status_rules})
        if state.moot_every_track is not self._moot_every_track:
            state = state.model_copy(update={"moot_every_track": self._moot_every_track})
        if state.lapsed_permit_day_from_validity is not self._lapsed_permit_day:
            state = state.model_copy(
                update={"lapsed_permit_day_from_validity": self._lapsed_permit_day}
            )
        if state.seed_reintegration_dates is not self._seed_reintegration_dates:
            state = state.model_copy(
                update={"seed_reintegration_dates": self._seed_reintegration_dates}
            )
        if (
            state.seed_residence_rules is self._seed_residence_rules
            and state.seed_assistance_rules is self._seed_assistance_rules
        ):
            return state
        return state.model_copy(
            update={
                "seed_residence_rules": self._seed_residence_rules,
                "seed_assistance_rules": self._seed_assistance_rules,
            }
        )

    def _fire_due(self) -> None:
        # A metric only (replay-safe meter): no command, no change to the history.
        metrics.timers_fired(self._require_state(), workflow.now())
        state, effects = fire_due(
            self._keyed(self._require_state()),
            workflow.now(),
            # Cases that reached a deadline before this rule existed must replay unchanged.
            escalate_undelivered=self._earlier_patch("escalate-undelivered-reminders"),
        )
        self._state = state
        self._log_effects("deadline", effects)

    # -- events --------------------------------------------------------------------------------
    def _decide(self, request: RecordEvent, *, validating: bool = False) -> Accepted | Rejection:
        """The rules' decision on ``request`` (:func:`~pathway.domain.rules.decide`), made once
        per event: the validator's decision is kept and the handler takes it when nothing it
        depends on changed between them (an equal request, the same state object and time;
        issue 14: the SDK converts the argument again for the handler). Replay runs no
        validator: then the handler decides, with the same outcome."""
        now = workflow.now()
        # Asked before the kept decision is taken: the handler records the patch's marker.
        restored = self._permits_restored_moot(
            self._state, ask=not validating, event_type=request.event.type
        )
        kept = self._validated
        self._validated = None
        if (
            kept is not None
            and kept[1] is self._state
            and kept[2] == now
            and kept[0] == request
            and kept[4] is restored
        ):
            return kept[3]
        return decide(
            None
            if self._state is None
            else self._keyed(self._state, permits_restored_moot=restored),
            request.event,
            now,
            case_id=workflow.info().workflow_id,
            config=self._config,
            link_secret=self._link_secret,
            rules={"seed_status_rules": self._seed_status_rules},
        )

    @workflow.update
    def record_event(self, request: RecordEvent) -> EventResult:
        """Apply one event; returns its acknowledgement (or the first one, on a repeat)."""
        decision = self._decide(request)
        if isinstance(decision, Rejection):
            # Only reachable if the validator was skipped (it is not run on replay).
            raise rejection_error(decision)
        if not decision.result.duplicate:
            self._state = decision.state
            self._wake = True
            self._log_effects(request.event.type, decision.effects)
            metrics.event_accepted(request.event.type)
        return decision.result

    @record_event.validator
    def _validate_event(self, request: RecordEvent) -> None:
        # Who may send it, against the membership it would be recorded under (issue 11). In
        # the validator only, which replay does not run: no history changes.
        if request.sender is not None and self._state is not None:
            refusal = send_refusal(self._state, request.sender, request.event.type)
            if refusal is not None:
                metrics.event_rejected(request.event.type, refusal.rule)
                raise rejection_error(refusal)
        # The admission checks (issue 13), here only: a history that recorded an event they
        # refuse replays unchanged (docs/versioning.md; pathway/domain/rules/admission.py).
        decision = admit(
            self._state,
            request.event,
            workflow.now(),
            lambda: self._decide(request, validating=True),
        )
        if isinstance(decision, Rejection):
            metrics.event_rejected(request.event.type, decision.rule)
            raise rejection_error(decision)
        self._validated = (
            request,
            self._state,
            workflow.now(),
            decision,
            self._permits_restored_moot(self._state, ask=False, event_type=request.event.type),
        )

    # -- rejected events (issue 17 item 3) -----------------------------------------------------
    @workflow.update
    def note_rejection(self, note: RejectionNote) -> bool:
        """Keep ``note``, the rules' rejection of an event sent to this case, as the case's
        latest rejection entry: metadata only, never the event's values
        (:func:`pathway.domain.rules.note_rejection`; the timeline marks it). Sent by the
        client after an ``EventRejected`` (:func:`pathway.clients.cases.record_event`). Returns
        True if noted now, False if the same rejection was kept already.

        It changes the state only: no deadline, notification, activity or search attribute
        follows, and the main loop is not woken, so it adds no command (docs/versioning.md); a
        case whose history such notes grow continues as new when Temporal suggests it
        (:meth:`_woken`). Refused (``EventRejected``, nothing noted) by the validator: a case
        not opened or closed (rule ``CASE``), an ``ACCESS`` refusal, a sender that is no member
        or may not send the event (rule ``ACCESS``, as :meth:`record_event` checks): what may
        not be sent to a case may not write into it either (R6); and a rejection kept already
        (rule ``IDEMPOTENCY``), so that a repeat adds nothing to the history."""
        decision = noted(self._require_state(), note, workflow.now())
        if isinstance(decision, Rejection):
            # Only reachable if the validator was skipped (it is not run on replay).
            raise rejection_error(decision)
        if decision is self._state:
            return False
        self._state = decision
        # Codes only: never the reason's text.
        workflow.logger.info(
            "rejection noted",
            extra={
                "case_id": workflow.info().workflow_id,
                "event_type": note.event_type,
                "rule": note.rule,
            },
        )
        return True

    @note_rejection.validator
    def _validate_rejection(self, note: RejectionNote) -> None:
        if self._state is None:
            raise rejection_error(Rejection(RULE_CASE, "type", "the case is not opened"))
        if note.sender is not None:
            if note.sender != OPERATOR and note.sender != note.organisation.value:
                raise rejection_error(
                    Rejection(RULE_ACCESS, "organisation", "nobody sends as someone else")
                )
            refusal = send_refusal(self._state, note.sender, note.event_type)
            if refusal is not None:
                raise rejection_error(refusal)
        decision = noted(self._state, note, workflow.now())
        if isinstance(decision, Rejection):
            raise rejection_error(decision)
        if decision is self._state:
            # Kept already: refused, so that a repeat adds nothing to the history either.
            raise rejection_error(
                Rejection("IDEMPOTENCY", "event_id", "this rejection is noted already")
            )

    # -- the operator's changes ----------------------------------------------------------------
    def _decide_membership(self, change: MembershipChange) -> CaseState | Rejection:
        return decide_membership(self._state, change, workflow.now())

    @workflow.update
    def change_membership(self, change: MembershipChange) -> list[Membership]:
        """The operator adds or removes a member with a reason (MEMBERS,
        :func:`~pathway.domain.rules.decide_membership`); returns every membership record of
        the case after it. A refused change is rejected by the validator exactly as an event
        is (``EventRejected``: rule MEMBERS or CASE, the field, the reason) and changes
        nothing."""
        decision = self._decide_membership(change)
        if isinstance(decision, Rejection):
            # Only reachable if the validator was skipped (it is not run on replay).
            raise rejection_error(decision)
        self._state = decision
        # Categories only: never the reason, which is the operator's free text.
        workflow.logger.info(
            "membership changed",
            extra={
                "case_id": workflow.info().workflow_id,
                "action": change.action,
                "organisation": change.organisation.value,
                "role": change.role.value,
            },
        )
        return decision.membership

    @change_membership.validator
    def _validate_membership(self, change: MembershipChange) -> None:
        decision = self._decide_membership(change)
        if isinstance(decision, Rejection):
            raise rejection_error(decision)

    @workflow.update
    def forget_linked_case(self, case_id: str) -> bool:
        """Remove every trace of the linked case ``case_id``, which was erased, from this
        case's state (``linked_cases``, the children's ``own_case_id``, ``pending_case_starts``,
        timeline mentions; :func:`~pathway.domain.rules.forget_linked_case`). True if something
        was removed; False (and nothing changes) if the case holds no trace of it or is not
        opened yet: idempotent."""
        if self._state is None:
            return False
        forgotten = forget_linked_case(self._state, case_id, workflow.now())
        if forgotten is None:
            return False
        self._state = forgotten
        workflow.logger.info(
            "linked case forgotten", extra={"case_id": workflow.info().workflow_id}
        )
        return True

    @property
    def sealing_episode(self) -> int | None:
        """The episode this run's payloads are sealed under (:mod:`pathway.privacy.sealing`);
        None: the case's current one."""
        return self._episode

    # -- query ---------------------------------------------------------------------------------
    @workflow.query
    def state(self) -> CaseState | None:
        """The whole case: what every reader gets (``pathway.clients.cases.case_state`` for the
        CLI and the gateway, which filters it per role; the yearly report). Views are derived
        from it outside the workflow; :meth:`standing` is the one small read beside it."""
        return self._state

    @workflow.query
    def standing(self, organisation: str) -> CaseStanding | None:
        """``organisation``'s standing in the case: the phase and its roles (none for a
        non-member or ``"operator"``); None before the case has a state. The gateway's check
        before an event (``pathway.clients.cases.case_standing``, issue 14): a few dozen bytes
        to decrypt instead of the whole state. Read-only, so no command and no patch."""
        state = self._state
        if state is None:
            return None
        return CaseStanding(phase=state.phase, roles=roles_in_case(state, organisation))

    # -- notifications -------------------------------------------------------------------------
    def _settle_notification(self, notification: Notification, outcome: DeliveryOutcome) -> None:
        settle_notification(self._require_state(), notification, workflow.now(), outcome)
        self._wake = True

    # -- linked cases --------------------------------------------------------------------------
    def _open_linked(self, identified: Identified, linked_case_id: str | None) -> None:
        decision = decide(
            None,
            identified,
            workflow.now(),
            case_id=workflow.info().workflow_id,
            config=self._config,
            link_secret=self._link_secret,
            rules={"seed_status_rules": self._seed_status_rules},
        )
        if isinstance(decision, Rejection):
            workflow.logger.error("linked case not opened", extra={"rule": decision.rule})
            return
        if linked_case_id is not None:
            decision.state.linked_cases.append(linked_case_id)
        self._state = decision.state
        self._log_effects(identified.type, decision.effects)

    def _dispatch_case_starts(self, state: CaseState) -> None:
        for start in state.pending_case_starts:
            if start.case_id not in self._case_starts:
                self._case_starts[start.case_id] = asyncio.create_task(self._start_case(start))

    async def _start_case(self, start: CaseStart) -> None:
        """Start the linked case (R1) as a workflow of its own, which outlives this one.

        Started by the ``start_linked_case`` activity, not as a child workflow: no Temporal
        metadata links the two cases (the link is only in the encrypted state of each, issue
        11 item 6), and nothing in this case's history is sealed under the linked case's key,
        so erasing the linked case leaves this one working. Cases that started children before
        the patch replay the child-workflow command (docs/versioning.md).
        """
        case_input = CaseInput(
            config=self._config,
            identified=start.identified,
            linked_case_id=workflow.info().workflow_id,
            link_secret=start.link_secret,
        )
        if self._earlier_patch("linked-case-started-by-activity"):
            await self._start_case_by_activity(start.case_id, case_input)
        else:
            # Already started means started before (e.g. by the run before a continue-as-new).
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await workflow.start_child_workflow(
                    VictimCaseWorkflow.run,
                    case_input,
                    id=start.case_id,
                    task_queue=workflow.info().task_queue,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
        settle_case_start(self._require_state(), start.case_id, workflow.now())
        del self._case_starts[start.case_id]
        self._wake = True

    async def _start_case_by_activity(self, case_id: str, case_input: CaseInput) -> None:
        try:
            await workflow.execute_activity(
                "start_linked_case",
                LinkedCaseStart(
                    case_id=case_id, task_queue=workflow.info().task_queue, input=case_input
                ),
                start_to_close_timeout=LINKED_CASE_START_TIMEOUT,
                retry_policy=LINKED_CASE_START_RETRY,
            )
        except ActivityError as err:
            # Only a non-retryable failure ends up here (the linked case was erased before it
            # started). Codes only: never the linked case's ID or a fact about the person.
            workflow.logger.error(
                "linked case not started",
                extra={
                    "case_id": workflow.info().workflow_id,
                    "error": err.cause.type
                    if isinstance(err.cause, ApplicationError)
                    else type(err.cause).__name__,
                },
            )

    # -- statistics ------------------------------------------------------------------------------
    def _dispatch_statistics(self, state: CaseState) -> None:
        """Store the facts of ``state`` this run has not stored yet (patch ``statistics-ledger``):
        one ``record_statistics`` activity at a time, on the case task queue; the next state's
        facts follow when it is done. The facts are derived by the pure
        :func:`~pathway.domain.ledger.statistics_facts`; the activity anonymises and stores."""
        if not self._statistics_ledger or self._ledger_write is not None:
            return
        if state is self._ledger_seen:
            return
        self._ledger_seen = state
        facts = [f for f in statistics_facts(state) if f.key not in self._ledgered]
        if facts:
            self._ledger_write = asyncio.create_task(self._record_statistics(facts))

    async def _record_statistics(self, facts: list[StatisticsFact]) -> None:
        try:
            await workflow.execute_activity(
                "record_statistics",
                StatisticsBatch(facts=facts),
                start_to_close_timeout=STATISTICS_TIMEOUT,
                retry_policy=STATISTICS_RETRY,
            )
            self._ledgered.update(f.key for f in facts)
        except ActivityError as err:
            # Only a non-retryable failure ends up here; the next state change tries again.
            workflow.logger.error(
                "statistics not recorded",
                extra={"case_id": workflow.info().workflow_id, "error": type(err.cause).__name__},
            )
            self._ledger_seen = None
        self._ledger_write = None
        self._wake = True

    def _busy(self) -> bool:
        """Notifications, linked-case starts or a statistics write still in flight."""
        return bool(self._deliveries.in_flight or self._case_starts or self._ledger_write)

    # -- helpers -------------------------------------------------------------------------------
    def _earlier_patch(self, patch_id: str) -> bool:
        """Whether this run takes ``patch_id``'s new branch: ``True`` without a marker of its
        own in a run that recorded :data:`ONE_MARKER`, else ``workflow.patched(patch_id)``
        (memoised per run by the SDK). Only for :data:`EARLIER_PATCHES`."""
        if patch_id not in EARLIER_PATCHES:
            raise ValueError(f"{patch_id!r} is newer than {ONE_MARKER!r}: ask workflow.patched")
        return self._one_marker or workflow.patched(patch_id)

    def _require_state(self) -> CaseState:
        if self._state is None:
            raise ApplicationError("the case has not been identified", type="CaseNotOpened")
        return self._state

    def _publish_search_attributes(self, state: CaseState) -> None:
        """The phase and the owners of open obligations: non-identifying categories only."""
        if not self._config.upsert_search_attributes:
            return
        # Histories recorded before the owners were published must replay unchanged.
        with_owners = self._earlier_patch("search-attribute-obligation-owners")
        owners = sorted({o.owner.value for o in state.open_obligations}) if with_owners else []
        wanted = (state.phase.value, owners)
        if wanted == self._published:
            return
        updates: list[SearchAttributeUpdate[Any]] = [search_attributes.PHASE.value_set(wanted[0])]
        if with_owners:
            updates.append(search_attributes.OBLIGATION_OWNERS.value_set(owners))
        workflow.upsert_search_attributes(updates)
        self._published = wanted

    def _log_effects(self, cause: str, effects: Effects) -> None:
        # Codes and counts only: never a fact about the person.
        workflow.logger.info(
            "case changed",
            extra={
                "case_id": workflow.info().workflow_id,
                "cause": cause,
                "phase": self._require_state().phase.value,
                "notifications": len(effects.notifications),
                "deadlines_set": [k.value for k in effects.deadlines_set],
                "deadlines_ended": [k.value for k in effects.deadlines_ended],
                "obligations_opened": len(effects.obligations_opened),
                "obligations_closed": len(effects.obligations_closed),
            },
        )


@workflow.defn(name="VictimCaseWorkflow", versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class VersionedVictimCaseWorkflow(VictimCaseWorkflow):
    """The same workflow type for a versioned worker (Worker Versioning, docs/versioning.md),
    declaring its behaviour: a case runs for years, so it moves to each new build at its next
    task and replays there (every command change patched). An unversioned worker (``pathway
    dev``) registers the base class, which declares none: the SDK sends a declared behaviour
    with every workflow task, and the server refuses one from an unversioned worker."""

    @workflow.run
    async def run(self, start: CaseInput) -> CaseOutcome:
        return await super().run(start)
