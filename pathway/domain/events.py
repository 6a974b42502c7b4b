"""Every event of the adult path, as typed, validated pydantic models (docs/rules.md "Events in").

Each event carries the sender's idempotency key (``event_id``), the sending organisation, who
acted (a staff reference, never a victim's name), when it happened and why. The payload is
validated here for shape and for what the event alone can show to be implausible (dates outside
the service's range, a birth date after the event, a consent signed after the placement, a blank
note: :mod:`pathway.domain.plausible`, docs/rules.md "INPUT"); the law that needs the case
(rules with IDs) is checked in :mod:`pathway.domain.rules`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from pathway.domain.calendar import local_date
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import (
    AgeEstimate,
    CountryCode,
    Gender,
    LanguageCode,
    PersonFacts,
    ResidenceStatus,
    SpecialNeed,
    birth_problems,
)
from pathway.domain.plausible import (
    RULE_INPUT,
    Implausible,
    ServiceDate,
    ServiceInstant,
    not_blank,
    refuse,
)

#: The longest ``event_id``.
EVENT_ID_MAX_LENGTH = 128

EventId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=EVENT_ID_MAX_LENGTH,
        pattern=r"^[A-Za-z0-9._:@/-]+$",
        description="The sender's idempotency key: a repeat returns the first result.",
    ),
]


#: A pseudonymous reference of who acted: optional, never blank.
ActorRef = Annotated[str, Field(max_length=100), not_blank(RULE_INPUT, "the actor's reference")]
#: Why: optional free text; when given, it says something.
ReasonText = Annotated[str, Field(max_length=2000), not_blank(RULE_INPUT, "a reason")]


class RightsSubject(StrEnum):
    """The nine information subjects of R3, (a) to (i)."""

    A_INSTITUTIONS = "a_institutions"
    B_ASSISTANCE_TYPES = "b_assistance_types"
    C_REPORTING_THE_CRIME = "c_reporting_the_crime"
    D_PROCEDURES_AND_ROLE = "d_procedures_and_role"
    E_PROTECTION = "e_protection"
    F_LEGAL_COUNSELLING_AND_AID = "f_legal_counselling_and_aid"
    G_COMPENSATION = "g_compensation"
    H_OTHER_MEMBER_STATE_RESIDENT = "h_other_member_state_resident"
    I_COST_REIMBURSEMENT = "i_cost_reimbursement"


class Placement(StrEnum):
    CRISIS_ACCOMMODATION = "crisis_accommodation"
    SAFE_ACCOMMODATION = "safe_accommodation"


class FurtherSupport(StrEnum):
    """The decision at the end of the reflection period (K5)."""

    SAFE_ACCOMMODATION = "safe_accommodation"
    RETURN_HOME = "return_home"
    REINTEGRATION = "reintegration"
    OTHER_SUPPORT = "other_support"


class PermitBasis(StrEnum):
    ON_REQUEST = "on_request"
    EX_OFFICIO = "ex_officio"


class ResidencePermitBasis(StrEnum):
    """Foreigners Act, Article 50 (S4)."""

    WITNESS = "witness"
    PERSONAL_CIRCUMSTANCES = "personal_circumstances"


class OfferAnswer(StrEnum):
    """S1: the victim's answer to the offer of long-term assistance and safe accommodation."""

    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNDECIDED = "undecided"


class PresentAtInterview(StrEnum):
    """Who accompanied the victim at the police interview (R4)."""

    NGO_REPRESENTATIVE = "ngo_representative"
    TRUSTED_PERSON = "trusted_person"
    NOBODY = "nobody"


class WrittenConsent(BaseModel):
    """Consent by written statement (K2, S1)."""

    model_config = ConfigDict(extra="forbid")

    form: Literal["written_statement"] = "written_statement"
    signed_on: ServiceDate = Field(description="K2, S1: no later than the placement.")


