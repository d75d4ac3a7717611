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
from dataclasses import dataclass
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

# Where a clock's period counts from (DOMAIN.md §4), each falling back to the next known
# moment: the post (网民发帖后), the monitor's observation (知晓发帖内容后), the report's arrival,
# or the moment the incident first reached a grade that has the clock (a rising grade starts
# its new clocks then).
FROM_CHOICES: tuple[str, ...] = ("posted", "observed", "reported", "graded")
FALLBACKS: dict[str, tuple[str, ...]] = {
    "posted": ("posted", "observed", "reported"),
    "observed": ("observed", "reported"),
    "reported": ("reported",),
    "graded": ("graded", "reported"),
}
DEFAULT_FROM = "observed"  # a bare period counts from when the duty room could know
# The plans allow a longer time only for handling (seed 002 三.5 承诺办理时限, seed 003 四(三)
# 确需延长办理时间): these may be extended when a clock does not say.
EXTENDABLE_BY_DEFAULT = frozenset({"formal_reply", "first_handling"})
CLOCK_KEYS = ("period", "from", "extendable", "seed_ref", "quote")
# Reminder slips repeat every `remind_every` while a breached task stays undone.
REMIND_MIN_SECONDS = 15
REMIND_MAX = "1wd"


class WarningsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # "80%": when 80 % of the clock's time is used (work time for a working clock);
    # "30m": that long before the due time (calendar durations only).
    points: list[str] = msgspec.field(default_factory=lambda: ["80%", "30m"])


class SweepConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # A monitoring sweep must be recorded by each of these local times, every day.
    windows: list[str] = msgspec.field(default_factory=lambda: ["10:00", "18:00"])
    include_holidays: bool = True


def _default_grades() -> dict[str, dict[str, Any]]:
    every: dict[str, Any] = {"first_response": "3wh", "formal_reply": "5wd", "final": "10wd"}
    graded = {"from": "graded"}
    return {
        "I": {"report_up": {"period": "2h", **graded}, "statement": {"period": "24h", **graded}, **every},
        "II": {"report_up": {"period": "4h", **graded}, "statement": {"period": "24h", **graded}, **every},
        "III": dict(every),
        "IV": dict(every),
    }


@dataclass(frozen=True)
class ClockRule:
    """One clock of one grade, as configured: its period, where it counts from, and whether
    the plan lets it be extended; `seed_ref`/`quote` say which plan words it implements."""

    name: str
    duration: Duration
    counted_from: str = DEFAULT_FROM
    extendable: bool = False
    seed_ref: str = ""
    quote: str = ""

    @property
    def period(self) -> str:
        return str(self.duration)


def rule_from(name: str, value: Any) -> ClockRule:
    """A `deadlines.toml` clock value — `"3wh"` or `{period, from, extendable, seed_ref, quote}` —
    as a ClockRule; ValueError says what is wrong (the caller names file and key)."""
    if isinstance(value, str):
        return ClockRule(name=name, duration=parse_duration(value), extendable=name in EXTENDABLE_BY_DEFAULT)
    if not isinstance(value, dict):
        raise ValueError(f"expected a period like '5wd', 'off', or a table "
                         f"{{ period = \"3h\", from = \"posted\" }}, got {value!r}")
    unknown = [k for k in value if k not in CLOCK_KEYS]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; a clock table takes {', '.join(CLOCK_KEYS)}")
    if "period" not in value:
        raise ValueError("a clock table needs `period`, e.g. { period = \"3h\", from = \"posted\" }")
    counted_from = value.get("from", DEFAULT_FROM)
    if counted_from not in FROM_CHOICES:
        raise ValueError(f"from = {counted_from!r} is not one of {', '.join(FROM_CHOICES)}")
    extendable = value.get("extendable", name in EXTENDABLE_BY_DEFAULT)
    if not isinstance(extendable, bool):
        raise ValueError(f"extendable = {extendable!r} must be true or false")
    for key in ("seed_ref", "quote"):
        if not isinstance(value.get(key, ""), str):
            raise ValueError(f"{key} = {value[key]!r} must be a string")
    return ClockRule(name=name, duration=parse_duration(value["period"]), counted_from=counted_from,
                     extendable=extendable, seed_ref=value.get("seed_ref", ""), quote=value.get("quote", ""))


class DeadlinesConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # grade → clock name → period or table; values are typed loosely so a wrong type is
    # reported with its full key (msgspec writes dict keys as `[...]`).
    grades: dict[str, dict[str, Any]] = msgspec.field(default_factory=_default_grades)
    # Positive items (sentiment "positive") are answered and amplified: no clocks by default.
    positive_clocks: bool = False
    reminders_before_flag: int = 3
    remind_every: str = "1wd"
    warnings: WarningsConfig = msgspec.field(default_factory=WarningsConfig)
    sweep: SweepConfig = msgspec.field(default_factory=SweepConfig)

    def rules_for(self, grade: str) -> list[ClockRule]:
        """The clocks of `grade` in CLOCK_ORDER; [] for a grade with none."""
        table = self.grades.get(grade, {})
        return [rule_from(name, table[name]) for name in CLOCK_ORDER
                if name in table and table[name] != OFF]

    def rule(self, grade: str | None, name: str) -> ClockRule | None:
        return next((r for r in self.rules_for(grade) if r.name == name), None) if grade else None

    def clocks_for(self, grade: str) -> list[tuple[str, Duration]]:
        return [(r.name, r.duration) for r in self.rules_for(grade)]

    def remind_period(self) -> Duration:
        return parse_duration(self.remind_every)


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


def check_remind_every(text: str) -> Duration:
    """Any clock duration from '15s' to '1wd' (a working day at most: seed 002 reminds a unit
    about an unfixed task; a week between slips would let three of them take a month)."""
    d = parse_duration(text)
    if d.unit == "wd":
        if d.amount != 1:
            raise ValueError(f"{text!r} is more than '1wd'; reminders repeat at least every working day")
    elif d.unit == "wh":
        if d.amount > 8:
            raise ValueError(f"{text!r} is more than a working day; use '1wd' at most")
    elif d.seconds < REMIND_MIN_SECONDS:
        raise ValueError(f"{text!r} is less than '15s'")
    elif d.seconds > 86400:
        raise ValueError(f"{text!r} is more than a day; use '1wd' or '24h' at most")
    return d


def check_deadlines(cfg: DeadlinesConfig, file: str = "deadlines.toml") -> DeadlinesConfig:
    """The checks msgspec cannot do; ConfigError names file, key and the bad value."""
    for grade, table in cfg.grades.items():
        if grade not in GRADES:
            raise ConfigError(file, f"grades.{grade}", f"unknown grade key {grade!r}; "
                              f"use one of {', '.join(GRADES)}")
        for name, value in table.items():
            key = f"grades.{grade}.{name}"
            if name not in CLOCK_ORDER:
                raise ConfigError(file, key, f"unknown clock name {name!r}; known: "
                                  f"{', '.join(CLOCK_ORDER)}")
            if value == OFF:
                continue
            try:
                rule_from(name, value)
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
    try:
        check_remind_every(cfg.remind_every)
    except ValueError as exc:
        raise ConfigError(file, "remind_every", str(exc)) from exc
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


def plan_set_clocks(source: ConfigSource | None = None) -> dict[str, set[str]]:
    """grade → the clocks the active profile's own file sets (its plan's words); the rest of
    what it runs is deadlines.toml's defaults. The default profile sets none of its own."""
    data, _ = (source or ConfigSource()).profile_data()
    grades = data.get("deadlines", {}).get("grades", {}) if isinstance(data.get("deadlines"), dict) else {}
    return {g: set(t) for g, t in grades.items() if isinstance(t, dict)}


# --- planning -----------------------------------------------------------------------


class Moments(msgspec.Struct, frozen=True, kw_only=True):
    """The moments an incident's clocks may count from; None where nobody said."""

    reported: datetime
    posted: datetime | None = None
    observed: datetime | None = None
    graded: datetime | None = None

    def start(self, counted_from: str) -> tuple[datetime, str]:
        """(the moment, which one it is after the fall-backs of FALLBACKS)."""
        for name in FALLBACKS[counted_from]:
            at = getattr(self, name)
            if at is not None:
                return at, name
        return self.reported, "reported"


