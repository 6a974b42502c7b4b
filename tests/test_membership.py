"""Case membership (issue 11, MEMBERS): who is a member of a case in which role, by which rule,
added and ended by a recorded, dated fact. Each test cites the rule that gives or ends the role.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pathway.domain.membership import (
    MemberRole,
    Membership,
    MembershipChange,
    MembershipRefused,
    add_member,
    remove_member,
)
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules import Accepted, Rejection, decide, decide_membership, fire_due
from pathway.domain.state import CaseState, Phase
from tests.factories import (
    ALL_SUBJECTS,
    CASE_ID,
    EU_ADULT,
    T0,
    TCN_ILLEGAL,
    accept,
    days,
    event,
    opened,
)

A = MemberRole.ASSIGNED
CHILD_NOTE = {"best_interests": "Safe with her peers", "child_views": "Wants to stay"}


def roles(state: CaseState) -> dict[str, set[str]]:
    """Organisation -> the roles it holds now."""
    found: dict[str, set[str]] = {}
    for m in state.membership:
        if m.is_active:
            found.setdefault(m.organisation.value, set()).add(m.role.value)
    return found


def record(state: CaseState, org: str, role: MemberRole, rule: str) -> Membership:
    """The one record of ``org`` in ``role`` under ``rule`` (active or ended)."""
    (found,) = [
        m for m in state.membership if (m.organisation.value, m.role, m.rule) == (org, role, rule)
    ]
    return found


def minor(years: float, **facts: Any) -> dict[str, Any]:
    born = (T0 - timedelta(days=round(years * 365.25))).date().isoformat()
    return {
        "birth_date": born,
        "gender": "female",
        "citizenships": ["AF"],
        "residence_status": "international_protection_applicant",
        "languages": ["ps"],
        **facts,
    }


def interviewed(person: dict[str, Any] | None = None, by: str = "caritas") -> CaseState:
    lang = (person or EU_ADULT)["languages"][0]
    return accept(
        opened(person),
        event("ngo_interview_held", T0 + timedelta(hours=2), language=lang, organisation=by),
    )


class TestOpening:
    def test_r1_identification_makes_the_first_members(self) -> None:
        """R1: the identifying authority, the lead NGO and the police (told of every case,
        R2) are members from the identification; each record says who, when, which rule,
        why."""
        state = accept(None, event("identified", organisation="social_work_centre", actor="sw-3"))
        assert roles(state) == {
            "social_work_centre": {"identifying_authority"},
            "caritas": {"lead_ngo", "assigned"},
            "police": {"assigned"},
        }
        first = record(state, "social_work_centre", MemberRole.IDENTIFYING_AUTHORITY, "R1")
        assert (first.since, first.added_by) == (T0, "social_work_centre (sw-3)")
        assert "identified" in first.why and first.removed_at is None
        assert record(state, "police", A, "R2").added_by == "social_work_centre (sw-3)"
        # One record per role and rule: the nine R3 obligations make one R3 membership.
        caritas = [
            (m.role.value, m.rule) for m in state.membership if m.organisation is Org.CARITAS
        ]
        assert caritas == [("lead_ngo", "R2"), ("assigned", "R2"), ("assigned", "R3")]

    def test_r1_police_identifying_are_not_listed_twice(self) -> None:
        """R1: police who identify hold that role; they need no second one to be told."""
        assert roles(opened())["police"] == {"identifying_authority"}

    def test_s4_the_migration_authority_for_a_third_country_national(self) -> None:
        """S3, S4: the migration authority decides a third-country national's temporary
        residence permit, so it is a member of such a case, and of no other."""
        assert "residence_authority" in roles(opened(TCN_ILLEGAL))["migration_authority"]
        state = opened(EU_ADULT)
        assert "migration_authority" not in roles(state)
        state = accept(state, event("facts_updated", T0 + days(1), person=TCN_ILLEGAL))
        assert record(state, "migration_authority", MemberRole.RESIDENCE_AUTHORITY, "S4")

    def test_r1_a_linked_childs_case_has_its_own_members(self) -> None:
        """R1: the child's own case starts with the authority that identified the child."""
        decision = decide(
            None,
            event("identified", organisation="uoim", person=minor(10)),
            T0,
            case_id=CASE_ID + "-c",
        )
        assert isinstance(decision, Accepted)
        assert "identifying_authority" in roles(decision.state)["uoim"]


