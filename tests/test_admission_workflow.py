"""The admission checks run in the case workflow's update validator (issue 13;
pathway/domain/rules/admission.py): an event they refuse gets the typed error naming its rule
and field, and the case is as before. On the time-skipping server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from pathway.clients import cases
from pathway.domain.events import Identified, parse_event
from pathway.domain.ids import case_id_for
from pathway.privacy.codec import CaseCodec
from tests.factories import EU_ADULT, event
from tests.harness import PEPPER, bench

MINOR: dict[str, Any] = {**EU_ADULT, "birth_date": "2012-05-01", "unaccompanied": True}


async def test_the_validator_refuses_what_the_admission_checks_refuse(
    time_skipping: WorkflowEnvironment,
) -> None:
    """C1/INPUT: a ``facts_updated`` without the recorded birth date; R1: an accompanying
    child whose own case would be refused. Both refused with rule and field; the child's
    protection, the birth date and the case's pending starts are unchanged."""
    async with bench(time_skipping, upsert_search_attributes=False) as b:
        t0 = await b.now()
        ident = event("identified", t0, person=dict(MINOR), subject_ref="adm-1")
        assert isinstance(ident, Identified)
        case_id, _ = await b.open(ident)
        before = await b.settled(case_id)
        without = {k: v for k, v in MINOR.items() if k != "birth_date"} | {"languages": ["de"]}
        with pytest.raises(cases.EventRejected) as dropped:
            await b.send(
                case_id,
                event("facts_updated", t0, organisation="caritas", person=without),
            )
        assert (dropped.value.rule, dropped.value.field) == ("INPUT", "person.birth_date")
        after = await b.state(case_id)
        assert after.person.birth_date == before.person.birth_date
        assert after.child_protection == before.child_protection

        parent = event("identified", t0, person=dict(EU_ADULT), subject_ref="adm-2")
        assert isinstance(parent, Identified)
        parent_id, _ = await b.open(parent)
        placed = t0 + timedelta(minutes=1)
        await b.skip_to(placed + timedelta(minutes=1))
        await b.send(parent_id, event("crisis_accommodation_placed", placed))
        await b.send(
            parent_id,
            event(
                "accompanying_child_recorded",
                placed,
                child_ref="c1",
                citizenships=["DE"],
                placed_with="crisis_accommodation",
                birth_date="2020-01-01",
            ),
        )
        with pytest.raises(cases.EventRejected) as linked:
            await b.send(
                parent_id,
                event(
                    "accompanying_child_identified",
                    placed,
                    child_ref="c1",
                    residence_status="international_protection_applicant",
                ),
            )
        assert (linked.value.rule, linked.value.field) == ("R1", "residence_status")
        state = await b.settled(parent_id)
        assert state.pending_case_starts == []
        assert all(child.own_case_id is None for child in state.accompanying_children)


async def test_the_client_refuses_an_identification_the_checks_refuse_before_any_key(
    time_skipping: WorkflowEnvironment,
) -> None:
    """INPUT: an age estimate that puts the birth before 1900 is refused by the client's own
    check before a case is opened (no data key made, no run waiting for its identification),
    as the case's validator would refuse it."""
    async with bench(time_skipping, upsert_search_attributes=False) as b:
        t0 = await b.now()
        person = {
            **EU_ADULT,
            "birth_date": None,
            "age_estimate": {"years": 120, "as_of": "1900-01-01", "source": "x"},
        }
        ident = event("identified", t0, person=person, subject_ref="adm-3")
        assert isinstance(ident, Identified)
        with pytest.raises(cases.EventRejected) as refused:
            await b.open(ident)
        assert (refused.value.rule, refused.value.field) == ("INPUT", "person.age_estimate.years")
        codec = b.client.data_converter.payload_codec
        assert isinstance(codec, CaseCodec)
        assert codec.store.episodes(case_id_for("adm-3", PEPPER)) == []


async def test_the_gaps_checks_refuse_through_the_validator_and_the_client(
    time_skipping: WorkflowEnvironment,
) -> None:
    """INPUT (gap 10): a citizenship named twice is refused by the case's validator. S1 (gap
    9): a safe placement that does not state ``preliminary_programme`` is refused by the
    client before it sends (the workflow would decode the default as stated), and noted in
    the case as a refusal is; stated, it is accepted."""
    async with bench(time_skipping, upsert_search_attributes=False) as b:
        t0 = await b.now()
        ident = event("identified", t0, person=dict(EU_ADULT), subject_ref="adm-4")
        assert isinstance(ident, Identified)
        case_id, _ = await b.open(ident)
        twice = {**EU_ADULT, "citizenships": ["DE", "DE"]}
        with pytest.raises(cases.EventRejected) as repeated:
            await b.send(case_id, event("facts_updated", t0, organisation="kljuc", person=twice))
        assert (repeated.value.rule, repeated.value.field) == ("INPUT", "person.citizenships.1")

        stated = event("safe_accommodation_placed", t0, reason="no crisis bed free")
        data = stated.model_dump(mode="json", exclude={"preliminary_programme"})
        unstated = parse_event({**data, "event_id": "adm-4-unstated"})
        with pytest.raises(cases.EventRejected) as refused:
            await b.send(case_id, unstated)
        assert (refused.value.rule, refused.value.field) == ("S1", "preliminary_programme")
        state = await b.settled(case_id)
        assert state.safe_accommodation is None
        assert [(r.event_id, r.rule) for r in state.rejections][-1] == ("adm-4-unstated", "S1")
        await b.send(case_id, stated)
        placed = (await b.settled(case_id)).safe_accommodation
        assert placed is not None and placed.preliminary_programme is True
