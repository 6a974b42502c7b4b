"""The console in Slovenian and English (issue 17 item 6): the catalogues hold every marked
text and translate it (Slovenian: none left empty or fuzzy, placeholders kept), the templates
write no text that is not marked, and the page's language is the switch's cookie, else the
browser's ``Accept-Language``, else English; ``<html lang>`` and ``Content-Language`` say which.
In-process against the real gateway app (its Temporal is not needed for these pages)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from fastapi import FastAPI

from pathway.console.i18n import (
    DOMAIN,
    LANGUAGE_COOKIE,
    LANGUAGES,
    catalogue_path,
    negotiate,
    translations,
)
from pathway.console.messages import extract_messages
from pathway.console.routes import templates
from pathway.gateway import GatewaySettings
from tests.gateway_kit import gateway, unreachable_temporal

TEMPLATES = Path(__file__).parent.parent / "pathway" / "console" / "templates"
LOCAL = "http://localhost"
#: Words a template may write as they are: names, not language.
NAMES = {"Pathway"}


def catalogue(language: str) -> Catalog:
    with catalogue_path(language).open("rb") as po:
        return read_po(po, locale=language, domain=DOMAIN)


def msgid(message_id: str | tuple[str, ...] | list[str]) -> str:
    """A message's msgid (a plural message's singular)."""
    return message_id if isinstance(message_id, str) else message_id[0]


class TestCatalogues:
    def test_every_marked_text_is_in_both_catalogues(self) -> None:
        marked = {msgid(m.id) for m in extract_messages() if m.id}
        assert len(marked) > 50  # the templates' and the code's texts were found
        for language in LANGUAGES:
            held = {msgid(m.id) for m in catalogue(language) if m.id}
            assert marked <= held, (language, sorted(marked - held))
            assert held <= marked, (language, "stale", sorted(held - marked))

    def test_slovenian_translates_every_text(self) -> None:
        untranslated = [
            msgid(m.id)
            for m in catalogue("sl")
            if m.id
            and (
                m.fuzzy
                or not m.string
                or (isinstance(m.string, tuple) and not all(m.string))
                or m.string == m.id
            )
        ]
        assert untranslated == []

    def test_english_is_the_texts_themselves(self) -> None:
        for m in catalogue("en"):
            if m.id:
                assert m.string == m.id and not m.fuzzy, m.id

    @pytest.mark.parametrize("language", sorted(LANGUAGES))
    def test_placeholders_and_plurals_agree(self, language: str) -> None:
        """Babel's checks: every translation keeps its msgid's %(name)s placeholders and has
        as many plural forms as the language (Slovenian: four)."""
        problems = [
            (msgid(m.id), [str(e) for e in errors]) for m, errors in catalogue(language).check()
        ]
        assert problems == []
        assert catalogue("sl").num_plurals == 4

    def test_the_compiled_catalogue_is_the_po_file(self) -> None:
        """What the pages use (compiled in memory from the .po file) says what the file says."""
        sl = translations("sl")
        for m in catalogue("sl"):
            if m.id and isinstance(m.id, str):
                assert sl.gettext(m.id) == m.string
        overdue = '<strong id="overdue-count">%(count)s</strong> overdue'
        assert [sl.ngettext(overdue, overdue, n) % {"count": n} for n in (1, 2, 3, 5)] == [
            f'<strong id="overdue-count">{n}</strong> {verb}'
            for n, verb in ((1, "zamuja"), (2, "zamujata"), (3, "zamujajo"), (5, "zamuja"))
        ]


class _Text(HTMLParser):
    """The text and the text-bearing attributes a template writes outside Jinja's markup."""

    ATTRIBUTES = frozenset({"alt", "title", "aria-label", "placeholder", "data-label", "value"})

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in self.ATTRIBUTES and value and re.search(r"[^\W\d_]", value):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_data(self, data: str) -> None:
        # A macro writing attributes (` aria-invalid="true"`) is markup, not text.
        data = re.sub(r'[\w-]+="[^"]*"', "", data)
        if re.search(r"[^\W\d_]", data) and data.strip() not in NAMES:
            self.found.append(data.strip())


