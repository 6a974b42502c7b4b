"""An EU citizen is not an applicant for international protection (issue 13, docs/rules.md
reading 23). The seed's PATS project is “intended for informing those seeking international
protection” and its permit to stay is for victims “who reside illegally”; SPEC lists the
applicant beside the third-country statuses. In EU law an applicant is a third-country
national or stateless person, so an EU citizen recorded as one is refused, naming the field,
and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from pathway.domain.rules import Accepted, decide
from pathway.domain.state import CaseState
from tests.factories import CASE_ID, EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened, reject

APPLYING = "international_protection_applicant"


def as_applicant(person: dict[str, Any]) -> dict[str, Any]:
    return {**person, "residence_status": APPLYING}


class TestEuCitizenIsNoApplicant:
    """K7: “The Police allow victims who reside illegally … to stay”, P1: “those seeking
    international protection”: statuses of third-country nationals, not of EU citizens."""

    @pytest.mark.parametrize(
        "citizenships",
        [["DE"], ["SI"], ["SY", "HR"]],
        ids=["eu-citizen", "slovenian-citizen", "dual-third-country-and-eu"],
    )
    def test_identification_of_an_eu_citizen_as_applicant_is_refused(
        self, citizenships: list[str]
    ) -> None:
        """An identification recording an EU citizen (Slovenian, or holding an EU citizenship
        beside another) as an applicant is refused naming INPUT and
        ``person.residence_status``; no case opens."""
        person = {**as_applicant(TCN_ILLEGAL), "citizenships": citizenships}
        rejection = reject(None, event("identified", T0, person=person))
        assert (rejection.rule, rejection.field) == ("INPUT", "person.residence_status")
        assert "third-country national or stateless person" in rejection.reason

    def test_a_third_country_national_applying_is_accepted(self) -> None:
        """Boundary: a third-country national without an EU citizenship may be recorded as an
        applicant."""
        state = opened(as_applicant(TCN_ILLEGAL))
        assert state.person.residence_status.value == APPLYING

    def test_facts_updated_to_applicant_for_an_eu_citizen_is_refused(self) -> None:
        """A correction that makes an EU citizen an applicant is refused the same way, and the
        case keeps its facts."""
        state = opened(EU_ADULT)
        rejection = reject(
            state, event("facts_updated", T0 + days(1), person=as_applicant(EU_ADULT))
        )
        assert (rejection.rule, rejection.field) == ("INPUT", "person.residence_status")
        assert state.person.residence_status.value == "eu_citizen"

    def test_old_histories_accept_it_again(self) -> None:
        """Versioning: a case opened before the patch ``eu-citizen-not-a-protection-applicant``
        accepted such facts; replaying its identification and corrections must accept them."""
        old = {"seed_status_rules": False}
        decision = decide(
            None,
            event("identified", T0, person=as_applicant(EU_ADULT)),
            T0,
            case_id=CASE_ID,
            rules=old,
        )
        assert isinstance(decision, Accepted)
        state: CaseState = decision.state.model_copy(update=old)
        accept(state, event("facts_updated", T0 + days(1), person=as_applicant(EU_ADULT)))


class TestMembershipRefusalsNameTheRealField:
    """MEMBERS (docs/rules.md reading 24): a refused operator change names the input at
    fault: a field of the change, or ``case_id``, the case the operator named
    (``pathway case member add|remove CASE_ID``)."""

    def test_every_refusal_names_a_field_of_the_change_or_the_case(self) -> None:
        """Each way decide_membership refuses names ``case_id`` or a field of
        MembershipChange, never one the operator did not give."""
        from pathway.domain.membership import MembershipChange
        from pathway.domain.rules import Rejection, decide_membership
        from pathway.domain.state import Phase

        def change(**fields: str) -> MembershipChange:
            data = {"action": "add", "organisation": "kljuc", "role": "referred"}
            data |= {"why": "Ticket 42", "by": "ops-1", **fields}
            return MembershipChange.model_validate(data)

        state = opened()
        added = decide_membership(state, change(change_id="c-1"), T0 + days(1))
        assert isinstance(added, CaseState)
        refusals = [
            decide_membership(None, change(), T0),
            decide_membership(state.model_copy(update={"phase": Phase.CLOSED}), change(), T0),
            decide_membership(added, change(change_id="c-1"), T0 + days(2)),
            decide_membership(state, change(role="lead_ngo"), T0 + days(1)),
            decide_membership(state, change(organisation="analyst"), T0 + days(1)),
            decide_membership(state, change(why="  "), T0 + days(1)),
            decide_membership(added, change(), T0 + days(2)),
            decide_membership(state, change(action="remove"), T0 + days(1)),
        ]
        named = [r.field for r in refusals if isinstance(r, Rejection)]
        assert len(named) == len(refusals)
        assert set(named) <= {"case_id", *MembershipChange.model_fields}
        assert named[:2] == ["case_id", "case_id"]
