"""The case page's content: a case as the signed-in organisation's role may see it.

Built from :func:`pathway.access.policy.case_view`, the very view ``GET /v1/cases/{case_id}``
answers (the one policy, R6): a section whose field the role may not read is None (the page
leaves it out, heading and all), and within a section only what the view kept is shown (a
timeline entry's ``why`` only for care and for the organisation that wrote it; no obligation,
deadline, membership or entry that would reveal a field the role may not read). Rejected events
are marked on the timeline where the role reads them (``rejections``: care, and each
organisation its own).

Shapes: every time is a timezone-aware :class:`~datetime.datetime` (UTC, as the case holds it;
the page shows it in Europe/Ljubljana); rule IDs are those of docs/rules.md (``R3``, ``K5``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "CasePage",
    "DeadlineRow",
    "EntryRow",
    "MemberRow",
    "ObligationRow",
    "ReminderRow",
    "case_page",
]


@dataclass(frozen=True, kw_only=True)
class MemberRow:
    """A membership record: ``organisation`` holds ``role`` since ``since`` by ``rule``
    (``why``: the rule's purpose); ``ended_at`` if it ended."""

    organisation: str
    role: str
    rule: str
    why: str
    since: datetime
    ended_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class ReminderRow:
    """A reminder of a deadline: at ``at`` to ``recipients`` (organisation codes); ``sent``."""

    at: datetime
    recipients: list[str]
    sent: bool


@dataclass(frozen=True, kw_only=True)
class DeadlineRow:
    """A deadline of ``kind`` (its :class:`~pathway.domain.state.DeadlineKind`) by ``rule``."""

    kind: str
    rule: str
    due_at: datetime
    reminders: list[ReminderRow]


@dataclass(frozen=True, kw_only=True)
class ObligationRow:
    """An open obligation: ``owner`` must do ``action`` by ``due_at`` (None: no date) under
    ``rule``; ``escalated_at`` if it was escalated. ``id`` as the role is shown it
    (:func:`pathway.access.policy.listed_ids`)."""

    id: str
    rule: str
    owner: str
    action: str
    due_at: datetime | None
    escalated_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class EntryRow:
    """A timeline entry: who, when (``at``: when it happened), what, why, which rule; each
    None if the role may not read it there. ``event_id`` is None for the service's own entries
    (timers, deliveries, membership changes): an entry with one is an accepted event.

    A rejected event (``rejected``; issue 17 item 3) is a row of its own, from the case's
    ``rejections``: ``at`` when the case noted it, ``who`` the organisation that sent it,
    ``what`` its type, ``rule`` the rule that rejected it, ``reason`` the rule's reason and
    ``field`` the field it names (None: the event as a whole). ``why`` is None: what the
    event carried is not kept."""

    at: datetime | None
    who: str | None
    what: str | None
    why: str | None
    rule: str | None
    event_id: str | None
    rejected: bool = False
    reason: str | None = None
    field: str | None = None


@dataclass(frozen=True, kw_only=True)
class CasePage:
    """What the case page shows. A section is None when the role may not read its field at all
    (``phase``, ``membership``, ``deadlines``, ``obligations``, ``timeline`` of READ_MATRIX);
    ``why_shown``: the role reads some entry's ``why`` (the column is shown)."""

    case_id: str
    opened_at: datetime | None
    closed_at: datetime | None
    phase: str | None
    lead_ngo: str | None
    members: list[MemberRow] | None
    deadlines: list[DeadlineRow] | None
    obligations: list[ObligationRow] | None
    timeline: list[EntryRow] | None
    why_shown: bool


def _time(value: Any) -> datetime | None:
    """An ISO time from the JSON view (None stays None)."""
    return None if value is None else datetime.fromisoformat(str(value))


def _required_time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _members(records: list[dict[str, Any]]) -> list[MemberRow]:
    rows = [
        MemberRow(
            organisation=r["organisation"],
            role=r["role"],
            rule=r["rule"],
            why=r["why"],
            since=_required_time(r["since"]),
            ended_at=_time(r.get("removed_at")),
        )
        for r in records
    ]
    # The current members first, each group in the order they joined.
    return sorted(rows, key=lambda m: (m.ended_at is not None, m.since))


def _deadlines(deadlines: dict[str, dict[str, Any]]) -> list[DeadlineRow]:
    rows = [
        DeadlineRow(
            kind=d["kind"],
            rule=d["rule"],
            due_at=_required_time(d["due_at"]),
            reminders=[
                ReminderRow(at=_required_time(r["at"]), recipients=r["recipients"], sent=r["sent"])
                for r in d.get("reminders", [])
            ],
        )
        for d in deadlines.values()
    ]
    return sorted(rows, key=lambda d: d.due_at)


def _open_obligations(obligations: list[dict[str, Any]]) -> list[ObligationRow]:
    rows = [
        ObligationRow(
            id=o["id"],
            rule=o["rule"],
            owner=o["owner"],
            action=o["action"],
            due_at=_time(o.get("due_at")),
            escalated_at=_time(o.get("escalated_at")),
        )
        for o in obligations
        if o.get("closed_at") is None
    ]
    # Undated last, as in the inbox.
    return sorted(rows, key=lambda o: (o.due_at is None, o.due_at.timestamp() if o.due_at else 0.0))


def _timeline(entries: list[dict[str, Any]], rejections: list[dict[str, Any]]) -> list[EntryRow]:
    """The timeline's entries in the order they were recorded, each rejected event among them
    where it was noted (by ``recorded_at`` and the rejection's ``at``; an entry whose
    ``recorded_at`` the role may not read keeps its place)."""
    rows: list[tuple[float, int, EntryRow]] = []
    last = float("-inf")
    for n, e in enumerate(entries):
        recorded = _time(e.get("recorded_at"))
        last = recorded.timestamp() if recorded is not None else last
        row = EntryRow(
            at=_time(e.get("at")),
            who=e.get("who"),
            what=e.get("what"),
            why=e.get("why"),
            rule=e.get("rule"),
            event_id=e.get("event_id"),
        )
        rows.append((last, n, row))
    for n, r in enumerate(rejections, start=len(entries)):
        noted = _required_time(r["at"])
        row = EntryRow(
            at=noted,
            who=r["organisation"],
            what=str(r["event_type"]).replace("_", " "),
            why=None,
            rule=r["rule"],
            event_id=r["event_id"],
            rejected=True,
            reason=r["reason"],
            field=r.get("field"),
        )
        rows.append((noted.timestamp(), n, row))
    return [row for _, _, row in sorted(rows, key=lambda t: (t[0], t[1]))]


def case_page(view: dict[str, Any]) -> CasePage:
    """The page's content from ``view``, a case as :func:`pathway.access.policy.case_view`
    gives it for the signed-in role (a field the role may not read is not in it)."""
    timeline = (
        _timeline(view["timeline"], view.get("rejections", [])) if "timeline" in view else None
    )
    return CasePage(
        case_id=view["case_id"],
        opened_at=_time(view.get("opened_at")),
        closed_at=_time(view.get("closed_at")),
        phase=view.get("phase"),
        lead_ngo=view.get("lead_ngo"),
        members=_members(view["membership"]) if "membership" in view else None,
        deadlines=_deadlines(view["deadlines"]) if "deadlines" in view else None,
        obligations=_open_obligations(view["obligations"]) if "obligations" in view else None,
        timeline=timeline,
        why_shown=timeline is not None and any(e.why is not None for e in timeline),
    )