class TestLeadNgo:
    def test_r2_the_lead_moves_to_the_ngo_that_holds_the_interview(self) -> None:
        """R2: the NGO that holds the interview leads; the previous lead's role ends, with
        who, when, rule and why, and its record stays."""
        state = interviewed(by="kljuc")
        assert "lead_ngo" in roles(state)["kljuc"]
        assert "lead_ngo" not in roles(state)["caritas"]
        ended = record(state, "caritas", MemberRole.LEAD_NGO, "R2")
        assert ended.removed_at == T0 + timedelta(hours=2)
        assert (ended.removed_by, ended.removed_rule) == ("kljuc", "R2")
        assert ended.removed_why == "the lead passed to kljuc"

    def test_k1_s1_one_lead_at_a_time_moving_with_the_placements(self) -> None:
        """K1, S1: the crisis placement's provider leads, then the safe accommodation's; there
        is always exactly one lead NGO, the one the case names."""
        state = interviewed(TCN_ILLEGAL)
        state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
        at = T0 + days(2)
        # K7: the 3 months include the reflection period, which began at the placement.
        placed_on = (T0 + days(1)).date().isoformat()
        state = accept(
            state,
            event("permit_to_stay_granted", at, valid_from=placed_on, basis="ex_officio"),
        )
        state = accept(
            state,
            event(
                "temporary_residence_permit_granted",
                at,
                basis="witness",
                valid_from=at.date().isoformat(),
                valid_until=(at + days(365)).date().isoformat(),
            ),
        )
        state = accept(state, event("safe_accommodation_placed", T0 + days(3)))
        leads = [m for m in state.membership if m.role is MemberRole.LEAD_NGO and m.is_active]
        assert [m.organisation for m in leads] == [state.lead_ngo] == [Org.KLJUC]
        assert record(state, "kljuc", MemberRole.LEAD_NGO, "S1").added_by == "kljuc"