class ChildDecision(BaseModel):
    """What every decision on a child's case records (C1, C2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    best_interests: (
        Annotated[str, Field(max_length=4000), not_blank("C1", "a best-interests note")] | None
    ) = Field(default=None, description="C1: how the child's best interests were assessed.")
    child_views: (
        Annotated[str, Field(max_length=4000), not_blank("C2", "the child's views")] | None
    ) = Field(
        default=None,
        description="C2: the child's opinions and wishes, or why they could not be established.",
    )


class BaseEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Organisations whose role lets them send this event (docs/rules.md "Who uses it", "Access").
    senders: ClassVar[frozenset[Org]]
    #: A decision on the case: on a child's case it needs a best-interests note and the child's
    #: views (C1, C2), and it is a measure (C3).
    decision: ClassVar[bool] = False
    #: A measure the child and the legal representative are told of (C3).
    measure: ClassVar[bool] = False
    #: A procedure with the person: with a child, done by qualified personnel (C4).
    procedure: ClassVar[bool] = False

    type: str
    event_id: EventId
    organisation: Org
    actor: ActorRef | None = Field(
        default=None,
        description="Pseudonymous reference of the staff member who acted (never a victim's name).",
    )
    occurred_at: ServiceInstant
    reason: ReasonText | None = Field(default=None, description="Why: free text.")
    child: ChildDecision | None = Field(
        default=None, description="C1, C2: required on every decision on a child's case."
    )
    qualified_personnel: bool | None = Field(
        default=None,
        description="C4: procedures with a child are done by personnel qualified for children.",
    )

    @model_validator(mode="after")
    def _plausible(self) -> Self:
        """Refuse the event when it cannot be true on its own (docs/rules.md "INPUT")."""
        refuse(type(self).__name__, list(self.implausible()))
        return self

    def implausible(self) -> Iterator[Implausible]:
        """What this event states that its own fields show cannot be true (each event type adds
        its own); the range and blank-text checks are on the fields themselves."""
        return iter(())

    @property
    def day(self) -> date:
        """The day the event occurred, in Slovenia (docs/rules.md "Readings")."""
        return local_date(self.occurred_at)


class Identified(BaseEvent):
    """R1: an authorised authority has reasonable grounds to suspect trafficking."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.POLICE, Org.SOCIAL_WORK_CENTRE, Org.UOIM})
    type: Literal["identified"] = "identified"
    found_in: Literal["asylum_procedure_interview"] | None = Field(
        default=None, description="P1: suspicion arose in an asylum-procedure interview (PATS)."
    )
    subject_ref: Annotated[str, not_blank(RULE_INPUT, "the subject reference")] = Field(
        min_length=1,
        max_length=200,
        description="The identifying authority's stable reference for the person. Only its keyed "
        "hash forms the case ID; it is never shown.",
    )
    person: PersonFacts

    def implausible(self) -> Iterator[Implausible]:
        """INPUT: nobody is identified before being born, nor by an estimate of a later day."""
        yield from self.person.implausible_on(self.day, "person")


class NgoInterviewHeld(BaseEvent):
    """R2: the individual interview with an NGO or humanitarian organisation."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC})
    procedure: ClassVar[bool] = True
    type: Literal["ngo_interview_held"] = "ngo_interview_held"
    language: LanguageCode
    interpreter_used: bool


class RightsInformationGiven(BaseEvent):
    """R3: information on some of the nine subjects, in a language the victim understands."""

    senders: ClassVar[frozenset[Org]] = frozenset(
        {Org.CARITAS, Org.KLJUC, Org.POLICE, Org.SOCIAL_WORK_CENTRE}
    )
    procedure: ClassVar[bool] = True
    type: Literal["rights_information_given"] = "rights_information_given"
    subjects: list[RightsSubject] = Field(min_length=1)
    language: LanguageCode
    interpreter_used: bool


class PoliceInformationGatheringStarted(BaseEvent):
    """R2, R4: the police start gathering information from the victim."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.POLICE})
    procedure: ClassVar[bool] = True
    type: Literal["police_information_gathering_started"] = "police_information_gathering_started"
    trusted_person_offered: bool = Field(description="R4: was the victim offered company?")
    present: PresentAtInterview = Field(description="R4: who attended with the victim.")


class CrisisAccommodationPlaced(BaseEvent):
    """K1, K2, K5: placement in crisis accommodation starts the 30-day periods."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["crisis_accommodation_placed"] = "crisis_accommodation_placed"
    consent: WrittenConsent | None = Field(default=None, description="K2: required.")

    def implausible(self) -> Iterator[Implausible]:
        """K2: the written statement is signed no later than the placement."""
        yield from _consent_after_placement("K2", self.consent, self.day)


class ReflectionPeriodStarted(BaseEvent):
    """K5: a reflection period for a victim who is not in crisis accommodation."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.POLICE, Org.CARITAS, Org.KLJUC})
    type: Literal["reflection_period_started"] = "reflection_period_started"


