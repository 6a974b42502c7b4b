"""The case workflow writes its statistics facts to the ledger (issue 15 item 1, patch
``statistics-ledger``; docs/statistics.md), on the time-skipping server with the real workers
(tests/harness.py ``bench``, whose ledger is in memory and keyed with the test secret)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from pathway.domain.annual import annual_report
from pathway.domain.calendar import local_date
from pathway.domain.events import Identified
from pathway.domain.ledger import LedgerEvent, LedgerProgramme, PersonRole, person_key
from tests.factories import EU_ADULT, event
from tests.harness import LEDGER_SECRET, bench
from tests.receivers import eventually


class TestCaseWritesTheLedger:
    async def test_a_mother_and_child_placed_then_closed(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """The identification, the crisis placement, the child placed with the mother and, at
        closure, both exits (five facts) reach the ledger once each, under the keyed hash of
        the case ID (never the ID itself); a repeated event adds nothing, and the case still
        completes."""
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            t0 = await b.now() - timedelta(days=4)  # events may not lie in the future
            ident = event("identified", t0, person=dict(EU_ADULT), subject_ref="ledger-mother")
            assert isinstance(ident, Identified)
            case_id, _ = await b.open(ident)
            await b.send(case_id, event("ngo_interview_held", t0 + timedelta(hours=1)))
            placed = event("crisis_accommodation_placed", t0 + timedelta(hours=2))
            await b.send(case_id, placed)
            await b.send(
                case_id,
                event(
                    "accompanying_child_recorded",
                    t0 + timedelta(hours=2),
                    child_ref="ledger-child",
                    birth_date="2019-08-01",
                    gender="male",
                    citizenships=["ES"],
                    placed_with="crisis_accommodation",
                ),
            )
            await eventually(lambda: len(b.ledger.records) == 3)
            await b.send(case_id, placed)  # the same event again: a repeat, nothing new
            closed = event("case_closed", t0 + timedelta(days=3), organisation="caritas")
            await b.send(case_id, closed)
            await eventually(lambda: len(b.ledger.records) == 5)
            await b.client.get_workflow_handle(case_id).result()
            await b.keep_history(case_id, "statistics-ledger-mother-with-child")
            records = b.ledger.read()
            assert len(records) == 5
            mother = person_key(LEDGER_SECRET, case_id)
            assert sorted(
                (r.programme, r.event, r.detail, r.role) for r in records if r.person == mother
            ) == sorted(
                [
                    (
                        LedgerProgramme.IDENTIFICATION,
                        LedgerEvent.IDENTIFIED,
                        None,
                        PersonRole.VICTIM,
                    ),
                    (
                        LedgerProgramme.CRISIS_ACCOMMODATION,
                        LedgerEvent.ENTERED,
                        None,
                        PersonRole.VICTIM,
                    ),
                    (
                        LedgerProgramme.CRISIS_ACCOMMODATION,
                        LedgerEvent.EXITED,
                        "closed",
                        PersonRole.VICTIM,
                    ),
                ]
            )
            assert all(case_id not in r.model_dump_json() for r in records)
            year = local_date(t0 + timedelta(hours=2)).year
            figures = annual_report(records, year).crisis_accommodation
            assert figures.entered.persons == 2
            assert figures.entered.accompanying_children == 1
            assert figures.entered.children_by_citizenship == {"ES": 1}
