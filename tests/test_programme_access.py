"""Which organisation sees which programme register (issue 17 item 5), from the one access
policy (pathway/access/policy.py): the organisations that record a register's events run it and
read it; nobody else learns anything of it, in the policy, in the register's own check and in
the console's navigation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pathway.access.credentials import OPERATOR
from pathway.access.policy import (
    ROLES,
    may_read_register,
    may_record_programme,
    register_view,
    registers_run_by,
)
from pathway.console.programmes import recordable_types
from pathway.console.routes import templates
from pathway.domain.organisations import Organisation as Org
from pathway.domain.programmes import (
    PROGRAMME_EVENT_ADAPTER,
    ExitProgrammeEnrolled,
    PatsInterviewRecorded,
    Programme,
    ProgrammeState,
    decide_programme,
    register_id,
)
from pathway.domain.rules import RULE_ACCESS, Rejection

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)

#: Who runs which register, as SPEC.md P1 and X1 say (Ključ runs the exit programme; PATS
#: interviews are held by Ključ, the social work centres and UOIM).
RUNNERS = {
    Programme.PATS: {Org.KLJUC.value, Org.SOCIAL_WORK_CENTRE.value, Org.UOIM.value},
    Programme.PROSTITUTION_EXIT: {Org.KLJUC.value},
}


@pytest.mark.parametrize("role", ROLES)
def test_an_organisation_runs_exactly_the_registers_the_rules_give_it(role: str) -> None:
    expected = [p for p in Programme if role in RUNNERS[p]]
    assert list(registers_run_by(role)) == expected
    for programme in Programme:
        assert may_read_register(role, programme) is (role in RUNNERS[programme])
        # The console offers the forms of a register it runs only.
        assert bool(recordable_types(role, programme)) is (role in RUNNERS[programme])


def _event(event_type: str, organisation: str) -> dict[str, object]:
    data: dict[str, object] = {
        "type": event_type,
        "event_id": f"{organisation}-{event_type}",
        "organisation": organisation,
        "occurred_at": (NOW - timedelta(hours=1)).isoformat(),
        "participant_ref": "p-1",
        "citizenships": ["NG"],
        "minor": False,
        "session": "individual",
        "language": "en",
        "age_appropriate": True,
        "suspicion": False,
    }
    return data


@pytest.mark.parametrize("role", [r for r in ROLES if r != OPERATOR])
@pytest.mark.parametrize(
    "event_type",
    ["pats_interview_recorded", "exit_programme_enrolled"],
)
def test_the_register_refuses_exactly_what_the_policy_refuses(role: str, event_type: str) -> None:
    """The register's own check (rule ACCESS) and the policy the console asks agree."""
    cls = {"pats_interview_recorded": PatsInterviewRecorded}.get(event_type, ExitProgrammeEnrolled)
    fields = set(cls.model_fields)
    data = {k: v for k, v in _event(event_type, role).items() if k in fields}
    event = PROGRAMME_EVENT_ADAPTER.validate_python(data)
    state = ProgrammeState(register_id=register_id(cls.programme), programme=cls.programme)
    decision = decide_programme(state, event, NOW)
    refused = isinstance(decision, Rejection) and decision.rule == RULE_ACCESS
    assert refused is not may_record_programme(role, event_type)


def _register_with_interviews() -> ProgrammeState:
    state = ProgrammeState(register_id=register_id(Programme.PATS), programme=Programme.PATS)
    for org in (Org.UOIM, Org.KLJUC, Org.UOIM):
        data = _event("pats_interview_recorded", org.value)
        data["event_id"] = f"{org.value}-{len(state.interviews)}"
        data = {k: v for k, v in data.items() if k in PatsInterviewRecorded.model_fields}
        decided = decide_programme(state, PROGRAMME_EVENT_ADAPTER.validate_python(data), NOW)
        assert not isinstance(decided, Rejection), decided
        state = decided[0]
    return state


def test_a_register_it_does_not_run_reads_as_nothing() -> None:
    state = _register_with_interviews()
    for role in ROLES:
        view = register_view(state, role)
        if role not in RUNNERS[Programme.PATS]:
            assert view is None, role
    uoim = register_view(state, Org.UOIM.value)
    assert uoim is not None
    # Its own interviews only; no event IDs, no notifications.
    assert [i.organisation for i in uoim.interviews] == [Org.UOIM, Org.UOIM]
    assert uoim.processed == {} and uoim.pending_notifications == []
    sw = register_view(state, Org.SOCIAL_WORK_CENTRE.value)
    assert sw is not None and sw.interviews == []


@pytest.mark.parametrize("role", ROLES)
def test_the_navigation_links_the_registers_only_for_who_runs_one(role: str) -> None:
    class _Principal:
        def __init__(self, role: str) -> None:
            self.role = role

    html = (
        templates("en")
        .get_template("programmes.html")
        .render(principal=_Principal(role), csrf="", here="/console/programmes", registers=[])
    )
    assert ('id="nav-programmes"' in html) is bool(registers_run_by(role))