class FurtherSupportDecided(BaseEvent):
    """K5: the victim's decision on further support (closes the reflection decision point)."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["further_support_decided"] = "further_support_decided"
    option: FurtherSupport


class CrisisAccommodationEnded(BaseEvent):
    """K1: the crisis placement ends (moved on, period over); other rights continue."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["crisis_accommodation_ended"] = "crisis_accommodation_ended"


class SafeAccommodationPlaced(BaseEvent):
    """S1, S3: placement in safe accommodation (long term)."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.KLJUC})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["safe_accommodation_placed"] = "safe_accommodation_placed"
    consent: WrittenConsent | None = Field(default=None, description="S1: required.")
    preliminary_programme: bool = Field(
        default=True,
        description="S1: a preliminary assistance and protection programme. A sender states "
        'it (refused when left out, docs/rules.md "Admission checks"); the default is for '
        "events recorded before that.",
        json_schema_extra={"x-pathway-must-state": True},
    )

    def implausible(self) -> Iterator[Implausible]:
        """S1: the written statement is signed no later than the placement."""
        yield from _consent_after_placement("S1", self.consent, self.day)


def _consent_after_placement(
    rule: str, consent: WrittenConsent | None, day: date
) -> Iterator[Implausible]:
    if consent is not None and consent.signed_on > day:
        yield Implausible(
            ("consent", "signed_on"),
            rule,
            "the written consent is dated after the placement",
            consent.signed_on,
        )


class SafeAccommodationOffered(BaseEvent):
    """S1: “During crisis accommodation, victims are offered long-term assistance and safe
    accommodation.” The offer, and the victim's answer to it."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC})
    type: Literal["safe_accommodation_offered"] = "safe_accommodation_offered"
    answer: OfferAnswer = Field(description="S1: accepted, refused, or still to be decided.")


class SafeAccommodationEnded(BaseEvent):
    """S5: safe accommodation is voluntary and ends when the victim or the programme ends it."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.KLJUC})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["safe_accommodation_ended"] = "safe_accommodation_ended"


class ConsentWithdrawn(BaseEvent):
    """K2: withdrawing consent ends the placement only, never the other rights."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC})
    type: Literal["consent_withdrawn"] = "consent_withdrawn"
    placement: Placement


class PermitToStayGranted(BaseEvent):
    """K7: the police allow a victim residing illegally to stay for 3 months."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.POLICE})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["permit_to_stay_granted"] = "permit_to_stay_granted"
    valid_from: ServiceDate
    basis: PermitBasis


class PermitToStayExtended(BaseEvent):
    """K7: with reasonable grounds, one extension of at most 3 months."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.POLICE})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["permit_to_stay_extended"] = "permit_to_stay_extended"
    months: int = Field(ge=1, le=12, description="K7: at most 3 are accepted.")


class TemporaryResidencePermitGranted(BaseEvent):
    """S4: Foreigners Act, Article 50."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.MIGRATION_AUTHORITY})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["temporary_residence_permit_granted"] = "temporary_residence_permit_granted"
    basis: ResidencePermitBasis
    valid_from: ServiceDate
    valid_until: ServiceDate = Field(description="S4: the last day of validity, after valid_from.")
    permit_number: (
        Annotated[str, Field(max_length=50), not_blank(RULE_INPUT, "a permit number")] | None
    ) = None

    def implausible(self) -> Iterator[Implausible]:
        """S4: the permit ends after it starts."""
        if self.valid_until <= self.valid_from:
            yield Implausible(
                ("valid_until",), "S4", "the permit must end after it starts", self.valid_until
            )


class TemporaryResidencePermitRenewed(BaseEvent):
    """S3, S4: renewal moves the permit's expiry timer."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.MIGRATION_AUTHORITY})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["temporary_residence_permit_renewed"] = "temporary_residence_permit_renewed"
    valid_until: ServiceDate


class CriminalProceedingsOpened(BaseEvent):
    """K6: criminal proceedings for trafficking in which the person is the injured party."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.POLICE})
    type: Literal["criminal_proceedings_opened"] = "criminal_proceedings_opened"
    authorised_representative: bool = Field(
        default=False, description="C7: a minor injured party has an authorised representative."
    )


class CriminalProceedingsConcluded(BaseEvent):
    """S5, K6: the end of criminal proceedings (assistance continues for a period after)."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.POLICE})
    type: Literal["criminal_proceedings_concluded"] = "criminal_proceedings_concluded"


