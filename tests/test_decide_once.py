"""The rules decide each event once (issue 14 item 2): the case workflow's update handler takes
the decision its validator made, and on replay (no validator) decides again with the same
outcome."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from pathway.domain import rules
from pathway.domain.events import Identified
from pathway.temporal_connection import data_converter
from pathway.workflows.case import VictimCaseWorkflow
from tests.factories import EU_ADULT, event
from tests.harness import bench
from tests.keys import TEST_KEYS


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every event the workflow's rules decide, by event ID. The case workflow module binds
    ``decide`` when the sandbox imports it for a run, from this (passed-through) module."""
    made: list[str] = []
    real = rules.decide

    def counted(state: Any, event: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(event.event_id)
        return real(state, event, *args, **kwargs)

    monkeypatch.setattr(rules, "decide", counted)
    return made


class TestDecideOnce:
    async def test_each_event_is_decided_once_and_replay_decides_the_same(
        self, time_skipping: WorkflowEnvironment, decisions: list[str]
    ) -> None:
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            ident = event("identified", await b.now(), person=dict(EU_ADULT), subject_ref="once")
            assert isinstance(ident, Identified)
            case_id, _ = await b.open(ident)
            interview = event("ngo_interview_held", await b.now())
            first = await b.send(case_id, interview)
            again = await b.send(case_id, interview)  # a repeat: decided, found a duplicate
            assert not first.duplicate and again.duplicate
            assert decisions == [ident.event_id, interview.event_id, interview.event_id]

            history = await b.client.get_workflow_handle(case_id).fetch_history()
            decisions.clear()
            replayer = Replayer(
                workflows=[VictimCaseWorkflow], data_converter=data_converter(TEST_KEYS)
            )
            await replayer.replay_workflow(history)
            # No validator on replay: the handler decides each accepted update itself.
            assert decisions == [ident.event_id, interview.event_id, interview.event_id]
