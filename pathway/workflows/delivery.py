"""Delivering notifications from a workflow, shared by the case and programme-register workflows:
the ``notify`` activity on the recipient organisation's own task queue, retried with backoff until
delivered, one asyncio task per notification, and its :class:`DeliveryOutcome` handed back to the
workflow to settle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pathway.domain.organisations import notification_task_queue
    from pathway.domain.state import DeliveryOutcome, Notification

#: Deliveries retry with backoff for as long as it takes (a receiver may be down for a day);
#: idempotency keys let receivers drop the duplicates that retries can cause.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    maximum_attempts=0,
)
NOTIFY_TIMEOUT = timedelta(seconds=60)


async def deliver(notification: Notification, queue_prefix: str) -> DeliveryOutcome:
    """Deliver ``notification``; returns what became of it."""
    try:
        outcome: DeliveryOutcome = await workflow.execute_activity(
            "notify",
            notification,
            task_queue=notification_task_queue(notification.recipient, queue_prefix),
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
            result_type=DeliveryOutcome,
        )
    except ActivityError as err:
        # Only a non-retryable failure (e.g. a misconfigured channel) ends up here.
        workflow.logger.error(
            "notification failed",
            extra={
                "case_id": notification.case_id,
                "reason": notification.reason,
                "recipient": notification.recipient.value,
            },
        )
        return DeliveryOutcome.failed(notification, type(err.cause).__name__)
    return outcome


#: What a workflow does once a notification is delivered (or finally failed): take it off its
#: pending list, record the outcome, wake its main loop.
Settle = Callable[[Notification, DeliveryOutcome], None]


class Deliveries:
    """The notifications a workflow is delivering, one task each, keyed by idempotency key.

    The pending notifications live in the workflow's state, so they survive continue-as-new; the
    workflow hands them to :meth:`dispatch` on every turn of its main loop, which starts a
    delivery for each one not yet in flight and calls ``settle`` when it ends.
    """

    def __init__(self, queue_prefix: str, settle: Settle) -> None:
        self._queue_prefix = queue_prefix
        self._settle = settle
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    def dispatch(self, pending: Iterable[Notification]) -> None:
        """Start delivering each of ``pending`` not already in flight, in their order."""
        for notification in pending:
            key = notification.idempotency_key
            if key not in self._in_flight:
                self._in_flight[key] = asyncio.create_task(self._deliver(notification))

    @property
    def in_flight(self) -> bool:
        """Whether a delivery is still running (a workflow waits for none before it ends)."""
        return bool(self._in_flight)

    async def _deliver(self, notification: Notification) -> None:
        outcome = await deliver(notification, self._queue_prefix)
        self._settle(notification, outcome)
        del self._in_flight[notification.idempotency_key]
