"""``GET /v1/statistics/annual`` (issue 15 item 5): analysts read the year's aggregates,
suppressed with the deployment's k; the access policy decides who may; an analyst still reads
no case. The gateway stands in front of an unreachable Temporal: a 200 here shows that the
figures come from the ledger alone (a real SQLite ledger), never from a case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from pathway.access.credentials import OPERATOR
from pathway.access.policy import ROLES, STATISTICS_READERS, may_read_statistics
from pathway.gateway import GatewaySettings
from pathway.gateway.routes.statistics import StatisticsAccess
from pathway.statistics_ledger import SqliteLedger
from tests.gateway_kit import assert_problem, bearer, gateway, http, unreachable_temporal
from tests.test_statistics_ledger import at, case, ledger_of, person, then

CASE = "case-abcdefghijklmnopqrstuvwx"
PATH = "/v1/statistics/annual"
#: Counted by hand: six women and two men placed in crisis accommodation in 2026.
WOMEN, MEN = 6, 2


def placed(gender: str) -> object:
    return then(
        case(person(gender, "PT"), at(2026, 4, 1)), "crisis_accommodation_placed", at(2026, 4, 2)
    )


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    states = [placed("female") for _ in range(WOMEN)] + [placed("male") for _ in range(MEN)]
    return ledger_of(tmp_path, *states)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def app(ledger: SqliteLedger) -> FastAPI:
    app = gateway(
        await unreachable_temporal(),
        GatewaySettings(pepper=b"p", temporal_timeout=2, rate_per_second=1000, burst=1000),
    )
    app.state.statistics = StatisticsAccess(open_ledger=lambda: ledger, k=3)
    return app


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http(app) as http_client:
        yield http_client


async def test_analyst_reads_suppressed_aggregates(client: httpx.AsyncClient) -> None:
    """The analyst gets the year's figures with the deployment's k (3): the eight persons
    stand, the two men are ``<3`` (and so, as their complement, are the six women)."""
    response = await client.get(PATH, params={"year": 2026}, headers=bearer("analyst"))
    assert response.status_code == 200, response.text
    body = response.json()
    entered = body["crisis_accommodation"]["entered"]
    assert entered["persons"] == WOMEN + MEN
    hidden = {"suppressed": True, "below": 3}
    assert entered["by_gender_age"]["male_adult"] == hidden
    assert entered["by_gender_age"]["female_adult"] == hidden
    assert body["year"] == 2026


async def test_unsuppressed_only_for_operators(client: httpx.AsyncClient) -> None:
    """``public=false``: 403 for the analyst (field public), the plain figures for operators."""
    refused = await client.get(
        PATH, params={"year": 2026, "public": "false"}, headers=bearer("analyst")
    )
    assert_problem(refused, 403, rule="ACCESS", field="public")
    plain = await client.get(
        PATH, params={"year": 2026, "public": "false"}, headers=bearer(OPERATOR)
    )
    assert plain.status_code == 200
    assert plain.json()["crisis_accommodation"]["entered"]["by_gender_age"]["male_adult"] == MEN


@pytest.mark.parametrize("role", ROLES)
async def test_every_role_gets_what_the_policy_says(client: httpx.AsyncClient, role: str) -> None:
    """200 for the roles the policy lets read aggregates, 403 (rule ACCESS) for the rest."""
    response = await client.get(PATH, params={"year": 2026}, headers=bearer(role))
    if may_read_statistics(role):
        assert response.status_code == 200, response.text
    else:
        assert_problem(response, 403, rule="ACCESS")


def test_the_policy_names_analysts_and_operators() -> None:
    """The decision is the policy's: analysts and operators read aggregates; only operators
    unsuppressed ones; an organisation that reads cases does not read the country's figures."""
    assert frozenset({"analyst", OPERATOR}) == STATISTICS_READERS
    assert may_read_statistics("analyst") and not may_read_statistics("analyst", suppressed=False)
    assert may_read_statistics(OPERATOR, suppressed=False)
    assert not may_read_statistics("caritas") and not may_read_statistics("police")


@pytest.mark.parametrize(
    "path", [f"/v1/cases/{CASE}", f"/v1/cases/{CASE}/timeline", "/v1/obligations"]
)
async def test_analyst_still_reads_no_case(client: httpx.AsyncClient, path: str) -> None:
    """Next to the aggregates, every case endpoint still answers the analyst 403."""
    assert (await client.get(PATH, params={"year": 2026}, headers=bearer("analyst"))).is_success
    assert_problem(await client.get(path, headers=bearer("analyst")), 403, rule="ACCESS")


async def test_bad_year_and_no_token(client: httpx.AsyncClient) -> None:
    """A year out of range or missing is 422 naming ``year``; no token is 401."""
    for params in ({"year": 99}, {}):
        response = await client.get(PATH, params=params, headers=bearer("analyst"))
        assert response.status_code == 422
        assert "year" in response.text
    assert (await client.get(PATH, params={"year": 2026})).status_code == 401


async def test_no_ledger_yet_reads_as_nothing_recorded(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Before the workers created the ledger, nothing was recorded: every figure is 0."""
    app.state.statistics = StatisticsAccess(open_ledger=lambda: None, k=3)
    response = await client.get(PATH, params={"year": 2026}, headers=bearer("analyst"))
    assert response.status_code == 200
    assert response.json()["all_programmes"]["persons"] == 0


async def test_an_unreadable_ledger_is_503(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A ledger that cannot be opened (its path is a directory: SQLite's own error): 503
    statistics-unavailable, with Retry-After."""
    (tmp_path / "not-a-file.sqlite3").mkdir()
    app.state.statistics = StatisticsAccess(
        open_ledger=lambda: SqliteLedger(tmp_path / "not-a-file.sqlite3"), k=3
    )
    response = await client.get(PATH, params={"year": 2026}, headers=bearer("analyst"))
    assert_problem(response, 503, type="urn:pathway:problem:statistics-unavailable")
    assert response.headers["retry-after"] == "30"


async def test_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    """The route is documented, with its year parameter and its answers."""
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"][PATH]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"year", "public"}
    assert {"200", "401", "403", "422", "503"} <= set(operation["responses"])
