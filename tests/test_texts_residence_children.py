"""The texts people read from the residence, child, proceedings and accompanying-child rules,
pinned in full (issue 13: mutation score of pathway/domain/ >= 95 %).

pathway/domain/rules/residence.py (K7, S3, S4), children.py (C1–C6, the 18th birthday),
proceedings.py (K6, C7, C8) and accompanying.py (R1, K1, S1): each refusal's reason, each
notice's, reminder's and obligation's text, each membership's purpose and each timeline line
these rules write is asserted whole with ``==``, triggered by a real scenario through ``decide``
and ``fire_due`` (dates filled in with the scenario's known values). A rewording is a deliberate
change that updates its test. Pure: no Temporal server.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from pathway.domain.events import CaseEvent
from pathway.domain.membership import MemberRole, Membership
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules import fire_due
from pathway.domain.rules.accompanying import forget_linked_case, settle_case_start
from pathway.domain.state import CaseState, Notification, Obligation, ObligationKind
from tests.factories import EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened, reject
from tests.test_law_children import CHILD as CHILD_NOTE
from tests.test_law_children import DAY0, person, years_before
from tests.test_mutants_accompanying import (
    IDENTIFIED_AT,
    RECORDED_AT,
    _identify,
    _placed,
    _recorded,
)
from tests.test_mutants_children import _corrected_to_adult, _interview, _unaccompanied_16
from tests.test_mutants_residence import (
    PERMIT_EXPIRED,
    RESIDENCE_EXPIRED,
    _granted,
    _in_safe_accommodation,
    _old_residence_rules,
    _residence_permit,
)


def _notes(notes: list[Notification] | tuple[Notification, ...], reason: str) -> set[str]:
    """The distinct texts of the notices sent for ``reason``."""
    return {n.action for n in notes if n.reason == reason}


def _fired(state: CaseState, now: datetime) -> tuple[CaseState, list[Notification]]:
    new, effects = fire_due(state, now)
    return new, list(effects.notifications)


def _action(state: CaseState, kind: ObligationKind) -> str:
    (ob,) = [o for o in state.obligations if o.kind is kind]
    return ob.action


def _obligation(state: CaseState, kind: ObligationKind) -> Obligation:
    (ob,) = [o for o in state.obligations if o.kind is kind]
    return ob


def _member(state: CaseState, organisation: Org, role: MemberRole) -> Membership:
    (record,) = [m for m in state.membership if (m.organisation, m.role) == (organisation, role)]
    return record


def _reason(state: CaseState | None, type_: str, at: datetime, **fields: object) -> str:
    """``rule field: reason`` of the refusal of an event."""
    r = reject(state, event(type_, at, **fields))
    return f"{r.rule} {r.field}: {r.reason}"


# ---------------------------------------------------------------------------------------------
# Residence (K7, S3, S4)
# ---------------------------------------------------------------------------------------------


class TestResidenceMemberships:
    """S3, S4, K7: the purpose each residence authority's membership states to every reader."""

    def test_the_migration_authority_decides_a_third_country_nationals_permit(self) -> None:
        """S3, S4: the migration authority is a member of a third-country national's case."""
        record = _member(
            opened(TCN_ILLEGAL), Org.MIGRATION_AUTHORITY, MemberRole.RESIDENCE_AUTHORITY
        )
        assert (record.rule, record.why) == (
            "S4",
            "decides the temporary residence permit of a third-country national (S3, S4)",
        )

    def test_the_police_decided_the_stay(self) -> None:
        """K7: the police, having granted the permit to stay, are a member for the stay."""
        record = _member(_granted(), Org.POLICE, MemberRole.RESIDENCE_AUTHORITY)
        assert (record.rule, record.why) == (
            "K7",
            "decided the stay of a victim residing illegally, and may record the return home "
            "at its end (K7)",
        )


class TestS3Refusals:
    """S3: safe accommodation of a third-country national “is conditional on their having a
    permit to stay and a temporary residence permit”: a placement without either is refused,
    saying which permit is missing."""

    def test_without_a_permit_to_stay(self) -> None:
        """S3, K7: no permit to stay."""
        state = accept(
            opened(TCN_ILLEGAL),
            event("ngo_interview_held", T0 + timedelta(hours=2), language="es"),
        )
        state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
        state = accept(state, event("criminal_proceedings_opened", T0 + days(2)))
        assert _reason(state, "safe_accommodation_placed", T0 + days(3)) == (
            "S3 type: safe accommodation of a third-country national requires a valid permit "
            "to stay (K7)"
        )

    def test_without_a_temporary_residence_permit(self) -> None:
        """S3, S4: a permit to stay but no temporary residence permit."""
        state = accept(_granted(), event("criminal_proceedings_opened", T0 + days(2)))
        assert _reason(state, "safe_accommodation_placed", T0 + days(3)) == (
            "S3 type: safe accommodation of a third-country national requires a valid "
            "temporary residence permit (S4)"
        )