class TestPlacementsAndReferrals:
    def test_k1_crisis_accommodation_provider_and_co_financer_end_with_the_placement(
        self,
    ) -> None:
        """K1: Caritas provides crisis accommodation and the labour ministry co-finances it,
        for as long as the placement lasts; the records stay after it."""
        state = accept(interviewed(), event("crisis_accommodation_placed", T0 + days(1)))
        assert "provider" in roles(state)["caritas"]
        assert roles(state)["labour_ministry"] == {"co_financer"}
        state = accept(state, event("crisis_accommodation_ended", T0 + days(5)))
        assert "provider" not in roles(state)["caritas"]
        assert "labour_ministry" not in roles(state)
        ended = record(state, "labour_ministry", MemberRole.CO_FINANCER, "K1")
        assert ended.removed_at == T0 + days(5) and ended.removed_rule == "K1"
        assert ended.removed_why == "the placement ended: ended"

    def test_k5_s1_a_referral_to_kljuc_for_safe_accommodation_makes_it_a_member(self) -> None:
        """K5, S1: the decision for safe accommodation refers the person to Ključ, who becomes
        a member, referred by the NGO that decided it."""
        state = accept(interviewed(), event("crisis_accommodation_placed", T0 + days(1)))
        assert "kljuc" not in roles(state)
        state = accept(
            state, event("further_support_decided", T0 + days(2), option="safe_accommodation")
        )
        referred = record(state, "kljuc", MemberRole.REFERRED, "S1")
        assert referred.added_by == "caritas" and "safe accommodation" in referred.why

    @pytest.mark.parametrize(
        ("option", "rule"),
        [("reintegration", "I1"), ("return_home", None), ("other_support", None)],
    )
    def test_k5_other_decisions(self, option: str, rule: str | None) -> None:
        """K5, I1: a decision for reintegration refers the person to Ključ (I1); a return home
        or other support refers nobody."""
        state = accept(interviewed(), event("further_support_decided", T0 + days(2), option=option))
        if rule is None:
            assert "kljuc" not in roles(state)
        else:
            assert record(state, "kljuc", MemberRole.REFERRED, rule).is_active

    def test_s1_s5_safe_accommodation(self) -> None:
        """S1: Ključ provides safe accommodation and leads; the interior ministry co-finances
        it; at its end (S5) the provider and co-financer roles end, the lead stays."""
        placement = event("safe_accommodation_placed", T0 + days(1), reason="referred directly")
        state = accept(interviewed(), placement)  # S1: straight from identification, a reason
        assert {"provider", "lead_ngo"} <= roles(state)["kljuc"]
        assert roles(state)["interior_ministry"] == {"co_financer"}
        state = accept(state, event("safe_accommodation_ended", T0 + days(9)))
        assert roles(state)["kljuc"] == {"lead_ngo"}
        assert "interior_ministry" not in roles(state)

    def test_i1_the_reintegration_programme(self) -> None:
        """I1: Ključ provides the reintegration programme it enrolled the person in."""
        state = accept(opened(dict(EU_ADULT)), event("criminal_proceedings_opened", T0 + days(1)))
        state = accept(state, event("reintegration_enrolled", T0 + days(2)))
        assert record(state, "kljuc", MemberRole.PROVIDER, "I1").is_active

    def test_k4_the_special_need_provider(self) -> None:
        """K4: the referral obligation makes the provider a member for it; the referral made
        makes it the provider of that help."""
        state = accept(
            opened(),
            event("special_need_flagged", T0 + days(1), need="pregnancy", provider="kljuc"),
        )
        assert roles(state)["kljuc"] == {"assigned"}
        assert record(state, "kljuc", A, "K4").why == (
            "a rule assigns it work: special need referral (K4)"
        )
        state = accept(
            state,
            event(
                "special_need_referral_made", T0 + days(2), need="pregnancy", organisation="kljuc"
            ),
        )
        assert roles(state)["kljuc"] == {"assigned", "provider"}


class TestAuthoritiesAndChildren:
    def test_k7_the_police_decide_the_stay(self) -> None:
        """K7: granting a permit to stay makes the police the residence authority of the
        case."""
        at = T0 + days(1)
        state = accept(
            opened(TCN_ILLEGAL),
            event(
                "permit_to_stay_granted", at, valid_from=at.date().isoformat(), basis="on_request"
            ),
        )
        assert record(state, "police", MemberRole.RESIDENCE_AUTHORITY, "K7").added_by == "police"

    def test_s4_an_obligation_assigned_by_a_timer_makes_its_owner_a_member(self) -> None:
        """S4: an obligation opened when a permit expires makes its owner a member, added by
        the service itself."""
        at = T0 + days(1)
        state = accept(
            opened(TCN_ILLEGAL),
            event(
                "temporary_residence_permit_granted",
                at,
                basis="witness",
                valid_from=at.date().isoformat(),
                valid_until=(at + days(40)).date().isoformat(),
            ),
        )
        state, _ = fire_due(state, at + days(45))
        assigned = record(state, "migration_authority", A, "S4")
        assert assigned.added_by == "pathway" and assigned.since == at + days(45)

    def test_c3_c4_the_child_track_adds_the_guardian_and_the_social_work_centre(self) -> None:
        """C3, C4: a child's case has the guardian (informed of every measure) and the social
        work centre (child protection) as members; the appointment adds a C4 record."""
        state = opened(minor(14.2, unaccompanied=True))
        assert roles(state)["guardian"] == {"guardian"}
        assert "assigned" in roles(state)["social_work_centre"]
        state = accept(state, event("guardian_appointed", T0 + days(2), child=CHILD_NOTE))
        assert record(state, "guardian", MemberRole.GUARDIAN, "C4").is_active

    def test_c4_the_social_work_centre_for_every_child(self) -> None:
        """C4: the social work centre is a member of every child's case, also when the holder
        of parental responsibility can act and no obligation falls to it."""
        state = opened(minor(12, holder_can_act=True))
        swc = record(state, "social_work_centre", A, "C4")
        assert swc.added_by == "police" and "child protection" in swc.why
        assert not [o for o in state.obligations if o.owner is Org.SOCIAL_WORK_CENTRE]

    def test_c7_the_authorised_representative(self) -> None:
        """C7: the minor injured party's authorised representative is a member."""
        state = accept(opened(minor(12)), event("criminal_proceedings_opened", T0 + days(1)))
        state = accept(
            state, event("authorised_representative_appointed", T0 + days(2), child=CHILD_NOTE)
        )
        assert record(state, "guardian", MemberRole.GUARDIAN, "C7").is_active

    def test_c4_at_18_the_guardian_is_no_longer_a_member(self) -> None:
        """C4: when the person turns 18 the guardianship measures end, and every guardian role
        with them (the records stay)."""
        state = opened(minor(17.9, unaccompanied=True))
        state = accept(state, event("guardian_appointed", T0 + days(2), child=CHILD_NOTE))
        state, _ = fire_due(state, T0 + days(60))
        assert "guardian" not in roles(state)
        ended = [m for m in state.membership if m.organisation is Org.GUARDIAN]
        assert len(ended) == 2 and all(m.removed_rule == "C4" for m in ended)


