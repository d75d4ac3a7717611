"""Every figure of the three reports, as pure functions of the folded history and the period.

Figures hold ids (units, grades, clocks, stages), never display names: the document puts
names on them in one language, and `--format json` prints them as they are, with the names
beside them. Times are aware datetimes in the configured zone.

How a clock is counted (the weekly circular and the daily report agree by construction):

- met on time — `clock.met` before its due time: counted when it was met, for the unit in
  charge then;
- breached — `clock.breached`: counted when the breach was recorded, for the unit in charge
  at the due time; "met late" if `done` came later (by `as_of`), else still undone;
- late on arrival — breached at once because the item was older than its period: counted
  apart (the delay happened under monitoring, before the unit had it) and left out of the
  unit's on-time rate;
- running, extended and cancelled clocks are not settled and count nowhere.

On-time rate = on time / (on time + met late + breached), one decimal; None when nothing fell
due.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import msgspec

from watchboard.config.grading import TRADITIONAL_MEDIA
from watchboard.domain import events as ev
from watchboard.domain.report import STAGES
from watchboard.reports.model import SERVICE_ACTORS, ClockRecord, History, IncidentRecord
from watchboard.reports.period import Period

UNASSIGNED = "unassigned"  # the owner of an incident nobody owns yet (as deadlines names it)
UNGRADED = "ungraded"
NOTABLE_MAX = 20
NOTABLE_MEDIA = frozenset({"city", "provincial", "national"})
# Platforms that are mainstream media whatever the level (domain.report no longer names them).
MAINSTREAM_PLATFORMS = frozenset({"news", "tv", "newspaper", "radio"})
OPEN_STAGES: tuple[str, ...] = tuple(s for s in STAGES if s != "closed")


@dataclass(frozen=True)
class Ctx:
    """What the figures need besides the events: the zone, the profile's grades (worst first),
    the units in units.toml order, and the reposts that make a mention notable."""

    zone: tzinfo
    grades: tuple[str, ...] = ("I", "II", "III", "IV")
    unit_order: tuple[str, ...] = ()
    notable_reposts: int = 100
    calendar: Any = None  # the working calendar (WorkCalendar) of calendar.toml: supervision owed

    def loc(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def loc_opt(self, at: datetime | None) -> datetime | None:
        return None if at is None else at.astimezone(self.zone)

    def unit_key(self, unit: str) -> tuple[int, str]:
        order = self.unit_order
        return (order.index(unit), "") if unit in order else (len(order) + (unit == UNASSIGNED), unit)

    def grade_keys(self, seen: set[str]) -> list[str]:
        """The profile's grades, then any other grade the stream holds, then `ungraded`."""
        return [*self.grades, *sorted(seen - set(self.grades) - {UNGRADED}), UNGRADED]


class Struct(msgspec.Struct, kw_only=True):
    pass


def minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 1)


def title_of(r: IncidentRecord) -> str:
    return r.title or r.id


def _owner(r: IncidentRecord) -> str:
    return r.owner or UNASSIGNED


# --- the shared rows ---------------------------------------------------------------------


class IncidentRow(Struct):
    id: str
    title: str
    grade: str
    owner: str
    stage: str
    reported_at: datetime | None


class SlipRow(Struct):
    at: datetime
    unit: str
    incident_id: str
    title: str
    clock: str
    count: int


class Outcome(Struct):
    due: int = 0  # on_time + met_late + breached (late on arrival left out)
    on_time: int = 0
    on_time_pct: float | None = None
    met_late: int = 0
    breached: int = 0  # breached and not met by as_of
    on_arrival: int = 0


def _incident_row(r: IncidentRecord) -> IncidentRow:
    return IncidentRow(id=r.id, title=title_of(r), grade=r.grade or UNGRADED, owner=_owner(r), stage=r.stage,
                       reported_at=r.reported_at)


def _by_grade(rows: list[IncidentRow], ctx: Ctx) -> dict[str, int]:
    counts = {g: 0 for g in ctx.grade_keys({r.grade for r in rows})}
    for row in rows:
        counts[row.grade] += 1
    return counts


