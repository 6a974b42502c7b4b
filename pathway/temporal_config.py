"""Where and how every process reaches Temporal: the SDK's own client configuration
(:mod:`temporalio.envconfig`: a profile from a TOML file and the ``TEMPORAL_*`` environment
variables, as Temporal's CLI and SDKs document them), under the project's own
``PATHWAY_TEMPORAL_ADDRESS`` / ``PATHWAY_NAMESPACE``.

Precedence, for the address and the namespace: an explicit argument (``--address``,
``--namespace``), then ``PATHWAY_TEMPORAL_ADDRESS`` / ``PATHWAY_NAMESPACE``, then
``TEMPORAL_ADDRESS`` / ``TEMPORAL_NAMESPACE``, then the profile, then ``127.0.0.1:7233`` /
``default``. TLS, the client certificate, the API key and gRPC metadata come from the
``TEMPORAL_*`` variables over the profile (the SDK's own rule). A setting that cannot work (a
named file that does not exist, a certificate that cannot be read or is not PEM, an unknown
profile) is :class:`TemporalConfigError`: one line naming the setting, before anything
connects. Documented in docs/operations.md, "Connecting to Temporal".
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from temporalio.envconfig import ClientConfigProfile, DataSource
from temporalio.service import TLSConfig

DEFAULT_TARGET: Final = "127.0.0.1:7233"
DEFAULT_NAMESPACE: Final = "default"

#: The project's own settings, which win over the SDK's.
ADDRESS_ENV: Final = "PATHWAY_TEMPORAL_ADDRESS"
NAMESPACE_ENV: Final = "PATHWAY_NAMESPACE"

#: The SDK's (temporalio.envconfig, sdk-core ``envconfig.rs``).
CONFIG_FILE_ENV: Final = "TEMPORAL_CONFIG_FILE"
PROFILE_ENV: Final = "TEMPORAL_PROFILE"
TLS_ENV: Final = "TEMPORAL_TLS"
DISABLE_HOST_VERIFICATION_ENV: Final = "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"
DEFAULT_PROFILE: Final = "default"

#: Every ``TEMPORAL_*`` variable Pathway honours (``TEMPORAL_GRPC_META_<NAME>`` besides).
SDK_VARIABLES: Final = (
    CONFIG_FILE_ENV,
    PROFILE_ENV,
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    TLS_ENV,
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_DATA",
    "TEMPORAL_TLS_SERVER_NAME",
)


class TemporalConfigError(Exception):
    """A Temporal connection setting that cannot work; the message is one line naming it.

    Not a ``RuntimeError`` (which the SDK raises for a failed connection): a wrong setting is
    not "Temporal is down"."""


@dataclass(frozen=True)
class TemporalConnection:
    """What :func:`pathway.temporal_connection.connect` passes to ``Client.connect``."""

    target: str
    namespace: str
    tls: bool | TLSConfig = False
    api_key: str | None = None
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def uses_tls(self) -> bool:
        return self.tls is not False

    def describe(self) -> str:
        """``host:port (namespace n)``, and how it is secured: for messages (no secret)."""
        security = []
        if isinstance(self.tls, TLSConfig) and self.tls.client_cert:
            security.append("mutual TLS")
        elif self.uses_tls:
            security.append("TLS")
        if self.api_key:
            security.append("API key")
        how = f", {' and '.join(security)}" if security else ""
        return f"{self.target} (namespace {self.namespace}{how})"


# -- the profile file -----------------------------------------------------------------------------


def default_config_file(environ: Mapping[str, str]) -> Path | None:
    """Where the SDK and the ``temporal`` CLI look for ``temporal.toml`` when
    ``TEMPORAL_CONFIG_FILE`` is unset (the Rust ``dirs::config_dir()``: ``$XDG_CONFIG_HOME``
    or ``~/.config`` on Linux, ``~/Library/Application Support`` on macOS, ``%APPDATA%``)."""
    if sys.platform == "win32":
        base = environ.get("APPDATA")
        return Path(base) / "temporalio" / "temporal.toml" if base else None
    home = environ.get("HOME") or str(Path.home())
    if sys.platform == "darwin":
        return Path(home) / "Library" / "Application Support" / "temporalio" / "temporal.toml"
    xdg = environ.get("XDG_CONFIG_HOME", "")
    base_dir = Path(xdg) if xdg and Path(xdg).is_absolute() else Path(home) / ".config"
    return base_dir / "temporalio" / "temporal.toml"


@dataclass(frozen=True)
class _Source:
    """The profile file that was read (None: none), and the profile's name."""

    file: Path | None
    explicit: bool  # named by TEMPORAL_CONFIG_FILE, not found at the default place
    profile: str

    def setting(self, key: str) -> str:
        """How an operator finds ``key`` of the profile: ``tls.client_cert_path of profile
        prod in /etc/temporal.toml``."""
        return f"{key} of profile {self.profile!r} in {self.file}"

    @property
    def file_setting(self) -> str:
        return CONFIG_FILE_ENV if self.explicit else "the Temporal config file"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _read_config_file(environ: Mapping[str, str]) -> tuple[bytes | None, _Source]:
    named = environ.get(CONFIG_FILE_ENV, "")
    path = Path(named) if named else default_config_file(environ)
    profile = environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    source = _Source(file=path, explicit=bool(named), profile=profile)
    if path is None:
        return None, _Source(None, False, profile)
    try:
        return path.read_bytes(), source
    except FileNotFoundError:
        if named:
            raise TemporalConfigError(f"{CONFIG_FILE_ENV}: {path} does not exist") from None
        return None, _Source(None, False, profile)
    except IsADirectoryError:
        raise TemporalConfigError(
            f"{source.file_setting}: {path} is a directory, not a TOML file"
        ) from None
    except PermissionError:
        raise TemporalConfigError(
            f"{source.file_setting}: {path} cannot be read: permission denied"
        ) from None
    except OSError as err:
        raise TemporalConfigError(
            f"{source.file_setting}: {path} cannot be read: {err.strerror or _first_line(err)}"
        ) from None