class PlannedClock(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    due_at: datetime  # aware, UTC
    basis: str  # working | calendar
    provisional: bool = False  # depends on a day of a year the calendar does not know
    duration: str = ""  # the configured period, e.g. "3wh"
    start_at: datetime | None = None
    counted_from: str = ""  # the moment actually used (after fall-backs)
    extendable: bool = False


def plan_clocks(grade: str, moments: Moments | datetime, cfg: DeadlinesConfig, cal: WorkCalendar,
                sentiment: str = "negative") -> list[PlannedClock]:
    """The clocks `grade` starts, in CLOCK_ORDER. A bare datetime stands for every moment."""
    if grade not in GRADES:
        raise ValueError(f"unknown grade {grade!r}; use one of {', '.join(GRADES)}")
    if isinstance(moments, datetime):
        moments = Moments(reported=moments, graded=moments)
    if sentiment == "positive" and not cfg.positive_clocks:
        return []
    out = []
    for rule in cfg.rules_for(grade):
        start, used = moments.start(rule.counted_from)
        due, provisional = cal.add(start, rule.duration)
        out.append(PlannedClock(name=rule.name, due_at=due, basis=rule.duration.basis,
                                provisional=provisional, duration=rule.period,
                                start_at=start.astimezone(UTC), counted_from=used,
                                extendable=rule.extendable))
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
    start_at: datetime | None = None
    counted_from: str = ""
    extendable: bool = False
    duration: str = ""


def _change(p: PlannedClock, previous: datetime | None = None) -> ClockChange:
    return ClockChange(name=p.name, due_at=p.due_at, basis=p.basis, provisional=p.provisional,
                       previous_due_at=previous, start_at=p.start_at, counted_from=p.counted_from,
                       extendable=p.extendable, duration=p.duration)


def tighten(running: Iterable[RunningClock], planned: Iterable[PlannedClock]) -> list[ClockChange]:
    """For a rising grade: new clocks to start and open clocks to bring forward, in order.

    A clock is only ever tightened, never loosened; a met or breached clock is left alone
    (its fate is already recorded). A clock cancelled because the grade was lowered starts
    afresh when a grade that has it returns.
    """
    by_name = {c.name: c for c in running}
    changes = []
    for p in planned:
        current = by_name.get(p.name)
        if current is None or current.status == "cancelled":
            changes.append(_change(p))
        elif current.status in OPEN_STATUSES and p.due_at < current.due_at:
            changes.append(_change(p, current.due_at))
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
            changes.append(_change(p, current.due_at))
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


NOT_EXTENDABLE = ("the plans allow a longer time only for handling — seed 002 三.5 "
                  "(暂时不能办理的…承诺办理时限) and seed 003 四(三) (对确需延长办理时间的,应当作出说明)")


def check_extension(clock: RunningClock, new_due: datetime, final_due: datetime | None, *,
                    extendable: bool = True, zone: ZoneInfo | None = None) -> str | None:
    """None if `clock` may be extended to `new_due`; else a message saying why not."""
    def shown(dt: datetime) -> str:
        return dt.astimezone(zone).strftime("%Y-%m-%d %H:%M") if zone else dt.isoformat()

    if clock.name == "final":
        return "the final clock is the cap and cannot be extended"
    if not extendable:
        return f"clock {clock.name} cannot be extended: {NOT_EXTENDABLE}"
    if clock.status not in OPEN_STATUSES:
        return f"clock {clock.name} is {clock.status}; only a running clock can be extended"
    if new_due.tzinfo is None:
        return f"new due time {new_due.isoformat()} has no time zone"
    if new_due <= clock.due_at:
        return (f"new due time {shown(new_due)} is not later than the current one "
                f"{shown(clock.due_at)}; an extension only moves a clock later")
    if final_due is not None and new_due > final_due:
        return (f"new due time {shown(new_due)} is past the final cap "
                f"{shown(final_due)}; no extension may pass it")
    return None


# --- `watchboard due` ---------------------------------------------------------------


class DueError(ValueError):
    """A bad input of the due calculator: `field` is "grade", "at" or "profile"."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def parse_at(text: str, zone: ZoneInfo, field: str = "at") -> datetime:
    """ISO 8601 (offset optional) or 'YYYY-MM-DD HH:MM'; without an offset, in `zone`."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DueError(field, f"--{field} {text!r} is not a time: use ISO 8601 like "
                       "'2026-09-18T16:00+08:00' or 'YYYY-MM-DD HH:MM'") from None
    return at.replace(tzinfo=zone) if at.tzinfo is None else at


