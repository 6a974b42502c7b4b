"""The console's language, accessibility and phone layout in real Chromium (issue 17 item 6),
against the real dev server and workers (tests/test_console_case.py's console fixture, its own
task queue), Chromium from the OS package (nothing downloaded).

A browser asking for Slovenian gets the sign-in page, the inbox, the case page and an event form
in Slovenian (``<html lang="sl">``), and the form once more as refused by a rule; on each,
axe-core (``axe.min.js`` as the axe-playwright-python package ships it) finds no violation of
the WCAG 2.0/2.1 A and AA rules.
The language switch, reached and followed by keyboard alone, turns the pages English and the
choice stays. At 375×667 (a phone) no page is wider than the screen
(``scrollWidth <= innerWidth``); screenshots of the inbox and the case page at that size go to
``test-output/`` in pytest's base temporary directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest
from axe_playwright_python.async_playwright import Axe
from fastapi import FastAPI
from playwright.async_api import Browser, Page, ViewportSize

from pathway.domain.events import RightsSubject
from tests.gateway_kit import TOKENS, bearer, example
from tests.receivers import eventually
from tests.test_console_case import Console
from tests.test_console_case import console as console  # the dev server's gateway
from tests.test_gateway import deployment as deployment  # the module's dev server
from tests.test_gateway_docs_browser import (  # noqa: F401 (fixtures)
    PATIENCE_MS,
    browser,
    origin,
)

pytestmark = pytest.mark.devserver

#: The rules checked: WCAG 2.0 and 2.1, levels A and AA (axe-core's tags).
WCAG_AA: Final = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE: Final[ViewportSize] = {"width": 375, "height": 667}


@pytest.fixture
def docs_app(console: Console) -> FastAPI:
    """The console's gateway in front of the dev server, served by ``origin``."""
    return console.app


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2 A/AA violations on ``page`` as it is now: rule, impact, where."""
    results = await Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_AA}, "resultTypes": ["violations"]},
    )
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "nodes": [n["target"] for n in v["nodes"]],
            "help": v["help"],
        }
        for v in results.response["violations"]
    ]


#: The elements reaching past the window's right edge, named (for the failure message).
_OVER: Final = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
        + (e.className && typeof e.className === 'string' ? '.' + e.className : ''))
    .slice(0, 10)"""


async def on_a_phone(page: Page, name: str) -> None:
    """``page`` at 375×667 is no wider than the screen (no horizontal scrolling)."""
    await page.set_viewport_size(PHONE)
    width, inner = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner == PHONE["width"], (name, width, inner, await page.evaluate(_OVER))


async def open_case(console: Console) -> str:
    """A case the police identified three hours ago (Caritas, the lead NGO, owes R3): its ID."""
    opened = await console.api.post(
        "/v1/cases",
        headers=bearer("police"),
        json=example(
            "identified",
            organisation="police",
            subject_ref="console-a11y-browser",
            event_id="police-console-a11y-browser",
            occurred_at=(datetime.now(UTC) - timedelta(hours=3)).isoformat(),
        ),
    )
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


async def slovenian_pages(page: Page, at: str, case_id: str) -> dict[str, str]:
    """Sign-in (checked, also on a phone), signed in by keyboard, then the inbox, the case page
    and an event form (empty, then refused with an error at an input), each in Slovenian and
    checked by axe: their addresses."""
    await page.goto(f"{at}/console/sign-in", wait_until="load")
    assert await page.get_attribute("html", "lang") == "sl"
    assert await page.inner_text("h1") == "Prijava"
    assert await violations(page) == []
    desktop = page.viewport_size
    assert desktop is not None
    await on_a_phone(page, "sign-in")
    await page.set_viewport_size(desktop)
    await page.focus("#token")
    await page.keyboard.type(TOKENS["caritas"])
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{at}/console")
    pages: dict[str, str] = {}

    # The inbox, once Temporal's visibility lists the case.
    link = page.locator(f'a[href="/console/cases/{case_id}"]').first

    async def listed() -> bool:
        await page.reload(wait_until="load")
        return bool(await link.count())

    assert await eventually(listed, timeout=120, interval=1.0)
    assert await page.inner_text("h1") == "Nabiralnik"
    assert await violations(page) == []
    pages["inbox"] = page.url
    await link.click()
    await page.wait_for_url(f"{at}/console/cases/{case_id}")
    assert await page.get_attribute("html", "lang") == "sl"
    assert await page.inner_text("#members-heading") == "Člani"
    assert await violations(page) == []
    pages["case"] = page.url
    form = f"{at}/console/cases/{case_id}/events/new?type=rights_information_given"
    await page.goto(form, wait_until="load")
    assert await page.inner_text("form.event-form button[type=submit]") == "Zabeleži"
    assert await page.inner_text('label[for="f-language"]') == "Jezik"  # the schema's words too
    assert await violations(page) == []
    pages["event form"] = page.url
    # The same form refused (R3: a language the person does not understand), its error at
    # the input: checked too.
    for subject in RightsSubject:
        await page.check(f"#f-subjects-{subject.value}")
    await page.fill("#f-language", "de")
    await page.select_option("#f-interpreter_used", "false")
    await page.click("form.event-form button[type=submit]")
    await page.locator("#f-language-error").wait_for()
    assert await page.get_attribute("#f-language", "aria-invalid") == "true"
    assert (await page.inner_text("#form-errors")).startswith("Ni zabeleženo (pravilo R3)")
    assert await violations(page) == []
    return pages


async def switch_by_keyboard(page: Page, url: str) -> None:
    """On ``url``, Tab until the switch's "English" has the focus, Enter: the same page in
    English."""
    await page.goto(url, wait_until="load")
    english = page.locator('a[hreflang="en"]')
    for _ in range(200):
        await page.keyboard.press("Tab")
        if await english.evaluate("a => a === document.activeElement"):
            break
    else:
        pytest.fail("the keyboard never reached the language switch")
    await page.keyboard.press("Enter")
    await page.wait_for_url(url)
    assert await page.get_attribute("html", "lang") == "en"


async def test_slovenian_accessible_and_phone_sized(
    console: Console,
    origin: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = tmp_path_factory.getbasetemp() / "test-output"
    shots.mkdir(exist_ok=True)
    case_id = await open_case(console)
    context = await browser.new_context(locale="sl-SI")  # Accept-Language: sl-SI
    try:
        page = await context.new_page()
        page.set_default_timeout(PATIENCE_MS)
        pages = await slovenian_pages(page, origin, case_id)

        await switch_by_keyboard(page, pages["case"])
        assert await page.inner_text("#members-heading") == "Members"
        await page.goto(pages["inbox"], wait_until="load")  # the choice stays
        assert await page.inner_text("h1") == "Inbox"

        # A phone: nothing wider than the screen, on every page.
        for name, url in pages.items():
            await page.goto(url, wait_until="load")
            await on_a_phone(page, name)
            if name in ("inbox", "case"):
                await page.screenshot(path=shots / f"console-{name}-phone.png", full_page=True)
        assert await page.locator("#f-language").is_visible()  # the last page: the form
    finally:
        await context.close()