class TestSendingGrantsNothing:
    @pytest.mark.parametrize(
        ("type_", "sender", "fields"),
        [
            ("cooperation_recorded", "kljuc", {"willing_to_cooperate": True}),
            ("rights_information_given", "kljuc", {"subjects": ALL_SUBJECTS}),
            ("facts_updated", "migration_authority", {"person": EU_ADULT}),
            ("reflection_period_started", "kljuc", {}),
            ("case_closed", "kljuc", {}),
        ],
    )
    def test_an_event_from_a_non_member_makes_it_no_member(
        self, type_: str, sender: str, fields: dict[str, Any]
    ) -> None:
        """Sending an event never makes the sender a member (MEMBERS): the attack of issue 11,
        Ključ sending to a case led by Caritas, leaves Ključ outside even where the domain
        alone accepts the event (the policy refuses it before; pathway.access.policy)."""
        state = opened()
        new = accept(state, event(type_, T0 + days(1), organisation=sender, **fields))
        assert sender not in roles(new)
        assert new.membership == state.membership


class TestDurability:
    def test_membership_survives_serialisation_and_continue_as_new(self) -> None:
        """The members are part of the state: they survive the round trip the workflow's
        continue-as-new makes."""
        placement = event("safe_accommodation_placed", T0 + days(1), reason="referred directly")
        state = accept(interviewed(by="kljuc"), placement)
        again = CaseState.model_validate_json(state.model_dump_json())
        assert again.membership == state.membership

    def test_a_case_recorded_before_membership_gets_its_members(self) -> None:
        """A state stored before membership existed loads with the members its state shows
        (continue-as-new of a running case), every record saying it was derived."""
        state = accept(opened(TCN_ILLEGAL), event("crisis_accommodation_placed", T0 + days(1)))
        data = state.model_dump(mode="json")
        del data["membership"]
        older = CaseState.model_validate(data)
        assert roles(older) == {
            "police": {"identifying_authority"},
            "caritas": {"lead_ngo", "assigned", "provider"},
            "labour_ministry": {"co_financer"},
            "migration_authority": {"residence_authority"},
        }
        assert all(m.added_by == "pathway" and "derived" in m.why for m in older.membership)

    def test_ended_records_are_never_rewritten(self) -> None:
        """Every change appends a record or stamps the end of one: earlier facts stay as they
        were."""
        state = interviewed()
        before = list(state.membership)
        state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
        state = accept(state, event("crisis_accommodation_ended", T0 + days(2)))
        assert state.membership[: len(before)] == before
        assert all(m.removed_at is None or m.since <= m.removed_at for m in state.membership)


