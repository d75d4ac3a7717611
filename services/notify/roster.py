"""Who is on duty at an instant (pure).

A shift covers [start, end) in the roster's local time, so at a handover (17:30) the
incoming person is on duty, not both. A shift whose end is not after its start crosses
midnight; its `days` name the day it *starts* on, so Friday's 17:30–08:30 shift still
covers Saturday 07:00. While an incident of a major grade is open the `major` shifts (a
24-hour rota, seed 003: 启动24小时网上舆情值班制度) apply instead; if they leave a gap,
the ordinary shifts fill it, then the fallback.

`days` names weekdays ("mon" … "sun") and/or the kind of day on the working calendar:
"workday" or "restday". China's calendar moves working days around public holidays (调休):
Sat 2026-02-14 and Sun 2026-09-20 are working days, Thu 2026-10-01 is a holiday. A roster
written in weekdays would leave a make-up Saturday's day duty to the fallback and list the
weekday person on a holiday, so the working-day roster says "workday". The calendar is
passed in as `is_working_day`; without one, Monday–Friday are working days (the calendar's
own rule for a year it does not know).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from watchboard.services.notify.settings import WEEKDAYS, Roster, Shift

WorkingDay = Callable[[date], bool]


def _weekdays_only(d: date) -> bool:
    return d.weekday() < 5


def starts_on(shift: Shift, day: date, is_working_day: WorkingDay | None = None) -> bool:
    """Whether `shift` starts on the local date `day` (any listed weekday or kind of day)."""
    if not shift.days:
        return True
    working: bool | None = None  # asked of the calendar only when a kind of day is listed
    for selector in shift.days:
        if selector == WEEKDAYS[day.weekday()]:
            return True
        if selector in ("workday", "restday"):
            if working is None:
                working = (is_working_day or _weekdays_only)(day)
            if working == (selector == "workday"):
                return True
    return False


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def shift_covers(shift: Shift, local: datetime, is_working_day: WorkingDay | None = None) -> bool:
    """Whether `shift` covers the local wall-clock instant `local`."""
    start, end = _minutes(shift.start), _minutes(shift.end)
    now = local.hour * 60 + local.minute + local.second / 60
    today = local.date()

    if start < end:
        return start <= now < end and starts_on(shift, today, is_working_day)
    # crosses midnight (start == end: a full 24 hours from start)
    if now >= start:
        return starts_on(shift, today, is_working_day)
    return now < end and starts_on(shift, today - timedelta(days=1), is_working_day)


def on_duty(roster: Roster, now: datetime, *, major_open: bool,
            is_working_day: WorkingDay | None = None) -> list[str]:
    """Person ids on duty at `now` (an aware datetime), in roster order, without repeats."""
    local = now.astimezone(ZoneInfo(roster.timezone))
    found: list[str] = []
    layers = ([roster.major.shifts] if major_open else []) + [roster.shifts]
    for shifts in layers:
        for shift in shifts:
            if shift_covers(shift, local, is_working_day) and shift.person not in found:
                found.append(shift.person)
        if found:
            return found
    return list(dict.fromkeys(roster.fallback))