class TestK7Refusals:
    """K7: “The Police allow victims who reside illegally … to stay … for a period of 3 (three)
    months” … “If reasonable grounds exist, the victims may be permitted to remain for another
    period of three months at the most.” Each refusal of a grant or an extension says why."""

    def test_a_permit_cannot_start_after_the_day_it_is_granted(self) -> None:
        """K7: valid from a day after the grant."""
        state = _old_residence_rules(_granted()).model_copy(update={"permit_to_stay": None})
        state = state.model_copy(update={"seed_residence_rules": True})
        assert (
            _reason(
                state,
                "permit_to_stay_granted",
                T0 + days(1),
                valid_from="2026-03-05",
                basis="ex_officio",
            )
            == "K7 valid_from: the permit to stay cannot start after the day it is granted"
        )

    def test_a_permit_cannot_start_before_the_case(self) -> None:
        """K7: valid from a day before the case opened (2 March 2026)."""
        state = _granted().model_copy(update={"permit_to_stay": None})
        assert (
            _reason(
                state,
                "permit_to_stay_granted",
                T0 + days(1),
                valid_from="2026-03-01",
                basis="ex_officio",
            )
            == "K7 valid_from: the permit to stay cannot start before the case (2026-03-02)"
        )

    def test_an_eu_citizen_gets_no_permit_to_stay(self) -> None:
        """K7, replay: a case recorded before ``seed-residence-rules`` refuses an EU citizen's
        permit to stay naming EU citizens."""
        state = _old_residence_rules(opened(EU_ADULT))
        assert (
            _reason(
                state,
                "permit_to_stay_granted",
                T0 + days(1),
                valid_from="2026-03-03",
                basis="ex_officio",
            )
            == "K7 type: a permit to stay is for victims residing illegally, not EU citizens"
        )

    def test_a_second_grant_is_refused(self) -> None:
        """K7: one permit to stay; it is extended, not granted again."""
        assert (
            _reason(
                _granted(),
                "permit_to_stay_granted",
                T0 + days(2),
                valid_from="2026-03-03",
                basis="ex_officio",
            )
            == "K7 type: a permit to stay was already granted; extend it instead"
        )

    def test_no_permit_to_extend(self) -> None:
        """K7: an extension without a permit to stay."""
        assert _reason(opened(TCN_ILLEGAL), "permit_to_stay_extended", T0 + days(1), months=3) == (
            "K7 type: there is no permit to stay to extend"
        )

    def test_extended_only_once(self) -> None:
        """K7: “for another period of three months at the most”: one extension."""
        state = accept(_granted(), event("permit_to_stay_extended", T0 + days(20), months=1))
        assert _reason(state, "permit_to_stay_extended", T0 + days(21), months=1) == (
            "K7 type: the permit to stay may be extended only once"
        )

    def test_an_extension_after_the_permit_expired(self) -> None:
        """K7: the permit ran through 2 June 2026; an extension on 4 June is too late."""
        at = PERMIT_EXPIRED + days(1)
        state, _ = fire_due(_granted(), at)
        assert _reason(state, "permit_to_stay_extended", at, months=3) == (
            "K7 occurred_at: the permit to stay expired on 2026-06-02: an extension is decided "
            "before it expires (on its last day at the latest)"
        )

    def test_an_extension_before_the_permit(self) -> None:
        """K7: a permit valid from 7 March 2026; an extension back-dated to 4 March."""
        state = accept(
            opened(TCN_ILLEGAL),
            event("ngo_interview_held", T0 + timedelta(hours=2), language="es"),
        )
        state = accept(
            state,
            event(
                "permit_to_stay_granted", T0 + days(5), valid_from="2026-03-07", basis="ex_officio"
            ),
        )
        assert _reason(state, "permit_to_stay_extended", T0 + days(2), months=3) == (
            "K7 occurred_at: an extension cannot predate the permit to stay"
        )

    def test_an_extension_of_more_than_three_months(self) -> None:
        """K7: “another period of three months at the most”."""
        assert _reason(_granted(), "permit_to_stay_extended", T0 + days(20), months=4) == (
            "K7 months: an extension may last at most 3 months"
        )


class TestS4Refusals:
    """S4 (Foreigners Act, Article 50): “A temporary residence permit may be issued to victims
    … if the victims are willing to participate as witnesses …”: each refusal says why."""

    def test_an_eu_citizen_gets_no_temporary_residence_permit(self) -> None:
        """S4: Article 50 is for third-country nationals."""
        r = reject(opened(EU_ADULT), _residence_permit(T0 + days(1), "2027-03-01"))
        assert (r.rule, r.field, r.reason) == (
            "S4",
            "type",
            "a temporary residence permit under Article 50 is for third-country nationals",
        )

    def test_a_permit_ending_before_it_starts(self) -> None:
        """S4: valid until a day not after its first."""
        # The event's own validation refuses it too; the rule holds for one built otherwise.
        grant = _residence_permit(T0 + days(1), "2026-03-04", "2026-03-03")
        r = reject(_granted(), grant.model_copy(update={"valid_until": date(2026, 3, 3)}))
        assert (r.rule, r.field, r.reason) == (
            "S4",
            "valid_until",
            "the permit must end after it starts",
        )

    def test_a_second_permit_while_the_first_runs(self) -> None:
        """S4: a new permit only after the current one expired; else its renewal."""
        state = accept(_granted(), _residence_permit(T0 + days(2), "2026-04-30"))
        r = reject(state, _residence_permit(T0 + days(3), "2027-04-30"))
        assert (r.rule, r.field, r.reason) == (
            "S4",
            "type",
            "a temporary residence permit valid until 2026-04-30 was already granted: record "
            "its renewal instead (a new permit is granted only after it expired)",
        )

    def test_no_permit_to_renew(self) -> None:
        """S4: a renewal without a permit."""
        assert (
            _reason(
                _granted(),
                "temporary_residence_permit_renewed",
                T0 + days(2),
                valid_until="2027-03-01",
            )
            == "S4 type: there is no temporary residence permit to renew"
        )

    def test_a_renewal_ending_no_later(self) -> None:
        """S4: a renewal ends after the current permit."""
        state = accept(_granted(), _residence_permit(T0 + days(2), "2026-04-30"))
        assert (
            _reason(
                state, "temporary_residence_permit_renewed", T0 + days(3), valid_until="2026-04-30"
            )
            == "S4 valid_until: a renewal must end after the current permit"
        )


