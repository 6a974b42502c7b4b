"""`pathway dev` as a process: every start-up failure ends it within seconds, non-zero, with one
line naming the port, the state directory or the server's log, and no traceback; the operator
token is not printed before the checks pass. A running one serves the web UI so that a browser
signed in at the codec server sees decoded payloads with no setting changed in the UI.

Every `pathway dev` here runs with the umask 022 and its stdout a file: everything it creates in
its state directory must still be private (0600, directories 0700), a key store others may read
is refused, and the operator token goes to a 0600 file, never to stdout (issue 11, item 9).

Every process a test starts is stopped by a fixture finaliser, also when the test fails: the
``pathway dev`` processes by SIGTERM (then SIGKILL), and anything they started (the Temporal dev
server runs in a session of its own) by a mark in its environment.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from pathway.access.credentials import hash_token
from pathway.dev import LOCK_FILE, OPERATOR_TOKEN_FILE
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore
from pathway.temporal_binaries import PID_FILE
from tests.receivers import free_port

#: Generous bounds for a busy 2-core machine; every wait polls and ends as soon as it can.
EXIT_WITHIN = 60.0
READY_WITHIN = 120.0
MARK = "PATHWAY_STARTUP_TEST"


def _marked(mark: str) -> list[int]:
    """Live processes whose environment carries ``MARK=mark`` (zombies excluded)."""
    wanted = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


@dataclass
class Dev:
    """One `pathway dev` process, its ports, state directory and captured output."""

    proc: subprocess.Popen[bytes]
    var: Path
    ports: dict[str, int]
    out_path: Path
    err_path: Path
    files: list[IO[bytes]] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_exit(self, within: float = EXIT_WITHIN) -> int:
        """The exit code, polled for up to ``within`` seconds (fails the test if still running)."""
        try:
            return self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"pathway dev still running after {within:g} s; stderr:\n{self.stderr[-3000:]}"
            )

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"


class DevProcesses:
    """Starts `pathway dev` processes; :meth:`stop_all` ends them and whatever they started."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.mark = uuid.uuid4().hex
        self.started: list[Dev] = []

    def start(self, var: Path, umask: int = 0o022, **ports: int) -> Dev:
        """`pathway dev --var var` on ``ports`` (each name not given: a free port), with the
        umask ``umask`` (by default the common 022, under which files come out 0644 unless
        the code makes them private)."""
        chosen: dict[str, int] = {}
        for name in ("port", "ui-port", "codec-port", "gateway-port"):
            port = ports.get(name) or free_port()
            # The OS may hand back a port it just gave (each probe closes its socket): every
            # port of one pathway dev must differ (CI: --port and --codec-port both 50183).
            while name not in ports and port in chosen.values():
                port = free_port()
            chosen[name] = port
        args = [sys.executable, "-m", "pathway.cli", "dev", "--var", str(var)]
        for name, port in chosen.items():
            args += [f"--{name}", str(port)]
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PATHWAY_CREDENTIALS", "PATHWAY_CHANNELS", "PATHWAY_MODE")
        }
        env.update({"PATHWAY_VAR": str(var), MARK: self.mark})
        n = len(self.started)
        out_path, err_path = self.base / f"dev{n}.out", self.base / f"dev{n}.err"
        out, err = out_path.open("wb"), err_path.open("wb")
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, umask=umask
        )
        dev = Dev(proc, var, chosen, out_path, err_path, [out, err])
        self.started.append(dev)
        return dev

    def start_serving(self, var: Path) -> Dev:
        """:meth:`start` on free ports, polled until it serves. A port chosen free may be taken
        by another process before `pathway dev` binds it (the suite runs in parallel): that
        start, which ends at once with one line saying so, is made again on other ports."""
        for _ in range(3):
            dev = self.start(var)
            wait_until(functools.partial(serving_or_ended, dev), READY_WITHIN, "up")
            if dev.proc.poll() is None:
                return dev
            if "is already in use: stop what listens there" not in dev.stderr:
                break
        wait_until(lambda: serving(dev), READY_WITHIN, "serving", dev)  # fails, saying why
        return dev

    def stop_all(self) -> None:
        for dev in self.started:
            if dev.proc.poll() is None:
                dev.proc.send_signal(signal.SIGTERM)
        for dev in self.started:
            try:
                dev.proc.wait(timeout=EXIT_WITHIN)
            except subprocess.TimeoutExpired:
                dev.proc.kill()
                dev.proc.wait(timeout=EXIT_WITHIN)
            for file in dev.files:
                file.close()
        # The Temporal dev server runs in a session of its own: a pathway dev killed above
        # would have left it behind.
        for pid in _marked(self.mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def devs(tmp_path: Path) -> Iterator[DevProcesses]:
    """Start `pathway dev` processes; all are stopped at the end, whatever the test did."""
    processes = DevProcesses(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def listening() -> Iterator[Callable[[], int]]:
    """Occupy ports: each call returns a port something listens on until the test ends."""
    held: list[socket.socket] = []

    def occupy() -> int:
        sock = socket.create_server(("127.0.0.1", 0))
        held.append(sock)
        port: int = sock.getsockname()[1]
        return port

    try:
        yield occupy
    finally:
        for sock in held:
            sock.close()


def the_one_line(stderr: str) -> str:
    """stderr must be exactly one non-empty line, with no traceback; that line."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr[-3000:]}"
    return lines[0]


def wait_until(ready: Callable[[], bool], within: float, what: str, dev: Dev | None = None) -> None:
    """Poll ``ready`` until it holds, for up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while not ready():
        if dev is not None and dev.proc.poll() is not None:
            pytest.fail(
                f"pathway dev exited ({dev.proc.returncode}) before {what}:\n{dev.stderr[-3000:]}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {within:g} s")
        time.sleep(0.2)


def serving_or_ended(dev: Dev) -> bool:
    return dev.proc.poll() is not None or serving(dev)


def serving(dev: Dev) -> bool:
    """The web UI answers through pathway dev's front (so everything is up)."""
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{dev.url('ui-port')}/api/v1/settings", timeout=5).status_code == 200
    return False


class TestStartupFailures:
    def test_gateway_port_taken(
        self, devs: DevProcesses, listening: Callable[[], int], tmp_path: Path
    ) -> None:
        """The gateway's port taken: exit 2 at once, one line naming it; nothing started, and
        the operator token neither printed nor created."""
        port = listening()
        dev = devs.start(tmp_path / "var", **{"gateway-port": port})

        code = dev.wait_exit()

        assert code == 2
        line = the_one_line(dev.stderr)
        assert f"127.0.0.1:{port}" in line and "--gateway-port" in line, line
        assert "already in use" in line
        assert "Operator token" not in dev.stdout
        assert not (tmp_path / "var" / "credentials.toml").exists()
        assert not (tmp_path / "var" / "temporal.db").exists()

    def test_temporal_frontend_port_taken(
        self, devs: DevProcesses, listening: Callable[[], int], tmp_path: Path
    ) -> None:
        """The Temporal frontend's port taken: exit 2, one line naming it, no server started."""
        port = listening()
        dev = devs.start(tmp_path / "var", port=port)

        code = dev.wait_exit()

        assert code == 2
        line = the_one_line(dev.stderr)
        assert f"127.0.0.1:{port}" in line and "Temporal frontend" in line, line
        assert not (tmp_path / "var" / "temporal.db").exists()
        assert "Operator token" not in dev.stdout

    def test_two_ports_the_same(self, devs: DevProcesses, tmp_path: Path) -> None:
        """Two parts given one port: refused before anything starts, both flags named."""
        port = free_port()
        dev = devs.start(tmp_path / "var", **{"codec-port": port, "gateway-port": port})

        assert dev.wait_exit() == 2
        line = the_one_line(dev.stderr)
        assert "--codec-port" in line and "--gateway-port" in line and str(port) in line

    @pytest.mark.devserver
    def test_temporal_server_failing_names_its_log(
        self, devs: DevProcesses, tmp_path: Path
    ) -> None:
        """The Temporal dev server exits at start (its database is garbage): exit 2 within
        seconds, one line naming the server's log file, and no server left running."""
        var = tmp_path / "var"
        var.mkdir(mode=0o700)
        (var / "temporal.db").write_bytes(b"this is not a SQLite database" * 200)
        # A free port probed here can be taken by a parallel test before `pathway dev` binds
        # it (CI: the web UI's port), which it rightly refuses with its own line: not what this
        # test is about, so it starts again on other ports (a few times at most).
        for _ in range(5):
            dev = devs.start(var)
            code = dev.wait_exit()
            line = the_one_line(dev.stderr)
            if not re.search(r"127\.0\.0\.1:\d+ \(.*\) is already in use", line):
                break

        assert code == 2
        assert str(var / "temporal.log") in line, line
        assert "Temporal dev server" in line
        assert _marked(devs.mark) == []


@pytest.mark.devserver
class TestRunning:
    def test_second_instance_on_the_same_state_directory(
        self, devs: DevProcesses, tmp_path: Path
    ) -> None:
        """A second `pathway dev` on a state directory in use exits 2 with one line naming the
        directory and the first one's pid; the first goes on and stops cleanly."""
        var = tmp_path / "var"
        first = devs.start_serving(var)

        # Other ports: the state directory alone must be enough to refuse it.
        second = devs.start(var)

        assert second.wait_exit() == 2
        line = the_one_line(second.stderr)
        assert str(var) in line and "already in use" in line, line
        assert f"pid {first.proc.pid}" in line
        assert first.proc.poll() is None and serving(first)
        first.proc.send_signal(signal.SIGINT)
        assert first.wait_exit() == 0
        assert "Traceback" not in first.stderr
        assert _marked(devs.mark) == []
        assert (var / LOCK_FILE).exists()

    def test_temporal_server_dying_stops_everything(
        self, devs: DevProcesses, tmp_path: Path
    ) -> None:
        """The Temporal dev server killed under a running `pathway dev`: it stops everything
        and exits non-zero within the bound, with one line naming the server's log."""
        var = tmp_path / "var"
        dev = devs.start_serving(var)
        servers = [
            pid
            for pid in _marked(devs.mark)
            if b"start-dev" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(servers) == 1
        before = len(dev.stderr.splitlines())

        os.kill(servers[0], signal.SIGKILL)

        assert dev.wait_exit() == 2
        new_lines = dev.stderr.splitlines()[before:]
        assert "Traceback" not in dev.stderr
        errors = [line for line in new_lines if line.startswith("error:")]
        assert len(errors) == 1 and str(var / "temporal.log") in errors[0], new_lines[-5:]
        assert errors[0] == new_lines[-1]
        assert _marked(devs.mark) == []


def temporal_servers(devs: DevProcesses) -> list[int]:
    """The live Temporal dev servers the test's `pathway dev` processes started."""
    return [
        pid
        for pid in _marked(devs.mark)
        if b"start-dev" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


class TestSupervision:
    """Issue 16, item 6: `pathway dev` owns the Temporal server it starts."""

    def test_sigkill_of_pathway_dev_leaves_no_server_and_it_starts_again(
        self, devs: DevProcesses, tmp_path: Path
    ) -> None:
        """SIGKILL of `pathway dev` (no handler runs): its Temporal server dies with it, and a
        new `pathway dev` on the same state directory and ports starts and serves."""
        var = tmp_path / "var"
        dev = devs.start_serving(var)
        (server,) = temporal_servers(devs)
        assert (var / PID_FILE).read_text().strip() == str(server)

        dev.proc.kill()
        dev.wait_exit()
        wait_until(lambda: not temporal_servers(devs), EXIT_WITHIN, "the server gone")

        again = devs.start(var, **dev.ports)
        wait_until(lambda: serving(again), READY_WITHIN, "serving again", again)
        again.proc.send_signal(signal.SIGINT)
        assert again.wait_exit() == 0
        assert _marked(devs.mark) == [] and not (var / PID_FILE).exists()

    def test_a_server_left_running_by_an_earlier_start_is_stopped(
        self, devs: DevProcesses, tmp_path: Path
    ) -> None:
        """A Temporal server on the state directory's database that nothing owns (started by an
        older `pathway dev`, or one whose parent-death signal was lost): the next `pathway dev`
        stops it, says so once, and starts its own on the same ports."""
        var = tmp_path / "var"
        dev = devs.start_serving(var)
        (server,) = temporal_servers(devs)
        # A stand-in for an orphan, which nothing owns: a process that sleeps with the server's
        # arguments on its command line (and the test's mark in its environment).
        cmdline = Path(f"/proc/{server}/cmdline").read_bytes().split(b"\0")[1:-1]
        orphan = subprocess.Popen(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", "import time; time.sleep(600)", *map(os.fsdecode, cmdline)],
            env={**os.environ, MARK: devs.mark},
            start_new_session=True,
        )
        try:
            (var / PID_FILE).write_text(f"{orphan.pid}\n")
            dev.proc.kill()
            dev.wait_exit()
            wait_until(lambda: server not in temporal_servers(devs), EXIT_WITHIN, "server gone")
            again = devs.start(var, **dev.ports)
            wait_until(lambda: serving(again), READY_WITHIN, "serving again", again)
            assert orphan.wait(timeout=EXIT_WITHIN) == -signal.SIGTERM
            assert "stopped a temporal dev server left running" in again.stdout + again.stderr
        finally:
            if orphan.poll() is None:
                orphan.kill()
                orphan.wait()


def _token(dev: Dev) -> str:
    """The operator token of a first start: stdout is not a terminal, so it is in the token
    file (0600), whose path stdout names, and nowhere in the output."""
    token_file = dev.var / OPERATOR_TOKEN_FILE
    assert f"Operator token written to {token_file} (mode 0600)" in dev.stdout, dev.stdout
    token = token_file.read_text().strip()
    assert token and token not in dev.stdout and token not in dev.stderr
    return token


def _plain(value: Any) -> dict[str, Any]:
    return {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": base64.b64encode(json.dumps(value).encode()).decode(),
    }


@pytest.mark.devserver
class TestWebUiSignIn:
    def test_signed_in_browser_decodes_through_the_ui_settings(
        self, devs: DevProcesses, tmp_path: Path
    ) -> None:
        """What the UI does after a sign-in at the codec server, step by step: its settings
        (served through pathway dev's front) name the codec server with credentials included;
        the codec server lets the UI's origin send credentials; the session cookie then
        decodes, from that origin only."""
        dev = devs.start(tmp_path / "var")
        wait_until(lambda: serving(dev), READY_WITHIN, "serving", dev)
        ui, codec = dev.url("ui-port"), dev.url("codec-port")
        token = _token(dev)

        settings = httpx.get(f"{ui}/api/v1/settings", timeout=10).json()
        assert settings["Codec"]["Endpoint"] == codec
        assert settings["Codec"]["IncludeCredentials"] is True
        assert settings["Codec"]["PassAccessToken"] is False
        page = httpx.get(f"{ui}/", timeout=10)
        assert page.status_code == 200 and "/_app/" in page.text

        with httpx.Client(base_url=codec, timeout=10) as browser:
            preflight = browser.options(
                "/decode",
                headers={
                    "Origin": ui,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-namespace",
                },
            )
            assert preflight.status_code == 200
            assert preflight.headers["access-control-allow-origin"] == ui
            assert preflight.headers["access-control-allow-credentials"] == "true"

            encoded = browser.post(
                "/encode",
                json={"payloads": [_plain("decoded")]},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert encoded.status_code == 200, encoded.text
            assert (
                browser.post("/decode", json=encoded.json(), headers={"Origin": ui}).status_code
                == 401
            )

            # As the browser posts the form on the codec server's own page.
            signed_in = browser.post("/login", data={"token": token}, headers={"Origin": codec})
            assert signed_in.status_code == 200 and "Signed in as" in signed_in.text

            decoded = browser.post(
                "/decode", json=encoded.json(), headers={"Origin": ui, "X-Namespace": "default"}
            )
            assert decoded.status_code == 200, decoded.text
            assert decoded.headers["access-control-allow-credentials"] == "true"
            data = base64.b64decode(decoded.json()["payloads"][0]["data"])
            assert json.loads(data) == "decoded"
            # The cookie counts only from the UI's origin.
            assert (
                browser.post(
                    "/decode", json=encoded.json(), headers={"Origin": "http://127.0.0.1:1"}
                ).status_code
                == 401
            )


def _modes(var: Path) -> dict[str, str]:
    """Every file and directory under ``var`` (itself included) and its permission bits."""
    found = {".": oct(stat_mode(var))}
    for path in sorted(var.rglob("*")):
        try:
            found[str(path.relative_to(var))] = oct(stat_mode(path))
        except FileNotFoundError:
            continue  # a transient file (SQLite's -journal) gone between listing and stat
    return found


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


class TestFilesAtRest:
    def test_key_store_open_to_others_is_refused(self, devs: DevProcesses, tmp_path: Path) -> None:
        """A keys.db others may read (as an earlier version left it): exit 2, one line naming
        it and the chmod, before anything starts or a token is made."""
        var = tmp_path / "var"
        SqliteKeyStore(
            var / "keys.db", MasterKeyRing.from_env_or_dir(var / "master-keys")
        ).data_key("case-a")
        (var / "keys.db").chmod(0o644)

        dev = devs.start(var)

        assert dev.wait_exit() == 2
        line = the_one_line(dev.stderr)
        assert line.startswith("error: refusing to start: "), line
        assert f"{var / 'keys.db'} (mode 0644)" in line
        assert f"`chmod 600 {var / 'keys.db'}`" in line
        assert "Operator token" not in dev.stdout
        assert not (var / "credentials.toml").exists()
        assert not (var / "temporal.db").exists()

    def test_state_directory_open_to_others_is_refused(
        self, devs: DevProcesses, tmp_path: Path
    ) -> None:
        var = tmp_path / "var"
        var.mkdir()
        var.chmod(0o755)

        dev = devs.start(var)

        assert dev.wait_exit() == 2
        line = the_one_line(dev.stderr)
        assert f"{var} (mode 0755)" in line and f"`chmod 700 {var}`" in line, line
        assert not (var / "credentials.toml").exists()

    @pytest.mark.devserver
    def test_everything_it_creates_is_private(self, devs: DevProcesses, tmp_path: Path) -> None:
        """Started with the umask 022, stdout a file: once serving, and after a case was
        opened (the CLI, also with the umask 022) and its notification written to the outbox,
        every file in the state directory is 0600 and every directory 0700 (the Temporal
        database with its WAL and SHM, the key store with its, master keys, credentials, ID
        pepper, outbox, token file); the token is only in its file."""
        var = tmp_path / "var"
        dev = devs.start_serving(var)
        token = _token(dev)
        assert hash_token(token) in (var / "credentials.toml").read_text()

        env = {
            **{k: v for k, v in os.environ.items() if k != "PATHWAY_CREDENTIALS"},
            "PATHWAY_VAR": str(var),
            "PATHWAY_TEMPORAL_ADDRESS": f"127.0.0.1:{dev.ports['port']}",
        }
        opened = subprocess.run(
            [
                sys.executable,
                "-m",
                "pathway.cli",
                "case",
                "open",
                "examples/adult/01-identified.json",
            ],
            cwd=Path(__file__).parent.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            umask=0o022,
            check=False,
        )
        assert opened.returncode == 0, opened.stderr
        wait_until(
            lambda: (var / "outbox" / "caritas.jsonl").exists(), 60, "notified to the outbox", dev
        )

        modes = _modes(var)
        expected = {name: oct(0o700 if (var / name).is_dir() else 0o600) for name in modes}
        assert modes == expected
        for name in (
            "temporal.db",
            "temporal.log",
            "keys.db",
            "keys.db-wal",
            "keys.db-shm",
            "credentials.toml",
            "id-pepper",
            OPERATOR_TOKEN_FILE,
            LOCK_FILE,
            "outbox/caritas.jsonl",
        ):
            assert name in modes, sorted(modes)
        assert any(name.startswith("master-keys/") for name in modes)
        assert token not in dev.stdout and token not in dev.stderr
