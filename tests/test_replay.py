"""Every stored history replays against the current workflow code without non-determinism.

The corpus in tests/histories/ is recorded from the scenario tests by
``scripts/record_histories.sh``; a change to the workflow that would strand running cases
fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from pathway.domain.state import Phase
from pathway.privacy.codec import is_encrypted
from pathway.privacy.history import collect_payloads
from pathway.temporal_connection import data_converter
from pathway.workflows.case import VictimCaseWorkflow
from pathway.workflows.programme import ProgrammeRegisterWorkflow
from tests.keys import TEST_KEYS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
_IDS = Path(__file__).parent / "histories" / "workflow-ids.txt"
#: The recorded workflow ID of each history (the file name, where none was kept).
WORKFLOW_IDS = (
    dict(line.split(" ", 1) for line in _IDS.read_text().splitlines() if line)
    if _IDS.exists()
    else {}
)


def test_the_corpus_is_not_empty() -> None:
    """The replay net holds something: an empty corpus would prove nothing."""
    assert len(HISTORIES) >= 9


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_history_is_encrypted(path: Path) -> None:
    """Every payload of the stored history is sealed (recorded with the test-only key), but
    for search-attribute values, which Temporal indexes in clear and which are phases only."""
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    payloads: list[Payload] = []
    collect_payloads(History(events=history.events), payloads)
    assert payloads
    phases = {f'"{phase.value}"'.encode() for phase in Phase}
    clear = [p for p in payloads if not is_encrypted(p)]
    assert all(p.metadata.get("type") == b"Keyword" and p.data in phases for p in clear)


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    """The stored history replays cleanly with the current code."""
    history = WorkflowHistory.from_json(WORKFLOW_IDS.get(path.stem, path.stem), path.read_text())
    replayer = Replayer(
        workflows=[VictimCaseWorkflow, ProgrammeRegisterWorkflow],
        data_converter=data_converter(TEST_KEYS),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
