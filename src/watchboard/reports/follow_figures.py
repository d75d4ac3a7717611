"""The follow-through figures of the three reports (issue 14 item 4): tasks, statements,
supervision owed and evidence — pure functions of the folded history and the period, as in
figures.py (ids, not names; times in the configured zone).

How a task is counted (followup.task_outcome): handed out when `task.added` was recorded, fed
back on time or late as deadlines judged its clock (`task:<id>`), open until fed back —
overdue once deadlines breached it — and cancelled when its incident was closed first. A
statement counts for the unit in charge of its incident when each step was taken.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.supervision import Watched, owed_on
from watchboard.reports.figures import UNASSIGNED, Ctx, IncidentRow, Struct, _incident_row, title_of
from watchboard.reports.followup import StatementRecord, TaskRecord, last_supervision, task_outcome
from watchboard.reports.model import History, IncidentRecord
from watchboard.reports.period import Period

OPEN_OUTCOMES = ("open", "overdue")


# --- tasks -----------------------------------------------------------------------------------


class TaskRow(Struct):
    id: str
    incident_id: str
    title: str  # the incident's
    unit: str
    text: str
    source: str
    meeting_id: str
    added_at: datetime
    due_at: datetime
    outcome: str  # on_time | late | open | overdue | cancelled
    fed_back_at: datetime | None
    fed_back_by: str
    feedback: str
    slips: int  # reminder slips the unit got about it


def _task_row(r: IncidentRecord, t: TaskRecord, ctx: Ctx) -> TaskRow:
    clock = r.task_clocks.get(f"task:{t.id}")
    slips = sum(1 for s in r.slips if s.clock == f"task:{t.id}")
    return TaskRow(id=t.id, incident_id=r.id, title=title_of(r), unit=t.unit, text=t.text, source=t.source,
                   meeting_id=t.meeting_id, added_at=ctx.loc(t.added_at),
                   due_at=ctx.loc(clock.due_at if clock is not None else t.due_at), outcome=task_outcome(t, clock),
                   fed_back_at=ctx.loc_opt(t.fed_back_at), fed_back_by=t.fed_back_by, feedback=t.feedback,
                   slips=slips)


def _tasks(history: History, ctx: Ctx) -> list[TaskRow]:
    return [_task_row(r, t, ctx) for r in history.incidents.values() for t in r.follow.tasks.values()]


def _by_due(rows: list[TaskRow]) -> list[TaskRow]:
    return sorted(rows, key=lambda x: (x.due_at, x.incident_id, x.id))


class DailyTasks(Struct):
    open: int  # awaiting feedback at as_of
    overdue: int  # of them, breached by deadlines
    due_today: int  # open, due on the report's day
    due_tomorrow: int
    added: int  # handed out that day
    fed_back: int  # fed back that day
    fed_back_late: int  # of them, after their due time
    items: list[TaskRow]  # the open ones, due first


def daily_tasks(history: History, period: Period, ctx: Ctx) -> DailyTasks:
    rows = _tasks(history, ctx)
    opened = _by_due([x for x in rows if x.outcome in OPEN_OUTCOMES])
    horizon = period.end + timedelta(days=1)
    fed = [x for x in rows if period.contains(x.fed_back_at)]
    return DailyTasks(open=len(opened), overdue=sum(x.outcome == "overdue" for x in opened),
                      due_today=sum(period.start <= x.due_at < period.end for x in opened),
                      due_tomorrow=sum(period.end <= x.due_at < horizon for x in opened),
                      added=sum(period.contains(x.added_at) for x in rows), fed_back=len(fed),
                      fed_back_late=sum(x.outcome == "late" for x in fed), items=opened)


class UnitTasks(Struct):
    unit: str
    handed_out: int = 0  # in the period
    fed_back: int = 0  # in the period, on time + late
    on_time: int = 0
    late: int = 0
    open: int = 0  # awaiting feedback at as_of, whenever handed out
    overdue: int = 0  # of them, breached
    cancelled: int = 0  # handed out in the period, its incident closed before feedback


class WeeklyTasks(Struct):
    total: UnitTasks
    units: list[UnitTasks]
    items: list[TaskRow]  # handed out or fed back in the period, or open at its end


def _count(rows: list[TaskRow], period: Period, into: UnitTasks) -> UnitTasks:
    for x in rows:
        new = period.contains(x.added_at)
        into.handed_out += new
        if period.contains(x.fed_back_at):
            into.fed_back += 1
            into.on_time += x.outcome == "on_time"
            into.late += x.outcome == "late"
        into.open += x.outcome in OPEN_OUTCOMES
        into.overdue += x.outcome == "overdue"
        into.cancelled += new and x.outcome == "cancelled"
    return into


def weekly_tasks(history: History, period: Period, ctx: Ctx) -> WeeklyTasks:
    """Per unit (seed 001 直接交办、直接督查、直接反馈): tasks handed out, fed back on time or late,
    and still open (overdue among them) — the unit being the one the task was handed to."""
    rows = [x for x in _tasks(history, ctx)
            if period.contains(x.added_at) or period.contains(x.fed_back_at) or x.outcome in OPEN_OUTCOMES]
    units = [_count([x for x in rows if x.unit == unit], period, UnitTasks(unit=unit))
             for unit in sorted({x.unit for x in rows}, key=ctx.unit_key)]
    items = sorted(rows, key=lambda x: (ctx.unit_key(x.unit), x.added_at, x.id))
    return WeeklyTasks(total=_count(rows, period, UnitTasks(unit="total")), units=units, items=items)


# --- statements --------------------------------------------------------------------------------


class StatementRow(Struct):
    incident_id: str
    title: str
    owner: str  # in charge when the step (or, awaiting, the draft) was taken
    version: int
    state: str  # as of the report's moment
    sha256: str
    drafted_at: datetime
    drafted_by: str
    approved_at: datetime | None
    approved_by: str
    at: datetime | None  # published: when
    channel: str
    url: str


def _statement_row(r: IncidentRecord, s: StatementRecord, ctx: Ctx, *, at: datetime | None = None,
                   channel: str = "", url: str = "") -> StatementRow:
    return StatementRow(incident_id=r.id, title=title_of(r), owner=r.owner_at(at or s.drafted_at) or UNASSIGNED,
                        version=s.version, state=s.state, sha256=s.sha256, drafted_at=ctx.loc(s.drafted_at),
                        drafted_by=s.drafted_by, approved_at=ctx.loc_opt(s.approved_at), approved_by=s.approved_by,
                        at=ctx.loc_opt(at), channel=channel, url=url)


def _awaiting(history: History, ctx: Ctx) -> list[StatementRow]:
    """Open incidents whose latest statement version waits for an approver."""
    rows = [_statement_row(r, s, ctx) for r in history.incidents.values()
            if not r.closed and (s := r.follow.latest_statement()) is not None and s.state == "drafted"]
    return sorted(rows, key=lambda x: (x.drafted_at, x.incident_id))


def _published(history: History, period: Period, ctx: Ctx) -> list[StatementRow]:
    rows = [_statement_row(r, s, ctx, at=step.at, channel=step.detail, url=step.url)
            for r in history.incidents.values() for s in r.follow.statements for step in s.published()
            if period.contains(step.at)]
    return sorted(rows, key=lambda x: (x.at, x.incident_id, x.channel))


def _steps_in(history: History, period: Period, action: str) -> int:
    return sum(1 for r in history.incidents.values() for s in r.follow.statements for step in s.steps
               if step.action == action and period.contains(step.at))


class DailyStatements(Struct):
    awaiting: list[StatementRow]  # at as_of
    published: list[StatementRow]  # that day, one row per publication
    approved: int  # approvals that day
    rejected: int  # sent back that day


def daily_statements(history: History, period: Period, ctx: Ctx) -> DailyStatements:
    return DailyStatements(awaiting=_awaiting(history, ctx), published=_published(history, period, ctx),
                           approved=_steps_in(history, period, "approved"),
                           rejected=_steps_in(history, period, "rejected"))


class UnitStatements(Struct):
    unit: str
    drafted: int = 0
    approved: int = 0
    rejected: int = 0
    published: int = 0


class WeeklyStatements(Struct):
    total: UnitStatements
    units: list[UnitStatements]
    published: list[StatementRow]
    awaiting: list[StatementRow]  # at the period's end (or now)


def weekly_statements(history: History, period: Period, ctx: Ctx) -> WeeklyStatements:
    """Per unit in charge at each step: versions drafted, approved, sent back and published."""
    counts: dict[str, UnitStatements] = {}
    total = UnitStatements(unit="total")
    for r in history.incidents.values():
        for s in r.follow.statements:
            for step in s.steps:
                if not period.contains(step.at):
                    continue
                unit = r.owner_at(step.at) or UNASSIGNED
                row = counts.setdefault(unit, UnitStatements(unit=unit))
                for target in (row, total):
                    setattr(target, step.action, getattr(target, step.action) + 1)
    units = [counts[u] for u in sorted(counts, key=ctx.unit_key)]
    return WeeklyStatements(total=total, units=units, published=_published(history, period, ctx),
                            awaiting=_awaiting(history, ctx))


# --- supervision owed (督办) --------------------------------------------------------------------


class SupervisionRow(Struct):
    at: datetime
    incident_id: str
    title: str
    actor: str
    note: str


class DailySupervision(Struct):
    day: date
    working_day: bool
    due: int  # open grade I/II incidents that day
    supervised: int
    unsupervised: list[IncidentRow]
    records: list[SupervisionRow]  # every supervision recorded that day


def daily_supervision(history: History, period: Period, ctx: Ctx) -> DailySupervision:
    """The open grade I/II incidents with no supervision record that working day (seed 001
    每天…打电话进行督办), by the rule deadlines keeps `sys.supervision` with
    (`domain.supervision.owed_on`), as of the report's moment."""
    cal = ctx.calendar if isinstance(ctx.calendar, WorkCalendar) else WorkCalendar()
    day = period.start.date()
    watched = [Watched(id=r.id, grade=r.grade, open=not r.closed, supervised_at=last_supervision(r, period.as_of))
               for r in history.incidents.values()]
    owed = owed_on(day, watched, cal)
    rows = [_incident_row(history.incidents[i]) for i in owed.unsupervised]
    for row in rows:
        row.reported_at = ctx.loc_opt(row.reported_at)
    records = sorted((SupervisionRow(at=ctx.loc(s.at), incident_id=r.id, title=title_of(r), actor=s.actor, note=s.note)
                      for r in history.incidents.values() for s in r.follow.supervisions if period.contains(s.at)),
                     key=lambda x: (x.at, x.incident_id))
    return DailySupervision(day=day, working_day=owed.working_day, due=len(owed.due),
                            supervised=len(owed.due) - len(owed.unsupervised),
                            unsupervised=sorted(rows, key=lambda x: (x.reported_at or period.start, x.id)),
                            records=records)


