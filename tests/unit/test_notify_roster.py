"""Roster: who is on duty at shift edges, overnight and in 24-hour duty mode."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from watchboard.config.calendar import load_calendar
from watchboard.domain.calendar import WorkCalendar
from watchboard.services.notify.roster import on_duty, shift_covers
from watchboard.services.notify.settings import MajorDuty, Roster, Shift, load_notify

SH = ZoneInfo("Asia/Shanghai")

ROSTER = Roster(
    fallback=["p-office"],
    shifts=[
        Shift(person="p-day", start="08:30", end="17:30", days=["mon", "tue", "wed", "thu", "fri"]),
        Shift(person="p-night", start="17:30", end="08:30", days=["mon", "tue", "wed", "thu", "fri"]),
    ],
    major=MajorDuty(grades=["I", "II"], shifts=[
        Shift(person="m-day", start="08:00", end="20:00"),
        Shift(person="m-night", start="20:00", end="08:00"),
    ]),
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize(("when", "major", "expected"), [
    # 2026-11-23 is a Monday
    ("2026-11-23 08:29:59", False, ["p-office"]),  # Sunday night: no weekend shift started
    ("2026-11-23 08:30:00", False, ["p-day"]),  # handover: the incoming shift
    ("2026-11-23 12:00:00", False, ["p-day"]),
    ("2026-11-23 17:29:59", False, ["p-day"]),
    ("2026-11-23 17:30:00", False, ["p-night"]),  # handover at 17:30
    ("2026-11-23 23:59:59", False, ["p-night"]),
    ("2026-11-24 00:00:00", False, ["p-night"]),  # crosses midnight
    ("2026-11-24 08:29:00", False, ["p-night"]),
    ("2026-11-24 08:30:00", False, ["p-day"]),
    ("2026-11-28 07:00:00", False, ["p-night"]),  # Saturday morning: Friday's night shift
    ("2026-11-28 12:00:00", False, ["p-office"]),  # Saturday noon: fallback
    ("2026-11-29 03:00:00", False, ["p-office"]),  # Sunday night before: no Saturday shift
    # 24-hour duty mode while a grade I/II incident is open
    ("2026-11-28 12:00:00", True, ["m-day"]),
    ("2026-11-28 07:59:59", True, ["m-night"]),
    ("2026-11-28 08:00:00", True, ["m-day"]),
    ("2026-11-28 20:00:00", True, ["m-night"]),
    ("2026-11-29 03:00:00", True, ["m-night"]),
])
def test_on_duty(when: str, major: bool, expected: list[str]) -> None:
    """[start, end) shifts; overnight shifts count from the day they start."""
    assert on_duty(ROSTER, at(when), major_open=major) == expected


def test_on_duty_converts_utc_to_roster_zone() -> None:
    """An instant in UTC is read in the roster's zone (00:30 UTC = 08:30 Shanghai)."""
    assert on_duty(ROSTER, datetime.fromisoformat("2026-11-23T00:30:00+00:00"), major_open=False) == ["p-day"]


def test_major_mode_gap_falls_back_to_ordinary_shifts() -> None:
    """A 24-hour rota with a gap is filled by the ordinary shift, then the fallback."""
    roster = Roster(fallback=["p-office"], shifts=ROSTER.shifts,
                    major=MajorDuty(shifts=[Shift(person="m-day", start="08:00", end="20:00")]))
    assert on_duty(roster, at("2026-11-23 21:00:00"), major_open=True) == ["p-night"]
    assert on_duty(roster, at("2026-11-28 21:00:00"), major_open=True) == ["p-office"]


def test_full_day_shift() -> None:
    """A shift whose end equals its start covers all 24 hours."""
    roster = Roster(shifts=[Shift(person="p", start="09:00", end="09:00")])
    assert on_duty(roster, at("2026-11-23 08:59:00"), major_open=False) == ["p"]
    assert on_duty(roster, at("2026-11-23 09:00:00"), major_open=False) == ["p"]


# --- the working calendar (issue 9 item 10) ---------------------------------------------

CAL = WorkCalendar(load_calendar())  # the shipped calendar.toml: 2026 from the State Council notice

