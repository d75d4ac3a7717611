"""Roster: who is on duty at shift edges, overnight and in 24-hour duty mode."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from watchboard.services.notify.roster import on_duty
from watchboard.services.notify.settings import MajorDuty, Roster, Shift

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
