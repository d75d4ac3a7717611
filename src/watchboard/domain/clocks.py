"""Clock rules of the deadlines service: which clocks a grade starts, when they fall due,
when to warn, how a rising grade tightens them, how far an extension may go.

Pure functions over `DeadlinesConfig` (deadlines.toml) and a `WorkCalendar`; the service
passes `learned_at` (when the duty room learned of the incident) and `now`.

Clock order (DESIGN.md §4.4) is `CLOCK_ORDER`: report_up, first_response, statement,
formal_reply, then the extra clocks a profile may set (simple_answer, first_handling), then
final. `final` is the cap no extension may pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import msgspec

from watchboard.config import ConfigError, ConfigSource, convert, load
from watchboard.domain.calendar import Duration, WorkCalendar, parse_duration, parse_hhmm
from watchboard.domain.report import GRADES

# The five clocks of DESIGN.md §4.4, with the extra clocks of profiles before `final`.
CLOCK_ORDER: tuple[str, ...] = (
    "report_up",       # report upward (003: I 2 h, II 4 h; 002: 2 h)
    "first_response",  # first response to the netizen's post (003: 3wh; 002: 3 h calendar)
    "statement",       # authoritative information / approved statement (003: 24 h; 000: 12 h)
    "formal_reply",    # formal answer (003: 5 working days)
    "simple_answer",   # extra, plan-002: a simple question answered within 18 h
    "first_handling",  # extra, plan-002: first handling and a reply within 1–2 working days
    "final",           # the cap: no extension may pass it (003: 10wd; 002: 5wd)
)
CORE_CLOCKS: tuple[str, ...] = ("report_up", "first_response", "statement", "formal_reply", "final")
OFF = "off"  # a profile sets a clock to "off" to drop a default one (TOML merge cannot delete)
OPEN_STATUSES = frozenset({"running", "extended"})


# --- config -------------------------------------------------------------------------


class WarningsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # "80%": when 80 % of the clock's time is used (work time for a working clock);
    # "30m": that long before the due time (calendar durations only).
    points: list[str] = msgspec.field(default_factory=lambda: ["80%", "30m"])


class SweepConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # A monitoring sweep must be recorded by each of these local times, every day.
    windows: list[str] = msgspec.field(default_factory=lambda: ["10:00", "18:00"])
    include_holidays: bool = True


def _default_grades() -> dict[str, dict[str, str]]:
    every = {"first_response": "3wh", "formal_reply": "5wd", "final": "10wd"}
    return {
        "I": {"report_up": "2h", "statement": "24h", **every},
        "II": {"report_up": "4h", "statement": "24h", **every},
        "III": dict(every),
        "IV": dict(every),
    }


class DeadlinesConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # grade → clock name → duration; values are typed loosely so a wrong type is reported
    # with its full key (msgspec writes dict keys as `[...]`).
    grades: dict[str, dict[str, Any]] = msgspec.field(default_factory=_default_grades)
    # Positive items (sentiment "positive") are answered and amplified: no clocks by default.
    positive_clocks: bool = False
    reminders_before_flag: int = 3
    warnings: WarningsConfig = msgspec.field(default_factory=WarningsConfig)
    sweep: SweepConfig = msgspec.field(default_factory=SweepConfig)

    def clocks_for(self, grade: str) -> list[tuple[str, Duration]]:
        """The clocks of `grade` in CLOCK_ORDER, parsed; [] for a grade with none."""
        table = self.grades.get(grade, {})
        return [(name, parse_duration(table[name])) for name in CLOCK_ORDER
                if name in table and table[name] != OFF]


_PERCENT = re.compile(r"^(\d{1,2})%$")


def parse_warning_point(text: str) -> float | Duration:
    """'80%' → 0.8 (fraction of the clock used); '30m' → Duration before due."""
    m = _PERCENT.match(text.strip())
    if m:
        value = int(m.group(1))
        if not 0 < value < 100:
            raise ValueError(f"{text!r} must be between 1% and 99%")
        return value / 100
    try:
        d = parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a warning point: write a share like '80%' or a "
                         "time before the due time like '30m'") from exc
    if d.basis != "calendar":
        raise ValueError(f"{text!r}: a time before the due time must be calendar time "
                         "('30m', '1h'), not working time")
    return d


def check_deadlines(cfg: DeadlinesConfig, file: str = "deadlines.toml") -> DeadlinesConfig:
    """The checks msgspec cannot do; ConfigError names file, key and the bad value."""
    for grade, table in cfg.grades.items():
        if grade not in GRADES:
            raise ConfigError(file, f"grades.{grade}", f"unknown grade key {grade!r}; "
                              f"use one of {', '.join(GRADES)}")
        for name, text in table.items():
            key = f"grades.{grade}.{name}"
            if name not in CLOCK_ORDER:
                raise ConfigError(file, key, f"unknown clock name {name!r}; known: "
                                  f"{', '.join(CLOCK_ORDER)}")
            if not isinstance(text, str):
                raise ConfigError(file, key, f"expected a duration string like '5wd' or 'off', got {text!r}")
            if text == OFF:
                continue
            try:
                parse_duration(text)
            except ValueError as exc:
                raise ConfigError(file, key, str(exc)) from exc
    for i, text in enumerate(cfg.warnings.points):
        try:
            parse_warning_point(text)
        except ValueError as exc:
            raise ConfigError(file, f"warnings.points[{i}]", str(exc)) from exc
    if cfg.reminders_before_flag < 1:
        raise ConfigError(file, "reminders_before_flag",
                          f"{cfg.reminders_before_flag} must be 1 or more")
    for i, text in enumerate(cfg.sweep.windows):
        if parse_hhmm(text) is None or text == "24:00":
            raise ConfigError(file, f"sweep.windows[{i}]", f"{text!r} is not a time like '10:00' "
                              "(HH:MM, 24-hour clock)")
    return cfg


def deadlines_from_data(data: dict, file: str = "deadlines.toml") -> DeadlinesConfig:
    """Decode and check already-parsed TOML data."""
    return check_deadlines(convert(data, DeadlinesConfig, file), file)


def load_deadlines(source: ConfigSource | None = None) -> DeadlinesConfig:
    """deadlines.toml with the active profile's `[deadlines]` table merged in, checked."""
    cfg = load("deadlines.toml", DeadlinesConfig, source)
    profile = (source or ConfigSource()).profile_name()
    shown = "deadlines.toml" if profile == "default" else f"deadlines.toml (with profiles/{profile}.toml)"
    return check_deadlines(cfg, shown)


