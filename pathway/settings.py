"""Deployment settings read from the environment, with the embedded default under ``./var``."""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Final

from pathway.domain.config import CaseConfig
from pathway.secret_files import private_dir, write_secret

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


def _parse_pepper(text: str, where: str) -> bytes:
    value = text.strip()
    if not _PEPPER.fullmatch(value):
        raise StateError(f"{where} is not a valid ID pepper: expected {PEPPER_FORMAT}")
    return bytes.fromhex(value)


def id_pepper(*, create: bool = True) -> bytes:
    """The secret that makes case IDs pseudonymous (``PATHWAY_ID_PEPPER``, else
    ``var/id-pepper``; either :data:`PEPPER_FORMAT`).

    ``create``: the embedded default (``pathway dev``) creates ``var/id-pepper`` on its first
    start; every client of one deployment (CLI, gateway) must share it, or one person would get
    two cases, so the CLI passes ``create=False``. The file is 0600, and the state directory
    0700 if this creates it. Raises :class:`StateError` naming the variable or file if the
    pepper is malformed, or missing when it may not be created.
    """
    if value := os.environ.get(PEPPER_ENV):
        return _parse_pepper(value, PEPPER_ENV)
    path = var_dir() / PEPPER_FILE
    if not path.exists():
        if not create:
            raise StateError(
                f"{var_dir().absolute()} has no {PEPPER_FILE}: start the service once with "
                f"bin/serve (pathway dev), or set {PEPPER_ENV}"
            )
        private_dir(path.parent)
        # Two first starts at once: one pepper wins, the other process reads it.
        write_secret(path, secrets.token_hex(32), replace=False)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise StateError(
            f"{path.absolute()} cannot be read as an ID pepper ({PEPPER_FORMAT}): "
            f"{getattr(err, 'strerror', None) or type(err).__name__}"
        ) from None
    return _parse_pepper(text, str(path.absolute()))


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
    """How long closed cases are kept before automatic erasure (``PATHWAY_RETENTION_DAYS``)."""
    from pathway.privacy.erasure import DEFAULT_RETENTION

    if value := os.environ.get("PATHWAY_RETENTION_DAYS"):
        return timedelta(days=int(value))
    return DEFAULT_RETENTION
