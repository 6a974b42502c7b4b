"""What crisis and safe accommodation comprise (issue 13): K3, S2, services offered and provided.

Each test quotes the seed's words it rests on. A service is recorded on the case with its day
(``occurred_at``, in Slovenia) once the case shows the person was in that programme that day;
the yearly statistics count the persons per programme and service (docs/rules.md K3, S2).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from pathway.domain.events import AccommodationService, CaseEvent, ServiceStatus
from pathway.domain.state import CaseState
from pathway.domain.statistics import yearly_report
from tests.factories import T0, accept, days, event, opened, reject

PLACED = T0 + days(1)  # crisis accommodation from 3 March 2026 (10:00 in Ljubljana)
K3 = [
    "accommodation_and_assistance",
    "material_assistance",
    "primary_healthcare",
    "psychological_and_social_assistance",
    "rights_information_and_counselling",
    "translation_and_interpreting",
    "return_home",
]
S2_ONLY = ["legal_status", "representation_in_prosecution", "integration_into_society"]


def in_crisis(at: datetime = PLACED, case_id: str | None = None) -> CaseState:
    state = accept(opened(), event("ngo_interview_held", T0 + timedelta(hours=2)))
    state = accept(state, event("crisis_accommodation_placed", at))
    return state if case_id is None else state.model_copy(update={"case_id": case_id})


MOVED = PLACED + days(10)  # to safe accommodation


def in_safe(at: datetime = MOVED) -> CaseState:
    return accept(in_crisis(), event("safe_accommodation_placed", at))


def service(
    at: datetime,
    name: str,
    programme: str = "crisis_accommodation",
    status: str = "provided",
    organisation: str | None = None,
) -> CaseEvent:
    sender = organisation or ("caritas" if programme == "crisis_accommodation" else "kljuc")
    return event(
        "accommodation_service_recorded",
        at,
        programme=programme,
        service=name,
        status=status,
        organisation=sender,
    )


class TestK3CrisisAccommodationServices:
    """K3: “Victims are accommodated with their consent and accommodation comprises:
    appropriate and safe accommodation and assistance; material assistance; assistance in
    providing primary healthcare; psychological and social assistance and help; provision of
    information and counselling regarding the victims' rights in a language understandable to
    the victims; translation and interpreting; assistance in the victims' return to their
    homeland.”"""

    @pytest.mark.parametrize("name", K3)
    @pytest.mark.parametrize("status", ["offered", "provided"])
    def test_each_service_is_recorded_with_its_dates(self, name: str, status: str) -> None:
        """K3: each of the seven services, offered or provided, is kept on the case with the
        day it occurred and when it was recorded."""
        at, now = PLACED + days(3), PLACED + days(4)
        state = accept(in_crisis(), service(at, name, status=status), now)
        [record] = state.accommodation_services
        assert (record.programme.value, record.service.value, record.status.value) == (
            "crisis_accommodation",
            name,
            status,
        )
        assert (record.at, record.recorded_at, record.by.value) == (at, now, "caritas")

    @pytest.mark.parametrize("name", S2_ONLY)
    def test_safe_accommodations_own_services_are_not_crisis_accommodations(
        self, name: str
    ) -> None:
        """K3: legal status, representation in the prosecution and integration are not in
        crisis accommodation's list: refused as malformed, naming K3 and ``service``."""
        with pytest.raises(ValidationError) as refused:
            service(PLACED + days(3), name)
        [problem] = refused.value.errors(include_url=False)
        assert problem["loc"] == ("accommodation_service_recorded", "service")
        assert problem["msg"].startswith("K3: ")

    def test_never_placed_is_refused_naming_the_programme(self) -> None:
        """K3: a service of crisis accommodation for a person never placed in it in this case
        is refused (K3, ``programme``), changing nothing."""
        state = accept(opened(), event("ngo_interview_held", T0 + timedelta(hours=2)))
        rejection = reject(state, service(T0 + days(2), "material_assistance"))
        assert (rejection.rule, rejection.field) == ("K3", "programme")
        assert state.accommodation_services == []

    def test_from_the_placements_day_not_the_day_before(self) -> None:
        """K3 boundary: the placement's own day (in Ljubljana) is within the programme; the day
        before is not (K3, ``occurred_at``)."""
        state = in_crisis()
        same_day = PLACED.replace(hour=5)  # 06:00 in Ljubljana, before the placement at 10:00
        assert accept(state, service(same_day, "material_assistance")).accommodation_services
        rejection = reject(state, service(PLACED - days(1), "material_assistance"), PLACED)
        assert (rejection.rule, rejection.field) == ("K3", "occurred_at")

    def test_to_the_day_the_placement_ended_not_the_day_after(self) -> None:
        """K3 boundary: recorded late, a service on the day the placement ended is accepted;
        one on the day after is refused (K3, ``occurred_at``): it was not in the programme."""
        ended = accept(in_crisis(), event("crisis_accommodation_ended", PLACED + days(10)))
        now = PLACED + days(20)
        on_last_day = service(PLACED + days(10) + timedelta(hours=3), "return_home")
        assert accept(ended, on_last_day, now).accommodation_services
        rejection = reject(ended, service(PLACED + days(11), "return_home"), now)
        assert (rejection.rule, rejection.field) == ("K3", "occurred_at")


