"""What the case workflow logs per event (issue 14, item 2, logging): one ``case changed``
line at info per accepted event, with codes and counts; nothing per payload (the codec logs
only a refusal); nothing at all at info once the level is above it."""

from __future__ import annotations

import logging

import pytest
from structlog.testing import capture_logs
from temporalio.testing import WorkflowEnvironment

from tests.factories import EU_ADULT
from tests.harness import bench
from tests.test_case_workflow import identify

#: The events ``identify`` sends, in order.
SENT = ["identified", "ngo_interview_held", "rights_information_given"]
#: The project's structlog lines an event may lead to: one per activity run, none per payload.
PER_ACTIVITY = {"statistics recorded", "notification delivered"}


def _workflow_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "temporalio.workflow"]


async def test_one_info_line_per_accepted_event_and_none_per_payload(
    time_skipping: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as structured:
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            await identify(b, dict(EU_ADULT), "log-1")
    lines = _workflow_lines(caplog)
    assert {r.getMessage().split(" ({")[0] for r in lines} == {"case changed"}
    causes = [c for r in lines if (c := getattr(r, "cause", None)) != "deadline"]
    assert causes == SENT
    assert all(r.levelno == logging.INFO for r in lines)
    # Nothing per payload: dozens of payloads were sealed and opened, and only activities
    # logged (the codec logs a refusal only).
    assert [e["event"] for e in structured if e["event"] not in PER_ACTIVITY] == []


async def test_nothing_at_info_when_the_level_is_warning(
    time_skipping: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with bench(time_skipping, upsert_search_attributes=False) as b:
        await identify(b, dict(EU_ADULT), "log-2")
    assert _workflow_lines(caplog) == []
