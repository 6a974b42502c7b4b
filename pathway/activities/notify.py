"""Deliver a notification to the organisation that must act (docs/rules.md "Notifications").

The delivery channel (signed webhook, SMTP e-mail or local outbox) comes from the injected
:class:`~pathway.channels.Channels`. Every failure raises a retryable ``DeliveryFailed``
:class:`~temporalio.exceptions.ApplicationError`, so Temporal's activity retry policy provides the
backoff; every channel carries the notification's idempotency key, so a retry after a lost answer
can be recognised as a duplicate by the receiver.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import smtplib
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from pathway.channels import (
    Channel,
    Channels,
    OutboxChannel,
    SmtpChannel,
    WebhookChannel,
    open_outbox,
)
from pathway.domain.state import DeliveryOutcome, Notification
from pathway.metrics.activity import notification_attempt

#: The ``ApplicationError.type`` of every failed delivery attempt (retryable).
DELIVERY_FAILED = "DeliveryFailed"
#: The ``ApplicationError.type`` of a notification no channel header can carry (not retryable).
INVALID_NOTIFICATION = "InvalidNotification"

SIGNATURE_HEADER = "X-Pathway-Signature"
TIMESTAMP_HEADER = "X-Pathway-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_SIGNATURE_PREFIX = "sha256="


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Pathway-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body``.

    The timestamp is signed with the body so a captured request cannot be replayed later with a
    fresh timestamp; receivers should also reject timestamps far from their own clock.
    """
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return _SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the valid ``X-Pathway-Signature`` of ``body`` sent at ``timestamp``."""
    # compare_digest: a plain == leaks through timing how much of a forged signature was right.
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), header.encode())


def message_id(idempotency_key: str) -> str:
    """The e-mail ``Message-ID`` of a notification: the same on every retry, so mail clients and
    servers that deduplicate by Message-ID show a retried delivery once."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"<{digest[:32]}@pathway.invalid>"


def email_subject(notification: Notification) -> str:
    """The subject line: the reason code and the case ID, never anything about the person.

    Mail subjects show up in inbox lists, notifications on phones and server logs.
    """
    return f"[Pathway] {notification.reason.replace('_', ' ')} – {notification.case_id}"


def email_body(notification: Notification) -> str:
    """The plain-text body: what must be done for which case, by when."""
    due = notification.due_at.isoformat() if notification.due_at else "none"
    return (
        f"Case ID: {notification.case_id}\n"
        f"Rule: {notification.rule}\n"
        f"Action: {notification.action}\n"
        f"Due: {due}\n"
        f"Issued at: {notification.issued_at.isoformat()}\n"
        f"Idempotency key: {notification.idempotency_key}\n"
    )


def _failed(message: str) -> ApplicationError:
    # Retryable on purpose, even for answers like 401 or 404: a notification is an obligation,
    # so after the operator fixes the URL or the secret, the pending retries must get through.
    return ApplicationError(message, type=DELIVERY_FAILED, non_retryable=False)


#: Visible ASCII, no spaces: safe in any HTTP or e-mail header without encoding or folding.
_HEADER_VALUE = re.compile(r"[!-~]+")


def _header_safe(notification: Notification) -> None:
    """Refuse a notification whose idempotency key cannot be an HTTP or e-mail header value.

    The rules build keys as ``<case ID>:<episode>:<recipient>:<reason>:<sequence>``, which
    always pass; anything else is a bug that no retry can fix, so it fails at once instead of
    retrying for ever.
    """
    if not _HEADER_VALUE.fullmatch(notification.idempotency_key):
        raise ApplicationError(
            "idempotency key is not printable ASCII without spaces",
            type=INVALID_NOTIFICATION,
            non_retryable=True,
        )


