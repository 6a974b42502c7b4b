"""Fault injection: killed worker processes, a killed Temporal server, receivers down for a day
and the same event arriving twice at once. Whatever fails, no event, timer or notification is
lost, and the only duplicates are copies a receiver drops by their ``Idempotency-Key``.

Each fault test leaves one line in the terminal summary ("fault injection", tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from pathway.activities.notify import DELIVERY_FAILED, IDEMPOTENCY_HEADER
from pathway.channels import Channels, WebhookChannel
from pathway.clients import cases
from pathway.domain.calendar import end_of_day, local_date
from pathway.domain.events import Identified
from pathway.domain.organisations import NOTIFIED, Organisation
from pathway.domain.state import CaseState, Notification
from pathway.temporal_binaries import DevServer, start_dev_server, stop_process
from pathway.temporal_connection import data_converter, default_keystore
from tests.factories import ALL_SUBJECTS, EU_ADULT, event
from tests.faults import FaultReport, issued, settled_deliveries, tally
from tests.harness import PEPPER, WEBHOOK_SECRET, Bench, bench, channels_for, receivers
from tests.keys import TEST_KEYS
from tests.receivers import ReceivedRequest, WebhookReceiver, eventually, free_port

ROOT = Path(__file__).resolve().parent.parent
Report = Callable[[FaultReport], None]

# The delivery retry policy every notification runs under (README "How it is built"): the first
# retry after 5 s, each wait twice the one before, never more than an hour apart.
FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(hours=1)


def attempt_offsets(within: timedelta) -> list[timedelta]:
    """When the attempts of a delivery that keeps failing start, counted from the first."""
    offsets, at, wait = [timedelta(0)], timedelta(0), FIRST_RETRY
    while at + wait <= within:
        at += wait
        offsets.append(at)
        wait = min(wait * 2, MAX_RETRY)
    return offsets


def by_key(requests: Iterable[ReceivedRequest]) -> dict[str, list[ReceivedRequest]]:
    """Requests grouped by their ``Idempotency-Key`` header, each group in arrival order."""
    groups: dict[str, list[ReceivedRequest]] = {}
    for request in requests:
        groups.setdefault(request.headers[IDEMPOTENCY_HEADER], []).append(request)
    return groups


def accepted_keys(webhook: WebhookReceiver) -> list[str]:
    """The idempotency key of every accepted webhook request, repeats included."""
    return [r.headers[IDEMPOTENCY_HEADER] for r in webhook.requests if r.accepted]


def mailed_keys(b: Bench) -> list[str]:
    """The idempotency key of every e-mail the SMTP receiver accepted, repeats included."""
    # strip(): a long key is folded onto a continuation line of the header.
    return [str(mail.message["X-Pathway-Idempotency-Key"]).strip() for mail in b.smtp.mails]


def identified_by_uoim(at: datetime, ref: str) -> Identified:
    """An identification by UOIM: Caritas (lead NGO) and the police are both notified (R1)."""
    ident = event("identified", at, person=dict(EU_ADULT), subject_ref=ref, organisation="uoim")
    assert isinstance(ident, Identified)
    return ident


# -- a real worker process ---------------------------------------------------------------------
def write_channels(path: Path, webhook: WebhookReceiver) -> Path:
    """A channels file sending every organisation's notifications to ``webhook``."""
    lines = []
    for org in NOTIFIED:
        lines += [
            f"[organisations.{org.value}]",
            'kind = "webhook"',
            f'url = "{webhook.url}/{org.value}"',
            f'secret = "{WEBHOOK_SECRET}"',
            "",
        ]
    path.write_text("\n".join(lines))
    return path


class WorkerProcess:
    """``python pathway/workers.py`` serving the case workflow and every notification queue."""

    def __init__(self, address: str, channels: Path, var: Path, logs: Path) -> None:
        self._args = [str(ROOT / "worker.py"), "--address", address, "--channels", str(channels)]
        self._env = {**os.environ, "PATHWAY_VAR": str(var)}
        self._logs = logs
        self._proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        with (self._logs / f"worker-{self.starts}.log").open("wb") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *self._args,
                cwd=self._logs,
                env=self._env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def kill(self) -> None:
        """SIGKILL: no graceful shutdown, in-flight activities are simply abandoned."""
        assert self._proc is not None
        self._proc.kill()
        assert await self._proc.wait() == -9

    async def stop(self) -> None:
        if self._proc is not None:
            await stop_process(self._proc)


