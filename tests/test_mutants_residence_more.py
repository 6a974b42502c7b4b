"""More tests that kill mutants of pathway/domain/rules/residence.py and of the child checks in
pathway/domain/rules/children.py (issue 13; docs/mutation.md): mutants the whole run had not
reached. Each refusal says what is wrong and names the facts it rests on (a status, a day), each
membership and duty cites its rule, the temporary residence permit's renewal settles what it
settles, and a child's measure is told to the guardian only on a child's case. Pure: ``decide``
and ``fire_due`` on a case's state, no Temporal server.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from pathway.domain.calendar import LJUBLJANA, local_date
from pathway.domain.events import CaseEvent
from pathway.domain.membership import MemberRole
from pathway.domain.organisations import Organisation as Org
from pathway.domain.rules import Accepted, decide, fire_due
from pathway.domain.state import CaseState, DeadlineKind, Obligation, ObligationKind
from tests.factories import CASE_ID, EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened, reject
from tests.test_law_residence import grant
from tests.test_mutants_assistance_core import CHILD_NOTE

#: The residence permit of :func:`_in_safe_accommodation` runs through 30 April 2026 (S4).
RESIDENCE_EXPIRED = datetime.fromisoformat("2026-05-01T00:00:00+02:00")


def _interviewed(person: dict[str, Any]) -> CaseState:
    return accept(
        opened(person),
        event(
            "ngo_interview_held",
            T0 + timedelta(hours=2),
            language=person["languages"][0],
            qualified_personnel=True,
        ),
    )


def _crisis(person: dict[str, Any] = TCN_ILLEGAL) -> CaseState:
    """In crisis accommodation from 3 March 2026 (the reflection period starts that day)."""
    return accept(_interviewed(person), event("crisis_accommodation_placed", T0 + days(1)))


def _residence_permit(at: datetime, until: str) -> CaseEvent:
    return event(
        "temporary_residence_permit_granted",
        at,
        basis="witness",
        valid_from=local_date(at).isoformat(),
        valid_until=until,
    )


def _in_safe_accommodation() -> CaseState:
    """A third-country national residing illegally: permit to stay from 3 March through 2 June,
    residence permit from 4 March through 30 April, placed in safe accommodation on 1 April."""
    state = accept(_crisis(), grant(T0 + days(1), "2026-03-03"))
    state = accept(state, _residence_permit(T0 + days(2), "2026-04-30"))
    state = accept(state, event("criminal_proceedings_opened", T0 + days(3)))
    return accept(state, event("safe_accommodation_placed", T0 + days(30)))


def _lapsed() -> CaseState:
    """:func:`_in_safe_accommodation` woken when the residence permit lapsed (1 May): S3's
    decision and S4's renewal are open."""
    state, _ = fire_due(_in_safe_accommodation(), RESIDENCE_EXPIRED)
    return state


def _obligation(state: CaseState, kind: ObligationKind) -> Obligation:
    (ob,) = [o for o in state.obligations if o.kind is kind]
    return ob


def _why(state: CaseState, organisation: Org, role: MemberRole) -> str:
    (record,) = [
        m
        for m in state.membership
        if m.organisation is organisation and m.role is role and m.is_active
    ]
    return f"{record.rule}: {record.why}"


