"""Who is on duty at an instant (pure).

A shift covers [start, end) in the roster's local time, so at a handover (17:30) the
incoming person is on duty, not both. A shift whose end is not after its start crosses
midnight; its `days` name the weekday it *starts* on, so Friday's 17:30–08:30 shift still
covers Saturday 07:00. While an incident of a major grade is open the `major` shifts (a
24-hour rota, seed 003: 启动24小时网上舆情值班制度) apply instead; if they leave a gap,
the ordinary shifts fill it, then the fallback.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from watchboard.services.notify.settings import WEEKDAYS, Roster, Shift


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def shift_covers(shift: Shift, local: datetime) -> bool:
    """Whether `shift` covers the local wall-clock instant `local`."""
    start, end = _minutes(shift.start), _minutes(shift.end)
    now = local.hour * 60 + local.minute + local.second / 60
    days = set(shift.days)

    def starts_on(day: datetime) -> bool:
        return not days or WEEKDAYS[day.weekday()] in days

    if start < end:
        return start <= now < end and starts_on(local)
    # crosses midnight (start == end: a full 24 hours from start)
    if now >= start:
        return starts_on(local)
    return now < end and starts_on(local - timedelta(days=1))


def on_duty(roster: Roster, now: datetime, *, major_open: bool) -> list[str]:
    """Person ids on duty at `now` (an aware datetime), in roster order, without repeats."""
    local = now.astimezone(ZoneInfo(roster.timezone))
    found: list[str] = []
    layers = ([roster.major.shifts] if major_open else []) + [roster.shifts]
    for shifts in layers:
        for shift in shifts:
            if shift_covers(shift, local) and shift.person not in found:
                found.append(shift.person)
        if found:
            return found
    return list(dict.fromkeys(roster.fallback))
