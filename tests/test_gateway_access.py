"""The gateway's authorisation matrices, cell by cell (docs/rules.md "Who uses it", "Access", R6).

Each matrix is checked against an independent table written out here, so changing one without
the other fails; and the read matrix must name every field of CaseState, PersonFacts and
TimelineEntry, so a new field cannot reach a caller before someone decided who may read it.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import BaseModel

from pathway.access.credentials import OPERATOR
from pathway.access.policy import (
    READ_MATRIX,
    ROLES,
    SEND_MATRIX,
    SPLIT_FIELDS,
    case_view,
    may_read,
    may_read_cases,
    may_send,
    summary_view,
    timeline_view,
)
from pathway.domain.events import EVENT_TYPES
from pathway.domain.person import PersonFacts
from pathway.domain.state import (
    AccompanyingChild,
    CaseState,
    CriminalProceedings,
    TimelineEntry,
)
from tests.factories import T0, TCN_ILLEGAL, accept, event, opened

# -- who may send what, written out independently of the event classes -------------------------
#: event type -> the roles that may send it.
SENDERS: dict[str, set[str]] = {
    "identified": {"police", "social_work_centre", "uoim"},
    "ngo_interview_held": {"caritas", "kljuc"},
    "rights_information_given": {"caritas", "kljuc", "police", "social_work_centre"},
    "police_information_gathering_started": {"police"},
    "crisis_accommodation_placed": {"caritas"},
    "reflection_period_started": {"caritas", "kljuc", "police"},
    "further_support_decided": {"caritas", "kljuc"},
    "crisis_accommodation_ended": {"caritas"},
    "safe_accommodation_placed": {"kljuc"},
    "safe_accommodation_ended": {"kljuc"},
    "safe_accommodation_offered": {"caritas", "kljuc"},
    "consent_withdrawn": {"caritas", "kljuc"},
    "permit_to_stay_granted": {"police"},
    "permit_to_stay_extended": {"police"},
    "temporary_residence_permit_granted": {"migration_authority"},
    "temporary_residence_permit_renewed": {"migration_authority"},
    "criminal_proceedings_opened": {"police"},
    "criminal_proceedings_concluded": {"police"},
    "cooperation_recorded": {"caritas", "kljuc", "police"},
    "reintegration_enrolled": {"kljuc"},
    "facts_updated": {"caritas", "kljuc", "migration_authority", "police", "social_work_centre"},
    "returned_home": {"caritas", "kljuc", "police"},
    "departed": {"caritas", "kljuc"},
    "case_closed": {"caritas", "kljuc"},
    "reintegration_service_recorded": {"kljuc"},
    "accommodation_service_recorded": {"caritas", "kljuc"},
    "swc_interview_held": {"social_work_centre"},
    "child_accommodated_in_facility": {"social_work_centre"},
    "guardian_appointed": {"social_work_centre"},
    "family_contact_recorded": {"social_work_centre"},
    "authorised_representative_appointed": {"police", "social_work_centre"},
    "main_hearing_scheduled": {"police"},
    "accompanying_child_recorded": {"caritas", "kljuc"},
    "accompanying_child_identified": {"police", "social_work_centre", "uoim"},
    "special_need_flagged": {"caritas", "kljuc", "social_work_centre"},
    "special_need_referral_made": {"caritas", "kljuc", "social_work_centre"},
}

#: Decisions that only one authority takes (docs/rules.md "Who uses it").
EXCLUSIVE = {
    "permit_to_stay_granted": "police",
    "permit_to_stay_extended": "police",
    "temporary_residence_permit_granted": "migration_authority",
    "temporary_residence_permit_renewed": "migration_authority",
    "guardian_appointed": "social_work_centre",
}

# -- who may read what, written out as a grid --------------------------------------------------
COLUMNS = (
    "operator",
    "police",
    "migration_authority",
    "social_work_centre",
    "labour_ministry",
    "interior_ministry",
    "caritas",
    "kljuc",
    "uoim",
    "guardian",
    "analyst",
)
_GRID = """
                                                op pol mig swc lab int car klj uoi grd ana
