"""The inbox: an organisation's open obligations and reminded deadlines across its cases, as
the gateway's obligations listing finds them (:func:`pathway.gateway.routes.obligations.
obligations_of`, the same answer ``GET /v1/obligations`` gives), flattened to one row each,
overdue first, then by due time (undated last), with the console's filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathway.gateway.routes.obligations import ObligationsAnswer

__all__ = ["InboxFilters", "InboxItem", "inbox_items"]


#: The longest "due within N days" that is told apart from "any time" (a century).
MAX_DAYS: Final = 36_600


@dataclass(frozen=True, kw_only=True)
class InboxFilters:
    """Due within ``days`` days from now (overdue ones included), of ``rule``, of ``case_id``;
    None: no filter."""

    days: int | None = None
    rule: str | None = None
    case_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class InboxItem:
    """One row: an obligation (``what`` is its action) or a reminded deadline (``what`` is its
    kind); ``escalated`` is None for a deadline."""

    case_id: str
    rule: str
    what: str
    due_at: datetime | None
    escalated: bool | None
    overdue: bool


def _rows(answer: ObligationsAnswer, now: datetime) -> list[InboxItem]:
    rows = []
    for case in answer.cases:
        for o in case.obligations:
            overdue = o.due_at is not None and o.due_at < now
            rows.append(
                InboxItem(
                    case_id=case.case_id,
                    rule=o.rule,
                    what=o.action,
                    due_at=o.due_at,
                    escalated=o.escalated,
                    overdue=overdue,
                )
            )
        for d in case.deadlines:
            rows.append(
                InboxItem(
                    case_id=case.case_id,
                    rule=d.rule,
                    what=d.kind.value,
                    due_at=d.due_at,
                    escalated=None,
                    overdue=d.due_at < now,
                )
            )
    return rows


def _kept(item: InboxItem, filters: InboxFilters, now: datetime) -> bool:
    if filters.rule is not None and item.rule != filters.rule:
        return False
    if filters.case_id is not None and item.case_id != filters.case_id:
        return False
    if filters.days is not None:
        # Beyond a century every due time is "within": no date arithmetic past year 9999.
        within = timedelta(days=min(filters.days, MAX_DAYS))
        return item.due_at is not None and item.due_at <= now + within
    return True


def inbox_items(
    answer: ObligationsAnswer, now: datetime, filters: InboxFilters | None = None
) -> list[InboxItem]:
    """The answer's obligations and deadlines as rows: overdue first, then by due time
    (undated last), then by case ID; only those ``filters`` keep. ``now`` is timezone-aware."""
    filters = filters or InboxFilters()
    kept = [item for item in _rows(answer, now) if _kept(item, filters, now)]
    return sorted(
        kept,
        key=lambda i: (not i.overdue, i.due_at is None, i.due_at or now, i.case_id, i.rule),
    )
