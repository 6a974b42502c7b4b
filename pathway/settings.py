"""Deployment settings read from the environment, with the embedded default under ``./var``."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from pathway.domain.config import CaseConfig
from pathway.secret_files import private_dir, write_secret


def var_dir() -> Path:
    """Where the embedded default keeps its state (``PATHWAY_VAR``, default ``./var``)."""
    return Path(os.environ.get("PATHWAY_VAR", "var"))


def id_pepper() -> bytes:
    """The secret that makes case IDs pseudonymous (``PATHWAY_ID_PEPPER``, hex).

    The embedded default creates one under ``var/id-pepper`` on first use; every client of one
    deployment (CLI, gateway) must share it, or one person would get two cases. The file is
    0600, and the state directory 0700 if this creates it.
    """
    if value := os.environ.get("PATHWAY_ID_PEPPER"):
        return bytes.fromhex(value)
    path = var_dir() / "id-pepper"
    if not path.exists():
        private_dir(path.parent)
        # Two first starts at once: one pepper wins, the other process reads it.
        write_secret(path, secrets.token_hex(32), replace=False)
    return bytes.fromhex(path.read_text().strip())


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
