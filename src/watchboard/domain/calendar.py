"""The working calendar: which days are working days, and time arithmetic over work hours.

Pure: built once from `CalendarConfig` (`watchboard.config.calendar`, the `calendar.toml`
data) and then only computes. Durations (`3wh`, `5wd`) are `watchboard.domain.durations`.

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

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar.constants import holidays as _pkg_holidays

from watchboard.config.calendar import CalendarConfig, check_calendar, parse_work_hours
from watchboard.domain.durations import Duration

# The years the installed chinesecalendar knows (it raises NotImplementedError outside them).
PACKAGE_YEARS: tuple[int, int] = (min(_pkg_holidays).year, max(_pkg_holidays).year)

# A working-day search that finds nothing in this many days means a broken config.
_MAX_SEARCH_DAYS = 366 * 5


# --- the calendar -------------------------------------------------------------------


class WorkCalendar:
    """Working days and work hours of one configuration; build once, query many times."""

    def __init__(self, cfg: CalendarConfig | None = None) -> None:
        cfg = cfg or CalendarConfig()
        check_calendar(cfg)  # a config built in code has not been through `load`
        self.cfg = cfg
        self.zone = ZoneInfo(cfg.timezone)
        self.periods = parse_work_hours(cfg.work_hours, "calendar.toml")
        self._extra_off = frozenset(cfg.extra_holidays)
        self._extra_on = frozenset(cfg.extra_workdays)
        self._years = {int(k): (frozenset(v.holidays), frozenset(v.workdays))
                       for k, v in cfg.years.items()}
        self._cache: dict[date, tuple[bool, bool]] = {}
        # A day's work periods as wall-clock instants: asked for again and again by every clock's
        # due and warning times (a restart computes those of every open clock).
        self._periods: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

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

    def _work_periods(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        hit = self._periods.get(d)
        if hit is None:
            hit = self._periods[d] = tuple(
                (datetime.combine(d, start),
                 datetime.combine(d + timedelta(days=1), time()) if end == time.max else datetime.combine(d, end))
                for start, end in self.periods)
        return hit

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
