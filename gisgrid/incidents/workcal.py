"""Working-time calendar: office hours, Chinese public holidays and make-up working days (调休).

Case deadlines are counted in working hours or working days (docs/glossary.md, "Case flow"). A working day is
a Monday–Friday that is not a public holiday, or a weekend day that the State Council has declared a
make-up working day (调休上班). The schedule changes every year, so it is *data*:
``gisgrid/data/holidays_cn.csv`` with columns ``date,kind,name,source`` where ``kind`` is
``holiday`` or ``workday``. It holds the State Council schedules for 2025 (notice of 2024-11-12) and
2026 (notice of 2025-11-04); add next year's rows when the notice comes out each November. Outside the
years in the file, only weekends are days off (see :attr:`WorkCalendar.years`).

Only timezone-aware datetimes are accepted (a naive one raises
:class:`~gisgrid.errors.InvalidInputError`); results are returned in the calendar's timezone
(Asia/Shanghai by default).

Examples
--------
>>> import datetime as dt
>>> cal = WorkCalendar.china()
>>> friday = dt.datetime(2025, 1, 24, 16, 0, tzinfo=cal.tz)
>>> cal.add_working_hours(friday, 3).isoformat()  # Sunday 26 January 2025 is a make-up working day
'2025-01-26T10:00:00+08:00'
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.resources
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources.abc import Traversable
from pathlib import Path

from gisgrid.codes import CHINA_TZ
from gisgrid.errors import ConfigurationError, InvalidInputError

HOLIDAYS_CSV: Traversable = importlib.resources.files("gisgrid") / "data" / "holidays_cn.csv"
SHANGHAI = CHINA_TZ
OFFICE_HOURS: tuple[tuple[dt.time, dt.time], ...] = (
    (dt.time(8, 30), dt.time(12, 0)),
    (dt.time(13, 30), dt.time(17, 30)),
)
_MAX_SEARCH_DAYS = 3660  # ten years without a working day means the calendar is broken


@dataclass(frozen=True)
class Holiday:
    """One row of the holiday file: a day off (``holiday``) or a make-up working day (``workday``)."""

    date: dt.date
    kind: str
    name: str = ""
    source: str = ""


def load_holidays(path: str | Traversable = HOLIDAYS_CSV) -> list[Holiday]:
    """Read a holiday file with columns ``date,kind,name[,source]``.

    Raises
    ------
    ConfigurationError
        If a row has a malformed date, an unknown kind, or a date listed twice.
    """
    rows: list[Holiday] = []
    seen: set[dt.date] = set()
    with (Path(path) if isinstance(path, str) else path).open("r", encoding="utf-8") as fh:
        for lineno, rec in enumerate(csv.DictReader(fh), start=2):
            try:
                day = dt.date.fromisoformat((rec.get("date") or "").strip())
            except ValueError:
                raise ConfigurationError(
                    f"{path}:{lineno}: date {rec.get('date')!r} is not YYYY-MM-DD",
                    field="date",
                    feature=lineno,
                    rule="ISO date",
                ) from None
            kind = (rec.get("kind") or "").strip()
            if kind not in ("holiday", "workday"):
                raise ConfigurationError(
                    f"{path}:{lineno}: kind {kind!r} must be 'holiday' or 'workday'",
                    field="kind",
                    feature=lineno,
                    rule="kind in {holiday, workday}",
                )
            if day in seen:
                raise ConfigurationError(
                    f"{path}:{lineno}: {day} is listed twice",
                    field="date",
                    feature=lineno,
                    rule="unique date",
                )
            seen.add(day)
            rows.append(
                Holiday(day, kind, (rec.get("name") or "").strip(), (rec.get("source") or "").strip())
            )
    return rows


def _require_aware(value: dt.datetime, name: str) -> None:
    if not isinstance(value, dt.datetime):
        raise InvalidInputError(f"{name} must be a datetime", field=name, rule="datetime required")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(
            f"{name} ({value.isoformat()}) has no timezone; pass an aware datetime (e.g. Asia/Shanghai)",
            field=name,
            rule="timezone-aware datetime required",
        )


@dataclass(frozen=True)
class WorkCalendar:
    """Office hours on working days, in one timezone.

    Parameters
    ----------
    periods
        The working periods of a day, in order and not overlapping; default 08:30–12:00 and
        13:30–17:30 (7.5 hours).
    holidays
        Dates that are days off although they fall on Monday–Friday (or on any day).
    workdays
        Make-up working days (调休上班), usually a Saturday or Sunday.
    tz
        The calendar's timezone; default Asia/Shanghai.
    weekend
        ISO weekday numbers of the usual days off (6 = Saturday, 7 = Sunday).
    """

    periods: tuple[tuple[dt.time, dt.time], ...] = OFFICE_HOURS
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    tz: dt.tzinfo = SHANGHAI
    weekend: frozenset[int] = frozenset({6, 7})
    names: dict[dt.date, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.periods:
            raise ConfigurationError("a work calendar needs at least one working period", field="periods")
        prev_end: dt.time | None = None
        for start, end in self.periods:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ConfigurationError(
                    "working periods are wall-clock times without tzinfo", field="periods", rule="naive times"
                )
            if not start < end or (prev_end is not None and start < prev_end):
                raise ConfigurationError(
                    f"working period {start}–{end} is empty, out of order or overlaps the previous one",
                    field="periods",
                    rule="ordered, non-overlapping periods",
                )
            prev_end = end
        if both := self.holidays & self.workdays:
            raise ConfigurationError(
                f"dates both holiday and workday: {sorted(both)}", field="holidays", rule="disjoint"
            )

    @classmethod
    def china(
        cls,
        path: str | Traversable = HOLIDAYS_CSV,
        *,
        periods: Iterable[tuple[dt.time, dt.time]] = OFFICE_HOURS,
        tz: dt.tzinfo = SHANGHAI,
    ) -> WorkCalendar:
        """The calendar with the public holidays and make-up days of ``path`` (default: bundled file)."""
        rows = load_holidays(path)
        return cls(
            periods=tuple(periods),
            holidays=frozenset(r.date for r in rows if r.kind == "holiday"),
            workdays=frozenset(r.date for r in rows if r.kind == "workday"),
            tz=tz,
            names={r.date: r.name for r in rows},
        )

    # ---- days

    @property
    def years(self) -> frozenset[int]:
        """The years the holiday data covers; outside them only weekends are days off."""
        return frozenset(d.year for d in self.holidays | self.workdays)

    @property
    def hours_per_day(self) -> float:
        """Working hours in one working day (7.5 with the default periods)."""
        return sum(_seconds(s, e) for s, e in self.periods) / 3600.0

    def is_working_day(self, day: dt.date | dt.datetime) -> bool:
        """Whether ``day`` (a date, or an aware datetime taken in the calendar's timezone) is a working day."""
        if isinstance(day, dt.datetime):
            _require_aware(day, "day")
            day = day.astimezone(self.tz).date()
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.isoweekday() not in self.weekend

    def _intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        if not self.is_working_day(day):
            return []
        return [
            (dt.datetime.combine(day, s, tzinfo=self.tz), dt.datetime.combine(day, e, tzinfo=self.tz))
            for s, e in self.periods
        ]

    def _days_from(self, day: dt.date, step: int = 1) -> Iterator[dt.date]:
        for k in range(_MAX_SEARCH_DAYS):
            yield day + dt.timedelta(days=k * step)
        raise ConfigurationError(
            f"no working day within {_MAX_SEARCH_DAYS} days of {day}", rule="calendar has working days"
        )

    # ---- arithmetic

    def add_working_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` working hours after ``start``.

        Time outside the working periods does not count: 11:00 + 2 h is 14:30 with the default lunch
        break, and Friday 16:00 + 3 h is Monday 10:00 unless the weekend is a make-up working day. A
        result that lands exactly on the end of a period is that end (17:30), not the next morning.
        ``hours=0`` returns ``start`` unchanged.

        Raises
        ------
        InvalidInputError
            If ``start`` is naive or ``hours`` is negative.
        """
        _require_aware(start, "start")
        if hours < 0:
            raise InvalidInputError(
                "hours must not be negative", field="hours", feature=hours, rule="hours >= 0"
            )
        start = start.astimezone(self.tz)
        remaining = dt.timedelta(hours=hours)
        if not remaining:
            return start
        for day in self._days_from(start.date()):
            for lo, hi in self._intervals(day):
                if hi <= start:
                    continue
                lo = max(lo, start)
                if lo + remaining <= hi:
                    return lo + remaining
                remaining -= hi - lo
        raise AssertionError("unreachable")  # pragma: no cover - _days_from raises first

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """The close of business of the ``days``-th working day after ``start``'s date.

        This is the usual reading of "within N working days" (自受理之日起N个工作日内): the day of
        receipt does not count, and the deadline is the end of the last working period of the N-th
        working day that follows it. ``days=0`` means the close of business of ``start``'s day if it is
        a working day, else of the next working day.

        Raises
        ------
        InvalidInputError
            If ``start`` is naive or ``days`` is not a non-negative integer.
        """
        _require_aware(start, "start")
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise InvalidInputError(
                "days must be a non-negative integer", field="days", feature=days, rule="integer >= 0"
            )
        day = start.astimezone(self.tz).date()
        counted = 0
        for d in self._days_from(day if days == 0 else day + dt.timedelta(days=1)):
            if self.is_working_day(d):
                counted += 1
                if counted >= max(days, 1):
                    return dt.datetime.combine(d, self.periods[-1][1], tzinfo=self.tz)
        raise AssertionError("unreachable")  # pragma: no cover

    def working_hours_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working hours from ``a`` to ``b`` (negative if ``b`` is before ``a``)."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b < a:
            return -self.working_hours_between(b, a)
        a, b = a.astimezone(self.tz), b.astimezone(self.tz)
        total = dt.timedelta()
        day = a.date()
        while day <= b.date():
            for lo, hi in self._intervals(day):
                lo, hi = max(lo, a), min(hi, b)
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total.total_seconds() / 3600.0

    def is_working_time(self, moment: dt.datetime) -> bool:
        """Whether ``moment`` falls inside a working period of a working day."""
        _require_aware(moment, "moment")
        moment = moment.astimezone(self.tz)
        return any(lo <= moment < hi for lo, hi in self._intervals(moment.date()))


def _seconds(start: dt.time, end: dt.time) -> float:
    base = dt.date(2000, 1, 1)
    return (dt.datetime.combine(base, end) - dt.datetime.combine(base, start)).total_seconds()


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    """:meth:`WorkCalendar.china` with the bundled holiday file, read once per process."""
    return WorkCalendar.china()