@asynccontextmanager
async def dev_server(var_dir: Path) -> AsyncIterator[DevServer]:
    """A real ``temporal server start-dev`` on a SQLite file, on free ports."""
    settings = DevServer(var_dir=var_dir, port=free_port(), ui_port=free_port(), headless=True)
    proc = await start_dev_server(settings)
    try:
        yield settings
    finally:
        await stop_process(proc)


# What a query answers while a killed worker's sticky queue is abandoned and a new worker replays.
_TRANSIENT = {RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE}


async def settle(
    client: Client,
    case_ids: list[str],
    timeout: float,  # noqa: ASYNC109 - a polling deadline
) -> list[CaseState]:
    """The cases once none has a notification pending.

    A query that times out counts as "not yet": just after a worker is killed, a query can wait
    on the dead worker's sticky queue until the server gives up on it and the new worker
    replays the case (seen under load in CI).
    """
    latest: dict[str, CaseState] = {}

    async def done() -> bool:
        for case_id in case_ids:
            try:
                latest[case_id] = await cases.case_state(client, case_id)
            except RPCError as err:
                if err.status not in _TRANSIENT:
                    raise
                return False
        return not any(s.pending_notifications for s in latest.values())

    await eventually(done, timeout=timeout, interval=0.5)
    return [latest[c] for c in case_ids]


class TestWorkerProcessKilled:
    pytestmark = pytest.mark.devserver

    # One kill in the default run; the three-kill soak with `bin/test-long`.
    @pytest.mark.parametrize("rounds", [1, pytest.param(3, marks=pytest.mark.long)])
    @pytest.mark.timeout(900)
    async def test_sigkill_with_notifications_in_flight_loses_nothing(
        self, tmp_path: Path, fault_report: Report, rounds: int
    ) -> None:
        """SIGKILLs of the worker process, each with twelve webhook deliveries waiting for
        their answers, lose no notification, and every repeat is the first copy again under the
        same Idempotency-Key, for the receiver to drop."""
        started = time.monotonic()
        var = tmp_path / "var"
        store = default_keystore(var)  # the worker process shares this key store
        async with dev_server(tmp_path / "temporal") as settings:
            with WebhookReceiver() as webhook:
                # The answer comes late: a worker killed meanwhile never learns that the
                # notification arrived, so Temporal retries it after start_to_close (60 s).
                webhook.answer_delay = 30
                client = await Client.connect(settings.target, data_converter=data_converter(store))
                worker = WorkerProcess(
                    settings.target,
                    write_channels(tmp_path / "channels.toml", webhook),
                    var,
                    tmp_path,
                )
                await worker.start()
                case_ids: list[str] = []
                events = 0
                try:
                    for round_ in range(rounds):
                        before = len(webhook.requests)
                        now = datetime.now().astimezone()
                        opened = []
                        for i in range(4):
                            ident = identified_by_uoim(now, f"kill-{round_}-{i}-{uuid.uuid4()}")
                            case_id, _ = await cases.open_case(client, ident, pepper=PEPPER)
                            opened.append(case_id)
                        for case_id in opened[:2]:
                            await cases.record_event(
                                client, case_id, event("departed", now, arbitrary=True)
                            )
                        events += len(opened) + 2
                        case_ids += opened

                        # 4 × (Caritas, police) + 2 × (police, Caritas): all twelve in flight.
                        def all_in_flight(before: int = before) -> bool:
                            return len(webhook.requests) - before >= 12

                        await eventually(all_in_flight, timeout=180)
                        await worker.kill()
                        await worker.start()
                    webhook.answer_delay = 0
                    states = await settle(client, case_ids, timeout=400)
                finally:
                    await worker.stop()

        counts = tally(issued(states), accepted_keys(webhook))
        assert (counts.expected, counts.delivered, counts.lost, counts.unexpected) == (
            12 * rounds,
            12 * rounds,
            0,
            0,
        )
        assert all(settled_deliveries(s) == s.notifications_sent for s in states)
        for key, copies in by_key(webhook.requests).items():
            # Every copy is the same notification under its own key: a receiver drops repeats.
            assert {Notification.model_validate_json(c.body).idempotency_key for c in copies} == {
                key
            }
            assert len({c.body for c in copies}) == 1
        assert counts.duplicated >= 1  # the kills did cost answers: retries brought copies
        fault_report(
            FaultReport(
                faults=f"{rounds}× SIGKILL of the worker process with 12 webhook deliveries in "
                "flight each",
                events_sent=events,
                notifications=counts,
                seconds=time.monotonic() - started,
            )
        )