def _load_profile(environ: Mapping[str, str]) -> tuple[ClientConfigProfile, _Source]:
    """The profile named by ``TEMPORAL_PROFILE`` (else ``default``) of the config file, with
    the ``TEMPORAL_*`` variables applied over it, by the SDK."""
    data, source = _read_config_file(environ)
    if data is None and environ.get(PROFILE_ENV):
        default = default_config_file(environ)
        where = f" and there is no {default}" if default else ""
        raise TemporalConfigError(
            f"{PROFILE_ENV}: profile {source.profile!r} named, but no config file to find it "
            f"in ({CONFIG_FILE_ENV} is not set{where})"
        )
    _check_tls_flag(environ)
    try:
        profile = ClientConfigProfile.load(
            config_source=data,
            disable_file=data is None,
            override_env_vars=dict(environ),
        )
    except RuntimeError as err:  # the SDK's envconfig ConfigError
        message = _first_line(err)
        if message.startswith("Profile '"):
            raise TemporalConfigError(
                f"{PROFILE_ENV}: no profile {source.profile!r} in {source.file}"
            ) from None
        if "TOML" in message or "parse" in message.lower():
            # The parser's message: where, a picture of the line, then what is wrong.
            reason = [line for line in str(err).strip().splitlines() if line.strip()][-1]
            where = message.removeprefix("Configuration loading error: ")
            what = f": {reason.strip()}" if reason.strip() != message else ""
            raise TemporalConfigError(
                f"{source.file_setting}: {source.file} is not a valid Temporal config file: "
                f"{where}{what}"
            ) from None
        where = f" (profile {source.profile!r} in {source.file})" if source.file else ""
        raise TemporalConfigError(
            f"Temporal connection settings{where}: "
            f"{message.removeprefix('Invalid configuration: ')}"
        ) from None
    _check_host_verification(environ, data, source)
    return profile, source


def _check_tls_flag(environ: Mapping[str, str]) -> None:
    """The SDK ignores a ``TEMPORAL_TLS`` it cannot read as a boolean; an operator who wrote
    ``TEMPORAL_TLS=yes`` meant something, so say so."""
    value = environ.get(TLS_ENV)
    if value is not None and value.lower() not in {"true", "false", "1", "0"}:
        raise TemporalConfigError(f"{TLS_ENV}: {value!r} is not true, false, 1 or 0")


def _check_host_verification(
    environ: Mapping[str, str], data: bytes | None, source: _Source
) -> None:
    """The Python SDK cannot skip host verification; the setting would be dropped silently."""
    hint = (
        "the Python SDK always verifies the server's name; set TEMPORAL_TLS_SERVER_NAME to the "
        "name in the server's certificate instead"
    )
    if environ.get(DISABLE_HOST_VERIFICATION_ENV, "").lower() in {"true", "1"}:
        raise TemporalConfigError(f"{DISABLE_HOST_VERIFICATION_ENV}: not supported: {hint}")
    if data is None:
        return
    try:
        document: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return  # the SDK read it; nothing more to learn here
    profile = document.get("profile", {}).get(source.profile, {})
    tls = profile.get("tls", {}) if isinstance(profile, dict) else {}
    if isinstance(tls, dict) and tls.get("disable_host_verification") is True:
        raise TemporalConfigError(
            f"{source.setting('tls.disable_host_verification')}: not supported: {hint}"
        )