class CooperationRecorded(BaseEvent):
    """R5: the victim's readiness to cooperate or be a witness. Recorded; never conditions help."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.POLICE, Org.CARITAS, Org.KLJUC})
    type: Literal["cooperation_recorded"] = "cooperation_recorded"
    willing_to_cooperate: bool
    willing_to_be_witness: bool | None = None


class ReintegrationEnrolled(BaseEvent):
    """I1: enrolment in the reintegration programme, eligible persons only."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.KLJUC})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["reintegration_enrolled"] = "reintegration_enrolled"
    personal_plan: bool = Field(default=False, description="I1: a personal plan was agreed.")


class FactsUpdated(BaseEvent):
    """Corrected or changed facts about the person (languages, residence status, ...)."""

    senders: ClassVar[frozenset[Org]] = frozenset(
        {Org.POLICE, Org.SOCIAL_WORK_CENTRE, Org.MIGRATION_AUTHORITY, Org.CARITAS, Org.KLJUC}
    )
    type: Literal["facts_updated"] = "facts_updated"
    person: PersonFacts

    def implausible(self) -> Iterator[Implausible]:
        """INPUT: a corrected birth date or estimate is not after the correction either."""
        yield from self.person.implausible_on(self.day, "person")


class ReturnedHome(BaseEvent):
    """Exit: assisted return to the home country (K3)."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC, Org.POLICE})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["returned_home"] = "returned_home"


class Departed(BaseEvent):
    """Exit: the victim declined further assistance or left (arbitrary departure)."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC})
    type: Literal["departed"] = "departed"
    arbitrary: bool = Field(description="True for an arbitrary departure without notice.")


class CaseClosed(BaseEvent):
    """Closure of the case from any phase; all timers end."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["case_closed"] = "case_closed"


class ReintegrationService(StrEnum):
    """I1: services agreed in the personal plan."""

    THERAPEUTIC_WORKSHOP = "therapeutic_workshop"
    LEARNING_SUPPORT = "learning_support"
    PHYSICAL_ACTIVITY = "physical_activity"
    COUNSELLING = "counselling"
    PSYCHOTHERAPY = "psychotherapy"
    DOCUMENTS = "documents"
    MEDICAL_EXAMINATION = "medical_examination"
    OTHER = "other"


class AccommodationService(StrEnum):
    """K3, S2: what crisis and safe accommodation comprise, one code per item of the seed's
    lists (:data:`PROGRAMME_SERVICES` says which programme offers which)."""

    #: “appropriate and safe accommodation and assistance” (K3, S2)
    ACCOMMODATION_AND_ASSISTANCE = "accommodation_and_assistance"
    #: “material assistance” (K3, S2)
    MATERIAL_ASSISTANCE = "material_assistance"
    #: “assistance in providing primary healthcare” (K3, S2)
    PRIMARY_HEALTHCARE = "primary_healthcare"
    #: “psychological and social assistance and help” (K3), “… support and assistance” (S2)
    PSYCHOLOGICAL_AND_SOCIAL_ASSISTANCE = "psychological_and_social_assistance"
    #: “provision of information and counselling regarding the victims' rights in a language
    #: understandable to the victims” (K3, S2)
    RIGHTS_INFORMATION_AND_COUNSELLING = "rights_information_and_counselling"
    #: “translation and interpreting” (K3, S2)
    TRANSLATION_AND_INTERPRETING = "translation_and_interpreting"
    #: “assistance in the victims' return to their homeland” (K3, S2)
    RETURN_HOME = "return_home"
    #: “assistance in settling legal status in Slovenia” (S2 only)
    LEGAL_STATUS = "legal_status"
    #: “assistance in ensuring that the rights and interests of victims are represented at
    #: suitable stages in the prosecution of perpetrators of criminal offences” (S2 only)
    REPRESENTATION_IN_PROSECUTION = "representation_in_prosecution"
    #: “assistance with integration into society” (S2 only)
    INTEGRATION_INTO_SOCIETY = "integration_into_society"


_K3_SERVICES = frozenset(
    {
        AccommodationService.ACCOMMODATION_AND_ASSISTANCE,
        AccommodationService.MATERIAL_ASSISTANCE,
        AccommodationService.PRIMARY_HEALTHCARE,
        AccommodationService.PSYCHOLOGICAL_AND_SOCIAL_ASSISTANCE,
        AccommodationService.RIGHTS_INFORMATION_AND_COUNSELLING,
        AccommodationService.TRANSLATION_AND_INTERPRETING,
        AccommodationService.RETURN_HOME,
    }
)

#: The services each accommodation programme comprises, and the rule that lists them: crisis
#: accommodation the seven of K3; safe accommodation those and the three of S2.
PROGRAMME_SERVICES: dict[Placement, tuple[str, frozenset[AccommodationService]]] = {
    Placement.CRISIS_ACCOMMODATION: ("K3", _K3_SERVICES),
    Placement.SAFE_ACCOMMODATION: ("S2", frozenset(AccommodationService)),
}


class ServiceStatus(StrEnum):
    """K3, S2: a service offered to the person, or provided to them (the seed: victims “are
    offered” safe accommodation, and “are provided with” the services)."""

    OFFERED = "offered"
    PROVIDED = "provided"


class FamilyContactOutcome(StrEnum):
    """C6: where the search for the family stands."""

    ATTEMPTED = "attempted"
    ESTABLISHED = "established"
    NOT_IN_CHILDS_INTEREST = "not_in_childs_interest"


ChildRef = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9-]{1,32}$", description="The placing NGO's local label, e.g. 'child-1'."
    ),
]


class ReintegrationServiceRecorded(BaseEvent):
    """I1: a service of the personal plan was provided."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.KLJUC})
    type: Literal["reintegration_service_recorded"] = "reintegration_service_recorded"
    service: ReintegrationService


