"""General rights of every victim (R1–R5) and crisis accommodation with the rights that start
there (K1, K2, K4, K5): the case from identification, through crisis accommodation and the
reflection period, to leaving assistance.

- R1, help on reasonable grounds: “assistance and support as soon as the authorised
  authorities have reasonable grounds to suspect that the person has been a victim of
  trafficking in human beings” (:func:`_open_case`, :func:`_first_members`; a victim who
  leaves without notice, :func:`_departed`).
- R2, the NGO interview first: “an individual interview with a representative of a
  non-governmental and/or humanitarian organisation before the Police launch an information
  gathering process” (:func:`_ngo_interview`, :func:`_police_information_gathering`).
- R3, information on nine subjects: “information (in a language the victim understands) on:”
  … “how the victim can be entitled to the reimbursement of costs incurred as a result of
  their participation in criminal proceedings” (:func:`_open_case`,
  :func:`_rights_information`, :func:`_expire_rights_information`).
- R4, a trusted person: “the presence of representatives of non-governmental and/or
  humanitarian organisations or other persons whom the victim trusts in the interview with
  police officers” (:func:`_police_information_gathering`).
- R5, help never conditional: “Accommodation, assistance and support are not conditional upon
  the readiness of the victim to cooperate in the pre-trial procedure or criminal
  proceedings.” (:func:`_cooperation` records it and nothing reads it;
  :func:`_expire_reflection` keeps the victim in assistance).
- K1, crisis accommodation: “comprehensive assistance provided for up to 30 days to identified
  victims, both adults and children, who need immediate removal from their current
  environment” (:func:`_crisis_accommodation`, :func:`_crisis_ended`, :func:`_expire_crisis`).
- K2, consent: “Upon placement the victims accept assistance and accommodation by way of a
  written statement” … “Victims are accommodated with their consent”
  (:func:`_consent_or_reject`, :func:`_consent_withdrawn`).
- K4, special needs: “Victims with special needs are provided with appropriate help, in
  particular when their needs are related to pregnancy, their health condition, disability,
  mental and psychological disorders or severe forms of psychological, physical or sexual
  abuse that they experienced.” (:func:`_special_need`, :func:`_special_need_referred`).
- K5, recovery and reflection: “a 30-day period of recovery and reflection to recover, escape
  the influence of traffickers, and get information about the voluntary forms of the further
  support programme and possibilities of cooperating with state authorities”
  (:func:`_start_reflection`, :func:`_reflection_started`, :func:`_further_support`,
  :func:`_decision_taken`, :func:`_expire_reflection`).

The placements' shared steps (:func:`_placement_members`, :func:`_end_placement`) serve safe
accommodation too (:mod:`pathway.domain.rules.safe_accommodation`). R6 (each role sees only
what it needs) is kept by the numbering of notifications (:mod:`pathway.domain.rules.core`) and
by the access policy, not here; K3 (what crisis accommodation offers) is
:mod:`pathway.domain.rules.services`.
"""

from __future__ import annotations

from datetime import datetime

from pathway.domain import events as ev
from pathway.domain import membership
from pathway.domain.calendar import describe_end, local_date
from pathway.domain.events import BaseEvent, Placement, PresentAtInterview, RightsSubject
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import CARE_PROVIDERS
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import PersonFacts, ResidenceStatus
from pathway.domain.plausible import RULE_INPUT
from pathway.domain.rules.children import (
    _open_child_track,
    _set_age_timers,
    child_facts_changed,
    refuse_birth_after_identification,
)
from pathway.domain.rules.core import Expiry, Handler, _Change, _Duty, _reject
from pathway.domain.rules.residence import (
    _residence_authority,
    settle_safe_accommodation_permits,
)
from pathway.domain.state import (
    EXIT_PHASES,
    CaseState,
    Cooperation,
    DeadlineKind,
    ObligationKind,
    Phase,
    PlacementRecord,
    PoliceInterview,
    RightsGiven,
    SpecialNeedRecord,
)

# ---------------------------------------------------------------------------------------------
# Identification and the first steps (R1–R4)
# ---------------------------------------------------------------------------------------------


