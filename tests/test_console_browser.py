"""The console's sign-in in real Chromium (the OS package, as for /docs), by keyboard only:
Tab to the labelled token field, type, Enter; the session cookie is HttpOnly (no script sees
it); a screenshot goes to ``test-output/`` in pytest's base temporary directory."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.gateway_kit import TOKENS
from tests.test_gateway_docs_browser import (  # noqa: F401 (fixtures)
    PATIENCE_MS,
    browser,
    docs_app,
    origin,
)


async def test_sign_in_by_keyboard(
    origin: str,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = tmp_path_factory.getbasetemp() / "test-output"
    shots.mkdir(exist_ok=True)
    page = await browser.new_page()
    try:
        page.set_default_timeout(PATIENCE_MS)
        await page.goto(f"{origin}/console", wait_until="load")
        assert page.url == f"{origin}/console/sign-in"
        await page.keyboard.press("Tab")  # the brand link
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "token"
        await page.keyboard.type(TOKENS["caritas"])
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{origin}/console")
        assert await page.is_visible("text=Sign out")
        assert await page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
        await page.screenshot(path=shots / "console-signed-in.png", full_page=True)
        await page.click("text=Sign out")
        await page.wait_for_url(f"{origin}/console/sign-in")
    finally:
        await page.close()