def _new_in(history: History, period: Period, ctx: Ctx) -> list[IncidentRow]:
    rows = [_incident_row(r) for r in history.incidents.values() if period.contains(r.reported_at)]
    for row in rows:
        row.reported_at = ctx.loc_opt(row.reported_at)
    return sorted(rows, key=lambda r: (r.reported_at, r.id))


# --- daily: 每日舆情汇报 -------------------------------------------------------------------


class NewIncidents(Struct):
    total: int
    by_grade: dict[str, int]
    items: list[IncidentRow]


def new_incidents(history: History, period: Period, ctx: Ctx) -> NewIncidents:
    rows = _new_in(history, period, ctx)
    return NewIncidents(total=len(rows), by_grade=_by_grade(rows, ctx), items=rows)


class OwnerStageRow(Struct):
    owner: str
    stages: dict[str, int]
    total: int


class OpenIncidents(Struct):
    total: int
    stages: list[str]
    by_stage: dict[str, int]
    rows: list[OwnerStageRow]
    items: list[IncidentRow]


def open_incidents(history: History, period: Period, ctx: Ctx) -> OpenIncidents:
    """Incidents reported by `as_of` and not closed then, by owner and stage."""
    items = [_incident_row(r) for r in history.incidents.values()
             if not r.closed and (r.reported_at is None or r.reported_at <= period.as_of)]
    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OPEN_STAGES, 0))
    for row in items:
        table[row.owner][row.stage] += 1
    rows = [OwnerStageRow(owner=o, stages=s, total=sum(s.values()))
            for o, s in sorted(table.items(), key=lambda kv: ctx.unit_key(kv[0]))]
    by_stage = {s: sum(r.stages[s] for r in rows) for s in OPEN_STAGES}
    for row in items:
        row.reported_at = ctx.loc_opt(row.reported_at)
    items.sort(key=lambda r: (ctx.unit_key(r.owner), r.reported_at or period.start, r.id))
    return OpenIncidents(total=len(items), stages=list(OPEN_STAGES), by_stage=by_stage, rows=rows, items=items)


class ClockDueRow(Struct):
    incident_id: str
    title: str
    clock: str
    due_at: datetime
    status: str
    owner: str
    day: str  # today | tomorrow


class ClocksDue(Struct):
    today: int
    tomorrow: int
    items: list[ClockDueRow]


def clocks_due(history: History, period: Period, ctx: Ctx) -> ClocksDue:
    """Clocks still open at `as_of` that fall due on the report's day or the next."""
    horizon = period.end + timedelta(days=1)
    items = []
    for r in history.incidents.values():
        if r.closed:
            continue
        for c in r.clocks.values():
            if c.open and period.start <= c.due_at < horizon:
                items.append(ClockDueRow(incident_id=r.id, title=title_of(r), clock=c.name,
                                         due_at=ctx.loc(c.due_at), status=c.status, owner=_owner(r),
                                         day="today" if c.due_at < period.end else "tomorrow"))
    items.sort(key=lambda x: (x.due_at, x.incident_id, x.clock))
    return ClocksDue(today=sum(x.day == "today" for x in items), tomorrow=sum(x.day == "tomorrow" for x in items),
                     items=items)


class BreachRow(Struct):
    incident_id: str
    title: str
    clock: str
    due_at: datetime
    breached_at: datetime
    owner: str
    on_arrival: bool
    met_at: datetime | None


class Breaches(Struct):
    total: int
    charged: int  # the unit had the task when it fell due
    on_arrival: int  # late on arrival: the delay happened under monitoring, counted apart
    items: list[BreachRow]


def _breach_owner(r: IncidentRecord, c: ClockRecord) -> str:
    return r.owner_at(c.due_at) or UNASSIGNED