#: The extension decision K7 opens with the permit to stay of ``_granted`` (through 2 June).
K7_DECISION = (
    "Decide by 2026-06-02 whether reasonable grounds allow the one extension of the permit to "
    "stay, of at most 3 months (K7)."
)


class TestK7Texts:
    """K7: the police decide the one extension while the permit runs, are reminded before it
    expires and told when it has expired."""

    def test_the_extension_decision(self) -> None:
        """K7: the police's obligation names the permit's last day and the extension's limit."""
        assert _action(_granted(), ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION) == K7_DECISION

    def test_the_reminder(self) -> None:
        """K7: 14 days before the permit expires (2 June, end of day)."""
        _, notes = _fired(_granted(), PERMIT_EXPIRED - days(10))
        assert _notes(notes, "permit_to_stay_reminder") == {
            "The permit to stay expires on 2026-06-02 at 24:00 (Ljubljana time): decide on the "
            "extension (K7)."
        }

    def test_expired_without_an_extension(self) -> None:
        """K7: expired unextended; the decision is closed as expired."""
        state, notes = _fired(_granted(), PERMIT_EXPIRED)
        assert _notes(notes, "permit_to_stay_expired") == {
            "The permit to stay has expired without an extension, which had to be decided "
            "before it expired; none is possible now (K7)."
        }
        assert _obligation(state, ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION).closed_by == (
            "expired"
        )

    def test_expired_after_its_extension(self) -> None:
        """K7: the extended permit (through 2 September 2026) expired."""
        state = accept(_granted(), event("permit_to_stay_extended", T0 + days(20), months=3))
        _, notes = _fired(state, datetime.fromisoformat("2026-09-03T00:00:00+02:00"))
        assert _notes(notes, "permit_to_stay_expired") == {
            "The permit to stay has expired; no (further) extension is possible (K7)."
        }

    def test_replayed_expiry_without_an_extension(self) -> None:
        """K7, replay: a case recorded before ``seed-residence-rules`` opens the decision at
        expiry and says so."""
        state, notes = _fired(_granted(rules=False), PERMIT_EXPIRED)
        text = (
            "The permit to stay has expired: decide on the one extension of at most 3 months (K7)."
        )
        assert _notes(notes, "permit_to_stay_expired") == {text}
        assert _action(state, ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION) == text

    def test_replayed_expiry_after_the_extension(self) -> None:
        """K7, replay: the extended permit expired; no further extension."""
        state = _granted(rules=False)
        state = accept(state, event("permit_to_stay_extended", PERMIT_EXPIRED + days(1), months=3))
        _, notes = _fired(state, datetime.fromisoformat("2026-09-03T00:00:00+02:00"))
        assert _notes(notes, "permit_to_stay_expired") == {
            "The extended permit to stay has expired; no further extension is possible (K7)."
        }


class TestS4Texts:
    """S4: the migration authority is reminded before the temporary residence permit expires
    and told to renew it when it has."""

    def test_the_reminder(self) -> None:
        """S3, S4: 30 days before the permit (through 30 April) expires."""
        state = accept(_granted(), _residence_permit(T0 + days(2), "2026-04-30"))
        _, notes = _fired(state, RESIDENCE_EXPIRED - days(20))
        assert _notes(notes, "temporary_residence_permit_reminder") == {
            "The temporary residence permit expires on 2026-04-30 at 24:00 (Ljubljana time): "
            "renewal is due (S3, S4)."
        }

    def test_expired(self) -> None:
        """S4: the renewal is due; notice and obligation say so."""
        state = accept(_granted(), _residence_permit(T0 + days(2), "2026-04-30"))
        state, notes = _fired(state, RESIDENCE_EXPIRED)
        text = "The temporary residence permit has expired: renewal is due (S4)."
        assert _notes(notes, "residence_permit_expired") == {text}
        assert _action(state, ObligationKind.RESIDENCE_PERMIT_RENEWAL) == text

    def test_replayed_expiry_in_safe_accommodation(self) -> None:
        """S3, S4, replay: before ``seed-residence-rules`` the notice added that safe
        accommodation depends on the permit."""
        _, notes = _fired(_old_residence_rules(_in_safe_accommodation()), RESIDENCE_EXPIRED)
        assert _notes(notes, "residence_permit_expired") == {
            "The temporary residence permit has expired: renewal is due (S4). Safe "
            "accommodation of a third-country national depends on it (S3)."
        }


