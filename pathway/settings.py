"""Deployment settings read from the environment, with the embedded default under ``./var``."""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pathway.domain.config import CaseConfig
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
    return Path(os.environ.get(VAR_ENV, "var"))


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
    if value := os.environ.get(env):
        return _parse_secret(value, env, name)
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
    from pathway.privacy.keys import MASTER_KEYS_ENV

    if os.environ.get(MASTER_KEYS_ENV) or any((path / "master-keys").glob("*.key")):
        return
    raise StateError(
        f"{path} has no master key (master-keys/*.key): start the service once with "
        f"bin/serve (pathway dev), or set {MASTER_KEYS_ENV}"
    )


def case_config() -> CaseConfig:
    """Periods for newly opened cases: ``PATHWAY_CASE_CONFIG`` (a JSON file) or the SPEC's."""
    if path := os.environ.get("PATHWAY_CASE_CONFIG"):
        return CaseConfig.model_validate_json(Path(path).read_text())
    return CaseConfig()


def retention() -> timedelta:
    """How long closed cases are kept before automatic erasure (``PATHWAY_RETENTION_DAYS``, a
    whole number of days, 0 to 999999). Raises :class:`StateError` (one line naming the variable)
    for anything else."""
    from pathway.privacy.erasure import DEFAULT_RETENTION

    value = os.environ.get("PATHWAY_RETENTION_DAYS", "").strip()
    if not value:
        return DEFAULT_RETENTION
    if not re.fullmatch(r"[0-9]{1,6}", value):
        raise StateError(
            "PATHWAY_RETENTION_DAYS is not a whole number of days (0 or more); "
            "unset it for the default of 1825"
        )
    return timedelta(days=int(value))


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
    return os.environ.get(STATISTICS_DSN_ENV) or None


def statistics_ledger() -> StatisticsLedger:
    """The statistics ledger this deployment writes and reports from (see
    :func:`statistics_dsn`). Raises the store's error if it cannot be opened."""
    from pathway.statistics_ledger import open_ledger

    return open_ledger(statistics_dsn(), var_dir() / STATISTICS_FILE)