NOW = T0 + days(3)


class TestOperator:
    def test_the_operator_adds_and_removes_with_a_reason(self) -> None:
        """MEMBERS: the operator adds a member in a role and removes it, each with a reason;
        pure: the state passed in is unchanged."""
        state = opened()
        added = add_member(
            state, Org.KLJUC, MemberRole.REFERRED, by="ops-1", why="Ticket 42", now=NOW
        )
        assert state.roles_of(Org.KLJUC) == frozenset()
        assert added.roles_of(Org.KLJUC) == {MemberRole.REFERRED}
        entry = record(added, "kljuc", MemberRole.REFERRED, "MEMBERS")
        assert (entry.added_by, entry.why, entry.since) == ("operator (ops-1)", "Ticket 42", NOW)
        later = NOW + days(1)
        removed = remove_member(
            added, Org.KLJUC, MemberRole.REFERRED, by="ops-2", why="Ticket 43", now=later
        )
        assert added.roles_of(Org.KLJUC) == {MemberRole.REFERRED}
        gone = record(removed, "kljuc", MemberRole.REFERRED, "MEMBERS")
        assert (gone.removed_by, gone.removed_why, gone.removed_at) == (
            "operator (ops-2)",
            "Ticket 43",
            later,
        )
        assert removed.roles_of(Org.KLJUC) == frozenset()

    def test_the_operator_removes_a_role_a_rule_gave(self) -> None:
        """MEMBERS: the operator may end a role a rule gave (the police's, here)."""
        state = accept(None, event("identified", organisation="uoim"))
        removed = remove_member(state, Org.POLICE, A, by="ops-1", why="Court order 7", now=NOW)
        assert removed.roles_of(Org.POLICE) == frozenset()

    @pytest.mark.parametrize(
        ("org", "role", "why", "field"),
        [
            (Org.KLJUC, MemberRole.LEAD_NGO, "x", "role"),
            (Org.POLICE, MemberRole.IDENTIFYING_AUTHORITY, "x", "role"),
            (Org.ANALYST, MemberRole.REFERRED, "x", "organisation"),
            (Org.KLJUC, MemberRole.REFERRED, "  ", "why"),
            (Org.CARITAS, MemberRole.ASSIGNED, "x", "role"),  # holds it already
        ],
    )
    def test_the_operator_cannot(self, org: Org, role: MemberRole, why: str, field: str) -> None:
        """MEMBERS: the lead NGO and the identifying authority change only by the rules;
        analysts are never members; a change needs a reason; a role held is not added again."""
        with pytest.raises(MembershipRefused) as refused:
            add_member(opened(), org, role, by="ops-1", why=why, now=NOW)
        assert (refused.value.rule, refused.value.field) == ("MEMBERS", field)

    def test_removing_a_role_not_held_is_refused(self) -> None:
        with pytest.raises(MembershipRefused):
            remove_member(opened(), Org.KLJUC, MemberRole.REFERRED, by="o", why="x", now=NOW)


def change(action: str, org: Org, role: MemberRole, why: str = "Ticket 42") -> MembershipChange:
    return MembershipChange.model_validate(
        {"action": action, "organisation": org, "role": role, "why": why, "by": "ops-1"}
    )


