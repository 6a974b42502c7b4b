"""``pathway dev``, ``pathway gateway``, ``pathway codec-server`` and ``pathway worker``: the
commands that run the service (they return when it stops)."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pathway.cli._common import EXIT_OK, BadInput, Commands, printable


def _dev(args: argparse.Namespace, out: TextIO) -> int:
    from pathway.dev import DevPorts, run_dev
    from pathway.logs import configure_logging

    configure_logging()
    # One state directory for everything the embedded default keeps (database, outbox, keys).
    os.environ["PATHWAY_VAR"] = args.var
    from pathway.gateway import GatewayConfigError

    try:
        asyncio.run(
            run_dev(
                Path(args.var),
                ports=DevPorts(
                    frontend=args.port,
                    ui=args.ui_port,
                    codec=args.codec_port,
                    gateway=args.gateway_port,
                ),
                channels=Path(args.channels) if args.channels else None,
            )
        )
    except GatewayConfigError as err:
        raise BadInput(printable(err)) from err
    return EXIT_OK


def _gateway(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings
    from pathway.gateway import (
        GatewayConfigError,
        GatewaySettings,
        load_authenticator,
        run_gateway,
    )
    from pathway.logs import configure_logging
    from pathway.temporal_config import TemporalConfigError, load_connection

    # Only `pathway dev` makes a state directory: a mistyped PATHWAY_VAR must not give this
    # process keys, a pepper and credentials of its own (StateError: one line, exit 2).
    settings.existing_state(secrets_needed=False)
    try:
        # Checked before anything starts: production refuses to run without credentials.
        authenticator = load_authenticator(var_dir=settings.var_dir())
        gateway_settings = GatewaySettings.from_env()
        # The connection settings too (Temporal itself is connected lazily).
        load_connection(args.address, args.namespace)
    except (GatewayConfigError, TemporalConfigError) as err:
        raise BadInput(printable(err)) from err
    configure_logging()
    asyncio.run(
        run_gateway(
            args.host,
            args.port,
            target=args.address,
            namespace=args.namespace,
            authenticator=authenticator,
            settings=gateway_settings,
        )
    )
    return EXIT_OK


def _codec_server(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import settings
    from pathway.codec_server.server import codec_credentials, run_codec_server
    from pathway.gateway import GatewayConfigError
    from pathway.logs import configure_logging
    from pathway.privacy.keys import PrivacyError
    from pathway.secret_files import OpenToOthers
    from pathway.temporal_config import TemporalConfigError, load_connection
    from pathway.temporal_connection import default_keystore

    settings.existing_state(secrets_needed=False)  # as the gateway's
    try:
        # Checked before anything starts: production refuses to run without credentials.
        credentials = codec_credentials(settings.var_dir())
        store = default_keystore()
        load_connection(args.address, args.namespace)  # Temporal itself is connected lazily
    except (GatewayConfigError, TemporalConfigError, PrivacyError, OpenToOthers) as err:
        raise BadInput(printable(err)) from err
    configure_logging()
    asyncio.run(
        run_codec_server(
            args.host,
            args.port,
            ui_origin=args.ui_origin,
            public_url=args.public_url,
            credentials=credentials,
            store=store,
            target=args.address,
            namespace=args.namespace,
        )
    )
    return EXIT_OK


def _worker(args: argparse.Namespace, out: TextIO) -> int:
    from pathway import workers

    rest = [a for a in args.worker_args if a != "--"]
    code: int = workers.main(rest)
    return code


def passed_through(argv: Sequence[str]) -> argparse.Namespace | None:
    """``pathway worker …``: everything after ``worker`` belongs to pathway/workers.py's own parser
    (its ``--help`` included), so it bypasses this CLI's; None for any other command."""
    if list(argv[:1]) != ["worker"]:
        return None
    return argparse.Namespace(handler=_worker, worker_args=list(argv[1:]))


def tcp_port(value: str) -> int:
    """A TCP port number (1–65535) for argparse; anything else is a usage error (exit 2)."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1–65535)")
    return port


def web_origin(value: str) -> str:
    """An http(s) origin (``https://ui.example.org``) for argparse, normalised as a browser
    sends it in ``Origin``; anything else is a usage error (exit 2)."""
    from pathway.codec_server.server import web_origin as origin

    try:
        return origin(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_commands(sub: Commands) -> None:
    """Register ``dev``, ``gateway``, ``codec-server`` and ``worker``."""
    dev = sub.add_parser("dev", help="start the embedded Temporal dev server and all workers")
    dev.add_argument(
        "--var",
        default=os.environ.get("PATHWAY_VAR", "var"),
        help="state directory (SQLite database, outbox, keys)",
    )
    dev.add_argument("--port", type=tcp_port, default=7233, help="Temporal frontend (gRPC)")
    dev.add_argument("--ui-port", type=tcp_port, default=8233, help="Temporal web UI")
    dev.add_argument(
        "--codec-port",
        type=tcp_port,
        default=8234,
        help="codec server for the web UI (decrypts for those allowed)",
    )
    dev.add_argument(
        "--gateway-port",
        type=tcp_port,
        default=8080,
        help="event gateway for NGO and authority systems (on 127.0.0.1)",
    )
    dev.add_argument("--channels", default=None, help="notification channels (TOML)")
    dev.set_defaults(handler=_dev)

    gateway = sub.add_parser(
        "gateway",
        help="run the event gateway alone (HTTP API for NGO "
        "and authority systems; see docs/gateway.md)",
    )
    gateway.add_argument("--host", default="127.0.0.1", help="address to listen on")
    gateway.add_argument("--port", type=tcp_port, default=8080, help="port to listen on")
    gateway.set_defaults(handler=_gateway)

    codec = sub.add_parser(
        "codec-server",
        help="run the codec server alone (the web UI decodes through it, for those allowed; "
        "see docs/operations.md)",
        description="Temporal's remote codec for the web UI: decrypts payloads for signed-in "
        "members of a case only. Keys, master keys and credentials as the gateway reads them "
        "(PATHWAY_VAR, PATHWAY_MASTER_KEYS, PATHWAY_CREDENTIALS; never an argument); stops "
        "gracefully on SIGTERM or SIGINT. GET /healthz answers while it runs, /metrics too.",
    )
    codec.add_argument("--host", default="127.0.0.1", help="address to listen on")
    codec.add_argument("--port", type=tcp_port, default=8234, help="port to listen on")
    codec.add_argument(
        "--ui-origin",
        type=web_origin,
        required=True,
        help="the web UI's origin (https://temporal.example.org): the only one whose browsers "
        "are answered",
    )
    codec.add_argument(
        "--public-url",
        type=web_origin,
        default=None,
        help="this server's own origin as browsers reach it, behind a reverse proxy (the "
        "sign-in page's; https makes the session cookie Secure); default: each request's own",
    )
    codec.set_defaults(handler=_codec_server)

    wrk = sub.add_parser(
        "worker",
        add_help=False,
        help="run workers: `pathway worker --organisations police` (--help)",
    )
    wrk.add_argument(
        "worker_args", nargs=argparse.REMAINDER, help="options of `pathway worker` (see its --help)"
    )
    wrk.set_defaults(handler=_worker)
