"""The texts people read from the domain's models and small modules, pinned in full (issue 13;
docs/mutation.md, "Texts for people": a refusal's reason, a notice's text and a typed error's
message are part of what the law's core produces, so a rewording is a deliberate change that
updates its test).

Each test triggers its rule through a public entry point (the event models' validation, the
person's facts, ``decide``, ``decide_programme``, the operator's membership changes, the ledger,
the calendar, the case IDs) and asserts the whole text with ``==``. Pure: no Temporal server.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from pathway.domain.calendar import add_working_days
from pathway.domain.ids import NotACaseId
from pathway.domain.ledger import (
    ExitKind,
    LedgerEvent,
    LedgerProgramme,
    anonymise,
    statistics_facts,
)
from pathway.domain.membership import MemberRole, MembershipRefused, add_member, remove_member
from pathway.domain.organisations import Organisation as Org
from pathway.domain.person import PersonFacts
from pathway.domain.programmes import PROGRAMME_EVENT_ADAPTER, Programme, _notify
from pathway.domain.rules import RULE_ACCESS, RULE_IDEMPOTENCY, RULE_TIME, Rejection
from pathway.domain.state import CaseState, DeliveryOutcome
from pathway.domain.statistics import entered_in
from tests.factories import EU_ADULT, T0, TCN_ILLEGAL, accept, days, event, opened
from tests.gateway_kit import example as documented
from tests.test_membership import interviewed, record
from tests.test_mutants_annual_ledger import SECRET, victim_fact
from tests.test_mutants_programmes import (
    NOW,
    _enrol,
    _interview,
    _refuse,
    _register,
    _run,
    _session,
)
from tests.test_mutants_statistics_membership import PLACED, in_crisis
from tests.test_plausible import DAY, estimate, identified, problems, with_value

# -- the event models: INPUT, C1, C2, K2, S1, S4 (pathway/domain/events.py, person.py) ---------


@pytest.mark.parametrize(
    ("type_", "field", "message"),
    [
        ("departed", "actor", "INPUT: the actor's reference cannot be blank"),
        ("departed", "reason", "INPUT: a reason cannot be blank"),
        ("identified", "subject_ref", "INPUT: the subject reference cannot be blank"),
        ("special_need_flagged", "detail", "INPUT: a need's detail cannot be blank"),
        (
            "temporary_residence_permit_granted",
            "permit_number",
            "INPUT: a permit number cannot be blank",
        ),
        ("guardian_appointed", "child.best_interests", "C1: a best-interests note cannot be blank"),
        ("guardian_appointed", "child.child_views", "C2: the child's views cannot be blank"),
    ],
)
def test_blank_text_is_refused_saying_which_text_it_is(
    type_: str, field: str, message: str
) -> None:
    """INPUT, C1, C2: text that is given must say something; a blank one is refused at its
    field with ``<rule>: <what it is> cannot be blank``, so the sender knows which text to
    fill in (a best-interests note and the child's views under C1 and C2)."""
    assert problems(with_value(documented(type_), field, " ")) == [(field, message)]


def test_a_blank_estimate_source_and_a_blank_programme_actor_are_refused() -> None:
    """INPUT: an age estimate names its source, and a programme event's actor reference is
    not blank either; each refusal names the text."""
    data = identified(age_estimate={**estimate(DAY), "source": "\u200b"})
    assert problems(data) == [
        ("person.age_estimate.source", "INPUT: the estimate's source cannot be blank")
    ]
    with pytest.raises(ValidationError) as raised:
        PROGRAMME_EVENT_ADAPTER.validate_python(
            {**_interview().model_dump(mode="json"), "actor": " "}
        )
    assert [(e["loc"][-1], e["msg"]) for e in raised.value.errors()] == [
        ("actor", "INPUT: the actor's reference cannot be blank")
    ]


@pytest.mark.parametrize(
    ("type_", "rule"), [("crisis_accommodation_placed", "K2"), ("safe_accommodation_placed", "S1")]
)
def test_consent_signed_after_the_placement_says_so(type_: str, rule: str) -> None:
    """K2, S1: the written statement of consent is signed no later than the placement; a later
    one is refused at ``consent.signed_on`` saying it is dated after the placement."""
    later = documented(type_, consent={"signed_on": (DAY + timedelta(days=1)).isoformat()})
    assert problems(later) == [
        ("consent.signed_on", f"{rule}: the written consent is dated after the placement")
    ]


def test_a_permit_that_ends_before_it_starts_says_so() -> None:
    """S4: a temporary residence permit's last day of validity lies after its first; otherwise
    refused at ``valid_until`` saying the permit must end after it starts."""
    data = documented(
        "temporary_residence_permit_granted", valid_from="2026-03-20", valid_until="2026-03-19"
    )
    assert problems(data) == [("valid_until", "S4: the permit must end after it starts")]


def test_a_birth_or_an_estimate_after_the_event_says_so() -> None:
    """INPUT: nobody is born after the event that records the birth, and no age is estimated
    as of a later day; both are refused at once, each naming the event's time as the bound."""
    later = DAY + timedelta(days=1)
    data = identified(birth_date=later.isoformat(), age_estimate=estimate(later))
    assert problems(data) == [
        ("person.birth_date", "INPUT: a birth date cannot lie after the event (occurred_at)"),
        (
            "person.age_estimate.as_of",
            "INPUT: an age estimate cannot be dated after the event (occurred_at)",
        ),
    ]


@pytest.mark.parametrize(
    ("citizenships", "status", "message"),
    [
        (
            ["DE"],
            "slovenian_citizen",
            "residence_status slovenian_citizen needs 'SI' among citizenships",
        ),
        (["CO"], "eu_citizen", "residence_status eu_citizen needs an EU member state citizenship"),
        (["DE"], "third_country_legal", "an EU citizen is not a third-country national"),
        (["SI"], "third_country_illegal", "an EU citizen is not a third-country national"),
    ],
)
def test_a_residence_status_that_contradicts_the_citizenships_says_so(
    citizenships: list[str], status: str, message: str
) -> None:
    """INPUT (docs/rules.md "The case"): the residence status agrees with the citizenships; the
    refusal says which citizenship the status needs, or that an EU citizen is no third-country
    national."""
    with pytest.raises(ValidationError) as raised:
        PersonFacts(citizenships=citizenships, residence_status=status)
    assert [e["msg"] for e in raised.value.errors()] == [f"Value error, {message}"]
    data = identified()
    data["person"] = {"citizenships": citizenships, "residence_status": status}
    assert problems(data) == [("person", f"Value error, {message}")]


# -- a notification's outcome (pathway/domain/state.py) ----------------------------------------


def test_a_delivery_outcome_names_its_channel_or_its_failure() -> None:
    """The timeline shows how a notification was delivered or why it failed: an outcome that
    says neither is refused, saying what it lacks."""
    with pytest.raises(ValidationError) as raised:
        DeliveryOutcome(idempotency_key="k", recipient=Org.POLICE, delivered=True)
    assert [e["msg"] for e in raised.value.errors()] == [
        "Value error, a delivery names its channel"
    ]
    with pytest.raises(ValidationError) as raised:
        DeliveryOutcome(idempotency_key="k", recipient=Org.POLICE, delivered=False)
    assert [e["msg"] for e in raised.value.errors()] == ["Value error, a failure names its reason"]


# -- membership: K5 referrals, the operator's changes, derived records (membership.py) ---------


@pytest.mark.parametrize(
    ("option", "rule", "why"),
    [
        (
            "safe_accommodation",
            "S1",
            "referred for safe accommodation: offer it with consent by written statement (S1)",
        ),
        (
            "reintegration",
            "I1",
            "referred to the reintegration programme: check eligibility and agree a personal "
            "plan (I1)",
        ),
    ],
)
def test_k5_a_referral_to_kljuc_says_what_kljuc_is_to_do(option: str, rule: str, why: str) -> None:
    """K5, S1, I1: a decision on further support that refers the person to Ključ makes it a
    member, and the membership says what for: offer safe accommodation with written consent
    (S1), or check eligibility and agree a personal plan (I1)."""
    state = accept(interviewed(), event("further_support_decided", T0 + days(2), option=option))
    assert record(state, "kljuc", MemberRole.REFERRED, rule).why == why


@pytest.mark.parametrize(
    ("org", "role", "why", "field", "reason"),
    [
        (
            Org.KLJUC,
            MemberRole.LEAD_NGO,
            "x",
            "role",
            "the role lead_ngo is not given by hand: the identifying authority is a fact of the "
            "past and the lead NGO moves only by the rules",
        ),
        (
            Org.POLICE,
            MemberRole.IDENTIFYING_AUTHORITY,
            "x",
            "role",
            "the role identifying_authority is not given by hand: the identifying authority is a "
            "fact of the past and the lead NGO moves only by the rules",
        ),
        (
            Org.ANALYST,
            MemberRole.REFERRED,
            "x",
            "organisation",
            "analysts read aggregates only, never a case",
        ),
        (
            Org.KLJUC,
            MemberRole.REFERRED,
            "  ",
            "why",
            "say why: every membership change records a reason",
        ),
    ],
)
def test_members_the_operators_refused_change_says_why(
    org: Org, role: MemberRole, why: str, field: str, reason: str
) -> None:
    """MEMBERS: the operator does not give the rules' own roles, never makes an analyst a
    member and always gives a reason; the refusal of an addition or a removal says which."""
    for change in (add_member, remove_member):
        with pytest.raises(MembershipRefused) as refused:
            change(opened(), org, role, by="ops-1", why=why, now=T0 + days(3))
        assert (refused.value.field, refused.value.reason, str(refused.value)) == (
            field,
            reason,
            reason,
        )


def test_members_of_a_case_from_before_membership_say_they_were_derived() -> None:
    """MEMBERS: a case stored before membership existed gets the members its state shows, each
    record saying it was derived from the case as it stood then (no event gave it)."""
    state = accept(opened(TCN_ILLEGAL), event("crisis_accommodation_placed", T0 + days(1)))
    data = state.model_dump(mode="json")
    del data["membership"]
    older = CaseState.model_validate(data)
    assert older.membership
    assert {m.why for m in older.membership} == {
        "derived from the case as it stood when membership was introduced"
    }


# -- the programme registers: P1, X1 (pathway/domain/programmes.py) ------------------------------


def test_p1_a_suspicion_tells_uoim_what_to_do() -> None:
    """P1, R1: an asylum-procedure interview that raised suspicion tells UOIM to inform the
    competent institutions; the notice says so and that a case is opened."""
    state = _run(Programme.PATS, _interview("iv-1", suspicion=True))
    assert [n.action for n in state.pending_notifications] == [
        "An asylum-procedure interview raised suspicion of trafficking: inform the competent "
        "institutions (P1); a case is opened (R1)."
    ]


def test_the_registers_refusals_say_why() -> None:
    """IDEMPOTENCY, TIME, P1, X1: each refusal of a programme event names rule and field and
    says why in full: an event_id reused for another event, an event in the future, a child's
    interview not adapted to age, an enrolment of a participant already enrolled, counselling
    for one not enrolled."""
    pats = _register(Programme.PATS)
    assert _refuse(pats, _interview(at=NOW + timedelta(minutes=6))) == Rejection(
        RULE_TIME, "occurred_at", "the event lies in the future"
    )
    assert _refuse(pats, _interview(minor=True, age_appropriate=False)) == Rejection(
        "P1", "age_appropriate", "interviews with children are adapted to their age"
    )
    enrolled = _run(Programme.PROSTITUTION_EXIT, _enrol("x-1"))
    assert _refuse(enrolled, _session("x-1", "individual")) == Rejection(
        RULE_IDEMPOTENCY, "event_id", "this event_id was already used for a different event"
    )
    assert _refuse(enrolled, _enrol("x-2")) == Rejection(
        "X1", "participant_ref", "already enrolled"
    )
    assert _refuse(enrolled, _session("s-1", "group", ref="p-2")) == Rejection(
        "X1", "participant_ref", "not enrolled in the programme"
    )
    assert _refuse(pats, _enrol()) == Rejection(
        RULE_ACCESS, "type", "the event belongs to programme-prostitution_exit"
    )


def test_x1_the_guard_against_notifying_the_police_says_what_it_guards() -> None:
    """X1: the exit programme exists for people not ready to cooperate with the police; the
    guard that stops a notification to them says so in full."""
    with pytest.raises(AssertionError) as raised:
        _notify(_register(Programme.PROSTITUTION_EXIT), NOW, Org.POLICE, "x", rule="X1", action="a")
    assert str(raised.value) == "X1: the prostitution-exit programme never notifies the police"


# -- typed errors of the ledger, the calendar and case IDs ---------------------------------------


def test_a_short_ledger_secret_is_refused_saying_how_long_it_must_be() -> None:
    """Statistics (R6): the ledger's HMAC key has at least 16 bytes; a shorter one is refused
    saying so."""
    with pytest.raises(ValueError, match=r"^the ledger secret must be at least 16 bytes$"):
        anonymise(victim_fact("case-1", "k"), SECRET[:15])


def test_a_return_home_is_counted_as_an_exit_of_that_kind() -> None:
    """Statistics (docs/statistics.md): a return home ends the victim's running stay, and the
    ledger counts the exit as a return home (read from the timeline's entry for it)."""
    state = accept(opened(TCN_ILLEGAL), event("crisis_accommodation_placed", T0 + days(1)))
    state = accept(state, event("returned_home", T0 + days(3)))
    exits = [
        (f.programme, f.detail) for f in statistics_facts(state) if f.event is LedgerEvent.EXITED
    ]
    assert exits == [(LedgerProgramme.CRISIS_ACCOMMODATION, ExitKind.RETURNED_HOME.value)]


def test_the_timelines_placements_count_without_the_states_record() -> None:
    """Reports (entered_in): every placement or enrolment the timeline records counts, not only
    the one the state holds (the latest): with the state's record taken away, safe
    accommodation and reintegration are still entered on the day the timeline names."""
    state = accept(
        in_crisis("case-a"),
        event("further_support_decided", PLACED + days(1), option="safe_accommodation"),
    )
    state = accept(state, event("safe_accommodation_placed", PLACED + days(2)))
    without = state.model_copy(update={"safe_accommodation": None})
    assert entered_in(without, "safe_accommodation", PLACED.year) == PLACED + days(2)
    enrolled = accept(opened(dict(EU_ADULT)), event("criminal_proceedings_opened", T0 + days(1)))
    enrolled = accept(enrolled, event("reintegration_enrolled", T0 + days(2)))
    without = enrolled.model_copy(update={"reintegration": None})
    assert entered_in(without, "reintegration", T0.year) == T0 + days(2)


def test_a_negative_period_of_working_days_is_refused_saying_so() -> None:
    """TIME: a period of working days is never negative; the error says so."""
    with pytest.raises(ValueError, match=r"^a period of working days cannot be negative$"):
        add_working_days(date(2026, 11, 19), -1)


def test_a_value_that_is_no_case_id_is_refused_saying_what_one_looks_like() -> None:
    """R6: a case is named by its case ID; anything else is refused saying what a case ID
    looks like and where it came from."""
    refused = NotACaseId("case-x/e2")
    assert str(refused) == "not a case ID (case-… as `pathway case open` printed it)"