def refuse_eu_citizen_applicant(state: CaseState, person: PersonFacts) -> None:
    """INPUT (docs/rules.md, reading 23): an EU citizen, a Slovenian citizen included, is not
    recorded as an applicant for international protection. In EU law an applicant is “a
    third-country national or stateless person” (Directive 2013/32/EU, Article 2(c)), and the
    member states are safe countries of origin for each other's nationals (Protocol No 24 to
    the Treaties): such a person's status for this service is ``eu_citizen`` (or
    ``slovenian_citizen``). Cases from before ``seed_status_rules`` replay without it."""
    if (
        state.seed_status_rules
        and person.residence_status is ResidenceStatus.INTERNATIONAL_PROTECTION_APPLICANT
        and person.is_eu_citizen
    ):
        _reject(
            RULE_INPUT,
            "person.residence_status",
            "an EU citizen is not an applicant for international protection (an applicant is "
            "a third-country national or stateless person): record eu_citizen or "
            "slovenian_citizen",
        )


def _open_case(change: _Change, event: ev.Identified) -> None:
    """R1: assistance starts at identification, before any formal status."""
    state, cfg = change.state, change.config
    refuse_eu_citizen_applicant(state, event.person)
    sla_due = change.period_end(
        DeadlineKind.RIGHTS_INFORMATION, event.occurred_at, cfg.rights_information_sla
    )
    _first_members(change, event)
    change.open_obligation(
        _Duty(
            ObligationKind.NGO_INTERVIEW,
            "R2",
            state.lead_ngo,
            "Hold the individual interview with the victim before the police gather information.",
        )
    )
    _open_rights_subjects(change, list(RightsSubject), sla_due)
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


def _open_rights_subjects(change: _Change, subjects: list[RightsSubject], due: datetime) -> None:
    """R3: each subject the victim is still to be informed on is an obligation of the NGO
    leading the case, due with the rights-information deadline."""
    for subject in subjects:
        change.open_obligation(
            _Duty(
                ObligationKind.RIGHTS_INFORMATION,
                "R3",
                change.state.lead_ngo,
                "Inform the victim, in a language they understand, on subject "
                f"({subject.value[0]}).",
            ),
            due_at=due,
            suffix=subject.value,
        )
    change.set_deadline(DeadlineKind.RIGHTS_INFORMATION, "R3", due)


def _back_in_assistance(change: _Change, at: datetime) -> None:
    """R3 after an exit: a victim who departed or went home and comes back into assistance
    (a placement, the reflection period) is still to be informed on the subjects they were
    not: those are open obligations again, due 24 hours from the return."""
    state = change.state
    if not state.seed_assistance_rules or state.phase not in (
        Phase.RETURNED_HOME,
        Phase.DECLINED_LEFT,
    ):
        return
    missing = [s for s in RightsSubject if s not in state.rights_information]
    if missing:
        sla = change.config.rights_information_sla
        due = change.period_end(DeadlineKind.RIGHTS_INFORMATION, at, sla)
        _open_rights_subjects(change, missing, due)


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


def _ngo_interview(change: _Change, event: ev.NgoInterviewHeld) -> None:
    change.state.ngo_interview_at = event.occurred_at
    change.set_lead(event.organisation, "R2")
    change.close_obligations(event.event_id, ObligationKind.NGO_INTERVIEW)


def _rights_information(change: _Change, event: ev.RightsInformationGiven) -> None:
    state = change.state
    if state.seed_assistance_rules and not state.person.languages:
        _reject(
            "R3",
            "language",
            "record the languages the victim understands first (facts_updated): information "
            "is given in a language the victim understands",
        )
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
    if state.seed_assistance_rules:
        _trusted_person(change, event)


def _trusted_person(change: _Change, event: ev.PoliceInformationGatheringStarted) -> None:
    """R4: “the presence of representatives of non-governmental and/or humanitarian
    organisations or other persons whom the victim trusts in the interview with police
    officers”. An interview where the victim was not offered this and nobody came with them
    opens an obligation for the police, and tells the NGO leading the case; an interview with
    the offer, or with someone present, settles it."""
    if event.trusted_person_offered or event.present is not PresentAtInterview.NOBODY:
        change.close_obligations(event.event_id, ObligationKind.TRUSTED_PERSON)
        return
    action = (
        "The victim was not offered the presence of an NGO representative or a person they "
        "trust at the police interview (R4): offer it before questioning goes on, and record "
        "the interview with the offer."
    )
    change.open_obligation(_Duty(ObligationKind.TRUSTED_PERSON, "R4", Org.POLICE, action))
    change.notify([Org.POLICE, change.state.lead_ngo], "trusted_person_not_offered", "R4", action)


