"""Tests that kill mutants of the domain core (issue 13; docs/mutation.md).

``scripts/mutation.sh`` changes pathway/domain/ one small edit at a time and runs the pure
domain tests against each change; these tests pin down behaviours it showed no other test
noticed changing. Each names the rule it keeps and asserts what the rule requires, never a
value copied from a run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import pytest
from pydantic import TypeAdapter, ValidationError

from pathway.domain.calendar import (
    LJUBLJANA,
    Counting,
    add_working_days,
    days_before,
    end_of_day,
    is_working_day,
    last_day,
    local_date,
    months_end,
    next_working_day,
    period_end,
)
from pathway.domain.ids import (
    NotACaseId,
    case_id_for,
    is_case_id,
    linked_case_id,
    linked_case_secret,
)
from pathway.domain.membership import MemberRole, MembershipChange
from pathway.domain.organisations import Organisation as Org
from pathway.domain.plausible import ERROR_TYPE, RULE_INPUT, Implausible, not_blank, refuse
from pathway.domain.rules import (
    Accepted,
    Rejection,
    decide,
    decide_membership,
    fire_due,
    reintegration_eligibility,
    settle_notification,
)
from pathway.domain.state import CaseState, DeliveryOutcome, ObligationKind, Phase
from tests.factories import (
    ALL_SUBJECTS,
    CASE_ID,
    EU_ADULT,
    SI_CITIZEN,
    T0,
    TCN_ILLEGAL,
    accept,
    days,
    event,
    opened,
    reject,
)
from tests.test_law_residence import (
    enrol,
    fired,
    in_proceedings,
    in_safe_accommodation,
    interviewed,
    placed_in_crisis,
)
from tests.test_law_services import PLACED, in_crisis, in_safe, service

#: A time zone far from Ljubljana's, for the machine the service runs on.
ELSEWHERE = "America/New_York"


@pytest.fixture
def host_elsewhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone (``TZ``) is New York's for the test, then as before."""
    monkeypatch.setenv("TZ", ELSEWHERE)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _is_utc(instant: datetime) -> bool:
    return instant.utcoffset() == timedelta(0) and instant.tzname() == "UTC"


class TestLegalTimeIgnoresTheHostsZone:
    """TIME: legal days are days in Ljubljana, and instants are kept in UTC, whatever time zone
    the machine running the service is set to."""

    @pytest.mark.usefixtures("host_elsewhere")
    def test_the_last_day_of_a_deadline_is_its_day_in_ljubljana(self) -> None:
        """TIME: ``last_day`` reads the deadline's instant in Ljubljana: 00:30 there is still
        that day (New York is on the day before), and 24:00 there leaves that day whole."""
        just_after_midnight = datetime(2026, 11, 20, 0, 30, tzinfo=LJUBLJANA)
        assert last_day(just_after_midnight.astimezone(UTC)) == date(2026, 11, 20)
        assert last_day(end_of_day(date(2026, 11, 19)).astimezone(UTC)) == date(2026, 11, 19)

    @pytest.mark.usefixtures("host_elsewhere")
    def test_an_elapsed_period_ends_at_an_instant_in_utc(self) -> None:
        """TIME: a period in hours (R3's 24 hours) runs by elapsed time and its end is an
        instant in UTC, not in the machine's zone."""
        start = datetime(2026, 3, 28, 22, 15, tzinfo=LJUBLJANA)
        end = period_end(start, timedelta(hours=24), Counting.ELAPSED)
        assert end - start == timedelta(hours=24)  # across the spring change: 23:15 there
        assert _is_utc(end)

    @pytest.mark.usefixtures("host_elsewhere")
    def test_reminders_are_instants_in_utc(self) -> None:
        """TIME: a reminder before a deadline, by whole days or by hours, is an instant in UTC
        (an instant in Ljubljana's autumn hour would compare unequal to other zones')."""
        due = end_of_day(date(2026, 11, 19))
        assert _is_utc(days_before(due, timedelta(days=5)))
        assert _is_utc(days_before(due, timedelta(hours=6)))


class TestRemindersByHours:
    """TIME: a reminder lead with hours is elapsed time before the deadline."""

    def test_a_lead_in_hours_comes_that_much_earlier(self) -> None:
        """TIME: ``days_before`` with a lead of 6 hours is 6 hours of elapsed time before the
        deadline: earlier, never later, across the autumn change too."""
        for due in (end_of_day(date(2026, 11, 19)), datetime(2026, 10, 25, 3, tzinfo=LJUBLJANA)):
            for lead in (timedelta(hours=6), timedelta(days=1, hours=1)):
                before = days_before(due, lead)
                assert before < due
                assert due - before == lead


