"""`pathway dev` as a process: every start-up failure ends it within seconds, non-zero, with one
line naming the port, the state directory or the server's log, and no traceback; the operator
token is not printed before the checks pass. A running one serves the web UI so that a browser
signed in at the codec server sees decoded payloads with no setting changed in the UI.

Every process a test starts is stopped by a fixture finaliser, also when the test fails: the
``pathway dev`` processes by SIGTERM (then SIGKILL), and anything they started (the Temporal dev
server runs in a session of its own) by a mark in its environment.
"""

from __future__ import annotations

import base64
import contextlib
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

from pathway.dev import LOCK_FILE
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

    def start(self, var: Path, **ports: int) -> Dev:
        """`pathway dev --var var` on ``ports`` (each name not given: a free port)."""
        chosen = {
            name: ports.get(name) or free_port()
            for name in ("port", "ui-port", "codec-port", "gateway-port")
        }
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
            args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
        )
        dev = Dev(proc, var, chosen, out_path, err_path, [out, err])
        self.started.append(dev)
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
        var.mkdir()
        (var / "temporal.db").write_bytes(b"this is not a SQLite database" * 200)
        dev = devs.start(var)

        code = dev.wait_exit()

        assert code == 2
        line = the_one_line(dev.stderr)
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
        first = devs.start(var)
        wait_until(lambda: serving(first), READY_WITHIN, "serving", first)

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
        dev = devs.start(var)
        wait_until(lambda: serving(dev), READY_WITHIN, "serving", dev)
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


def _token(stdout: str) -> str:
    found = re.search(r"Operator token[^\n]*\n\s+(\S+)", stdout)
    assert found, stdout
    return found.group(1)


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
        token = _token(dev.stdout)

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
