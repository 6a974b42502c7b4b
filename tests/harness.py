"""A case-workflow test bench: a Temporal environment, the real workers and real receivers.

Every bench has its own task queues (a fresh uuid), so benches never see each other's work.
Notifications go over real wires: police, Ključ, the migration authority and UOIM by signed
webhook; Caritas, the social work centre, the ministries and guardians by SMTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import threading
import traceback
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from pathway.activities.linked_cases import LinkedCaseStarter
from pathway.activities.notify import Notifier
from pathway.activities.statistics import StatisticsRecorder
from pathway.channels import Channels, SmtpChannel, WebhookChannel
from pathway.clients import cases
from pathway.domain.config import CaseConfig
from pathway.domain.events import CaseEvent, Identified
from pathway.domain.ledger import StatisticsRecord
from pathway.domain.organisations import NOTIFIED, Organisation, notification_task_queue
from pathway.domain.state import CaseState, EventResult
from pathway.workflows.case import VictimCaseWorkflow
from pathway.workflows.programme import ProgrammeRegisterWorkflow
from tests.receivers import SmtpReceiver, WebhookReceiver, eventually

HISTORIES = Path(__file__).parent / "histories"
#: The generation of the code that records histories now, appended to each name after the
#: first: a scenario recorded again under code that changed the workflow's commands is a new
#: history beside the old one (the corpus only grows; docs/versioning.md). Bump it with every
#: workflow change that gets a patch.
HISTORY_GENERATION = "one-marker-2026-12-01"
WEBHOOK_SECRET = "test-webhook-secret"
PEPPER = b"test-pepper"
#: The statistics ledger's secret in tests (32 bytes).
LEDGER_SECRET = b"test-ledger-secret-of-32-bytes.."
BY_WEBHOOK = {
    Organisation.POLICE,
    Organisation.KLJUC,
    Organisation.MIGRATION_AUTHORITY,
    Organisation.UOIM,
}


def mailbox(org: Organisation) -> str:
    return f"{org.value}@pathway.test"


@dataclass(frozen=True)
class Received:
    """One notification as a receiver got it."""

    recipient: str
    reason: str
    case_id: str
    issued_at: datetime
    key: str


def channels_for(webhook: WebhookReceiver, smtp: SmtpReceiver) -> Channels:
    routes: dict[Organisation, WebhookChannel | SmtpChannel] = {}
    for org in NOTIFIED:
        if org in BY_WEBHOOK:
            routes[org] = WebhookChannel(
                url=f"{webhook.url}/{org.value}", secret=SecretStr(WEBHOOK_SECRET)
            )
        else:
            routes[org] = SmtpChannel(
                host=smtp.host,
                port=smtp.port,
                sender="pathway@pathway.test",
                recipients=[mailbox(org)],
            )
    return Channels(organisations=routes)


class MemoryLedger:
    """A statistics ledger in memory (:class:`pathway.statistics_ledger.StatisticsLedger`):
    one record per ``record_id``, as the real stores keep them."""

    where = "memory"

    def __init__(self) -> None:
        self.records: dict[str, StatisticsRecord] = {}
        self.writes = 0

    def write(self, records: Sequence[StatisticsRecord]) -> int:
        self.writes += 1
        new = [r for r in records if r.record_id not in self.records]
        self.records.update((r.record_id, r) for r in new)
        return len(new)

    def read(self, *, until_year: int | None = None) -> list[StatisticsRecord]:
        return sorted(
            (r for r in self.records.values() if until_year is None or r.year <= until_year),
            key=lambda r: r.record_id,
        )


@dataclass
class Bench:
    client: Client
    env: WorkflowEnvironment
    task_queue: str
    config: CaseConfig
    webhook: WebhookReceiver
    smtp: SmtpReceiver
    workers: list[Worker] = field(default_factory=list)
    ledger: MemoryLedger = field(default_factory=MemoryLedger)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def open(self, event: Identified) -> tuple[str, EventResult]:
        return await cases.open_case(
            self.client, event, pepper=PEPPER, config=self.config, task_queue=self.task_queue
        )

    async def send(self, case_id: str, event: CaseEvent) -> EventResult:
        return await cases.record_event(self.client, case_id, event)

    async def state(self, case_id: str) -> CaseState:
        return await cases.case_state(self.client, case_id)

    async def skip_to(self, when: datetime) -> None:
        """Skip server time to ``when`` (time-skipping server), then let deliveries finish."""
        delta = when - await self.now()
        if delta > timedelta(0):
            await self.env.sleep(delta)

    async def settled(self, case_id: str) -> CaseState:
        """The case once every pending notification is delivered and linked case started."""
        latest: list[CaseState] = []

        async def done() -> bool:
            latest.append(await self.state(case_id))
            return not latest[-1].pending_notifications and not latest[-1].pending_case_starts

        await eventually(done, timeout=120)
        return latest[-1]

    async def keep_history(self, case_id: str, name: str, run_id: str | None = None) -> None:
        """With ``PATHWAY_RECORD_HISTORIES=1``, store the case's history in the replay corpus
        (``tests/histories/``), which ``tests/test_replay.py`` replays against current code:
        as ``<name>.json`` the first time, ``<name>--<HISTORY_GENERATION>.json`` after."""
        if os.environ.get("PATHWAY_RECORD_HISTORIES") != "1":
            return
        handle = self.client.get_workflow_handle(case_id, run_id=run_id)
        history = await handle.fetch_history()
        HISTORIES.mkdir(exist_ok=True)
        if (HISTORIES / f"{name}.json").exists():
            name = f"{name}--{HISTORY_GENERATION}"
        (HISTORIES / f"{name}.json").write_text(history.to_json())
        # The workflow ID matters on replay (a linked case's ID derives from it): keep it.
        ids = HISTORIES / "workflow-ids.txt"
        lines = [
            line
            for line in (ids.read_text().splitlines() if ids.exists() else [])
            if not line.startswith(f"{name} ")
        ]
        ids.write_text("\n".join(sorted([*lines, f"{name} {case_id}"])) + "\n")

    def received(self) -> list[Received]:
        """Every notification received so far by webhook or e-mail, first copy of each key."""
        out: dict[str, Received] = {}
        for n in self.webhook.notifications():
            out.setdefault(
                n.idempotency_key,
                Received(n.recipient.value, n.reason, n.case_id, n.issued_at, n.idempotency_key),
            )
        for mail in self.smtp.mails:
            body = mail.message.get_content()
            fields = dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)
            key = fields["Idempotency key"]
            case_id, reason, _ = key.rsplit(":", 2)
            for rcpt in mail.rcpt_tos:
                out.setdefault(
                    key + rcpt,
                    Received(
                        rcpt.split("@")[0],
                        reason,
                        case_id,
                        datetime.fromisoformat(fields["Issued at"]),
                        key,
                    ),
                )
        return sorted(out.values(), key=lambda r: (r.issued_at, r.key))


#: How long a bench's teardown (its workers' shutdown, its HTTP client, its receivers) may take
#: before the test fails with every task's stack (seconds). A teardown takes about a second; the
#: bound is far above that on a busy machine and below pytest-timeout's 300 s for the whole test,
#: so a hang fails its own test by name with where it waits instead of stalling the run.
TEARDOWN_BOUND = 120.0


class TeardownHung(AssertionError):
    """A bench's teardown did not finish within :data:`TEARDOWN_BOUND`; the message holds the
    stack of every asyncio task and thread at that moment."""


def _awaiting(coro: object) -> list[str]:
    """The chain of awaits a suspended coroutine waits in, outermost first, as
    ``file:line in function`` (a task's own ``print_stack`` shows only the outermost frame)."""
    chain = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            chain.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain


def _stacks() -> str:
    """Every asyncio task's chain of awaits in this loop and every thread's Python stack."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        out.write(f"--- task {task.get_name()}\n")
        out.write("\n".join(_awaiting(task.get_coro())) + "\n")
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        out.write(f"--- thread {names.get(ident, ident)}\n")
        out.write("".join(traceback.format_stack(frame)))
    return out.getvalue()


async def close_within(stack: contextlib.AsyncExitStack, what: str) -> None:
    """Close ``stack`` (``what`` names it in the error), failing with :class:`TeardownHung` and
    every task's stack if that takes longer than :data:`TEARDOWN_BOUND` seconds."""
    closing = asyncio.ensure_future(stack.aclose())
    done, _ = await asyncio.wait({closing}, timeout=TEARDOWN_BOUND)
    if not done:
        stacks = _stacks()
        closing.cancel()
        raise TeardownHung(
            f"{what}: teardown did not finish in {TEARDOWN_BOUND:g} s; stacks:\n{stacks}"
        )
    closing.result()


@contextlib.asynccontextmanager
async def receivers() -> AsyncIterator[tuple[WebhookReceiver, SmtpReceiver]]:
    with WebhookReceiver() as webhook, SmtpReceiver() as smtp:
        yield webhook, smtp


def case_config(queue: str, *, upsert_search_attributes: bool, **periods: Any) -> CaseConfig:
    """The configuration of a bench's cases: its own notification queues, given periods."""
    return CaseConfig(
        notification_queue_prefix=f"{queue}-notify",
        upsert_search_attributes=upsert_search_attributes,
        **periods,
    )


@contextlib.asynccontextmanager
async def bench(  # noqa: PLR0913 (keyword-only options of one test fixture)
    env: WorkflowEnvironment,
    *,
    upsert_search_attributes: bool,
    queue: str | None = None,
    wires: tuple[WebhookReceiver, SmtpReceiver] | None = None,
    channels: Channels | None = None,
    ledger: MemoryLedger | None = None,
    workflows: Sequence[type] = (),
    **periods: Any,
) -> AsyncIterator[Bench]:
    """Workers for the case workflow and every organisation's notifications, on fresh queues
    (or on ``queue`` again, to resume after a restart). ``workflows``: the workflow classes the
    case queue's worker runs, when not today's (a test recording a history as older code made
    it)."""
    queue = queue or f"test-{uuid.uuid4()}"
    cfg = case_config(queue, upsert_search_attributes=upsert_search_attributes, **periods)
    stack = contextlib.AsyncExitStack()
    try:
        if wires is None:
            wires = await stack.enter_async_context(receivers())
        webhook, smtp = wires
        http = await stack.enter_async_context(httpx.AsyncClient())
        notifier = Notifier(channels or channels_for(webhook, smtp), http)
        ledger = ledger or MemoryLedger()
        workers = [
            Worker(
                env.client,
                task_queue=queue,
                workflows=list(workflows) or [VictimCaseWorkflow, ProgrammeRegisterWorkflow],
                activities=[
                    *LinkedCaseStarter(env.client).activities(),
                    *StatisticsRecorder(ledger, LEDGER_SECRET).activities(),
                ],
            )
        ]
        workers += [
            Worker(
                env.client,
                task_queue=notification_task_queue(org, cfg.notification_queue_prefix),
                activities=notifier.activities(),
            )
            for org in NOTIFIED
        ]
        for worker in workers:
            await stack.enter_async_context(worker)
        yield Bench(env.client, env, queue, cfg, webhook, smtp, workers, ledger)
    finally:
        await close_within(stack, f"bench on task queue {queue}")