case_id                                         x  x   x   x   x   x   x   x   x   x   -
opened_at                                       x  x   x   x   x   x   x   x   x   x   -
phase                                           x  -   -   x   -   -   x   x   -   x   -
lead_ngo                                        x  -   -   x   -   -   x   x   -   x   -
closed_at                                       x  x   x   x   x   x   x   x   x   x   -
membership                                      x  x   x   x   x   x   x   x   x   x   -
deadlines                                       x  x   x   x   x   x   x   x   x   x   -
obligations                                     x  x   x   x   x   x   x   x   x   x   -
person.birth_date                               x  x   x   x   -   -   x   x   -   x   -
person.age_estimate                             x  x   x   x   -   -   x   x   -   x   -
person.gender                                   x  x   x   x   -   -   x   x   -   x   -
person.citizenships                             x  x   x   x   -   -   x   x   x   x   -
person.residence_status                         x  x   x   x   -   -   x   x   x   x   -
person.languages                                x  x   x   x   -   -   x   x   x   x   -
person.exploited_abroad                         x  x   -   x   -   -   x   x   -   x   -
person.unaccompanied                            x  x   x   x   -   -   x   x   x   x   -
person.holder_can_act                           x  x   -   x   -   -   x   x   -   x   -
ngo_interview_at                                x  x   -   x   -   -   x   x   -   x   -
rights_information                              x  x   -   x   -   -   x   x   -   x   -
police_interview                                x  x   -   x   -   -   x   x   -   x   -
reflection_started_at                           x  x   x   x   -   x   x   x   -   x   -
crisis_accommodation                            x  -   -   x   x   -   x   x   -   x   -
safe_accommodation                              x  -   -   x   -   x   x   x   -   x   -
safe_accommodation_offer                        x  -   -   x   -   -   x   x   -   x   -
further_support                                 x  -   -   x   -   -   x   x   -   x   -
accommodation_services                          x  -   -   x   -   -   x   x   -   x   -
permit_to_stay                                  x  x   x   x   -   -   x   x   -   x   -
residence_permit                                x  x   x   x   -   -   x   x   -   x   -
criminal_proceedings.opened_at                  x  x   -   x   -   x   x   x   -   x   -
criminal_proceedings.concluded_at               x  x   -   x   -   x   x   x   -   x   -
criminal_proceedings.authorised_representative  x  x   -   x   -   -   x   x   -   x   -
cooperation                                     x  x   x   x   -   -   x   x   -   x   -
hearings                                        x  x   -   x   -   -   x   x   -   x   -
reintegration                                   x  -   -   x   -   -   x   x   -   x   -
child_protection                                x  x   -   x   -   -   x   x   -   x   -
accompanying_children.child_ref                 x  -   -   x   -   -   x   x   -   x   -
accompanying_children.birth_date                x  -   -   x   -   -   x   x   -   x   -
accompanying_children.age_estimate              x  -   -   x   -   -   x   x   -   x   -
accompanying_children.gender                    x  -   -   x   -   -   x   x   -   x   -
accompanying_children.citizenships              x  -   -   x   -   -   x   x   -   x   -
accompanying_children.placed_with               x  -   -   x   -   -   x   x   -   x   -
accompanying_children.recorded_at               x  -   -   x   -   -   x   x   -   x   -
accompanying_children.own_case_id               x  x   -   x   -   -   x   x   -   x   -
linked_cases                                    x  x   -   x   -   -   x   x   -   x   -
found_in                                        x  x   x   x   -   -   x   x   x   x   -
special_needs                                   x  -   -   x   -   -   x   x   -   x   -
timeline.at                                     x  x   x   x   x   x   x   x   x   x   -
timeline.recorded_at                            x  x   x   x   x   x   x   x   x   x   -
timeline.who                                    x  x   x   x   x   x   x   x   x   x   -
timeline.organisation                           x  x   x   x   x   x   x   x   x   x   -
timeline.what                                   x  x   x   x   x   x   x   x   x   x   -
timeline.rule                                   x  x   x   x   x   x   x   x   x   x   -
timeline.event_id                               x  x   x   x   x   x   x   x   x   x   -
timeline.why                                    x  -   -   x   -   -   x   x   -   x   -
timeline.child                                  x  -   -   x   -   -   x   x   -   x   -
rejections                                      x  -   -   x   -   -   x   x   -   x   -
config                                          x  -   -   -   -   -   -   -   -   -   -
pending_notifications                           x  -   -   -   -   -   -   -   -   -   -
pending_case_starts                             x  -   -   -   -   -   -   -   -   -   -
link_secret                                     x  -   -   -   -   -   -   -   -   -   -
notifications_sent                              x  -   -   -   -   -   -   -   -   -   -
notifications_to                                x  -   -   -   -   -   -   -   -   -   -
seed_residence_rules                            x  -   -   -   -   -   -   -   -   -   -
seed_assistance_rules                           x  -   -   -   -   -   -   -   -   -   -
seed_child_rules                                x  -   -   -   -   -   -   -   -   -   -
seed_reintegration_dates                        x  -   -   -   -   -   -   -   -   -   -
moot_every_track                                x  -   -   -   -   -   -   -   -   -   -
lapsed_permit_day_from_validity                 x  -   -   -   -   -   -   -   -   -   -
permits_restored_moot                           x  -   -   -   -   -   -   -   -   -   -
seed_status_rules                               x  -   -   -   -   -   -   -   -   -   -
processed                                       x  -   -   -   -   -   -   -   -   -   -
"""


def _readers() -> dict[str, set[str]]:
    rows = [line.split() for line in _GRID.strip().splitlines()[1:]]
    return {
        row[0]: {role for role, mark in zip(COLUMNS, row[1:], strict=True) if mark == "x"}
        for row in rows
    }


READERS = _readers()

#: Health and psychological details, and free text that may hold them (docs/rules.md "Access").
HEALTH = (
    "special_needs",
    "reintegration",
    "accommodation_services",
    "timeline.why",
    "timeline.child",
)


#: The model of each field the read matrix breaks down (of the record, or of each record).
SPLIT_MODELS: dict[str, type[BaseModel]] = {
    "person": PersonFacts,
    "timeline": TimelineEntry,
    "criminal_proceedings": CriminalProceedings,
    "accompanying_children": AccompanyingChild,
}


def field_paths() -> set[str]:
    """Every field path the read matrix must decide on, from the models themselves."""
    top = {name for name in CaseState.model_fields if name not in SPLIT_FIELDS}
    split = {
        f"{field}.{name}" for field, model in SPLIT_MODELS.items() for name in model.model_fields
    }
    assert set(SPLIT_MODELS) == SPLIT_FIELDS
    return top | split


class TestSendMatrix:
    """Who may send which event type."""

    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("event_type", sorted(set(EVENT_TYPES) | set(SENDERS)))
    def test_cell(self, role: str, event_type: str) -> None:
        """Each (role, event type) cell agrees with the table written out in this test."""
        assert event_type in SENDERS, f"decide who may send {event_type!r}: add it to SENDERS"
        assert event_type in EVENT_TYPES, f"{event_type!r} is no event type any more"
        assert may_send(role, event_type) is (role in SENDERS[event_type])

    def test_derived_from_the_events_senders(self) -> None:
        """The matrix is exactly the events' ``senders``: the domain and the gateway agree."""
        for event_type, cls in EVENT_TYPES.items():
            allowed = {role for role, types in SEND_MATRIX.items() if event_type in types}
            assert allowed == {org.value for org in cls.senders}, event_type

    @pytest.mark.parametrize(("event_type", "only"), sorted(EXCLUSIVE.items()))
    def test_exclusive_decisions(self, event_type: str, only: str) -> None:
        """Only the police decide permits to stay, only the migration authority residence
        permits, only social work centres appoint guardians."""
        assert {role for role in ROLES if may_send(role, event_type)} == {only}

    @pytest.mark.parametrize(
        "role", [OPERATOR, "analyst", "guardian", "labour_ministry", "interior_ministry"]
    )
    def test_roles_that_send_nothing(self, role: str) -> None:
        """Operators, analysts, guardians and the ministries send no case events."""
        assert SEND_MATRIX[role] == frozenset()