class TestK7RefusalsSayWhy:
    """K7: “The Police allow victims who reside illegally in the Republic of Slovenia to stay
    … for a period of 3 (three) months (which includes the 30-day period of recovery and
    reflection)”. Each refusal of a permit to stay says what is wrong and names the fact at
    fault (the status recorded, the day the case or the reflection period began)."""

    @pytest.mark.parametrize(
        ("status", "in_words"),
        [
            ("third_country_legal", "third country legal"),
            ("international_protection_applicant", "international protection applicant"),
        ],
    )
    def test_a_person_not_residing_illegally_is_told_the_status_recorded(
        self, status: str, in_words: str
    ) -> None:
        """K7: only “victims who reside illegally”: the refusal says so and names the
        residence status recorded, in words, so the sender can correct it if it changed."""
        state = _interviewed({**TCN_ILLEGAL, "residence_status": status})
        r = reject(state, grant(T0 + days(1), "2026-03-03"))
        assert (r.rule, r.field) == ("K7", "type")
        assert "residing illegally" in r.reason
        assert in_words in r.reason

    def test_each_start_refused_names_its_reason(self) -> None:
        """K7: a start before the case names the case's first day (2 March); a start after the
        day of the grant says so; a start after the reflection period began names that day
        (3 March): “which includes the 30-day period of recovery and reflection”."""
        state = _crisis()
        at = T0 + days(5)
        before = reject(state, grant(at, "2026-03-01"))
        assert (before.rule, before.field) == ("K7", "valid_from")
        assert "before the case" in before.reason and "2026-03-02" in before.reason
        after = reject(state, grant(at, "2026-03-09"))
        assert (after.rule, after.field) == ("K7", "valid_from")
        assert "after the day it is granted" in after.reason
        late = reject(state, grant(at, "2026-03-04"))
        assert (late.rule, late.field) == ("K7", "valid_from")
        assert "reflection period" in late.reason and "2026-03-03" in late.reason

    def test_a_second_grant_says_it_was_granted_already(self) -> None:
        """K7: granted once; the refusal of a second grant says one was granted already."""
        state = accept(_crisis(), grant(T0 + days(1), "2026-03-03"))
        r = reject(state, grant(T0 + days(2), "2026-03-03"))
        assert (r.rule, r.field) == ("K7", "type")
        assert "already granted" in r.reason

    def test_a_replayed_eu_citizen_is_told_it_is_for_victims_residing_illegally(self) -> None:
        """K7 (replay, before ``seed-residence-rules``): an EU citizen is refused, the reason
        saying the permit is for victims residing illegally."""
        state = _interviewed(EU_ADULT).model_copy(update={"seed_residence_rules": False})
        r = reject(state, grant(T0 + days(1), "2026-03-02"))
        assert (r.rule, r.field) == ("K7", "type")
        assert "residing illegally" in r.reason


class TestResidenceAuthoritiesCiteTheirRules:
    """K7, S3, S4: the police who decided the stay, and the migration authority that decides a
    third-country national's temporary residence permit, are members of the case as residence
    authorities, each under its rule and with a purpose citing it."""

    def test_the_police_join_under_k7_and_the_migration_authority_under_s4(self) -> None:
        """K7: the police “allow victims who reside illegally … to stay”: they join under K7,
        for a purpose citing K7; S4 (Foreigners Act, Article 50): the migration authority
        joins a third-country national's case under S4, for a purpose citing S3 and S4."""
        state = accept(_crisis(), grant(T0 + days(1), "2026-03-03"))
        police = _why(state, Org.POLICE, MemberRole.RESIDENCE_AUTHORITY)
        assert police.startswith("K7: ") and "(K7)" in police
        migration = _why(state, Org.MIGRATION_AUTHORITY, MemberRole.RESIDENCE_AUTHORITY)
        assert migration.startswith("S4: ") and "(S3, S4)" in migration

    def test_the_extension_decision_names_its_day_its_limit_and_its_rule(self) -> None:
        """K7: “another period of three months at the most”: the police's duty to decide the
        one extension names the permit's last day (2 June), the 3 months, and cites K7."""
        state = accept(_crisis(), grant(T0 + days(1), "2026-03-03"))
        ob = _obligation(state, ObligationKind.PERMIT_TO_STAY_EXTENSION_DECISION)
        assert (ob.owner, ob.rule) == (Org.POLICE, "K7")
        assert "2026-06-02" in ob.action and "3 months" in ob.action and "(K7)" in ob.action


