"""The programme registers in the console (issue 17 item 5) in real Chromium (the OS package,
nothing downloaded), against the real dev server and workers (tests/test_console_case.py's
console fixture, its own task queue): Ključ, in Slovenian, follows the navigation's link to its
registers, opens the prostitution-exit register (X1), has a session of a participant not
enrolled refused at its field, enrols the participant and sees them listed; axe-core finds no
WCAG 2.0/2.1 A or AA violation on the list of registers, the register, the form and the refused
form, and none is wider than a phone's screen."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page

from tests.gateway_kit import TOKENS
from tests.test_console_a11y_browser import on_a_phone, violations
from tests.test_console_case import Console
from tests.test_console_case import console as console  # the dev server's gateway
from tests.test_gateway import deployment as deployment  # the module's dev server
from tests.test_gateway_docs_browser import (  # noqa: F401 (fixtures)
    PATIENCE_MS,
    browser,
    origin,
)

pytestmark = pytest.mark.devserver


@pytest.fixture
def docs_app(console: Console) -> FastAPI:
    """The console's gateway in front of the dev server, served by ``origin``."""
    return console.app


async def checked(page: Page, name: str, checks: list[str]) -> None:
    """No axe violation on ``page``, nor on it at a phone's size (then back to the desktop)."""
    assert await violations(page) == [], name
    desktop = page.viewport_size
    assert desktop is not None
    await on_a_phone(page, name)
    await page.set_viewport_size(desktop)
    checks.append(name)


async def test_kljuc_records_in_its_register_in_slovenian_accessibly(
    console: Console,
    origin: str,  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    context = await browser.new_context(locale="sl-SI")
    checks: list[str] = []
    try:
        page = await context.new_page()
        page.set_default_timeout(PATIENCE_MS)
        await page.goto(f"{origin}/console/sign-in", wait_until="load")
        await page.fill("#token", TOKENS["kljuc"])
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{origin}/console")
        await page.click("#nav-programmes")
        await page.wait_for_url(f"{origin}/console/programmes")
        assert await page.inner_text("h1") == "Evidence programov"
        await checked(page, "registers", checks)
        await page.click('a[href="/console/programmes/prostitution_exit"]')
        await page.wait_for_url(f"{origin}/console/programmes/prostitution_exit")
        assert await page.inner_text("h1") == "Podpora pri izhodu iz prostitucije (X1)"
        await checked(page, "register", checks)

        await page.click('a[href$="?type=exit_counselling_recorded"]')
        await page.fill("#f-participant_ref", "kl-b1")
        await page.select_option("#f-session", "individual")
        await checked(page, "session form", checks)
        await page.click("form.event-form button[type=submit]")
        await page.locator("#f-participant_ref-error").wait_for()
        assert await page.get_attribute("#f-participant_ref", "aria-invalid") == "true"
        assert (await page.inner_text("#form-errors")).startswith("Ni zabeleženo (pravilo X1)")
        await checked(page, "refused session form", checks)

        await page.click('a[href="/console/programmes/prostitution_exit"]')
        await page.click('a[href$="?type=exit_programme_enrolled"]')
        await page.fill("#f-participant_ref", "kl-b1")
        await page.fill("#f-citizenships", "NG")
        await page.select_option("#f-minor", "false")
        await page.click("form.event-form button[type=submit]")
        await page.wait_for_url(f"{origin}/console/programmes/prostitution_exit")
        assert await page.locator('tr[data-participant="kl-b1"]').count() == 1
        await checked(page, "register with a participant", checks)
    finally:
        await context.close()
    assert len(checks) == 5