class TestWorkingDayEnds:
    """TIME: ZUP Article 101: a last day that is not a working day moves to the next working
    day; periods in working days count only working days."""

    def test_the_next_working_day_is_the_first_on_or_after_the_day(self) -> None:
        """TIME: for every day of 2026 (weekends, Easter, 25–26 December and 1–2 January
        included), ``next_working_day`` is a working day and no working day lies before it."""
        day = date(2026, 1, 1)
        while day.year == 2026:
            found = next_working_day(day)
            assert found >= day
            assert is_working_day(found)
            assert not any(
                is_working_day(day + timedelta(days=n)) for n in range((found - day).days)
            )
            day += timedelta(days=1)

    def test_a_month_period_ending_on_a_weekend_moves_to_monday(self) -> None:
        """TIME: with ``next_working``, a period of months whose last day is a Saturday ends
        at 24:00 of the Monday after it; without, at 24:00 of the Saturday."""
        start = datetime(2026, 8, 28, 10, tzinfo=LJUBLJANA)  # 28 November 2026 is a Saturday
        assert last_day(months_end(start, 3)) == date(2026, 11, 28)
        assert last_day(months_end(start, 3, next_working=True)) == date(2026, 11, 30)
        on_a_working_day = datetime(2026, 8, 27, 10, tzinfo=LJUBLJANA)
        assert months_end(on_a_working_day, 3, next_working=True) == months_end(on_a_working_day, 3)

    def test_a_negative_number_of_working_days_is_refused_saying_so(self) -> None:
        """TIME: a period of working days cannot be negative; the refusal says what is wrong."""
        with pytest.raises(ValueError, match="cannot be negative"):
            add_working_days(date(2026, 11, 19), -1)

    def test_a_period_of_days_with_hours_left_over_is_refused_naming_it(self) -> None:
        """TIME: a period counted in calendar or working days must be whole days; the refusal
        names the period."""
        for counting in (Counting.CALENDAR_DAYS, Counting.WORKING_DAYS):
            with pytest.raises(ValueError, match=r"not a whole number of days: 1 day, 12:00:00"):
                period_end(datetime(2026, 11, 19, tzinfo=UTC), timedelta(hours=36), counting)

    def test_local_date_is_the_day_in_ljubljana(self) -> None:
        """TIME: 23:30 UTC on 19 November is 00:30 on 20 November in Ljubljana."""
        assert local_date(datetime(2026, 11, 19, 23, 30, tzinfo=UTC)) == date(2026, 11, 20)


# ---------------------------------------------------------------------------------------------
# S5: safe accommodation of a third-country national after the proceedings
# ---------------------------------------------------------------------------------------------

CONCLUDED = datetime.fromisoformat("2026-04-30T10:00:00+02:00")
#: 30 days after 30 April: the end of 30 May, Ljubljana time.
NEXT_STEP_DUE = datetime.fromisoformat("2026-05-31T00:00:00+02:00")


def only_the_next_step_open() -> CaseState:
    """A third-country national in safe accommodation with every other duty done (rights
    information given, the permit to stay extended) when the proceedings conclude: the next
    step after safe accommodation (S5) is the one open obligation."""
    state = in_safe_accommodation()
    informed = event(
        "rights_information_given", T0 + days(31), subjects=ALL_SUBJECTS, language="es"
    )
    state = accept(state, informed)
    state = accept(state, event("permit_to_stay_extended", T0 + days(32), months=3))
    state = accept(state, event("criminal_proceedings_concluded", CONCLUDED))
    kinds = [o.kind for o in state.open_obligations]
    assert kinds == [ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS]
    return state


