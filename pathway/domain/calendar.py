"""Legal dates and instants. Dates in the law are days in Slovenia (Europe/Ljubljana)."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LJUBLJANA = ZoneInfo("Europe/Ljubljana")


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, clamped to the month's last day (31 Jan + 1 = 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def end_of_day(day: date) -> datetime:
    """The instant a permit valid through ``day`` expires: midnight after it, in Ljubljana."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=LJUBLJANA)


def local_date(instant: datetime) -> date:
    """The day in Slovenia at ``instant``."""
    return instant.astimezone(LJUBLJANA).date()
