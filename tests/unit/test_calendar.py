"""The working calendar: 2026 official data, work-hour and working-day arithmetic, coverage."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from watchboard.config.calendar import CalendarConfig, calendar_from_data
from watchboard.domain.calendar import WorkCalendar, coverage_warning, covered_until
from watchboard.domain.durations import Duration, parse_duration

Z = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()  # defaults: 08:30–12:00, 14:00–17:30, chinesecalendar


def t(text: str) -> datetime:
    """'2026-09-18 16:00' → aware datetime in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=Z)


def local(at: datetime) -> str:
    return at.astimezone(Z).strftime("%Y-%m-%d %H:%M")


def _days(first: str, last: str) -> list[date]:
    d, end = date.fromisoformat(first), date.fromisoformat(last)
    out = []
    while d <= end:
        out.append(d)
        d += timedelta(days=1)
    return out


# DOMAIN.md §4: the State Council notice for 2026 (国务院办公厅, 2025-11-04).
HOLIDAYS_2026 = [
    *_days("2026-01-01", "2026-01-03"), *_days("2026-02-15", "2026-02-23"),
    *_days("2026-04-04", "2026-04-06"), *_days("2026-05-01", "2026-05-05"),
    *_days("2026-06-19", "2026-06-21"), *_days("2026-09-25", "2026-09-27"),
    *_days("2026-10-01", "2026-10-07"),
]
MAKEUP_2026 = [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
               date(2026, 9, 20), date(2026, 10, 10)]

YEAR_2027 = {"years": {"2027": {"holidays": [date(2027, 1, 1)], "workdays": []}}}


# --- 2026 data ------------------------------------------------------------------------


@pytest.mark.parametrize("d", HOLIDAYS_2026, ids=str)
def test_2026_holidays_are_days_off(d: date) -> None:
    """Every 2026 public holiday of the notice is a day off and known."""
    assert CAL.day_status(d) == (False, True)


@pytest.mark.parametrize("d", MAKEUP_2026, ids=str)
def test_2026_makeup_days_are_working_days(d: date) -> None:
    """Every 2026 make-up working day (调休), all on weekends, is a working day."""
    assert d.weekday() >= 5
    assert CAL.is_working_day(d)


def test_2026_every_day_matches_the_notice() -> None:
    """All 365 days of 2026: working iff make-up day, or a weekday that is no holiday."""
    holidays, makeup = set(HOLIDAYS_2026), set(MAKEUP_2026)
    wrong = [d for d in _days("2026-01-01", "2026-12-31")
             if CAL.is_working_day(d) != (d in makeup or (d.weekday() < 5 and d not in holidays))]
    assert wrong == []


def test_2026_working_day_count() -> None:
    """2026 has 248 working days (261 weekdays − 19 weekday holidays + 6 make-up days)."""
    assert sum(CAL.is_working_day(d) for d in _days("2026-01-01", "2026-12-31")) == 248


# --- durations ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "amount", "unit", "basis"), [
    ("45s", 45, "s", "calendar"), ("30m", 30, "m", "calendar"), ("2h", 2, "h", "calendar"),
    ("1d", 1, "d", "calendar"), ("3wh", 3, "wh", "working"), ("5wd", 5, "wd", "working"),
    (" 10wd ", 10, "wd", "working"),
])
def test_parse_duration(text: str, amount: int, unit: str, basis: str) -> None:
    """Each unit parses to its amount, unit and basis."""
    d = parse_duration(text)
    assert (d.amount, d.unit, d.basis) == (amount, unit, basis)
    assert str(d) == text.strip()


@pytest.mark.parametrize(("text", "match"), [
    ("", "is not a duration"), ("2", "is not a duration"), ("h", "is not a duration"),
    ("2x", "is not a duration"), ("1.5h", "whole number"), ("-2h", "is not a duration"),
    ("2 h", "is not a duration"), ("0h", "is zero"), ("3WH", "is not a duration"),
])
def test_parse_duration_rejects(text: str, match: str) -> None:
    """A malformed duration raises ValueError naming the text and the problem."""
    with pytest.raises(ValueError, match=match) as info:
        parse_duration(text)
    assert repr(text) in str(info.value)


def test_duration_seconds() -> None:
    """Calendar and working-hour durations have a length in seconds; working days do not."""
    assert Duration(2, "h").seconds == 7200
    assert Duration(3, "wh").seconds == 10800
    with pytest.raises(ValueError, match="working days"):
        _ = Duration(5, "wd").seconds


