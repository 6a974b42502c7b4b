"""Metrics for operators (docs/metrics.md): Prometheus text on ``/metrics``, never a case ID or
a fact about a person in a label.

Two exporters, each the maintained one for its side:

- A worker process exports through the Temporal SDK's own Prometheus endpoint
  (:func:`worker_runtime`: ``Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(...)))``)
  on ``PATHWAY_METRICS_ADDRESS``. The SDK's metrics (``temporal_*``: workflow task latency,
  activity failures...) and the service's own ``pathway_*`` metrics of the worker share that one
  endpoint: the service's are recorded through the SDK's meters (the workflow's replay-safe
  ``workflow.metric_meter()``, the activity's ``activity.metric_meter()``, the runtime's
  ``metric_meter``): :mod:`pathway.metrics.workflow`, :mod:`pathway.metrics.activity`,
  :mod:`pathway.metrics.census`.
- The gateway and the codec server are HTTP servers already: their ``/metrics`` route serves a
  ``prometheus_client`` registry of their own (:mod:`pathway.metrics.http`).

Settings (read here alone; the lead folds them into the settings model):

- ``PATHWAY_METRICS_ADDRESS``: ``host:port`` of a worker's metrics endpoint; unset or empty: no
  endpoint, and the worker's meters record nothing.
- ``PATHWAY_METRICS_CENSUS_SECONDS``: how often the case worker counts open and overdue
  obligations (default 60 s; only with an endpoint).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

__all__ = [
    "CENSUS_INTERVAL_ENV",
    "METRICS_ADDRESS_ENV",
    "MetricsConfigError",
    "census_interval",
    "install_worker_runtime",
    "metrics_address",
    "worker_runtime",
]

METRICS_ADDRESS_ENV: Final = "PATHWAY_METRICS_ADDRESS"
CENSUS_INTERVAL_ENV: Final = "PATHWAY_METRICS_CENSUS_SECONDS"
DEFAULT_CENSUS_INTERVAL: Final = timedelta(seconds=60)


class MetricsConfigError(ValueError):
    """A metrics setting that cannot work; the message is one line naming the setting."""


def metrics_address(environ: Mapping[str, str] | None = None) -> str | None:
    """``PATHWAY_METRICS_ADDRESS`` as ``host:port`` (e.g. ``127.0.0.1:9464``, ``0.0.0.0:9464``,
    ``[::1]:9464``), or None when unset or empty (no metrics endpoint).

    Raises :class:`MetricsConfigError` naming the setting if it is not ``host:port`` with a
    port from 1 to 65535."""
    environ = os.environ if environ is None else environ
    value = environ.get(METRICS_ADDRESS_ENV, "").strip()
    if not value:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isascii() or not port.isdigit():
        raise MetricsConfigError(
            f"{METRICS_ADDRESS_ENV}={value!r} is not host:port (e.g. 127.0.0.1:9464)"
        )
    if not 1 <= int(port) <= 65535:
        raise MetricsConfigError(f"{METRICS_ADDRESS_ENV}={value!r}: the port must be 1-65535")
    return value


def census_interval(environ: Mapping[str, str] | None = None) -> timedelta:
    """``PATHWAY_METRICS_CENSUS_SECONDS``: seconds between two counts of open and overdue
    obligations (a positive number; default 60). Raises :class:`MetricsConfigError`."""
    environ = os.environ if environ is None else environ
    value = environ.get(CENSUS_INTERVAL_ENV, "").strip()
    if not value:
        return DEFAULT_CENSUS_INTERVAL
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise MetricsConfigError(
            f"{CENSUS_INTERVAL_ENV}={value!r} is not a positive number of seconds"
        )
    return timedelta(seconds=seconds)


def worker_runtime(address: str) -> Runtime:
    """A Temporal SDK runtime that serves Prometheus text at ``http://<address>/metrics``:
    counters with the ``_total`` suffix, durations in seconds (``*_latency`` histograms in
    seconds, not milliseconds). Raises :class:`MetricsConfigError` naming
    ``PATHWAY_METRICS_ADDRESS`` if the address cannot be bound."""
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=address,
                    counters_total_suffix=True,
                    durations_as_seconds=True,
                )
            )
        )
    except ValueError as error:  # the SDK's "Failed starting Prometheus exporter: ..."
        raise MetricsConfigError(
            f"{METRICS_ADDRESS_ENV}={address}: {' '.join(str(error).split())}"
        ) from None


def install_worker_runtime(environ: Mapping[str, str] | None = None) -> Runtime | None:
    """Make the metrics runtime (:func:`worker_runtime` on ``PATHWAY_METRICS_ADDRESS``) the
    SDK's default, so that every client connected afterwards in this process (and its workers)
    reports through it. None, and nothing changed, when the setting is unset. Call it before
    the first connection. Raises :class:`MetricsConfigError`."""
    address = metrics_address(environ)
    if address is None:
        return None
    census_interval(environ)  # checked now, not when the first count is due
    runtime = worker_runtime(address)
    Runtime.set_default(runtime, error_if_already_set=False)
    return runtime