# -- a killed Temporal server ------------------------------------------------------------------
class TestServerKilled:
    pytestmark = pytest.mark.devserver

    async def test_sigkill_of_the_server_mid_case_loses_nothing(
        self, tmp_path: Path, fault_report: Report
    ) -> None:
        """A SIGKILL of the dev server mid-case, down past the rights-information deadline (R3),
        loses no event, timer or notification: the same run resumes on the same SQLite file."""
        started = time.monotonic()
        sla = timedelta(seconds=10)
        settings = DevServer(
            var_dir=tmp_path / "temporal", port=free_port(), ui_port=free_port(), headless=True
        )
        server = await start_dev_server(settings)
        try:
            client = await Client.connect(settings.target, data_converter=data_converter(TEST_KEYS))
            env = WorkflowEnvironment.from_client(client)
            async with (
                receivers() as wires,
                bench(
                    env, upsert_search_attributes=True, wires=wires, rights_information_sla=sla
                ) as b,
            ):
                webhook, _smtp = wires
                webhook.status_code = 503  # the police endpoint is down until the restart
                t0 = await b.now()
                case_id, _ = await b.open(identified_by_uoim(t0, f"server-kill-{uuid.uuid4()}"))
                interview = event("ngo_interview_held", t0)
                first = await b.send(case_id, interview)
                handle = client.get_workflow_handle(case_id)
                run_id = (await handle.describe()).run_id

                async def police_waits_for_retry() -> bool:
                    state = await b.state(case_id)
                    pending = (await handle.describe()).raw_description.pending_activities
                    # At least one failed attempt: on a busy machine the poll may first see
                    # a later one.
                    return (
                        [n.recipient for n in state.pending_notifications] == [Organisation.POLICE]
                        and len(pending) == 1
                        and pending[0].attempt >= 2
                    )

                # Caritas has its notification settled; the police one failed once and waits.
                await eventually(police_waits_for_retry)
                server.kill()
                assert await server.wait() == -9
                # Down until the rights-information deadline has passed: the timer is overdue.
                await asyncio.sleep(max(0.0, (t0 + sla - await b.now()).total_seconds()) + 1)
                webhook.status_code = 200
                server = await start_dev_server(settings)

                described = await handle.describe()
                assert (described.run_id, described.status) == (
                    run_id,
                    WorkflowExecutionStatus.RUNNING,
                )
                again = await b.send(case_id, interview)
                assert again == first.model_copy(update={"duplicate": True})
                await b.send(
                    case_id,
                    event("rights_information_given", await b.now(), subjects=ALL_SUBJECTS[:7]),
                )
                state = await b.settled(case_id)
                assert {r.reason for r in b.received()} == {
                    "case_identified",
                    "rights_information_escalation",
                }
        finally:
            await stop_process(server)

        assert [t.what for t in state.timeline if t.event_id] == [
            "identified",
            "ngo interview held",
            "rights information given",
        ]
        assert [t.what for t in state.timeline if "deadline reached" in t.what] == [
            "rights_information deadline reached"
        ]
        counts = tally(issued([state]), accepted_keys(webhook) + mailed_keys(b))
        assert (counts.expected, counts.delivered, counts.duplicated, counts.lost) == (3, 3, 0, 0)
        assert settled_deliveries(state) == 3
        fault_report(
            FaultReport(
                faults="SIGKILL of the dev server mid-case, down past a deadline",
                events_sent=4,
                notifications=counts,
                seconds=time.monotonic() - started,
            )
        )