class TestS3Texts:
    """S3: a permit of a third-country national in safe accommodation lapsed: the provider is
    told to agree, by a date, whether the placement ends; reminded before it and told again at
    it."""

    @pytest.mark.parametrize(
        ("residence_until", "now", "what", "day", "by"),
        [
            # "by": the obligation's due instant, 24:00 of the 7th day after the lapse, as its
            # reminders state it (the notice said the next day's date until 2 December 2026).
            (
                "2026-04-30",
                RESIDENCE_EXPIRED,
                "temporary residence permit",
                "2026-04-30",
                "2026-05-07 at 24:00 (Ljubljana time)",
            ),
            (
                "2027-03-03",
                PERMIT_EXPIRED,
                "permit to stay",
                "2026-06-02",
                "2026-06-09 at 24:00 (Ljubljana time)",
            ),
        ],
    )
    def test_the_lapse(
        self, residence_until: str, now: datetime, what: str, day: str, by: str
    ) -> None:
        """S3: the notice and the provider's obligation name the permit, its last day and the
        date to settle the placement by."""
        state, notes = _fired(_in_safe_accommodation(residence_until), now)
        text = (
            f"The {what} of a third-country national in safe accommodation expired on {day}: "
            "safe accommodation is conditional on a permit to stay and a temporary residence "
            "permit, and lasts for the validity of the permit to stay (S3). Agree with the "
            f"police and the migration authority whether the placement ends, and record it, by "
            f"{by}."
        )
        assert _notes(notes, "safe_accommodation_permit_lapsed") == {text}
        assert _action(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS) == text

    def test_the_reminder_and_the_escalation(self) -> None:
        """S3: reminded two days before 7 May, told again at its end."""
        state, _ = _fired(_in_safe_accommodation(), RESIDENCE_EXPIRED)
        due = _obligation(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS).due_at
        assert due is not None
        state, notes = _fired(state, due - days(2))
        assert _notes(notes, "safe_accommodation_permits_reminder") == {
            "A permit of a third-country national in safe accommodation has lapsed: agree and "
            "record by 2026-05-07 at 24:00 (Ljubljana time) whether the placement ends (S3)."
        }
        _, notes = _fired(state, due)
        assert _notes(notes, "safe_accommodation_permits_overdue") == {
            "Safe accommodation of a third-country national continues without the permits it is "
            "conditional on, past the date to settle it (S3): agree and record whether it ends."
        }

    def test_a_placement_ended_before_the_date_is_settled_by_its_end(self) -> None:
        """S3, replay: consent withdrawn in a case recorded before ``seed-assistance-rules``
        left the obligation open; at the date it closes, recorded as closed by the placement's
        end."""
        state, _ = _fired(_in_safe_accommodation(), RESIDENCE_EXPIRED)
        state = state.model_copy(update={"seed_assistance_rules": False})
        state = accept(
            state,
            event("consent_withdrawn", RESIDENCE_EXPIRED + days(1), placement="safe_accommodation"),
        )
        state, _ = _fired(state, RESIDENCE_EXPIRED + days(8))
        assert _obligation(state, ObligationKind.SAFE_ACCOMMODATION_PERMITS).closed_by == (
            "placement ended"
        )


# ---------------------------------------------------------------------------------------------
# Children (C1–C6, the 18th birthday)
# ---------------------------------------------------------------------------------------------

GUARDIAN_ACTION = "Appoint a guardian or representative for the child (C4)."
INTERVIEW_ACTION = "Interview the unaccompanied foreign minor (C5)."
ASSISTANCE_ACTION = "Offer the minor emergency social assistance (C5)."
STATEMENT_ACTION = "Obtain the minor's statement on the appointment of a guardian (C5)."
FAMILY_ACTION = "Seek contact with the child's family as soon as possible (C6)."
#: The obligations an unaccompanied foreign minor's case opens, and their texts (C4–C6).
CHILD_ACTIONS = {
    ObligationKind.GUARDIAN_APPOINTMENT: GUARDIAN_ACTION,
    ObligationKind.SWC_INTERVIEW: INTERVIEW_ACTION,
    ObligationKind.EMERGENCY_ASSISTANCE: ASSISTANCE_ACTION,
    ObligationKind.GUARDIAN_STATEMENT: STATEMENT_ACTION,
    ObligationKind.FAMILY_CONTACT: FAMILY_ACTION,
}


def _actions(state: CaseState) -> dict[ObligationKind, str]:
    return {o.kind: o.action for o in state.open_obligations if o.kind in CHILD_ACTIONS}


def _pending(state: CaseState, reason: str) -> set[str]:
    return {n.action for n in state.pending_notifications if n.reason == reason}


class TestChildTrackOpens:
    """C4–C6: “the child is to be appointed a guardian or a representative”; “the interview
    with the minor foreigner is conducted by a professional worker from a social work centre
    who will also offer the foreigner emergency social assistance and obtain the foreigner's
    statement on the appointment of a guardian”; “the authorities are to do everything to
    establish contact with the victim's family as soon as possible”."""

    def test_an_unaccompanied_foreign_minor(self) -> None:
        """C1–C6: the social work centre is told, made a member with the guardian, and given
        each step in the rule's words."""
        state = _unaccompanied_16()
        assert _actions(state) == CHILD_ACTIONS
        assert _pending(state, "child_identified") == {
            "A child victim was identified: child-protection measures apply (C1–C8)."
        }
        swc = [
            m
            for m in state.membership
            if (m.organisation, m.role, m.rule)
            == (Org.SOCIAL_WORK_CENTRE, MemberRole.ASSIGNED, "C4")
        ]
        assert [m.why for m in swc] == ["child protection: the measures for a child victim (C1–C8)"]
        guardian = _member(state, Org.GUARDIAN, MemberRole.GUARDIAN)
        assert (guardian.rule, guardian.why) == (
            "C3",
            "the child's guardian or legal representative, informed of every measure (C3)",
        )

    def test_the_old_opening(self) -> None:
        """C4–C6 in cases recorded before ``seed_child_rules``: the same texts."""
        old = opened(EU_ADULT).model_copy(update={"seed_child_rules": False})
        facts = person(years_before(DAY0, 16), unaccompanied=True)
        old = accept(old, event("facts_updated", T0 + days(1), person=facts))
        assert _actions(old) == CHILD_ACTIONS

    def test_a_child_found_minor_in_running_proceedings(self) -> None:
        """C7: corrected facts show a minor in criminal proceedings without a representative."""
        state = accept(opened(EU_ADULT), event("criminal_proceedings_opened", T0 + days(1)))
        state = accept(
            state,
            event("facts_updated", T0 + days(2), person=person(years_before(DAY0, 16))),
        )
        assert _action(state, ObligationKind.AUTHORISED_REPRESENTATIVE) == (
            "The injured party is a minor: have an authorised representative appointed for the "
            "criminal proceedings (C7)."
        )
        assert _pending(state, "authorised_representative_missing") == {
            "The injured party in running criminal proceedings is a minor and has no authorised "
            "representative (C7)."
        }


