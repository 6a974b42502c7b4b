"""The whole state of one case, as one model (so continue-as-new carries it in one piece)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pathway.domain import membership as _membership
from pathway.domain.calendar import local_date
from pathway.domain.config import CaseConfig
from pathway.domain.deadline_kinds import DeadlineKind as DeadlineKind  # re-exported
from pathway.domain.events import (
    AccommodationService,
    ChildDecision,
    FamilyContactOutcome,
    FurtherSupport,
    Identified,
    OfferAnswer,
    PermitBasis,
    Placement,
    PresentAtInterview,
    ReintegrationService,
    ResidencePermitBasis,
    RightsSubject,
    ServiceStatus,
)
from pathway.domain.membership import MemberRole, Membership
from pathway.domain.organisations import Organisation
from pathway.domain.person import AgeEstimate, Gender, PersonFacts, SpecialNeed


class Phase(StrEnum):
    """Assistance phases (docs/rules.md "The case")."""

    IDENTIFIED = "identified"
    REFLECTION = "reflection"
    SAFE_ACCOMMODATION = "safe_accommodation"
    REINTEGRATION = "reintegration"
    RETURNED_HOME = "returned_home"
    DECLINED_LEFT = "declined_left"
    CLOSED = "closed"


EXIT_PHASES = frozenset({Phase.RETURNED_HOME, Phase.DECLINED_LEFT, Phase.CLOSED})


class ObligationKind(StrEnum):
    """Something an organisation must do, visible until done."""

    NGO_INTERVIEW = "ngo_interview"
    RIGHTS_INFORMATION = "rights_information"
    REFLECTION_DECISION = "reflection_decision"
    FOLLOW_ON_PLACEMENT = "follow_on_placement"
    PERMIT_TO_STAY_EXTENSION_DECISION = "permit_to_stay_extension_decision"
    RESIDENCE_PERMIT_RENEWAL = "residence_permit_renewal"
    ACCOMMODATION_AFTER_PROCEEDINGS = "accommodation_after_proceedings"
    SAFE_ACCOMMODATION_PERMITS = "safe_accommodation_permits"
    GUARDIAN_APPOINTMENT = "guardian_appointment"
    SWC_INTERVIEW = "swc_interview"
    EMERGENCY_ASSISTANCE = "emergency_assistance"
    GUARDIAN_STATEMENT = "guardian_statement"
    FACILITY_ACCOMMODATION = "facility_accommodation"
    FAMILY_CONTACT = "family_contact"
    AUTHORISED_REPRESENTATIVE = "authorised_representative"
    SPECIAL_NEED_REFERRAL = "special_need_referral"
    SAFE_ACCOMMODATION_OFFER = "safe_accommodation_offer"
    TRUSTED_PERSON = "trusted_person"
    NOTIFICATION_UNDELIVERED = "notification_undelivered"


#: The child-protection track's obligations: they close when the child turns 18.
CHILD_OBLIGATIONS = frozenset(
    {
        ObligationKind.GUARDIAN_APPOINTMENT,
        ObligationKind.SWC_INTERVIEW,
        ObligationKind.EMERGENCY_ASSISTANCE,
        ObligationKind.GUARDIAN_STATEMENT,
        ObligationKind.FACILITY_ACCOMMODATION,
        ObligationKind.FAMILY_CONTACT,
        ObligationKind.AUTHORISED_REPRESENTATIVE,
    }
)
#: ... and their timers.
CHILD_DEADLINES = frozenset(
    {
        DeadlineKind.GUARDIAN_APPOINTMENT,
        DeadlineKind.FAMILY_CONTACT,
        DeadlineKind.SWC_INTERVIEW,
        DeadlineKind.FACILITY_ACCOMMODATION,
        DeadlineKind.AUTHORISED_REPRESENTATIVE,
        DeadlineKind.TURNS_15,
        DeadlineKind.TURNS_18,
    }
)


class Reminder(BaseModel):
    at: datetime
    recipients: list[Organisation]
    lead_ngo: bool = Field(
        default=False,
        description="Also remind the NGO leading the case when the reminder fires (it may "
        "change between setting the deadline and the reminder).",
    )
    sent: bool = False


class Deadline(BaseModel):
    """A durable, updatable timer: decision events move (``due_at``) or end it."""

    kind: DeadlineKind
    rule: str
    due_at: datetime
    reminders: list[Reminder] = Field(default_factory=list)

    def view(self) -> DeadlineView:
        """This deadline as the case summary and an event's acknowledgement show it."""
        return DeadlineView(
            kind=self.kind,
            rule=self.rule,
            due_at=self.due_at,
            next_reminder_at=min((r.at for r in self.reminders if not r.sent), default=None),
        )


