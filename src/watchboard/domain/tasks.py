"""Tasks and meetings: a leader's instruction (批示) or a meeting's decision (会商、联席会议交办)
becomes a task with a unit and a due time (seed 001 郑州: 直接议决、直接交办、直接督查、直接反馈),
met by the unit's feedback (反馈). Pure deciders over the incident record (`CoreView`).

The due time is fixed when the task is handed out (`parse_due`): a duration on the working
calendar (`2wd`, `3wh`) or in calendar time (`4h`, `1d`) from that moment, or a time. The
event carries both what was said (`due`) and the moment it means (`due_at`); deadlines runs
the task as a clock of its own (`task:<id>`) with the same warnings, breach, reminder slips
and flags as the plans' clocks.

Ids are derived from the request (`task_id_of`, `meeting_id_of`), so a decision is the
same whichever service copy makes it: `T…` and `M…`, 17 characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.commands import Ctx, MeetingAdd, TaskAdd, TaskFeedback
from watchboard.domain.durations import parse_duration
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.events import Event, MeetingHeld, TaskAdded, TaskFedBack, effect_id
from watchboard.domain.views import CoreView, TaskView

# Meetings the plans name: 会商 (consultation, 000/004), 联席会议 (joint meeting, 001), 会办
# (joint handling meeting, 002).
MEETING_KINDS: tuple[str, ...] = ("会商", "联席会议", "会办")
MAX_TASKS_PER_INCIDENT = 100
TASK_CLOCK_PREFIX = "task:"
FUTURE_SKEW = timedelta(minutes=5)  # a meeting "held" a little ahead of the recorder's clock
DUE_FORMS = ("a duration — `2wd` (working days), `3wh` (working hours), `4h`, `1d` — or a time "
             "like `2026-11-25 17:30` or `2026-11-25T17:30+08:00`")
DUE_FORMS_ZH = ("时长（`2wd` 为工作日，`3wh` 为工作小时，或 `4h`、`1d`）或时间（如 `2026-11-25 17:30` 或 "
                "`2026-11-25T17:30+08:00`）")


def task_clock(task_id: str) -> str:
    """The name of a task's clock in deadlines."""
    return f"{TASK_CLOCK_PREFIX}{task_id}"


def task_of_clock(clock: str) -> str | None:
    return clock[len(TASK_CLOCK_PREFIX):] if clock.startswith(TASK_CLOCK_PREFIX) else None


def task_id_of(request_id: str, n: int = 0) -> str:
    return "T" + effect_id(request_id, f"task:{n}")[1:]


def meeting_id_of(request_id: str) -> str:
    return "M" + effect_id(request_id, "meeting")[1:]


def parse_due(text: str, now: datetime, cal: WorkCalendar, field: str = "due") -> tuple[datetime, str, bool]:
    """(due_at as aware UTC, basis, provisional) of a task handed out at `now`."""
    text = text.strip()
    if not text:
        raise Invalid(field, f"`{field}` is required: {DUE_FORMS}", zh=f"请给出反馈期限 `{field}`：{DUE_FORMS_ZH}")
    try:
        duration = parse_duration(text)
    except ValueError:
        duration = None
    if duration is not None:
        due, provisional = cal.add(now, duration)
        return due.astimezone(UTC), duration.basis, provisional
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(field, f"{text[:60]!r} is neither a duration nor a time: use {DUE_FORMS}",
                      zh=f"{text[:60]!r} 既不是时长也不是时间：请写{DUE_FORMS_ZH}") from None
    at = at.replace(tzinfo=cal.zone) if at.tzinfo is None else at
    if at <= now:
        raise Invalid(field, f"{text[:60]!r} is not in the future: a task is due after it is handed out",
                      zh=f"{text[:60]!r} 不是将来的时间：反馈期限须晚于交办时间")
    return at.astimezone(UTC), "calendar", not cal.is_known(cal.local(at).date())


def _require(core: CoreView | None, field: str = "incident_id", incident: str = "") -> CoreView:
    if core is None:
        what = f"no incident {incident!r}" if incident else "no such incident"
        what_zh = f"未找到舆情 {incident!r}" if incident else "未找到该舆情"
        raise NotFound(field, f"{what}; check the id (`watchboard ls`)",
                       zh=f"{what_zh}，请核对编号（可用 `watchboard ls` 查看）")
    return core