class TestChildRefusals:
    """C1: “the principles of the best interest of the child”; C2: “The opinions and wishes of
    children … considered whenever decisions related to children are taken”; C4: “personnel
    appropriately qualified to perform procedures with children”; INPUT: the birth date."""

    def test_a_decision_without_a_best_interests_note(self) -> None:
        """C1."""
        state = _unaccompanied_16()
        assert _reason(state, "crisis_accommodation_placed", T0 + days(1)) == (
            "C1 child.best_interests: every decision on a child's case records a best-interests "
            "note"
        )

    def test_a_decision_without_the_childs_views(self) -> None:
        """C2."""
        note = {"best_interests": CHILD_NOTE["best_interests"]}
        assert (
            _reason(_unaccompanied_16(), "crisis_accommodation_placed", T0 + days(1), child=note)
            == "C2 child.child_views: every decision on a child's case records the child's views"
        )

    def test_a_procedure_without_qualified_personnel(self) -> None:
        """C4."""
        assert _reason(_unaccompanied_16(), "ngo_interview_held", T0 + days(1)) == (
            "C4 qualified_personnel: procedures with a child are done by personnel qualified "
            "for children"
        )

    @pytest.mark.parametrize(
        ("type_", "rule", "fields"),
        [
            (
                "swc_interview_held",
                "C5",
                {
                    "emergency_assistance_offered": True,
                    "guardian_statement_taken": True,
                    "trafficking_indicators": False,
                },
            ),
            ("guardian_appointed", "C4", {}),
            ("family_contact_recorded", "C6", {"outcome": "established"}),
            ("child_accommodated_in_facility", "C5", {}),
        ],
    )
    def test_a_childs_measure_in_an_adults_case(
        self, type_: str, rule: str, fields: dict[str, object]
    ) -> None:
        """C4–C6: the measures apply only to a child's case."""
        assert _reason(opened(EU_ADULT), type_, T0 + days(1), child=CHILD_NOTE, **fields) == (
            f"{rule} type: this applies only to a child's case"
        )

    def test_a_birth_date_after_the_identification(self) -> None:
        """INPUT: a corrected birth date lies on or before the day of identification."""
        assert (
            _reason(opened(EU_ADULT), "facts_updated", T0 + days(1), person=person("2026-03-03"))
            == "INPUT person.birth_date: a birth date cannot lie after the case's identification "
            "(2026-03-02)"
        )


class TestChildMeasures:
    """C3: “The child and the holder of parental responsibilities or another legal
    representative … is informed of all measures”; C4, C5: the guardian and the facility."""

    def test_every_measure_is_told(self) -> None:
        """C3: the guardian is told of a measure, named by its event type."""
        state = accept(
            _unaccompanied_16(),
            event("crisis_accommodation_placed", T0 + days(1), child=CHILD_NOTE),
        )
        assert _pending(state, "child_measure") == {
            "A measure concerning the child was taken (crisis_accommodation_placed): inform the "
            "child in an age-appropriate way, and the holder of parental responsibility or "
            "legal representative (C3)."
        }

    def test_the_guardian_appointed(self) -> None:
        """C4: the appointed guardian's membership says so."""
        state = accept(
            _unaccompanied_16(),
            event("guardian_appointed", T0 + days(1), child=CHILD_NOTE, qualified_personnel=True),
        )
        appointed = [
            m.why
            for m in state.membership
            if (m.organisation, m.role, m.rule) == (Org.GUARDIAN, MemberRole.GUARDIAN, "C4")
        ]
        assert appointed == ["appointed the child's guardian (C4)"]

    def test_indicators_at_the_interview(self) -> None:
        """C5: indicators of trafficking make the facility the centre's obligation, and its
        timer says so when it expires."""
        at = T0 + days(1)
        state = accept(_unaccompanied_16(), _interview(at, True))
        assert _action(state, ObligationKind.FACILITY_ACCOMMODATION) == (
            "Indicators of trafficking: accommodate the minor in an appropriate facility (C5)."
        )
        _, notes = _fired(state, at + days(5))
        assert _notes(notes, "facility_accommodation_overdue") == {
            "The minor is not yet accommodated in an appropriate facility (C5)."
        }