class TestOperatorUpdate:
    """The decision behind the workflow's ``change_membership`` update (validator and handler
    run it alike)."""

    def test_a_change_made_once_is_not_made_again(self) -> None:
        """MEMBERS (review of issue 11): a change carries its own ID; the same change again
        (a copy from the case's history, sent after the operator removed the member) is
        refused and changes nothing, while a new change with another ID is made."""
        add = change("add", Org.KLJUC, MemberRole.REFERRED).model_copy(update={"change_id": "c-1"})
        remove = change("remove", Org.KLJUC, MemberRole.REFERRED).model_copy(
            update={"change_id": "c-2"}
        )
        added = decide_membership(opened(), add, NOW)
        assert isinstance(added, CaseState)
        removed = decide_membership(added, remove, NOW)
        assert isinstance(removed, CaseState) and not removed.roles_of(Org.KLJUC)
        again = decide_membership(removed, add, NOW)
        assert isinstance(again, Rejection)
        assert (again.rule, again.field) == ("MEMBERS", "change_id")
        anew = add.model_copy(update={"change_id": "c-3"})
        readded = decide_membership(removed, anew, NOW)
        assert isinstance(readded, CaseState) and readded.roles_of(Org.KLJUC)

    def test_the_change_is_recorded_with_its_reason_in_the_timeline(self) -> None:
        """MEMBERS: an accepted change is a membership record and a timeline entry saying who,
        what and why; pure: the state passed in is unchanged."""
        state = opened()
        added = decide_membership(state, change("add", Org.KLJUC, MemberRole.REFERRED), NOW)
        assert isinstance(added, CaseState)
        assert state.roles_of(Org.KLJUC) == frozenset() and len(state.timeline) == 1
        assert added.roles_of(Org.KLJUC) == {MemberRole.REFERRED}
        entry = added.timeline[-1]
        assert (entry.who, entry.what, entry.why, entry.rule) == (
            "operator (ops-1)",
            "member added: kljuc as referred",
            "Ticket 42",
            "MEMBERS",
        )
        removed = decide_membership(added, change("remove", Org.KLJUC, MemberRole.REFERRED), NOW)
        assert isinstance(removed, CaseState)
        assert removed.roles_of(Org.KLJUC) == frozenset()
        assert removed.timeline[-1].what == "member removed: kljuc as referred"
        assert added.roles_of(Org.KLJUC) == {MemberRole.REFERRED} and len(added.timeline) == 2

    @pytest.mark.parametrize(
        ("action", "org", "role", "why", "field"),
        [
            ("add", Org.KLJUC, MemberRole.LEAD_NGO, "x", "role"),
            ("add", Org.ANALYST, MemberRole.REFERRED, "x", "organisation"),
            ("add", Org.KLJUC, MemberRole.REFERRED, " ", "why"),
            ("remove", Org.KLJUC, MemberRole.REFERRED, "x", "role"),
        ],
    )
    def test_a_refusal_is_a_rejection_naming_rule_and_field(
        self, action: str, org: Org, role: MemberRole, why: str, field: str
    ) -> None:
        """MEMBERS: a refused change is a Rejection (as an event's), not an exception."""
        refused = decide_membership(opened(), change(action, org, role, why), NOW)
        assert isinstance(refused, Rejection)
        assert (refused.rule, refused.field) == ("MEMBERS", field)

    def test_no_change_to_a_closed_or_unopened_case(self) -> None:
        """CASE: nothing to change before identification or after closure."""
        closed = opened().model_copy(update={"phase": Phase.CLOSED})
        for state in (None, closed):
            refused = decide_membership(state, change("add", Org.KLJUC, MemberRole.REFERRED), NOW)
            assert isinstance(refused, Rejection) and refused.rule == "CASE"


class TestCaseShow:
    def test_case_show_lists_the_members(self) -> None:
        """`pathway case show` lists who holds which role since when (Ljubljana time), by which
        rule and who added it; ended roles after, with when and why they ended."""
        import io

        from pathway.cli.case import render_case

        state = accept(interviewed(by="kljuc"), event("crisis_accommodation_placed", T0 + days(1)))
        out = io.StringIO()
        render_case(state, out)
        lines = out.getvalue().splitlines()
        members = lines[lines.index("Members") + 1 : lines.index("Deadlines") - 1]
        assert (
            "  police               identifying_authority  since 2026-03-02 10:00  (R1)  by police"
            in members
        )
        assert any(
            line.startswith("  caritas              lead_ngo") and "(K1)  by caritas" in line
            for line in members
        )
        assert any(
            line.startswith("  kljuc                lead_ngo")
            and "ended 2026-03-03 10:00 (K1): the lead passed to caritas" in line
            for line in members
        )
        assert len(members) == len(state.membership)
