"""calendar.toml: work hours, the years' holidays and make-up working days (调休), checked.

What the days and hours mean is `watchboard.domain.calendar` (`WorkCalendar`); this module
only says what the file may hold.
"""

from __future__ import annotations

import re
from datetime import date, time
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from watchboard.config.loader import ConfigError, Source, decode, load
from watchboard.domain.durations import parse_hhmm


class YearDays(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One year's full lists from the State Council notice (国务院办公厅关于…放假安排的通知)."""

    holidays: list[date] = msgspec.field(default_factory=list)
    workdays: list[date] = msgspec.field(default_factory=list)  # make-up working days (调休)


class CalendarConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    timezone: str = "Asia/Shanghai"
    work_hours: list[str] = msgspec.field(default_factory=lambda: ["08:30-12:00", "14:00-17:30"])
    use_package: bool = True
    extra_holidays: list[date] = msgspec.field(default_factory=list)
    extra_workdays: list[date] = msgspec.field(default_factory=list)
    years: dict[str, YearDays] = msgspec.field(default_factory=dict)
    warn_days_before_end: int = 60


def parse_work_hours(periods: list[str], file: str, key: str = "work_hours") -> tuple[tuple[time, time], ...]:
    """["08:30-12:00", "14:00-17:30"] → sorted (start, end) pairs; ConfigError if bad or overlapping."""
    out: list[tuple[time, time]] = []
    if not periods:
        raise ConfigError(file, key, "no work periods; give at least one like '08:30-12:00'")
    for i, text in enumerate(periods):
        start_s, sep, end_s = text.partition("-")
        start, end = parse_hhmm(start_s), parse_hhmm(end_s)
        if not sep or start is None or end is None:
            raise ConfigError(file, f"{key}[{i}]", f"{text!r} is not a period like '08:30-12:00' "
                              "(HH:MM-HH:MM, 24-hour clock)")
        if start >= end:
            raise ConfigError(file, f"{key}[{i}]", f"{text!r} ends before it starts")
        out.append((start, end))
    out.sort()
    for (_a_start, a_end), (b_start, _b_end) in pairwise(out):
        if b_start < a_end:
            raise ConfigError(file, key, f"work periods overlap: one ends at {a_end:%H:%M}, "
                              f"the next starts at {b_start:%H:%M}")
    return tuple(out)


def check_calendar(cfg: CalendarConfig, file: str = "calendar.toml") -> None:
    """The cross-field checks msgspec cannot do; raise ConfigError naming file and key."""
    try:
        ZoneInfo(cfg.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(file, "timezone", f"unknown time zone {cfg.timezone!r}; "
                          "use an IANA name such as 'Asia/Shanghai'") from exc
    parse_work_hours(cfg.work_hours, file)
    both = sorted(set(cfg.extra_holidays) & set(cfg.extra_workdays))
    if both:
        raise ConfigError(file, "extra_holidays", f"{both[0].isoformat()} is also in extra_workdays")
    for year_key, days in cfg.years.items():
        if not re.fullmatch(r"\d{4}", year_key):
            raise ConfigError(file, f"years.{year_key}", f"{year_key!r} is not a year like '2027'")
        for list_name in ("holidays", "workdays"):
            for d in getattr(days, list_name):
                if d.year != int(year_key):
                    raise ConfigError(file, f"years.{year_key}.{list_name}",
                                      f"{d.isoformat()} is not in {year_key}")
        both = sorted(set(days.holidays) & set(days.workdays))
        if both:
            raise ConfigError(file, f"years.{year_key}.holidays",
                              f"{both[0].isoformat()} is also in years.{year_key}.workdays")
    if cfg.warn_days_before_end < 0:
        raise ConfigError(file, "warn_days_before_end", f"{cfg.warn_days_before_end} is negative")


def calendar_from_data(data: dict[str, Any], file: str = "calendar.toml") -> CalendarConfig:
    """Decode and check already-parsed TOML data (tests, and `--config` folders)."""
    return decode(data, CalendarConfig, file, check_calendar)


def load_calendar(source: Source | None = None) -> CalendarConfig:
    """calendar.toml with the active profile's `[calendar]` table merged in, checked."""
    return load("calendar.toml", CalendarConfig, source, check=check_calendar)
