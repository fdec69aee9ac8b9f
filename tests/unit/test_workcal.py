"""The working-time calendar: office hours, lunch break, Chinese holidays and make-up working days."""

from __future__ import annotations

import datetime as dt
import doctest
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gisgrid.grids.locate
import gisgrid.incidents.deadlines
import gisgrid.incidents.machine
import gisgrid.incidents.workcal
from gisgrid.errors import ConfigurationError, InvalidInputError
from gisgrid.incidents.workcal import HOLIDAYS_CSV, WorkCalendar, load_holidays

CAL = WorkCalendar.china()
TZ = CAL.tz
UTC = dt.UTC


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.mark.parametrize(
    "day,working",
    [
        (dt.date(2025, 1, 24), True),  # Friday
        (dt.date(2025, 1, 25), False),  # Saturday
        (dt.date(2025, 1, 26), True),  # Sunday, make-up working day for the Spring Festival
        (dt.date(2025, 1, 27), True),
        *[(dt.date(2025, 1, 28) + dt.timedelta(days=k), False) for k in range(8)],  # 28 Jan – 4 Feb
        (dt.date(2025, 2, 5), True),
        (dt.date(2025, 2, 8), True),  # Saturday, make-up working day
        (dt.date(2025, 3, 1), False),  # an ordinary Saturday
        (dt.date(2025, 4, 27), True),  # Sunday, make-up for Labour Day
        (dt.date(2025, 5, 5), False),
        (dt.date(2025, 9, 28), True),  # Sunday, make-up for National Day
        *[(dt.date(2025, 10, 1) + dt.timedelta(days=k), False) for k in range(8)],  # 1–8 Oct
        (dt.date(2025, 10, 9), True),
        (dt.date(2025, 10, 11), True),  # Saturday, make-up working day
        (dt.date(2026, 1, 4), True),  # Sunday, make-up for New Year 2026
        (dt.date(2026, 2, 14), True),
        (dt.date(2026, 2, 23), False),
        (dt.date(2026, 2, 28), True),
        (dt.date(2026, 10, 10), True),
    ],
)
def test_working_days(day: dt.date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


def test_the_holiday_file_is_well_formed() -> None:
    rows = load_holidays(HOLIDAYS_CSV)
    assert CAL.years == {2025, 2026}
    assert all(r.source for r in rows)
    # every make-up working day is a weekend day, every holiday is named
    assert all(r.date.isoweekday() >= 6 for r in rows if r.kind == "workday")
    assert all(r.name for r in rows)
    days_off_2025 = [d for d in CAL.holidays if d.year == 2025]
    assert len(days_off_2025) == 1 + 8 + 3 + 5 + 3 + 8  # the six blocks of the 2025 schedule
    assert CAL.names[dt.date(2025, 1, 28)] == "春节"


def test_lunch_break_and_end_of_day() -> None:
    assert CAL.hours_per_day == 7.5
    assert CAL.add_working_hours(at(2025, 3, 3, 11), 2) == at(2025, 3, 3, 14, 30)
    assert CAL.add_working_hours(at(2025, 3, 3, 12, 30), 1) == at(2025, 3, 3, 14, 30)  # starts in lunch
    assert CAL.add_working_hours(at(2025, 3, 3, 7), 1) == at(2025, 3, 3, 9, 30)  # before opening
    assert CAL.add_working_hours(at(2025, 3, 3, 16, 30), 1) == at(2025, 3, 3, 17, 30)  # ends exactly at close
    assert CAL.add_working_hours(at(2025, 3, 3, 20), 0.5) == at(2025, 3, 4, 9, 0)
    assert CAL.add_working_hours(at(2025, 3, 3, 20), 0) == at(2025, 3, 3, 20)
    assert CAL.working_hours_between(at(2025, 3, 3, 11), at(2025, 3, 3, 14)) == 1.5
    assert CAL.is_working_time(at(2025, 3, 3, 9)) and not CAL.is_working_time(at(2025, 3, 3, 12, 30))


def test_across_the_2025_spring_festival() -> None:
    # Monday 27 Jan 16:30 + 2 h: 1 h that day, then the holiday (28 Jan – 4 Feb), then Wednesday 5 Feb
    assert CAL.add_working_hours(at(2025, 1, 27, 16, 30), 2) == at(2025, 2, 5, 9, 30)
    # Friday 24 Jan 16:00 + 3 h: Sunday 26 Jan is a working day
    assert CAL.add_working_hours(at(2025, 1, 24, 16), 3) == at(2025, 1, 26, 10)
    assert CAL.working_hours_between(at(2025, 1, 27, 8, 30), at(2025, 2, 5, 17, 30)) == 15.0
    assert CAL.working_hours_between(at(2025, 2, 5, 17, 30), at(2025, 1, 27, 8, 30)) == -15.0
    # 3 working days from Tuesday 4 Feb (a holiday): 5, 6, 7 Feb
    assert CAL.add_working_days(at(2025, 2, 4, 10), 3) == at(2025, 2, 7, 17, 30)
    # 4 working days from Wednesday 5 Feb: 6, 7, Saturday 8 (make-up), 10
    assert CAL.add_working_days(at(2025, 2, 5, 10), 3) == at(2025, 2, 8, 17, 30)
    assert CAL.add_working_days(at(2025, 2, 5, 10), 4) == at(2025, 2, 10, 17, 30)


def test_across_national_day_2025() -> None:
    assert CAL.add_working_hours(at(2025, 9, 30, 17), 1) == at(2025, 10, 9, 9)
    assert CAL.add_working_days(at(2025, 9, 30, 10), 1) == at(2025, 10, 9, 17, 30)
    assert CAL.add_working_days(at(2025, 9, 30, 10), 3) == at(2025, 10, 11, 17, 30)  # Saturday make-up
    assert CAL.add_working_days(at(2025, 10, 3, 10), 0) == at(
        2025, 10, 9, 17, 30
    )  # 0: close of next working day
    assert CAL.add_working_days(at(2025, 10, 9, 10), 0) == at(2025, 10, 9, 17, 30)
    # Sunday 28 Sep is a working day; the week of 1–8 Oct has none
    assert CAL.working_hours_between(at(2025, 9, 27), at(2025, 10, 10)) == 7.5 * 4  # 28, 29, 30 Sep and 9 Oct


def test_timezones() -> None:
    utc_start = dt.datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
    got = CAL.add_working_hours(utc_start, 1)
    assert got == at(2025, 3, 3, 17) and got.utcoffset() == dt.timedelta(hours=8)
    assert CAL.is_working_day(dt.datetime(2025, 1, 25, 20, 0, tzinfo=UTC))  # already Sunday 26th in Shanghai
    assert CAL.working_hours_between(utc_start, at(2025, 3, 3, 17, 30)) == 1.5
    naive = dt.datetime(2025, 3, 3, 9)
    for call in (
        lambda: CAL.add_working_hours(naive, 1),
        lambda: CAL.add_working_days(naive, 1),
        lambda: CAL.working_hours_between(naive, utc_start),
        lambda: CAL.working_hours_between(utc_start, naive),
        lambda: CAL.is_working_day(naive),
    ):
        with pytest.raises(InvalidInputError) as err:
            call()
        assert err.value.rule == "timezone-aware datetime required"


def test_bad_arguments_and_configuration(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        CAL.add_working_hours(at(2025, 3, 3, 9), -1)
    with pytest.raises(InvalidInputError):
        CAL.add_working_days(at(2025, 3, 3, 9), 1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        WorkCalendar(periods=((dt.time(13), dt.time(12)),))
    with pytest.raises(ConfigurationError):
        WorkCalendar(periods=((dt.time(8), dt.time(12)), (dt.time(11), dt.time(17))))
    with pytest.raises(ConfigurationError):
        WorkCalendar(holidays=frozenset({dt.date(2025, 1, 1)}), workdays=frozenset({dt.date(2025, 1, 1)}))
    bad = tmp_path / "h.csv"
    bad.write_text("date,kind,name\n2025-13-01,holiday,x\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as err:
        WorkCalendar.china(bad)
    assert err.value.field == "date"
    bad.write_text("date,kind,name\n2025-01-01,vacation,x\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as err:
        WorkCalendar.china(bad)
    assert err.value.field == "kind"


def test_configurable_hours() -> None:
    cal = WorkCalendar(periods=((dt.time(9), dt.time(17)),))
    assert cal.hours_per_day == 8
    assert cal.add_working_hours(at(2025, 1, 1, 16), 2) == at(2025, 1, 2, 10)  # no holidays loaded
    assert cal.add_working_hours(at(2025, 1, 3, 16), 2) == at(2025, 1, 6, 10)  # weekend


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2026, 12, 1)),
    minutes=st.integers(min_value=0, max_value=60 * 200),
)
def test_adding_then_measuring_gives_the_hours_back(start: dt.datetime, minutes: int) -> None:
    s = start.replace(tzinfo=TZ, microsecond=0)
    end = CAL.add_working_hours(s, minutes / 60)
    assert end >= s
    assert CAL.working_hours_between(s, end) == pytest.approx(minutes / 60)
    if minutes:
        assert CAL.is_working_time(end - dt.timedelta(seconds=1))


@pytest.mark.parametrize(
    "module",
    [gisgrid.incidents.workcal, gisgrid.incidents.deadlines, gisgrid.incidents.machine, gisgrid.grids.locate],
)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0
