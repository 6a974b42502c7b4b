"""A property-based run of the gateway's own OpenAPI document: schemathesis generates valid and
invalid requests for every operation, sent over real HTTP as one of several callers, and no
answer may be a 5xx (bad input is always the caller's 4xx, never the service's 500).

Bounded to fit CI: a fixed number of examples, derandomised so every run sends the same ones.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, strategies
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from temporalio.testing import WorkflowEnvironment

from pathway import search_attributes
from pathway.domain.events import EVENT_TYPES, Identified
from pathway.gateway import GatewaySettings, serve_gateway
from pathway.temporal_binaries import temporal_cli_path
from pathway.temporal_connection import data_converter
from tests.gateway_kit import TOKENS, example, gateway
from tests.harness import PEPPER, bench
from tests.keys import TEST_KEYS
from tests.receivers import DEV_SERVER_STARTUP, eventually, free_port

pytestmark = pytest.mark.devserver

#: Examples per run, over all operations and both generation modes: the default run sends 150
#: (about 8 s on 2 idle cores); `bin/test-long` sends 4,000.
SHORT, LONG = 150, 4000

#: Who calls: the organisation the generated event names (so that events get past the door
#: and reach a case), systems of several roles, an unknown token, and nobody at all.
AS_SENDER = "as-sender"
CALLERS: list[str | None] = [
    AS_SENDER,
    AS_SENDER,
    AS_SENDER,
    "police",
    "caritas",
    "operator",
    "analyst",
    "not-a-token",
    None,
]


def credentials_of(caller: str | None, body: Any) -> dict[str, str]:
    """The Authorization header for ``caller``; as the sender, the body is made to name an
    organisation that may send its type, so that it gets past the door to a case."""
    if caller == AS_SENDER:
        caller = "police"
        event_type = body.get("type") if isinstance(body, dict) else None
        if isinstance(event_type, str) and event_type in EVENT_TYPES:
            caller = sorted(org.value for org in EVENT_TYPES[event_type].senders)[0]
            body["organisation"] = caller
    if caller is None:
        return {}
    return {"Authorization": f"Bearer {TOKENS.get(caller, caller)}"}


#: A POST answered by a case's rules: accepted (200, 201) or rejected by a rule (409).
JUDGED = frozenset({200, 201, 409})
#: The key under which ``seen`` counts them (no HTTP status is negative).
JUDGED_BY_A_CASE = -1


def fuzz(
    base_url: str, document: dict[str, Any], case_id: str, seen: Counter[int], examples: int
) -> None:
    """Send ``examples`` generated requests to ``base_url``, some of them to the open case
    ``case_id`` (so that generated events reach the domain's rules); fail on the first 5xx."""
    schema = schemathesis.openapi.from_dict(document)
    on_case = {"case_id": case_id}
    cases = (
        schema.as_strategy(GenerationMode.POSITIVE)
        | schema.as_strategy(GenerationMode.NEGATIVE)
        | schema["/v1/cases/{case_id}/events"]["POST"].as_strategy(
            GenerationMode.POSITIVE, path_parameters=on_case
        )
        | schema["/v1/cases/{case_id}"]["GET"].as_strategy(path_parameters=on_case)
    )
    session = requests.Session()
    # Whatever the generator draws, one event that passes the door: the lead NGO's.
    judged = schema["/v1/cases/{case_id}/events"]["POST"].Case(
        path_parameters=on_case,
        body=example(
            "cooperation_recorded",
            organisation="caritas",
            event_id="fuzz-explicit-1",
            occurred_at=datetime.now(UTC).isoformat(),
        ),
        media_type="application/json",
    )

    @hypothesis.example(case=judged, caller="caritas")
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
    )
    @hypothesis.given(case=cases, caller=strategies.sampled_from(CALLERS))
    def run(case: schemathesis.Case[Any], caller: str | None) -> None:
        # The case's own headers would win over those passed to call(): replace them there.
        headers = CaseInsensitiveDict(
            {key: value for key, value in case.headers.items() if key.lower() != "authorization"}
        )
        headers.update(credentials_of(caller, case.body))
        case.headers = headers
        response = case.call(base_url=base_url, session=session, timeout=30)
        seen[response.status_code] += 1
        if case.method == "POST" and response.status_code in JUDGED:
            # An event (or an identification) that passed the door and met a case's rules.
            seen[JUDGED_BY_A_CASE] += 1
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
        )
        if response.status_code >= 400:
            # schemathesis keeps every value of a header, in a list.
            assert response.headers["content-type"] == ["application/problem+json"]

    run()


class TestFuzz:
    """The OpenAPI document, fuzzed."""

    @pytest.mark.parametrize("examples", [SHORT, pytest.param(LONG, marks=pytest.mark.long)])
    @pytest.mark.timeout(1800)
    async def test_no_server_errors(self, examples: int) -> None:
        """Hundreds of generated requests, valid and invalid, as every kind of caller: none
        is answered with a 5xx, and every error is a problem document."""
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_cli_path()),
            dev_server_startup_timeout=DEV_SERVER_STARTUP,
            ui=False,
            data_converter=data_converter(TEST_KEYS),
            search_attributes=list(search_attributes.ALL),
        )
        async with env, bench(env, upsert_search_attributes=True) as b:
            settings = GatewaySettings(
                pepper=PEPPER,
                task_queue=b.task_queue,
                case_config=b.config,
                rate_per_second=10_000,
                burst=10_000,
            )
            app = gateway(b.client, settings)
            port = free_port()
            stop = asyncio.Event()
            serving = asyncio.create_task(serve_gateway(app, "127.0.0.1", port, stop))
            try:
                base_url = f"http://127.0.0.1:{port}"
                await eventually(lambda: _up(base_url), timeout=60)
                identified = example(
                    "identified",
                    organisation="police",
                    occurred_at=(datetime.now(UTC) - timedelta(days=1)).isoformat(),
                )
                case_id, _ = await b.open(Identified.model_validate(identified))
                seen: Counter[int] = Counter()
                await asyncio.to_thread(fuzz, base_url, app.openapi(), case_id, seen, examples)
            finally:
                stop.set()
                await serving
        assert sum(seen.values()) >= examples
        # The run reached past the door: generated events were judged by a case.
        assert seen[JUDGED_BY_A_CASE] > 0, seen


async def _up(base_url: str) -> bool:
    def probe() -> bool:
        try:
            return requests.get(f"{base_url}/healthz", timeout=10).status_code == 200
        except requests.ConnectionError:
            return False

    return await asyncio.to_thread(probe)
