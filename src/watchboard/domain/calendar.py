"""The working calendar: which days are working days, and time arithmetic over work hours.

Pure: built once from `CalendarConfig` (the `calendar.toml` data) and then only computes.

Which day is a working day, first rule that knows the day wins:
1. `extra_holidays` / `extra_workdays` in calendar.toml (single days, any year);
2. `[years.YYYY]` in calendar.toml: the year's full lists of holidays and make-up working
   days (调休) from the State Council notice; the package is not consulted for that year;
3. the `chinesecalendar` package (2004–2026 in 1.11.0), when `use_package` is on;
4. otherwise the year is *unknown*: Monday–Friday work, weekends off, and every due time
   that depends on such a day is marked provisional. Nothing here raises on a date it does
   not know.

How periods are counted (民法典 §201–203, DOMAIN.md §4):
- calendar durations are plain elapsed time (added in UTC, so a DST zone stays right);
- `Nwh`: work time counted only inside work hours; a start outside them counts from the
  next opening; the due time may be a closing time (12:00), never inside a break;
- `Nwd`: the start day is not counted; due at the close of the last work period on the
  Nth working day after the start day.
Work-hour arithmetic is done on local wall-clock times of the configured zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import msgspec
from chinese_calendar.constants import holidays as _pkg_holidays

from watchboard.config import ConfigError, ConfigSource, convert, load

# The years the installed chinesecalendar knows (it raises NotImplementedError outside them).
PACKAGE_YEARS: tuple[int, int] = (min(_pkg_holidays).year, max(_pkg_holidays).year)

# A working-day search that finds nothing in this many days means a broken config.
_MAX_SEARCH_DAYS = 366 * 5


# --- config -------------------------------------------------------------------------


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


_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> time | None:
    """'08:30' → time(8, 30); '24:00' → time.max (a period may end at midnight); None if bad."""
    if text == "24:00":
        return time.max
    m = _HHMM.match(text.strip())
    return time(int(m.group(1)), int(m.group(2))) if m else None


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


def check_calendar(cfg: CalendarConfig, file: str = "calendar.toml") -> CalendarConfig:
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
    return cfg


def calendar_from_data(data: dict, file: str = "calendar.toml") -> CalendarConfig:
    """Decode and check already-parsed TOML data (tests, and `--config` folders)."""
    return check_calendar(convert(data, CalendarConfig, file), file)


def load_calendar(source: ConfigSource | None = None) -> CalendarConfig:
    """calendar.toml with the active profile's `[calendar]` table merged in, checked."""
    cfg = load("calendar.toml", CalendarConfig, source)
    return check_calendar(cfg, "calendar.toml")


# --- durations ----------------------------------------------------------------------

Unit = Literal["s", "m", "h", "d", "wh", "wd"]
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+)(wh|wd|s|m|h|d)$")