class TestReadMatrix:
    """Who may read which field of a case."""

    @pytest.mark.parametrize("role", ROLES)
    @pytest.mark.parametrize("path", sorted(set(READ_MATRIX) | set(READERS)))
    def test_cell(self, role: str, path: str) -> None:
        """Each (field, role) cell agrees with the grid written out in this test."""
        assert path in READERS, f"decide who may read {path!r}: add a row to the grid"
        assert path in READ_MATRIX, f"{path!r} is in the grid but not in READ_MATRIX"
        assert may_read(role, path) is (role in READERS[path])

    def test_every_field_is_decided(self) -> None:
        """The matrix names every field of CaseState, PersonFacts and TimelineEntry and
        nothing else: a new field fails here until its readers are decided."""
        paths = field_paths()
        assert sorted(paths - set(READ_MATRIX)) == [], "fields nobody decided on"
        assert sorted(set(READ_MATRIX) - paths) == [], "fields that no longer exist"

    @pytest.mark.parametrize("path", HEALTH)
    def test_police_never_read_health_details(self, path: str) -> None:
        """Police never read health or psychological details, nor free text that may hold
        them (docs/rules.md "Access")."""
        assert not may_read("police", path)

    def test_analysts_read_no_case(self) -> None:
        """Analysts read aggregates only: no case field, no case at all."""
        assert not any(may_read("analyst", path) for path in READ_MATRIX)
        assert not may_read_cases("analyst")

    def test_operators_read_everything(self) -> None:
        """Operators see every field."""
        assert all(may_read(OPERATOR, path) for path in READ_MATRIX)

    def test_unknown_field_is_read_by_nobody(self) -> None:
        """A field the matrix does not name is shown to nobody (fail closed)."""
        assert not any(may_read(role, "some_new_field") for role in ROLES)


