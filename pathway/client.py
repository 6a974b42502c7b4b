"""One way to reach Temporal, with the project's data converter, for every client and worker."""

from __future__ import annotations

import os

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

DEFAULT_TARGET = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"


def data_converter() -> DataConverter:
    """The SDK's pydantic converter (encryption is layered on here by the privacy work)."""
    return pydantic_data_converter


async def connect(target: str | None = None, namespace: str | None = None) -> Client:
    """Connect to Temporal (``PATHWAY_TEMPORAL_ADDRESS`` / ``PATHWAY_NAMESPACE`` by default)."""
    return await Client.connect(
        target or os.environ.get("PATHWAY_TEMPORAL_ADDRESS", DEFAULT_TARGET),
        namespace=namespace or os.environ.get("PATHWAY_NAMESPACE", DEFAULT_NAMESPACE),
        data_converter=data_converter(),
    )
