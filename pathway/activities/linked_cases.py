"""Starting a linked case (an accompanying child identified as a victim, R1) from an activity.

The case that opens it (the parent) does not start it as a child workflow: Temporal would then
link the two executions in metadata anyone with access to the Temporal UI can read (the child's
parent execution, the parent's child-workflow events naming the child's ID), while issue 11
item 6 holds the link only inside the encrypted state of each case. And a child-workflow
command carries the child's input sealed under the child's key, so erasing the child (its key
destroyed) would fail every later workflow task of the parent.

Here the parent schedules ``start_linked_case``: its input is sealed under the parent's key (the
activity's serialization context is the parent's workflow ID), and the client below seals the
new case's input under the new case's own key when it starts it, as any client opening a case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from pathway.privacy.keys import CaseErased
from pathway.workflows.case import VictimCaseWorkflow
from pathway.workflows.inputs import LinkedCaseStart


class LinkedCaseStarter:
    """Holds the Temporal client that starts linked cases (R1, issue 11 item 6).

    Register with ``Worker(..., activities=LinkedCaseStarter(client).activities())`` on the
    case task queue (the parent schedules the activity on its own queue).
    """

    def __init__(self, client: Client) -> None:
        self.client = client

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [self.start_linked_case]

    @activity.defn(name="start_linked_case")
    async def start_linked_case(self, start: LinkedCaseStart) -> None:
        """Start the linked case ``start.case_id`` as a workflow of its own, with no parent.

        Idempotent: a case already started under that ID (by an earlier attempt that lost its
        answer, by the run before a continue-as-new, or started and since closed or erased)
        is left alone, so a retry after success does nothing. A case whose key is destroyed
        (erased before it could start) fails without retry: it can never be written again.
        """
        try:
            await self.client.start_workflow(
                VictimCaseWorkflow.run,
                start.input,
                id=start.case_id,
                task_queue=start.task_queue,
                # Never a second run under the ID of a case that closed or was erased.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            activity.logger.info("linked case already started")
        except CaseErased as error:
            # No ID or personal data in the log or the failure: the error's type says it all.
            activity.logger.warning("linked case not started: its key is destroyed")
            raise ApplicationError(
                "the linked case was erased", type=type(error).__name__, non_retryable=True
            ) from None