def rich_case() -> CaseState:
    """An adult third-country national's case with a health detail, reasons from the police
    and from Caritas, a permit to stay and cooperation recorded."""
    state = opened(dict(TCN_ILLEGAL))
    later = T0 + timedelta(hours=1)
    state = accept(
        state,
        event(
            "ngo_interview_held",
            later,
            organisation="caritas",
            language="es",
            reason="CARITAS-REASON",
        ),
    )
    state = accept(
        state,
        event(
            "special_need_flagged",
            later,
            organisation="caritas",
            need="pregnancy",
            detail="CANARY-HEALTH-DETAIL",
        ),
    )
    state = accept(
        state,
        event(
            "permit_to_stay_granted",
            later,
            organisation="police",
            valid_from=later.date().isoformat(),
            basis="ex_officio",
            reason="POLICE-REASON",
        ),
    )
    return accept(
        state,
        event("cooperation_recorded", later, organisation="police", willing_to_cooperate=True),
    )


class TestCaseView:
    """What each role gets when it reads a case."""

    @pytest.mark.parametrize("role", ROLES)
    def test_only_granted_fields(self, role: str) -> None:
        """Every role gets exactly the top-level and person fields its row of the grid
        grants (those the case has)."""
        state = rich_case()
        view = case_view(state, role)
        data = state.model_dump(mode="json")
        expected = {name for name in data if name not in SPLIT_FIELDS and role in READERS[name]}
        for name in SPLIT_FIELDS:
            if any(role in READERS[path] for path in READERS if path.startswith(f"{name}.")):
                expected.add(name)
        assert set(view) == expected
        assert set(view.get("person", {})) == {
            name for name in data["person"] if role in READERS[f"person.{name}"]
        }

    def test_police_do_not_see_the_health_detail(self) -> None:
        """The special need's detail reaches Caritas, never the police."""
        state = rich_case()
        assert "CANARY-HEALTH-DETAIL" in json.dumps(case_view(state, "caritas"))
        assert "CANARY-HEALTH-DETAIL" not in json.dumps(case_view(state, "police"))

    def test_reasons_only_for_care_and_their_author(self) -> None:
        """The police read the reason they wrote, not Caritas's; Caritas reads both."""
        state = rich_case()
        police = json.dumps(timeline_view(state, "police"))
        assert "POLICE-REASON" in police and "CARITAS-REASON" not in police
        caritas = json.dumps(timeline_view(state, "caritas"))
        assert "POLICE-REASON" in caritas and "CARITAS-REASON" in caritas

    def test_ministry_sees_timeline_without_free_text(self) -> None:
        """A ministry sees who did what when, without any reason."""
        entries = timeline_view(rich_case(), "labour_ministry")
        assert entries and all("why" not in entry for entry in entries)
        assert all({"at", "what", "organisation"} <= set(entry) for entry in entries)

    @pytest.mark.parametrize("role", sorted(set(ROLES) - {"analyst"}))
    def test_summary(self, role: str) -> None:
        """An accepted event's summary shows the obligations and deadlines to every case
        reader (their fields are granted to all of them), the phase to those who read it
        (care: its values name the reflection period, safe accommodation and reintegration,
        R6)."""
        view = summary_view(rich_case().summary(), role)
        phase = {"phase"} if role in READERS["phase"] else set()
        assert set(view) == {"case_id", "open_obligations", "upcoming_deadlines", *phase}
