"""Connecting through the SDK's own configuration (issue 16 item 1): a profile from a TOML file
and the ``TEMPORAL_*`` variables, under ``PATHWAY_*`` and explicit arguments; server TLS and
mutual TLS against the real dev server behind a TLS-terminating proxy this test starts (the dev
server has no TLS option), with certificates made here; a wrong CA or a missing client
certificate is refused; a setting that cannot work is one line naming it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from pathway import cli, temporal_config, temporal_connection, workers
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_config import TemporalConfigError, load_connection
from pathway.temporal_connection import connect
from tests.keys import TEST_KEYS
from tests.receivers import DEV_SERVER_STARTUP

#: Every variable that could steer a connection, cleared around each test.
_STEERING = (
    *temporal_config.SDK_VARIABLES,
    temporal_config.DISABLE_HOST_VERIFICATION_ENV,
    temporal_config.ADDRESS_ENV,
    temporal_config.NAMESPACE_ENV,
    "TEMPORAL_CODEC_ENDPOINT",
    "TEMPORAL_CODEC_AUTH",
)


@pytest.fixture(autouse=True)
def no_connection_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No connection setting of the machine's (variables, ~/.config/temporalio) leaks in."""
    for name in [*_STEERING, *(n for n in os.environ if n.startswith("TEMPORAL_GRPC_META_"))]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config-home"))
    return monkeypatch


# -- certificates ----------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class _Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _certificate(
    common_name: str, issuer: _Issued | None, *, usage: x509.ObjectIdentifier | None = None
) -> _Issued:
    """A CA (``issuer`` None: self-signed) or a leaf for ``usage`` (server or client auth);
    a server's is for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.cert.subject if issuer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        ).add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        assert usage is not None
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                False,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), False)
        )
        if usage == ExtendedKeyUsageOID.SERVER_AUTH:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                False,
            )
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return _Issued(cert, key)


@dataclass(frozen=True)
class Pki:
    """PEM files: a CA, a server certificate for 127.0.0.1 and a client certificate it
    issued; another CA and a client certificate of that one (both unknown to the proxy)."""

    directory: Path

    def __getitem__(self, name: str) -> Path:
        return self.directory / f"{name}.pem"


def _write(directory: Path, name: str, issued: _Issued) -> None:
    (directory / f"{name}.pem").write_bytes(issued.cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}-key.pem").write_bytes(_pem_key(issued.key))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = _certificate("Pathway test CA", None)
    other = _certificate("Another CA", None)
    _write(directory, "ca", ca)
    _write(directory, "other-ca", other)
    server = ExtendedKeyUsageOID.SERVER_AUTH
    client = ExtendedKeyUsageOID.CLIENT_AUTH
    _write(directory, "server", _certificate("temporal-frontend", ca, usage=server))
    _write(directory, "client", _certificate("pathway-worker", ca, usage=client))
    _write(directory, "other-client", _certificate("intruder", other, usage=client))
    return Pki(directory)


# -- a TLS-terminating TCP proxy in front of the dev server ---------------------------------------


class TlsProxy:
    """Listens on 127.0.0.1 (a port the OS picks) with TLS (ALPN h2, as gRPC needs), optionally
    requiring a client certificate of ``client_ca``, and forwards the plain bytes to
    ``upstream``. Counts the handshakes that succeeded and the client certificates seen."""

    def __init__(self, upstream: str, pki: Pki, *, client_ca: Path | None = None) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(pki["server"], pki.directory / "server-key.pem")
        self.context.set_alpn_protocols(["h2"])
        if client_ca is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(client_ca)
        self.handshakes = 0
        self.client_names: list[str] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, ssl=self.context, ssl_handshake_timeout=10
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Called only once the handshake succeeded (client certificate verified, if required).
        self.handshakes += 1
        peer = writer.get_extra_info("peercert")
        if peer:
            self.client_names += [
                value
                for rdn in peer.get("subject", ())
                for key, value in rdn
                if key == "commonName"
            ]
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            self._tasks.difference_update(pumps)
            self._writers.difference_update({writer, up_writer})

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (OSError, ssl.SSLError):
            pass  # either side went away: the connection is over
        finally:
            sink.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dev_server() -> AsyncIterator[str]:
    """The real dev server (plain gRPC), for the proxies to forward to."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        ui=False,
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
    )
    async with env:
        yield env.client.service_client.config.target_host


