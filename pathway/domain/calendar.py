"""Legal dates and instants. Dates in the law are days in Slovenia (Europe/Ljubljana).

How a period ends (docs/rules.md "Legal time"): a period of N days that runs from an event on
day D (local date in Ljubljana) does not count D; it ends at the end of day D+N, 24:00
Ljubljana time (00:00 of D+N+1), whatever daylight-saving changes lie between. A period of N
months ends at the end of the day of the N-th month on that has D's number, or of that month's
last day when it has no such day (31 January + 1 month: the end of 28 or 29 February). A period
of N working days ends at the end of the N-th working day after D. This follows the Slovenian
General Administrative Procedure Act (ZUP, Articles 99–101) and Regulation (EEC, Euratom)
No 1182/71, Article 3, which the seed's "30-day period", "up to 30 days" and "a period of 3
(three) months" are read by. Periods in hours (R3's 24 hours) run from the instant, by elapsed
time.

Working days are Monday to Friday except Slovenian public holidays (the work-free days of the
Public Holidays and Days Off Act), taken from the maintained ``holidays`` library (pinned in
pyproject.toml: a new release may change a date only where the law changed).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from holidays.countries.slovenia import Slovenia

LJUBLJANA = ZoneInfo("Europe/Ljubljana")

#: Not a working day in Slovenia whatever the holidays: Saturday and Sunday.
_WEEKEND = frozenset({5, 6})


class Counting(StrEnum):
    """How a deadline's period is counted (set per deadline in ``CaseConfig``)."""

    #: Elapsed time from the instant (periods in hours, e.g. R3's 24 hours).
    ELAPSED = "elapsed"
    #: Calendar days in Ljubljana; the day of the event is not counted (the seed's periods).
    CALENDAR_DAYS = "calendar_days"
    #: Working days in Slovenia (Monday–Friday, not a public holiday); the day of the event is
    #: not counted (the service's escalation deadlines).
    WORKING_DAYS = "working_days"


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, clamped to the month's last day (31 Jan + 1 = 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_through(first: date, months: int) -> date:
    """The last day of a period of ``months`` months that starts on ``first`` and counts it (a
    permit valid from ``first``): the day before the date with ``first``'s number ``months``
    months on, or, when that month has no such date, that month's last day (docs/rules.md
    "Legal time"). 1 March + 3 months: through 31 May; 30 November 2026 + 3: through 28
    February 2027 (29 February 2028 from 30 November 2027); 31 January + 3: through 30 April;
    29 February 2028 + 12: through 28 February 2029. (``add_months(first, months)`` less a day
    came out a day short whenever the month had no such date: 27 February, 29 April.)"""
    month_index = first.month - 1 + months
    year, month = first.year + month_index // 12, month_index % 12 + 1
    length = calendar.monthrange(year, month)[1]
    if first.day > length:
        return date(year, month, length)
    return date(year, month, first.day) - timedelta(days=1)


def start_of_day(day: date) -> datetime:
    """00:00 of ``day`` in Ljubljana (every day of Europe/Ljubljana has a midnight)."""
    return datetime.combine(day, time(0), tzinfo=LJUBLJANA)


def end_of_day(day: date) -> datetime:
    """The instant ``day`` ends in Ljubljana (24:00): midnight after it. A permit valid through
    ``day`` expires then, and so does a period whose last day is ``day``."""
    return start_of_day(day + timedelta(days=1))


def local_date(instant: datetime) -> date:
    """The day in Slovenia at ``instant``."""
    return instant.astimezone(LJUBLJANA).date()


def last_day(due_at: datetime) -> date:
    """The last day a deadline falling at ``due_at`` leaves whole: the day before when
    ``due_at`` is 24:00 (a midnight in Ljubljana), else the day ``due_at`` lies in."""
    local = due_at.astimezone(LJUBLJANA)
    if local.timetz().replace(tzinfo=None) == time(0):
        return local.date() - timedelta(days=1)
    return local.date()


