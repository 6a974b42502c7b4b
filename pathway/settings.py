"""Deployment settings read from the environment, with the embedded default under ``./var``."""

from __future__ import annotations

import functools
import os
import re
import secrets
import types
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from pathway.domain.config import CaseConfig
from pathway.domain.suppression import DEFAULT_K
from pathway.privacy.key_hold import (
    DEFAULT_KEY_HOLD_SECONDS,
    MAX_KEY_HOLD_SECONDS,
    KeyHoldOutOfRange,
    key_hold_seconds,
)
from pathway.secret_files import private_dir, write_secret

if TYPE_CHECKING:
    from pathway.statistics_ledger import StatisticsLedger

#: The environment variable that overrides the state directory, and its default.
VAR_ENV: Final = "PATHWAY_VAR"
#: The environment variable that holds the ID pepper (else ``var/id-pepper``).
PEPPER_ENV: Final = "PATHWAY_ID_PEPPER"
PEPPER_FILE: Final = "id-pepper"
#: What an ID pepper looks like: 32 random bytes, as 64 hex characters.
PEPPER_FORMAT: Final = "64 hex characters"
_PEPPER: Final = re.compile(r"[0-9a-fA-F]{64}")


class StateError(Exception):
    """The state directory or the ID pepper is missing or malformed; the message is one line
    naming the directory, file or environment variable, and what to do."""


def var_dir() -> Path:
    """Where the embedded default keeps its state (``PATHWAY_VAR``, default ``./var``)."""
    return current().var


def _parse_secret(text: str, where: str, name: str) -> bytes:
    value = text.strip()
    if not _PEPPER.fullmatch(value):
        raise StateError(f"{where} is not a valid {name}: expected {PEPPER_FORMAT}")
    return bytes.fromhex(value)


def _state_secret(env: str, file_name: str, name: str, *, create: bool) -> bytes:
    """A 32-byte secret of the deployment (:data:`PEPPER_FORMAT`): from the variable ``env``,
    else the file ``var/<file_name>``, made (0600, in a 0700 directory) if missing and
    ``create``. ``name`` names it in errors ("ID pepper"). Raises :class:`StateError`, one
    line naming the variable or the file, if it is malformed, unreadable, or missing when it may
    not be made."""
    value: SecretStr | None = getattr(current(), env.removeprefix(ENV_PREFIX).lower())
    if value is not None:
        return _parse_secret(value.get_secret_value(), env, name)
    path = var_dir() / file_name
    if not path.exists():
        if not create:
            raise StateError(
                f"{var_dir().absolute()} has no {file_name}: start the service once with "
                f"bin/serve (pathway dev), or set {env}"
            )
        private_dir(path.parent)
        # Two first starts at once: one secret wins, the other process reads it.
        write_secret(path, secrets.token_hex(32), replace=False)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise StateError(
            f"{path.absolute()} cannot be read as {'an' if name[0] in 'AEIOU' else 'a'} {name} "
            f"({PEPPER_FORMAT}): "
            f"{getattr(err, 'strerror', None) or type(err).__name__}"
        ) from None
    return _parse_secret(text, str(path.absolute()), name)


def id_pepper(*, create: bool = True) -> bytes:
    """The secret that makes case IDs pseudonymous (``PATHWAY_ID_PEPPER``, else
    ``var/id-pepper``; either :data:`PEPPER_FORMAT`).

    ``create``: the embedded default (``pathway dev``) creates ``var/id-pepper`` on its first
    start; every client of one deployment (CLI, gateway) must share it, or one person would get
    two cases, so the CLI passes ``create=False``. The file is 0600, and the state directory
    0700 if this creates it. Raises :class:`StateError` naming the variable or file if the
    pepper is malformed, or missing when it may not be created.
    """
    return _state_secret(PEPPER_ENV, PEPPER_FILE, "ID pepper", create=create)


def existing_state(*, secrets_needed: bool = True) -> Path:
    """The state directory of a running deployment, for every command but ``pathway dev``
    (which alone creates it): :class:`StateError` if it does not exist, or (``secrets_needed``:
    a command that opens cases or encrypts) has no valid ID pepper (and ``PATHWAY_ID_PEPPER``
    is unset) or no master key (and ``PATHWAY_MASTER_KEYS`` is unset). Nothing is created; the
    path is absolute."""
    path = var_dir().absolute()
    if not path.is_dir():
        raise StateError(
            f"no state directory at {path}: run pathway from the checkout where bin/serve "
            f"runs, or set {VAR_ENV}"
        )
    if secrets_needed:
        id_pepper(create=False)
        _require_master_key(path)
    return path


