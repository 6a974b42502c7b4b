"""The console's sign-in with the identity provider in real Chromium (the OS package): the
provider (tests/oidc_provider.py) is ``localhost`` and the gateway ``127.0.0.1``, two sites,
as a real provider and the console are, so the browser applies SameSite as it would in
production: the Lax flow cookie must come back on the provider's cross-site redirect, and the
Strict session cookie must go along to the inbox. By keyboard, with axe-core's check of the
sign-in page with its button."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser

from tests.oidc_provider import IdentityProvider, running_provider
from tests.receivers import free_port, served
from tests.test_console_a11y_browser import violations
from tests.test_console_oidc import console_app
from tests.test_gateway_docs_browser import PATIENCE_MS
from tests.test_gateway_docs_browser import browser as browser  # the fixture


@pytest_asyncio.fixture
async def sites() -> AsyncIterator[tuple[str, IdentityProvider]]:
    """The gateway's origin (``http://127.0.0.1:PORT``, OIDC sign-in configured) and the
    provider (``http://localhost:PORT``), both served by uvicorn until the test ends, also
    when it fails."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    callback = f"{origin}/console/sign-in/oidc/callback"
    async with running_provider(host="localhost", redirect_uri=callback) as provider:
        app = await console_app(provider.issuer, provider.jwks_url, redirect_url=callback)
        async with served(app, port, name="gateway") as served_origin:
            yield served_origin, provider


async def test_sign_in_with_the_identity_provider(
    sites: tuple[str, IdentityProvider],
    browser: Browser,
) -> None:
    """Tab to the button, Enter; sign in at the provider; back at the console signed in as
    the organisation the provider names, at /console, with no code in the address or the
    history; the session cookie HttpOnly (no script sees it). With the flow cookie Strict
    (refused: no state comes back) or a 303 instead of the page that moves on (the inbox
    without the Strict session cookie: the sign-in page) this test fails."""
    origin, provider = sites
    page = await browser.new_page()
    try:
        page.set_default_timeout(PATIENCE_MS)
        await page.goto(f"{origin}/console/sign-in", wait_until="load")
        assert await violations(page) == []
        await page.keyboard.press("Tab")  # the brand link
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "sign-in-oidc"
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{provider.issuer}/authorize?*")
        await page.click("#approve")
        await page.wait_for_url(f"{origin}/console")
        assert await page.is_visible("text=Sign out")
        assert await page.is_visible("text=caritas")
        assert await page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
        assert provider.token_answers == [200]
        # The callback's address (code and state) is not in the history: one step back is
        # the provider's page, not the callback.
        await page.go_back(wait_until="load")
        assert page.url.startswith(f"{provider.issuer}/authorize?"), page.url
    finally:
        await page.close()
