"""An HTTP front of the bench: ``python -m bench._gateway pathway|bare TARGET DIR PORT``.

``pathway`` serves the project's gateway (:func:`pathway.gateway.create_gateway_app`, bearer
tokens from ``DIR/tokens.json``, a rate limit high enough never to answer 429, a minute for
Temporal's answer) with
:func:`pathway.gateway.server.serve_gateway`; ``bare`` serves one Starlette route that runs
the bare update (with start, for the first) with a plain client, through the same
:func:`pathway.web.serving.serve_app` (uvicorn on a socket from ``listen``). Writes
``DIR/gateway-ready`` once listening; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench._bare import BareCaseWorkflow, BarePlan
from bench._worker import BARE_QUEUE
from pathway.access.credentials import Credentials, TokenEntry, hash_token
from pathway.access.identity import Authenticator
from pathway.gateway import GatewaySettings, create_gateway_app
from pathway.gateway.server import serve_gateway
from pathway.logs import configure_logging
from pathway.process import exit_now, install_stop_signals
from pathway.temporal_connection import connect, default_keystore
from pathway.web.serving import listen, serve_app

HOST = "127.0.0.1"
PEPPER = b"bench-pepper"


def pathway_gateway_app(client: Client, tokens: dict[str, str]) -> FastAPI:
    """The project's gateway as the bench serves it: one bearer token per role (``tokens``,
    role → token), no rate limit in the way, and a minute for Temporal's answer (10 s in
    production) on a machine as busy as the bench may run on: the latency is the figure."""
    credentials = Credentials(
        tokens=[
            TokenEntry(name=f"bench-{role}", role=role, sha256=hash_token(token))
            for role, token in tokens.items()
        ]
    )
    return create_gateway_app(
        client=client,
        authenticator=Authenticator(credentials),
        settings=GatewaySettings(
            pepper=PEPPER, rate_per_second=1e6, burst=1_000_000, temporal_timeout=60.0
        ),
    )


def bare_app(client: Client, plan: BarePlan) -> Starlette:
    async def event(request: Request) -> Response:
        body = json.loads(await request.body())
        workflow_id = request.path_params["workflow_id"]
        if body["k"] == 0:
            start = WithStartWorkflowOperation(
                BareCaseWorkflow.run,
                plan,
                id=workflow_id,
                task_queue=BARE_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            result = await client.execute_update_with_start_workflow(
                BareCaseWorkflow.record, body["event"], start_workflow_operation=start
            )
        else:
            handle = client.get_workflow_handle(workflow_id)
            result = await handle.execute_update(BareCaseWorkflow.record, body["event"])
        return JSONResponse({"result": result})

    return Starlette(routes=[Route("/bare/cases/{workflow_id}/events", event, methods=["POST"])])


async def _main(kind: str, target: str, base: Path, port: int) -> int:
    stop = asyncio.Event()
    remove = install_stop_signals(stop)
    try:
        if kind == "pathway":
            tokens: dict[str, str] = json.loads((base / "tokens.json").read_text())
            client = await connect(target, "default", default_keystore(base), use_config=False)
            app = pathway_gateway_app(client, tokens)
            serving = asyncio.create_task(serve_gateway(app, HOST, port, stop))
        else:
            plan = BarePlan(**json.loads((base / "plan.json").read_text()))
            bare = bare_app(await Client.connect(target), plan)
            serving = asyncio.create_task(
                serve_app(bare, listen(HOST, port), stop, name="bare gateway", graceful_seconds=10)
            )
        done, _ = await asyncio.wait({serving}, timeout=0.5)
        if not done:
            (base / "gateway-ready").write_text("ready\n")
        await serving
    finally:
        remove()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._gateway")
    parser.add_argument("kind", choices=["pathway", "bare"])
    parser.add_argument("target")
    parser.add_argument("dir", type=Path)
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    configure_logging(json=True, level="INFO")
    exit_now(asyncio.run(_main(args.kind, args.target, args.dir, args.port)))


if __name__ == "__main__":
    main()
