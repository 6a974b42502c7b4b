"""The error a workflow raises for an event that breaks a rule, shared by the case and
programme-register workflows and read back by :mod:`pathway.clients.cases`.

An ``EventRejected`` :class:`~temporalio.exceptions.ApplicationError` built from the domain's
:class:`~pathway.domain.rules.Rejection`, raised by update validators, so a rejected event never
reaches history.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pathway.domain.rules import Rejection

#: The ``ApplicationError.type`` of a rejected event (not retryable: the event must change).
EVENT_REJECTED = "EventRejected"


class EventRejectedDetails(BaseModel):
    """The details of an ``EventRejected`` error: what a sender needs to correct the event."""

    rule: str
    field: str | None
    reason: str


def rejection_error(rejection: Rejection) -> ApplicationError:
    """The error that tells the sender which rule the event broke, where and why."""
    details = EventRejectedDetails(
        rule=rejection.rule, field=rejection.field, reason=rejection.reason
    )
    return ApplicationError(rejection.message(), details, type=EVENT_REJECTED, non_retryable=True)