class TestChildEscalations:
    """C4–C6: at each expiry the social work centre is alerted again, in the rule's words."""

    def test_the_guardian_the_family_and_the_interview_steps(self) -> None:
        """C4, C6, C5 (the steps due together, listed)."""
        _, notes = _fired(_unaccompanied_16(), T0 + days(8))
        assert _notes(notes, "guardian_appointment_overdue") == {
            "A guardian for the child is still not appointed (C4)."
        }
        assert _notes(notes, "family_contact_reminder") == {
            "Contact with the child's family is still not established or found not in the "
            "child's interest (C6)."
        }
        assert _notes(notes, "swc_interview_overdue") == {
            "Still to do for the minor (C5): "
            + " ".join((INTERVIEW_ACTION, ASSISTANCE_ACTION, STATEMENT_ACTION))
        }

    def test_the_old_interview_escalation(self) -> None:
        """C5 in cases recorded before ``seed_child_rules``: the interview alone."""
        old = opened(EU_ADULT).model_copy(update={"seed_child_rules": False})
        facts = person(years_before(DAY0, 16), unaccompanied=True)
        old = accept(old, event("facts_updated", T0 + days(1), person=facts))
        _, notes = _fired(old, T0 + days(8))
        assert _notes(notes, "swc_interview_overdue") == {
            "The unaccompanied minor has not been interviewed (C5)."
        }


class TestChildTrackCloses:
    """C4: a guardian is for a child: the track and the guardianship end at 18, or when the
    corrected facts show an adult; the notice lists the obligations it closed."""

    CLOSED = (
        " Child-protection obligations closed: emergency_assistance, family_contact, "
        "guardian_appointment, guardian_statement, swc_interview."
    )

    def test_turning_18(self) -> None:
        """C4: the 18th birthday."""
        state = opened(person(years_before(DAY0, 18, plus_days=10), unaccompanied=True))
        state, notes = _fired(state, T0 + days(10))
        assert _notes(notes, "turned_18") == {
            "The person has turned 18: the child-protection track and the guardianship "
            "measures under it end; assistance continues on the adult path." + self.CLOSED
        }
        (record,) = [m for m in state.membership if m.removed_rule == "C4"]
        assert record.removed_why == "the person turned 18: the guardianship measures end (C4)"
        assert {o.closed_by for o in state.obligations if o.kind in CHILD_ACTIONS} == {"turned 18"}

    def test_an_adult_after_all(self) -> None:
        """C4: the corrected facts show an adult."""
        state = _corrected_to_adult(_unaccompanied_16())
        assert _pending(state, "child_track_closed") == {
            "The corrected facts show that the person is an adult: the child-protection track "
            "and the guardianship measures under it end; assistance continues on the adult "
            "path." + self.CLOSED
        }
        (record,) = [m for m in state.membership if m.removed_rule == "C4"]
        assert record.removed_why == (
            "the corrected facts show an adult: the guardianship measures end (C4)"
        )


# ---------------------------------------------------------------------------------------------
# Proceedings (K6, C7, C8)
# ---------------------------------------------------------------------------------------------

HEARING = date(2026, 6, 1)


def _minor_in_proceedings() -> CaseState:
    """A 16-year-old with a holder able to act, in criminal proceedings opened on 3 March 2026
    without an authorised representative (C7)."""
    state = opened(person(years_before(DAY0, 16), holder_can_act=True))
    return accept(state, event("criminal_proceedings_opened", T0 + days(1)))


class TestK6Refusals:
    """K6: “assistance and support prior to and during the criminal proceedings”: hearings and
    conclusions belong to open proceedings, not before they opened."""

    def test_proceedings_already_open(self) -> None:
        """K6."""
        state = accept(opened(EU_ADULT), event("criminal_proceedings_opened", T0 + days(1)))
        assert _reason(state, "criminal_proceedings_opened", T0 + days(2)) == (
            "K6 type: criminal proceedings are already open"
        )

    @pytest.mark.parametrize(
        ("type_", "fields"),
        [
            ("criminal_proceedings_concluded", {}),
            ("main_hearing_scheduled", {"hearing_date": "2026-06-01", "direct_questioning": False}),
        ],
    )
    def test_no_open_proceedings(self, type_: str, fields: dict[str, object]) -> None:
        """K6: a conclusion or a hearing without open proceedings."""
        assert _reason(opened(EU_ADULT), type_, T0 + days(1), **fields) == (
            "K6 type: there are no open criminal proceedings"
        )

    def test_a_conclusion_before_the_opening(self) -> None:
        """K6."""
        state = accept(opened(EU_ADULT), event("criminal_proceedings_opened", T0 + days(2)))
        assert _reason(state, "criminal_proceedings_concluded", T0 + days(1)) == (
            "K6 occurred_at: criminal proceedings cannot conclude before they opened"
        )

    def test_a_hearing_scheduled_before_the_opening(self) -> None:
        """K6: scheduled (recorded) before the proceedings opened."""
        state = accept(opened(EU_ADULT), event("criminal_proceedings_opened", T0 + days(2)))
        assert (
            _reason(
                state,
                "main_hearing_scheduled",
                T0 + days(1),
                hearing_date="2026-06-01",
                direct_questioning=False,
            )
            == "K6 occurred_at: a main hearing cannot be scheduled before the proceedings opened"
        )

    def test_a_hearing_dated_before_the_opening(self) -> None:
        """K6: a hearing date before the proceedings opened (4 March 2026)."""
        state = accept(opened(EU_ADULT), event("criminal_proceedings_opened", T0 + days(2)))
        assert (
            _reason(
                state,
                "main_hearing_scheduled",
                T0 + days(3),
                hearing_date="2026-03-03",
                direct_questioning=False,
            )
            == "K6 hearing_date: a main hearing cannot lie before the proceedings opened"
        )


