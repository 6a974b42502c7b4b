"""`pathway codec-server` as a process (issue 16, the command deploy/ runs): the codec server of
`pathway dev`, alone, on a real key store and a real Temporal dev server.

It answers the probes the manifests call, signs in with the credentials file, decodes for those
allowed (an operator) and refuses another (an organisation that is no member of the case),
answers the UI's origin only, counts decodes on /metrics, and stops on SIGTERM with exit 0. A
setting that cannot work stops it at start: one line, exit 2, no traceback.

Every process a test starts is stopped by a fixture finaliser, also when the test fails.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml  # type: ignore[import-untyped]
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import WorkflowSerializationContext

from pathway.access.credentials import OPERATOR, hash_token, new_token
from pathway.cli import build_parser
from pathway.codec_server import SESSION_COOKIE
from pathway.codec_server.server import web_origin
from pathway.privacy.codec import CaseCodec
from pathway.privacy.keys import MasterKeyRing, SqliteKeyStore, create_master_key
from pathway.secret_files import write_secret
from pathway.temporal_binaries import DevServer, start_dev_server, stop_process
from tests.receivers import eventually, free_port

ROOT = Path(__file__).resolve().parent.parent
#: Generous bounds for a busy 2-core machine; every wait polls and ends as soon as it can.
READY_WITHIN = 120.0
EXIT_WITHIN = 60.0
UI_ORIGIN = "http://127.0.0.1:8233"
CANARY = "CANARY-Ana-Novak-1999-05-17-passport-X123"
CASE_ID = "case-codec-cli"
#: Role -> token: an operator decodes everything; the police are no member of CASE_ID.
TOKENS = {OPERATOR: new_token(), "police": new_token()}


@dataclass
class CodecProcess:
    """One `pathway codec-server` process and its captured output."""

    proc: subprocess.Popen[bytes]
    url: str
    out_path: Path
    err_path: Path

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    def wait_exit(self, within: float = EXIT_WITHIN) -> int:
        try:
            return self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running after {within:g} s; stderr:\n{self.stderr[-3000:]}")


class Launcher:
    """Starts `pathway codec-server` processes; :meth:`stop_all` ends every one still running."""

    def __init__(self, base: Path, var: Path) -> None:
        self.base = base
        self.var = var
        self.started: list[CodecProcess] = []

    def start(self, *args: str, env: dict[str, str] | None = None) -> CodecProcess:
        """``pathway codec-server ARGS`` with a clean environment (no PATHWAY_*/TEMPORAL_* of
        the caller's) plus ``env``, its output in files."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("PATHWAY_", "TEMPORAL_"))}
        clean |= {"PATHWAY_VAR": str(self.var)} | (env or {})
        n = len(self.started)
        out_path, err_path = self.base / f"codec-{n}.out", self.base / f"codec-{n}.err"
        port = args[args.index("--port") + 1] if "--port" in args else "8234"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                [sys.executable, "-m", "pathway.cli", "codec-server", *args],
                stdout=out,
                stderr=err,
                env=clean,
                cwd=self.base,
            )
        started = CodecProcess(proc, f"http://127.0.0.1:{port}", out_path, err_path)
        self.started.append(started)
        return started

    def stop_all(self) -> None:
        for each in self.started:
            if each.proc.poll() is None:
                each.proc.send_signal(signal.SIGTERM)
                try:
                    each.proc.wait(timeout=EXIT_WITHIN)
                except subprocess.TimeoutExpired:
                    each.proc.kill()
                    each.proc.wait(timeout=EXIT_WITHIN)


@pytest.fixture
def var(tmp_path: Path) -> Path:
    """A state directory with a master key and a credentials file (hashes of TOKENS)."""
    state = tmp_path / "var"
    create_master_key(state / "master-keys")
    write_secret(
        state / "credentials.toml",
        "".join(
            f'[[tokens]]\nname = "{role}-tester"\nrole = "{role}"\nsha256 = "{hash_token(t)}"\n\n'
            for role, t in TOKENS.items()
        ),
        replace=False,
    )
    return state


@pytest.fixture
def launcher(tmp_path: Path, var: Path) -> Iterator[Launcher]:
    started = Launcher(tmp_path, var)
    try:
        yield started
    finally:
        started.stop_all()


@pytest_asyncio.fixture
async def temporal(tmp_path: Path) -> AsyncIterator[DevServer]:
    """A real Temporal dev server (no case on it), stopped afterwards."""
    server = DevServer(
        var_dir=tmp_path / "temporal", port=free_port(), ui_port=free_port(), headless=True
    )
    proc = await start_dev_server(server)
    try:
        yield server
    finally:
        await stop_process(proc)


