"""Delivering one notification from a workflow: the ``notify`` activity on the recipient
organisation's own task queue, retried with backoff until delivered. Shared by the case and
programme-register workflows."""

from __future__ import annotations

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
            extra={"case_id": notification.case_id, "reason": notification.reason,
                   "recipient": notification.recipient.value},
        )
        return DeliveryOutcome.failed(notification, type(err.cause).__name__)
    return outcome