def breaches(history: History, period: Period, ctx: Ctx) -> Breaches:
    items = [BreachRow(incident_id=r.id, title=title_of(r), clock=c.name, due_at=ctx.loc(c.due_at),
                       breached_at=ctx.loc(c.breached_at), owner=_breach_owner(r, c), on_arrival=c.on_arrival,
                       met_at=ctx.loc_opt(c.met_at))
             for r in history.incidents.values() for c in r.clocks.values()
             if c.breached_at is not None and period.contains(c.breached_at)]
    items.sort(key=lambda x: (x.breached_at, x.incident_id, x.clock))
    arrival = sum(x.on_arrival for x in items)
    return Breaches(total=len(items), charged=len(items) - arrival, on_arrival=arrival, items=items)


class Slips(Struct):
    total: int
    items: list[SlipRow]


def _slips_in(history: History, period: Period, ctx: Ctx, flags: bool = False) -> list[SlipRow]:
    rows = [SlipRow(at=ctx.loc(s.at), unit=s.unit, incident_id=r.id, title=title_of(r), clock=s.clock, count=s.count)
            for r in history.incidents.values() for s in (r.unit_flags if flags else r.slips)
            if period.contains(s.at)]
    return sorted(rows, key=lambda x: (x.at, x.incident_id, x.clock, x.unit))


def reminder_slips(history: History, period: Period, ctx: Ctx) -> Slips:
    rows = _slips_in(history, period, ctx)
    return Slips(total=len(rows), items=rows)


class IncidentFlagRow(Struct):
    at: datetime
    incident_id: str
    title: str
    kind: str  # rumour | illegal
    reason: str
    actor: str
    removed: bool


class Flags(Struct):
    units: list[SlipRow]  # unit.flagged: three slips about one task (seed 002 四.3)
    incidents: list[IncidentFlagRow]  # incident.flagged / unflagged: rumour or illegal content


def flags(history: History, period: Period, ctx: Ctx) -> Flags:
    marks = [IncidentFlagRow(at=ctx.loc(f.at), incident_id=r.id, title=title_of(r), kind=f.kind, reason=f.reason,
                             actor=f.actor, removed=f.removed)
             for r in history.incidents.values() for f in r.flag_events if period.contains(f.at)]
    marks.sort(key=lambda x: (x.at, x.incident_id))
    return Flags(units=_slips_in(history, period, ctx, flags=True), incidents=marks)


class MentionRow(Struct):
    at: datetime
    incident_id: str
    incident_title: str
    platform: str
    title: str
    url: str | None
    reposts: int
    comments: int
    media_level: str
    sentiment: str


class Notable(Struct):
    total: int  # notable mentions of the period (the list keeps the NOTABLE_MAX most reposted)
    items: list[MentionRow]


def notable_mentions(history: History, period: Period, ctx: Ctx) -> Notable:
    """Mentions of the period in mainstream media (city level or above, or a news, TV, paper or
    radio outlet), or reposted `notable_reposts` times or more (seed 003's 100)."""
    found = [MentionRow(at=ctx.loc(m.at), incident_id=r.id, incident_title=title_of(r), platform=m.platform,
                        title=m.title, url=m.url, reposts=m.reposts, comments=m.comments, media_level=m.media_level,
                        sentiment=m.sentiment)
             for r in history.incidents.values() for m in r.mentions
             if period.contains(m.at) and (m.media_level in NOTABLE_MEDIA or m.platform in TRADITIONAL_MEDIA
                                           or m.reposts >= ctx.notable_reposts)]
    kept = sorted(found, key=lambda x: (-x.reposts, x.at))[:NOTABLE_MAX]
    return Notable(total=len(found), items=sorted(kept, key=lambda x: (x.at, x.incident_id)))


# --- weekly: 督查通报 ---------------------------------------------------------------------


class DayCount(Struct):
    date: date
    by_grade: dict[str, int]
    total: int


class Trend(Struct):
    total: int
    by_grade: dict[str, int]
    days: list[DayCount]