# --- working hours ------------------------------------------------------------------


@pytest.mark.parametrize(("start", "hours", "due"), [
    # plain working days (Mon 2026-03-09 … Fri 03-13)
    ("2026-03-09 08:30", 3, "2026-03-09 11:30"),    # start exactly at opening
    ("2026-03-09 09:00", 3, "2026-03-09 12:00"),    # lands on 12:00, not 14:00
    ("2026-03-09 10:00", 3, "2026-03-09 15:00"),    # lunch break skipped
    ("2026-03-09 08:30", 7, "2026-03-09 17:30"),    # a whole working day ends at closing
    ("2026-03-09 12:00", 1, "2026-03-09 15:00"),    # start exactly at 12:00 waits for 14:00
    ("2026-03-09 12:30", 2, "2026-03-09 16:00"),    # start inside the lunch break
    ("2026-03-09 14:00", 3, "2026-03-09 17:00"),    # start exactly at 14:00
    ("2026-03-09 17:30", 3, "2026-03-10 11:30"),    # start exactly at closing: next morning
    ("2026-03-09 07:00", 3, "2026-03-09 11:30"),    # before opening
    ("2026-03-09 16:30", 3, "2026-03-10 10:30"),    # overnight
    ("2026-03-09 20:00", 3, "2026-03-10 11:30"),    # evening start
    ("2026-03-10 02:00", 3, "2026-03-10 11:30"),    # small hours
    ("2026-03-13 16:00", 3, "2026-03-16 10:00"),    # Friday → Monday
    ("2026-03-14 10:00", 3, "2026-03-16 11:30"),    # start on a Saturday
    ("2026-03-13 11:00", 4, "2026-03-13 17:00"),
    ("2026-03-13 11:00", 10, "2026-03-16 16:00"),   # more than a working day
    # Spring Festival 2026 (2/15–2/23 off; Sat 2/14 and Sat 2/28 worked)
    ("2026-02-13 16:00", 3, "2026-02-14 10:00"),    # Fri → make-up Sat 2/14
    ("2026-02-14 16:00", 3, "2026-02-24 10:00"),    # make-up Sat → after the festival
    ("2026-02-19 10:00", 3, "2026-02-24 11:30"),    # start inside the holiday
    ("2026-02-27 17:00", 3, "2026-02-28 11:00"),    # Fri → make-up Sat 2/28
    # National Day 2026 (10/1–10/7 off; Sat 10/10 worked; Mid-autumn 9/25–27, Sun 9/20 worked)
    ("2026-09-30 16:00", 3, "2026-10-08 10:00"),
    ("2026-10-09 17:00", 3, "2026-10-10 11:00"),    # Fri → make-up Sat 10/10
    ("2026-10-03 09:00", 1, "2026-10-08 09:30"),    # inside the holiday
    ("2026-09-18 16:00", 3, "2026-09-20 10:00"),    # Fri → make-up Sun 9/20
    ("2026-09-20 09:00", 3, "2026-09-20 12:00"),    # on a make-up Sunday
    ("2026-09-24 16:00", 3, "2026-09-28 10:00"),    # Thu before Mid-autumn → Mon
    # New Year 2026 (1/1–1/3 off; Sun 1/4 worked)
    ("2025-12-31 16:00", 3, "2026-01-04 10:00"),
])
def test_add_working_hours(start: str, hours: float, due: str) -> None:
    """Work time counts only inside work hours on working days."""
    at, provisional = CAL.add_working_hours(t(start), hours)
    assert local(at) == due
    assert provisional is False


def test_add_working_hours_accepts_other_zones() -> None:
    """A start given in UTC is counted in the calendar's zone; the result is UTC."""
    at, _ = CAL.add_working_hours(datetime.fromisoformat("2026-03-09T01:00:00+00:00"), 3)
    assert at.utcoffset() == timedelta(0)
    assert local(at) == "2026-03-09 12:00"


def test_naive_start_is_refused() -> None:
    """A datetime without a zone is an error, not a guess."""
    with pytest.raises(ValueError, match="no time zone"):
        CAL.add(datetime(2026, 3, 9, 9), Duration(3, "wh"))


# --- working days -------------------------------------------------------------------