class Obligation(BaseModel):
    id: str
    kind: ObligationKind
    rule: str
    owner: Organisation
    action: str
    opened_at: datetime
    due_at: datetime | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, description="event_id or 'deadline'")
    escalated_to: list[Organisation] = Field(
        default_factory=list,
        description="Who a timer told when it opened or escalated this obligation (K1, K5, S1): "
        "told again if a late-recorded event makes the escalation moot.",
    )
    moot: bool = Field(
        default=False,
        description="Settled by an event recorded after the escalation that happened before "
        "it: had it been recorded in time, the escalation would not have fired.",
    )
    lapsed_at: datetime | None = Field(
        default=None,
        description="S3: the instant the permit lapse it answers happened (24:00 of the "
        "permit's last day of validity), whatever time the case woke to notice it.",
    )
    restored_late: bool = Field(
        default=False,
        description="S3: a permit was restored while it was open by a decision made after that "
        "permit had lapsed (a real gap in the permits): its notice was not moot.",
    )

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def view(self) -> ObligationView:
        """This obligation as the case summary and an event's acknowledgement show it."""
        return ObligationView(
            id=self.id,
            kind=self.kind,
            rule=self.rule,
            owner=self.owner,
            due_at=self.due_at,
            escalated=self.escalated_at is not None,
        )