def describe_end(due_at: datetime) -> str:
    """When a deadline falls, in the words a reminder states it: "2026-11-19 at 24:00
    (Ljubljana time)" for the end of a day, else the local date and minute."""
    local = due_at.astimezone(LJUBLJANA)
    if local.timetz().replace(tzinfo=None) == time(0):
        return f"{last_day(due_at).isoformat()} at 24:00 (Ljubljana time)"
    return f"{local.date().isoformat()} at {local:%H:%M} (Ljubljana time)"


#: Slovenia's work-free public holidays over every year an event may name (1900–2200, see
#: :mod:`pathway.domain.plausible`) and the deadlines that can follow (a child born in 2200
#: turns 18 in 2218), computed once at import (about 20 ms): the ``holidays`` library reads
#: translations with ``gettext`` when it builds a year, which Temporal's workflow sandbox
#: forbids (``locale.normalize``), so nothing may build one while a workflow runs.
_PUBLIC_HOLIDAYS: frozenset[date] = frozenset(
    Slovenia(years=range(1900, 2221)).keys()  # type: ignore[no-untyped-call]
)


def is_working_day(day: date) -> bool:
    """Monday to Friday, and not a Slovenian public holiday."""
    return day.weekday() not in _WEEKEND and day not in _PUBLIC_HOLIDAYS


def next_working_day(day: date) -> date:
    """``day`` if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, days: int) -> date:
    """The ``days``-th working day after ``day`` (``day`` itself not counted; 0: ``day``)."""
    if days < 0:
        raise ValueError("a period of working days cannot be negative")
    while days > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            days -= 1
    return day


def whole_days(period: timedelta) -> int:
    """``period`` in whole days; a period of days or months never has hours left over."""
    if period % timedelta(days=1):
        raise ValueError(f"not a whole number of days: {period}")
    return period.days


def period_end(
    start: datetime,
    period: timedelta,
    counting: Counting,
    *,
    next_working: bool = False,
) -> datetime:
    """When a period of ``period`` running from the event at ``start`` ends.

    ``CALENDAR_DAYS``: the end (24:00 Ljubljana) of the day ``period.days`` days after the
    start's local day; ``WORKING_DAYS``: the end of the ``period.days``-th working day after it;
    ``ELAPSED``: ``start`` plus ``period`` of elapsed time (in UTC). ``next_working``: a last
    day that is not a working day moves to the next working day (ZUP Article 101).
    """
    if counting is Counting.ELAPSED:
        return start.astimezone(UTC) + period
    first = local_date(start)
    days = whole_days(period)
    if counting is Counting.WORKING_DAYS:
        last = add_working_days(first, days)
    else:
        last = first + timedelta(days=days)
    if next_working:
        last = next_working_day(last)
    return end_of_day(last)


def months_end(start: datetime, months: int, *, next_working: bool = False) -> datetime:
    """When a period of ``months`` months running from the event at ``start`` ends: the end of
    the day with the start's number ``months`` months on, or of that month's last day."""
    last = add_months(local_date(start), months)
    if next_working:
        last = next_working_day(last)
    return end_of_day(last)


def days_before(due_at: datetime, lead: timedelta) -> datetime:
    """A reminder ``lead`` (whole days) before ``due_at``: the same Ljubljana wall-clock time,
    that many calendar days earlier (5 days before 24:00 on 19 November: 00:00 on 15 November).
    A lead with hours is elapsed time. Returned in UTC: an instant in the autumn hour that
    Ljubljana's clocks show twice would compare unequal to every other zone's."""
    if lead % timedelta(days=1):
        return due_at.astimezone(UTC) - lead
    wall = due_at.astimezone(LJUBLJANA).replace(tzinfo=None) - lead
    # A wall time that does not exist (the spring gap) or exists twice (the autumn hour) is
    # read with the offset before the change (fold=0).
    return wall.replace(tzinfo=LJUBLJANA).astimezone(UTC)
