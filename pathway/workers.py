"""The Pathway worker process: the case workflow and the organisations' notification activities.

    python pathway/workers.py --organisations police,caritas --channels channels.toml

One process can serve the case workflow (``--no-cases`` to leave it to another process) and
any set of organisations' notification queues, so a deployment can give each organisation its
own worker, with its own channel credentials, or run everything in one.

Module-level code only defines things: the workflow sandbox may import this module again.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Final

import httpx
import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from pathway import settings, versioning
from pathway.activities.linked_cases import LinkedCaseStarter
from pathway.activities.notify import Notifier
from pathway.activities.retention import RetentionSweeper, SweepRequest
from pathway.activities.statistics import StatisticsRecorder
from pathway.channels import ChannelConfigError, Channels, load_channels
from pathway.domain.organisations import (
    CASE_TASK_QUEUE,
    NOTIFIED,
    Organisation,
    notification_task_queue,
)
from pathway.logs import configure_logging
from pathway.metrics import MetricsConfigError, install_worker_runtime
from pathway.metrics.census import obligation_census
from pathway.privacy.codec import CaseCodec
from pathway.privacy.keys import KeyStore
from pathway.process import exit_now, install_stop_signals
from pathway.temporal_config import TemporalConfigError, describe_target
from pathway.temporal_connection import connect
from pathway.workflows.case import VersionedVictimCaseWorkflow, VictimCaseWorkflow
from pathway.workflows.programme import (
    ProgrammeRegisterWorkflow,
    VersionedProgrammeRegisterWorkflow,
)
from pathway.workflows.retention import RetentionSweepWorkflow, VersionedRetentionSweepWorkflow

__all__ = ["main", "run_as_script", "run_workers", "workflow_runner"]

# The name operators know from the logs (the module was once the script worker.py).
log = structlog.stdlib.get_logger("pathway.worker")

#: How long a stopping worker lets notifications already being delivered finish; after that
#: they are cancelled and Temporal retries them on the next worker.
NOTIFY_GRACEFUL_SHUTDOWN = timedelta(seconds=10)

#: The case worker's workflow types as a versioned worker registers them, each declaring its
#: behaviour (docs/versioning.md, "Behaviour per workflow type"); unversioned, the base classes.
VERSIONED_WORKFLOWS: Final = (
    VersionedVictimCaseWorkflow,
    VersionedProgrammeRegisterWorkflow,
    VersionedRetentionSweepWorkflow,
)

# A webhook that hangs must fail the attempt (Temporal retries it), not hold the worker.
_HTTP_TIMEOUT = httpx.Timeout(10.0)


def workflow_runner(*packages: str) -> SandboxedWorkflowRunner:
    """The workflow sandbox of the case worker: Temporal's default restrictions, with the
    ``pathway`` package (and ``packages``) passed through (issue 14).

    The sandbox imports a workflow's module again for every run, and everything that module
    imports that is not passed through. Pathway's domain (its rules, state and events) was
    already passed through; passing its workflow modules through too means a cached case no
    longer carries its own copy of ``pathway.workflows.case`` (its code objects, functions and
    the workflow definition ``@workflow.defn`` builds): per cached case, measured in one process
    (100 cases, tracemalloc), 181 -> 110 KiB of Python objects and 724 -> 535 KiB of resident
    memory.

    The price: at run time the sandbox no longer guards Pathway's own modules. Passed through,
    they hold the real ``datetime``, ``random`` and the rest, so a non-deterministic call in
    workflow code would not be refused by this worker. That is caught before it ships: the
    replay tests (``tests/test_replay.py``) replay every stored history, and the scenario
    tests (``tests/harness.py``) run every workflow, under Temporal's default sandbox, where
    Pathway's workflow modules are imported afresh and restricted. docs/performance.md.
    """
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("pathway", *packages)
    )


async def run_workers(  # noqa: PLR0913 (keyword-only options after the client)
    client: Client,
    *,
    organisations: Sequence[Organisation],
    serve_cases: bool,
    channels: Channels,
    stop: asyncio.Event,
    statistics: StatisticsRecorder | None = None,
    versioned: bool = True,
) -> None:
    """Serve the case workflow (if ``serve_cases``) and each organisation's notifications.

    ``versioned``: whether the case worker joins a Worker Deployment when
    ``PATHWAY_DEPLOYMENT_NAME`` is set (docs/versioning.md); ``pathway dev`` passes ``False``.
    ``statistics``: where the cases' ``record_statistics`` activity stores (issue 15); by
    default the ledger the settings name (:func:`statistics_recorder`).

    Runs until ``stop`` is set, then shuts every worker down gracefully. If a worker fails,
    the others are shut down too and the failure is raised.
    """
    async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT) as http:
        queues: list[str] = []
        workers: list[Worker] = []
        if serve_cases:
            statistics = statistics or statistics_recorder()
            queues.append(CASE_TASK_QUEUE)
            deployment = versioning.deployment_config() if versioned else None
            workers.append(
                Worker(
                    client,
                    task_queue=CASE_TASK_QUEUE,
                    # Versioned: the classes that declare their behaviour (docs/versioning.md).
                    workflows=list(VERSIONED_WORKFLOWS)
                    if deployment is not None
                    else [VictimCaseWorkflow, ProgrammeRegisterWorkflow, RetentionSweepWorkflow],
                    activities=[
                        *RetentionSweeper(client, _key_store(client)).activities(),
                        # Linked cases (R1) are started by an activity, not as child workflows.
                        *LinkedCaseStarter(client).activities(),
                        # The statistics ledger (issue 15 item 1).
                        *statistics.activities(),
                    ],
                    # Worker Versioning when PATHWAY_DEPLOYMENT_NAME is set (docs/versioning.md).
                    # ``versioned=False`` (pathway dev): never, whatever the environment says.
                    deployment_config=deployment,
                    workflow_runner=workflow_runner(),
                    # Open cases held in memory (PATHWAY_WORKFLOW_CACHE; worker sizing in
                    # docs/performance.md).
                    max_cached_workflows=settings.current().workflow_cache,
                )
            )
            await ensure_retention_schedule(client, settings.retention())
        # dict.fromkeys: one worker per organisation even if it was named twice.
        for organisation in dict.fromkeys(organisations):
            queue = notification_task_queue(organisation)
            queues.append(queue)
            workers.append(
                Worker(
                    client,
                    task_queue=queue,
                    activities=Notifier(channels, http).activities(),
                    graceful_shutdown_timeout=NOTIFY_GRACEFUL_SHUTDOWN,
                )
            )
        if not workers:
            raise ValueError("nothing to serve: no organisations and no case workflow")

        log.info("worker started", namespace=client.namespace, task_queues=queues)
        # Open and overdue obligations per organisation, when metrics are on (docs/metrics.md).
        async with obligation_census(client, serve_cases=serve_cases):
            await _run_until_stopped(workers, stop)
        log.info("worker stopped", task_queues=queues)


def statistics_recorder() -> StatisticsRecorder:
    """The statistics ledger and its secret as the settings name them (docs/statistics.md):
    PostgreSQL (``PATHWAY_STATISTICS_DSN``) with the deployment's ``PATHWAY_LEDGER_SECRET`` or
    ``var/ledger-secret``; else the SQLite file under ``./var``, whose secret the embedded
    default creates on its first start. Raises :class:`~pathway.settings.StateError` if the
    secret is missing (in production) or malformed, the store's error if it cannot be opened."""
    dsn = settings.statistics_dsn()
    secret = settings.ledger_secret(create=dsn is None)
    ledger = settings.statistics_ledger()
    log.info("statistics ledger", ledger=ledger.where)
    return StatisticsRecorder(ledger, secret)