class TestS4Renewal:
    """S4: “A temporary residence permit may be issued to victims of trafficking …”: a renewal
    needs a permit and a later end, says so when refused, and, with the permit to stay still
    valid, settles S3's question of a lapsed permit in safe accommodation."""

    def test_refused_renewals_say_why(self) -> None:
        """S4: without a permit the refusal says there is none to renew (``type``); a renewal
        to the same last day says it must end after the current permit (``valid_until``)."""
        renew = event("temporary_residence_permit_renewed", T0 + days(3), valid_until="2026-04-30")
        none = reject(_crisis(), renew)
        assert (none.rule, none.field) == ("S4", "type")
        assert "no temporary residence permit" in none.reason
        state = accept(_crisis(), _residence_permit(T0 + days(2), "2026-04-30"))
        same = reject(state, renew)
        assert (same.rule, same.field) == ("S4", "valid_until")
        assert "end after" in same.reason

    def test_a_renewal_settles_the_lapse_in_safe_accommodation(self) -> None:
        """S3: “conditional on their having a permit to stay and a temporary residence
        permit”: the residence permit lapsed in safe accommodation (1 May) and is renewed on
        2 May while the permit to stay runs: both are held again, so the renewal settles S3's
        obligation (its closer) and S4's renewal, ends S3's dated deadline and moves S4's."""
        at = datetime.fromisoformat("2026-05-02T10:00:00+02:00")
        renew = event("temporary_residence_permit_renewed", at, valid_until="2027-04-30")
        new = accept(_lapsed(), renew, at)
        s3 = _obligation(new, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        assert (s3.closed_by, s3.closed_at) == (renew.event_id, at)
        assert _obligation(new, ObligationKind.RESIDENCE_PERMIT_RENEWAL).closed_by == (
            renew.event_id
        )
        assert DeadlineKind.SAFE_ACCOMMODATION_PERMITS not in new.deadlines
        due = new.deadlines[DeadlineKind.TEMPORARY_RESIDENCE_PERMIT].due_at
        assert due.astimezone(LJUBLJANA).date() == date(2027, 5, 1)
        assert new.residence_permit is not None
        assert new.residence_permit.valid_until == date(2027, 4, 30)

    def test_after_the_placement_ended_a_renewal_leaves_s3_to_the_end(self) -> None:
        """S3 (replay, before ``seed-assistance-rules``): consent to safe accommodation was
        withdrawn with the lapse still open; a renewal then is no restoration of a placement's
        permits (nobody is placed), so the obligation stays open for the date, where the
        placement's end settles it."""
        state = _lapsed().model_copy(update={"seed_assistance_rules": False})
        state = accept(
            state,
            event("consent_withdrawn", RESIDENCE_EXPIRED + days(1), placement="safe_accommodation"),
        )
        at = RESIDENCE_EXPIRED + days(2)
        renew = event("temporary_residence_permit_renewed", at, valid_until="2027-04-30")
        new = accept(state, renew, at)
        s3 = _obligation(new, ObligationKind.SAFE_ACCOMMODATION_PERMITS)
        assert s3.is_open and s3.closed_by is None


class TestChildChecksSayWhy:
    """C1: “the principles of the best interest of the child … prevail”; C2: “The opinions and
    wishes of children … [are] to be established and considered whenever decisions related to
    children are taken”; C4: “conducted by personnel appropriately qualified to perform
    procedures with children”. Each refusal says what the decision or procedure lacks."""

    def test_each_refusal_names_what_is_missing(self) -> None:
        """C1, C2, C4: a decision without a best-interests note, one without the child's views,
        and a procedure without qualified personnel are refused at their fields, each saying
        what is missing."""
        state = _interviewed(_child())
        placed = T0 + days(1)
        r = reject(state, event("crisis_accommodation_placed", placed))
        assert (r.rule, r.field) == ("C1", "child.best_interests")
        assert "best-interests note" in r.reason
        r = reject(
            state, event("crisis_accommodation_placed", placed, child={"best_interests": "Safe"})
        )
        assert (r.rule, r.field) == ("C2", "child.child_views")
        assert "views" in r.reason
        r = reject(opened(_child()), event("ngo_interview_held", placed, language="ps"))
        assert (r.rule, r.field) == ("C4", "qualified_personnel")
        assert "qualified" in r.reason


class TestC3MeasuresTold:
    """C3: “The child and the holder of parental responsibilities or another legal
    representative, if there is one, is informed of all measures or rights specifically focused
    on the child.”"""

    def test_a_childs_measure_is_told_citing_c3_an_adults_is_not(self) -> None:
        """C3: on a child's case the guardian is told of the crisis placement, the notice
        citing C3; on an adult's case the same measure tells no guardian (nobody is told of a
        child's measure: there is no child)."""
        at = T0 + days(1)
        child_case = decide(
            _interviewed(_child()),
            event("crisis_accommodation_placed", at, child=CHILD_NOTE),
            at,
            case_id=CASE_ID,
        )
        assert isinstance(child_case, Accepted)
        (told,) = [n for n in child_case.effects.notifications if n.reason == "child_measure"]
        assert (told.recipient, told.rule) == (Org.GUARDIAN, "C3")
        assert "(C3)" in told.action
        adult = decide(
            _interviewed(EU_ADULT), event("crisis_accommodation_placed", at), at, case_id=CASE_ID
        )
        assert isinstance(adult, Accepted)
        assert not [n for n in adult.effects.notifications if n.reason == "child_measure"]
        assert Org.GUARDIAN not in {n.recipient for n in adult.effects.notifications}


def _child() -> dict[str, Any]:
    """A girl of 15 on the day the case opens, applying for international protection."""
    born = local_date(T0) - timedelta(days=round(15.2 * 365.25))
    return {
        "birth_date": born.isoformat(),
        "gender": "female",
        "citizenships": ["AF"],
        "residence_status": "international_protection_applicant",
        "languages": ["ps"],
    }