class TestC8Refusals:
    """C8: “Direct questioning of persons under 15 years of age … is not permitted in the main
    hearing.”"""

    def test_under_15_on_the_hearing_date(self) -> None:
        """C8: 14 on the hearing date."""
        state = opened(person(years_before(DAY0, 14), holder_can_act=True))
        state = accept(
            state,
            event("criminal_proceedings_opened", T0 + days(1), authorised_representative=True),
        )
        assert _reason(
            state,
            "main_hearing_scheduled",
            T0 + days(2),
            hearing_date="2026-06-01",
            direct_questioning=True,
        ) == (
            "C8 direct_questioning: no direct questioning at the main hearing of a person under "
            "15 on the hearing date"
        )

    def test_the_age_not_recorded(self) -> None:
        """C8: no birth date or estimate."""
        state = opened({**EU_ADULT, "birth_date": None})
        state = accept(state, event("criminal_proceedings_opened", T0 + days(1)))
        assert _reason(
            state,
            "main_hearing_scheduled",
            T0 + days(2),
            hearing_date="2026-06-01",
            direct_questioning=True,
        ) == (
            "C8 direct_questioning: the person's age is not recorded: direct questioning at the "
            "main hearing needs a known age of at least 15"
        )


class TestProceedingsTexts:
    """C7: “the injured party who is a minor will throughout the criminal proceedings have an
    authorised representative”; C8 when the facts or the birthday change; S5, K6 when the
    proceedings of a third-country national in safe accommodation conclude."""

    def test_opened_for_a_minor_without_a_representative(self) -> None:
        """C7: the obligation, the notice and the escalation."""
        state = _minor_in_proceedings()
        assert _action(state, ObligationKind.AUTHORISED_REPRESENTATIVE) == (
            "The minor injured party has no authorised representative in the criminal "
            "proceedings: have one appointed (C7)."
        )
        assert _pending(state, "authorised_representative_missing") == {
            "Criminal proceedings opened for a minor injured party without an authorised "
            "representative (C7)."
        }
        _, notes = _fired(state, T0 + days(10))
        assert _notes(notes, "authorised_representative_missing") == {
            "The minor injured party still has no authorised representative (C7)."
        }

    def test_the_representative_appointed(self) -> None:
        """C7: the representative's membership says what it is for."""
        state = accept(
            _minor_in_proceedings(),
            event(
                "authorised_representative_appointed",
                T0 + days(2),
                child=CHILD_NOTE,
                qualified_personnel=True,
            ),
        )
        (record,) = [
            m
            for m in state.membership
            if (m.organisation, m.role, m.rule) == (Org.GUARDIAN, MemberRole.GUARDIAN, "C7")
        ]
        assert record.why == (
            "the minor injured party's authorised representative in criminal proceedings (C7)"
        )

    def test_a_hearing_barred_by_corrected_facts(self) -> None:
        """C8: corrected facts make the witness 14 on the hearing date."""
        state = opened(person(years_before(DAY0, 16)))
        state = accept(
            state,
            event("criminal_proceedings_opened", T0 + days(1), authorised_representative=True),
        )
        state = accept(
            state,
            event(
                "main_hearing_scheduled",
                T0 + days(2),
                hearing_date=HEARING.isoformat(),
                direct_questioning=True,
            ),
        )
        facts = person(years_before(HEARING, 15, plus_days=1))
        state = accept(state, event("facts_updated", T0 + days(3), person=facts))
        assert _pending(state, "direct_questioning_barred") == {
            "The corrected facts show the injured party under 15 (or of unknown age) on the date "
            "of the main hearing 2026-06-01: direct questioning there is not permitted (C8); "
            "schedule it without direct questioning."
        }

    def test_turning_15(self) -> None:
        """C8: the police are told when the injured party turns 15."""
        state = opened(person(years_before(DAY0, 15, plus_days=10), holder_can_act=True))
        state = accept(
            state,
            event("criminal_proceedings_opened", T0 + days(1), authorised_representative=True),
        )
        _, notes = _fired(state, T0 + days(10))
        assert _notes(notes, "turned_15") == {
            "The injured party has turned 15: C8 no longer bars direct questioning at the main "
            "hearing; other child protections still apply."
        }

    def test_concluded_in_safe_accommodation(self) -> None:
        """S5, K6: the provider agrees the next step by a date (30 days on), reminded before
        it; the timeline cites S5 and K6."""
        at = T0 + days(40)  # 11 April 2026
        state = accept(
            _in_safe_accommodation("2027-03-03"), event("criminal_proceedings_concluded", at)
        )
        text = (
            "Criminal proceedings concluded: safe accommodation of a third-country national "
            "lasts until the conclusion of the criminal proceedings (S5). Agree the victim's "
            "next step and record it by 2026-05-11 at 24:00 (Ljubljana time); K6 support "
            "continues for an appropriate period."
        )
        assert _action(state, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS) == text
        assert _pending(state, "proceedings_concluded") == {text}
        assert state.timeline[-1].rule == "S5, K6"
        due = _obligation(state, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS).due_at
        assert due is not None
        _, notes = _fired(state, due - days(7))
        assert _notes(notes, "accommodation_after_proceedings_reminder") == {
            "The criminal proceedings of a third-country national in safe accommodation have "
            "concluded: agree and record the next step by 2026-05-11 at 24:00 (Ljubljana time) "
            "(S5)."
        }

    def test_replayed_conclusion_in_safe_accommodation(self) -> None:
        """S5, K6 in cases recorded before ``seed-residence-rules``."""
        state = _old_residence_rules(_in_safe_accommodation("2027-03-03"))
        state = accept(state, event("criminal_proceedings_concluded", T0 + days(40)))
        text = (
            "Criminal proceedings concluded: agree the victim's next step after safe "
            "accommodation (K6 support continues for an appropriate period)."
        )
        assert _action(state, ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS) == text
        assert _pending(state, "proceedings_concluded") == {text}

    def test_a_hearing_cites_c8_and_k6(self) -> None:
        """C8, K6: the timeline entry of a main hearing."""
        state = accept(opened(EU_ADULT), event("criminal_proceedings_opened", T0 + days(1)))
        state = accept(
            state,
            event(
                "main_hearing_scheduled",
                T0 + days(2),
                hearing_date="2026-06-01",
                direct_questioning=False,
            ),
        )
        assert state.timeline[-1].rule == "C8, K6"


