"""A long case continues as new when the server suggests it, losing no state, obligation,
deadline or timeline entry, and its timers go on firing in the new run."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from pathway import search_attributes
from pathway.clients import cases
from pathway.domain.events import Identified
from pathway.domain.state import REJECTIONS_KEPT, DeadlineKind, DeadlineView
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_connection import data_converter
from pathway.workflows.inputs import CaseInput
from tests.factories import EU_ADULT, event
from tests.harness import bench
from tests.keys import TEST_KEYS
from tests.receivers import DEV_SERVER_STARTUP, eventually

pytestmark = pytest.mark.devserver


async def suggesting_continue_as_new_at(events: int) -> WorkflowEnvironment:
    """A dev server (the project's encrypting converter, its search attributes) that suggests
    continuing as new once a run's history holds ``events`` events."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
        ui=False,
        data_converter=data_converter(TEST_KEYS),
        search_attributes=list(search_attributes.ALL),
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={events}",
        ],
    )


class TestContinueAsNew:
    async def test_long_case_continues_as_new_without_loss(self) -> None:
        """With the suggestion threshold at 60 history events, a case of 200 events continues
        as new several times; the state after equals the state the events built (the 30-day
        timers unmoved), and the rights information timer set in the first run fires in a
        later one."""
        env = await suggesting_continue_as_new_at(60)
        async with (
            env,
            bench(
                env, upsert_search_attributes=True, rights_information_sla=timedelta(seconds=45)
            ) as b,
        ):
            ident = event(
                "identified", await b.now(), person=dict(EU_ADULT), subject_ref="long-case"
            )
            assert isinstance(ident, Identified)
            case_id, _ = await b.open(ident)
            first_run = (await b.client.get_workflow_handle(case_id).describe()).run_id
            await b.send(case_id, event("ngo_interview_held", await b.now()))
            placed = await b.send(case_id, event("crisis_accommodation_placed", await b.now()))
            for i in range(200):
                await b.send(
                    case_id,
                    event("cooperation_recorded", await b.now(), willing_to_cooperate=i % 2 == 0),
                )
            handle = b.client.get_workflow_handle(case_id)
            assert (await handle.describe()).run_id != first_run
            first = await b.client.get_workflow_handle(case_id, run_id=first_run).fetch_history()
            assert (
                first.events[-1].event_type
                == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            )

            # The episode the client opened is carried over: the new run seals under its key.
            started = (await handle.fetch_history()).events[0]
            (start_input,) = await b.client.data_converter.decode(
                started.workflow_execution_started_event_attributes.input.payloads, [CaseInput]
            )
            assert isinstance(start_input, CaseInput) and start_input.episode == 1

            state = await b.state(case_id)
            events = [t for t in state.timeline if t.event_id]
            assert len(events) == 203 and len(state.processed) == 203

            def long_deadlines(views: list[DeadlineView]) -> list[DeadlineView]:
                return [d for d in views if d.kind is not DeadlineKind.RIGHTS_INFORMATION]

            # The placement's deadlines are carried over continue-as-new, due when they were.
            def due(views: list[DeadlineView]) -> set[tuple[DeadlineKind, datetime]]:
                return {(d.kind, d.due_at) for d in long_deadlines(views)}

            assert due(placed.changes.deadlines_set) == due(state.summary().upcoming_deadlines)
            # K1, K5 and the offer of safe accommodation during crisis accommodation (S1).
            assert len(long_deadlines(placed.changes.deadlines_set)) == 3
            rights = [o for o in state.open_obligations if o.rule == "R3"]
            assert len(rights) == 9  # the nine rights subjects (R3)
            assert len(state.open_obligations) == 10  # and the offer (S1)
            await eventually(
                lambda: "rights_information_escalation" in {r.reason for r in b.received()},
                timeout=180,
            )
            final = await b.settled(case_id)
            assert all(o.escalated_at is not None for o in final.open_obligations if o.rule == "R3")
            await b.keep_history(case_id, "continued-as-new-first-run", run_id=first_run)


class TestContinueAsNewAsleep:
    async def test_a_flood_of_rejected_events_continues_as_new(self) -> None:
        """Review of issue 17: rejected events are noted in the case by an update that moves
        no deadline, so the main loop slept through them and the history grew without end
        (toward Temporal's hard limit, which would end the case). Under the patch
        ``continue-as-new-while-asleep`` the sleeping case continues as new when the server
        suggests it: with the threshold at 60 events, 40 rejected events from the police
        continue it as new, and it keeps the police's latest REJECTIONS_KEPT rejections."""
        env = await suggesting_continue_as_new_at(60)
        async with env, bench(env, upsert_search_attributes=True) as b:
            ident = event("identified", await b.now(), person=dict(EU_ADULT), subject_ref="flood")
            assert isinstance(ident, Identified)
            case_id, _ = await b.open(ident)
            handle = b.client.get_workflow_handle(case_id)
            first_run = (await handle.describe()).run_id
            for i in range(40):
                # R2: the police gather information only after the NGO's interview.
                too_early = event(
                    "police_information_gathering_started",
                    await b.now(),
                    event_id=f"pol-early-{i}",
                )
                with pytest.raises(cases.EventRejected) as refused:
                    await b.send(case_id, too_early)
                assert refused.value.rule == "R2"

            async def continued() -> bool:
                return (await handle.describe()).run_id != first_run

            await eventually(continued, timeout=120)
            state = await b.state(case_id)
            assert [r.event_id for r in state.rejections] == [
                f"pol-early-{i}" for i in range(40 - REJECTIONS_KEPT, 40)
            ]
            history = await b.client.get_workflow_handle(case_id).fetch_history()
            assert len(history.events) < 60 + 40