def unmarked(source: str) -> list[str]:
    """Text in a template's source that no ``{% trans %}`` or ``_()`` marks."""
    source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    source = re.sub(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", "", source, flags=re.S)
    source = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", source, flags=re.S)
    parser = _Text()
    parser.feed(source)
    return parser.found


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_writes_unmarked_text(template: str) -> None:
    assert unmarked((TEMPLATES / template).read_text(encoding="utf-8")) == []


def test_the_unmarked_text_check_finds_bare_text() -> None:
    """The check above can fail: a bare word, a bare attribute are found; marked ones not."""
    assert unmarked('<p>Inbox</p><img alt="A picture">') == ["Inbox", "<img alt='A picture'>"]
    assert unmarked('<p>{{ _("Inbox") }}</p><img alt="{{ _(\'A picture\') }}">') == []
    assert unmarked("<p>{% trans n=1 %}{{ n }} case{% endtrans %}</p>") == []


@pytest.mark.parametrize(
    ("accept_language", "cookie", "expected"),
    [
        ("sl", None, "sl"),
        ("sl-SI,sl;q=0.9,en;q=0.8", None, "sl"),
        ("en-GB,en;q=0.9", None, "en"),
        ("de-AT,de;q=0.9,sl;q=0.5,en;q=0.4", None, "sl"),  # the first it speaks, by q
        ("en;q=0.3, sl;q=0.7", None, "sl"),  # q, not order
        ("sl;q=0, en", None, "en"),  # q=0: not acceptable
        ("de, fr", None, "en"),  # neither: English
        (None, None, "en"),
        ("", None, "en"),
        ("sl", "en", "en"),  # the switch overrides the browser
        ("en", "sl", "sl"),
        ("sl", "xx", "sl"),  # a cookie naming no language of the console is ignored
    ],
)
def test_negotiation(accept_language: str | None, cookie: str | None, expected: str) -> None:
    assert negotiate(accept_language, cookie) == expected


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = gateway(await unreachable_temporal(), GatewaySettings(pepper=b"i18n-pepper"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL) as c:
        yield c


def html_lang(html: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', html)
    assert found is not None, html[:200]
    return found.group(1)


async def test_the_browser_language_chooses_the_page(browser: httpx.AsyncClient) -> None:
    slovenian = await browser.get("/console/sign-in", headers={"Accept-Language": "sl-SI,sl"})
    assert html_lang(slovenian.text) == "sl" and slovenian.headers["content-language"] == "sl"
    assert "<h1>Prijava</h1>" in slovenian.text and "Žeton vaše organizacije" in slovenian.text
    assert "Sign in" not in slovenian.text
    for asked in ("en-US,en;q=0.9", "de-DE,de;q=0.9"):
        english = await browser.get("/console/sign-in", headers={"Accept-Language": asked})
        assert html_lang(english.text) == "en" and english.headers["content-language"] == "en"
        assert "<h1>Sign in</h1>" in english.text and "Prijava" not in english.text


async def test_the_switch_overrides_the_browser(browser: httpx.AsyncClient) -> None:
    """``/console/language?to=en`` keeps English in a cookie (HttpOnly, SameSite=Strict, on
    /console, naming only the language) and leads back to the page it was chosen on; the
    page's switch links there; a foreign ``back`` leads to the inbox instead."""
    page = await browser.get("/console/sign-in", headers={"Accept-Language": "sl"})
    assert 'href="/console/language?to=en&amp;back=%2Fconsole%2Fsign-in"' in page.text
    assert '<span aria-current="true" lang="sl">Slovenščina</span>' in page.text
    switched = await browser.get("/console/language?to=en&back=/console/sign-in")
    assert switched.status_code == 303 and switched.headers["location"] == "/console/sign-in"
    cookie = next(
        h for h in switched.headers.get_list("set-cookie") if h.startswith(LANGUAGE_COOKIE)
    )
    assert cookie.startswith(f"{LANGUAGE_COOKIE}=en;")
    assert all(part in cookie.lower() for part in ("httponly", "samesite=strict", "path=/console"))
    again = await browser.get("/console/sign-in", headers={"Accept-Language": "sl"})
    assert html_lang(again.text) == "en" and "<h1>Sign in</h1>" in again.text
    back = await browser.get("/console/language?to=sl&back=/console/sign-in")
    assert back.status_code == 303
    assert html_lang((await browser.get("/console/sign-in")).text) == "sl"
    for foreign in (
        "https://elsewhere.example/",
        "//elsewhere.example/console",
        "/docs",
        "/console/../../evil",
        "/consolex/../../../v1/cases",
        "/console/./x",
        "/console/%2E%2e/v1/cases",  # a browser reads %2e as a dot
        "/consoles",
    ):
        away = await browser.get("/console/language", params={"to": "en", "back": foreign})
        assert away.headers["location"] == "/console", foreign
    unknown = await browser.get("/console/language?to=xx&back=/console/sign-in")
    assert unknown.status_code == 303
    assert LANGUAGE_COOKIE not in unknown.headers.get("set-cookie", "")


async def test_a_refusal_made_in_python_is_translated(browser: httpx.AsyncClient) -> None:
    """A text marked in the console's code (N_) is shown translated: a form without its CSRF
    token is refused in Slovenian."""
    await browser.get("/console/sign-in")
    refused = await browser.post(
        "/console/sign-in", data={"token": "x"}, headers={"Accept-Language": "sl"}
    )
    assert refused.status_code == 403
    assert "<h1>Obrazec je potekel</h1>" in refused.text and html_lang(refused.text) == "sl"


def test_texts_joined_for_one_input_are_translated_part_by_part() -> None:
    """The ``tr`` filter: a text the catalogue holds whole; else each "; "-joined part it holds
    (a refusal's rule and reason, which no catalogue holds, stay as they are)."""
    tr = templates("sl").filters["tr"]
    assert tr("enter a whole number") == "vnesite celo število"
    both = tr("enter a whole number; choose yes or no")
    assert both == "vnesite celo število; izberite da ali ne"
    idempotency = "it was recorded as first sent: sending this form records a new event"
    assert tr(f"IDEMPOTENCY: event_id reused; {idempotency}") == (
        "IDEMPOTENCY: event_id reused; dogodek je bil zabeležen, kot je bil prvič poslan: "
        "s pošiljanjem tega obrazca zabeležite nov dogodek"
    )
    hint = "ISO 639-1/-3 code; several: separate them by commas"  # whole, though it has "; "
    assert tr(hint) == "koda ISO 639-1/-3; več vrednosti ločite z vejicami"