def _require_master_key(path: Path) -> None:
    """:class:`StateError` unless ``PATHWAY_MASTER_KEYS`` is set or ``path/master-keys`` holds
    a key: a client must never make a master key of its own, which the workers do not have."""
    if current().master_keys is not None or any((path / "master-keys").glob("*.key")):
        return
    raise StateError(
        f"{path} has no master key (master-keys/*.key): start the service once with "
        f"bin/serve (pathway dev), or set {env_name('master_keys')}"
    )


def case_config() -> CaseConfig:
    """Periods for newly opened cases: ``PATHWAY_CASE_CONFIG`` (a JSON file) or the SPEC's."""
    path = current().case_config
    return CaseConfig() if path is None else CaseConfig.model_validate_json(path.read_bytes())


def retention() -> timedelta:
    """How long closed cases are kept before automatic erasure (``PATHWAY_RETENTION_DAYS``, a
    whole number of days, 0 to 999999). Raises :class:`StateError` (one line naming the variable)
    for anything else."""
    return timedelta(days=current().retention_days)


#: The environment variable that holds the statistics ledger's secret (else
#: ``var/ledger-secret``), the file, and the ledger's database (else ``var/statistics.sqlite3``).
LEDGER_SECRET_ENV: Final = "PATHWAY_LEDGER_SECRET"  # noqa: S105 (a variable name)
LEDGER_SECRET_FILE: Final = "ledger-secret"  # noqa: S105 (a file name)
STATISTICS_DSN_ENV: Final = "PATHWAY_STATISTICS_DSN"
STATISTICS_FILE: Final = "statistics.sqlite3"


def ledger_secret(*, create: bool = False) -> bytes:
    """The key of the statistics ledger's hashes (docs/statistics.md): ``PATHWAY_LEDGER_SECRET``,
    else ``var/ledger-secret``, either :data:`PEPPER_FORMAT` (32 bytes). Kept like the ID pepper
    (0600 file in the 0700 state directory), and like it shared by every worker and command of
    one deployment: a second secret would count every person twice.

    ``create``: make ``var/ledger-secret`` if it is missing (the embedded default only: the
    workers create it when the ledger is the SQLite file under ``./var``). Raises
    :class:`StateError` naming the variable or the file if the secret is malformed, or missing
    when it may not be created."""
    return _state_secret(LEDGER_SECRET_ENV, LEDGER_SECRET_FILE, "ledger secret", create=create)


def statistics_dsn() -> str | None:
    """The PostgreSQL database of the statistics ledger (``PATHWAY_STATISTICS_DSN``, a
    ``postgresql://`` URL or libpq connection string), or None: the SQLite file
    ``var/statistics.sqlite3`` (the embedded default)."""
    dsn = current().statistics_dsn
    return None if dsn is None else dsn.get_secret_value()


def statistics_ledger() -> StatisticsLedger:
    """The statistics ledger this deployment writes and reports from (see
    :func:`statistics_dsn`). Raises the store's error if it cannot be opened."""
    from pathway.statistics_ledger import open_ledger

    return open_ledger(statistics_dsn(), var_dir() / STATISTICS_FILE)


# --- The one settings model (issue 16 item 2) ------------------------------------------------

#: Every setting's environment variable starts with this.
ENV_PREFIX: Final = "PATHWAY_"
#: The directory of secret files (one file per secret, named like its variable, e.g.
#: ``/run/secrets/PATHWAY_ID_PEPPER``: a Kubernetes secret volume or Docker secrets).
SECRETS_DIR_ENV: Final = "PATHWAY_SECRETS_DIR"
#: The console's OIDC sign-in (pathway/console/oidc.py): all three, or none.
OIDC_ENV: Final = (
    "PATHWAY_OIDC_CLIENT_ID",
    "PATHWAY_OIDC_CLIENT_SECRET",
    "PATHWAY_OIDC_REDIRECT_URL",
)
#: Where the identity provider sends the browser back to (pathway/console/oidc.py).
OIDC_CALLBACK_PATH: Final = "/console/sign-in/oidc/callback"