@contextlib.asynccontextmanager
async def proxy(
    upstream: str, pki: Pki, *, client_ca: Path | None = None
) -> AsyncIterator[TlsProxy]:
    running = TlsProxy(upstream, pki, client_ca=client_ca)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def tls_proxy(dev_server: str, pki: Pki) -> AsyncIterator[TlsProxy]:
    async with proxy(dev_server, pki) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def mtls_proxy(dev_server: str, pki: Pki) -> AsyncIterator[TlsProxy]:
    async with proxy(dev_server, pki, client_ca=pki["ca"]) as running:
        yield running


async def namespace_name(client: Client) -> str:
    """A real call through the connection: the namespace as the server describes it."""
    response = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    name: str = response.namespace_info.name
    return name


async def refused() -> str:
    """The SDK's error for a connection that must fail (bounded: never a hang)."""
    async with asyncio.timeout(60):
        with pytest.raises(RuntimeError) as raised:
            await connect(store=TEST_KEYS)
    return str(raised.value)


# -- against the dev server, over TLS -----------------------------------------------------------


@pytest.mark.devserver
class TestServerTls:
    @pytest.mark.parametrize("form", ["path", "data"])
    async def test_connects_with_the_server_ca(
        self, tls_proxy: TlsProxy, pki: Pki, monkeypatch: pytest.MonkeyPatch, form: str
    ) -> None:
        monkeypatch.setenv("TEMPORAL_ADDRESS", tls_proxy.address)
        if form == "path":
            monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(pki["ca"]))
        else:
            monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_DATA", pki["ca"].read_text())
        client = await connect(store=TEST_KEYS)
        assert client.service_client.config.target_host == tls_proxy.address
        assert await namespace_name(client) == "default"
        assert tls_proxy.handshakes >= 1

    async def test_a_profile_file_connects_the_same_way(
        self, tls_proxy: TlsProxy, pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        config = tmp_path / "temporal.toml"
        config.write_text(
            f'[profile.staging]\naddress = "{tls_proxy.address}"\n'
            f'[profile.staging.tls]\nserver_ca_cert_path = "{pki["ca"]}"\n'
        )
        monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config))
        monkeypatch.setenv("TEMPORAL_PROFILE", "staging")
        assert await namespace_name(await connect(store=TEST_KEYS)) == "default"
        assert tls_proxy.handshakes >= 1

    async def test_a_wrong_ca_is_refused(
        self, tls_proxy: TlsProxy, pki: Pki, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TEMPORAL_ADDRESS", tls_proxy.address)
        monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(pki["other-ca"]))
        await refused()
        assert tls_proxy.handshakes == 0

    async def test_the_system_roots_do_not_trust_it(
        self, tls_proxy: TlsProxy, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """TLS on (``TEMPORAL_TLS=true``) with no CA named: the system's roots, which do not
        hold the test CA."""
        monkeypatch.setenv("TEMPORAL_ADDRESS", tls_proxy.address)
        monkeypatch.setenv("TEMPORAL_TLS", "true")
        await refused()
        assert tls_proxy.handshakes == 0


@pytest.mark.devserver
class TestMutualTls:
    async def test_connects_with_a_client_certificate(
        self, mtls_proxy: TlsProxy, pki: Pki, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TEMPORAL_ADDRESS", mtls_proxy.address)
        monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(pki["ca"]))
        monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(pki["client"]))
        monkeypatch.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(pki.directory / "client-key.pem"))
        assert await namespace_name(await connect(store=TEST_KEYS)) == "default"
        assert "pathway-worker" in mtls_proxy.client_names

    async def test_without_a_client_certificate_it_is_refused(
        self, mtls_proxy: TlsProxy, pki: Pki, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TEMPORAL_ADDRESS", mtls_proxy.address)
        monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(pki["ca"]))
        await refused()
        assert mtls_proxy.handshakes == 0

    async def test_a_client_certificate_of_another_ca_is_refused(
        self, mtls_proxy: TlsProxy, pki: Pki, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TEMPORAL_ADDRESS", mtls_proxy.address)
        monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(pki["ca"]))
        monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(pki["other-client"]))
        monkeypatch.setenv(
            "TEMPORAL_TLS_CLIENT_KEY_PATH", str(pki.directory / "other-client-key.pem")
        )
        await refused()
        assert mtls_proxy.handshakes == 0

    async def test_the_cli_connects_the_same_way(
        self,
        mtls_proxy: TlsProxy,
        pki: Pki,
        cli_state: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """``pathway case show`` over mutual TLS reaches Temporal (which knows no such case);
        without the client certificate it says it could not reach it, and that TLS is on."""
        monkeypatch.setenv("TEMPORAL_ADDRESS", mtls_proxy.address)
        monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(pki["ca"]))
        monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(pki["client"]))
        monkeypatch.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(pki.directory / "client-key.pem"))
        code, err = await asyncio.to_thread(cli_run, "case", "show", "case-nobody")
        assert code == cli.EXIT_UNKNOWN_CASE, err
        assert "pathway-worker" in mtls_proxy.client_names

        handshakes = mtls_proxy.handshakes
        monkeypatch.delenv("TEMPORAL_TLS_CLIENT_CERT_PATH")
        monkeypatch.delenv("TEMPORAL_TLS_CLIENT_KEY_PATH")
        code, err = await asyncio.to_thread(cli_run, "case", "show", "case-nobody")
        assert code == cli.EXIT_UNAVAILABLE
        assert err == (
            f"error: could not reach Temporal at {mtls_proxy.address} (namespace default); "
            "start the service with bin/serve, or set --address / PATHWAY_TEMPORAL_ADDRESS; "
            "over TLS, also check the server CA and client certificate (TEMPORAL_TLS_*)\n"
        )
        assert mtls_proxy.handshakes == handshakes


