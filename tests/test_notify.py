"""The notify activity against real receivers (docs/rules.md "Notifications")."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from pathway.activities.notify import (
    DELIVERY_FAILED,
    INVALID_NOTIFICATION,
    Notifier,
    message_id,
    sign,
    verify_signature,
)
from pathway.channels import (
    CHANNELS_ENV,
    ChannelConfigError,
    Channels,
    OutboxChannel,
    SmtpChannel,
    WebhookChannel,
    load_channels,
)
from pathway.domain.ids import case_id_for
from pathway.domain.organisations import NOTIFIED, Organisation
from pathway.domain.state import DeliveryOutcome, Notification
from tests.profiles import examples
from tests.receivers import SmtpReceiver, WebhookReceiver, eventually, free_port

EXAMPLE_TOML = Path(__file__).resolve().parents[1] / "deploy" / "channels.example.toml"
SECRET = "test-webhook-secret-0123456789"
CASE_ID = case_id_for("PU-LJ 2025/17", b"test pepper")
ACTION = "The victim left assistance without notice: check on their safety."


def notification(
    sequence: int = 1,
    recipient: Organisation = Organisation.POLICE,
    reason: str = "arbitrary_departure",
) -> Notification:
    """A notification as the rules issue it (R1, arbitrary departure)."""
    return Notification(
        idempotency_key=f"{CASE_ID}:{reason}:{sequence}",
        case_id=CASE_ID,
        sequence=sequence,
        recipient=recipient,
        reason=reason,
        rule="R1",
        action=ACTION,
        issued_at=datetime(2025, 3, 4, 9, 30, tzinfo=UTC),
        due_at=datetime(2025, 3, 7, 9, 30, tzinfo=UTC),
    )


async def deliver(notifier: Notifier, sent: Notification, attempt: int = 1) -> DeliveryOutcome:
    """Run the notify activity once in a real activity context, as attempt ``attempt``."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type="notify", attempt=attempt)
    return await env.run(notifier.notify, sent)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A shared HTTP client, as a worker injects it (ignoring proxy variables of the host)."""
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A running webhook receiver."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    """A running SMTP receiver."""
    with SmtpReceiver() as receiver:
        yield receiver


def webhook_notifier(url: str, http: httpx.AsyncClient | None) -> Notifier:
    """A notifier that sends the police's notifications to ``url``."""
    channel = WebhookChannel(url=url, secret=SECRET, timeout_seconds=5)
    return Notifier(Channels(organisations={Organisation.POLICE: channel}), http)


def smtp_notifier(receiver: SmtpReceiver) -> Notifier:
    """A notifier that mails the social work centre's notifications to ``receiver``."""
    channel = SmtpChannel(
        host=receiver.host,
        port=receiver.port,
        sender="pathway@example.invalid",
        recipients=["duty@csd.example.invalid", "lead@csd.example.invalid"],
        timeout_seconds=5,
    )
    return Notifier(Channels(organisations={Organisation.SOCIAL_WORK_CENTRE: channel}))


