"""The gateway's ``/docs`` page works offline: it renders in a real browser with nothing but the
gateway to load from.

The browser is Chromium from the OS packages (``bin/test`` installs it through
``bin/_os_packages.sh``), driven by Playwright for Python; Playwright never downloads a browser
of its own here. The page's parts (Swagger UI's script, stylesheet and icon) come from the
fastapi-swagger package, served by the gateway under ``/docs/static``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright
from playwright.async_api import Request as PageRequest
from playwright.async_api import Response as PageResponse

from pathway.gateway import GatewaySettings
from tests.gateway_kit import gateway, http, unreachable_temporal
from tests.receivers import free_port, served

#: Generous for a busy 2-core machine: the browser's start and the first render.
PATIENCE_MS = 60_000


def chromium() -> str:
    """The OS package's Chromium; the test fails (never skips) without it."""
    found = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
    if found is None:
        pytest.fail(
            "Chromium is missing: install the OS package chromium (bin/test does, "
            "through bin/_os_packages.sh)"
        )
    return found


@pytest_asyncio.fixture
async def docs_app() -> FastAPI:
    """A gateway whose Temporal is not there: the documentation needs none."""
    return gateway(await unreachable_temporal(), GatewaySettings(pepper=b"docs-test-pepper"))


@pytest_asyncio.fixture
async def origin(docs_app: FastAPI) -> AsyncIterator[str]:
    """The gateway served by uvicorn on a free loopback port; its origin (``http://host:port``).
    Stopped at the end, also when the test fails."""
    async with served(docs_app, free_port(), name="gateway") as url:
        yield url


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium from the OS package, closed at the end whatever happened."""
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, timeout=PATIENCE_MS
        )
        try:
            yield launched
        finally:
            await launched.close()


class PageTraffic:
    """Everything a page asked for, and what went wrong with it."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._requested)
        page.on("requestfailed", self._failed)
        page.on("response", self._answered)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _requested(self, request: PageRequest) -> None:
        self.requests.append(request.url)

    def _failed(self, request: PageRequest) -> None:
        self.failed.append(f"{request.url}: {request.failure}")

    def _answered(self, response: PageResponse) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.url}: HTTP {response.status}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def foreign(self, origin: str) -> list[str]:
        """Requests the page made anywhere but ``origin`` (``data:`` URLs load nothing)."""
        own = urlsplit(origin)
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme != "data"
            and (urlsplit(url).scheme, urlsplit(url).netloc) != (own.scheme, own.netloc)
        ]


async def test_docs_render_offline_in_chromium(
    origin: str, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Headless Chromium opens /docs: Swagger UI lists every operation of the OpenAPI
    document, every request the page made went to the gateway itself, and none failed. A
    screenshot goes to ``test-output/`` in pytest's base temporary directory."""
    async with httpx.AsyncClient(base_url=origin, timeout=10) as client:
        document: dict[str, Any] = (await client.get("/openapi.json")).json()
    screenshot = tmp_path_factory.getbasetemp() / "test-output" / "gateway-docs.png"
    screenshot.parent.mkdir(exist_ok=True)
    page = await browser.new_page()
    try:
        page.set_default_timeout(PATIENCE_MS)
        traffic = PageTraffic(page)
        answer = await page.goto(f"{origin}/docs", wait_until="load")
        assert answer is not None and answer.status == 200
        # Said at once, rather than as a render that never comes:
        assert traffic.foreign(origin) == [], "the page loads from elsewhere"
        assert traffic.failed == [], "the page's parts did not load"
        # Swagger UI fetched the document and drew one block per operation.
        await page.wait_for_selector('.opblock-summary-path[data-path="/v1/cases"]')
        await page.wait_for_load_state("networkidle")
        shown: list[str] = await page.eval_on_selector_all(
            ".opblock-summary-path", "blocks => blocks.map(block => block.dataset.path)"
        )
        title = await page.inner_text(".info .title")
    finally:
        # Also of a page that failed: what it looked like.
        await page.screenshot(path=screenshot, full_page=True)
        await page.close()

    assert set(shown) == set(document["paths"])
    assert "Pathway event gateway" in title
    assert f"{origin}/docs/static/swagger-ui-bundle.js" in traffic.requests
    assert f"{origin}/openapi.json" in traffic.requests
    assert traffic.foreign(origin) == []
    assert traffic.failed == []
    assert traffic.errors == []
    assert screenshot.stat().st_size > 10_000


async def test_docs_page_names_only_its_own_assets(docs_app: FastAPI) -> None:
    """Without a browser: every script, stylesheet and icon /docs names is a path on the
    gateway, served without a token; the page forbids loading from elsewhere (CSP); the OpenAPI
    document stays at /openapi.json."""
    async with http(docs_app) as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sorted(assets) == [
            "/docs/static/favicon-32x32.png",
            "/docs/static/swagger-ui-bundle.js",
            "/docs/static/swagger-ui.css",
        ]
        assert "url: '/openapi.json'" in page.text
        assert '"validatorUrl": null' in page.text
        kinds = {asset: (await client.get(asset)).headers["content-type"] for asset in assets}
        assert kinds == {
            "/docs/static/favicon-32x32.png": "image/png",
            "/docs/static/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
            "/docs/static/swagger-ui.css": "text/css; charset=utf-8",
        }
        assert (await client.get("/openapi.json")).status_code == 200
        missing = await client.get("/docs/static/nothing.js")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