def _unit(unit: str, unit_ids: frozenset[str] | None, field: str) -> str:
    unit = unit.strip()
    if not unit:
        raise Invalid(field, "say which unit the task is for (--unit ID, an id of units.toml)",
                      zh="请指明交办单位（`--unit 单位编号`，见 units.toml）")
    if unit_ids is not None and unit not in unit_ids:
        raise Invalid(field, f"unknown unit {unit!r}; units.toml defines: {', '.join(sorted(unit_ids))}",
                      zh=f"没有 {unit!r} 这个单位；units.toml 中的单位编号："
                         f"{'、'.join(f'`{u}`' for u in sorted(unit_ids))}")
    return unit


def _task_event(core: CoreView, *, task_id: str, unit: str, text: str, due: str, source: str,
                meeting_id: str, actor: str, ctx: Ctx, cal: WorkCalendar, unit_ids: frozenset[str] | None,
                field: str, event_id: str) -> TaskAdded:
    if core.stage == "closed":
        raise Conflict(f"{field}incident_id" if field else "incident_id",
                       f"incident {core.id} is closed; hand no new tasks on it",
                       zh=f"舆情 {core.id} 已结案，不再交办新任务")
    if len(core.tasks) >= MAX_TASKS_PER_INCIDENT:
        raise Conflict(f"{field}incident_id" if field else "incident_id",
                       f"incident {core.id} has {len(core.tasks)} tasks already; at most {MAX_TASKS_PER_INCIDENT}",
                       zh=f"舆情 {core.id} 已有 {len(core.tasks)} 项任务，达到上限 {MAX_TASKS_PER_INCIDENT} 项")
    unit = _unit(unit, unit_ids, f"{field}unit")
    text = text.strip()
    if not text:
        raise Invalid(f"{field}text", "say what the unit is to do (--text \"…\")",
                      zh="请写明交办内容（`--text \"…\"`）")
    due_at, basis, provisional = parse_due(due, ctx.now, cal, f"{field}due")
    return TaskAdded(id=event_id, incident_id=core.id, at=ctx.now, actor=actor, causation_id=ctx.request_id,
                     task_id=task_id, unit=unit, text=text, due=due.strip(), due_at=due_at, basis=basis,
                     provisional=provisional, source=source.strip(), meeting_id=meeting_id)


def decide_task(core: CoreView | None, cmd: TaskAdd, ctx: Ctx, cal: WorkCalendar,
                unit_ids: frozenset[str] | None = None) -> TaskAdded:
    """`task add ID --unit U --text T --due 2wd [--from "县委书记批示" | --meeting M]`."""
    core = _require(core)
    meeting = cmd.meeting_id.strip()
    if meeting and not any(m.id == meeting for m in core.meetings):
        raise NotFound("meeting_id", f"incident {core.id} has no meeting {meeting!r}; meetings: "
                       f"{', '.join(m.id for m in core.meetings) or 'none'}",
                       zh=f"舆情 {core.id} 没有会议 {meeting!r}；已记录的会议："
                          f"{'、'.join(m.id for m in core.meetings) or '无'}")
    return _task_event(core, task_id=task_id_of(ctx.request_id), unit=cmd.unit, text=cmd.text, due=cmd.due,
                       source=cmd.source, meeting_id=meeting, actor=cmd.actor.strip(), ctx=ctx, cal=cal,
                       unit_ids=unit_ids, field="", event_id=ctx.request_id)


def find_task(core: CoreView | None, task_id: str) -> TaskView | None:
    return next((t for t in core.tasks if t.id == task_id), None) if core is not None else None


