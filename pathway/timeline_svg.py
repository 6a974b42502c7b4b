"""The timeline picture of one case (issue 17 item 3): phases as bands, deadlines and their
reminders as markers, what happened as ticks (a rejected event as a red cross), today as a
line; times in Europe/Ljubljana. The console's case page embeds :func:`timeline_svg`;
``pathway case timeline CASE_ID --out FILE.svg|png`` writes it (or :func:`timeline_png`).

It draws from the case *as a role may read it*: the view of
:func:`pathway.access.policy.case_view` (what the gateway's ``GET /v1/cases/{id}`` and
``pathway case show --json`` answer), already filtered by the access policy (R6). A part the
role may not read is absent from the view, so it is absent from the picture: no ``phase`` in the
view, no bands; no ``deadlines``, no deadline markers; no ``timeline``, no ticks. Of what is
there, only codes and dates are drawn: phases, deadline kinds, event types and rule IDs, and the
instants on the time axis. Never who acted (an actor may be named), why (free text), a child's
notes, a person's facts, a reminder's recipients, or the free text a service record carries
after its ``:`` (a delivery failure's detail).

Phases are not stored with their dates: the bands are worked out from the timeline, with the
domain's transitions (docs/rules.md "The case"; :mod:`pathway.domain.rules.assistance`,
``safe_accommodation``, ``reintegration``): the case opens ``identified``; ``reflection`` begins
with the reflection period or a crisis placement (K5, K1) from ``identified`` or an exit;
``safe_accommodation`` with a safe placement (S1), ``reintegration`` with the enrolment (I1);
``returned_home``, ``declined_left`` (``departed``) and ``closed`` with those events. The last
band is always the view's ``phase`` (the case's own word for where it stands) and runs to
``now``.

Every element a test or a page looks for has an SVG ``id`` (matplotlib's ``gid``):

- ``timeline-phase-<n>``: the n-th phase band (0 first, in time order), and
  ``timeline-label-phase-<n>`` the phase's name written in it;
- ``timeline-deadline-<kind>``: the marker of a deadline (a diamond at ``due_at``);
- ``timeline-reminder-<kind>-<n>``: the n-th reminder of that deadline (a triangle at its
  ``at``; filled once sent);
- ``timeline-event-<n>``: the tick of the n-th timeline entry of the view (in the view's order);
- ``timeline-rejected-<n>``: the cross of the n-th rejected event (the view's ``rejections``
  first, then those given);
- ``timeline-today``: the line at ``now``.

Items later than a year after ``now`` (a child's 18th birthday, a permit years ahead) would
squeeze the rest into a sliver: they are drawn at the right edge with their date written beside
them. The output is deterministic: the same view and ``now`` give the same bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from pathway.domain.calendar import LJUBLJANA, last_day
from pathway.domain.events import EVENT_TYPES
from pathway.domain.state import EXIT_PHASES, Phase

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["ELEMENT_PREFIX", "TITLE", "timeline_png", "timeline_svg"]

#: The prefix of every ``id`` this module gives an element.
ELEMENT_PREFIX: Final = "timeline-"
#: The picture's accessible name (its ``<title>``), and the heading drawn above it.
TITLE: Final = "Case timeline: phases, deadlines, reminders and events (times Europe/Ljubljana)"

#: Later than this after ``now``, an item is drawn at the right edge (its date written).
HORIZON: Final = timedelta(days=366)

#: One colour per phase (Okabe-Ito, told apart also by colour-blind readers; each band also
#: carries its phase's name, so colour is never the only key).
PHASE_COLOURS: Final[Mapping[Phase, str]] = {
    Phase.IDENTIFIED: "#E69F00",
    Phase.REFLECTION: "#56B4E9",
    Phase.SAFE_ACCOMMODATION: "#009E73",
    Phase.REINTEGRATION: "#F0E442",
    Phase.RETURNED_HOME: "#CC79A7",
    Phase.DECLINED_LEFT: "#D55E00",
    Phase.CLOSED: "#BBBBBB",
}
DEADLINE_COLOUR: Final = "#1f4e79"
EVENT_COLOUR: Final = "#111111"
SERVICE_COLOUR: Final = "#666666"
REJECTED_COLOUR: Final = "#C00000"
TODAY_COLOUR: Final = "#C00000"

#: The phase each event type moves a case into, and the phases it moves it from (None: any).
_ENTERS: Final[Mapping[str, tuple[Phase, frozenset[Phase] | None]]] = {
    "reflection_period_started": (Phase.REFLECTION, frozenset({Phase.IDENTIFIED, *EXIT_PHASES})),
    "crisis_accommodation_placed": (
        Phase.REFLECTION,
        frozenset({Phase.IDENTIFIED, *EXIT_PHASES}),
    ),
    "safe_accommodation_placed": (Phase.SAFE_ACCOMMODATION, None),
    "reintegration_enrolled": (Phase.REINTEGRATION, None),
    "returned_home": (Phase.RETURNED_HOME, None),
    "departed": (Phase.DECLINED_LEFT, None),
    "case_closed": (Phase.CLOSED, None),
}

#: What a service record's ``what`` may show: codes and plain words before any ``:``.
_CODE_WORDS: Final = re.compile(r"[a-z0-9_ ]{1,80}")


def _instant(value: object) -> datetime:
    """An instant of the view (ISO 8601 text, as JSON carries it, or a datetime)."""
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if instant.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return instant


def _event_type(what: object) -> str | None:
    """The event type a timeline entry's ``what`` names (the domain writes it with spaces)."""
    name = str(what).replace(" ", "_")
    return name if name in EVENT_TYPES else None


