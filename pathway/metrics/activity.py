"""The notify activity's metrics, recorded through ``activity.metric_meter()`` (the SDK's
meter; it adds ``namespace``, ``task_queue`` and ``activity_type``). Labels: the channel kind
(``webhook``, ``smtp``, ``outbox``) and the recipient organisation's role name, never a case.

- ``pathway_notifications_delivered_total{channel, organisation}``: notifications delivered.
- ``pathway_notifications_failed_total{channel, organisation, retryable}``: delivery attempts
  that failed (``retryable="false"``: no retry can help, the case records the failure at once).
- ``pathway_notifications_retried_total{channel, organisation}``: attempts after the first (each
  follows a failed attempt, a timeout or a lost worker).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

from temporalio import activity
from temporalio.exceptions import ApplicationError

from pathway.metrics.workflow import code

__all__ = ["notification_attempt"]

DELIVERED: Final = "pathway_notifications_delivered"
FAILED: Final = "pathway_notifications_failed"
RETRIED: Final = "pathway_notifications_retried"


@contextlib.contextmanager
def notification_attempt(channel: str, organisation: str) -> Iterator[None]:
    """Count one delivery attempt of the running notify activity to ``organisation`` by
    ``channel``: retried if it is not the first, then delivered if the block ends normally or
    failed if it raises (the exception goes on). A cancelled attempt counts only as retried."""
    meter = activity.metric_meter()
    labels = {"channel": code(channel), "organisation": code(organisation)}
    if activity.info().attempt > 1:
        meter.create_counter(RETRIED, "Notification delivery attempts after the first").add(
            1, labels
        )
    try:
        yield
    except Exception as error:
        retryable = not (isinstance(error, ApplicationError) and error.non_retryable)
        meter.create_counter(FAILED, "Notification delivery attempts that failed").add(
            1, {**labels, "retryable": "true" if retryable else "false"}
        )
        raise
    meter.create_counter(DELIVERED, "Notifications delivered").add(1, labels)