def _key_store(client: Client) -> KeyStore:
    """The key store behind the client's codec: the retention sweep destroys keys in it."""
    codec = client.data_converter.payload_codec
    if not isinstance(codec, CaseCodec):
        raise TypeError(
            "the client must use pathway.temporal_connection.data_converter (CaseCodec)"
        )
    return codec.store


RETENTION_SCHEDULE_ID = "pathway-retention"


async def ensure_retention_schedule(client: Client, retention: timedelta) -> None:
    """Create the hourly retention sweep schedule once; later starts leave it as it is, so an
    operator may pause or retune it in the UI."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionSweepWorkflow.run,
            SweepRequest(retention=retention),
            id="pathway-retention-sweep",
            task_queue=CASE_TASK_QUEUE,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(RETENTION_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        return
    log.info("retention schedule created", retention_days=retention.days)


async def _run_until_stopped(workers: Sequence[Worker], stop: asyncio.Event) -> None:
    runs = [asyncio.create_task(worker.run()) for worker in workers]
    stopped = asyncio.create_task(stop.wait())
    try:
        # A worker's run() ends early only if it failed; then there is no point in the rest.
        await asyncio.wait([stopped, *runs], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        # Also reached when this task is cancelled: the workers still finish cleanly.
        shutdowns = await asyncio.gather(
            *(worker.shutdown() for worker in workers), return_exceptions=True
        )
        results = await asyncio.gather(*runs, return_exceptions=True)
    for error in shutdowns:
        if isinstance(error, BaseException):
            log.warning("worker shutdown failed", error=repr(error))
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        # The first is raised; any others would otherwise go unseen.
        for other in failures[1:]:
            log.error("another worker failed too", error=repr(other))
        raise failures[0]


def _organisations(value: str) -> tuple[Organisation, ...]:
    """Parse ``--organisations``: ``all`` or a comma-separated list of notified organisations."""
    if value.strip() == "all":
        return NOTIFIED
    chosen: list[Organisation] = []
    for part in filter(None, (item.strip() for item in value.split(","))):
        if part not in {organisation.value for organisation in NOTIFIED}:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not an organisation that receives notifications; choose from "
                f"{', '.join(organisation.value for organisation in NOTIFIED)}, or 'all'"
            )
        chosen.append(Organisation(part))
    return tuple(chosen)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="worker", description="Run Pathway's Temporal workers until SIGINT or SIGTERM."
    )
    parser.add_argument(
        "--address",
        help="Temporal frontend host:port (default: $PATHWAY_TEMPORAL_ADDRESS, else "
        "$TEMPORAL_ADDRESS or the TEMPORAL_PROFILE; TLS, mTLS and API key from the TEMPORAL_* "
        "settings: docs/operations.md)",
    )
    parser.add_argument(
        "--namespace",
        help="Temporal namespace (default: $PATHWAY_NAMESPACE, else $TEMPORAL_NAMESPACE or the "
        "TEMPORAL_PROFILE)",
    )
    parser.add_argument(
        "--organisations",
        type=_organisations,
        default=NOTIFIED,
        metavar="police,caritas,...|all",
        help="whose notification queues to serve (default: all; empty: none)",
    )
    parser.add_argument(
        "--no-cases",
        dest="serve_cases",
        action="store_false",
        help="do not run the case workflow worker",
    )
    parser.add_argument("--channels", type=Path, help="notification channels file")
    parser.add_argument(
        "--json-logs", action="store_true", help="JSON logs even on a terminal (default: auto)"
    )
    parser.add_argument("--log-level", default="INFO", help="default: INFO")
    return parser


async def _serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    remove_signals = install_stop_signals(stop)
    try:
        try:
            channels = load_channels(args.channels)
        except ChannelConfigError as error:
            # The message names the file and the option; a traceback would add nothing.
            log.error("cannot load notification channels", error=str(error))
            return 2
        try:
            # Before connecting: the client reports through the metrics runtime (metrics).
            install_worker_runtime()
        except MetricsConfigError as error:
            log.error("invalid metrics setting", error=str(error))
            return 2
        try:
            client = await connect(args.address, args.namespace)
        except TemporalConfigError as error:
            # One line naming the setting (TEMPORAL_*, the profile file, a certificate).
            log.error("invalid Temporal connection setting", error=str(error))
            return 2
        except RuntimeError as error:
            log.error(
                "cannot reach Temporal",
                temporal=describe_target(args.address, args.namespace).describe(),
                error=str(error),
            )
            return 1
        try:
            await run_workers(
                client,
                organisations=args.organisations,
                serve_cases=args.serve_cases,
                channels=channels,
                stop=stop,
            )
        except Exception:
            log.exception("worker failed")
            return 1
    finally:
        remove_signals()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the workers chosen on the command line; return the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.serve_cases and not args.organisations:
        parser.error("nothing to serve: --no-cases and no --organisations")
    configure_logging(json=True if args.json_logs else None, level=args.log_level)
    try:
        # Every setting (pathway.settings, docs/settings.md) before connecting: one line
        # naming each bad one, never its value, and no traceback.
        settings.current()
    except settings.SettingsError as error:
        for line in error.lines:
            log.error("invalid setting", error=line)
        return 2
    try:
        # Only `pathway dev` makes a state directory: a mistyped PATHWAY_VAR must not give the
        # workers keys and a ledger secret of their own.
        settings.existing_state(secrets_needed=False)
    except settings.StateError as error:
        log.error("no state directory", error=str(error))
        return 2
    return asyncio.run(_serve(args))


def run_as_script() -> None:
    """``python worker.py``: run :func:`main` and leave with its exit code at once (the exit
    code is what a supervisor acts on; :func:`pathway.process.exit_now`)."""
    exit_now(main())