# --- planning -----------------------------------------------------------------------


class PlannedClock(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    due_at: datetime  # aware, UTC
    basis: str  # working | calendar
    provisional: bool = False  # depends on a day of a year the calendar does not know
    duration: str = ""  # the configured duration, e.g. "3wh"


def plan_clocks(grade: str, learned_at: datetime, cfg: DeadlinesConfig, cal: WorkCalendar,
                sentiment: str = "negative") -> list[PlannedClock]:
    """The clocks `grade` starts for an incident learned of at `learned_at`, in CLOCK_ORDER."""
    if grade not in GRADES:
        raise ValueError(f"unknown grade {grade!r}; use one of {', '.join(GRADES)}")
    if sentiment == "positive" and not cfg.positive_clocks:
        return []
    out = []
    for name, duration in cfg.clocks_for(grade):
        due, provisional = cal.add(learned_at, duration)
        out.append(PlannedClock(name=name, due_at=due, basis=duration.basis,
                                provisional=provisional, duration=str(duration)))
    return out


class RunningClock(Protocol):
    """What `tighten` and `check_extension` read of a clock (views.ClockView fits)."""

    @property
    def name(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def status(self) -> str: ...


class ClockChange(msgspec.Struct, frozen=True, kw_only=True):
    """A clock to (re)start: `previous_due_at` None means a new clock."""

    name: str
    due_at: datetime
    basis: str
    provisional: bool = False
    previous_due_at: datetime | None = None


def tighten(running: Iterable[RunningClock], planned: Iterable[PlannedClock]) -> list[ClockChange]:
    """For a rising grade: new clocks to start and open clocks to bring forward, in order.

    A clock is only ever tightened, never loosened; a met, breached or cancelled clock is
    left alone (its fate is already recorded).
    """
    by_name = {c.name: c for c in running}
    changes = []
    for p in planned:
        current = by_name.get(p.name)
        if current is None:
            changes.append(ClockChange(name=p.name, due_at=p.due_at, basis=p.basis,
                                       provisional=p.provisional))
        elif current.status in OPEN_STATUSES and p.due_at < current.due_at:
            changes.append(ClockChange(name=p.name, due_at=p.due_at, basis=p.basis,
                                       provisional=p.provisional, previous_due_at=current.due_at))
    return changes


def settle_provisional(running: Iterable[RunningClock], provisional: Iterable[str],
                       planned: Iterable[PlannedClock]) -> list[ClockChange]:
    """After calendar.toml gains a year: open provisional clocks replanned from real data.

    `provisional` names the running clocks marked provisional. The firm time replaces the
    guess whichever way it moves (the guess was never a promise); unchanged firm-up of the
    same time is returned too, so the service can clear the provisional mark.
    """
    marked = set(provisional)
    by_name = {c.name: c for c in running}
    changes = []
    for p in planned:
        current = by_name.get(p.name)
        if current is None or p.name not in marked or current.status not in OPEN_STATUSES:
            continue
        if p.due_at != current.due_at or not p.provisional:
            changes.append(ClockChange(name=p.name, due_at=p.due_at, basis=p.basis,
                                       provisional=p.provisional, previous_due_at=current.due_at))
    return changes


def warning_times(start: datetime, due: datetime, cfg: DeadlinesConfig, *,
                  basis: str = "calendar", cal: WorkCalendar | None = None
                  ) -> list[tuple[str, datetime]]:
    """(point label, when) for each configured warning point strictly between start and due.

    "80%" of a working clock is 80 % of its work time (so it falls inside work hours);
    give `cal` for that. "30m" is always calendar time before the due time. Sorted by time;
    two points at the same instant keep the first configured.
    """
    out: dict[datetime, str] = {}
    for label in cfg.warnings.points:
        point = parse_warning_point(label)
        if isinstance(point, Duration):
            at = due.astimezone(UTC) - timedelta(seconds=point.seconds)
        elif basis == "working" and cal is not None:
            at, _ = cal.add_working_seconds(start, cal.working_seconds_between(start, due) * point)
        else:
            at = start.astimezone(UTC) + (due - start) * point
        if start < at < due:
            out.setdefault(at, label)
    return sorted(((label, at) for at, label in out.items()), key=lambda x: x[1])


def check_extension(clock: RunningClock, new_due: datetime, final_due: datetime | None) -> str | None:
    """None if `clock` may be extended to `new_due`; else a message saying why not."""
    if clock.name == "final":
        return "the final clock is the cap and cannot be extended"
    if clock.status not in OPEN_STATUSES:
        return f"clock {clock.name} is {clock.status}; only a running clock can be extended"
    if new_due.tzinfo is None:
        return f"new due time {new_due.isoformat()} has no time zone"
    if new_due <= clock.due_at:
        return (f"new due time {new_due.isoformat()} is not later than the current one "
                f"{clock.due_at.isoformat()}; an extension only moves a clock later")
    if final_due is not None and new_due > final_due:
        return (f"new due time {new_due.isoformat()} is past the final cap "
                f"{final_due.isoformat()}; no extension may pass it")
    return None


# --- `watchboard due` ---------------------------------------------------------------


class DueError(ValueError):
    """A bad input of the due calculator: `field` is "grade", "at" or "profile"."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def parse_at(text: str, zone: ZoneInfo) -> datetime:
    """ISO 8601 (offset optional) or 'YYYY-MM-DD HH:MM'; without an offset, in `zone`."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DueError("at", f"--at {text!r} is not a time: use ISO 8601 like "
                       "'2026-09-18T16:00+08:00' or 'YYYY-MM-DD HH:MM'") from None
    return at.replace(tzinfo=zone) if at.tzinfo is None else at


def due_table(grade: str, at: datetime | str, cfg: DeadlinesConfig, cal: WorkCalendar, *,
              profile: str = "default") -> list[dict[str, object]]:
    """Rows {"name", "due_at", "basis", "provisional"} in CLOCK_ORDER; `due_at` ISO 8601 in the
    calendar's zone with its offset. DueError names the bad grade or time."""
    if grade not in GRADES:
        raise DueError("grade", f"--grade {grade!r} is not a grade; use one of "
                       f"{', '.join(GRADES)} (profile {profile})")
    start = parse_at(at, cal.zone) if isinstance(at, str) else at
    if start.tzinfo is None:
        start = start.replace(tzinfo=cal.zone)
    return [{"name": c.name, "due_at": c.due_at.astimezone(cal.zone).isoformat(),
             "basis": c.basis, "provisional": c.provisional}
            for c in plan_clocks(grade, start, cfg, cal)]


def load_for_due(profile: str | None, source: ConfigSource | None = None
                 ) -> tuple[DeadlinesConfig, WorkCalendar]:
    """Config of `watchboard due --profile P`: DueError("profile") if P is unknown."""
    from watchboard.config import list_profiles
    from watchboard.domain.calendar import load_calendar

    base = source or ConfigSource()
    src = ConfigSource(config_dir=base.config_dir, profile=profile or base.profile)
    name = src.profile_name()
    if name != "default" and name not in {p.stem for p in list_profiles(src)}:
        known = ", ".join(["default", *(p.stem for p in list_profiles(src))])
        raise DueError("profile", f"--profile {name!r} is not a profile; known: {known}")
    return load_deadlines(src), WorkCalendar(load_calendar(src))