def store_of(var: Path) -> SqliteKeyStore:
    """The key store the server reads (same file, same master key)."""
    ring = MasterKeyRing(
        {p.stem: bytes.fromhex(p.read_text().strip()) for p in (var / "master-keys").glob("*.key")}
    )
    return SqliteKeyStore(var / "keys.db", ring)


async def sealed(var: Path, case_id: str) -> dict[str, Any]:
    """A /decode body: one payload encrypted for ``case_id`` as a worker would."""
    plain = pydantic_data_converter.payload_converter.to_payloads([{"note": CANARY}])
    context = WorkflowSerializationContext(namespace="default", workflow_id=case_id)
    encrypted = await CaseCodec(store_of(var)).with_context(context).encode(plain)
    return {"payloads": [json_format.MessageToDict(p) for p in encrypted]}


def plain_values(body: dict[str, Any]) -> list[Any]:
    payloads = [json_format.ParseDict(p, Payload()) for p in body["payloads"]]
    return pydantic_data_converter.payload_converter.from_payloads(payloads)


def probe_paths() -> set[str]:
    """The HTTP paths the manifests probe the codec server on (k8s probes, compose check)."""
    docs = yaml.safe_load_all((ROOT / "deploy/k8s/base/codec-server.yaml").read_text())
    (deployment,) = (d for d in docs if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    paths = {container[p]["httpGet"]["path"] for p in container if p.endswith("Probe")}
    compose = yaml.safe_load((ROOT / "deploy/compose/compose.yaml").read_text())
    check = " ".join(compose["services"]["codec-server"]["healthcheck"]["test"])
    paths |= {part.split(":8234", 1)[1].split("'")[0] for part in check.split() if ":8234/" in part}
    assert paths, "the manifests probe no path"
    return paths


async def answering(url: str, path: str = "/healthz") -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(url + path)).status_code == 200
    except httpx.TransportError:
        return False


async def signed_in(http: httpx.AsyncClient, url: str, role: str) -> None:
    """Sign ``http`` in at ``url``/login as ``role``, as a browser posting the form does."""
    response = await http.post(
        f"{url}/login", data={"token": TOKENS[role]}, headers={"Origin": url}
    )
    assert response.status_code == 200, response.text
    assert SESSION_COOKIE in " ".join(response.headers.get_list("set-cookie"))