class TestWebhook:
    async def test_delivers_signed_notification(
        self, webhook: WebhookReceiver, http: httpx.AsyncClient
    ) -> None:
        """The notification arrives as JSON with a valid HMAC signature and its idempotency key."""
        sent = notification()

        receipt = await deliver(webhook_notifier(webhook.url, http), sent)

        [request] = webhook.requests
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert headers["content-type"] == "application/json"
        assert headers["idempotency-key"] == sent.idempotency_key
        assert verify_signature(
            SECRET.encode(),
            headers["x-pathway-timestamp"],
            request.body,
            headers["x-pathway-signature"],
        )
        assert webhook.notifications() == [sent]
        assert receipt.delivered
        assert receipt.channel == "webhook"
        assert receipt.recipient is Organisation.POLICE
        assert receipt.idempotency_key == sent.idempotency_key
        assert receipt.attempt == 1

    def test_signature_binds_secret_timestamp_and_body(self) -> None:
        """A signature fails to verify with another secret, timestamp or body."""
        header = sign(b"secret-a", "1700000000", b"{}")

        assert header.startswith("sha256=")
        assert verify_signature(b"secret-a", "1700000000", b"{}", header)
        assert not verify_signature(b"secret-b", "1700000000", b"{}", header)
        assert not verify_signature(b"secret-a", "1700000001", b"{}", header)
        assert not verify_signature(b"secret-a", "1700000000", b"{ }", header)

    async def test_server_error_raises_retryable(
        self, webhook: WebhookReceiver, http: httpx.AsyncClient
    ) -> None:
        """A 500 answer raises a retryable DeliveryFailed, so Temporal retries with backoff."""
        webhook.fail_next = 1

        with pytest.raises(ApplicationError, match="HTTP 500") as raised:
            await deliver(webhook_notifier(webhook.url, http), notification())

        assert raised.value.type == DELIVERY_FAILED
        assert not raised.value.non_retryable
        assert webhook.notifications() == []

    async def test_retries_after_outage_deliver_once(
        self, webhook: WebhookReceiver, http: httpx.AsyncClient
    ) -> None:
        """Attempts during an outage fail; the next one succeeds under the same idempotency key."""
        notifier = webhook_notifier(webhook.url, http)
        sent = notification()
        webhook.fail_next = 2

        for attempt in (1, 2):
            with pytest.raises(ApplicationError, match="HTTP 500"):
                await deliver(notifier, sent, attempt)
        receipt = await deliver(notifier, sent, attempt=3)

        assert receipt.attempt == 3
        keys = {request.headers["Idempotency-Key"] for request in webhook.requests}
        assert keys == {sent.idempotency_key}
        assert len(webhook.requests) == 3
        assert webhook.notifications() == [sent]

    async def test_conflict_counts_as_delivered(
        self, webhook: WebhookReceiver, http: httpx.AsyncClient
    ) -> None:
        """A 409 (the receiver already has this idempotency key) is a delivery, not a failure."""
        webhook.status_code = 409

        receipt = await deliver(webhook_notifier(webhook.url, http), notification())

        assert receipt.channel == "webhook"
        assert len(webhook.requests) == 1

    async def test_client_error_is_retried_too(
        self, webhook: WebhookReceiver, http: httpx.AsyncClient
    ) -> None:
        """A 401 (e.g. a wrong secret) stays retryable, so deliveries resume once it is fixed."""
        webhook.status_code = 401

        with pytest.raises(ApplicationError, match="HTTP 401") as raised:
            await deliver(webhook_notifier(webhook.url, http), notification())

        assert not raised.value.non_retryable

    async def test_unreachable_receiver_raises(self, http: httpx.AsyncClient) -> None:
        """A refused connection raises a retryable DeliveryFailed."""
        url = f"http://127.0.0.1:{free_port()}/notifications"

        with pytest.raises(ApplicationError, match="unreachable") as raised:
            await deliver(webhook_notifier(url, http), notification())

        assert raised.value.type == DELIVERY_FAILED
        assert not raised.value.non_retryable

    async def test_key_unfit_for_a_header_fails_at_once(
        self, webhook: WebhookReceiver, http: httpx.AsyncClient
    ) -> None:
        """An idempotency key with a line break is refused without retries and never sent."""
        sent = notification().model_copy(update={"idempotency_key": "case-x:reason:1\r\nX-Evil: 1"})

        with pytest.raises(ApplicationError) as raised:
            await deliver(webhook_notifier(webhook.url, http), sent)

        assert raised.value.type == INVALID_NOTIFICATION
        assert raised.value.non_retryable
        assert webhook.requests == []

    async def test_delivers_without_injected_client(self, webhook: WebhookReceiver) -> None:
        """Without a shared client, the notifier opens its own for the delivery."""
        sent = notification()

        await deliver(webhook_notifier(webhook.url, None), sent)

        assert webhook.notifications() == [sent]