# -- certificates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Material:
    what: str  # "client certificate"
    env: str  # TEMPORAL_TLS_CLIENT_CERT
    key: str  # tls.client_cert


_SERVER_CA: Final = _Material(
    "server CA certificate", "TEMPORAL_TLS_SERVER_CA_CERT", "server_ca_cert"
)
_CLIENT_CERT: Final = _Material("client certificate", "TEMPORAL_TLS_CLIENT_CERT", "client_cert")
_CLIENT_KEY: Final = _Material("client key", "TEMPORAL_TLS_CLIENT_KEY", "client_key")


def _read_material(
    value: DataSource | None, material: _Material, environ: Mapping[str, str], source: _Source
) -> bytes | None:
    """The PEM bytes of a TLS setting, read now, so that a wrong path fails here naming the
    setting rather than as a failed connection."""
    if value is None:
        return None
    kind = "PATH" if isinstance(value, Path) else "DATA"
    env = f"{material.env}_{kind}"
    setting = env if env in environ else source.setting(f"tls.{material.key}_{kind.lower()}")
    if isinstance(value, Path):
        try:
            data = value.read_bytes()
        except FileNotFoundError:
            raise TemporalConfigError(
                f"{setting}: {material.what} {value} does not exist"
            ) from None
        except PermissionError:
            raise TemporalConfigError(
                f"{setting}: {material.what} {value} cannot be read: permission denied"
            ) from None
        except OSError as err:
            raise TemporalConfigError(
                f"{setting}: {material.what} {value} cannot be read: "
                f"{err.strerror or _first_line(err)}"
            ) from None
    else:
        data = value.encode("utf-8") if isinstance(value, str) else value
    if b"-----BEGIN " not in data:
        where = f" {value}" if isinstance(value, Path) else ""
        raise TemporalConfigError(
            f"{setting}: {material.what}{where} is not PEM (no -----BEGIN line)"
        )
    return data


def _tls(
    profile: ClientConfigProfile, environ: Mapping[str, str], source: _Source
) -> bool | TLSConfig:
    """The SDK's rule (``ClientConfigProfile.to_client_connect_config``): TLS when a TLS
    setting or an API key is given, unless TLS is disabled; certificates read and checked."""
    settings = profile.tls
    if settings is None:
        return profile.api_key is not None
    if settings.disabled is True:
        return False
    ca = _read_material(settings.server_root_ca_cert, _SERVER_CA, environ, source)
    cert = _read_material(settings.client_cert, _CLIENT_CERT, environ, source)
    key = _read_material(settings.client_private_key, _CLIENT_KEY, environ, source)
    if (cert is None) != (key is None):
        given, missing = (_CLIENT_CERT, _CLIENT_KEY) if key is None else (_CLIENT_KEY, _CLIENT_CERT)
        raise TemporalConfigError(
            f"{missing.env}_PATH: a {given.what} is set ({given.env}_PATH/_DATA or "
            f"tls.{given.key}_path/_data) but no {missing.what}; mutual TLS needs both"
        )
    return TLSConfig(
        domain=settings.server_name or None,
        server_root_ca_cert=ca,
        client_cert=cert,
        client_private_key=key,
    )


# -- the whole ------------------------------------------------------------------------------------


def load_connection(
    target: str | None = None,
    namespace: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    use_config: bool = True,
) -> TemporalConnection:
    """How to connect: the arguments, else ``PATHWAY_*``, else the SDK's configuration
    (``TEMPORAL_*`` over the profile), else the defaults. ``use_config=False``: no profile
    and no ``TEMPORAL_*`` at all (a server this process started itself: ``pathway dev``'s
    embedded one has no TLS). :class:`TemporalConfigError` for a setting that cannot work."""
    env = os.environ if environ is None else environ
    if use_config:
        profile, source = _load_profile(env)
    else:
        profile, source = ClientConfigProfile(), _Source(None, False, DEFAULT_PROFILE)
    return TemporalConnection(
        target=target or env.get(ADDRESS_ENV) or profile.address or DEFAULT_TARGET,
        namespace=namespace or env.get(NAMESPACE_ENV) or profile.namespace or DEFAULT_NAMESPACE,
        tls=_tls(profile, env, source),
        api_key=profile.api_key or None,
        rpc_metadata=dict(profile.grpc_meta),
    )


def describe_target(
    target: str | None = None,
    namespace: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> TemporalConnection:
    """:func:`load_connection` for a message about a connection that failed: never raises
    (a setting that cannot work falls back to the arguments, ``PATHWAY_*`` and defaults)."""
    try:
        return load_connection(target, namespace, environ=environ)
    except TemporalConfigError:
        return load_connection(target, namespace, environ=environ, use_config=False)