_HEX64: Final = r"^[0-9a-fA-F]{64}$"
_MASTER_KEYS: Final = re.compile(
    r"[A-Za-z0-9._-]+:[0-9a-fA-F]{64}(,[A-Za-z0-9._-]+:[0-9a-fA-F]{64})*"
)


class Settings(BaseSettings):
    """Every setting of every Pathway process (worker, gateway, codec server, CLI,
    ``pathway dev``), validated at start: the environment variable ``PATHWAY_<NAME>``, else
    (secrets only) the file ``<NAME>`` in ``PATHWAY_SECRETS_DIR``, else the default.

    The reference table (docs/settings.md) is generated from this model
    (``python scripts/gen_doc_tables.py``). Connection to Temporal (``TEMPORAL_*``, profiles)
    follows the SDK's own configuration (:mod:`pathway.temporal_config`); only the two
    ``PATHWAY_`` overrides are here. Secrets are :class:`~pydantic.SecretStr`: never printed,
    never taken from a command-line argument.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, validate_default=True
    )

    # -- the deployment ----------------------------------------------------------------------
    var: Path = Field(
        Path("var"),
        description="State directory of the embedded default (keys, pepper, ledger, outbox).",
    )
    mode: Literal["dev", "production"] = Field(
        "dev",
        description="`production` refuses dev defaults: no generated credentials, pepper or "
        "plain-HTTP JWKS.",
    )
    debug: bool = Field(False, description="Print tracebacks of internal errors (CLI).")
    case_config: FilePath | None = Field(
        None,
        description="JSON file of the periods for newly opened cases (`CaseConfig`); unset: "
        "the law's periods (docs/rules.md).",
    )
    retention_days: int = Field(
        1825,
        ge=0,
        le=999_999,
        description="Days a closed case is kept before automatic erasure (P1).",
    )
    channels: FilePath | None = Field(
        None,
        description="TOML file of notification channels per organisation (webhooks, e-mail); "
        "unset: every organisation gets the outbox under `var/`.",
    )
    data_key_hold_seconds: float = Field(
        DEFAULT_KEY_HOLD_SECONDS,
        gt=0,
        le=MAX_KEY_HOLD_SECONDS,
        description="Seconds a process holds an unwrapped data key at most after reading it "
        "(more than 0, at most 3600): an erased case's key leaves an idle process's memory "
        'by then (docs/privacy.md, "Held keys and cached workflows").',
    )
    # -- secrets ------------------------------------------------------------------------------
    id_pepper: SecretStr | None = Field(
        None,
        description="Secret behind pseudonymous case IDs (64 hex characters); unset: "
        "`var/id-pepper`, made by the embedded default. Shared by every process.",
        json_schema_extra={"secret": True},
    )
    master_keys: SecretStr | None = Field(
        None,
        description="Master keys that wrap the cases' data keys, `id:hex64[,id:hex64…]`, "
        "newest last; unset: `var/master-keys/*.key`.",
        json_schema_extra={"secret": True},
    )
    ledger_secret: SecretStr | None = Field(
        None,
        description="Key of the statistics ledger's person hashes (64 hex characters); "
        "unset: `var/ledger-secret`.",
        json_schema_extra={"secret": True},
    )
    statistics_dsn: SecretStr | None = Field(
        None,
        description="PostgreSQL database of the statistics ledger (`postgresql://…`); unset: "
        "`var/statistics.sqlite3`.",
        json_schema_extra={"secret": True},
    )
    token: SecretStr | None = Field(
        None,
        description="The operator's API token for CLI commands that need one.",
        json_schema_extra={"secret": True},
    )
    credentials: Path | None = Field(
        None,
        description="TOML file of the organisations' API tokens (hashes only); unset: "
        "`var/credentials.toml` (embedded default only).",
    )
    # -- sign-in with the deployment's identity provider (all four, or none) -------------------
    jwks_url: str | None = Field(None, description="JWKS URL of the OIDC provider (https).")
    jwt_issuer: str | None = Field(None, description="Expected `iss` of bearer JWTs.")
    jwt_audience: str | None = Field(None, description="Expected `aud` of bearer JWTs.")
    jwt_role_claim: str | None = Field(
        None, description="Claim naming the caller's organisation or `operator`."
    )
    # -- the console's sign-in with the identity provider (OIDC; all three, or none) -----------
    oidc_client_id: str | None = Field(
        None,
        description="The console's client ID at the identity provider: OIDC sign-in (the "
        "provider is `PATHWAY_JWT_ISSUER`, found at `{issuer}/.well-known/openid-configuration`; "
        "its ID tokens are checked with the JWT settings, audience this client ID).",
    )
    oidc_client_secret: SecretStr | None = Field(
        None,
        description="The console's client secret at the identity provider (OIDC sign-in).",
        json_schema_extra={"secret": True},
    )
    oidc_redirect_url: str | None = Field(
        None,
        description="The console's address registered at the identity provider for OIDC "
        "sign-in: `https://HOST/console/sign-in/oidc/callback` (https in production).",
    )
    # -- the gateway ---------------------------------------------------------------------------
    gateway_rate: float = Field(
        10.0, gt=0, description="Requests per second per organisation (token bucket)."
    )
    gateway_burst: int = Field(60, ge=1, description="Burst of the token bucket, requests.")
    gateway_max_body: int = Field(
        64 * 1024, ge=1024, description="Largest request body accepted, bytes."
    )
    gateway_temporal_timeout: float = Field(
        10.0, gt=0, description="Seconds a request waits for Temporal before 504/503."
    )
    gateway_case_in_flight: int = Field(
        8,
        ge=1,
        description="Events of one case sent to Temporal at once (below its 10 in-flight updates).",
    )
    gateway_case_queue: int = Field(
        64, ge=0, description="Events of one case waiting their turn before 429 busy."
    )
    statistics_k: int = Field(
        DEFAULT_K,
        ge=2,
        description="Smallest count `GET /v1/statistics/annual` shows to analysts; smaller "
        "cells are suppressed (docs/statistics.md).",
    )
    console_secret: SecretStr | None = Field(
        None,
        description="Key signing the console's sessions and CSRF tokens (64 hex characters), "
        "shared by every gateway process; unset: `var/console-secret`, made if missing.",
        json_schema_extra={"secret": True},
    )
    codec_secret: SecretStr | None = Field(
        None,
        description="Key signing the codec server's browser sessions (64 hex characters), the "
        "same for every replica; unset: random per process (a restart signs everyone out).",
        json_schema_extra={"secret": True},
    )
    # -- the case worker ----------------------------------------------------------------------
    workflow_cache: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Workflows (open cases, registers) the case worker keeps in memory; one "
        "beyond it is evicted and replayed from its history when it next has work. About 0.3 "
        'to 0.5 MiB each (docs/performance.md, "Worker sizing").',
    )
    # -- metrics and Worker Versioning ---------------------------------------------------------
    metrics_address: str | None = Field(
        None,
        description="`host:port` of the Prometheus endpoint of workers and `pathway dev`; "
        "unset: none (docs/metrics.md).",
    )
    metrics_census_seconds: float | None = Field(
        None,
        description="Seconds between two counts of open and overdue obligations; unset: 60.",
    )
    deployment_name: str | None = Field(
        None,
        description="Worker Deployment of the case worker; unset: no Worker Versioning "
        "(docs/versioning.md).",
    )
    build_id: str | None = Field(
        None, description="Build ID of this release; unset: the package's version."
    )
    # -- Temporal (overrides of the SDK's TEMPORAL_* configuration) ----------------------------
    temporal_address: str | None = Field(
        None, description="`host:port` of Temporal's frontend; overrides `TEMPORAL_ADDRESS`."
    )
    namespace: str | None = Field(
        None, description="Temporal namespace; overrides `TEMPORAL_NAMESPACE`."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment arrives as init values (load_settings: os.environ or a given
        # mapping); secret files fill what it leaves unset. No .env file is read.
        return (init_settings, file_secret_settings)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("retention_days", mode="before")
    @classmethod
    def _whole_days(cls, value: object) -> object:
        if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,6}", value.strip()):
            raise ValueError(
                "PATHWAY_RETENTION_DAYS is not a whole number of days (0 or more); unset it "
                "for the default of 1825"
            )
        return value

    @field_validator("data_key_hold_seconds", mode="before")
    @classmethod
    def _key_hold(cls, value: object) -> object:
        # One rule and one message with the key store's own check (a NaN or infinity too).
        try:
            return key_hold_seconds(float(value) if isinstance(value, str) else value)
        except ValueError:
            raise ValueError(str(KeyHoldOutOfRange())) from None

    @field_validator("metrics_address", "metrics_census_seconds", mode="before")
    @classmethod
    def _metrics(cls, value: object, info: ValidationInfo) -> object:
        # pathway.metrics parses them; its message names the variable (one parser, not two).
        from pathway import metrics

        if value is None:
            return value
        environ = {env_name(str(info.field_name)): str(value)}
        try:
            if info.field_name == "metrics_address":
                return metrics.metrics_address(environ)
            return metrics.census_interval(environ).total_seconds()
        except metrics.MetricsConfigError as err:
            raise ValueError(str(err)) from None

    @field_validator("statistics_dsn")
    @classmethod
    def _dsn(cls, value: SecretStr | None) -> SecretStr | None:
        # libpq's own parser; its messages quote the value (a password), so they are not kept.
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict

        if value is not None:
            try:
                conninfo_to_dict(value.get_secret_value())
            except ProgrammingError:
                raise ValueError(
                    "not a PostgreSQL connection URL (postgresql://…) or libpq connection string"
                ) from None
        return value

    @field_validator("temporal_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return value
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isascii() or not port.isdigit():
            raise ValueError("not host:port (e.g. temporal.example:7233)")
        if not 1 <= int(port) <= 65535 or any(c.isspace() for c in host):
            raise ValueError("not host:port (a port from 1 to 65535, no spaces)")
        return value

    @field_validator("deployment_name", "build_id")
    @classmethod
    def _versioning(cls, value: str | None, info: ValidationInfo) -> str | None:
        from pathway import versioning

        if value is None:
            return value
        try:
            return versioning.check(env_name(str(info.field_name)), value)
        except versioning.VersioningConfigError as err:
            raise ValueError(str(err)) from None

    @field_validator("id_pepper", "ledger_secret", "console_secret", "codec_secret")
    @classmethod
    def _hex64(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and not re.fullmatch(_HEX64, value.get_secret_value().strip()):
            name = str(info.field_name)
            what = "ID pepper" if name == "id_pepper" else name.replace("_", " ")
            raise ValueError(f"{env_name(name)} is not a valid {what}: expected {PEPPER_FORMAT}")
        return value

    @field_validator("master_keys")
    @classmethod
    def _master_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _MASTER_KEYS.fullmatch(
            value.get_secret_value().strip().replace(" ", "")
        ):
            raise ValueError("expected id:hex[,id:hex…], each key 64 hex characters")
        return value

    @field_validator("case_config")
    @classmethod
    def _case_config(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                CaseConfig.model_validate_json(value.read_bytes())
            except (OSError, ValueError) as err:
                first = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise ValueError(f"{value} is not a valid case configuration: {first}") from None
        return value

    @model_validator(mode="after")
    def _jwt_all_or_none(self) -> Settings:
        names = ("jwks_url", "jwt_issuer", "jwt_audience", "jwt_role_claim")
        missing = [env_name(name) for name in names if getattr(self, name) is None]
        if 0 < len(missing) < len(names):
            raise ValueError(
                f"JWT verification needs all of {', '.join(map(env_name, names))}; missing: "
                f"{', '.join(missing)}"
            )
        return self

    @model_validator(mode="after")
    def _oidc_all_or_none(self) -> Settings:
        missing = [
            name
            for name in OIDC_ENV
            if getattr(self, name.removeprefix(ENV_PREFIX).lower()) is None
        ]
        if len(missing) == len(OIDC_ENV):
            return self
        if missing:
            raise ValueError(
                f"OIDC sign-in needs all of {', '.join(OIDC_ENV)}; missing: {', '.join(missing)}"
            )
        if self.jwks_url is None:
            jwt = ("jwks_url", "jwt_issuer", "jwt_audience", "jwt_role_claim")
            raise ValueError(
                f"OIDC sign-in needs the JWT settings too ({', '.join(map(env_name, jwt))}): "
                "the provider is PATHWAY_JWT_ISSUER and its ID tokens are checked as JWTs"
            )
        if self.jwt_audience == self.oidc_client_id:
            # The console's ID tokens are for the console (their audience is its client ID);
            # with the API's audience the same, every ID token would also be an API bearer token.
            raise ValueError(
                "PATHWAY_JWT_AUDIENCE must differ from PATHWAY_OIDC_CLIENT_ID: the console's ID "
                "tokens would otherwise be accepted as API bearer tokens"
            )
        _check_oidc_urls(str(self.jwt_issuer), str(self.oidc_redirect_url), self.production)
        return self

    @property
    def production(self) -> bool:
        """``PATHWAY_MODE=production``."""
        return self.mode == "production"


def _check_oidc_urls(issuer: str, redirect_url: str, production: bool) -> None:
    """The issuer and the redirect URL are absolute http(s) URLs, https in production (the
    client secret, the code and the ID token travel to and from them), and the redirect URL is
    the console's callback. Raises ValueError naming the variable (never its value)."""
    for name, url in (("PATHWAY_JWT_ISSUER", issuer), ("PATHWAY_OIDC_REDIRECT_URL", redirect_url)):
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"{name} must be an http(s) URL for OIDC sign-in")
        if production and parts.scheme != "https":
            raise ValueError(f"{name} must use https in production (OIDC sign-in)")
    parts = urlsplit(redirect_url)
    if parts.path != OIDC_CALLBACK_PATH or parts.query or parts.fragment:
        raise ValueError(f"PATHWAY_OIDC_REDIRECT_URL must end in {OIDC_CALLBACK_PATH}")


