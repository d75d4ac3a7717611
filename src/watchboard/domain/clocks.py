"""Clock rules of the deadlines service: which clocks a grade starts, when they fall due,
when to warn, how a rising grade tightens them, how far an extension may go.

Pure functions over `DeadlinesConfig` (deadlines.toml) and a `WorkCalendar`; the service
passes `learned_at` (when the duty room learned of the incident) and `now`.

Clock order (DESIGN.md §4.4) is config's `CLOCK_ORDER`: report_up, first_response, statement,
formal_reply, then the extra clocks a profile may set (simple_answer, first_handling), then
final. `final` is the cap no extension may pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import msgspec

from watchboard.board.i18n import named
from watchboard.config.deadlines import DeadlinesConfig, parse_warning_point
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.durations import Duration
from watchboard.domain.errors import Invalid
from watchboard.domain.report import GRADES

# The core clocks of DESIGN.md §4.4 (the order of all clocks is config's `CLOCK_ORDER`).
CORE_CLOCKS: tuple[str, ...] = ("report_up", "first_response", "statement", "formal_reply", "final")
OPEN_STATUSES = frozenset({"running", "extended"})
# Where a clock counts from (`from` in deadlines.toml, one of FROM_CHOICES), falling back to
# the next moment known: a report without a post time counts from its observation, and so on.
FALLBACKS: dict[str, tuple[str, ...]] = {
    "posted": ("posted", "observed", "reported"),
    "observed": ("observed", "reported"),
    "reported": ("reported",),
    "graded": ("graded", "reported"),
}


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
    unit: str = ""  # a task's clock: the unit it was handed to (its slips go there)


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


# The plans' sections are cited as the plans number them (seed 002 三.5), in either language.
NOT_EXTENDABLE = ("the plans allow a longer time only for handling — seed 002 三.5 (a promised "
                  "time for what cannot be handled at once) and seed 003 四(三) (a longer time "
                  "must be explained)")
NOT_EXTENDABLE_ZH = ("预案只允许延长办理时限——预案 002 三.5（暂时不能办理的…承诺办理时限）、"
                     "预案 003 四(三)（对确需延长办理时间的,应当作出说明）")


def check_extension(clock: RunningClock, new_due: datetime, final_due: datetime | None, *,
                    extendable: bool = True, zone: ZoneInfo | None = None) -> str | None:
    """None if `clock` may be extended to `new_due`; else a message saying why not."""
    refusal = extension_refusal(clock, new_due, final_due, extendable=extendable, zone=zone)
    return refusal[0] if refusal is not None else None


def extension_refusal(clock: RunningClock, new_due: datetime, final_due: datetime | None, *,
                      extendable: bool = True, zone: ZoneInfo | None = None) -> tuple[str, str] | None:
    """None if `clock` may be extended to `new_due`; else why not, (in English, in Chinese)."""
    def shown(dt: datetime) -> str:
        return dt.astimezone(zone).strftime("%Y-%m-%d %H:%M") if zone else dt.isoformat()

    name_zh = named("clock", clock.name, "zh")
    if clock.name == "final":
        return ("the final clock is the cap and cannot be extended",
                "“最终时限”是总时限，不能延期")
    if not extendable:
        return (f"clock {clock.name} cannot be extended: {NOT_EXTENDABLE}",
                f"时限“{name_zh}”不能延期：{NOT_EXTENDABLE_ZH}")
    if clock.status not in OPEN_STATUSES:
        return (f"clock {clock.name} is {clock.status}; only a running clock can be extended",
                f"时限“{name_zh}”{named('clock.status', clock.status, 'zh')}；只有计时中的时限可以延期")
    if new_due.tzinfo is None:
        return (f"new due time {new_due.isoformat()} has no time zone",
                f"新的截止时间 {new_due.isoformat()} 未注明时区")
    if new_due <= clock.due_at:
        return (f"new due time {shown(new_due)} is not later than the current one "
                f"{shown(clock.due_at)}; an extension only moves a clock later",
                f"新的截止时间 {shown(new_due)} 不晚于现截止时间 {shown(clock.due_at)}；延期只能推后")
    if final_due is not None and new_due > final_due:
        return (f"new due time {shown(new_due)} is past the final cap "
                f"{shown(final_due)}; no extension may pass it",
                f"新的截止时间 {shown(new_due)} 晚于最终时限 {shown(final_due)}；延期不得超过最终时限")
    return None


# --- `watchboard due` ---------------------------------------------------------------


def parse_at(text: str, zone: ZoneInfo, field: str = "at") -> datetime:
    """ISO 8601 (offset optional) or 'YYYY-MM-DD HH:MM'; without an offset, in `zone`."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(field, f"--{field} {text!r} is not a time: use ISO 8601 like "
                      "'2026-09-18T16:00+08:00' or 'YYYY-MM-DD HH:MM'",
                      zh=f"`--{field}` {text!r} 不是有效时间：请写成 ISO 8601 格式（如 '2026-09-18T16:00+08:00'）"
                         "或 'YYYY-MM-DD HH:MM'") from None
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
    calendar's zone. `Invalid` names the bad grade or time ("grade", "at", "posted", "observed").
    """
    if grade not in GRADES:
        raise Invalid("grade", f"--grade {grade!r} is not a grade; use one of "
                      f"{', '.join(GRADES)} (profile {profile})",
                      zh=f"`--grade` {grade!r} 不是有效级别；可选：{'、'.join(GRADES)}（预案配置 `{profile}`）")
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
        raise Invalid("posted", "--posted is after --observed: an item is seen after it appeared",
                      zh="`--posted` 晚于 `--observed`：信息须先发布才能被发现")
    for name in ("posted", "observed"):
        t = getattr(moments, name)
        if t is not None and t > start:
            raise Invalid(name, f"--{name} is after --at (when the report arrived)",
                          zh=f"`--{name}` 晚于 `--at`（接报时间）")
    own = (plan_set or {}).get(run_as, set())
    zone = cal.zone
    return [{"name": c.name, "due_at": c.due_at.astimezone(zone).isoformat(), "basis": c.basis,
             "from": c.counted_from, "start": c.start_at.astimezone(zone).isoformat() if c.start_at else None,
             "extendable": c.extendable, "source": "plan" if c.name in own else "default",
             "period": c.duration, "grade": run_as, "provisional": c.provisional,
             **({"on_arrival": True} if c.due_at <= start else {})}
            for c in plan_clocks(run_as, moments, cfg, cal)]