# -- a receiver down for a day (time skipped) --------------------------------------------------
class TestWebhookOutage:
    async def test_deliveries_retry_with_backoff_through_a_day_of_http_500(
        self, time_skipping: WorkflowEnvironment, fault_report: Report
    ) -> None:
        """Through a day of HTTP 500 each delivery is retried 5 s, 10 s, 20 s … and then an hour
        apart (33 attempts), and once the receiver recovers each arrives exactly once."""
        started = time.monotonic()
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            b.webhook.status_code = 500
            t0 = await b.now()
            case_ids = [(await b.open(identified_by_uoim(t0, f"outage-{i}")))[0] for i in (1, 2)]
            day = attempt_offsets(timedelta(days=1))
            assert len(day) == 33

            def police_attempts() -> list[int]:
                return sorted(len(copies) for copies in by_key(b.webhook.requests).values())

            # Halfway between two expected attempts, each delivery has made exactly so many.
            for n, (this, following) in enumerate(itertools.pairwise(day[:13]), 1):
                await b.skip_to(t0 + (this + following) / 2)

                def made(n: int = n) -> bool:
                    return police_attempts() == [n, n]

                await eventually(made)
            await b.skip_to(t0 + timedelta(days=1))
            await eventually(lambda: police_attempts() == [33, 33])

            b.webhook.status_code = 200
            await b.skip_to(t0 + attempt_offsets(timedelta(days=2))[33] + timedelta(minutes=1))
            states = [await b.settled(case_id) for case_id in case_ids]

        for copies in by_key(b.webhook.requests).values():
            assert [c.status for c in copies] == [500] * 33 + [200]
        counts = tally(issued(states), accepted_keys(b.webhook) + mailed_keys(b))
        # Per case: Caritas and police on identification, Caritas again when the day made the
        # rights information overdue (R3).
        assert (counts.expected, counts.delivered, counts.duplicated, counts.lost) == (6, 6, 0, 0)
        fault_report(
            FaultReport(
                faults="police webhook HTTP 500 for 24 h (time skipped), 2 × 33 failed attempts",
                events_sent=2,
                notifications=counts,
                seconds=time.monotonic() - started,
            )
        )

    async def test_deliveries_reach_an_endpoint_that_was_unreachable_for_a_day(
        self, time_skipping: WorkflowEnvironment, fault_report: Report
    ) -> None:
        """A police endpoint unreachable for a day leaves its delivery retrying (attempt 34, each
        failed as unreachable), and it arrives exactly once when the endpoint is back."""
        started = time.monotonic()
        port = free_port()
        async with receivers() as (webhook, smtp):
            routes = dict(channels_for(webhook, smtp).organisations)
            routes[Organisation.POLICE] = WebhookChannel(
                url=f"http://127.0.0.1:{port}/notifications/police",
                secret=SecretStr(WEBHOOK_SECRET),
            )
            async with bench(
                time_skipping,
                upsert_search_attributes=False,
                wires=(webhook, smtp),
                channels=Channels(organisations=routes),
            ) as b:
                t0 = await b.now()
                case_id, _ = await b.open(identified_by_uoim(t0, "unreachable-1"))
                # A minute short of a day: the rights-information deadline (24 h) is not due yet,
                # so the police delivery is the only activity pending.
                await b.skip_to(t0 + timedelta(days=1, minutes=-1))
                handle = b.client.get_workflow_handle(case_id)
                pending = (await handle.describe()).raw_description.pending_activities
                assert [p.attempt for p in pending] == [34]
                failure = await b.client.data_converter.decode_failure(pending[0].last_failure)
                assert isinstance(failure, ApplicationError)
                assert (failure.type, failure.message) == (
                    DELIVERY_FAILED,
                    "webhook of police unreachable: ConnectError",
                )

                with WebhookReceiver(port=port) as police:
                    await b.skip_to(
                        t0 + attempt_offsets(timedelta(days=2))[34] + timedelta(minutes=1)
                    )
                    state = await b.settled(case_id)

        assert [r.status for r in police.requests] == [200]
        counts = tally(issued([state]), accepted_keys(police) + mailed_keys(b))
        # Caritas and police on identification, Caritas when the rights information fell due.
        assert (counts.expected, counts.delivered, counts.duplicated, counts.lost) == (3, 3, 0, 0)
        fault_report(
            FaultReport(
                faults="police webhook unreachable for 24 h (time skipped), 33 failed attempts",
                events_sent=1,
                notifications=counts,
                seconds=time.monotonic() - started,
            )
        )

    async def test_undelivered_reminder_escalates_when_its_deadline_is_reached(
        self, time_skipping: WorkflowEnvironment
    ) -> None:
        """A deadline's reminder that is still undelivered when the deadline itself is reached
        escalates: its lead time is gone, so someone reachable must tell the recipient.

        Expected behaviour:

        - When a deadline is reached (``fire_due`` ends it), every notification still pending
          with reason ``<deadline kind>_reminder`` for that deadline (same ``due_at``) opens an
          obligation of kind ``notification_undelivered``, rule = the deadline's rule (K5 here),
          id ``notification_undelivered:<the reminder's idempotency key>``, escalated at once,
          owned by the case's lead NGO (or by the interior ministry, home of the national
          anti-trafficking coordinator, when the lead NGO is the unreachable recipient).
        - The same step notifies (reason ``notification_undelivered``, rule K5) the lead NGO and
          the interior ministry, unless one of them is the unreachable recipient.
        - The reminder itself keeps retrying; when it is finally delivered, the obligation
          closes (``closed_by="delivered"``).
        """
        async with bench(time_skipping, upsert_search_attributes=False) as b:
            b.webhook.status_code = 500  # the police endpoint is down throughout
            t0 = await b.now()
            ident = event("identified", t0, person=dict(EU_ADULT), subject_ref="escalate-1")
            assert isinstance(ident, Identified)
            case_id, _ = await b.open(ident)
            await b.skip_to(t0 + timedelta(hours=2))
            await b.send(case_id, event("ngo_interview_held", t0 + timedelta(hours=1)))
            await b.send(
                case_id,
                event("rights_information_given", t0 + timedelta(hours=2), subjects=ALL_SUBJECTS),
            )
            placed = t0 + timedelta(hours=2)
            await b.send(case_id, event("crisis_accommodation_placed", placed))
            # K5: 30 days end at 24:00 of the 30th day after the placement's day, its reminder
            # came 5 calendar days before (docs/rules.md "Legal time").
            reflection_end = end_of_day(local_date(placed) + timedelta(days=30))
            await b.skip_to(reflection_end + timedelta(hours=1))

            state = await b.state(case_id)
            reminder = next(
                n
                for n in state.pending_notifications
                if (n.recipient, n.reason) == (Organisation.POLICE, "reflection_period_reminder")
            )
            undelivered = [
                o for o in state.open_obligations if o.kind.value == "notification_undelivered"
            ]
            assert [(o.id, o.rule, o.owner, o.escalated_at is not None) for o in undelivered] == [
                (
                    f"notification_undelivered:{reminder.idempotency_key}",
                    "K5",
                    Organisation.CARITAS,
                    True,
                )
            ]
            escalations = {
                (r.recipient, local_date(r.issued_at))
                for r in b.received()
                if r.reason == "notification_undelivered"
            }
            assert escalations == {
                ("caritas", local_date(reflection_end)),
                ("interior_ministry", local_date(reflection_end)),
            }

            b.webhook.status_code = 200
            await b.skip_to(await b.now() + MAX_RETRY + timedelta(minutes=1))
            state = await b.settled(case_id)
            closed = next(o for o in state.obligations if o.id == undelivered[0].id)
            assert closed.closed_by == "delivered"