def cli_run(*argv: str) -> tuple[int, str]:
    """The CLI in this process (its own event loop, hence a thread); exit code and stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(list(argv), out, err)
    return code, err.getvalue()


# -- which setting wins ---------------------------------------------------------------------------


PROFILES = """
[profile.default]
address = "default-host:7233"
namespace = "default-ns"

[profile.prod]
address = "prod-host:7233"
namespace = "prod-ns"
api_key = "prod-key"

[profile.prod.grpc_meta]
team_name = "pathway"
"""


@pytest.fixture
def profiles(tmp_path: Path, no_connection_settings: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES)
    no_connection_settings.setenv("TEMPORAL_CONFIG_FILE", str(config))
    return no_connection_settings


class TestPrecedence:
    def test_defaults(self) -> None:
        connection = load_connection()
        assert (connection.target, connection.namespace, connection.tls) == (
            "127.0.0.1:7233",
            "default",
            False,
        )
        assert (temporal_config.DEFAULT_TARGET, temporal_config.DEFAULT_NAMESPACE) == (
            temporal_connection.DEFAULT_TARGET,
            temporal_connection.DEFAULT_NAMESPACE,
        )

    def test_the_default_profile_of_the_file(self, profiles: pytest.MonkeyPatch) -> None:
        connection = load_connection()
        assert (connection.target, connection.namespace) == ("default-host:7233", "default-ns")
        assert connection.tls is False and connection.api_key is None

    def test_the_profile_named(self, profiles: pytest.MonkeyPatch) -> None:
        profiles.setenv("TEMPORAL_PROFILE", "prod")
        connection = load_connection()
        assert (connection.target, connection.namespace) == ("prod-host:7233", "prod-ns")
        # An API key (Temporal Cloud) turns TLS on with the system's roots, as in the SDK.
        assert (connection.api_key, connection.tls) == ("prod-key", True)
        assert connection.rpc_metadata == {"team-name": "pathway"}
        assert connection.describe() == "prod-host:7233 (namespace prod-ns, TLS and API key)"

    def test_temporal_variables_win_over_the_profile(self, profiles: pytest.MonkeyPatch) -> None:
        profiles.setenv("TEMPORAL_PROFILE", "prod")
        profiles.setenv("TEMPORAL_ADDRESS", "env-host:7233")
        profiles.setenv("TEMPORAL_NAMESPACE", "env-ns")
        profiles.setenv("TEMPORAL_TLS", "false")
        connection = load_connection()
        assert (connection.target, connection.namespace, connection.tls) == (
            "env-host:7233",
            "env-ns",
            False,
        )

    def test_pathway_variables_win_over_temporal_ones(self, profiles: pytest.MonkeyPatch) -> None:
        profiles.setenv("TEMPORAL_PROFILE", "prod")
        profiles.setenv("TEMPORAL_ADDRESS", "env-host:7233")
        profiles.setenv("PATHWAY_TEMPORAL_ADDRESS", "pathway-host:7233")
        profiles.setenv("PATHWAY_NAMESPACE", "pathway-ns")
        connection = load_connection()
        assert (connection.target, connection.namespace) == ("pathway-host:7233", "pathway-ns")
        # The rest of the profile still applies: the address moved, the credentials did not.
        assert connection.api_key == "prod-key"

    def test_arguments_win_over_everything(self, profiles: pytest.MonkeyPatch) -> None:
        profiles.setenv("TEMPORAL_PROFILE", "prod")
        profiles.setenv("PATHWAY_TEMPORAL_ADDRESS", "pathway-host:7233")
        profiles.setenv("PATHWAY_NAMESPACE", "pathway-ns")
        connection = load_connection("arg-host:7233", "arg-ns")
        assert (connection.target, connection.namespace) == ("arg-host:7233", "arg-ns")

    def test_without_config_only_arguments_and_pathway_variables(
        self, profiles: pytest.MonkeyPatch, pki: Pki
    ) -> None:
        """``use_config=False`` (the embedded dev server this process started): no profile,
        no TEMPORAL_* (here a client certificate that would not do for it)."""
        profiles.setenv("TEMPORAL_PROFILE", "prod")
        profiles.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(pki["client"]))
        assert load_connection(use_config=False) == load_connection(
            "127.0.0.1:7233", "default", environ={}, use_config=False
        )
        profiles.setenv("PATHWAY_TEMPORAL_ADDRESS", "pathway-host:7233")
        assert load_connection(use_config=False).target == "pathway-host:7233"

    def test_the_default_file_location(
        self, tmp_path: Path, no_connection_settings: pytest.MonkeyPatch
    ) -> None:
        """No TEMPORAL_CONFIG_FILE: ``$XDG_CONFIG_HOME/temporalio/temporal.toml``, where the
        ``temporal`` CLI keeps its profiles."""
        home = tmp_path / "config-home"
        (home / "temporalio").mkdir(parents=True)
        (home / "temporalio" / "temporal.toml").write_text(PROFILES)
        no_connection_settings.setenv("XDG_CONFIG_HOME", str(home))
        assert load_connection().target == "default-host:7233"

    def test_mutual_tls_from_the_profile(
        self, tmp_path: Path, pki: Pki, no_connection_settings: pytest.MonkeyPatch
    ) -> None:
        config = tmp_path / "temporal.toml"
        config.write_text(
            '[profile.default]\naddress = "h:7233"\n[profile.default.tls]\n'
            f'server_name = "frontend.example"\nserver_ca_cert_path = "{pki["ca"]}"\n'
            f'client_cert_path = "{pki["client"]}"\n'
            f'client_key_path = "{pki.directory / "client-key.pem"}"\n'
        )
        no_connection_settings.setenv("TEMPORAL_CONFIG_FILE", str(config))
        connection = load_connection()
        assert isinstance(connection.tls, TLSConfig)
        assert connection.tls.domain == "frontend.example"
        assert connection.tls.server_root_ca_cert == pki["ca"].read_bytes()
        assert connection.tls.client_cert == pki["client"].read_bytes()
        assert connection.describe() == "h:7233 (namespace default, mutual TLS)"


# -- a setting that cannot work: one line naming it ---------------------------------------------


def _bad_settings(tmp_path: Path, pki: Pki) -> list[tuple[dict[str, str], str]]:
    missing = tmp_path / "missing.toml"
    broken = tmp_path / "broken.toml"
    broken.write_text("[profile.default\naddress = 1\n")
    good = tmp_path / "good.toml"
    good.write_text(PROFILES)
    bad_path = tmp_path / "certs.toml"
    bad_path.write_text(
        f'[profile.default.tls]\nclient_cert_path = "{tmp_path / "gone.pem"}"\n'
        f'client_key_path = "{pki.directory / "client-key.pem"}"\n'
    )
    no_verify = tmp_path / "no-verify.toml"
    no_verify.write_text("[profile.default.tls]\ndisable_host_verification = true\n")
    return [
        ({"TEMPORAL_CONFIG_FILE": str(missing)}, f"TEMPORAL_CONFIG_FILE: {missing} does not exist"),
        (
            {"TEMPORAL_CONFIG_FILE": str(tmp_path)},
            f"TEMPORAL_CONFIG_FILE: {tmp_path} is a directory, not a TOML file",
        ),
        (
            {"TEMPORAL_CONFIG_FILE": str(broken)},
            f"TEMPORAL_CONFIG_FILE: {broken} is not a valid Temporal config file: TOML parse "
            "error at line 1, column 17: unclosed table, expected `]`",
        ),
        (
            {"TEMPORAL_CONFIG_FILE": str(good), "TEMPORAL_PROFILE": "staging"},
            f"TEMPORAL_PROFILE: no profile 'staging' in {good}",
        ),
        (
            {"TEMPORAL_PROFILE": "staging"},
            "TEMPORAL_PROFILE: profile 'staging' named, but no config file to find it in "
            "(TEMPORAL_CONFIG_FILE is not set and there is no "
            f"{tmp_path / 'no-config-home' / 'temporalio' / 'temporal.toml'})",
        ),
        (
            {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(tmp_path / "ca.pem")},
            f"TEMPORAL_TLS_SERVER_CA_CERT_PATH: server CA certificate {tmp_path / 'ca.pem'} "
            "does not exist",
        ),
        (
            {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(good)},
            f"TEMPORAL_TLS_SERVER_CA_CERT_PATH: server CA certificate {good} is not PEM "
            "(no -----BEGIN line)",
        ),
        (
            {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(tmp_path)},
            f"TEMPORAL_TLS_SERVER_CA_CERT_PATH: server CA certificate {tmp_path} cannot be "
            "read: Is a directory",
        ),
        (
            {"TEMPORAL_TLS_SERVER_CA_CERT_DATA": "not a certificate"},
            "TEMPORAL_TLS_SERVER_CA_CERT_DATA: server CA certificate is not PEM "
            "(no -----BEGIN line)",
        ),
        (
            {"TEMPORAL_CONFIG_FILE": str(bad_path)},
            f"tls.client_cert_path of profile 'default' in {bad_path}: client certificate "
            f"{tmp_path / 'gone.pem'} does not exist",
        ),
        (
            {"TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki["client"])},
            "TEMPORAL_TLS_CLIENT_KEY_PATH: a client certificate is set "
            "(TEMPORAL_TLS_CLIENT_CERT_PATH/_DATA or tls.client_cert_path/_data) but no client "
            "key; mutual TLS needs both",
        ),
        (
            {
                "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki["client"]),
                "TEMPORAL_TLS_CLIENT_CERT_DATA": "x",
            },
            "Temporal connection settings: Cannot specify both TEMPORAL_TLS_CLIENT_CERT_PATH "
            "and TEMPORAL_TLS_CLIENT_CERT_DATA",
        ),
        ({"TEMPORAL_TLS": "yes"}, "TEMPORAL_TLS: 'yes' is not true, false, 1 or 0"),
        (
            {"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true"},
            "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: not supported: the Python SDK always "
            "verifies the server's name; set TEMPORAL_TLS_SERVER_NAME to the name in the "
            "server's certificate instead",
        ),
        (
            {"TEMPORAL_CONFIG_FILE": str(no_verify)},
            f"tls.disable_host_verification of profile 'default' in {no_verify}: not "
            "supported: the Python SDK always verifies the server's name; set "
            "TEMPORAL_TLS_SERVER_NAME to the name in the server's certificate instead",
        ),
    ]


class TestSettingsThatCannotWork:
    def test_each_is_one_line_naming_the_setting(
        self, tmp_path: Path, pki: Pki, no_connection_settings: pytest.MonkeyPatch
    ) -> None:
        for env, expected in _bad_settings(tmp_path, pki):
            with no_connection_settings.context() as patch:
                for name, value in env.items():
                    patch.setenv(name, value)
                with pytest.raises(TemporalConfigError) as raised:
                    load_connection()
            assert str(raised.value) == expected, env
            assert "\n" not in str(raised.value)

    def test_an_unreadable_certificate(
        self, tmp_path: Path, pki: Pki, no_connection_settings: pytest.MonkeyPatch
    ) -> None:
        """A certificate the account may not read (mode 0, or refused by the OS as root reads
        any file, so the refusal is made by the file system stand-in below)."""
        locked = tmp_path / "locked.pem"
        locked.write_bytes(pki["ca"].read_bytes())
        locked.chmod(0)
        real = Path.read_bytes

        def refused(path: Path) -> bytes:
            if path == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        no_connection_settings.setattr(Path, "read_bytes", refused)
        no_connection_settings.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(locked))
        with pytest.raises(TemporalConfigError, match="cannot be read: permission denied"):
            load_connection()

    async def test_connect_raises_it_before_connecting(
        self, tmp_path: Path, no_connection_settings: pytest.MonkeyPatch
    ) -> None:
        no_connection_settings.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "missing.toml"))
        with pytest.raises(TemporalConfigError, match=r"^TEMPORAL_CONFIG_FILE: "):
            await connect(store=TEST_KEYS)

    def test_the_cli_says_it_in_one_line(
        self, tmp_path: Path, cli_state: Path, no_connection_settings: pytest.MonkeyPatch
    ) -> None:
        missing = tmp_path / "missing.toml"
        no_connection_settings.setenv("TEMPORAL_CONFIG_FILE", str(missing))
        code, err = cli_run("case", "show", "case-x")
        assert code == cli.EXIT_BAD_INPUT
        assert err == f"error: TEMPORAL_CONFIG_FILE: {missing} does not exist\n"

    def test_the_gateway_refuses_to_start(
        self, tmp_path: Path, cli_state: Path, no_connection_settings: pytest.MonkeyPatch
    ) -> None:
        no_connection_settings.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(tmp_path / "k.pem"))
        code, err = cli_run("gateway", "--port", "1")
        assert code == cli.EXIT_BAD_INPUT
        assert err == (
            f"error: TEMPORAL_TLS_CLIENT_KEY_PATH: client key {tmp_path / 'k.pem'} does not exist\n"
        )

    def test_the_worker_exits_with_one_line(
        self,
        tmp_path: Path,
        cli_state: Path,
        no_connection_settings: pytest.MonkeyPatch,
        restored_logging: None,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        no_connection_settings.setenv("TEMPORAL_PROFILE", "nowhere")
        assert workers.main(["--no-cases", "--organisations", "police"]) == 2
        logged = capsys.readouterr().err.strip().splitlines()
        assert len(logged) == 1, logged
        assert "invalid Temporal connection setting" in logged[0]
        assert "TEMPORAL_PROFILE: profile 'nowhere' named" in logged[0]