class Notification(BaseModel):
    """What an organisation must do. Carries the case ID and dates, never personal data."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    case_id: str
    #: The recipient's own count in this case: 1, 2, 3… for each organisation (before issue 11,
    #: the case's count over all recipients).
    sequence: int
    recipient: Organisation
    reason: str
    rule: str
    action: str
    issued_at: datetime
    due_at: datetime | None = None


class DeliveryOutcome(BaseModel):
    """What became of one notification: the notify activity's result when it was delivered, or
    the failure the workflow records when the activity fails for good (a non-retryable error).
    :func:`pathway.domain.rules.settle_notification` reads it.

    The wire shape is the activity's earlier receipt plus ``delivered`` and ``detail``, so the
    results already in running cases' histories (all of them deliveries) read as delivered.
    """

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    recipient: Organisation
    #: The default reads results recorded before this field existed: only deliveries were.
    delivered: bool = True
    #: How it was delivered: the kind of the recipient's channel (``pathway.channels``).
    channel: str | None = None
    delivered_at: datetime | None = None
    attempt: int | None = None
    #: Why it was not delivered: the kind of the final failure.
    detail: str | None = None

    @model_validator(mode="after")
    def _delivered_by_a_channel_or_failed_for_a_reason(self) -> Self:
        if self.delivered and self.channel is None:
            raise ValueError("a delivery names its channel")
        if not self.delivered and self.detail is None:
            raise ValueError("a failure names its reason")
        return self

    @classmethod
    def failed(cls, notification: Notification, detail: str) -> DeliveryOutcome:
        """The outcome of a notification that will not be delivered (no retry can help)."""
        return cls(
            idempotency_key=notification.idempotency_key,
            recipient=notification.recipient,
            delivered=False,
            detail=detail,
        )

    def describe(self) -> str:
        """The outcome as the case timeline shows it."""
        return f"delivered by {self.channel}" if self.delivered else f"failed: {self.detail}"


class TimelineEntry(BaseModel):
    """Who, when, what, why."""

    at: datetime
    recorded_at: datetime
    who: str = Field(description="organisation (and actor), or 'pathway' for timers")
    organisation: Organisation | None = Field(
        default=None, description="The organisation that acted or was notified."
    )
    what: str
    why: str | None = None
    rule: str | None = None
    event_id: str | None = None
    child: ChildDecision | None = Field(
        default=None,
        description="C1, C2: the best-interests note and the child's views, "
        "shown beside the decision.",
    )


class RejectionEntry(BaseModel):
    """An event sent to this case that the rules rejected (issue 17 item 3: "rejected events
    marked" on the timeline). Metadata only: which event (its ID and type), who sent it, the
    rule, the field it names and the rule's reason, and when it was noted; never the values the
    event carried (its payload never reaches the case or its history). Kept for the latest
    :data:`REJECTIONS_KEPT` rejections of each organisation
    (:func:`pathway.domain.rules.note_rejection`)."""

    model_config = ConfigDict(frozen=True)

    at: datetime = Field(description="When the case noted the rejection.")
    event_id: str
    event_type: str
    organisation: Organisation = Field(description="The organisation the event named (sent it).")
    rule: str
    field: str | None = None
    reason: str = Field(description="The rule's reason, as the sender was told it.")


#: How many rejections a case keeps of each organisation (its latest): a flood of rejected
#: events cannot grow the state, which every query reads and continue-as-new carries (issue 14
#: item 2, payload size), and one organisation's flood cannot push another's rejections out of
#: the case (review of issue 17: the police flushing their own R2 record with a shared cap).
REJECTIONS_KEPT = 10


class PlacementRecord(BaseModel):
    provider: Organisation
    since: datetime
    consent_signed_on: date
    ended_at: datetime | None = None
    end_reason: str | None = None
    counted_from: datetime | None = Field(
        default=None,
        description="K1: when the case's 30 days of crisis accommodation started, at its first "
        "crisis placement; a placement after an end or a withdrawal goes on counting from it. "
        "None in placements recorded before issue 13 (each counted from its own `since`).",
    )
    preliminary_programme: bool | None = Field(
        default=None,
        description="S1: safe accommodation given “on the basis of a preliminary assistance "
        "and protection programme”: whether one was drawn up at placement. None for crisis "
        "accommodation and for placements recorded before issue 13.",
    )

    @property
    def active(self) -> bool:
        return self.ended_at is None


class SafeAccommodationOffer(BaseModel):
    """S1: safe accommodation offered (during crisis accommodation), and the answer."""

    at: datetime
    by: Organisation
    answer: OfferAnswer


class ServiceRecord(BaseModel):
    """K3, S2: a service of crisis or safe accommodation offered or provided, when it occurred
    and when it was recorded, by whom."""

    programme: Placement
    service: AccommodationService
    status: ServiceStatus
    at: datetime
    recorded_at: datetime
    by: Organisation


class RightsGiven(BaseModel):
    at: datetime
    language: str
    interpreter_used: bool
    by: Organisation


class PoliceInterview(BaseModel):
    at: datetime
    trusted_person_offered: bool
    present: PresentAtInterview


class PermitToStay(BaseModel):
    basis: PermitBasis
    valid_from: date
    valid_until: date = Field(description="last day of validity")
    extended_by_months: int | None = None
    granted_at: datetime | None = Field(
        default=None,
        description="When the permit was granted (the event's occurred_at); None for permits "
        "recorded before it was kept, whose grant the timeline holds.",
    )


class ResidencePermit(BaseModel):
    basis: ResidencePermitBasis
    valid_from: date
    valid_until: date = Field(description="last day of validity")
    permit_number: str | None = None


class CriminalProceedings(BaseModel):
    opened_at: datetime
    concluded_at: datetime | None = None
    authorised_representative: bool = Field(
        default=False,
        description="C7: opened with an authorised representative (recorded since "
        "the patch 'seed-child-rules').",
    )


class Cooperation(BaseModel):
    """R5: recorded for the police's information; it conditions nothing."""

    at: datetime
    willing_to_cooperate: bool
    willing_to_be_witness: bool | None = None


class Reintegration(BaseModel):
    enrolled_at: datetime
    personal_plan: bool
    services: list[ReintegrationService] = Field(default_factory=list)


class SwcInterview(BaseModel):
    at: datetime
    emergency_assistance_offered: bool
    guardian_statement_taken: bool
    trafficking_indicators: bool


class ChildProtection(BaseModel):
    """The child-protection track (minors only): opened at identification, closed at 18."""

    opened_at: datetime
    closed_at: datetime | None = None
    guardian_appointed_at: datetime | None = None
    swc_interview: SwcInterview | None = None
    facility_accommodation_at: datetime | None = None
    family_contact: FamilyContactOutcome | None = None
    authorised_representative_at: datetime | None = None


class Hearing(BaseModel):
    hearing_date: date
    direct_questioning: bool
    scheduled_at: datetime


class AccompanyingChild(BaseModel):
    """A child placed with the victim: a dependant, counted in placement statistics."""

    child_ref: str
    birth_date: date | None = None
    age_estimate: AgeEstimate | None = None
    gender: Gender
    citizenships: list[str]
    placed_with: Placement
    recorded_at: datetime
    own_case_id: str | None = None


class SpecialNeedRecord(BaseModel):
    """K4. ``detail`` is a health detail: only the roles that provide the help may read it."""

    need: SpecialNeed
    detail: str | None = None
    provider: Organisation
    flagged_at: datetime
    referred_at: datetime | None = None


class CaseStart(BaseModel):
    """A case the workflow must start (an accompanying child identified as a victim)."""

    case_id: str
    identified: Identified
    link_secret: str | None = Field(
        default=None,
        description="The started case's own link secret (derived from this case's); None in "
        "cases recorded before linked cases had secrets.",
    )


class ObligationView(BaseModel):
    id: str
    kind: ObligationKind
    rule: str
    owner: Organisation
    due_at: datetime | None
    escalated: bool


class DeadlineView(BaseModel):
    kind: DeadlineKind
    rule: str
    due_at: datetime
    next_reminder_at: datetime | None


class CaseSummary(BaseModel):
    """What an accepted event returns: where the case stands now."""

    case_id: str
    phase: Phase
    open_obligations: list[ObligationView]
    upcoming_deadlines: list[DeadlineView]


class CaseChanges(BaseModel):
    """What one accepted event changed in its case (:class:`EventResult`): the obligations it
    opened and settled and the deadlines it set (or moved) and ended, as the case summary shows
    them. Empty for an event that changed none of them."""

    obligations_opened: list[ObligationView] = Field(default_factory=list)
    obligations_settled: list[ObligationView] = Field(default_factory=list)
    deadlines_set: list[DeadlineView] = Field(default_factory=list)
    deadlines_ended: list[DeadlineView] = Field(default_factory=list)


class EventResult(BaseModel):
    """An accepted event's acknowledgement, the ``record_event`` update's result (issue 14
    item 2): the event, whether it repeated an accepted one (then the first acknowledgement,
    marked ``duplicate``), the case's phase after it and what it changed, a few hundred bytes.
    The whole case (:class:`CaseSummary`, 1 to 3 KB) is not in it: a client that wants it
    queries the case (``GET /v1/cases/{case_id}``, ``pathway case show``).

    ``summary``: only in results recorded before issue 14 (histories, and the kept results of
    states carried over continue-as-new); never set since.
    """

    event_id: str
    event_type: str
    duplicate: bool = False
    case_id: str = ""
    phase: Phase | None = None
    changes: CaseChanges = Field(default_factory=CaseChanges)
    summary: CaseSummary | None = None


class CaseStanding(BaseModel):
    """One organisation's standing in a case, the case workflow's ``standing`` query (issue 14):
    the case's phase and the roles the organisation holds in it, a few dozen bytes.

    What the gateway checks before an event (R6: a non-member's event is the 404 of a case that
    does not exist; the policy's SEND for the role; a closed case) without reading, decrypting
    and validating the whole :class:`CaseState`. ``roles`` is empty for a non-member and for
    the operator (who is no member and needs none, :func:`pathway.access.policy.roles_in_case`)."""

    phase: Phase
    roles: frozenset[MemberRole] = frozenset()


class ProcessedEvent(BaseModel):
    """An accepted event, for idempotency. The full first result is kept for the most recent
    events only (``RESULTS_KEPT``); older ones keep their digest, so a late repeat is still
    recognised and answered with the case as it stands."""

    digest: str
    event_type: str = ""
    result: EventResult | None = None
    #: Who sent it (None: kept before senders were recorded). An event_id is its sender's key:
    #: :func:`~pathway.domain.rules.dispatch.idempotency_key`.
    organisation: str | None = None


#: How many of the latest accepted events keep their full first result (senders repeat an
#: event within minutes or days, not years; the digest of every event is kept for ever). A
#: result once held the case summary (1 to 3 KB): at 200 a long case's state carried 260 KB of
#: them, read by every query and carried over continue-as-new; at 20 a case of 300 events was
#: 135 KB instead of 335 KB (issue 14 item 2, payload size). Results are now acknowledgements
#: of a few hundred bytes (:class:`EventResult`).
RESULTS_KEPT = 20


class CaseState(BaseModel):
    """Everything about one case."""

    case_id: str
    config: CaseConfig
    opened_at: datetime
    phase: Phase = Phase.IDENTIFIED
    person: PersonFacts
    lead_ngo: Organisation = Organisation.CARITAS
    ngo_interview_at: datetime | None = None
    rights_information: dict[RightsSubject, RightsGiven] = Field(default_factory=dict)
    police_interview: PoliceInterview | None = None
    reflection_started_at: datetime | None = None
    crisis_accommodation: PlacementRecord | None = None
    safe_accommodation: PlacementRecord | None = None
    safe_accommodation_offer: SafeAccommodationOffer | None = Field(
        default=None,
        description="S1: the latest offer of safe accommodation and the victim's answer.",
    )
    further_support: FurtherSupport | None = None
    accommodation_services: list[ServiceRecord] = Field(
        default_factory=list,
        description="K3, S2: the services of crisis and safe accommodation offered or provided, "
        "with their dates.",
    )
    permit_to_stay: PermitToStay | None = None
    residence_permit: ResidencePermit | None = None
    criminal_proceedings: CriminalProceedings | None = None
    cooperation: Cooperation | None = None
    reintegration: Reintegration | None = None
    child_protection: ChildProtection | None = None
    hearings: list[Hearing] = Field(default_factory=list)
    accompanying_children: list[AccompanyingChild] = Field(default_factory=list)
    special_needs: list[SpecialNeedRecord] = Field(default_factory=list)
    linked_cases: list[str] = Field(
        default_factory=list, description="Cases of the same family: a parent's, a child's."
    )
    found_in: str | None = Field(default=None, description="P1: where suspicion arose.")
    deadlines: dict[DeadlineKind, Deadline] = Field(default_factory=dict)
    obligations: list[Obligation] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    rejections: list[RejectionEntry] = Field(
        default_factory=list,
        description="The latest events the rules rejected (REJECTIONS_KEPT per organisation), "
        "metadata only: the timeline marks them (issue 17 item 3). Only ACCESS refusals are "
        "never noted.",
    )
    pending_notifications: list[Notification] = Field(default_factory=list)
    pending_case_starts: list[CaseStart] = Field(default_factory=list)
    notifications_sent: int = 0
    notifications_to: dict[Organisation, int] = Field(
        default_factory=dict,
        description="How many notifications each recipient was sent: the last number of each.",
    )
    processed: dict[str, ProcessedEvent] = Field(default_factory=dict)
    closed_at: datetime | None = None
    link_secret: str | None = Field(
        default=None,
        description="A random secret made when the case was opened, from which the IDs of the "
        "cases it opens (accompanying children, R1) derive (pathway.domain.ids.linked_case_id); "
        "None in cases opened before it existed, whose children's IDs keep the old scheme.",
    )
    seed_residence_rules: bool = Field(
        default=True,
        description="I1, K7, S3, S5 as the seed states them (issue 13): who may enrol in "
        "reintegration, who gets a permit to stay and when, the obligations when a permit "
        "lapses or proceedings conclude during safe accommodation. The workflow sets it from "
        "the patch 'seed-residence-rules' (docs/versioning.md): False while a history recorded "
        "before it replays, so running cases keep the rules they ran under until their next run.",
    )
    seed_assistance_rules: bool = Field(
        default=True,
        description="K1, K2, S1, R3, R4 as the seed states them (issue 13): the 30 days of crisis "
        "accommodation from the case's first placement, never both placements at once, the "
        "order of consent, placement and withdrawal, safe accommodation offered during crisis "
        "accommodation, information in a recorded language, the trusted person's offer. The "
        "workflow sets it from the patch 'seed-assistance-rules' (docs/versioning.md): False "
        "while a history recorded before it replays.",
    )
    seed_child_rules: bool = Field(
        default=True,
        description="C4–C8 re-evaluated when the person's facts change, the C5 steps for every "
        "foreign unaccompanied minor with due dates, and the plausibility of dates against the "
        "case (issue 13). The workflow sets it from the patch 'seed-child-rules' "
        "(docs/versioning.md): False while a history recorded before it replays.",
    )
    seed_reintegration_dates: bool = Field(
        default=True,
        description="I1 decided as of the day of the enrolment (the proceedings that had begun "
        "by then) and no reintegration service dated before the enrolment (issue 13). The "
        "workflow sets it from the patch 'seed-reintegration-dates' (docs/versioning.md): False "
        "while a history recorded before it replays.",
    )
    seed_status_rules: bool = Field(
        default=True,
        description="An EU citizen (a Slovenian citizen too) is never recorded as an applicant "
        "for international protection (issue 13). The workflow sets it from the patch "
        "'eu-citizen-not-a-protection-applicant' (docs/versioning.md), also for the "
        "identification that opens the case: False while a history recorded before it replays.",
    )
    moot_every_track: bool = Field(
        default=True,
        description="Late-recorded events settle as moot the escalations of every track, not "
        "only K1, K5 and S1: R3's rights information, the child-protection obligations (C4-C7), "
        "S3's lapsed permits and S5's next step after proceedings (issue 13). The workflow sets "
        "it from the patch 'moot-escalations-every-track' (docs/versioning.md): False while a "
        "history recorded before it replays.",
    )
    lapsed_permit_day_from_validity: bool = Field(
        default=True,
        description="S3's notice of a permit lapsed in safe accommodation names the permit's "
        "own last day of validity, and its settle-by date counts from it, however late the case "
        "woke (issue 13, found by mutation testing). The workflow sets it from the patch "
        "'s3-lapsed-permit-day-from-validity' (docs/versioning.md): False while a history "
        "recorded before it replays, which took the day before the moment the case woke.",
    )
    permits_restored_moot: bool = Field(
        default=True,
        description="S3 after a late-recorded permit: an extension of the permit to stay "
        "restores the permits like a residence permit's renewal does, settling the obligation "
        "a lapse opened, and one that happened before the lapse was noticed (recorded late) "
        "makes the lapse notice moot and tells those it told (issue 13, known gap 2). The "
        "workflow sets it from the patch 's3-permits-restored-moot' (docs/versioning.md), asked "
        "only when such an event meets an open S3 obligation: False while a history recorded "
        "before it replays.",
    )
    membership: list[Membership] = Field(
        default_factory=list,
        description="Who is a member of the case in which role, since when, added (and ended) "
        "by whom and why; ended records stay (pathway.domain.membership).",
    )

    @model_validator(mode="after")
    def _membership_of_older_cases(self) -> Self:
        """A case recorded before membership existed (continue-as-new carries its state) gets
        the members its state shows; a case opened since always has at least one."""
        if not self.membership and self.timeline:
            self.membership = _membership.derive_membership(self)
        return self

    @property
    def open_obligations(self) -> list[Obligation]:
        return [o for o in self.obligations if o.is_open]

    def summary(self) -> CaseSummary:
        return CaseSummary(
            case_id=self.case_id,
            phase=self.phase,
            open_obligations=[o.view() for o in self.open_obligations],
            upcoming_deadlines=sorted(
                (d.view() for d in self.deadlines.values()), key=lambda v: (v.due_at, v.kind)
            ),
        )

    def roles_of(self, organisation: Organisation | str) -> frozenset[MemberRole]:
        """The roles ``organisation`` holds in the case now (empty: not a member)."""
        return _membership.roles_of(self.membership, organisation)

    def is_minor_at(self, at: datetime) -> bool:
        """Under 18 at ``at`` (in Ljubljana), from the birth date or the estimate."""
        return self.person.is_minor_on(local_date(at))

    def child_track_open_at(self, at: datetime) -> bool:
        """The child-protection track applies: it was opened and the person is still a minor."""
        cp = self.child_protection
        return cp is not None and cp.closed_at is None and self.is_minor_at(at)

    def next_wake_at(self) -> datetime | None:
        """The earliest reminder or expiry still to fire: the one timer the workflow sleeps on."""
        times = [d.due_at for d in self.deadlines.values()]
        times += [r.at for d in self.deadlines.values() for r in d.reminders if not r.sent]
        return min(times, default=None)
