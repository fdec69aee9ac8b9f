"""The days of a patrol week: the week starts on Monday (China time) and the patrol days are spread over
the working days Monday–Friday (3 days: Monday, Wednesday, Friday), so visits are evenly spaced."""

from __future__ import annotations

import datetime as dt

from gisgrid.errors import InvalidInputError

__all__ = ["WORKING_DAYS", "patrol_days", "week_start"]

WORKING_DAYS = 5


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def patrol_days(week: dt.date, days: int) -> list[dt.date]:
    """The ``days`` patrol dates of the week of ``week``: evenly spread over Monday–Friday, then the
    weekend for a sixth and seventh day."""
    if not 1 <= days <= 7:
        raise InvalidInputError(f"{days} patrol days do not fit in a week", field="days", rule="1 ≤ days ≤ 7")
    monday = week_start(week)
    if days <= WORKING_DAYS:
        offsets = [round(i * (WORKING_DAYS - 1) / (days - 1)) if days > 1 else 0 for i in range(days)]
    else:
        offsets = list(range(days))
    return [monday + dt.timedelta(days=o) for o in offsets]