def trend(history: History, period: Period, ctx: Ctx) -> Trend:
    """New incidents of each day of the period, by their grade at `as_of`."""
    rows = _new_in(history, period, ctx)
    keys = ctx.grade_keys({r.grade for r in rows})
    days = []
    for day in period.days():
        counts = dict.fromkeys(keys, 0)
        for row in rows:
            if row.reported_at is not None and row.reported_at.date() == day:
                counts[row.grade] += 1
        days.append(DayCount(date=day, by_grade=counts, total=sum(counts.values())))
    return Trend(total=len(rows), by_grade=_by_grade(rows, ctx), days=days)


@dataclass(frozen=True)
class Settled:
    """One clock settled in the period: how, when, and for which unit."""

    incident: IncidentRecord
    clock: ClockRecord
    kind: str  # on_time | met_late | breached | on_arrival
    at: datetime
    unit: str


def settled(r: IncidentRecord, c: ClockRecord, period: Period) -> Settled | None:
    if c.status == "met" and c.met_at is not None:
        kind, at, unit = "on_time", c.met_at, r.owner_at(c.met_at) or UNASSIGNED
    elif c.status == "breached" and c.breached_at is not None:
        kind = "on_arrival" if c.on_arrival else "met_late" if c.met_at is not None else "breached"
        at, unit = c.breached_at, _breach_owner(r, c)
    else:
        return None
    return Settled(r, c, kind, at, unit) if period.contains(at) else None


def _outcome(items: list[Settled], into: Outcome) -> Outcome:
    for s in items:
        setattr(into, s.kind, getattr(into, s.kind) + 1)
    into.due = into.on_time + into.met_late + into.breached
    into.on_time_pct = pct(into.on_time, into.due)
    return into


class UnitRow(Outcome, kw_only=True):
    unit: str
    incidents: int = 0  # incidents reported in the period that the unit owns at as_of
    slips: int = 0  # reminder slips it got in the period
    tasks_slipped: int = 0  # distinct tasks (incident + clock) those slips were about
    flagged: bool = False  # flagged after three slips about one task, in the period


class ClockRow(Outcome, kw_only=True):
    clock: str


class TaskSlips(Struct):
    unit: str
    incident_id: str
    title: str
    clock: str
    slips: int  # slips of the period
    count: int  # the task's running count for that unit (the third flags it)
    last_at: datetime
    flagged: bool


class Supervision(Struct):
    """The circular's body: per unit, per clock, slips per task, the units named."""

    total: Outcome
    units: list[UnitRow]
    clocks: list[ClockRow]
    tasks: list[TaskSlips]
    slips: int
    flagged: list[SlipRow]  # the units named (经三次提醒仍未落实整改), one row per unit and task


def _clock_order(name: str) -> tuple[int, str]:
    from watchboard.domain.present import clock_sort_key

    return clock_sort_key(name)


def supervision(history: History, period: Period, ctx: Ctx) -> Supervision:
    done = [s for r in history.incidents.values() for c in r.clocks.values() if (s := settled(r, c, period))]
    slips = _slips_in(history, period, ctx)
    named = _slips_in(history, period, ctx, flags=True)
    new = _new_in(history, period, ctx)
    units = sorted({s.unit for s in done} | {s.unit for s in slips} | {s.unit for s in named}
                   | {r.owner for r in new}, key=ctx.unit_key)
    rows = []
    for unit in units:
        row = _outcome([s for s in done if s.unit == unit], UnitRow(unit=unit))
        mine = [s for s in slips if s.unit == unit]
        row.incidents = sum(r.owner == unit for r in new)
        row.slips, row.tasks_slipped = len(mine), len({(s.incident_id, s.clock) for s in mine})
        row.flagged = any(f.unit == unit for f in named)
        rows.append(row)
    clocks = [_outcome([s for s in done if s.clock.name == name], ClockRow(clock=name))
              for name in sorted({s.clock.name for s in done}, key=_clock_order)]
    tasks: dict[tuple[str, str, str], TaskSlips] = {}
    ever_flagged = {(f.unit, r.id, f.clock) for r in history.incidents.values() for f in r.unit_flags}
    for s in slips:
        key = (s.unit, s.incident_id, s.clock)
        task = tasks.get(key)
        if task is None:
            tasks[key] = TaskSlips(unit=s.unit, incident_id=s.incident_id, title=s.title, clock=s.clock, slips=1,
                                   count=s.count, last_at=s.at, flagged=key in ever_flagged)
        else:
            task.slips, task.count, task.last_at = task.slips + 1, max(task.count, s.count), max(task.last_at, s.at)
    ordered = sorted(tasks.values(), key=lambda t: (ctx.unit_key(t.unit), -t.count, t.incident_id, t.clock))
    return Supervision(total=_outcome(done, Outcome()), units=rows, clocks=clocks, tasks=ordered, slips=len(slips),
                       flagged=named)