class SettingsError(StateError):
    """Settings that cannot work: :attr:`lines` holds one line per setting, each naming its
    variable (``PATHWAY_GATEWAY_RATE: Input should be greater than 0``); the message is all of
    them, one per line. Values are never repeated (they may be secrets)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def env_name(field: str) -> str:
    """The environment variable of the setting ``field`` (``id_pepper`` ->
    ``PATHWAY_ID_PEPPER``)."""
    return ENV_PREFIX + field.upper()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``environ`` (default ``os.environ``) and ``PATHWAY_SECRETS_DIR``.

    Empty variables count as unset. Raises :class:`SettingsError` with one line per bad
    setting (all of them, not only the first)."""
    env = os.environ if environ is None else environ
    given = {
        name: value
        for name in Settings.model_fields
        if (value := env.get(env_name(name), "").strip())
    }
    secrets_dir = env.get(SECRETS_DIR_ENV, "").strip() or None
    if secrets_dir is not None and not Path(secrets_dir).is_dir():
        raise SettingsError([f"{SECRETS_DIR_ENV}: {secrets_dir} is not a directory"])
    try:
        return Settings(_secrets_dir=secrets_dir, **given)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError([_line(error) for error in err.errors()]) from None


def _line(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return message
    name = env_name(str(error["loc"][0]))
    return message if message.startswith(name) else f"{name}: {message}"


@functools.lru_cache(maxsize=16)
def _loaded(environ: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings(dict(environ))


def of(environ: Mapping[str, str] | None) -> Settings:
    """:func:`current` if ``environ`` is None, else the settings of that environment (tests,
    and functions that take an ``environ``)."""
    return current() if environ is None else load_settings(environ)


def current() -> Settings:
    """This process's :class:`Settings` from ``os.environ`` (and ``PATHWAY_SECRETS_DIR``),
    loaded once per distinct set of ``PATHWAY_*`` variables. Every accessor of this module
    reads it; entry points call it first, so a bad setting stops the process at start. Raises
    :class:`SettingsError`. A secret file changed while the process runs is read at the next
    start."""
    return _loaded(tuple(sorted(kv for kv in os.environ.items() if kv[0].startswith(ENV_PREFIX))))


def settings_markdown() -> str:
    """The reference table of every setting (docs/settings.md, generated by
    ``python scripts/gen_doc_tables.py``): variable, type, default, secret or not, meaning."""
    rows = [
        "| variable | type | default | secret | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        kind = _kind(field.annotation)
        default = "" if field.default is None else f"`{field.default}`"
        secret = "yes" if extra.get("secret") else ""
        rows.append(f"| `{env_name(name)}` | {kind} | {default} | {secret} | {field.description} |")
    rows.append(
        f"| `{SECRETS_DIR_ENV}` | directory | | | Directory of secret files, one per setting "
        "named like its variable (a Kubernetes secret volume, `/run/secrets`); a variable "
        "that is set wins over its file. |"
    )
    return "\n".join(rows) + "\n"


def _kind(annotation: Any) -> str:
    """A setting's type in words: ``path``, ``file``, ``secret``, ``dev`` or ``production``."""
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return " or ".join(f"`{value}`" for value in get_args(annotation))
    if get_origin(annotation) is Annotated:
        return "file"  # FilePath: a path to a file that exists
    names = {"SecretStr": "secret", "Path": "path", "str": "text", "float": "number"}
    name = getattr(annotation, "__name__", str(annotation))
    return names.get(name, name)