def decide_feedback(core: CoreView | None, cmd: TaskFeedback, ctx: Ctx) -> TaskFedBack:
    """The unit's feedback on a task (it meets the task's clock); once per task."""
    task = find_task(core, cmd.task_id.strip())
    if core is None or task is None:
        raise NotFound("task_id", f"no task {cmd.task_id[:40]!r}; see `watchboard task ls`",
                       zh=f"未找到任务 {cmd.task_id[:40]!r}，请用 `watchboard task ls` 查看")
    if task.status == "fed_back":
        raise Conflict("task_id", f"task {task.id} was already fed back by {task.fed_back_by}",
                       zh=f"任务 {task.id} 已由 {task.fed_back_by} 反馈")
    text = cmd.text.strip()
    if not text:
        raise Invalid("text", "give the unit's feedback: what was done (--text \"…\")",
                      zh="请填写单位的反馈：办理了什么（`--text \"…\"`）")
    return TaskFedBack(id=ctx.request_id, incident_id=core.id, at=ctx.now, actor=cmd.actor.strip(),
                       causation_id=ctx.request_id, task_id=task.id, unit=task.unit, text=text)


def _held_at(text: str, now: datetime, cal: WorkCalendar) -> datetime:
    text = text.strip()
    if not text:
        return now
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid("held_at", f"{text[:60]!r} is not a time: use '2026-11-23 15:00' or ISO 8601",
                      zh=f"{text[:60]!r} 不是有效时间：请写成 '2026-11-23 15:00' 或 ISO 8601 格式") from None
    at = at.replace(tzinfo=cal.zone) if at.tzinfo is None else at
    if at > now + FUTURE_SKEW:
        raise Invalid("held_at", "a meeting is recorded after it is held; the time is in the future",
                      zh="会议须在召开后登记，所填时间尚未到来")
    return at.astimezone(UTC)


def decide_meeting(cores: Mapping[str, CoreView | None], cmd: MeetingAdd, ctx: Ctx, cal: WorkCalendar,
                   unit_ids: frozenset[str] | None = None) -> list[Event]:
    """A meeting about one or more incidents, and the tasks it hands out: one `meeting.held`
    per incident (same meeting id), then one `task.added` per task."""
    if cmd.kind.strip() not in MEETING_KINDS:
        raise Invalid("kind", f"{cmd.kind[:40]!r} is not a meeting the plans name; one of {', '.join(MEETING_KINDS)}",
                      zh=f"{cmd.kind[:40]!r} 不是预案规定的会议形式；可选：{'、'.join(MEETING_KINDS)}")
    incidents = list(dict.fromkeys(i.strip() for i in cmd.incidents if i.strip()))
    if not incidents:
        raise Invalid("incidents", "name the incidents the meeting was about (--incidents ID,ID)",
                      zh="请列出会议涉及的舆情（`--incidents 编号,编号`）")
    records = {i: _require(cores.get(i), "incidents", i) for i in incidents}
    attendees = [a.strip() for a in cmd.attendees if a.strip()]
    held_at = _held_at(cmd.held_at, ctx.now, cal)
    meeting_id = meeting_id_of(ctx.request_id)
    actor = cmd.actor.strip()
    tasks: list[TaskAdded] = []
    for n, task in enumerate(cmd.tasks):
        field = f"tasks.{n}."
        incident = task.incident_id.strip()
        if not incident:
            if len(incidents) > 1:
                raise Invalid(f"{field}incident_id", "the meeting was about several incidents: say which one "
                              "this task is for",
                              zh="会议涉及多起舆情：请写明该任务针对哪一起")
            incident = incidents[0]
        if incident not in records:
            raise Invalid(f"{field}incident_id", f"{incident!r} is not one of the meeting's incidents "
                          f"({', '.join(incidents)})",
                          zh=f"{incident!r} 不在会议涉及的舆情之列（{'、'.join(incidents)}）")
        tasks.append(_task_event(records[incident], task_id=task_id_of(ctx.request_id, n), unit=task.unit,
                                 text=task.text, due=task.due, source=cmd.kind.strip(), meeting_id=meeting_id,
                                 actor=actor, ctx=ctx, cal=cal, unit_ids=unit_ids, field=field,
                                 event_id=effect_id(ctx.request_id, f"task:{n}")))
    held = [MeetingHeld(id=effect_id(ctx.request_id, f"meeting:{i}"), incident_id=i, at=ctx.now, actor=actor,
                        causation_id=ctx.request_id, meeting_id=meeting_id, kind=cmd.kind.strip(),
                        incidents=incidents, attendees=attendees, minutes=cmd.minutes.strip(), held_at=held_at,
                        tasks=[t.task_id for t in tasks])
            for i in incidents]
    return [*held, *tasks]
