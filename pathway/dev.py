"""Everything on one machine: the dev server (SQLite, web UI), all workers, the codec server and
the event gateway, in the foreground.

State lives in ``var_dir`` (the server's SQLite file and its log). Stopping and starting again
with the same ``var_dir`` resumes every open case and timer where it was.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import structlog
from temporalio.client import Client

import worker
from pathway.auth import CREDENTIALS_ENV, Credentials, ensure_dev_credentials
from pathway.cases import UnknownCase, case_state
from pathway.channels import load_channels
from pathway.client import connect, default_keystore
from pathway.codec_server import RoleCaseAccess, create_codec_app, serve_codec
from pathway.domain.organisations import NOTIFIED, Organisation
from pathway.gateway import (
    GatewayConfigError,
    GatewaySettings,
    create_gateway_app,
    is_production,
    load_authenticator,
    serve_gateway,
)
from pathway.privacy.codec import CaseCodec
from pathway.servers import DevServer, start_dev_server, stop_process

__all__ = ["involved_in_case", "run_dev"]

log = structlog.stdlib.get_logger(__name__)


async def run_dev(
    var_dir: Path,
    *,
    port: int = 7233,
    ui_port: int = 8233,
    codec_port: int = 8234,
    gateway_port: int = 8080,
    channels: Path | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the dev server, every worker, the codec server and the event gateway (on
    127.0.0.1:``gateway_port``) until SIGINT/SIGTERM or until ``stop`` is set.

    ``ready`` is called with the web UI's address once the server is up and the workers are
    about to poll. On the way out the workers stop first, so that their last results still
    reach the server, and the server last.
    """
    if is_production(os.environ):
        raise GatewayConfigError(
            "`pathway dev` is the embedded development default and creates its own "
            "credentials; in production run `pathway worker` and `pathway gateway`")
    stop = stop or asyncio.Event()
    # Read before anything starts: a broken channels file should not leave a server behind.
    loaded_channels = load_channels(channels)
    store = default_keystore(var_dir)
    credentials = _credentials(var_dir)
    # The same tokens as the codec server's, and JWTs too if PATHWAY_JWKS_URL is configured.
    authenticator = load_authenticator(var_dir=var_dir, credentials=credentials)
    gateway_settings = GatewaySettings.from_env()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    codec_url = f"http://127.0.0.1:{codec_port}"
    settings = DevServer(var_dir=var_dir, port=port, ui_port=ui_port,
                         ui_codec_endpoint=codec_url)
    remove_signals = worker.install_stop_signals(stop)
    try:
        server = await start_dev_server(settings)
        try:
            client = await connect(settings.target, settings.namespace, store=store)
            codec_app = create_codec_app(
                codec=CaseCodec(store), credentials=credentials,
                allowed_origin=settings.ui_url,
                case_access=RoleCaseAccess(partial(involved_in_case, client)),
            )
            log.info(
                "temporal dev server ready",
                ui=settings.ui_url,
                # Not "address": that key is redacted as personal (pathway.logs).
                frontend=settings.target,
                namespace=settings.namespace,
                database=str(settings.db_file),
                server_log=str(settings.log_file),
                codec_server=codec_url,
                codec_login=f"{codec_url}/login",
                gateway=gateway_url,
                gateway_docs=f"{gateway_url}/docs",
            )
            if ready is not None:
                ready(settings.ui_url)
            await asyncio.gather(
                worker.run_workers(
                    client,
                    organisations=NOTIFIED,
                    serve_cases=True,
                    channels=loaded_channels,
                    stop=stop,
                ),
                serve_codec(codec_app, "127.0.0.1", codec_port, stop),
                serve_gateway(
                    create_gateway_app(client=client, authenticator=authenticator,
                                       settings=gateway_settings),
                    "127.0.0.1", gateway_port, stop),
            )
        finally:
            code = await stop_process(server)
            log.info("temporal dev server stopped", exit_code=code)
    finally:
        remove_signals()


def _credentials(var_dir: Path) -> Credentials:
    """``PATHWAY_CREDENTIALS`` if set; else ``var/credentials.toml``, created on first start
    with one operator token, which is printed once (it is stored only as a hash)."""
    if os.environ.get(CREDENTIALS_ENV):
        return Credentials.load()
    path, token = ensure_dev_credentials(var_dir)
    if token is not None:
        # A secret for the person at the terminal: printed, never logged.
        sys.stdout.write(
            f"\nOperator token (shown once; stored only as a hash in {path}):\n  {token}\n"
            "Use it for `pathway case erase` (PATHWAY_TOKEN) and to sign in to the codec "
            "server for the web UI.\n\n")
        sys.stdout.flush()
    return Credentials.load(path)


async def involved_in_case(client: Client, case_id: str) -> set[Organisation]:
    """The organisations involved in a case (empty for an unknown case): who may read it."""
    try:
        state = await case_state(client, case_id)
    except UnknownCase:
        return set()
    return state.involved()