def _cooperation(change: _Change, event: ev.CooperationRecorded) -> None:
    """R5: recorded only. No rule reads it to end or refuse assistance."""
    change.state.cooperation = Cooperation(
        at=event.occurred_at,
        willing_to_cooperate=event.willing_to_cooperate,
        willing_to_be_witness=event.willing_to_be_witness,
    )


# ---------------------------------------------------------------------------------------------
# Special needs (K4)
# ---------------------------------------------------------------------------------------------


def _special_need(change: _Change, event: ev.SpecialNeedFlagged) -> None:
    """K4: a special need calls for appropriate help from an organisation that gives care.

    The provider is told of the need (a notification), owns its referral and becomes a member
    for it: a need's existence is a health detail (R6), so a provider that is not one of
    :data:`~pathway.domain.organisations.CARE_PROVIDERS` (the police, the authorities, the
    ministries, analysts) is refused, naming ``provider`` (issue 11; for cases opened under the
    patch ``seed-assistance-rules``)."""
    state = change.state
    # Cases recorded before the patch seed-assistance-rules replay as they were accepted.
    if (
        state.seed_assistance_rules
        and event.provider is not None
        and event.provider not in CARE_PROVIDERS
    ):
        allowed = ", ".join(sorted(org.value for org in CARE_PROVIDERS))
        _reject(
            "K4",
            "provider",
            f"help with a special need is given by an organisation that gives care ({allowed}),"
            f" not '{event.provider.value}'",
        )
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


# ---------------------------------------------------------------------------------------------
# Crisis accommodation, consent and reflection (K1, K2, K5)
# ---------------------------------------------------------------------------------------------


def _consent_or_reject(
    change: _Change, rule: str, event: ev.CrisisAccommodationPlaced | ev.SafeAccommodationPlaced
) -> ev.WrittenConsent:
    """K2, S1: “Upon placement the victims accept assistance and accommodation by way of a
    written statement”. Signed no later than the placement's day and, since a placement is for
    “identified victims”, no earlier than the day of the case's identification (both days in
    Ljubljana; a statement signed earlier belongs to something else, e.g. a closed case)."""
    if event.consent is None:
        _reject(rule, "consent", "placement needs the victim's consent by written statement")
    if event.consent.signed_on > local_date(event.occurred_at):
        _reject(rule, "consent.signed_on", "the written consent is dated after the placement")
    state = change.state
    if state.seed_assistance_rules and event.consent.signed_on < local_date(state.opened_at):
        _reject(
            rule,
            "consent.signed_on",
            "the written consent is dated before the day the victim was identified: it is "
            "given upon placement, to an identified victim",
        )
    return event.consent


def _start_reflection(change: _Change, at: datetime) -> None:
    """K5: the 30-day recovery and reflection period, with its reminder to NGO and police."""
    state, cfg = change.state, change.config
    state.reflection_started_at = at
    due = change.period_end(DeadlineKind.REFLECTION_PERIOD, at, cfg.reflection_period)
    change.set_deadline(
        DeadlineKind.REFLECTION_PERIOD,
        "K5",
        due,
        change.reminder_before(due, cfg.reflection_reminder),
        [Org.POLICE],
        lead_ngo=True,
    )
    if state.phase in (Phase.IDENTIFIED, *EXIT_PHASES):
        state.phase = Phase.REFLECTION


def _crisis_counted_from(change: _Change, event: ev.CrisisAccommodationPlaced) -> datetime:
    """K1: “comprehensive assistance provided for up to 30 days”. The 30 days are the case's:
    they run from its first crisis placement, so a placement after an end or a withdrawal of
    consent goes on counting from it (withdrawn on day 25 and placed again on day 26, the 30
    days still end on day 30). Crisis accommodation comes first (“To begin with … within the
    Crisis Accommodation Programme, which is … then extended to the Safe Accommodation
    Programme”): never while safe accommodation runs. Cases under the old rules count from
    each placement (``seed_assistance_rules``)."""
    state = change.state
    if not state.seed_assistance_rules:
        return event.occurred_at
    if state.safe_accommodation is not None and state.safe_accommodation.active:
        _reject(
            "K1",
            "type",
            "the victim is in safe accommodation: crisis accommodation and safe accommodation "
            "are never both active (end safe accommodation first)",
        )
    before = state.crisis_accommodation
    if before is None:
        return event.occurred_at
    return before.counted_from or before.since