# ---------------------------------------------------------------------------------------------
# Children placed with a victim (R1, K1, S1)
# ---------------------------------------------------------------------------------------------


def _with_child(**facts: Any) -> CaseState:
    """A victim in crisis accommodation with child-1 recorded on 4 March 2026 (K1)."""
    return _recorded(_placed(), **facts)


def _refusal(state: CaseState, ev_: CaseEvent, now: datetime | None = None) -> str:
    r = reject(state, ev_, now)
    return f"{r.rule} {r.field}: {r.reason}"


class TestAccompanyingChildRefusals:
    """K1, S1: a child is recorded with the victim's running placement, once; R1: a recorded
    child is identified once, with facts that agree with the record, not before their birth
    or their age estimate. The reasons name no recorded value (R6)."""

    def test_recorded_twice(self) -> None:
        """CASE: the same child again."""
        state = _with_child()
        assert (
            _refusal(
                state,
                event(
                    "accompanying_child_recorded",
                    RECORDED_AT + days(1),
                    child_ref="child-1",
                    birth_date="2016-05-05",
                    gender="female",
                    citizenships=["DE"],
                    placed_with="crisis_accommodation",
                ),
            )
            == "CASE child_ref: this accompanying child is already recorded"
        )

    def test_not_in_that_placement(self) -> None:
        """S1: the victim is not in safe accommodation."""
        assert (
            _refusal(
                _placed(),
                event(
                    "accompanying_child_recorded",
                    RECORDED_AT,
                    child_ref="child-1",
                    birth_date="2016-05-05",
                    gender="female",
                    citizenships=["DE"],
                    placed_with="safe_accommodation",
                ),
            )
            == "S1 placed_with: the victim is not in safe_accommodation"
        )

    def test_no_such_child(self) -> None:
        """R1: no child recorded under the reference."""
        assert _refusal(_placed(), _identify("child-9")) == (
            "R1 child_ref: no accompanying child with this reference is recorded"
        )

    def test_identified_twice(self) -> None:
        """R1: the child's own case is open already."""
        state = accept(_with_child(), _identify())
        assert _refusal(state, _identify(at=IDENTIFIED_AT + days(1))) == (
            "R1 child_ref: this child's own case is already open"
        )

    def test_facts_that_disagree(self) -> None:
        """R1: a third-country status for a German child."""
        assert _refusal(_with_child(), _identify(residence_status="third_country_illegal")) == (
            "R1 residence_status: these facts do not agree with the child's recorded facts"
        )

    def test_before_the_birth_date(self) -> None:
        """R1: born on 7 March 2026, identified on 6 March."""
        state = _with_child(birth_date="2026-03-07", at=T0 + days(10))
        assert _refusal(state, _identify(at=T0 + days(4)), T0 + days(11)) == (
            "R1 occurred_at: the child cannot be identified before their recorded birth date"
        )

    def test_before_the_age_estimate(self) -> None:
        """R1: an estimate made on 12 March 2026 says nothing of 11 March."""
        estimate = {"years": 4, "as_of": "2026-03-12", "source": "doctor"}
        state = _with_child(birth_date=None, age_estimate=estimate, at=T0 + days(10))
        assert _refusal(state, _identify(at=T0 + days(9)), T0 + days(11)) == (
            "R1 occurred_at: the child cannot be identified before the day of their recorded "
            "age estimate"
        )


class TestLinkedCaseTimeline:
    """R1, issue 11 item 6: the timeline says a linked case opened, or was erased, without its
    ID; the child's recording cites K1 and S1."""

    def test_recorded(self) -> None:
        """K1, S1: the timeline entry of a recorded child."""
        assert _with_child().timeline[-1].rule == "K1, S1"

    def test_opened_and_erased(self) -> None:
        """R1: the linked case's start settled, then the linked case erased."""
        state = accept(_with_child(), _identify())
        (start,) = state.pending_case_starts
        now = T0 + days(6)
        settle_case_start(state, start.case_id, now)
        assert state.timeline[-1].what == "linked case opened"
        forgotten = forget_linked_case(state, start.case_id, now + days(1))
        assert forgotten is not None
        assert forgotten.timeline[-1].what == (
            "a linked case was erased: its ID is no longer kept in this case"
        )