# --- review: 总结评估 ---------------------------------------------------------------------


class Facts(Struct):
    id: str
    title: str
    reported_at: datetime | None
    reported_by: str
    region: str | None
    topic: str | None
    grade: str
    sentiment: str | None
    owner: str
    assisting: list[str]
    stage: str
    closed_at: datetime | None
    closed_by: str
    close_summary: str
    duration_minutes: int | None  # report to close (or to as_of while open)
    mentions: int
    platforms: list[str]
    flags: list[str]
    grade_reasons: list[str]
    grade_reasons_en: list[str]


class ChangeRow(Struct):
    at: datetime
    value: str
    previous: str | None
    actor: str
    source: str
    reason: str


class ClockOutcome(Struct):
    clock: str
    counted_from: str
    start_at: datetime | None
    started_at: datetime
    due_at: datetime
    outcome: str  # on_time | met_late | breached | on_arrival | running | extended | cancelled
    at: datetime | None  # met, breached or cancelled at
    minutes: int | None  # on_time: ahead of due; met_late: late by; breached/on_arrival: overdue by at as_of
    met_by: str | None
    extensions: int
    unit: str


class TimelineRow(Struct):
    at: datetime
    type: str
    actor: str
    detail: dict[str, Any]


class ActorRow(Struct):
    actor: str
    count: int
    first_at: datetime
    last_at: datetime
    types: list[str]


class NoticeRow(Struct):
    at: datetime
    to: str
    channel: str
    cause: str
    status: str
    reason: str


class AckRow(Struct):
    at: datetime
    by: str
    via: str
    minutes_after_report: int | None


class Notices(Struct):
    sent: int
    failed: int
    recipients: int
    items: list[NoticeRow]
    escalations: list[dict[str, Any]]
    acks: list[AckRow]


class Review(Struct):
    facts: Facts
    grades: list[ChangeRow]
    owners: list[ChangeRow]
    stages: list[ChangeRow]
    clocks: list[ClockOutcome]
    slips: list[SlipRow]
    unit_flags: list[SlipRow]
    actors: list[ActorRow]
    notices: Notices
    timeline: list[TimelineRow]


_HEAD = frozenset({"id", "incident_id", "at", "actor", "causation_id", "type"})


def detail_of(e: ev.Event, ctx: Ctx) -> dict[str, Any]:
    """An event's own fields (language-neutral), times in the zone; the mention shortened."""
    out: dict[str, Any] = {}
    for name in e.__struct_fields__:
        if name in _HEAD:
            continue
        value = getattr(e, name)
        if isinstance(value, datetime):
            value = ctx.loc(value).isoformat()
        elif isinstance(value, ev.Mention):
            value = {"platform": value.platform, "title": value.title, "url": value.url, "region": value.region,
                     "reposts": value.metrics.reposts, "comments": value.metrics.comments,
                     "media_level": value.media_level}
        elif isinstance(value, msgspec.Struct):
            value = msgspec.to_builtins(value)
        out[name] = value
    return out