def _entry_label(entry: Mapping[str, Any]) -> str:
    """The row an entry is drawn in: its event type, or the code words a service record
    (timer, notification, membership) starts with; never the free text after a ``:``."""
    what = entry.get("what")
    if what is None:
        return "entry"
    kind = _event_type(what)
    if kind is not None:
        return kind
    head = str(what).split(":", 1)[0].strip()
    return head if _CODE_WORDS.fullmatch(head) else "service record"


@dataclass
class _Row:
    label: str
    rules: list[str] = field(default_factory=list)

    def cite(self, rule: object) -> None:
        if isinstance(rule, str) and rule and rule not in self.rules:
            self.rules.append(rule)

    @property
    def text(self) -> str:
        return self.label + (f" ({', '.join(self.rules)})" if self.rules else "")


@dataclass(frozen=True)
class _Band:
    phase: Phase
    start: datetime
    end: datetime


def _phase_bands(view: Mapping[str, Any], now: datetime) -> list[_Band]:
    """The phase bands (see the module docstring), oldest first; none if the view has no
    ``phase`` (the role may not read it) or no ``opened_at``."""
    if "phase" not in view or view.get("opened_at") is None:
        return []
    phase, start = Phase.IDENTIFIED, _instant(view["opened_at"])
    changes: list[tuple[Phase, datetime]] = [(phase, start)]
    for entry in view.get("timeline", []):  # in the order the case applied them
        kind = _event_type(entry.get("what"))
        if kind is None or kind not in _ENTERS or entry.get("at") is None:
            continue
        target, sources = _ENTERS[kind]
        if sources is not None and phase not in sources:
            continue
        # An event recorded late may have happened before the band it ends began.
        phase, start = target, max(_instant(entry["at"]), start)
        if changes[-1][1] == start:
            changes[-1] = (phase, start)
        elif changes[-1][0] != phase:
            changes.append((phase, start))
    current = Phase(view["phase"])
    if changes[-1][0] != current:  # the case's own word wins over the reconstruction
        changes[-1] = (current, changes[-1][1])
    ends = [at for _, at in changes[1:]] + [max(now, changes[-1][1])]
    return [_Band(p, s, e) for (p, s), e in zip(changes, ends, strict=True)]


@dataclass(frozen=True)
class _Mark:
    gid: str
    row: int
    at: datetime
    kind: str  # deadline, reminder, reminder_sent, event, service, rejected


def _layout(
    view: Mapping[str, Any], rejected: list[Mapping[str, Any]], phases: bool
) -> tuple[list[_Row], list[_Mark]]:
    """The rows (top to bottom: the phases if ``phases``, one per deadline, one per kind of
    timeline entry) and every marker in them."""
    rows = [_Row("phase")] if phases else []
    marks: list[_Mark] = []
    deadlines = sorted(
        (view.get("deadlines") or {}).values(), key=lambda d: (_instant(d["due_at"]), d["kind"])
    )
    for deadline in deadlines:
        kind = str(deadline["kind"])
        row = _Row("deadline: " + kind.replace("_", " "))
        row.cite(deadline.get("rule"))
        rows.append(row)
        y = len(rows) - 1
        marks.append(_Mark(f"deadline-{kind}", y, _instant(deadline["due_at"]), "deadline"))
        for n, reminder in enumerate(deadline.get("reminders") or []):
            sent = "reminder_sent" if reminder.get("sent") else "reminder"
            marks.append(_Mark(f"reminder-{kind}-{n}", y, _instant(reminder["at"]), sent))
    entry_rows: dict[str, int] = {}

    def row_of(label: str) -> int:
        if label not in entry_rows:
            rows.append(_Row(label.replace("_", " ")))
            entry_rows[label] = len(rows) - 1
        return entry_rows[label]

    for n, entry in enumerate(view.get("timeline") or []):
        if entry.get("at") is None:
            continue
        y = row_of(_entry_label(entry))
        rows[y].cite(entry.get("rule"))
        kind = "event" if _event_type(entry.get("what")) is not None else "service"
        marks.append(_Mark(f"event-{n}", y, _instant(entry["at"]), kind))
    for n, refused in enumerate(rejected):
        kind_name = str(refused.get("type", ""))
        y = row_of(kind_name if kind_name in EVENT_TYPES else "event")
        rows[y].cite(refused.get("rule"))
        marks.append(_Mark(f"rejected-{n}", y, _instant(refused["at"]), "rejected"))
    return rows, marks