# --- evidence, meetings ------------------------------------------------------------------------


class EvidenceRow(Struct):
    at: datetime
    incident_id: str
    title: str
    name: str
    size: int
    sha256: str
    media_type: str
    actor: str


class DailyEvidence(Struct):
    total: int
    bytes: int
    items: list[EvidenceRow]


def _evidence(history: History, ctx: Ctx, period: Period | None = None) -> list[EvidenceRow]:
    rows = [EvidenceRow(at=ctx.loc(x.at), incident_id=r.id, title=title_of(r), name=x.name, size=x.size,
                        sha256=x.sha256, media_type=x.media_type, actor=x.actor)
            for r in history.incidents.values() for x in r.follow.evidence if period is None or period.contains(x.at)]
    return sorted(rows, key=lambda x: (x.at, x.incident_id, x.name))


def daily_evidence(history: History, period: Period, ctx: Ctx) -> DailyEvidence:
    """Files kept as evidence that day (保存、固定证据, seed 003 三(一)), with their digests."""
    rows = _evidence(history, ctx, period)
    return DailyEvidence(total=len(rows), bytes=sum(x.size for x in rows), items=rows)


class MeetingRow(Struct):
    meeting_id: str
    kind: str
    held_at: datetime
    attendees: list[str]
    tasks: list[str]
    minutes: str
    recorded_by: str