class TestSmtp:
    async def test_delivers_mail_without_personal_data(self, smtp: SmtpReceiver) -> None:
        """The subject holds only the reason code and case ID; the body says what to do, by when."""
        sent = notification(recipient=Organisation.SOCIAL_WORK_CENTRE)

        receipt = await deliver(smtp_notifier(smtp), sent)

        [mail] = await eventually(lambda: smtp.mails)
        message = mail.message
        assert message["Subject"] == f"[Pathway] arbitrary departure – {CASE_ID}"
        assert message["Message-ID"] == message_id(sent.idempotency_key)
        assert message["X-Pathway-Idempotency-Key"] == sent.idempotency_key
        assert mail.mail_from == "pathway@example.invalid"
        assert mail.rcpt_tos == ["duty@csd.example.invalid", "lead@csd.example.invalid"]
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        assert f"Case ID: {CASE_ID}" in text
        assert "Rule: R1" in text
        assert f"Action: {ACTION}" in text
        assert "Due: 2025-03-07T09:30:00+00:00" in text
        assert f"Idempotency key: {sent.idempotency_key}" in text
        assert receipt.channel == "smtp"

    async def test_retry_keeps_message_id(self, smtp: SmtpReceiver) -> None:
        """A repeated delivery carries the same Message-ID, so mail systems can drop the copy."""
        notifier = smtp_notifier(smtp)
        sent = notification(recipient=Organisation.SOCIAL_WORK_CENTRE)

        await deliver(notifier, sent, attempt=1)
        await deliver(notifier, sent, attempt=2)

        await eventually(lambda: len(smtp.messages) == 2)
        assert {message["Message-ID"] for message in smtp.messages} == {
            message_id(sent.idempotency_key)
        }

    async def test_transient_refusal_raises(self, smtp: SmtpReceiver) -> None:
        """A 451 from the SMTP server raises a retryable DeliveryFailed."""
        smtp.fail_next = 1

        with pytest.raises(ApplicationError, match="e-mail to social_work_centre") as raised:
            await deliver(
                smtp_notifier(smtp), notification(recipient=Organisation.SOCIAL_WORK_CENTRE)
            )

        assert raised.value.type == DELIVERY_FAILED
        assert not raised.value.non_retryable
        assert smtp.messages == []

    async def test_line_break_in_subject_fails_at_once(self, smtp: SmtpReceiver) -> None:
        """A reason with a line break (header injection) is refused without retries."""
        sent = notification(
            recipient=Organisation.SOCIAL_WORK_CENTRE, reason="x\nBcc: someone@example.invalid"
        )

        with pytest.raises(ApplicationError) as raised:
            await deliver(smtp_notifier(smtp), sent)

        assert raised.value.type == INVALID_NOTIFICATION
        assert raised.value.non_retryable
        assert smtp.messages == []

    async def test_unreachable_server_raises(self) -> None:
        """A refused SMTP connection raises a retryable DeliveryFailed."""
        channel = SmtpChannel(
            host="127.0.0.1",
            port=free_port(),
            sender="pathway@example.invalid",
            recipients=["duty@csd.example.invalid"],
            timeout_seconds=5,
        )
        notifier = Notifier(Channels(default=channel))

        with pytest.raises(ApplicationError) as raised:
            await deliver(notifier, notification())

        assert raised.value.type == DELIVERY_FAILED
        assert not raised.value.non_retryable


class TestOutbox:
    async def test_appends_one_json_line_per_notification(self, tmp_path: Path) -> None:
        """Each delivery appends one JSON line to the recipient's file, creating directories."""
        directory = tmp_path / "nested" / "outbox"
        notifier = Notifier(Channels(default=OutboxChannel(directory=directory)))
        first, second = notification(1), notification(2)

        receipts = [await deliver(notifier, first), await deliver(notifier, second)]

        lines = (directory / "police.jsonl").read_text().splitlines()
        assert [Notification.model_validate_json(line) for line in lines] == [first, second]
        assert [receipt.channel for receipt in receipts] == ["outbox", "outbox"]

    async def test_default_is_outbox_per_recipient(self, tmp_path: Path) -> None:
        """Recipients without a channel of their own share the default outbox, one file each."""
        notifier = Notifier(Channels(default=OutboxChannel(directory=tmp_path)))

        await deliver(notifier, notification(recipient=Organisation.CARITAS))
        await deliver(notifier, notification(recipient=Organisation.GUARDIAN))

        assert (tmp_path / "caritas.jsonl").is_file()
        assert (tmp_path / "guardian.jsonl").is_file()
        assert not (tmp_path / "police.jsonl").exists()


