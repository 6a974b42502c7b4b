"""Everything on one machine: the dev server (SQLite, web UI), all workers, the codec server and
the event gateway, in the foreground.

State lives in ``var_dir`` (the server's SQLite file and its log). Stopping and starting again
with the same ``var_dir`` resumes every open case and timer where it was.

Start-up is checked before anything starts: ``var_dir`` is held by one ``pathway dev`` at a time
(``var_dir/pathway-dev.lock``), and every port it serves must be free. Any start-up failure (a
port taken, the state directory in use, a broken file, the Temporal dev server not starting)
raises :class:`DevStartError` with one line naming the port or file, after stopping whatever
had started; ``pathway dev`` prints it as ``error: …`` and exits with code 2. The same holds if
a part fails later (a server cannot serve, the Temporal server dies): everything stops within
seconds and the failure is raised.

Files at rest: ``pathway dev`` runs with the umask 077 (its Temporal dev server too), and every
file it creates in ``var_dir`` is 0600, the directory itself 0700. Before anything starts, the
state directory and the files holding keys and secrets (:func:`private_state`) are checked: if
the group or others may use one, it refuses to start, naming each and the ``chmod`` that fixes
it. The first start's operator token is printed only to a terminal; otherwise it is written to
``var_dir/operator-token`` (0600) and only that path is printed (:func:`hand_over_token`).

The web UI is served through a small front on the UI port that forwards to the Temporal UI
server (on a port of its own) and tells the UI to send the browser's credentials to the codec
server: after signing in at the codec server's ``/login``, the UI shows decrypted payloads with
no setting changed in the UI (the dev server has no flag for that; docs/privacy.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, TextIO

import structlog

from pathway import workers
from pathway.access.credentials import (
    DEV_CREDENTIALS_FILE,
    Credentials,
    CredentialsError,
    ensure_dev_credentials,
)
from pathway.channels import ChannelConfigError, load_channels
from pathway.codec_server import SESSION_COOKIE
from pathway.codec_server.server import case_codec_app, member_roles_in_case
from pathway.console.settings import KEY_FILE as CONSOLE_KEY_FILE
from pathway.domain.organisations import NOTIFIED
from pathway.gateway import (
    GatewayConfigError,
    GatewaySettings,
    create_gateway_app,
    load_authenticator,
)
from pathway.metrics import MetricsConfigError, install_worker_runtime
from pathway.privacy.keys import PrivacyError, sqlite_companions
from pathway.process import install_stop_signals
from pathway.secret_files import (
    OpenToOthers,
    private_dir,
    private_umask,
    require_private,
    write_secret,
)
from pathway.settings import LEDGER_SECRET_FILE, StateError
from pathway.settings import current as current_settings
from pathway.temporal_binaries import (
    DevServer,
    DevServerError,
    forget_server,
    free_port,
    port_in_use,
    start_dev_server,
    stop_process,
)
from pathway.temporal_connection import connect, default_keystore
from pathway.web.serving import AddressUnavailable, JsonPatch, ReverseProxy, listen, serve_app

__all__ = [
    "LOCK_FILE",
    "OPERATOR_TOKEN_FILE",
    "DevPorts",
    "DevStartError",
    "hand_over_token",
    "hold_state_dir",
    "member_roles_in_case",
    "private_state",
    "run_dev",
    "ui_codec_settings",
]

log = structlog.stdlib.get_logger(__name__)

HOST: Final = "127.0.0.1"
#: Held (``flock``) by the running ``pathway dev`` for its whole life; holds its process ID.
LOCK_FILE: Final = "pathway-dev.lock"
#: Where the first start's operator token goes (0600) when stdout is not a terminal.
OPERATOR_TOKEN_FILE: Final = "operator-token"  # noqa: S105 - a file name, not a secret
#: How long the parts still running get to stop once one has failed or ``stop`` is set; the
#: workers' own grace for activities in flight is 10 s (workers.NOTIFY_GRACEFUL_SHUTDOWN).
SHUTDOWN_GRACE: Final = timedelta(seconds=20)


class DevStartError(GatewayConfigError):
    """``pathway dev`` could not start, or a part of it failed; nothing of it is left running.

    The message is one line naming the port or file. (A :class:`GatewayConfigError`, so that
    the CLI prints it as ``error: …`` and exits with code 2, like every other configuration
    error of ``pathway dev``.)
    """


def _one_line(error: BaseException) -> str:
    """An exception's message on one line (a file's name kept)."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