class AccommodationServiceRecorded(BaseEvent):
    """K3, S2: a service of crisis or safe accommodation offered or provided to the person, on
    the day it occurred (``occurred_at``), by the provider of the placement or the NGO leading
    the case."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC})
    type: Literal["accommodation_service_recorded"] = "accommodation_service_recorded"
    programme: Placement = Field(description="K3, S2: the placement the service belongs to.")
    service: AccommodationService = Field(description="K3, S2: one of the programme's services.")
    status: ServiceStatus = Field(description="Offered to the person, or provided.")

    def implausible(self) -> Iterator[Implausible]:
        """K3, S2: the service is one that the programme comprises (legal status,
        representation in the prosecution and integration are safe accommodation's only)."""
        rule, services = PROGRAMME_SERVICES[self.programme]
        if self.service not in services:
            yield Implausible(
                ("service",),
                rule,
                f"{self.programme.value.replace('_', ' ')} does not comprise this service",
                self.service.value,
            )


class SwcInterviewHeld(BaseEvent):
    """C5: a social work centre professional interviews the unaccompanied foreign minor."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.SOCIAL_WORK_CENTRE})
    procedure: ClassVar[bool] = True
    type: Literal["swc_interview_held"] = "swc_interview_held"
    emergency_assistance_offered: bool
    guardian_statement_taken: bool = Field(
        description="The minor's statement on the appointment of a guardian was obtained."
    )
    trafficking_indicators: bool


class ChildAccommodatedInFacility(BaseEvent):
    """C5: the social service accommodates the minor in an appropriate facility."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.SOCIAL_WORK_CENTRE})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["child_accommodated_in_facility"] = "child_accommodated_in_facility"


class GuardianAppointed(BaseEvent):
    """C4: a guardian or representative is appointed for the child."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.SOCIAL_WORK_CENTRE})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["guardian_appointed"] = "guardian_appointed"


class FamilyContactRecorded(BaseEvent):
    """C6: the search for the unaccompanied minor's family, step by step."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.SOCIAL_WORK_CENTRE})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["family_contact_recorded"] = "family_contact_recorded"
    outcome: FamilyContactOutcome


class AuthorisedRepresentativeAppointed(BaseEvent):
    """C7: the minor injured party's authorised representative in criminal proceedings."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.SOCIAL_WORK_CENTRE, Org.POLICE})
    decision: ClassVar[bool] = True
    measure: ClassVar[bool] = True
    type: Literal["authorised_representative_appointed"] = "authorised_representative_appointed"


class MainHearingScheduled(BaseEvent):
    """C8: a main hearing; no direct questioning of a person under 15."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.POLICE})
    measure: ClassVar[bool] = True
    type: Literal["main_hearing_scheduled"] = "main_hearing_scheduled"
    hearing_date: ServiceDate
    direct_questioning: bool


class AccompanyingChildRecorded(BaseEvent):
    """A child of the victim placed with her (counted in placement statistics; not itself an
    identified victim)."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC})
    type: Literal["accompanying_child_recorded"] = "accompanying_child_recorded"
    child_ref: ChildRef
    birth_date: ServiceDate | None = Field(default=None, description="Not after the event.")
    age_estimate: AgeEstimate | None = None
    gender: Gender = Gender.UNKNOWN
    citizenships: list[CountryCode] = Field(min_length=1)
    placed_with: Placement

    def implausible(self) -> Iterator[Implausible]:
        """INPUT: the child is not born after the event that records them."""
        yield from birth_problems(self.birth_date, self.age_estimate, self.day)


class AccompanyingChildIdentified(BaseEvent):
    """R1: an accompanying child is identified as a victim in their own right: their own case
    opens, linked to this one."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.POLICE, Org.SOCIAL_WORK_CENTRE, Org.UOIM})
    type: Literal["accompanying_child_identified"] = "accompanying_child_identified"
    child_ref: ChildRef
    residence_status: ResidenceStatus
    languages: list[LanguageCode] = Field(default_factory=list)
    unaccompanied: bool = False


class SpecialNeedFlagged(BaseEvent):
    """K4: a special need that calls for appropriate help. The detail is a health detail, shown
    only to the roles that provide that help."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC, Org.SOCIAL_WORK_CENTRE})
    type: Literal["special_need_flagged"] = "special_need_flagged"
    need: SpecialNeed
    detail: (
        Annotated[str, Field(max_length=2000), not_blank(RULE_INPUT, "a need's detail")] | None
    ) = None
    provider: Org | None = Field(
        default=None, description="Who provides the help (default: the NGO leading the case)."
    )


class SpecialNeedReferralMade(BaseEvent):
    """K4: the person was referred for appropriate help."""

    senders: ClassVar[frozenset[Org]] = frozenset({Org.CARITAS, Org.KLJUC, Org.SOCIAL_WORK_CENTRE})
    type: Literal["special_need_referral_made"] = "special_need_referral_made"
    need: SpecialNeed


CaseEvent = Annotated[
    Identified
    | NgoInterviewHeld
    | RightsInformationGiven
    | PoliceInformationGatheringStarted
    | CrisisAccommodationPlaced
    | ReflectionPeriodStarted
    | FurtherSupportDecided
    | CrisisAccommodationEnded
    | SafeAccommodationPlaced
    | SafeAccommodationOffered
    | SafeAccommodationEnded
    | ConsentWithdrawn
    | PermitToStayGranted
    | PermitToStayExtended
    | TemporaryResidencePermitGranted
    | TemporaryResidencePermitRenewed
    | CriminalProceedingsOpened
    | CriminalProceedingsConcluded
    | CooperationRecorded
    | ReintegrationEnrolled
    | FactsUpdated
    | ReturnedHome
    | Departed
    | CaseClosed
    | ReintegrationServiceRecorded
    | AccommodationServiceRecorded
    | SwcInterviewHeld
    | ChildAccommodatedInFacility
    | GuardianAppointed
    | FamilyContactRecorded
    | AuthorisedRepresentativeAppointed
    | MainHearingScheduled
    | AccompanyingChildRecorded
    | AccompanyingChildIdentified
    | SpecialNeedFlagged
    | SpecialNeedReferralMade,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[CaseEvent] = TypeAdapter(CaseEvent)

EVENT_TYPES: dict[str, type[BaseEvent]] = {
    cls.model_fields["type"].default: cls for cls in BaseEvent.__subclasses__()
}


def validation_problems(err: ValidationError) -> list[tuple[str, str]]:
    """``(field path, message)`` for each problem, with the event type's tag left out of the
    path (``person.citizenships.0``, not ``identified.person.citizenships.0``)."""
    problems = []
    for e in err.errors(include_url=False):
        loc = [str(p) for p in e["loc"]]
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]
        if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = ["type"]
        problems.append((".".join(loc) or "(event)", e["msg"]))
    return problems


def parse_event(data: object) -> CaseEvent:
    """Validate raw JSON-like data into a typed event (raises pydantic ``ValidationError``)."""
    return EVENT_ADAPTER.validate_python(data)


class RecordEvent(BaseModel):
    """The update argument: one event for one case.

    ``sender`` is who sends it, as authenticated (``"operator"`` or an organisation's role),
    when the caller checked who that is (the gateway does): the case's validator then refuses
    it unless the sender may send it to the case as its membership stands when the event
    arrives (issue 11; :func:`pathway.access.policy.send_refusal`). ``None`` for the service's
    own senders (a linked case, a programme), which the rules alone check."""

    model_config = ConfigDict(extra="forbid")

    event: CaseEvent
    sender: str | None = None
