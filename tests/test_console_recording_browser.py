"""Recording an event in real Chromium (the OS package, as for /docs) against the real dev
server and workers (issue 17 item 4): Caritas opens the rights-information form of a new case,
ticks the nine R3 subjects, names a language the victim does not understand and is told R3 at
the language field, with what was entered still there; corrects it; lands on the case page
with the event in the timeline, its rejected first try marked before it, and no R3 obligation
open. A screenshot of the refused form goes
to ``test-output/`` in pytest's base temporary directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from playwright.async_api import Browser

from pathway.domain.events import RightsSubject
from pathway.gateway import GatewaySettings
from tests.gateway_kit import TOKENS, bearer, example, gateway
from tests.harness import PEPPER, bench
from tests.test_gateway import Deployment
from tests.test_gateway import deployment as deployment  # the module's dev server
from tests.test_gateway_docs_browser import (  # noqa: F401 (fixtures)
    PATIENCE_MS,
    browser,
    origin,
)

pytestmark = pytest.mark.devserver


@pytest_asyncio.fixture
async def docs_app(deployment: Deployment) -> AsyncIterator[FastAPI]:
    """The gateway served to the browser (``origin``): this test's bench, own task queue."""
    async with bench(deployment.env, upsert_search_attributes=True) as b:
        settings = GatewaySettings(
            pepper=PEPPER, task_queue=b.task_queue, case_config=b.config, temporal_timeout=60.0
        )
        yield gateway(b.client, settings)


async def test_a_rejected_form_then_the_corrected_event_on_the_case_page(
    origin: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = tmp_path_factory.getbasetemp() / "test-output"
    shots.mkdir(exist_ok=True)
    async with httpx.AsyncClient(base_url=origin, timeout=90) as api:
        opened = await api.post(
            "/v1/cases",
            headers=bearer("police"),
            json=example(
                "identified",
                organisation="police",
                subject_ref="console-recording-browser",
                event_id="police-console-recording-browser",
                occurred_at=(datetime.now(UTC) - timedelta(hours=3)).isoformat(),
            ),
        )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    page = await browser.new_page()
    try:
        page.set_default_timeout(PATIENCE_MS)
        await page.goto(f"{origin}/console/sign-in", wait_until="load")
        await page.fill("#token", TOKENS["caritas"])
        await page.press("#token", "Enter")
        await page.wait_for_url(f"{origin}/console")
        form = f"{origin}/console/cases/{case_id}/events/new?type=rights_information_given"
        await page.goto(form, wait_until="load")
        event_id = await page.input_value("input[name=event_id]")
        for subject in RightsSubject:
            await page.check(f"#f-subjects-{subject.value}")
        await page.fill("#f-language", "de")  # the person understands Spanish: R3
        await page.select_option("#f-interpreter_used", "false")
        await page.click("form.event-form button[type=submit]")
        error = page.locator("#f-language-error")
        await error.wait_for()
        assert (await error.inner_text()).startswith("R3: ")
        assert page.url == form  # the form again, nothing personal in the address
        assert await page.input_value("input[name=event_id]") == event_id
        assert await page.input_value("#f-language") == "de"
        assert await page.is_checked(f"#f-subjects-{RightsSubject.I_COST_REIMBURSEMENT.value}")
        await page.screenshot(path=shots / "console-event-rejected.png", full_page=True)

        await page.fill("#f-language", "es")
        await page.click("form.event-form button[type=submit]")
        await page.wait_for_url(f"{origin}/console/cases/{case_id}")
        timeline = await page.inner_text("#timeline")
        assert "rights information given" in timeline
        obligations = await page.inner_text("#obligations")
        assert "R3" not in obligations  # all nine subjects given: R3 settled
        # The rejected first try is marked on the timeline (issue 17 item 3), before the
        # accepted event: its type, R3 and the reason at the language, not the language sent.
        rejected = page.locator("#timeline tr.rejected")
        assert await rejected.count() == 1
        row = await rejected.inner_text()
        assert "rejected" in row and "rights information given" in row and "R3" in row
        assert "(field language)" in row and "de" not in row.split()
        rows = await page.locator("#timeline tbody tr").all_inner_texts()
        marked = next(i for i, r in enumerate(rows) if "rejected" in r)
        accepted = next(
            i for i, r in enumerate(rows) if "rights information given" in r and "rejected" not in r
        )
        assert marked < accepted
    finally:
        await page.close()