# -- the state directory ----------------------------------------------------------------------


def _holder(fd: int) -> str:
    """`` (pid N)`` from the lock file, if it names one."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode("ascii").strip())
        return f" (pid {pid})"
    return ""


@contextlib.contextmanager
def hold_state_dir(var_dir: Path) -> Iterator[None]:
    """Hold ``var_dir`` for this process while the block runs.

    Two ``pathway dev`` on one state directory would share one SQLite database and key store;
    the second is refused with :class:`DevStartError` naming the first one's process ID. The
    lock is an ``flock`` on ``var_dir/pathway-dev.lock``, released by the kernel however this
    process ends (a stale file never blocks a start). A new ``var_dir`` is made 0700.
    """
    try:
        private_dir(var_dir)
        fd = os.open(var_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise DevStartError(
            f"cannot use {var_dir} as the state directory: {_one_line(error)}"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DevStartError(
                f"{var_dir} is already in use by a running pathway dev{_holder(fd)}; stop that "
                "one first (Ctrl-C in its terminal) or give this one another --var"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def private_state(var_dir: Path) -> list[Path]:
    """What must be private to the account running ``pathway dev``: the state directory, the
    key store (with its ``-wal`` and ``-shm``), the master keys and their directory, the
    credentials file, the ID pepper, the statistics ledger's secret, the console's secret and the
    operator token file.
    (The Temporal database, its log, the statistics ledger and the outbox are created 0600 too,
    and are out of others' reach in a 0700 state directory.)"""
    keys = var_dir / "keys.db"
    master_keys = var_dir / "master-keys"
    credentials = current_settings().credentials
    return [
        var_dir,
        keys,
        *sqlite_companions(keys),
        master_keys,
        *sorted(master_keys.glob("*.key")),
        Path(credentials) if credentials else var_dir / DEV_CREDENTIALS_FILE,
        var_dir / "id-pepper",
        var_dir / LEDGER_SECRET_FILE,
        var_dir / CONSOLE_KEY_FILE,
        var_dir / OPERATOR_TOKEN_FILE,
    ]


def _check_private_state(var_dir: Path) -> None:
    """:class:`DevStartError` (one line, each path and its ``chmod``) if the group or others
    may use anything of :func:`private_state`. Refused rather than tightened: a key others
    could read may already have been copied, and the operator must know."""
    try:
        require_private(private_state(var_dir))
    except OpenToOthers as error:
        raise DevStartError(f"refusing to start: {error}") from None
    except OSError as error:
        raise DevStartError(
            f"cannot check the state directory {var_dir}: {_one_line(error)}"
        ) from None


# -- ports ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DevPorts:
    """The ports of ``pathway dev`` on 127.0.0.1, each with its own ``pathway dev`` flag."""

    frontend: int = 7233  # --port: the Temporal server's frontend (gRPC)
    ui: int = 8233  # --ui-port: the web UI (the front before the Temporal UI server)
    codec: int = 8234  # --codec-port: the codec server
    gateway: int = 8080  # --gateway-port: the event gateway


@dataclass(frozen=True)
class _Port:
    what: str
    flag: str
    port: int

    def __str__(self) -> str:
        return f"{HOST}:{self.port} ({self.what}, {self.flag})"


def _check_distinct(ports: list[_Port]) -> None:
    seen: dict[int, _Port] = {}
    for port in ports:
        if port.port in seen:
            raise DevStartError(
                f"{seen[port.port].flag} and {port.flag} are both {port.port}: "
                "every port of pathway dev must differ"
            )
        seen[port.port] = port


def _taken(ports: list[_Port]) -> DevStartError:
    names = " and ".join(str(port) for port in ports)
    verb = "is" if len(ports) == 1 else "are"
    flags = " ".join(dict.fromkeys(port.flag for port in ports))
    return DevStartError(
        f"{names} {verb} already in use: stop what listens there, or choose another port "
        f"with {flags}"
    )


def _bind_all(frontend: _Port, served: list[_Port]) -> list[socket.socket]:
    """Listening sockets for the ports this process serves itself, in order, after checking
    the Temporal server's port too; :class:`DevStartError` naming every taken port."""
    sockets: list[socket.socket] = []
    taken: list[_Port] = []
    try:
        try:
            if port_in_use(HOST, frontend.port):
                taken.append(frontend)
        except OSError as error:
            raise DevStartError(f"{frontend} cannot be bound: {_one_line(error)}") from None
        for port in served:
            try:
                sockets.append(listen(HOST, port.port))
            except AddressUnavailable as error:
                if "in use" not in error.reason:
                    raise DevStartError(f"{port} {error.reason}") from None
                taken.append(port)
        if taken:
            raise _taken(taken)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


# -- the web UI -------------------------------------------------------------------------------


def ui_codec_settings(codec_url: str) -> JsonPatch:
    """Rewrites the Temporal UI server's ``/api/v1/settings`` so that the UI sends the
    browser's cookies to the codec server at ``codec_url`` ("include cross-origin
    credentials", which ``temporal server start-dev`` has no flag for)."""

    def patch(settings: Any) -> Any:
        codec = settings.setdefault("Codec", {})
        codec["Endpoint"] = codec_url
        codec["IncludeCredentials"] = True
        codec["PassAccessToken"] = False
        return settings

    return patch


# -- running ----------------------------------------------------------------------------------


async def run_dev(
    var_dir: Path,
    *,
    ports: DevPorts | None = None,
    channels: Path | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the dev server, every worker, the codec server and the event gateway on ``ports``
    (:class:`DevPorts`, by default its defaults) until SIGINT/SIGTERM or until ``stop`` is set.

    ``ready`` is called with the web UI's address once the server is up and the workers are
    about to poll. On the way out the workers stop first, so that their last results still
    reach the server, and the server last. Raises :class:`DevStartError` (one line) if it
    cannot start or a part of it fails; nothing it started is left running then.
    """
    if current_settings().production:
        raise GatewayConfigError(
            "`pathway dev` is the embedded development default and creates its own "
            "credentials; in production run `pathway worker` and `pathway gateway`"
        )
    stop = stop or asyncio.Event()
    ports = ports or DevPorts()
    frontend = _Port("Temporal frontend", "--port", ports.frontend)
    served = [
        _Port("web UI", "--ui-port", ports.ui),
        _Port("codec server", "--codec-port", ports.codec),
        _Port("gateway", "--gateway-port", ports.gateway),
    ]
    _check_distinct([frontend, *served])
    # Whatever this process and its children create is theirs alone (the umask is restored
    # on the way out, for a caller that goes on).
    with private_umask(), hold_state_dir(var_dir):
        # Every check before anything starts or is printed (the operator token among them).
        _check_private_state(var_dir)
        ui_sock, codec_sock, gateway_sock = _bind_all(frontend, served)
        with ui_sock, codec_sock, gateway_sock:
            await _run(
                var_dir,
                ports=ports,
                channels=channels,
                stop=stop,
                ready=ready,
                sockets=(ui_sock, codec_sock, gateway_sock),
            )


async def _run(
    var_dir: Path,
    *,
    ports: DevPorts,
    channels: Path | None,
    stop: asyncio.Event,
    ready: Callable[[str], None] | None,
    sockets: tuple[socket.socket, socket.socket, socket.socket],
) -> None:
    ui_sock, codec_sock, gateway_sock = sockets
    try:
        loaded_channels = load_channels(channels)
        store = default_keystore(var_dir)
        credentials = _credentials(var_dir)
        # The same tokens as the codec server's, and JWTs too if PATHWAY_JWKS_URL is set.
        authenticator = load_authenticator(var_dir=var_dir, credentials=credentials)
        gateway_settings = GatewaySettings.from_env()
        # The workers' metrics endpoint, if PATHWAY_METRICS_ADDRESS is set (docs/metrics.md).
        install_worker_runtime()
    except DevStartError:
        raise
    except (
        MetricsConfigError,
        ChannelConfigError,
        CredentialsError,
        GatewayConfigError,
        PrivacyError,
        StateError,
        OSError,
    ) as error:
        raise DevStartError(_one_line(error)) from None
    ui_url = f"http://{HOST}:{ports.ui}"
    gateway_url = f"http://{HOST}:{ports.gateway}"
    codec_url = f"http://{HOST}:{ports.codec}"
    # The Temporal UI server itself listens on a port of its own, behind the front on ports.ui.
    settings = DevServer(
        var_dir=var_dir, port=ports.frontend, ui_port=free_port(HOST), ui_codec_endpoint=codec_url
    )
    remove_signals = install_stop_signals(stop)
    try:
        server = await _start_server(settings, stop)
        if server is None:
            log.info("stopped before the temporal dev server was ready")
            return
        proxy = ReverseProxy(
            settings.ui_url,
            json_patches={"/api/v1/settings": ui_codec_settings(codec_url)},
            drop_cookies={SESSION_COOKIE},
        )
        try:
            try:
                # The server started just above, on loopback without TLS: no TEMPORAL_* profile.
                client = await connect(
                    settings.target, settings.namespace, store=store, use_config=False
                )
            except RuntimeError as error:  # the SDK's "connection failed"
                raise DevStartError(
                    f"cannot connect to the Temporal dev server at {settings.target}: "
                    f"{_one_line(error)}; its log: {settings.log_file}"
                ) from None
            # The same codec server as `pathway codec-server`'s; the sign-in form is posted
            # only from its own page.
            codec_app = case_codec_app(
                client, store, credentials, ui_origin=ui_url, public_url=codec_url
            )
            gateway_app = create_gateway_app(
                client=client, authenticator=authenticator, settings=gateway_settings
            )
            log.info(
                "temporal dev server ready",
                ui=ui_url,
                # Not "address": that key is redacted as personal (pathway.logs).
                frontend=settings.target,
                namespace=settings.namespace,
                database=str(settings.db_file),
                server_log=str(settings.log_file),
                codec_server=codec_url,
                codec_login=f"{codec_url}/login",
                gateway=gateway_url,
                gateway_docs=f"{gateway_url}/docs",
                console=f"{gateway_url}/console",  # the caseworker's console (issue 17)
            )
            if ready is not None:
                ready(ui_url)
            await _serve_until_stopped(
                server,
                settings,
                stop,
                {
                    "workers": workers.run_workers(
                        client,
                        organisations=NOTIFIED,
                        serve_cases=True,
                        channels=loaded_channels,
                        stop=stop,
                        # One process, one build: no deployment to make current, so a
                        # versioned worker here would never be given a task.
                        versioned=False,
                    ),
                    f"web UI on {ui_url}": serve_app(
                        proxy.app,
                        ui_sock,
                        stop,
                        name="web UI",
                        graceful_seconds=5,
                        temporal_ui=settings.ui_url,
                    ),
                    f"codec server on {codec_url}": serve_app(
                        codec_app, codec_sock, stop, name="codec server", graceful_seconds=5
                    ),
                    f"gateway on {gateway_url}": serve_app(
                        gateway_app,
                        gateway_sock,
                        stop,
                        name="gateway",
                        graceful_seconds=10,
                        docs=f"{gateway_url}/docs",
                        console=f"{gateway_url}/console",  # the caseworker's console (issue 17)
                    ),
                },
            )
        finally:
            await proxy.aclose()
            code = await stop_process(server)
            forget_server(settings)
            log.info("temporal dev server stopped", exit_code=code)
    finally:
        remove_signals()


async def _start_server(
    settings: DevServer, stop: asyncio.Event
) -> asyncio.subprocess.Process | None:
    """The started dev server, or None if ``stop`` was set first (nothing left running)."""
    starting = asyncio.create_task(start_dev_server(settings))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not starting.done():
            # Its own cleanup stops the server process it may have started.
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
    if starting.cancelled():
        return None
    try:
        return starting.result()
    except DevServerError as error:
        raise DevStartError(error.summary) from None
    except OSError as error:  # the binary is missing, the log cannot be opened
        raise DevStartError(_one_line(error)) from None


async def _serve_until_stopped(
    server: asyncio.subprocess.Process,
    settings: DevServer,
    stop: asyncio.Event,
    parts: dict[str, Coroutine[Any, Any, None]],
) -> None:
    """Run ``parts`` until ``stop`` is set, one of them ends or the server exits; then stop
    the others (bounded by :data:`SHUTDOWN_GRACE`) and raise :class:`DevStartError` if
    anything failed."""
    tasks = {asyncio.create_task(coro, name=name): name for name, coro in parts.items()}
    server_exit = asyncio.create_task(server.wait())
    stopping = asyncio.create_task(stop.wait())
    failure: DevStartError | None = None
    try:
        done, _ = await asyncio.wait(
            {*tasks, server_exit, stopping}, return_when=asyncio.FIRST_COMPLETED
        )
        if server_exit in done and not stop.is_set():
            failure = DevStartError(
                f"the Temporal dev server exited unexpectedly with code {server.returncode}; "
                f"its log: {settings.log_file}"
            )
        for task, name in tasks.items():
            if task in done:
                failure = failure or _failure_of(name, task, stop)
        stop.set()
        pending = [task for task in tasks if not task.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=SHUTDOWN_GRACE.total_seconds())
            for late_task in late:
                log.warning("did not stop in time; cancelled", part=tasks[late_task])
                late_task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for task, name in tasks.items():
            failure = failure or _failure_of(name, task, stop)
    finally:
        stop.set()
        everything: list[asyncio.Task[Any]] = [*tasks, server_exit, stopping]
        for each in everything:
            each.cancel()
        await asyncio.gather(*everything, return_exceptions=True)
    if failure is not None:
        raise failure


def _failure_of(name: str, task: asyncio.Task[None], stop: asyncio.Event) -> DevStartError | None:
    """What went wrong with a finished part, if anything."""
    if task.cancelled():
        return None
    error = task.exception()
    if error is None:
        if stop.is_set():
            return None
        return DevStartError(f"the {name} stopped unexpectedly")
    if not isinstance(error, (OSError, DevStartError, GatewayConfigError)):
        # A bug, not an environment problem: its traceback goes to the log.
        log.error("part of pathway dev failed", part=name, exc_info=error)
    return DevStartError(f"the {name} failed: {_one_line(error)}")


def _credentials(var_dir: Path) -> Credentials:
    """``PATHWAY_CREDENTIALS`` if set; else ``var/credentials.toml``, created on first start
    with one operator token, which is handed over once (:func:`hand_over_token`; it is stored
    only as a hash)."""
    if current_settings().credentials is not None:
        return Credentials.load()
    path, token = ensure_dev_credentials(var_dir)
    if token is not None:
        hand_over_token(token, credentials_file=path, var_dir=var_dir, out=sys.stdout)
    return Credentials.load(path)


_OPERATOR_USES: Final = (
    "Use it for `pathway case erase` (PATHWAY_TOKEN) and to sign in to the codec server for "
    "the web UI.\n"
)


def hand_over_token(token: str, *, credentials_file: Path, var_dir: Path, out: TextIO) -> None:
    """Give the first start's operator token to the person who started ``pathway dev``; it is
    never logged.

    Printed to ``out`` only if it is a terminal. Otherwise (a log file, a pipe, a service
    manager's journal, each of which keeps what it is given) the token is written to
    ``var_dir/operator-token`` (mode 0600, in one step) and only that path is printed.
    """
    if out.isatty():
        out.write(
            f"\nOperator token (shown once; stored only as a hash in {credentials_file}):\n"
            f"  {token}\n{_OPERATOR_USES}\n"
        )
    else:
        token_file = var_dir / OPERATOR_TOKEN_FILE
        write_secret(token_file, f"{token}\n", replace=True)
        out.write(
            f"\nOperator token written to {token_file} (mode 0600), not printed: stdout is not "
            f"a terminal. Only its hash is kept, in {credentials_file}: read the file once, keep "
            f"the token and delete the file.\n{_OPERATOR_USES}\n"
        )
    out.flush()
