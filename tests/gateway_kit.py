"""What the gateway tests share: one API token per role, an app builder, HTTP clients and a
valid example of every event type (the one docs/events.md shows)."""

from __future__ import annotations

import contextlib
import runpy
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from temporalio.client import Client

from pathway.access.credentials import Credentials, TokenEntry, hash_token, new_token
from pathway.access.policy import ROLES
from pathway.gateway import Authenticator, GatewaySettings, create_gateway_app
from pathway.temporal_connection import data_converter
from tests.harness import PEPPER, Bench
from tests.keys import TEST_KEYS

ROOT = Path(__file__).resolve().parent.parent
BASE_URL = "http://gateway.test"
PROBLEM_JSON = "application/problem+json"

#: One API token per role (fresh each test run): role -> token.
TOKENS: dict[str, str] = {role: new_token() for role in ROLES}
#: A stand-in for a person's data: no error answer or log line may ever contain it.
CANARY = "CANARY-Ana-Novak-1999"


def credentials() -> Credentials:
    """Every role's token, stored as hashes, as a credentials file would hold them."""
    return Credentials(
        tokens=[
            TokenEntry(name=f"{role}-system", role=role, sha256=hash_token(token))
            for role, token in TOKENS.items()
        ]
    )


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


async def unreachable_temporal() -> Client:
    """A client (with the project's encrypting converter, test keys) for a Temporal that is
    not there: whatever gets past the gateway's door ends in 503."""
    return await Client.connect("127.0.0.1:1", lazy=True, data_converter=data_converter(TEST_KEYS))


def gateway(
    client: Client, settings: GatewaySettings, authenticator: Authenticator | None = None
) -> FastAPI:
    return create_gateway_app(
        client=client,
        settings=settings,
        authenticator=authenticator or Authenticator(credentials()),
    )


@contextlib.asynccontextmanager
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in-process (same event loop as the test)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        yield client


_example = runpy.run_path(str(ROOT / "scripts" / "gen_events_doc.py"))["example"]


def example(event_type: str, **fields: Any) -> dict[str, Any]:
    """A valid event of ``event_type`` (the documented example), with ``fields`` replaced."""
    data: dict[str, Any] = dict(_example(event_type))
    data.update(fields)
    return data


def assert_problem(response: httpx.Response, status: int, **members: Any) -> Mapping[str, Any]:
    """``response`` is an RFC 9457 problem with ``status`` and the given members."""
    # Messages spelled out: this helper module is not rewritten by pytest's assertions.
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    found = {key: body.get(key) for key in members}
    assert found == members, f"{found} != {members} in {body}"
    assert CANARY not in response.text, "personal data in an error answer"
    return body


def bench_settings(b: Bench) -> GatewaySettings:
    """The gateway's settings in front of a test bench's own workers (its task queue and case
    configuration): no rate limit, and a minute's patience, because these tests are not about
    the gateway's patience (a busy machine took more than the default 10 s: 504 in CI)."""
    return GatewaySettings(
        pepper=PEPPER,
        task_queue=b.task_queue,
        case_config=b.config,
        rate_per_second=1000,
        burst=1000,
        temporal_timeout=60.0,
    )