def _crisis_accommodation(change: _Change, event: ev.CrisisAccommodationPlaced) -> None:
    state, cfg = change.state, change.config
    consent = _consent_or_reject(change, "K2", event)
    if state.crisis_accommodation is not None and state.crisis_accommodation.active:
        _reject("K1", "type", "the victim is already in crisis accommodation")
    counted_from = _crisis_counted_from(change, event)
    _back_in_assistance(change, event.occurred_at)
    state.crisis_accommodation = PlacementRecord(
        provider=event.organisation,
        since=event.occurred_at,
        consent_signed_on=consent.signed_on,
        counted_from=counted_from if state.seed_assistance_rules else None,
    )
    change.set_lead(event.organisation, "K1")
    _placement_members(change, Placement.CRISIS_ACCOMMODATION, event.organisation)
    due = change.period_end(
        DeadlineKind.CRISIS_ACCOMMODATION, counted_from, cfg.crisis_accommodation
    )
    change.set_deadline(
        DeadlineKind.CRISIS_ACCOMMODATION,
        "K1",
        due,
        change.reminder_before(due, cfg.crisis_accommodation_reminder),
        [Org.CARITAS, Org.LABOUR_MINISTRY],
    )
    if state.seed_assistance_rules:
        _offer_safe_accommodation(change, due)
    if state.reflection_started_at is None:
        _start_reflection(change, event.occurred_at)
    elif state.phase in EXIT_PHASES:
        state.phase = Phase.REFLECTION


def _offer_safe_accommodation(change: _Change, crisis_due: datetime) -> None:
    """S1: “During crisis accommodation, victims are offered long-term assistance and safe
    accommodation.” The NGO leading the case (Caritas, which places) owes the offer while crisis
    accommodation runs: due the crisis reminder's lead (5 days) before its 30 days end, so that
    a placement can follow within them; reminded that lead before, escalated at the date
    (:func:`_expire_safe_accommodation_offer`). Settled by the offer, whatever the answer
    (:func:`settle_safe_accommodation_offer`), by a safe placement, by the end of crisis
    accommodation or an exit. Not opened again once an offer is recorded."""
    state, cfg = change.state, change.config
    if state.safe_accommodation_offer is not None:
        return
    due = change.reminder_before(crisis_due, cfg.crisis_accommodation_reminder)
    action = (
        "Offer the victim long-term assistance and safe accommodation during crisis "
        f"accommodation, and record the offer with their answer by {describe_end(due)} (S1)."
    )
    change.open_obligation(
        _Duty(ObligationKind.SAFE_ACCOMMODATION_OFFER, "S1", state.lead_ngo, action), due_at=due
    )
    change.set_deadline(
        DeadlineKind.SAFE_ACCOMMODATION_OFFER,
        "S1",
        due,
        change.reminder_before(due, cfg.crisis_accommodation_reminder),
        lead_ngo=True,
    )


def settle_safe_accommodation_offer(change: _Change, by: str) -> None:
    """S1: the offer is made (or moot: safe accommodation began, crisis accommodation or
    assistance ended): its obligation closes and its timer ends."""
    change.close_obligations(by, ObligationKind.SAFE_ACCOMMODATION_OFFER)
    change.end_deadline(DeadlineKind.SAFE_ACCOMMODATION_OFFER)


def _reflection_started(change: _Change, event: ev.ReflectionPeriodStarted) -> None:
    if change.state.reflection_started_at is not None:
        _reject("K5", "type", "the reflection period has already started")
    _back_in_assistance(change, event.occurred_at)
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