def assert_one_line(stderr: str, *expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for text in expected:
        assert text in lines[0], stderr


async def test_serves_decodes_for_the_allowed_and_stops_on_sigterm(
    launcher: Launcher, var: Path, temporal: DevServer
) -> None:
    port = free_port()
    server = launcher.start(
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-origin",
        UI_ORIGIN,
        env={
            "PATHWAY_CREDENTIALS": str(var / "credentials.toml"),
            "PATHWAY_TEMPORAL_ADDRESS": temporal.target,
            "PATHWAY_NAMESPACE": temporal.namespace,
        },
    )
    url = server.url
    await eventually(lambda: server.proc.poll() is not None or answering(url), READY_WITHIN)
    assert server.proc.poll() is None, server.stderr
    for path in probe_paths():
        assert await answering(url, path), f"probe path {path} does not answer"

    body = await sealed(var, CASE_ID)
    browser = {"Origin": UI_ORIGIN}
    async with httpx.AsyncClient(timeout=30) as operator, httpx.AsyncClient(timeout=30) as police:
        # Signed in like the web UI's browser: the session cookie, from the UI's origin.
        await signed_in(operator, url, OPERATOR)
        decoded = await operator.post(f"{url}/decode", json=body, headers=browser)
        assert decoded.status_code == 200, decoded.text
        assert plain_values(decoded.json()) == [{"note": CANARY}]
        assert decoded.headers["access-control-allow-origin"] == UI_ORIGIN
        # The police are no member of the case (Temporal has none): refused, nothing shown.
        await signed_in(police, url, "police")
        refused = await police.post(f"{url}/decode", json=body, headers=browser)
        assert refused.status_code == 403, refused.text
        assert CANARY not in refused.text
        # Another origin's browser: the cookie does not count, and CORS names no other origin.
        elsewhere = await operator.post(
            f"{url}/decode", json=body, headers={"Origin": "http://evil.test"}
        )
        assert elsewhere.status_code == 401, elsewhere.text
        assert "access-control-allow-origin" not in elsewhere.headers
        # A script with a bearer token, no cookie.
        async with httpx.AsyncClient(timeout=30) as script:
            by_token = await script.post(
                f"{url}/decode", json=body, headers={"Authorization": f"Bearer {TOKENS[OPERATOR]}"}
            )
            assert by_token.status_code == 200, by_token.text
            metrics = (await script.get(f"{url}/metrics")).text
    assert 'pathway_codec_decodes_total{role="operator"} 2.0' in metrics

    server.proc.send_signal(signal.SIGTERM)
    assert server.wait_exit() == 0, server.stderr
    assert "Traceback" not in server.stderr
    assert CANARY not in server.stderr + server.stdout
    assert not await answering(url)


async def test_sigint_stops_it_too(launcher: Launcher, var: Path) -> None:
    """Ctrl-C is a graceful stop as well; Temporal need not be up to serve /healthz."""
    server = launcher.start(
        "--port",
        str(free_port()),
        "--ui-origin",
        UI_ORIGIN,
        env={
            "PATHWAY_CREDENTIALS": str(var / "credentials.toml"),
            "PATHWAY_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nothing there
        },
    )
    await eventually(lambda: server.proc.poll() is not None or answering(server.url), READY_WITHIN)
    assert server.proc.poll() is None, server.stderr
    server.proc.send_signal(signal.SIGINT)
    assert server.wait_exit() == 0, server.stderr
    assert "Traceback" not in server.stderr


async def test_behind_a_proxy_signs_in_from_its_public_url_only(
    launcher: Launcher, var: Path
) -> None:
    """``--public-url`` (the manifests pass the proxy's https name): the sign-in form counts
    only from that origin, and the session cookie is Secure, SameSite=None."""
    public = "https://codec.example.test"
    server = launcher.start(
        "--port",
        str(free_port()),
        "--ui-origin",
        UI_ORIGIN,
        "--public-url",
        public,
        env={"PATHWAY_CREDENTIALS": str(var / "credentials.toml")},
    )
    await eventually(lambda: server.proc.poll() is not None or answering(server.url), READY_WITHIN)
    assert server.proc.poll() is None, server.stderr
    form = {"token": TOKENS[OPERATOR]}
    async with httpx.AsyncClient(timeout=30) as http:
        # The request's own origin (plain HTTP to the container) is not the page's.
        direct = await http.post(f"{server.url}/login", data=form, headers={"Origin": server.url})
        assert direct.status_code == 403, direct.text
        assert "set-cookie" not in direct.headers
        proxied = await http.post(f"{server.url}/login", data=form, headers={"Origin": public})
        assert proxied.status_code == 200, proxied.text
    cookie = proxied.headers["set-cookie"].lower()
    assert cookie.startswith(SESSION_COOKIE.lower() + "=")
    assert "; secure" in cookie and "samesite=none" in cookie


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # A malformed secret: the variable is named, its value never printed.
        ({"PATHWAY_MASTER_KEYS": "m1:not-hex"}, ["PATHWAY_MASTER_KEYS"]),
        # Production has no default credentials (as the gateway).
        ({"PATHWAY_MODE": "production"}, ["PATHWAY_CREDENTIALS", "production"]),
        ({"PATHWAY_CREDENTIALS": "/nonexistent/credentials.toml"}, ["/nonexistent"]),
        ({"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nonexistent/tls.crt"}, ["/nonexistent/tls.crt"]),
    ],
    ids=["master-keys", "production-without-credentials", "no-credentials-file", "tls-path"],
)
def test_a_setting_that_cannot_work_is_one_line_and_exit_2(
    launcher: Launcher, env: dict[str, str], expected: list[str]
) -> None:
    server = launcher.start("--port", str(free_port()), "--ui-origin", UI_ORIGIN, env=env)
    assert server.wait_exit() == 2, server.stderr
    assert_one_line(server.stderr, *expected)
    assert "not-hex" not in server.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--ui-origin", "http://127.0.0.1:8233/some/path"],
        ["--ui-origin", "ftp://127.0.0.1"],
        ["--ui-origin", UI_ORIGIN, "--public-url", "codec.example.org"],
        ["--ui-origin", UI_ORIGIN, "--port", "70000"],
        [],
    ],
    ids=["path", "scheme", "public-url", "port", "no-ui-origin"],
)
def test_bad_arguments_are_a_usage_error(launcher: Launcher, args: list[str]) -> None:
    server = launcher.start(*args)
    assert server.wait_exit() == 2, server.stderr
    assert "Traceback" not in server.stderr
    assert server.stderr.strip().splitlines()[-1].startswith("pathway codec-server: error: ")


def test_no_secret_on_the_command_line() -> None:
    """Nothing secret is an option: keys, pepper and tokens come from the environment or files."""
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command: argparse.ArgumentParser = sub.choices["codec-server"]
    options = {o for a in command._actions for o in a.option_strings}
    assert options == {"-h", "--help", "--host", "--port", "--ui-origin", "--public-url"}


def test_web_origin_is_what_browsers_send() -> None:
    assert web_origin("https://UI.example.org:443/") == "https://ui.example.org"
    assert web_origin("http://127.0.0.1:8233") == "http://127.0.0.1:8233"
    assert web_origin("http://[::1]:80") == "http://[::1]"
    for bad in ("https://ui.example.org/x", "https://user@ui.example.org", "ui.example.org"):
        with pytest.raises(ValueError, match="not a web origin"):
            web_origin(bad)