@dataclass(frozen=True)
class Duration:
    """A clock's length: calendar (`s`, `m`, `h`, `d`), working hours (`wh`), working days (`wd`)."""

    amount: int
    unit: Unit

    @property
    def basis(self) -> Literal["calendar", "working"]:
        return "working" if self.unit in ("wh", "wd") else "calendar"

    @property
    def seconds(self) -> int:
        """Length in seconds: elapsed time for calendar units, work time for `wh`; not for `wd`."""
        if self.unit == "wd":
            raise ValueError("a duration in working days has no fixed length in seconds")
        return self.amount * (3600 if self.unit == "wh" else _UNIT_SECONDS[self.unit])

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_duration(text: str) -> Duration:
    """'45s', '30m', '2h', '1d' (calendar), '3wh' (working hours), '5wd' (working days)."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration string like '2h', '3wh' or '5wd'")
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a duration: write a whole number and a unit, "
                         "'45s', '30m', '2h', '1d' (calendar), '3wh' (working hours) "
                         "or '5wd' (working days)")
    amount = int(m.group(1))
    if amount == 0:
        raise ValueError(f"{text!r} is zero; a clock needs a positive duration")
    return Duration(amount, m.group(2))  # type: ignore[arg-type]


# --- the calendar -------------------------------------------------------------------


class WorkCalendar:
    """Working days and work hours of one configuration; build once, query many times."""

    def __init__(self, cfg: CalendarConfig | None = None) -> None:
        cfg = check_calendar(cfg or CalendarConfig())
        self.cfg = cfg
        self.zone = ZoneInfo(cfg.timezone)
        self.periods = parse_work_hours(cfg.work_hours, "calendar.toml")
        self._extra_off = frozenset(cfg.extra_holidays)
        self._extra_on = frozenset(cfg.extra_workdays)
        self._years = {int(k): (frozenset(v.holidays), frozenset(v.workdays))
                       for k, v in cfg.years.items()}
        self._cache: dict[date, tuple[bool, bool]] = {}

    # days

    def day_status(self, d: date) -> tuple[bool, bool]:
        """(is it a working day, is that known from data rather than weekends-only guessing)."""
        hit = self._cache.get(d)
        if hit is None:
            hit = self._cache[d] = self._status(d)
        return hit

    def _status(self, d: date) -> tuple[bool, bool]:
        if d in self._extra_off:
            return False, True
        if d in self._extra_on:
            return True, True
        weekday = d.weekday() < 5
        year = self._years.get(d.year)
        if year is not None:
            off, on = year
            return (d in on or (weekday and d not in off)), True
        if self.cfg.use_package and PACKAGE_YEARS[0] <= d.year <= PACKAGE_YEARS[1]:
            return bool(chinese_calendar.is_workday(d)), True
        return weekday, False

    def is_working_day(self, d: date) -> bool:
        return self.day_status(d)[0]

    def is_known(self, d: date) -> bool:
        """False for a day of a year neither calendar.toml nor the package covers."""
        return self.day_status(d)[1]

    def covered_years(self) -> set[int]:
        years = set(self._years)
        if self.cfg.use_package:
            years |= set(range(PACKAGE_YEARS[0], PACKAGE_YEARS[1] + 1))
        return years

    # times

    def local(self, at: datetime) -> datetime:
        """`at` as a naive wall-clock time in the configured zone (aware input required)."""
        if at.tzinfo is None:
            raise ValueError(f"{at.isoformat()} has no time zone; give an aware datetime")
        return at.astimezone(self.zone).replace(tzinfo=None)

    def aware(self, wall: datetime) -> datetime:
        """A naive wall-clock time of the configured zone → aware UTC."""
        return wall.replace(tzinfo=self.zone).astimezone(UTC)

    def _work_periods(self, d: date) -> Iterator[tuple[datetime, datetime]]:
        for start, end in self.periods:
            end_dt = (datetime.combine(d + timedelta(days=1), time()) if end == time.max
                      else datetime.combine(d, end))
            yield datetime.combine(d, start), end_dt

    def close_of(self, d: date) -> datetime:
        """The wall-clock end of work on day `d` (17:30 by default)."""
        return max(end for _start, end in self._work_periods(d))

    def add_working_seconds(self, start: datetime, seconds: float) -> tuple[datetime, bool]:
        """`start` + work time; (due as aware UTC, provisional). Lands on a close, not after a break."""
        t = self.local(start)
        remaining = timedelta(seconds=seconds)
        provisional = False
        d = t.date()
        for _ in range(_MAX_SEARCH_DAYS):
            working, known = self.day_status(d)
            provisional = provisional or not known
            if working:
                for p_start, p_end in self._work_periods(d):
                    if t >= p_end:
                        continue
                    seg_start = max(t, p_start)
                    available = p_end - seg_start
                    if remaining <= available:
                        return self.aware(seg_start + remaining), provisional
                    remaining -= available
            d += timedelta(days=1)
        raise ValueError(f"no working time found within {_MAX_SEARCH_DAYS} days of "
                         f"{start.isoformat()}: check calendar.toml")

    def add_working_hours(self, start: datetime, hours: float) -> tuple[datetime, bool]:
        return self.add_working_seconds(start, hours * 3600)

    def add_working_days(self, start: datetime, n: int) -> tuple[datetime, bool]:
        """Close of the Nth working day after the start day (the start day is not counted)."""
        d = self.local(start).date()
        provisional = False
        counted = 0
        for _ in range(_MAX_SEARCH_DAYS):
            if counted >= n:
                return self.aware(self.close_of(d)), provisional
            d += timedelta(days=1)
            working, known = self.day_status(d)
            provisional = provisional or not known
            counted += working
        raise ValueError(f"no {n} working days found within {_MAX_SEARCH_DAYS} days of "
                         f"{start.isoformat()}: check calendar.toml")

    def add(self, start: datetime, duration: Duration) -> tuple[datetime, bool]:
        """`start` + `duration` → (due as aware UTC, provisional)."""
        if start.tzinfo is None:
            raise ValueError(f"{start.isoformat()} has no time zone; give an aware datetime")
        if duration.unit == "wd":
            return self.add_working_days(start, duration.amount)
        if duration.unit == "wh":
            return self.add_working_seconds(start, duration.seconds)
        return start.astimezone(UTC) + timedelta(seconds=duration.seconds), False

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Work time between two instants (0 if b is not after a)."""
        ta, tb = self.local(a), self.local(b)
        total = timedelta()
        d = ta.date()
        while d <= tb.date():
            if self.is_working_day(d):
                for p_start, p_end in self._work_periods(d):
                    lo, hi = max(ta, p_start), min(tb, p_end)
                    if hi > lo:
                        total += hi - lo
            d += timedelta(days=1)
        return total.total_seconds()


# --- coverage -----------------------------------------------------------------------


def covered_until(cal: WorkCalendar) -> date:
    """The last day up to which every year is known (data, not guessing); date.min if none."""
    years = cal.covered_years()
    if not years:
        return date.min
    year = min(years)
    while year + 1 in years:
        year += 1
    return date(year, 12, 31)


def coverage_warning(cal: WorkCalendar, today: date, lang: str = "en") -> str | None:
    """A notice from `warn_days_before_end` days before the known calendar ends, else None."""
    until = covered_until(cal)
    if until == date.min:
        missing = today.year
    elif today < until - timedelta(days=cal.cfg.warn_days_before_end):
        return None
    else:
        missing = until.year + 1
    shown = "nothing" if until == date.min else until.isoformat()
    # One line on an 80-column board: what to do first, then why.
    if lang == "zh":
        return (f"请按国务院办公厅通知将 {missing} 年放假调休加入 calendar.toml"
                f"（日历只到 {shown}，{missing} 年的时限暂为估算）")
    return (f"add {missing} from the State Council notice to calendar.toml (calendar known to "
            f"{shown}; due times in {missing} are provisional)")