def _end_placement(
    change: _Change, placement: Placement, reason: str, rule: str | None = None
) -> bool:
    """End ``placement``, if it runs, when the event ending it happened (a back-dated end is
    stamped with its own date; deadlines that already fired stay fired, docs/rules.md K2). An
    end by ``rule`` (K1, K2, S5) dated before the placement began is refused naming it and
    ``occurred_at``; an exit (no ``rule``) is stamped no earlier than the placement began."""
    state = change.state
    record = (
        state.crisis_accommodation
        if placement is Placement.CRISIS_ACCOMMODATION
        else state.safe_accommodation
    )
    if record is None or not record.active:
        return False
    ended_at = change.now
    if state.seed_assistance_rules and change.cause is not None:
        ended_at = change.cause.occurred_at
        if ended_at < record.since:
            if rule is not None:
                _reject(
                    rule,
                    "occurred_at",
                    f"the {placement.value.replace('_', ' ')} ended before it began "
                    f"(placed {record.since.isoformat()})",
                )
            ended_at = record.since
    record.ended_at = ended_at
    record.end_reason = reason
    if placement is Placement.CRISIS_ACCOMMODATION:
        change.end_deadline(DeadlineKind.CRISIS_ACCOMMODATION)
        # S1: the offer is owed during crisis accommodation (none open in older cases).
        settle_safe_accommodation_offer(
            change, change.cause.event_id if change.cause else "pathway"
        )
    rule, ministry, _, _ = _PLACEMENT_MEMBERS[placement]
    why = f"the placement ended: {reason}"
    change.end_member(record.provider, MemberRole.PROVIDER, rule, why, given_by=rule)
    change.end_member(ministry, MemberRole.CO_FINANCER, rule, why, given_by=rule)
    return True


def _crisis_ended(change: _Change, event: ev.CrisisAccommodationEnded) -> None:
    if not _end_placement(change, Placement.CRISIS_ACCOMMODATION, "ended", "K1"):
        _reject("K1", "type", "the victim is not in crisis accommodation")


def settle_safe_accommodation_end(change: _Change, by: str) -> None:
    """S3, S5: safe accommodation ended (its end, or a withdrawal of consent): the questions
    that hung on it, the next step after the proceedings and the permits, are settled."""
    change.close_obligations(by, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS)
    change.end_deadline(DeadlineKind.ACCOMMODATION_AFTER_PROCEEDINGS)
    settle_safe_accommodation_permits(change, by)


def _consent_withdrawn(change: _Change, event: ev.ConsentWithdrawn) -> None:
    """K2: withdrawal ends the placement, never the other rights (reflection, permits...); a
    withdrawal dated before the placement it ends is refused (K2, ``occurred_at``)."""
    if not _end_placement(change, event.placement, "consent withdrawn (K2)", "K2"):
        _reject("K2", "placement", f"the victim is not in {event.placement.value}")
    if event.placement is Placement.SAFE_ACCOMMODATION and change.state.seed_assistance_rules:
        settle_safe_accommodation_end(change, event.event_id)


# ---------------------------------------------------------------------------------------------
# New facts, and leaving assistance
# ---------------------------------------------------------------------------------------------


def _facts_updated(change: _Change, event: ev.FactsUpdated) -> None:
    state = change.state
    before = state.person
    refuse_eu_citizen_applicant(state, event.person)
    if state.seed_child_rules:
        refuse_birth_after_identification(state, event.person)
    state.person = event.person
    _residence_authority(change)
    if state.seed_child_rules:
        child_facts_changed(change, event, before)  # C4–C8 from the facts as they now stand
    elif state.child_protection is None and state.is_minor_at(event.occurred_at):
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
        ObligationKind.SAFE_ACCOMMODATION_OFFER,
    )
    change.end_deadline(DeadlineKind.SAFE_ACCOMMODATION_OFFER)
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


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------


def _follow_on_decided(state: CaseState) -> bool:
    return state.further_support is not None or (
        state.safe_accommodation is not None and state.safe_accommodation.active
    )


def _expire_rights_information(change: _Change) -> None:
    state = change.state
    missing = [s for s in RightsSubject if s not in state.rights_information]
    if not missing:
        return
    letters = ", ".join(f"({s.value[0]})" for s in missing)
    for ob in state.open_obligations:
        if ob.kind is ObligationKind.RIGHTS_INFORMATION:
            change.escalated(ob, [state.lead_ngo])
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
    told = [state.lead_ngo, Org.POLICE]
    decision = change.open_obligation(
        _Duty(ObligationKind.REFLECTION_DECISION, "K5", state.lead_ngo, action)
    )
    decision.escalated_to = told
    change.notify(told, "reflection_period_ended", "K5", action)