class TestLogging:
    async def test_one_line_without_action_text(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A delivery logs one line with case ID, recipient, reason and channel, not the action."""
        notifier = Notifier(Channels(default=OutboxChannel(directory=tmp_path)))

        with caplog.at_level(logging.INFO, logger="temporalio.activity"):
            await deliver(notifier, notification())

        [record] = [r for r in caplog.records if r.name == "temporalio.activity"]
        message = record.getMessage()
        for expected in (f"case_id={CASE_ID}", "recipient=police", "channel=outbox"):
            assert expected in message
        assert "reason=arbitrary_departure" in message
        assert ACTION not in message
        assert "safety" not in message


class TestLoadChannels:
    def test_parses_the_example(self) -> None:
        """The example file configures police by webhook, the social work centre by SMTP."""
        channels = load_channels(EXAMPLE_TOML)

        police = channels.for_recipient(Organisation.POLICE)
        assert isinstance(police, WebhookChannel)
        assert police.url.startswith("https://")
        social = channels.for_recipient(Organisation.SOCIAL_WORK_CENTRE)
        assert isinstance(social, SmtpChannel)
        assert social.starttls
        assert social.recipients
        others = set(NOTIFIED) - {Organisation.POLICE, Organisation.SOCIAL_WORK_CENTRE}
        for organisation in others:
            assert channels.for_recipient(organisation) == OutboxChannel(
                directory=Path("var/outbox")
            )

    def test_env_var_names_the_file(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without a path, the file named by PATHWAY_CHANNELS is read."""
        monkeypatch.setenv(CHANNELS_ENV, str(EXAMPLE_TOML))

        assert load_channels(None) == load_channels(EXAMPLE_TOML)

    def test_defaults_to_outbox(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without a path or PATHWAY_CHANNELS, every organisation gets the default outbox."""
        monkeypatch.delenv(CHANNELS_ENV, raising=False)

        channels = load_channels(None)

        assert channels == Channels()
        assert all(channels.for_recipient(org) == OutboxChannel() for org in NOTIFIED)

    def test_error_names_file_and_field(self, tmp_path: Path) -> None:
        """A webhook without a secret is rejected, naming the file and the missing option."""
        bad = tmp_path / "bad.toml"
        bad.write_text('[organisations.police]\nkind = "webhook"\nurl = "https://x.invalid"\n')

        with pytest.raises(ChannelConfigError, match=r"bad\.toml: organisations\.police\.secret"):
            load_channels(bad)

    def test_rejects_misspelt_option(self, tmp_path: Path) -> None:
        """An unknown option is an error rather than a silent fallback to the default."""
        bad = tmp_path / "bad.toml"
        bad.write_text('[default]\nkind = "outbox"\ndirectroy = "/srv/outbox"\n')

        with pytest.raises(ChannelConfigError, match=r"default\.directroy"):
            load_channels(bad)

    def test_rejects_unknown_organisation(self, tmp_path: Path) -> None:
        """A channel for an organisation that does not exist names the bad key."""
        bad = tmp_path / "bad.toml"
        bad.write_text('[organisations.polic]\nkind = "outbox"\n')

        with pytest.raises(ChannelConfigError, match=r"organisations\.polic:"):
            load_channels(bad)

    def test_rejects_invalid_toml(self, tmp_path: Path) -> None:
        """A file that is not TOML is rejected, naming the file."""
        bad = tmp_path / "bad.toml"
        bad.write_text("[default\n")

        with pytest.raises(ChannelConfigError, match=r"bad\.toml: not valid TOML"):
            load_channels(bad)

    def test_rejects_missing_file(self, tmp_path: Path) -> None:
        """A path that does not exist is rejected, naming the file."""
        with pytest.raises(ChannelConfigError, match=r"missing\.toml: cannot read"):
            load_channels(tmp_path / "missing.toml")


_texts = st.text(max_size=40)
_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
notifications = st.builds(
    Notification,
    # Keys fit for a header, as the rules build them; other keys are refused (tested above).
    idempotency_key=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1),
    case_id=_texts,
    sequence=st.integers(min_value=0, max_value=10**9),
    recipient=st.sampled_from(NOTIFIED),
    reason=_texts,
    rule=_texts,
    action=st.text(max_size=200),
    issued_at=_times,
    due_at=st.none() | _times.map(lambda t: t + timedelta(days=3)),
)


class TestPayload:
    # The receiver fixture lives for the whole test, not one example; each example checks only
    # the request it sent, so what earlier examples left behind does not matter.
    @settings(
        max_examples=examples(40),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(sent=notifications)
    async def test_body_is_only_the_notification(
        self, webhook: WebhookReceiver, http: httpx.AsyncClient, sent: Notification
    ) -> None:
        """The JSON sent has exactly the Notification model's fields and round-trips to it."""
        notifier = Notifier(
            Channels(default=WebhookChannel(url=webhook.url, secret=SECRET)),
            http,
        )

        await deliver(notifier, sent)

        body = webhook.requests[-1].json
        assert set(body) == set(Notification.model_fields)
        assert Notification.model_validate_json(json.dumps(body)) == sent


class TestDeliveryOutcome:
    def test_a_receipt_recorded_in_a_running_case_reads_as_delivered(self) -> None:
        """The activity result in histories recorded before the outcome had ``delivered`` (the
        receipt in tests/histories) reads as a delivery by its channel."""
        recorded = (
            '{"idempotency_key":"case-yrz5zn2exvcybbiolezufi2o:case_identified:1",'
            '"recipient":"caritas","channel":"smtp","delivered_at":"2026-11-29T00:27:56.403552Z",'
            '"attempt":1}'
        )
        outcome = DeliveryOutcome.model_validate_json(recorded)
        assert outcome.delivered
        assert outcome.describe() == "delivered by smtp"

    def test_a_failure_names_its_reason(self) -> None:
        """A failed outcome says why on the timeline; a delivery without a channel or a failure
        without a reason is refused."""
        sent = notification()
        assert DeliveryOutcome.failed(sent, "ApplicationError").describe() == (
            "failed: ApplicationError"
        )
        with pytest.raises(ValueError, match="names its channel"):
            DeliveryOutcome(idempotency_key=sent.idempotency_key, recipient=sent.recipient)
        with pytest.raises(ValueError, match="names its reason"):
            DeliveryOutcome(
                idempotency_key=sent.idempotency_key, recipient=sent.recipient, delivered=False
            )