# --- review ---------------------------------------------------------------------------------


class StepRow(Struct):
    at: datetime
    actor: str
    action: str
    detail: str
    url: str


class ReviewStatement(Struct):
    version: int
    state: str
    sha256: str
    drafted_at: datetime
    drafted_by: str
    steps: list[StepRow]


def review_statements(r: IncidentRecord, ctx: Ctx) -> list[ReviewStatement]:
    return [ReviewStatement(version=s.version, state=s.state, sha256=s.sha256, drafted_at=ctx.loc(s.drafted_at),
                            drafted_by=s.drafted_by,
                            steps=[StepRow(at=ctx.loc(x.at), actor=x.actor, action=x.action, detail=x.detail, url=x.url)
                                   for x in s.steps])
            for s in sorted(r.follow.statements, key=lambda s: s.version)]


def review_tasks(r: IncidentRecord, ctx: Ctx) -> list[TaskRow]:
    return sorted((_task_row(r, t, ctx) for t in r.follow.tasks.values()), key=lambda x: (x.added_at, x.id))


def review_evidence(r: IncidentRecord, ctx: Ctx) -> list[EvidenceRow]:
    return [EvidenceRow(at=ctx.loc(x.at), incident_id=r.id, title=title_of(r), name=x.name, size=x.size,
                        sha256=x.sha256, media_type=x.media_type, actor=x.actor) for x in r.follow.evidence]


def review_meetings(r: IncidentRecord, ctx: Ctx) -> list[MeetingRow]:
    return sorted((MeetingRow(meeting_id=m.meeting_id, kind=m.kind, held_at=ctx.loc(m.held_at),
                              attendees=list(m.attendees), tasks=list(m.tasks), minutes=m.minutes,
                              recorded_by=m.actor) for m in r.follow.meetings), key=lambda x: x.held_at)


def review_supervisions(r: IncidentRecord, ctx: Ctx) -> list[SupervisionRow]:
    return sorted((SupervisionRow(at=ctx.loc(s.at), incident_id=r.id, title=title_of(r), actor=s.actor, note=s.note)
                   for s in r.follow.supervisions), key=lambda x: x.at)