class Notifier:
    """The notify activity, holding the channel configuration and an optional shared HTTP client.

    Register with ``Worker(..., activities=Notifier(channels, http).activities())``.
    """

    def __init__(self, channels: Channels, http: httpx.AsyncClient | None = None) -> None:
        self._channels = channels
        # None: each webhook delivery opens (and closes) its own client, which suits a worker
        # that notifies rarely; pass a shared client to reuse connections.
        self._http = http
        # Outbox appends run in worker threads; the lock keeps concurrent lines whole.
        self._outbox_lock = threading.Lock()

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [self.notify]

    @activity.defn(name="notify")
    async def notify(self, notification: Notification) -> DeliveryOutcome:
        """Deliver ``notification`` through its recipient's channel, or raise ``DeliveryFailed``.

        Returns only deliveries: every failure is raised, for Temporal to retry (unless no retry
        can help) and, in the end, for the workflow to record.
        """
        channel: Channel = self._channels.for_recipient(notification.recipient)
        with notification_attempt(channel.kind, notification.recipient.value):
            match channel:
                case WebhookChannel():
                    await self._post(channel, notification)
                case SmtpChannel():
                    await self._mail(channel, notification)
                case OutboxChannel():
                    await self._append(channel, notification)
        outcome = DeliveryOutcome(
            idempotency_key=notification.idempotency_key,
            recipient=notification.recipient,
            delivered=True,
            channel=channel.kind,
            delivered_at=datetime.now(UTC),
            attempt=activity.info().attempt,
        )
        # Only the reason code: the action text is for the recipient, not for log aggregation.
        fields = {
            "case_id": notification.case_id,
            "recipient": notification.recipient.value,
            "reason": notification.reason,
            "channel": channel.kind,
        }
        activity.logger.info(
            "notification delivered %s",
            " ".join(f"{key}={value}" for key, value in fields.items()),
            extra=fields,
        )
        return outcome

    # -- webhook -------------------------------------------------------------------------------
    async def _post(self, channel: WebhookChannel, notification: Notification) -> None:
        _header_safe(notification)
        body = notification.model_dump_json().encode()
        timestamp = str(int(datetime.now(UTC).timestamp()))
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: notification.idempotency_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(channel.secret.get_secret_value().encode(), timestamp, body),
        }
        recipient = notification.recipient.value
        try:
            if self._http is not None:
                response = await self._http.post(
                    channel.url, content=body, headers=headers, timeout=channel.timeout_seconds
                )
            else:
                async with httpx.AsyncClient() as client:
                    response = await client.post(
                        channel.url, content=body, headers=headers, timeout=channel.timeout_seconds
                    )
        except httpx.HTTPError as error:
            # The URL stays out of the message: it may carry a token, and messages end up in
            # the workflow history.
            raise _failed(f"webhook of {recipient} unreachable: {type(error).__name__}") from error
        # 409: the receiver already has this idempotency key, i.e. an earlier attempt arrived
        # but its answer was lost. That is a delivery, not a failure.
        if not (response.is_success or response.status_code == httpx.codes.CONFLICT):
            raise _failed(f"webhook of {recipient} answered HTTP {response.status_code}")

    # -- e-mail --------------------------------------------------------------------------------
    async def _mail(self, channel: SmtpChannel, notification: Notification) -> None:
        _header_safe(notification)
        message = EmailMessage()
        try:
            message["Subject"] = email_subject(notification)
        except ValueError as error:  # a line break in the reason or case ID: header injection
            raise ApplicationError(
                "reason or case ID cannot be an e-mail subject",
                type=INVALID_NOTIFICATION,
                non_retryable=True,
            ) from error
        message["From"] = channel.sender
        message["To"] = ", ".join(channel.recipients)
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = message_id(notification.idempotency_key)
        message["X-Pathway-Idempotency-Key"] = notification.idempotency_key
        message.set_content(email_body(notification))
        try:
            # smtplib blocks; a thread keeps the worker's event loop free for other activities.
            refused = await asyncio.to_thread(_send_mail, channel, message)
        except (smtplib.SMTPException, OSError) as error:
            raise _failed(
                f"e-mail to {notification.recipient.value} failed: {type(error).__name__}"
            ) from error
        if refused:
            # Some addresses accepted it, so the organisation has it; retrying would send it
            # again to those that did. Left for the operator to fix the refused addresses.
            activity.logger.warning(
                "notification e-mail refused by %d of %d recipients of %s",
                len(refused),
                len(channel.recipients),
                notification.recipient.value,
            )

    # -- outbox --------------------------------------------------------------------------------
    async def _append(self, channel: OutboxChannel, notification: Notification) -> None:
        path = channel.directory / f"{notification.recipient.value}.jsonl"
        line = notification.model_dump_json().encode() + b"\n"
        try:
            await asyncio.to_thread(self._append_line, path, line)
        except OSError as error:
            raise _failed(
                f"outbox of {notification.recipient.value} not writable: {error.strerror}"
            ) from error

    def _append_line(self, path: Path, line: bytes) -> None:
        # Created 0600 in a 0700 directory whatever the umask (channels.open_outbox).
        with self._outbox_lock, open_outbox(path) as file:
            file.write(line)
            file.flush()
            # fsync before reporting success: once the workflow records the delivery, the line
            # must survive a power cut.
            os.fsync(file.fileno())


def _send_mail(channel: SmtpChannel, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
    """Send ``message`` in one SMTP session; the recipients the server refused (if not all)."""
    with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_seconds) as smtp:
        if channel.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if channel.username is not None:
            password = channel.password.get_secret_value() if channel.password else ""
            smtp.login(channel.username, password)
        return smtp.send_message(message, from_addr=channel.sender, to_addrs=channel.recipients)
