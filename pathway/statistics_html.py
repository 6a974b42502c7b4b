"""``pathway report annual --format html``: the annual report as one self-contained HTML page of
bar charts, for readers who do not read tables (issue 15 item 2; docs/statistics.md).

Each chart is drawn by matplotlib (its SVG backend, no display, no pyplot state) and inlined
as ``<svg>``: the page loads nothing from anywhere (no script, no font, no image file, no CDN;
its Content-Security-Policy forbids every fetch). Each chart has a plain-language title and the
number written at the end of every bar; texts stay ``<text>`` (``svg.fonttype = none``), so a
reader's browser can search, copy and read them aloud.

Under ``--public`` a suppressed count (:mod:`pathway.domain.suppression`) is drawn as an empty
bar labelled ``<k``, exactly as the table and the CSV print it: its length is 0 in the SVG, so
the drawing does not give away the value either.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

    from pathway.domain.annual import AnnualReport
    from pathway.domain.suppression import Cell

__all__ = ["Chart", "annual_charts", "render_annual_html"]

#: One colour for every bar (dark blue: 8.6:1 against white, WCAG AAA).
BAR_COLOUR: Final = "#1f4e79"

_PROGRAMMES: Final = (
    ("crisis_accommodation", "crisis accommodation"),
    ("safe_accommodation", "safe accommodation"),
    ("reintegration", "the reintegration programme"),
)
_GENDER_AGE: Final = (
    ("female_adult", "women"),
    ("female_minor", "girls"),
    ("male_adult", "men"),
    ("male_minor", "boys"),
    ("other_or_unknown_adult", "adults of another or unknown gender"),
    ("other_or_unknown_minor", "minors of another or unknown gender"),
)
_EXITS: Final = {
    "ended": "the stay ended",
    "consent_withdrawn": "the person withdrew consent",
    "moved_to_safe_accommodation": "moved on to safe accommodation",
    "returned_home": "returned home",
    "declined_left": "declined assistance and left",
    "closed": "the case was closed",
}

_SESSIONS: Final = {
    "individual_counselling": "one-to-one sessions",
    "group_counselling": "group sessions",
}


@dataclass(frozen=True)
class Chart:
    """One bar chart: its title, and one bar per ``(label, value)``; a value of None is a
    suppressed count (drawn empty, labelled ``<k``)."""

    title: str
    bars: tuple[tuple[str, int | None], ...]


def annual_charts(report: AnnualReport, hidden: frozenset[Cell] = frozenset()) -> list[Chart]:
    """The charts of the page, in order: the overview (persons identified, persons in each
    programme, distinct persons in any), then per programme who was in it (gender ×
    adult/minor), who entered and who continued from earlier years, how stays ended (if any
    did), then the citizenships of the victims and of the accompanying children in any
    programme (if any). ``hidden``: the suppressed cells (``--public``)."""
    from pathway.domain.suppression import report_cells

    cells = report_cells(report)

    def value(*cell: str) -> int | None:
        return None if cell in hidden else cells.get(cell, 0)

    year = report.year
    charts = [
        Chart(
            f"How many people were identified and helped in {year}",
            (
                ("identified as victims of trafficking", value("identified", "persons")),
                *((f"in {name}", value(key, "active", "persons")) for key, name in _PROGRAMMES),
                ("in any programme (each person once)", value("all_programmes", "persons")),
            ),
        )
    ]
    for key, name in _PROGRAMMES:
        charts.append(
            Chart(
                f"Who was in {name} in {year}",
                tuple(
                    (label, value(key, "active", "by_gender_age", cell))
                    for cell, label in _GENDER_AGE
                ),
            )
        )
        charts.append(
            Chart(
                f"New in {name} in {year}, and still there from earlier years",
                (
                    (f"came in {year}", value(key, "entered", "persons")),
                    ("still there from earlier years", value(key, "continuing", "persons")),
                ),
            )
        )
        exits = getattr(report, key).exits
        if exits:
            charts.append(
                Chart(
                    f"How stays in {name} ended in {year}",
                    tuple(
                        (_EXITS.get(kind, kind.replace("_", " ")), value(key, "exits", kind))
                        for kind in exits
                    ),
                )
            )
    charts += _register_charts(report, value)
    for field, who in (
        ("victims_by_citizenship", "the victims"),
        ("children_by_citizenship", "the accompanying children"),
    ):
        counts = getattr(report.all_programmes, field)
        if counts:
            charts.append(
                Chart(
                    f"Where {who} in any programme in {year} come from (citizenship)",
                    tuple((code, value("all_programmes", field, code)) for code in counts),
                )
            )
    return charts


def _register_charts(report: AnnualReport, value: Callable[..., int | None]) -> list[Chart]:
    """P1 and X1: the interviews with and without suspicion, then who took part in the
    prostitution-exit programme, who came in the year and who was still there, the
    counselling sessions (if any)."""
    year = report.year
    pats = "asylum_procedure_interviews"
    x1 = "prostitution_exit"
    charts = [
        Chart(
            f"Interviews with people seeking asylum in {year} (PATS)",
            (
                ("all interviews", value(pats, "interviews")),
                ("suspicion of trafficking: the authorities told", value(pats, "with_suspicion")),
                ("no suspicion of trafficking", value(pats, "without_suspicion")),
            ),
        ),
        Chart(
            f"Who took part in the programme for leaving prostitution in {year}",
            tuple(
                (label, value(x1, "active", "by_gender_age", cell)) for cell, label in _GENDER_AGE
            ),
        ),
        Chart(
            f"New in the programme for leaving prostitution in {year}, and still there from "
            "earlier years",
            (
                (f"came in {year}", value(x1, "entered", "persons")),
                ("still there from earlier years", value(x1, "continuing", "persons")),
            ),
        ),
    ]
    sessions = report.prostitution_exit.sessions
    if sessions:
        charts.append(
            Chart(
                f"Counselling sessions in the programme for leaving prostitution in {year}",
                tuple(
                    (_SESSIONS.get(kind, kind.replace("_", " ")), value(x1, "sessions", kind))
                    for kind in sessions
                ),
            )
        )
    return charts


def chart_svg(chart: Chart, k: int, salt: str) -> str:
    """``chart`` as an inline ``<svg>`` element (no XML prolog): horizontal bars, the labels
    on the left, each count (or ``<k``) at the end of its bar, the title above. ``salt``
    makes the SVG's internal IDs unique within the page."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    labels = [label for label, _ in chart.bars]
    values = [v for _, v in chart.bars]
    lengths = [0 if v is None else v for v in values]
    figure = Figure(figsize=(8, 0.42 * len(labels) + 1.0), dpi=96, layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    bars = axes.barh(positions, lengths, color=BAR_COLOUR, height=0.6)
    axes.set_yticks(positions, labels=labels, fontsize=11)
    axes.invert_yaxis()
    axes.bar_label(
        bars, labels=[f"<{k}" if v is None else str(v) for v in values], padding=4, fontsize=11
    )
    figure.suptitle(chart.title, x=0.01, ha="left", fontsize=13, fontweight="bold")
    axes.set_xlim(0, max([*lengths, 1]) * 1.15)
    axes.xaxis.set_visible(False)
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    out = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        figure.savefig(out, format="svg", metadata={"Date": None})
    svg = out.getvalue()
    return svg[svg.index("<svg") :]


def render_annual_html(
    report: AnnualReport, hidden: frozenset[Cell] = frozenset(), k: int | None = None
) -> str:
    """The whole page (UTF-8 text): a heading, a short explanation, every chart of
    :func:`annual_charts` as a ``<figure>`` with its title as caption. ``k``: the threshold of
    ``--public`` (None: figures as they are; ``hidden`` must then be empty)."""
    year = report.year
    threshold = k if k is not None else 0
    figures = []
    for n, chart in enumerate(annual_charts(report, hidden), start=1):
        title = html.escape(chart.title)
        figures.append(
            f'<figure id="chart-{n}" role="group" aria-labelledby="chart-{n}-title">\n'
            f'<figcaption id="chart-{n}-title">{title}</figcaption>\n'
            f"{chart_svg(chart, threshold, f'chart-{n}')}\n</figure>"
        )
    public = (
        f"<p>Numbers from 1 to {k - 1} are shown as “&lt;{k}”, so that nobody can be "
        f"recognised; a few larger numbers are shown as “&lt;{k}” too, so that the small ones "
        f"cannot be worked out from the others. A bar marked “&lt;{k}” is drawn empty.</p>"
        if k is not None
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Annual report {year}: victims of trafficking identified and helped</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; max-width: 52rem; margin: 2rem auto;
  padding: 0 1rem; color: #111; line-height: 1.5; }}
figure {{ margin: 2rem 0; }}
figcaption {{ position: absolute; left: -10000px; }}
svg {{ max-width: 100%; height: auto; }}
</style>
</head>
<body>
<h1>Annual report {year}</h1>
<p>How many people were identified as victims of trafficking in human beings in {year}, and
how many were in each assistance programme: crisis accommodation, safe accommodation and
reintegration; how many interviews with people seeking asylum were held, and who took part in
the programme for people leaving prostitution. Each bar is a number of people (or of
interviews or sessions, where the title says so), written at its end. A person is counted once
in each chart, however often they came and left; people who came before {year} and were still
in a programme count too. Children who stayed with their mother or father are counted as
accompanying children.</p>
{public}
{chr(10).join(figures)}
<p>From the statistics ledger of Pathway: anonymised records, no names and no dates finer than
the month.</p>
</body>
</html>
"""
