"""``pathway report annual --format html`` (issue 15 item 2): one self-contained page of bar
charts, opened in real Chromium (the OS package, driven by Playwright, with the browser fixture
of the /docs browser test): the charts are there with their titles, each bar says its number
(checked against figures counted here by hand from the scenario), a suppressed count reads
``<k`` as in the table, and the page asks the network for nothing."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from playwright.async_api import Browser

from pathway import cli
from pathway.domain.annual import annual_report
from pathway.domain.state import CaseState
from pathway.statistics_html import annual_charts
from pathway.statistics_ledger import SqliteLedger
from tests.test_cli_input import run as run_cli
from tests.test_gateway_docs_browser import (  # noqa: F401 (fixtures)
    PATIENCE_MS,
    PageTraffic,
    browser,
)
from tests.test_statistics_ledger import at, case, ledger_of, person, then, var  # noqa: F401

#: The scenario, counted by hand: four women (Portugal) and two men (Bosnia and Herzegovina),
#: each identified and placed in crisis accommodation in March 2026; nobody else.
WOMEN, MEN = 4, 2


def scenario() -> list[CaseState]:
    people = [("female", "PT")] * WOMEN + [("male", "BA")] * MEN
    return [
        then(
            case(person(gender, citizenship), at(2026, 3, 2)),
            "crisis_accommodation_placed",
            at(2026, 3, 3),
        )
        for gender, citizenship in people
    ]


async def chart_texts(
    chromium: Browser, page_file: Path
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Open ``page_file`` in Chromium; for each chart (by its caption), each bar's label and the
    text written at its end (paired by their vertical position, as a reader pairs them), and
    every URL the page requested."""
    page = await chromium.new_page()
    try:
        page.set_default_timeout(PATIENCE_MS)
        traffic = PageTraffic(page)
        await page.goto(page_file.as_uri(), wait_until="load")
        charts: dict[str, dict[str, str]] = await page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll('figure')].map(figure => {
                const texts = [...figure.querySelectorAll('svg text')].map(t => {
                    const box = t.getBBox();
                    return {text: t.textContent, y: box.y + box.height / 2, x: box.x};
                });
                const isValue = t => /^(\\d+|<\\d+)$/.test(t.text);
                const values = texts.filter(isValue);
                const labels = texts.filter(t => !isValue(t) && t.y > 25);
                const bars = Object.fromEntries(labels.map(label => {
                    const near = values.reduce((a, b) =>
                        Math.abs(a.y - label.y) <= Math.abs(b.y - label.y) ? a : b);
                    return [label.text, near.text];
                }));
                const caption = figure.querySelector('figcaption').textContent;
                const title = [...figure.querySelectorAll('svg text')]
                    .some(t => t.textContent === caption);
                return [caption, {...bars, '(title in the chart)': String(title)}];
            }))"""
        )
        svgs = await page.eval_on_selector_all("figure > svg", "svgs => svgs.length")
        assert svgs == len(charts) > 0
        assert traffic.failed == [] and traffic.errors == []
        return charts, traffic.requests
    finally:
        await page.close()


async def write_page(var_dir: Path, *argv: str) -> Path:
    """The CLI's page (run in a thread: the CLI runs its own event loop)."""
    code, out, err = await asyncio.to_thread(
        run_cli, "report", "annual", "--year", "2026", "--format", "html", *argv
    )
    assert (code, err) == (cli.EXIT_OK, "")
    page_file = var_dir.parent / "report.html"
    page_file.write_text(out, encoding="utf-8")
    return page_file


async def test_html_report_in_chromium(var: Path, browser: Browser) -> None:  # noqa: F811
    """Every chart is an inline SVG with its plain-language title; the bars carry the numbers of
    the scenario; the page requested nothing but itself."""
    ledger_of(var, *scenario())
    page_file = await write_page(var)
    charts, requests = await chart_texts(browser, page_file)

    assert requests == [page_file.as_uri()], "the page loaded something"
    overview = charts["How many people were identified and helped in 2026"]
    assert overview["identified as victims of trafficking"] == str(WOMEN + MEN)
    assert overview["in crisis accommodation"] == str(WOMEN + MEN)
    assert overview["in safe accommodation"] == "0"
    assert overview["in any programme (each person once)"] == str(WOMEN + MEN)
    who = charts["Who was in crisis accommodation in 2026"]
    assert (who["women"], who["men"], who["girls"], who["boys"]) == (str(WOMEN), str(MEN), "0", "0")
    origin = charts["Where the victims in any programme in 2026 come from (citizenship)"]
    assert (origin["PT"], origin["BA"]) == (str(WOMEN), str(MEN))
    assert all(bars["(title in the chart)"] == "true" for bars in charts.values())
    html = page_file.read_text(encoding="utf-8")
    # Nothing to fetch: no src, no external href (the SVGs' own #references only).
    assert re.findall(r'\bsrc="', html) == []
    assert {h for h in re.findall(r'href="([^"]*)"', html) if not h.startswith("#")} == set()
    assert "default-src 'none'" in html


async def test_public_html_shows_suppressed_counts_as_in_the_table(
    var: Path,  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    """``--public --k 3``: the two men read ``<3`` on their bar, as in the table; no bar of the
    page shows a count from 1 to 2."""
    ledger_of(var, *scenario())
    code, table, _ = await asyncio.to_thread(
        run_cli, "report", "annual", "--year", "2026", "--public", "--k", "3"
    )
    assert code == cli.EXIT_OK
    assert re.search(r"^  active in the year: .*\n    women \S+, girls 0, men <3,", table, re.M)
    charts, requests = await chart_texts(browser, await write_page(var, "--public", "--k", "3"))

    assert len(requests) == 1
    assert charts["Who was in crisis accommodation in 2026"]["men"] == "<3"
    shown = {value for bars in charts.values() for value in bars.values()}
    assert not shown & {"1", "2"}
    assert "<3" in shown


def test_a_suppressed_count_has_no_value_in_the_chart(tmp_path: Path) -> None:
    """A suppressed count reaches the drawing as None (an empty bar), never as its value."""
    ledger: SqliteLedger = ledger_of(tmp_path, *scenario())
    report = annual_report(ledger.read(until_year=2026), 2026)
    cell = ("crisis_accommodation", "active", "by_gender_age", "male_adult")
    charts = {c.title: dict(c.bars) for c in annual_charts(report, frozenset({cell}))}
    assert charts["Who was in crisis accommodation in 2026"]["men"] is None
    plain = {c.title: dict(c.bars) for c in annual_charts(report)}
    assert plain["Who was in crisis accommodation in 2026"]["men"] == MEN
