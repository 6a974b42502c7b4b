"""Every stored history replays against the current workflow code without non-determinism.

The corpus in tests/histories/ is recorded from the scenario tests by
``scripts/record_histories.sh``; a change to the workflow that would strand running cases
fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from pathway.domain.organisations import Organisation
from pathway.domain.state import Phase
from pathway.privacy.codec import is_encrypted
from pathway.privacy.history import collect_payloads
from pathway.temporal_connection import data_converter
from pathway.workflows.case import VersionedVictimCaseWorkflow, VictimCaseWorkflow
from pathway.workflows.programme import (
    ProgrammeRegisterWorkflow,
    VersionedProgrammeRegisterWorkflow,
)
from tests.before_patches import CaseIgnoringPermitsRestoredMoot
from tests.keys import TEST_KEYS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
#: Replays check commands, not time: the SDK's deadlock detector (a workflow activation that
#: does not yield within 2 s fails) guards a production worker, and on a machine busy with CI
#: it fired for one slow activation of a long history (busy CI of 2 December). Debug mode turns
#: it off; the sandbox stays as it is but for allowing ``breakpoint()``.
REPLAY_DEBUG = True
_IDS = Path(__file__).parent / "histories" / "workflow-ids.txt"
#: The recorded workflow ID of each history (the file name, where none was kept).
WORKFLOW_IDS = (
    dict(line.split(" ", 1) for line in _IDS.read_text().splitlines() if line)
    if _IDS.exists()
    else {}
)


async def test_the_old_branch_of_the_lazily_asked_patch_is_kept() -> None:
    """The corpus guards the old branch of ``s3-permits-restored-moot`` (asked lazily, by the
    first event that meets an open S3 obligation): its history from before the patch, where a
    late extension left the lapse open until it escalated, fails to replay on code that takes
    the new branch without asking the patch (tests/before_patches.py), and replays cleanly on
    today's (``test_history_replays``)."""
    path = Path(__file__).parent / "histories" / "adult-permit-extended-late-before-patch.json"
    history = WorkflowHistory.from_json(WORKFLOW_IDS.get(path.stem, path.stem), path.read_text())
    replayer = Replayer(
        workflows=[CaseIgnoringPermitsRestoredMoot, ProgrammeRegisterWorkflow],
        data_converter=data_converter(TEST_KEYS),
        debug_mode=REPLAY_DEBUG,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    # sdk-core names it a non-determinism error, or (a timer the history has cancelled, which
    # the wrong code never started) an invalid transition of its workflow machines.
    failure = str(result.replay_failure)
    assert "Nondeterminism" in failure or "Fatal error in workflow machine" in failure


def test_the_corpus_is_not_empty() -> None:
    """The replay net holds something: an empty corpus would prove nothing."""
    assert len(HISTORIES) >= 9


#: The IDs of the case and register workflows' patches (``workflow.patched``;
#: docs/versioning.md).
PATCH_IDS = {
    "escalate-undelivered-reminders",
    "search-attribute-obligation-owners",
    "linked-case-started-by-activity",
    "legal-time-ljubljana",
    "seed-residence-rules",
    "seed-assistance-rules",
    "seed-child-rules",
    "statistics-ledger",
    "seed-reintegration-dates",
    "moot-escalations-every-track",
    "eu-citizen-not-a-protection-applicant",
    "programme-statistics-ledger",
    "continue-as-new-while-asleep",
    "s3-lapsed-permit-day-from-validity",
    "one-timer-per-wake-up",
    "one-marker-for-earlier-patches",
    "s3-permits-restored-moot",
}


def _clear_and_harmless(payload: Payload) -> bool:
    """A phase or the owners of open obligations (search attributes), or what the SDK writes in
    clear for a patch: the marker's details and the ``TemporalChangeVersion`` search
    attribute, patch IDs only."""
    if payload.metadata.get("type") == b"Keyword":
        return payload.data in {f'"{phase.value}"'.encode() for phase in Phase}
    data = json.loads(payload.data)
    if payload.metadata.get("type") == b"KeywordList":
        # The patches a run saw (TemporalChangeVersion), or the organisations that owe an open
        # obligation (PathwayObligationOwners): names of organisations, nothing of the person.
        organisations = {o.value for o in Organisation}
        return isinstance(data, list) and (set(data) <= PATCH_IDS or set(data) <= organisations)
    return isinstance(data, dict) and set(data) == {"id", "deprecated"} and data["id"] in PATCH_IDS


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_history_is_encrypted(path: Path) -> None:
    """Every payload of the stored history is sealed (recorded with the test-only key), but
    for search-attribute values, which Temporal indexes in clear and which are phases only,
    and patch markers, which name a patch and nothing of the case."""
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    payloads: list[Payload] = []
    collect_payloads(History(events=history.events), payloads)
    assert payloads
    clear = [p for p in payloads if not is_encrypted(p)]
    assert all(_clear_and_harmless(p) for p in clear)


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path, versioned: bool) -> None:
    """The stored history replays cleanly with the current code: the classes an unversioned
    worker registers, and the subclasses a versioned one does (their run only calls the base's,
    so a case moving between the two replays alike; docs/versioning.md)."""
    history = WorkflowHistory.from_json(WORKFLOW_IDS.get(path.stem, path.stem), path.read_text())
    workflows: list[type] = (
        [VersionedVictimCaseWorkflow, VersionedProgrammeRegisterWorkflow]
        if versioned
        else [VictimCaseWorkflow, ProgrammeRegisterWorkflow]
    )
    replayer = Replayer(
        workflows=workflows, data_converter=data_converter(TEST_KEYS), debug_mode=REPLAY_DEBUG
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
