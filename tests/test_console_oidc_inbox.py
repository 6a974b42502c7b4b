"""The console's OIDC sign-in ends in a real inbox (issue 17 items 1 and 2): against the
Temporal dev server and workers, a case identified two days ago has Caritas's rights
information (R3) overdue; a caseworker whom the identity provider (tests/oidc_provider.py)
names as Caritas signs in through it and sees that obligation on top of the inbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pathway.gateway import GatewaySettings
from tests.gateway_kit import bearer, example
from tests.harness import PEPPER, bench
from tests.oidc_provider import running_provider
from tests.receivers import eventually
from tests.test_console_oidc import LOCAL, REDIRECT, console_app, local, to_provider
from tests.test_gateway import Deployment
from tests.test_gateway import deployment as deployment  # the module's dev server

pytestmark = pytest.mark.devserver


async def test_the_provider_signs_a_caseworker_into_the_inbox(deployment: Deployment) -> None:
    async with (
        bench(deployment.env, upsert_search_attributes=True) as b,
        running_provider(host="127.0.0.1", redirect_uri=REDIRECT) as provider,
    ):
        settings = GatewaySettings(
            pepper=PEPPER, task_queue=b.task_queue, case_config=b.config, temporal_timeout=60.0
        )
        app = await console_app(provider.issuer, provider.jwks_url, temporal=(b.client, settings))
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url=LOCAL, timeout=90) as browser,
            httpx.AsyncClient(base_url=provider.issuer, timeout=30) as at_provider,
        ):
            opened = await browser.post(
                "/v1/cases",
                headers=bearer("police"),
                json=example(
                    "identified",
                    organisation="police",
                    subject_ref="console-oidc-overdue",
                    event_id="police-console-oidc-overdue",
                    occurred_at=(datetime.now(UTC) - timedelta(days=2)).isoformat(),
                ),
            )
            assert opened.status_code == 201, opened.text
            case_id = opened.json()["case_id"]
            back = await to_provider(browser, at_provider)
            moving_on = await browser.get(local(back))
            assert moving_on.status_code == 200
            target = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', moving_on.text)
            assert target is not None and target.group(1) == "/console"

            async def listed() -> str | None:
                page = await browser.get(target.group(1), params={"case": case_id})
                return page.text if page.status_code == 200 and case_id in page.text else None

            html = await eventually(listed, timeout=120)
    assert html is not None and "Sign out" in html and "caritas" in html
    overdue = re.search(r'id="overdue-count">(\d+)<', html)
    assert overdue is not None and int(overdue.group(1)) >= 1
    first_row = html.split("<tbody>")[1].split("</tr>")[0]
    assert "overdue" in first_row and "R3" in first_row and case_id in first_row