CALENDAR_ROSTER = Roster(
    fallback=["p-office"],
    shifts=[
        Shift(person="p-day", start="08:30", end="17:30", days=["workday"]),
        Shift(person="p-night", start="17:30", end="08:30", days=["workday"]),
        Shift(person="p-rest", start="09:00", end="17:00", days=["restday"]),
    ],
)


@pytest.mark.parametrize(("when", "expected"), [
    ("2026-11-23 10:00:00", ["p-day"]),  # an ordinary Monday
    ("2026-11-28 10:00:00", ["p-rest"]),  # an ordinary Saturday
    ("2026-02-14 10:00:00", ["p-day"]),  # Sat 2026-02-14: make-up working day (调休) before 春节
    ("2026-09-20 10:00:00", ["p-day"]),  # Sun 2026-09-20: make-up working day before 国庆
    ("2026-10-10 10:00:00", ["p-day"]),  # Sat 2026-10-10: make-up working day after 国庆
    ("2026-10-01 10:00:00", ["p-rest"]),  # Thu 2026-10-01: 国庆 holiday on a weekday
    ("2026-02-16 10:00:00", ["p-rest"]),  # Mon 2026-02-16: 春节 holiday
    ("2026-10-01 08:45:00", ["p-office"]),  # holiday, before the rest-day shift: fallback
    # an overnight shift belongs to the day it starts on
    ("2026-02-14 07:00:00", ["p-night"]),  # Fri 02-13's night shift (a working day)
    ("2026-02-15 07:00:00", ["p-night"]),  # Sat 02-14 is a working day: its night shift runs
    ("2026-10-01 07:00:00", ["p-night"]),  # Wed 09-30's night shift runs into the holiday
    ("2026-10-02 07:00:00", ["p-office"]),  # Thu 10-01 (holiday) starts no night shift
    ("2026-10-01 18:00:00", ["p-office"]),
])
def test_roster_follows_the_working_calendar(when: str, expected: list[str]) -> None:
    """A make-up working day runs the working-day roster; a weekday holiday the rest-day one."""
    assert on_duty(CALENDAR_ROSTER, at(when), major_open=False, is_working_day=CAL.is_working_day) == expected


@pytest.mark.parametrize(("days", "when", "covers"), [
    (["sat"], "2026-02-14 10:00:00", True),  # a weekday name is taken literally, make-up day or not
    (["thu"], "2026-10-01 10:00:00", True),
    (["workday", "sat"], "2026-11-28 10:00:00", True),  # any listed selector matches
    (["workday", "sun"], "2026-11-28 10:00:00", False),
    (["restday"], "2026-09-20 10:00:00", False),  # Sun 2026-09-20 is a working day
    (["mon", "tue", "wed", "thu", "fri"], "2026-10-01 10:00:00", True),  # why the default says "workday"
])
def test_days_selectors(days: list[str], when: str, covers: bool) -> None:
    """Weekday names and kinds of day combine as "any of"."""
    shift = Shift(person="p", start="08:30", end="17:30", days=days)
    assert shift_covers(shift, at(when), CAL.is_working_day) is covers


def test_without_a_calendar_monday_to_friday_work() -> None:
    """No calendar given: the calendar's rule for an unknown year (Mon–Fri work) applies."""
    assert on_duty(CALENDAR_ROSTER, at("2026-02-14 10:00:00"), major_open=False) == ["p-rest"]
    assert on_duty(CALENDAR_ROSTER, at("2026-10-01 10:00:00"), major_open=False) == ["p-day"]


@pytest.mark.parametrize(("when", "expected"), [
    ("2026-02-14 10:00:00", ["p-li"]),  # make-up Saturday: the day duty, not the office
    ("2026-09-20 10:00:00", ["p-li"]),  # make-up Sunday
    ("2026-10-01 10:00:00", ["p-office"]),  # weekday holiday: not the weekday person
    ("2026-11-27 10:00:00", ["p-li"]),  # an ordinary Friday
    ("2026-11-28 10:00:00", ["p-office"]),  # an ordinary Saturday
    ("2026-10-01 20:00:00", ["p-wang"]),  # the evening shift runs every day
])
def test_default_roster_on_the_calendar(when: str, expected: list[str]) -> None:
    """The shipped notify.toml's day shift is `days = ["workday"]`."""
    roster = load_notify().roster
    assert on_duty(roster, at(when), major_open=False, is_working_day=CAL.is_working_day) == expected