# -- the same event twice at once --------------------------------------------------------------
class TestConcurrentDuplicates:
    pytestmark = pytest.mark.devserver

    async def test_same_event_sent_twice_concurrently_is_applied_once(
        self, tmp_path: Path, fault_report: Report
    ) -> None:
        """The same event (same event_id) sent twice at once is applied once, in the timeline
        and in its notifications, and both senders get its result, one marked duplicate."""
        started = time.monotonic()
        async with dev_server(tmp_path / "temporal") as settings:
            client = await Client.connect(settings.target, data_converter=data_converter(TEST_KEYS))
            env = WorkflowEnvironment.from_client(client)
            async with bench(env, upsert_search_attributes=True) as b:
                t0 = await b.now()
                case_id, _ = await b.open(identified_by_uoim(t0, f"twice-{uuid.uuid4()}"))
                departed = event("departed", t0, arbitrary=True)
                results = await asyncio.gather(b.send(case_id, departed), b.send(case_id, departed))
                state = await b.settled(case_id)

        assert sorted(r.duplicate for r in results) == [False, True]
        first, again = sorted(results, key=lambda r: r.duplicate)
        assert again == first.model_copy(update={"duplicate": True})
        assert results[0].event_id == results[1].event_id == departed.event_id
        assert [t.event_id for t in state.timeline].count(departed.event_id) == 1
        assert list(state.processed).count(departed.event_id) == 1
        arrivals = accepted_keys(b.webhook) + mailed_keys(b)
        counts = tally(issued([state]), arrivals)
        # Identification: Caritas and police; the departure, once: police and Caritas.
        assert (counts.expected, counts.delivered, counts.duplicated, counts.lost) == (4, 4, 0, 0)
        fault_report(
            FaultReport(
                faults="one event delivered twice concurrently (asyncio.gather)",
                events_sent=3,
                notifications=counts,
                seconds=time.monotonic() - started,
            )
        )

    async def test_same_identification_sent_twice_concurrently_opens_one_case(
        self, tmp_path: Path
    ) -> None:
        """R1: the same identification sent twice at once opens one case, identified once."""
        async with dev_server(tmp_path / "temporal") as settings:
            client = await Client.connect(settings.target, data_converter=data_converter(TEST_KEYS))
            env = WorkflowEnvironment.from_client(client)
            async with bench(env, upsert_search_attributes=True) as b:
                ident = identified_by_uoim(await b.now(), f"twice-open-{uuid.uuid4()}")
                (first_id, first), (second_id, second) = await asyncio.gather(
                    b.open(ident), b.open(ident)
                )
                state = await b.state(first_id)

        assert first_id == second_id
        assert sorted([first.duplicate, second.duplicate]) == [False, True]
        assert [t.what for t in state.timeline if t.event_id] == ["identified"]