def _when(due_at: datetime) -> str:
    """A deadline's end as the law counts it: ``2026-04-02 24:00`` for the end of a day
    (:func:`pathway.domain.calendar.last_day`), else the local date and minute."""
    local = due_at.astimezone(LJUBLJANA)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"{last_day(due_at).isoformat()} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def _window(instants: list[datetime], now: datetime) -> tuple[datetime, datetime]:
    """The time axis: from the earliest instant to the latest within :data:`HORIZON` of
    ``now`` (``now`` always inside), with a margin each side."""
    near = [t for t in instants if t <= now + HORIZON] + [now]
    first, last = min(near), max(near)
    span = max(last - first, timedelta(days=2))
    return first - span * 0.04, last + span * 0.1


def _draw(view: Mapping[str, Any], now: datetime, rejected: list[Mapping[str, Any]]) -> Figure:
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    _instant(now)  # a naive now is a mistake of the caller's: say so
    bands = _phase_bands(view, now)
    rows, marks = _layout(view, rejected, phases=bool(bands))
    left, right = _window([m.at for m in marks] + [b.start for b in bands], now)
    figure = Figure(figsize=(10, 0.4 * len(rows) + 2.2), dpi=96, layout="constrained")
    axes: Axes = figure.add_subplot()

    def x(instant: datetime) -> float:
        """Where ``instant`` lies on the time axis (matplotlib's days since its epoch)."""
        return float(mdates.date2num(instant))  # type: ignore[no-untyped-call]  # untyped in 3.11

    def gid(name: str) -> str:
        return ELEMENT_PREFIX + name

    for n, band in enumerate(bands):
        start, end = x(max(band.start, left)), x(min(band.end, right))
        (bar,) = axes.barh(
            0, end - start, left=start, height=0.8, color=PHASE_COLOURS[band.phase]
        ).patches
        bar.set_gid(gid(f"phase-{n}"))
        label = axes.text(
            (start + end) / 2,
            0,
            band.phase.value.replace("_", " "),
            ha="center",
            va="center",
            fontsize=8,
            clip_on=True,
        )
        label.set_clip_path(bar)  # a narrow band's name is cut at its edge, never spills
        label.set_gid(gid(f"label-phase-{n}"))
    style: dict[str, dict[str, Any]] = {
        "deadline": {"marker": "D", "color": DEADLINE_COLOUR, "markersize": 8},
        "reminder": {
            "marker": "v",
            "color": DEADLINE_COLOUR,
            "markerfacecolor": "white",
            "markersize": 7,
        },
        "reminder_sent": {"marker": "v", "color": DEADLINE_COLOUR, "markersize": 7},
        "event": {"marker": "|", "color": EVENT_COLOUR, "markersize": 14, "markeredgewidth": 2},
        "service": {
            "marker": "|",
            "color": SERVICE_COLOUR,
            "markersize": 10,
            "markeredgewidth": 1.5,
        },
        "rejected": {"marker": "X", "color": REJECTED_COLOUR, "markersize": 9},
    }
    for mark in marks:
        beyond = mark.at > right
        at = x(right) if beyond else x(mark.at)
        options: dict[str, Any] = dict(style[mark.kind])
        if beyond:
            options["marker"] = ">"
        (line,) = axes.plot([at], [mark.row], linestyle="none", **options)
        line.set_gid(gid(mark.gid))
        if mark.kind == "deadline":
            # Above the marker: beside it, it would cover the deadline's own reminders.
            axes.annotate(
                _when(mark.at),
                (at, mark.row),
                xytext=(0, 6),
                textcoords="offset points",
                ha="right" if beyond else "center",
                va="bottom",
                fontsize=7,
                color=DEADLINE_COLOUR,
            )
    today = axes.axvline(x(now), color=TODAY_COLOUR, linewidth=1.5, linestyle="--")
    today.set_gid(gid("today"))
    axes.annotate(
        "today " + now.astimezone(LJUBLJANA).strftime("%Y-%m-%d %H:%M"),
        (x(now), 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(0, 4),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=8,
        color=TODAY_COLOUR,
    )
    axes.set_xlim(x(left), x(right))
    axes.set_ylim(max(len(rows), 1) - 0.5, -0.5)
    axes.set_yticks(range(len(rows)), labels=[row.text for row in rows], fontsize=8)
    axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    # Ticks and their labels in Ljubljana time (both untyped in matplotlib 3.11's stubs).
    locator = mdates.AutoDateLocator(tz=LJUBLJANA, minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=LJUBLJANA)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(formatter)
    axes.tick_params(axis="x", labelsize=8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.suptitle(TITLE, x=0.01, ha="left", fontsize=10, fontweight="bold")
    legend = [
        Line2D([], [], linestyle="none", label="deadline", **style["deadline"]),
        Line2D([], [], linestyle="none", label="reminder (filled: sent)", **style["reminder"]),
        Line2D([], [], linestyle="none", label="event", **style["event"]),
        Line2D([], [], linestyle="none", label="service record", **style["service"]),
        Line2D([], [], linestyle="none", label="rejected event", **style["rejected"]),
        Line2D([], [], color=TODAY_COLOUR, linestyle="--", label="today"),
        *(
            Patch(color=PHASE_COLOURS[p], label=p.value.replace("_", " "))
            for p in dict.fromkeys(b.phase for b in bands)
        ),
    ]
    figure.legend(handles=legend, loc="outside lower center", ncols=5, fontsize=8, frameon=False)
    return figure


def _render(figure: Figure, fmt: str) -> bytes:
    from matplotlib import rc_context

    out = io.BytesIO()
    # Texts stay <text> (searchable, read aloud); a fixed hash salt and no date keep the bytes
    # the same for the same case (internal IDs are hashes otherwise seeded at random).
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "pathway-timeline"}):
        metadata: dict[str, str | None] = (
            {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
        )
        figure.savefig(out, format=fmt, metadata=metadata)
    return out.getvalue()


def _rejected(
    view: Mapping[str, Any], given: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The rejected events the view holds (its ``rejections``, as the role may read them:
    ``at``, ``event_type``, ``rule``), in order, then those ``given``."""
    held = [
        {"at": r["at"], "type": r["event_type"], "rule": r.get("rule")}
        for r in view.get("rejections") or []
    ]
    return [*held, *given]


def timeline_svg(
    view: Mapping[str, Any], *, now: datetime, rejected: Iterable[Mapping[str, Any]] = ()
) -> str:
    """The timeline picture of one case as an ``<svg>`` element (text, no XML prolog, its
    first child a ``<title>``: :data:`TITLE`), to inline in a page or save as a ``.svg`` file.

    ``view``: the case as the reading role may see it, as
    :func:`pathway.access.policy.case_view` returns it (a JSON-ready dict; the instants ISO
    8601 strings with an offset, or datetimes): ``opened_at``, ``phase``, ``timeline`` (each
    entry's ``at``, ``what``, ``rule``), ``deadlines`` (kind -> ``kind``, ``rule``,
    ``due_at``, ``reminders`` of ``at``, ``sent``) are drawn when present; nothing else is
    read. ``now``: the instant marked today (aware; drawn in Europe/Ljubljana).
    The view's ``rejections`` (the events the case's rules rejected, as the role may read
    them: care all, each organisation its own; issue 17 item 3) are drawn as red crosses in
    their type's row, at when the case noted them; ``rejected`` adds others, each ``{"at":
    instant, "type": event type, "rule": rule ID}``, after them.

    Element IDs, rows and what is never drawn: see the module docstring. Raises
    :class:`ValueError` for an instant without a UTC offset or a ``phase`` that names none.
    """
    svg = _render(_draw(view, now, _rejected(view, rejected)), "svg").decode("utf-8")
    svg = svg[svg.index("<svg") :]
    head_end = svg.index(">") + 1
    return f"{svg[:head_end]}\n <title>{TITLE}</title>{svg[head_end:]}"


def timeline_png(
    view: Mapping[str, Any], *, now: datetime, rejected: Iterable[Mapping[str, Any]] = ()
) -> bytes:
    """The same picture as :func:`timeline_svg`, as PNG bytes (96 dots per inch, 10 inches
    wide), for ``pathway case timeline … --out FILE.png``."""
    return _render(_draw(view, now, _rejected(view, rejected)), "png")