def due_table(grade: str, at: datetime | str, cfg: DeadlinesConfig, cal: WorkCalendar, *,
              profile: str = "default", posted: datetime | str | None = None,
              observed: datetime | str | None = None, collapse: dict[str, str] | None = None,
              plan_set: dict[str, set[str]] | None = None) -> list[dict[str, object]]:
    """Rows {name, due_at, basis, from, start, extendable, source, provisional} in CLOCK_ORDER.

    `at` is when the report arrived (reported, and graded: `due` assumes the grade was known
    on arrival); `posted`/`observed` when the item appeared and was seen. `collapse` is the
    profile's grade collapse (a plan-001 II is run as its I); `plan_set` the clocks the
    profile's own file sets (`source` "plan"), the rest are defaults. Times ISO 8601 in the
    calendar's zone. DueError names the bad grade or time.
    """
    if grade not in GRADES:
        raise DueError("grade", f"--grade {grade!r} is not a grade; use one of "
                       f"{', '.join(GRADES)} (profile {profile})")
    run_as = (collapse or {}).get(grade, grade)

    def when(value: datetime | str | None, field: str) -> datetime | None:
        if value is None:
            return None
        t = parse_at(value, cal.zone, field) if isinstance(value, str) else value
        return t.replace(tzinfo=cal.zone) if t.tzinfo is None else t

    start = when(at, "at")
    assert start is not None
    moments = Moments(reported=start, graded=start, posted=when(posted, "posted"),
                      observed=when(observed, "observed"))
    if moments.posted is not None and moments.observed is not None and moments.posted > moments.observed:
        raise DueError("posted", "--posted is after --observed: an item is seen after it appeared")
    for name in ("posted", "observed"):
        t = getattr(moments, name)
        if t is not None and t > start:
            raise DueError(name, f"--{name} is after --at (when the report arrived)")
    own = (plan_set or {}).get(run_as, set())
    zone = cal.zone
    return [{"name": c.name, "due_at": c.due_at.astimezone(zone).isoformat(), "basis": c.basis,
             "from": c.counted_from, "start": c.start_at.astimezone(zone).isoformat() if c.start_at else None,
             "extendable": c.extendable, "source": "plan" if c.name in own else "default",
             "period": c.duration, "grade": run_as, "provisional": c.provisional,
             **({"on_arrival": True} if c.due_at <= start else {})}
            for c in plan_clocks(run_as, moments, cfg, cal)]


def load_for_due(profile: str | None, source: ConfigSource | None = None
                 ) -> tuple[DeadlinesConfig, WorkCalendar]:
    """Config of `watchboard due --profile P`: DueError("profile") if P is unknown."""
    from watchboard.domain.calendar import load_calendar

    src = due_source(profile, source)
    return load_deadlines(src), WorkCalendar(load_calendar(src))


def due_source(profile: str | None, source: ConfigSource | None = None) -> ConfigSource:
    """The config source of profile P; DueError("profile") if P is unknown."""
    from watchboard.config import list_profiles

    base = source or ConfigSource()
    src = ConfigSource(config_dir=base.config_dir, profile=profile or base.profile)
    name = src.profile_name()
    if name != "default" and name not in {p.stem for p in list_profiles(src)}:
        known = ", ".join(["default", *(p.stem for p in list_profiles(src))])
        raise DueError("profile", f"--profile {name!r} is not a profile; known: {known}")
    return src
