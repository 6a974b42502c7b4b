"""Temporal Worker Versioning for Pathway's workers (docs/versioning.md, issue 16 item 4).

Settings (environment):

- ``PATHWAY_DEPLOYMENT_NAME``: the worker deployment's name (e.g. ``pathway``). Unset or empty:
  versioning is off, the embedded default (``pathway dev``) and any deployment that replaces
  all workers at once need nothing.
- ``PATHWAY_BUILD_ID``: the build ID of this release; default the installed package's version
  (``pyproject.toml``), so a release with a new version is a new deployment version.

A versioned worker registers :data:`pathway.workers.VERSIONED_WORKFLOWS`: the same workflow
types, each a subclass declaring its behaviour in ``@workflow.defn`` (cases and registers
``AUTO_UPGRADE``, the retention sweep ``PINNED``); the worker sets no default, so a type without
one fails the worker's start. An unversioned worker (``pathway dev``) registers the base
classes, which declare none: the SDK sends a declared behaviour with every workflow task, and
the server refuses it from an unversioned worker ("versioning behavior cannot be specified
without deployment options").
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Mapping

from temporalio.common import WorkerDeploymentVersion
from temporalio.worker import WorkerDeploymentConfig

__all__ = [
    "BUILD_ID",
    "DEPLOYMENT_NAME",
    "VersioningConfigError",
    "check",
    "deployment_config",
]

DEPLOYMENT_NAME = "PATHWAY_DEPLOYMENT_NAME"
BUILD_ID = "PATHWAY_BUILD_ID"

# Temporal joins the two as "<deployment>.<build id>": a dot in the name would be ambiguous.
_MAX_LENGTH = 255


class VersioningConfigError(ValueError):
    """A versioning setting is malformed; the message names the setting and the rule."""


def _checked(setting: str, value: str, *, dots: bool) -> str:
    if len(value) > _MAX_LENGTH:
        raise VersioningConfigError(f"{setting}: at most {_MAX_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise VersioningConfigError(f"{setting}: no spaces or control characters")
    if not dots and "." in value:
        raise VersioningConfigError(
            f"{setting}: no '.' (Temporal names a version '<deployment>.<build id>')"
        )
    return value


def check(setting: str, value: str) -> str:
    """``value`` if it may be the value of ``setting`` (:data:`DEPLOYMENT_NAME`: no dot, or
    :data:`BUILD_ID`); else :class:`VersioningConfigError` naming the setting. The settings
    model (:mod:`pathway.settings`) validates with it at start."""
    return _checked(setting, value.strip(), dots=setting != DEPLOYMENT_NAME)


def deployment_config(
    environ: Mapping[str, str] | None = None,
) -> WorkerDeploymentConfig | None:
    """The case worker's :class:`WorkerDeploymentConfig`, or ``None`` (versioning off) when
    ``PATHWAY_DEPLOYMENT_NAME`` is unset or empty.

    ``environ``: where the settings are read (default ``os.environ``). The build ID is
    ``PATHWAY_BUILD_ID`` or the ``pathway`` package's version. Raises
    :class:`VersioningConfigError` naming the setting if a value is malformed.
    """
    env = os.environ if environ is None else environ
    name = env.get(DEPLOYMENT_NAME, "").strip()
    if not name:
        return None
    build_id = env.get(BUILD_ID, "").strip() or importlib.metadata.version("pathway")
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(
            deployment_name=_checked(DEPLOYMENT_NAME, name, dots=False),
            build_id=_checked(BUILD_ID, build_id, dots=True),
        ),
        use_worker_versioning=True,
    )
