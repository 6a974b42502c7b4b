"""The console's inbox against the real Temporal dev server and workers (issue 17 item 2): a
case identified two days ago has its rights information (R3, due 24 hours after the
identification) overdue; Caritas's inbox shows it, overdue, on top, with the count."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio

from pathway.gateway import GatewaySettings
from tests.gateway_kit import TOKENS, bearer, example, gateway
from tests.harness import PEPPER, bench
from tests.receivers import eventually
from tests.test_console import csrf_of
from tests.test_gateway import Deployment
from tests.test_gateway import deployment as deployment  # the module's dev server

pytestmark = pytest.mark.devserver


@pytest_asyncio.fixture
async def browser(deployment: Deployment) -> AsyncIterator[httpx.AsyncClient]:
    async with bench(deployment.env, upsert_search_attributes=True) as b:
        settings = GatewaySettings(
            pepper=PEPPER, task_queue=b.task_queue, case_config=b.config, temporal_timeout=60.0
        )
        app = gateway(b.client, settings)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost", timeout=90
        ) as client:
            yield client


async def test_an_overdue_obligation_tops_the_inbox(browser: httpx.AsyncClient) -> None:
    at = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    opened = await browser.post(
        "/v1/cases",
        headers=bearer("police"),
        json=example(
            "identified",
            organisation="police",
            subject_ref="console-overdue",
            event_id="police-console-overdue",
            occurred_at=at,
        ),
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    form = await browser.get("/console/sign-in")
    signed = await browser.post(
        "/console/sign-in", data={"csrf_token": csrf_of(form.text), "token": TOKENS["caritas"]}
    )
    assert signed.status_code == 303

    async def listed() -> str | None:
        page = await browser.get("/console", params={"case": case_id})
        # A row links the case; the case filter's input echoes its ID before any row does
        # (the inbox finds cases through visibility, which lags the case on a busy machine).
        row = f'href="/console/cases/{case_id}"'
        return page.text if page.status_code == 200 and row in page.text else None

    html = await eventually(listed, timeout=120)
    assert html is not None
    overdue = re.search(r'id="overdue-count">(\d+)<', html)
    assert overdue is not None and int(overdue.group(1)) >= 9  # the nine R3 subjects
    first_row = html.split("<tbody>")[1].split("</tr>")[0]
    assert "overdue" in first_row and "R3" in first_row and case_id in first_row
    assert "console-overdue" not in html