@pytest.mark.parametrize(("start", "n", "due"), [
    ("2026-03-09 10:00", 5, "2026-03-16 17:30"),   # Mon + 5wd → next Mon, start day not counted
    ("2026-03-09 07:00", 1, "2026-03-10 17:30"),   # start before opening: day still not counted
    ("2026-03-09 23:00", 1, "2026-03-10 17:30"),
    ("2026-03-13 15:00", 1, "2026-03-16 17:30"),   # Fri → Mon
    ("2026-03-14 10:00", 1, "2026-03-16 17:30"),   # start on a Saturday
    # Friday afternoon before Mid-autumn (9/25–27) and National Day (10/1–7)
    ("2026-09-18 16:00", 1, "2026-09-20 17:30"),   # make-up Sunday counts
    ("2026-09-18 16:00", 5, "2026-09-24 17:30"),
    ("2026-09-18 16:00", 10, "2026-10-09 17:30"),
    ("2026-09-30 16:00", 1, "2026-10-08 17:30"),
    ("2026-09-30 16:00", 5, "2026-10-13 17:30"),   # Sat 10/10 counts
    ("2026-09-30 16:00", 10, "2026-10-20 17:30"),
    ("2026-10-01 10:00", 1, "2026-10-08 17:30"),   # start inside the holiday
    # Spring Festival
    ("2026-02-13 15:00", 1, "2026-02-14 17:30"),
    ("2026-02-13 15:00", 2, "2026-02-24 17:30"),
    ("2026-02-13 15:00", 5, "2026-02-27 17:30"),
    ("2026-02-13 15:00", 6, "2026-02-28 17:30"),   # make-up Sat 2/28
    # Labour Day: 5/1–5 off, Sat 5/9 worked
    ("2026-04-30 16:00", 4, "2026-05-09 17:30"),
    ("2026-04-30 16:00", 5, "2026-05-11 17:30"),
])
def test_add_working_days(start: str, n: int, due: str) -> None:
    """Nwd: the start day is not counted; due at 17:30 on the Nth working day after it."""
    at, provisional = CAL.add_working_days(t(start), n)
    assert local(at) == due
    assert provisional is False


def test_calendar_durations_are_elapsed_time() -> None:
    """Calendar durations run through nights and holidays and are never provisional."""
    at, provisional = CAL.add(t("2026-09-30 16:00"), parse_duration("24h"))
    assert (local(at), provisional) == ("2026-10-01 16:00", False)
    at, provisional = CAL.add(t("2026-12-31 22:00"), parse_duration("45s"))
    assert at == t("2026-12-31 22:00:45") and provisional is False


def test_custom_work_hours_close_at_last_period() -> None:
    """Working days end at the close of the last configured period."""
    cal = WorkCalendar(CalendarConfig(work_hours=["09:00-12:30", "13:30-18:00"]))
    at, _ = cal.add_working_days(t("2026-03-09 10:00"), 1)
    assert local(at) == "2026-03-10 18:00"
    at, _ = cal.add_working_hours(t("2026-03-09 10:00"), 3)
    assert local(at) == "2026-03-09 14:00"


@pytest.mark.parametrize(("a", "b", "hours"), [
    ("2026-03-09 08:30", "2026-03-09 17:30", 7),
    ("2026-03-09 11:00", "2026-03-09 15:00", 2),
    ("2026-03-13 16:00", "2026-03-16 10:00", 3),
    ("2026-09-30 16:00", "2026-10-08 10:00", 3),
    ("2026-03-09 15:00", "2026-03-09 10:00", 0),
])
def test_working_seconds_between(a: str, b: str, hours: float) -> None:
    """Work time between two instants ignores nights, breaks and holidays."""
    assert CAL.working_seconds_between(t(a), t(b)) == hours * 3600


# --- unknown years: provisional ---------------------------------------------------------


@pytest.mark.parametrize(("start", "duration", "due", "provisional"), [
    ("2026-12-28 10:00", "5wd", "2027-01-04 17:30", True),  # 2027-01-01 guessed a working day
    ("2026-12-28 10:00", "3wd", "2026-12-31 17:30", False),  # stays inside 2026
    ("2026-12-31 16:00", "3wh", "2027-01-01 10:00", True),
    ("2026-12-31 10:00", "3wh", "2026-12-31 15:00", False),
    ("2026-12-31 22:00", "24h", "2027-01-01 22:00", False),  # calendar time needs no calendar
    ("2030-06-03 10:00", "3wh", "2030-06-03 15:00", True),  # far future: weekends only
    ("2030-06-07 16:00", "1wd", "2030-06-10 17:30", True),  # Fri → Mon
    ("2003-05-01 10:00", "1wd", "2003-05-02 17:30", True),  # before the package's range
])
def test_unknown_years_are_provisional(start: str, duration: str, due: str, provisional: bool) -> None:
    """Days of unknown years count as weekends-only and make the due time provisional."""
    at, prov = CAL.add(t(start), parse_duration(duration))
    assert (local(at), prov) == (due, provisional)