class TestS2SafeAccommodationServices:
    """S2: “Safe accommodation of victims comprises: appropriate safe accommodation and
    assistance; material assistance; assistance in providing primary healthcare; psychological
    and social support and assistance; provision of information and counselling regarding the
    victims' rights, in a language understandable to the victims; assistance in settling legal
    status in Slovenia; assistance in ensuring that the rights and interests of victims are
    represented at suitable stages in the prosecution of perpetrators of criminal offences;
    assistance with integration into society; translation and interpreting; assistance in the
    victims' return to their homeland.”"""

    @pytest.mark.parametrize("name", [s.value for s in AccommodationService])
    def test_the_ten_services_of_safe_accommodation(self, name: str) -> None:
        """S2: the seven of K3 and legal status, representation in the prosecution and
        integration into society."""
        at = PLACED + days(12)
        state = accept(in_safe(), service(at, name, "safe_accommodation"))
        assert [r.service.value for r in state.accommodation_services] == [name]

    def test_a_crisis_service_recorded_late_after_the_move_counts_for_crisis(self) -> None:
        """K3, S2: the service belongs to the programme the person was in that day: a crisis
        service of day 5 recorded on day 12 (in safe accommodation since day 10) is crisis
        accommodation's; a safe accommodation service dated day 5 is refused (S2,
        ``occurred_at``)."""
        state = in_safe()
        now = PLACED + days(12)
        late = accept(state, service(PLACED + days(5), "material_assistance"), now)
        assert [r.programme.value for r in late.accommodation_services] == ["crisis_accommodation"]
        early = service(PLACED + days(5), "legal_status", "safe_accommodation")
        rejection = reject(state, early, now)
        assert (rejection.rule, rejection.field) == ("S2", "occurred_at")

    def test_recorded_by_the_provider_or_the_lead_ngo_only(self) -> None:
        """S2: Ključ provides safe accommodation and leads the case from the placement;
        Caritas, no longer either, cannot record its services (S2, ``organisation``)."""
        wrong = service(
            PLACED + days(12), "legal_status", "safe_accommodation", organisation="caritas"
        )
        rejection = reject(in_safe(), wrong)
        assert (rejection.rule, rejection.field) == ("S2", "organisation")


class TestServicesReportedPerProgramme:
    """K3, S2 and docs/rules.md "Reports": “Yearly statistics per programme”; the seed's 2022
    figures list what “Persons admitted to crisis accommodation are provided with”."""

    def test_persons_per_programme_and_service_in_the_year(self) -> None:
        """Each person is counted once per service and status in the year, per programme;
        services of another year are not counted."""
        first = in_crisis(case_id="case-a")
        for n in (2, 3):  # provided twice: one person
            first = accept(first, service(PLACED + days(n), "material_assistance"))
        first = accept(first, service(PLACED + days(2), "return_home", status="offered"))
        second = in_crisis(case_id="case-b")
        second = accept(second, service(PLACED + days(2), "material_assistance"))
        second = accept(second, event("safe_accommodation_placed", PLACED + days(10)))
        second = accept(second, service(PLACED + days(11), "legal_status", "safe_accommodation"))
        report = yearly_report(2026, [first, second])
        assert report.crisis_accommodation.services_provided == {"material_assistance": 2}
        assert report.crisis_accommodation.services_offered == {"return_home": 1}
        assert report.safe_accommodation.services_provided == {"legal_status": 1}
        assert report.safe_accommodation.services_offered == {}
        assert yearly_report(2027, [first, second]).crisis_accommodation.services_provided == {}

    def test_the_statuses_are_the_seeds(self) -> None:
        """K3, S2: victims “are offered” safe accommodation and “are provided with” services:
        two statuses, nothing else."""
        assert {s.value for s in ServiceStatus} == {"offered", "provided"}