def _clock_outcome(r: IncidentRecord, c: ClockRecord, as_of: datetime, ctx: Ctx) -> ClockOutcome:
    at: datetime | None
    if c.status == "met" and c.met_at is not None:
        outcome, at, mins = "on_time", c.met_at, minutes(c.due_at - c.met_at)
    elif c.status == "breached":
        outcome = "on_arrival" if c.on_arrival else "met_late" if c.met_at is not None else "breached"
        at = c.met_at or c.breached_at
        mins = minutes((c.met_at or as_of) - c.due_at)
    elif c.status == "cancelled":
        outcome, at, mins = "cancelled", c.cancelled_at, None
    else:
        outcome, at, mins = c.status, None, None
    return ClockOutcome(clock=c.name, counted_from=c.counted_from, start_at=ctx.loc_opt(c.start_at),
                        started_at=ctx.loc(c.started_at), due_at=ctx.loc(c.due_at), outcome=outcome,
                        at=ctx.loc_opt(at), minutes=mins, met_by=c.met_by, extensions=c.extensions,
                        unit=_breach_owner(r, c))


def _changes(changes: list[Any], ctx: Ctx) -> list[ChangeRow]:
    return [ChangeRow(at=ctx.loc(c.at), value=c.value, previous=c.previous, actor=c.actor, source=c.source,
                      reason=c.reason) for c in changes]


def review(r: IncidentRecord, as_of: datetime, ctx: Ctx) -> Review:
    end = r.closed_at or as_of
    facts = Facts(id=r.id, title=title_of(r), reported_at=ctx.loc_opt(r.reported_at), reported_by=r.reported_by,
                  region=r.region, topic=r.topic, grade=r.grade or UNGRADED, sentiment=r.sentiment, owner=_owner(r),
                  assisting=list(r.assisting), stage=r.stage, closed_at=ctx.loc_opt(r.closed_at),
                  closed_by=r.closed_by, close_summary=r.close_summary,
                  duration_minutes=minutes(end - r.reported_at) if r.reported_at else None,
                  mentions=len(r.mentions), platforms=list(dict.fromkeys(m.platform for m in r.mentions)),
                  flags=list(r.flags), grade_reasons=list(r.grade_reasons), grade_reasons_en=list(r.grade_reasons_en))
    clocks = sorted((_clock_outcome(r, c, as_of, ctx) for c in r.clocks.values()), key=lambda x: _clock_order(x.clock))
    people: dict[str, list[ev.Event]] = defaultdict(list)
    for e in r.events:
        if e.actor not in SERVICE_ACTORS:
            people[e.actor].append(e)
    actors = sorted((ActorRow(actor=a, count=len(es), first_at=ctx.loc(min(e.at for e in es)),
                              last_at=ctx.loc(max(e.at for e in es)),
                              types=list(dict.fromkeys(ev.event_type(e) for e in es)))
                     for a, es in people.items()), key=lambda x: (x.first_at, x.actor))
    notices = Notices(
        sent=sum(n.status == "sent" for n in r.notices), failed=sum(n.status == "failed" for n in r.notices),
        recipients=len({n.to for n in r.notices if n.status == "sent"}),
        items=[NoticeRow(at=ctx.loc(n.at), to=n.to, channel=n.channel, cause=n.cause, status=n.status, reason=n.reason)
               for n in r.notices],
        escalations=[{"at": ctx.loc(at), "tier": tier, "to": to} for at, tier, to in r.escalations],
        acks=[AckRow(at=ctx.loc(a.at), by=a.by, via=a.via,
                     minutes_after_report=minutes(a.at - r.reported_at) if r.reported_at else None) for a in r.acks])
    timeline = [TimelineRow(at=ctx.loc(e.at), type=ev.event_type(e), actor=e.actor, detail=detail_of(e, ctx))
                for e in sorted(r.events, key=lambda e: e.at)]
    return Review(facts=facts, grades=_changes(r.grades, ctx), owners=_changes(r.owners, ctx),
                  stages=_changes(r.stages, ctx), clocks=clocks,
                  slips=[SlipRow(at=ctx.loc(s.at), unit=s.unit, incident_id=r.id, title=title_of(r), clock=s.clock,
                                 count=s.count) for s in r.slips],
                  unit_flags=[SlipRow(at=ctx.loc(s.at), unit=s.unit, incident_id=r.id, title=title_of(r),
                                      clock=s.clock, count=s.count) for s in r.unit_flags],
                  actors=actors, notices=notices, timeline=timeline)