def _expire_safe_accommodation_offer(change: _Change) -> None:
    """S1: the date to offer safe accommodation during crisis accommodation is reached with no
    offer recorded: escalated to the NGO leading the case and the labour ministry (which
    co-finances crisis accommodation)."""
    state = change.state
    open_ = [o for o in state.open_obligations if o.kind is ObligationKind.SAFE_ACCOMMODATION_OFFER]
    if not open_:
        return
    told = [open_[0].owner, Org.LABOUR_MINISTRY]
    for ob in open_:
        if ob.escalated_at is None:
            ob.escalated_at = change.now
            ob.escalated_to = told
    change.notify(
        told,
        "safe_accommodation_offer_overdue",
        "S1",
        "No offer of long-term assistance and safe accommodation is recorded, and crisis "
        "accommodation ends soon: offer it now and record the answer (S1).",
    )


def _expire_crisis(change: _Change) -> None:
    if _follow_on_decided(change.state):
        return
    action = (
        "Crisis accommodation reached 30 days with no follow-on placement decided: "
        "decide the follow-on placement (K1)."
    )
    told = [Org.CARITAS, Org.LABOUR_MINISTRY]
    follow_on = change.open_obligation(
        _Duty(ObligationKind.FOLLOW_ON_PLACEMENT, "K1", Org.CARITAS, action), escalated=True
    )
    follow_on.escalated_to = told
    change.notify(told, "crisis_accommodation_escalation", "K1", action)


# ---------------------------------------------------------------------------------------------
# This track's tables, which pathway.domain.rules.dispatch and .deadlines merge with the others'
# ---------------------------------------------------------------------------------------------

#: The events this track applies, and the function that applies each.
HANDLERS: dict[type[BaseEvent], Handler] = {
    ev.NgoInterviewHeld: _ngo_interview,
    ev.RightsInformationGiven: _rights_information,
    ev.PoliceInformationGatheringStarted: _police_information_gathering,
    ev.CooperationRecorded: _cooperation,
    ev.SpecialNeedFlagged: _special_need,
    ev.SpecialNeedReferralMade: _special_need_referred,
    ev.CrisisAccommodationPlaced: _crisis_accommodation,
    ev.ReflectionPeriodStarted: _reflection_started,
    ev.FurtherSupportDecided: _further_support,
    ev.CrisisAccommodationEnded: _crisis_ended,
    ev.ConsentWithdrawn: _consent_withdrawn,
    ev.FactsUpdated: _facts_updated,
    ev.ReturnedHome: _returned_home,
    ev.Departed: _departed,
    ev.CaseClosed: _case_closed,
}

#: The rules each event's timeline entry cites (identification: :func:`_open_case`; new facts
#: and the exits cite none).
EVENT_RULES: dict[str, str] = {
    "identified": "R1",
    "ngo_interview_held": "R2",
    "rights_information_given": "R3",
    "police_information_gathering_started": "R2, R4",
    "cooperation_recorded": "R5",
    "special_need_flagged": "K4",
    "special_need_referral_made": "K4",
    "crisis_accommodation_placed": "K1, K2",
    "reflection_period_started": "K5",
    "further_support_decided": "K5",
    "crisis_accommodation_ended": "K1",
    "consent_withdrawn": "K2",
}

#: What each of this track's deadlines does when it is reached.
EXPIRIES: dict[DeadlineKind, Expiry] = {
    DeadlineKind.RIGHTS_INFORMATION: _expire_rights_information,
    DeadlineKind.REFLECTION_PERIOD: _expire_reflection,
    DeadlineKind.CRISIS_ACCOMMODATION: _expire_crisis,
    DeadlineKind.SAFE_ACCOMMODATION_OFFER: _expire_safe_accommodation_offer,
}

#: The reminder sent before each of this track's deadlines that has one (``{due}``: its day).
REMINDERS: dict[DeadlineKind, str] = {
    DeadlineKind.RIGHTS_INFORMATION: "Rights information (R3) is due by {due}.",
    DeadlineKind.REFLECTION_PERIOD: (
        "The reflection period ends on {due}: prepare the decision on further support (K5)."
    ),
    DeadlineKind.CRISIS_ACCOMMODATION: (
        "Crisis accommodation reaches 30 days on {due}: arrange the follow-on placement (K1)."
    ),
    DeadlineKind.SAFE_ACCOMMODATION_OFFER: (
        "Offer the victim long-term assistance and safe accommodation during crisis "
        "accommodation, and record the offer with their answer by {due} (S1)."
    ),
}