class TestS5NextStepAfterProceedings:
    """S5: “for the victims from third countries it may last until the conclusion of the
    criminal proceedings”: the provider agrees the next step by a date."""

    def test_the_date_is_escalated_when_the_next_step_is_the_only_open_duty(self) -> None:
        """S5: at the date, the overdue next step is escalated to Ključ and the interior
        ministry, citing S5, also when no other obligation of the case is open (the reminders
        before it were delivered)."""
        state, _ = fire_due(only_the_next_step_open(), NEXT_STEP_DUE - timedelta(days=1))
        for sent in list(state.pending_notifications):
            outcome = DeliveryOutcome(
                idempotency_key=sent.idempotency_key, recipient=sent.recipient, channel="outbox"
            )
            settle_notification(state, sent, sent.issued_at, outcome)
        kinds = [o.kind for o in state.open_obligations]
        assert kinds == [ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS]
        _, effects = fire_due(state, NEXT_STEP_DUE)
        overdue = [
            n
            for n in effects.notifications
            if n.reason == "accommodation_after_proceedings_overdue"
        ]
        assert {n.recipient.value for n in overdue} == {"kljuc", "interior_ministry"}
        assert all(n.rule == "S5" and "(S5)" in n.action for n in overdue)

    def test_ending_the_placement_settles_the_next_step_by_that_event(self) -> None:
        """S5, S3: safe accommodation ended: the next step after the proceedings hangs on it no
        more; its obligation is closed by the ending event, and nothing escalates at the date."""
        ended = event("safe_accommodation_ended", NEXT_STEP_DUE - timedelta(days=10))
        state = accept(only_the_next_step_open(), ended)
        (settled,) = [
            o for o in state.obligations if o.kind is ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS
        ]
        assert settled.closed_by == ended.event_id
        _, sent = fired(state, NEXT_STEP_DUE)
        assert not any(reason == "accommodation_after_proceedings_overdue" for _, reason, _ in sent)

    def test_no_escalation_once_the_placement_ended(self) -> None:
        """S5 is about a victim in safe accommodation: a case recorded between the two patches
        (residence rules, not yet the assistance rules) keeps the next step open when consent
        to safe accommodation is withdrawn; at the date nothing escalates, as nobody is placed
        any more."""
        state = accept(in_safe_accommodation(), event("criminal_proceedings_concluded", CONCLUDED))
        state = state.model_copy(update={"seed_assistance_rules": False})
        withdrawn = event(
            "consent_withdrawn", CONCLUDED + timedelta(days=3), placement="safe_accommodation"
        )
        state = accept(state, withdrawn)
        kinds = [o.kind for o in state.open_obligations]
        assert ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS in kinds
        _, sent = fired(state, NEXT_STEP_DUE)
        assert not any(reason == "accommodation_after_proceedings_overdue" for _, reason, _ in sent)

    def test_the_conclusion_tells_three_the_date_and_reminds_two(self) -> None:
        """S5: the conclusion tells Ključ, the interior ministry (co-financer) and the migration
        authority, each notice citing S5 and carrying the date the next step is due; the
        reminder before that date goes to Ključ and the ministry only."""
        state = in_safe_accommodation()
        concluded = event("criminal_proceedings_concluded", CONCLUDED)
        decision = decide(state, concluded, CONCLUDED, case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        (obligation,) = [
            o
            for o in decision.state.open_obligations
            if o.kind is ObligationKind.ACCOMMODATION_AFTER_PROCEEDINGS
        ]
        assert obligation.due_at == NEXT_STEP_DUE
        told = {
            n.recipient.value: n
            for n in decision.effects.notifications
            if n.reason == "proceedings_concluded"
        }
        assert set(told) == {"kljuc", "interior_ministry", "migration_authority"}
        assert all(n.rule == "S5" and n.due_at == obligation.due_at for n in told.values())
        _, sent = fired(decision.state, NEXT_STEP_DUE - timedelta(days=1))
        reminded = {
            r for r, reason, _ in sent if reason == "accommodation_after_proceedings_reminder"
        }
        assert reminded == {"kljuc", "interior_ministry"}


class TestS1Placement:
    """S1: “During crisis accommodation, victims are offered long-term assistance and safe
    accommodation”; one placement at a time."""

    def test_a_second_placement_or_offer_while_placed_is_refused_saying_why(self) -> None:
        """S1: a victim in safe accommodation is neither placed there again nor offered it:
        both are refused naming S1 and the type, and the reason says they are already there."""
        state = in_safe_accommodation()
        for again in (
            event("safe_accommodation_placed", T0 + days(35)),
            event("safe_accommodation_offered", T0 + days(35), answer="accepted"),
        ):
            rejection = reject(state, again)
            assert (rejection.rule, rejection.field) == ("S1", "type")
            assert "already in safe accommodation" in rejection.reason

    def test_the_placement_ends_crisis_accommodation_as_a_move_and_settles_the_decision(
        self,
    ) -> None:
        """S1, K5: placed in safe accommodation after crisis accommodation's 30 days, the
        crisis placement ends as a move (not as an end or an exit), and the reflection decision
        and the follow-on placement, both overdue, are settled by the placement event."""
        state, _ = fire_due(placed_in_crisis(EU_ADULT), T0 + days(40))
        placed = event("safe_accommodation_placed", T0 + days(41))
        state = accept(state, placed, T0 + days(41))
        crisis = state.crisis_accommodation
        assert crisis is not None and not crisis.active
        assert crisis.end_reason == "moved to safe accommodation"
        settled = {
            o.kind: o.closed_by
            for o in state.obligations
            if o.kind in (ObligationKind.REFLECTION_DECISION, ObligationKind.FOLLOW_ON_PLACEMENT)
        }
        assert settled == {
            ObligationKind.REFLECTION_DECISION: placed.event_id,
            ObligationKind.FOLLOW_ON_PLACEMENT: placed.event_id,
        }

    def test_placed_after_the_proceedings_the_notice_names_their_conclusion(self) -> None:
        """S5: a third-country national placed after the proceedings concluded: the notice says
        so and on which day they concluded."""
        state = in_safe_accommodation()
        state = accept(state, event("safe_accommodation_ended", T0 + days(35)))
        state = accept(state, event("criminal_proceedings_concluded", CONCLUDED))
        again = event("safe_accommodation_placed", CONCLUDED + timedelta(days=2))
        decision = decide(state, again, again.occurred_at, case_id=CASE_ID)
        assert isinstance(decision, Accepted)
        (notice, *_) = [
            n for n in decision.effects.notifications if n.reason == "placed_after_proceedings"
        ]
        assert str(local_date(CONCLUDED)) in notice.action

    def test_an_offer_settles_the_duty_to_make_it_by_that_event(self) -> None:
        """S1: the offer of safe accommodation, whatever the answer (R5: a refusal is the
        victim's choice), settles the obligation to make it; closed by the offer event."""
        offered = event("safe_accommodation_offered", T0 + days(5), answer="refused")
        state = accept(placed_in_crisis(EU_ADULT), offered)
        (duty,) = [
            o for o in state.obligations if o.kind is ObligationKind.SAFE_ACCOMMODATION_OFFER
        ]
        assert duty.closed_by == offered.event_id


class TestS5EndOfSafeAccommodation:
    """S5: “Accommodation within the programme is voluntary”: it ends when it is recorded
    ended, and only a placement that runs can end."""

    def test_an_end_is_recorded_as_an_end(self) -> None:
        """S5: the placement is no longer active and its record says it ended (not that
        consent was withdrawn or the victim left)."""
        state = accept(in_safe_accommodation(), event("safe_accommodation_ended", T0 + days(40)))
        placed = state.safe_accommodation
        assert placed is not None and not placed.active
        assert placed.end_reason == "ended"

    def test_no_placement_no_end(self) -> None:
        """S5: ending safe accommodation nobody is in is refused, naming S5 and the type, and
        saying so."""
        state = accept(in_safe_accommodation(), event("safe_accommodation_ended", T0 + days(40)))
        rejection = reject(state, event("safe_accommodation_ended", T0 + days(41)))
        assert (rejection.rule, rejection.field) == ("S5", "type")
        assert "not in safe accommodation" in rejection.reason

    def test_an_end_before_the_placement_began_is_refused(self) -> None:
        """S5: an end dated before the placement began (1 April) is refused, naming S5 and
        ``occurred_at``; nothing changes."""
        rejection = reject(
            in_safe_accommodation(), event("safe_accommodation_ended", T0 + days(29))
        )
        assert (rejection.rule, rejection.field) == ("S5", "occurred_at")


# ---------------------------------------------------------------------------------------------
# INPUT: text that must say something
# ---------------------------------------------------------------------------------------------


class TestNotBlank:
    """INPUT: ``not_blank(rule, what)`` refuses text with nothing visible in it, naming the rule
    and what the text is; the JSON Schema asks for a visible character. (The events' own
    fields get theirs when their modules are imported, before mutmut switches a mutant on; a
    type built here exercises the same code while the test runs.)"""

    def test_blank_text_is_refused_naming_the_rule_and_what_it_is(self) -> None:
        """INPUT: spaces and a zero-width space are blank; the refusal is an ``implausible``
        error that names the rule and the text; visible text passes unchanged."""
        adapter = TypeAdapter(Annotated[str, not_blank(RULE_INPUT, "the reason")])
        assert adapter.validate_python(" x ") == " x "
        with pytest.raises(ValidationError) as refused:
            adapter.validate_python(" \u200b ")
        (error,) = refused.value.errors()
        assert error["type"] == ERROR_TYPE
        assert error["msg"].startswith(f"{RULE_INPUT}: ")
        assert "the reason cannot be blank" in error["msg"]

    def test_the_schema_asks_for_a_visible_character(self) -> None:
        """INPUT: the JSON Schema of such text is a string whose ``pattern`` matches visible
        text and not whitespace, so senders and generators know."""
        schema = TypeAdapter(Annotated[str, not_blank(RULE_INPUT, "a reason")]).json_schema()
        assert schema["type"] == "string"
        assert re.search(schema["pattern"], " x ")
        assert not re.search(schema["pattern"], " \t\n")


class TestRefuse:
    """INPUT: an event that cannot be true on its own is refused with every problem at its own
    field, naming the rule and keeping the value at fault."""

    def test_nothing_wrong_nothing_raised(self) -> None:
        """INPUT: no problems, no error."""
        refuse("Identified", [])

    def test_each_problem_is_an_error_at_its_field_with_its_value(self) -> None:
        """INPUT: the error is titled by the event, and each problem lands at its field's path
        with its rule and the value at fault, so the gateway and the CLI can name both."""
        problems = [
            Implausible(("person", "birth_date"), RULE_INPUT, "born after the event", "2030-01-02"),
            Implausible(("occurred_at",), "R1", "before the case", "1999-12-31"),
        ]
        with pytest.raises(ValidationError) as refused:
            refuse("Identified", problems)
        assert refused.value.title == "Identified"
        errors = refused.value.errors()
        assert [(e["loc"], e["input"], e["type"]) for e in errors] == [
            (p.loc, p.value, ERROR_TYPE) for p in problems
        ]
        assert [e["msg"] for e in errors] == [f"{p.rule}: {p.reason}" for p in problems]


# ---------------------------------------------------------------------------------------------
# I1: the reintegration programme
# ---------------------------------------------------------------------------------------------

#: The day of enrolment in these tests.
ENROLLED = T0 + days(10)

#: A citizen of the Republic of Slovenia and of Croatia, recorded as residing as an EU citizen.
SI_AND_HR: dict[str, Any] = {
    "citizenships": ["HR", "SI"],
    "residence_status": "eu_citizen",
    "gender": "female",
    "languages": ["hr"],
}


class TestI1WhoIsASlovenianCitizen:
    """I1: “citizens of the Republic of Slovenia”: holding Slovenian citizenship makes one,
    whatever residence status the case records (a dual citizen may be recorded as an EU
    citizen)."""

    def test_a_dual_citizen_treated_abroad_is_in_the_programme(self) -> None:
        """I1: “citizens of the Republic of Slovenia who have been treated as victims …
        abroad”: a Slovenian and Croatian citizen treated abroad is in it, with no Slovenian
        proceedings, and for that reason."""
        state = interviewed({**SI_AND_HR, "exploited_abroad": True})
        eligible, why = reintegration_eligibility(state, ENROLLED)
        assert eligible is True
        assert "Slovenian citizen treated as a victim abroad" in why
        assert accept(state, enrol(ENROLLED)).phase is Phase.REINTEGRATION

    def test_a_dual_citizen_treated_in_slovenia_is_not(self) -> None:
        """I1: a Slovenian citizen is in the programme only when treated abroad, also when
        recorded as an EU citizen: in Slovenian proceedings, residing legally, still refused
        (I1, ``type``), saying why."""
        state = in_proceedings(SI_AND_HR)
        assert reintegration_eligibility(state, ENROLLED)[0] is False
        rejection = reject(state, enrol(ENROLLED))
        assert (rejection.rule, rejection.field) == ("I1", "type")
        assert "one treated as a victim in Slovenia is not in it" in rejection.reason


class TestI1TheReasonNamesTheCondition:
    """I1: the answer on eligibility says which of the seed's conditions decided it, in the
    seed's terms: “citizens of the Republic of Slovenia … treated as victims … abroad”, “treated
    as victims … in the Republic of Slovenia in pre-trial or criminal proceedings”, “legally
    reside there” (a permit to stay is not legal residence)."""

    def test_a_slovenian_citizen_treated_in_slovenia(self) -> None:
        """I1: the programme takes Slovenian citizens treated abroad; the refusal says so."""
        eligible, why = reintegration_eligibility(in_proceedings(SI_CITIZEN), ENROLLED)
        assert eligible is False
        assert "Slovenian citizens treated as victims abroad" in why
        assert "one treated as a victim in Slovenia is not in it" in why

    def test_no_slovenian_proceedings(self) -> None:
        """I1: an EU citizen treated as a victim in no Slovenian proceedings: the refusal names
        both groups of the programme."""
        eligible, why = reintegration_eligibility(interviewed(EU_ADULT), ENROLLED)
        assert eligible is False
        assert "a Slovenian citizen treated as a victim abroad" in why
        assert "or a person treated as a victim in Slovenian pre-trial or criminal proceedings" in (
            why
        )

    def test_a_permit_to_stay_is_not_legal_residence(self) -> None:
        """I1, K7: a third-country national in proceedings with only a permit to stay does not
        reside legally; the refusal names what legal residence is and that a permit to stay is
        not it."""
        state = accept(
            in_proceedings(TCN_ILLEGAL),
            event(
                "permit_to_stay_granted", T0 + days(2), valid_from="2026-03-04", basis="ex_officio"
            ),
        )
        eligible, why = reintegration_eligibility(state, ENROLLED)
        assert eligible is False
        assert "a third-country national must reside legally" in why
        assert "a valid temporary residence permit; a permit to stay is not legal residence" in why

    def test_in_slovenian_proceedings_and_residing_legally(self) -> None:
        """I1: an EU citizen in Slovenian criminal proceedings is in the programme, for being
        treated as a victim in Slovenian proceedings and residing legally."""
        eligible, why = reintegration_eligibility(in_proceedings(EU_ADULT), ENROLLED)
        assert eligible is True
        assert "Slovenian proceedings" in why and "residing legally" in why


class TestI1Enrolment:
    """I1: enrolment in the reintegration programme, once, by the provider; its services only
    for a person enrolled."""

    def test_enrolled_once(self) -> None:
        """I1: a person already in the programme is not enrolled again: refused naming I1 and
        the type, saying so; the first enrolment stands."""
        state = accept(in_proceedings(EU_ADULT), enrol(ENROLLED))
        rejection = reject(state, enrol(ENROLLED + days(1)))
        assert (rejection.rule, rejection.field) == ("I1", "type")
        assert "already enrolled" in rejection.reason
        assert state.reintegration is not None and state.reintegration.enrolled_at == ENROLLED

    def test_no_service_without_enrolment(self) -> None:
        """I1: “other services agreed in personal plans”: a service for a person not in the
        programme is refused naming I1 and the type, saying the person is not enrolled."""
        service = event("reintegration_service_recorded", ENROLLED, service="counselling")
        rejection = reject(in_proceedings(EU_ADULT), service)
        assert (rejection.rule, rejection.field) == ("I1", "type")
        assert "not enrolled" in rejection.reason

    def test_the_provider_is_a_member_for_the_programme(self) -> None:
        """I1, MEMBERS: the organisation that enrols the person provides the programme; its
        record says so, citing I1 (every member's purpose is stated, R6)."""
        state = accept(in_proceedings(EU_ADULT), enrol(ENROLLED))
        (provider,) = [
            m for m in state.membership if (m.role, m.rule) == (MemberRole.PROVIDER, "I1")
        ]
        assert provider.organisation is Org.KLJUC and provider.since == ENROLLED
        assert provider.why == "provides the reintegration programme (I1)"

    def test_enrolment_settles_the_decision_on_further_support(self) -> None:
        """K5, I1: enrolled in reintegration after crisis accommodation's 30 days, the decision
        on further support has been taken: the reflection decision and the follow-on placement,
        both overdue, are settled by the enrolment event."""
        state = accept(
            placed_in_crisis(EU_ADULT), event("criminal_proceedings_opened", T0 + days(2))
        )
        state, _ = fire_due(state, T0 + days(40))
        enrolled = enrol(T0 + days(41))
        state = accept(state, enrolled)
        settled = {
            o.kind: o.closed_by
            for o in state.obligations
            if o.kind in (ObligationKind.REFLECTION_DECISION, ObligationKind.FOLLOW_ON_PLACEMENT)
        }
        assert settled == {
            ObligationKind.REFLECTION_DECISION: enrolled.event_id,
            ObligationKind.FOLLOW_ON_PLACEMENT: enrolled.event_id,
        }


# ---------------------------------------------------------------------------------------------
# MEMBERS: the operator's changes to a case's members
# ---------------------------------------------------------------------------------------------

#: When the operator acts in these tests.
CHANGED_AT = T0 + days(3)


def member_change(action: str, org: Org, why: str = "Ticket 42") -> MembershipChange:
    """The operator ``ops-1`` adds or removes ``org`` as referred."""
    return MembershipChange.model_validate(
        {"action": action, "organisation": org, "role": "referred", "why": why, "by": "ops-1"}
    )


class TestOperatorMembershipChange:
    """MEMBERS: the operator's change is recorded with who made it; a change that cannot be
    made is a rejection naming the rule, the field at fault and why."""

    def test_no_change_before_the_case_is_opened(self) -> None:
        """CASE: a change to a case not opened is refused at the case (``case_id``), saying
        it has not been opened."""
        refused = decide_membership(None, member_change("add", Org.KLJUC), CHANGED_AT)
        assert isinstance(refused, Rejection)
        assert (refused.rule, refused.field) == ("CASE", "case_id")
        assert "not been opened" in refused.reason

    def test_no_change_after_the_case_is_closed(self) -> None:
        """CASE: a change to a closed case is refused at the case (``case_id``), saying it is
        closed."""
        closed = opened().model_copy(update={"phase": Phase.CLOSED})
        refused = decide_membership(closed, member_change("add", Org.KLJUC), CHANGED_AT)
        assert isinstance(refused, Rejection)
        assert (refused.rule, refused.field) == ("CASE", "case_id")
        assert "closed" in refused.reason

    def test_a_change_made_already_is_refused_saying_so(self) -> None:
        """MEMBERS: the same change (same ID) again is refused at ``change_id``, saying it
        was made already."""
        add = member_change("add", Org.KLJUC).model_copy(update={"change_id": "c-1"})
        added = decide_membership(opened(), add, CHANGED_AT)
        assert isinstance(added, CaseState)
        again = decide_membership(added, add, CHANGED_AT + days(1))
        assert isinstance(again, Rejection)
        assert (again.rule, again.field) == ("MEMBERS", "change_id")
        assert "made already" in again.reason

    def test_the_record_names_the_operator(self) -> None:
        """MEMBERS: the role the operator adds is recorded as added by that operator, since
        the change, for the reason given; with no change ID, the timeline entry names no
        event."""
        added = decide_membership(opened(), member_change("add", Org.KLJUC), CHANGED_AT)
        assert isinstance(added, CaseState)
        (record,) = [m for m in added.membership if m.organisation is Org.KLJUC]
        assert (record.role, record.rule, record.added_by, record.why, record.since) == (
            MemberRole.REFERRED,
            "MEMBERS",
            "operator (ops-1)",
            "Ticket 42",
            CHANGED_AT,
        )
        assert added.timeline[-1].event_id is None

    def test_a_refusal_keeps_its_reason(self) -> None:
        """MEMBERS, R6: adding an analyst is refused at ``organisation``, and the rejection
        says why: analysts read aggregates only, never a case."""
        refused = decide_membership(opened(), member_change("add", Org.ANALYST), CHANGED_AT)
        assert isinstance(refused, Rejection)
        assert (refused.rule, refused.field) == ("MEMBERS", "organisation")
        assert "aggregates only" in refused.reason


# ---------------------------------------------------------------------------------------------
# K3, S2: a service of the programme the person is in, recorded by its provider or the lead NGO
# ---------------------------------------------------------------------------------------------

#: What every refusal of a service outside its programme's days says (K3, S2).
WHILE_IN_IT = "a service of the programme is given while the person is in it"


class TestK3S2TheRefusalNamesTheProgrammeAndDay:
    """K3, S2: “accommodation comprises …”: a service belongs to a programme the person is in;
    a refusal names the programme in words and the day that decides."""

    def test_never_placed_in_safe_accommodation(self) -> None:
        """S2: a service of safe accommodation for a person never placed in it is refused at
        ``programme``, naming safe accommodation."""
        rejection = reject(
            in_crisis(), service(PLACED + days(2), "legal_status", "safe_accommodation")
        )
        assert (rejection.rule, rejection.field) == ("S2", "programme")
        assert "has not been placed in safe accommodation" in rejection.reason

    def test_before_the_placement_began(self) -> None:
        """K3: a service dated the day before crisis accommodation began (3 March 2026) is
        refused, naming the programme and that day."""
        rejection = reject(in_crisis(), service(PLACED - days(1), "material_assistance"), PLACED)
        assert (rejection.rule, rejection.field) == ("K3", "occurred_at")
        assert "before the crisis accommodation began (2026-03-03)" in rejection.reason
        assert WHILE_IN_IT in rejection.reason

    def test_after_the_placement_ended(self) -> None:
        """K3: a service dated the day after crisis accommodation ended (13 March 2026) is
        refused, naming the programme and the day it ended."""
        ended = accept(in_crisis(), event("crisis_accommodation_ended", PLACED + days(10)))
        late = service(PLACED + days(11), "return_home")
        rejection = reject(ended, late, PLACED + days(20))
        assert (rejection.rule, rejection.field) == ("K3", "occurred_at")
        assert "after the crisis accommodation ended (2026-03-13)" in rejection.reason
        assert WHILE_IN_IT in rejection.reason

    def test_recorded_by_another_organisation(self) -> None:
        """S2: Caritas, neither provider nor lead NGO of safe accommodation, is refused at
        ``organisation``; the reason names the programme and its provider, Ključ."""
        wrong = service(
            PLACED + days(12), "legal_status", "safe_accommodation", "provided", "caritas"
        )
        rejection = reject(in_safe(), wrong)
        assert (rejection.rule, rejection.field) == ("S2", "organisation")
        assert "a service of safe accommodation is recorded by its provider (kljuc)" in (
            rejection.reason
        )


# ---------------------------------------------------------------------------------------------
# R6: pseudonymous case IDs (pathway/domain/ids.py)
# ---------------------------------------------------------------------------------------------

PEPPER = b"pepper" * 6


def keyed_id(key: bytes, message: bytes) -> str:
    """``case-`` and the first 15 bytes of HMAC-SHA256(key, message) in lower-case base32, as
    the module documents the format."""
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return "case-" + base64.b32encode(digest[:15]).decode().lower()


class TestPseudonymousCaseIds:
    """R6 (data minimisation): a case ID is a keyed hash of the authority's reference, never the
    reference; the same person always meets the same case, in this release and the next."""

    def test_the_id_is_the_keyed_hash_of_the_normalised_reference(self) -> None:
        """R1, R6: HMAC-SHA256 under the pepper of the reference with its spaces collapsed and
        its case folded: the same person written differently is the same case; the ID does
        not change between releases (a stored case must be found again)."""
        expected = keyed_id(PEPPER, b"ref 1")
        assert case_id_for("ref 1", PEPPER) == expected
        assert case_id_for("  REF\t 1 ", PEPPER) == expected
        assert case_id_for("ref 2", PEPPER) != expected
        assert case_id_for("ref 1", b"another pepper") != expected
        assert is_case_id(expected)

    def test_a_linked_case_has_its_own_id_per_child(self) -> None:
        """R1: an accompanying child's case ID is the keyed hash of the child's reference under
        the opening case's link secret (with its own label); two children, two cases."""
        secret = "s" * 64
        first = linked_case_id(secret, "child-1")
        assert first == keyed_id(secret.encode(), b"pathway/linked-case-id\x00child-1")
        assert linked_case_id(secret, "child-2") != first

    def test_a_linked_case_has_its_own_secret_per_child(self) -> None:
        """R1: the child's own link secret is derived from the parent's and the child's
        reference: 64 hex characters, different for two children and from the parent's."""
        secret = "s" * 64
        own = linked_case_secret(secret, "child-1")
        expected = hmac.new(
            secret.encode(), b"pathway/linked-case-secret\x00child-1", hashlib.sha256
        ).hexdigest()
        assert own == expected and len(own) == 64
        assert linked_case_secret(secret, "child-2") != own != secret

    def test_only_a_case_id_is_taken_as_one(self) -> None:
        """R6: an episode's address (``<case>/e<N>``) or a stray string is not a case ID; the
        refusal keeps the value and says what is expected."""
        case = case_id_for("someone", PEPPER)
        assert is_case_id(case)
        assert not is_case_id(f"{case}/e2")
        refused = NotACaseId(f"{case}/e2")
        assert refused.value == f"{case}/e2"
        assert "not a case ID" in str(refused)


# ---------------------------------------------------------------------------------------------
# TIME: deadlines reached, reminders undelivered, notifications settled (rules/deadlines.py)
# ---------------------------------------------------------------------------------------------

#: C1, C3: a note on the child's best interests and views with every decision on a child.
CHILD_NOTE = {"best_interests": "Safe with her peers", "child_views": "Wants to stay"}


def child_turning_18_in_crisis_accommodation() -> CaseState:
    """An unaccompanied child who turns 18 on 4 March 2026, identified on 2 March and placed in
    crisis accommodation that day: the child track's deadlines (C4, C5, C6) and the adult
    path's (K1, K5, S1) run side by side."""
    child = {
        "citizenships": ["AF"],
        "residence_status": "international_protection_applicant",
        "gender": "female",
        "languages": ["ps"],
        "birth_date": "2008-03-04",
        "unaccompanied": True,
    }
    state = opened(child)
    interview = event(
        "ngo_interview_held", T0 + timedelta(hours=2), language="ps", qualified_personnel=True
    )
    state = accept(state, interview)
    placed = event("crisis_accommodation_placed", T0 + timedelta(hours=3), child=CHILD_NOTE)
    return accept(state, placed)


class TestDeadlinesReachedInOnePass:
    """TIME: every deadline reached by ``now`` is handled when time is checked, each on the
    timeline citing its rule."""

    def test_turning_18_does_not_hold_up_the_deadlines_after_it(self) -> None:
        """C1, K1, K5: checked 40 days on, the child's 18th birthday ends the child track's
        deadlines (a guardian and family contact are no longer due), and crisis accommodation's
        30 days (K1) and the reflection period (K5) are still reached in the same pass, each
        recorded on the timeline with its rule, as are the reminders sent before them."""
        state, _ = fire_due(child_turning_18_in_crisis_accommodation(), T0 + days(40))
        assert state.deadlines == {}
        reached = {t.what: t.rule for t in state.timeline if t.what.endswith("deadline reached")}
        assert reached["turns_18 deadline reached"] == "C1"
        assert reached["crisis_accommodation deadline reached"] == "K1"
        assert reached["reflection_period deadline reached"] == "K5"
        assert "guardian_appointment deadline reached" not in reached
        reminded = {t.what: t.rule for t in state.timeline if t.what.endswith("reminder sent")}
        assert reminded["crisis_accommodation reminder sent"] == "K1"
        assert reminded["reflection_period reminder sent"] == "K5"


class TestUndeliveredReminders:
    """A reminder still undelivered when its deadline is reached has lost its lead time: the
    lead NGO must tell the recipient another way, or, when the lead NGO is the one not
    reached, the interior ministry (home of the national coordinator)."""

    def test_the_lead_ngo_not_reached_is_told_by_the_interior_ministry(self) -> None:
        """K1: neither reminder of crisis accommodation's 30 days was delivered. The one to
        the labour ministry is the lead NGO's (Caritas) to pass on; the one to Caritas itself
        is the interior ministry's; each says to tell them another way."""
        state, _ = fire_due(placed_in_crisis(EU_ADULT), T0 + days(28))
        state, _ = fire_due(state, T0 + days(40))
        owners = {
            o.action.split()[3]: o.owner.value
            for o in state.obligations
            if o.kind is ObligationKind.NOTIFICATION_UNDELIVERED and o.rule == "K1"
        }
        assert owners == {"caritas": "interior_ministry", "labour_ministry": "caritas"}
        actions = [
            o.action for o in state.obligations if o.kind is ObligationKind.NOTIFICATION_UNDELIVERED
        ]
        assert actions and all(a.endswith("tell them another way.") for a in actions)


class TestSettledNotifications:
    """A notification's delivery is recorded on the timeline by the service, with the rule
    that sent it and the organisation it went to."""

    def test_the_delivery_is_on_the_timeline(self) -> None:
        """R1: the notice of the identification to Caritas, delivered: the timeline says so,
        by ``pathway``, citing R1, at Caritas; the notice is no longer pending."""
        state = opened()
        (sent,) = state.pending_notifications
        assert (sent.recipient, sent.reason) == (Org.CARITAS, "case_identified")
        at = T0 + timedelta(minutes=5)
        outcome = DeliveryOutcome(
            idempotency_key=sent.idempotency_key, recipient=sent.recipient, channel="outbox"
        )
        settle_notification(state, sent, at, outcome)
        entry = state.timeline[-1]
        assert (entry.who, entry.rule, entry.organisation, entry.at) == (
            "pathway",
            "R1",
            Org.CARITAS,
            at,
        )
        assert entry.what.startswith("notification case_identified to caritas: ")
        assert state.pending_notifications == []