@pytest.mark.parametrize(("start", "duration", "due"), [
    ("2026-12-28 10:00", "5wd", "2027-01-05 17:30"),  # 2027-01-01 now a holiday
    ("2026-12-31 16:00", "3wh", "2027-01-04 10:00"),
    ("2027-06-07 16:00", "1wd", "2027-06-08 17:30"),
])
def test_adding_the_year_makes_times_firm(start: str, duration: str, due: str) -> None:
    """With a [years.2027] table (test data, not the real notice) 2027 times are not provisional."""
    cal = WorkCalendar(calendar_from_data(YEAR_2027))
    at, prov = cal.add(t(start), parse_duration(duration))
    assert (local(at), prov) == (due, False)


def test_year_table_replaces_package_for_its_year() -> None:
    """A [years.2026] table overrides the package: its lists alone decide 2026."""
    cal = WorkCalendar(calendar_from_data({"years": {"2026": {"holidays": [], "workdays": []}}}))
    assert cal.is_working_day(date(2026, 10, 1))  # Thursday, no longer a holiday
    assert not cal.is_working_day(date(2026, 10, 10))  # Saturday, no longer worked


@pytest.mark.parametrize(("data", "d", "working"), [
    ({"extra_holidays": [date(2026, 3, 9)]}, date(2026, 3, 9), False),
    ({"extra_workdays": [date(2026, 3, 14)]}, date(2026, 3, 14), True),
    ({"extra_holidays": ["2026-10-08"]}, date(2026, 10, 8), False),  # quoted dates work too
    ({"extra_workdays": [date(2027, 1, 2)]}, date(2027, 1, 2), True),
    ({"use_package": False}, date(2026, 10, 1), True),  # weekdays only without the package
])
def test_extra_days_override(data: dict, d: date, working: bool) -> None:
    """Single extra holidays and working days override the package and the year lists."""
    cal = WorkCalendar(calendar_from_data(data))
    assert cal.is_working_day(d) is working


def test_extra_day_in_unknown_year_is_known() -> None:
    """A single configured day is known even in an unknown year; its neighbours are not."""
    cal = WorkCalendar(calendar_from_data({"extra_holidays": [date(2027, 1, 1)]}))
    assert cal.day_status(date(2027, 1, 1)) == (False, True)
    assert cal.day_status(date(2027, 1, 4)) == (True, False)


# --- coverage ------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "until"), [
    ({}, date(2026, 12, 31)),
    (YEAR_2027, date(2027, 12, 31)),
    ({"years": {"2028": {}}}, date(2026, 12, 31)),  # a gap: 2027 still unknown
    ({"use_package": False}, date.min),
    ({"use_package": False, "years": {"2027": {}}}, date(2027, 12, 31)),
])
def test_covered_until(data: dict, until: date) -> None:
    """covered_until is the end of the last year known without a gap."""
    assert covered_until(WorkCalendar(calendar_from_data(data))) == until


@pytest.mark.parametrize(("data", "today", "warns"), [
    ({}, date(2026, 10, 31), False),
    ({}, date(2026, 11, 1), True),   # 60 days before 2026-12-31
    ({}, date(2027, 1, 5), True),    # already past the known range
    (YEAR_2027, date(2026, 11, 15), False),
    ({"warn_days_before_end": 10}, date(2026, 12, 20), False),
    ({"warn_days_before_end": 10}, date(2026, 12, 21), True),
])
def test_coverage_warning_when(data: dict, today: date, warns: bool) -> None:
    """The notice starts the configured number of days before the known range ends."""
    assert (coverage_warning(WorkCalendar(calendar_from_data(data)), today) is not None) is warns


def test_coverage_warning_text() -> None:
    """The notice names the year to add and calendar.toml, in English and in Chinese."""
    en = coverage_warning(CAL, date(2026, 12, 1))
    zh = coverage_warning(CAL, date(2026, 12, 1), "zh")
    assert en is not None and "add 2027 from the State Council notice to calendar.toml" in en
    assert zh is not None and "国务院办公厅" in zh and "2027" in zh and "calendar.toml" in zh
