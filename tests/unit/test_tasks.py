"""Tasks and meetings: due times on the working calendar, the deciders' refusals, ids, and the
record's fold. Pure; table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from watchboard.domain import incident
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.commands import Ctx, MeetingAdd, MeetingTask, TaskAdd, TaskFeedback
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.events import IncidentClosed, IncidentReported, MeetingHeld, Mention, TaskAdded
from watchboard.domain.tasks import (
    decide_feedback,
    decide_meeting,
    decide_task,
    parse_due,
    task_clock,
    task_id_of,
    task_of_clock,
)
from watchboard.domain.views import CoreView

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
UNITS = frozenset({"education", "health", "market"})


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


MONDAY_9 = local("2026-11-23 09:00")


def ctx(at: datetime = MONDAY_9, request: str = "01REQ") -> Ctx:
    return Ctx(now=at, request_id=request)


def record(incident_id: str = "A") -> CoreView:
    core = incident.apply(None, IncidentReported(id=f"{incident_id}-r", incident_id=incident_id, at=MONDAY_9,
                                                 actor="m", title="t", mention=Mention(platform="weibo")))
    assert core is not None
    return core


@pytest.mark.parametrize(("due", "now", "expected", "basis"), [
    ("2wd", "2026-11-23 09:00", "2026-11-25 17:30", "working"),   # the start day is not counted
    ("1wd", "2026-11-27 16:00", "2026-11-30 17:30", "working"),   # Friday → Monday's close
    ("3wh", "2026-11-23 16:00", "2026-11-24 10:00", "working"),   # 1.5 h Monday, 1.5 h from 08:30 Tuesday
    ("4h", "2026-11-23 22:00", "2026-11-24 02:00", "calendar"),   # calendar time runs through the night
    ("1d", "2026-09-30 09:00", "2026-10-01 09:00", "calendar"),   # and through the National Day holiday
    ("2wd", "2026-09-30 09:00", "2026-10-09 17:30", "working"),   # 10-01…10-07 are holidays
    ("1wd", "2026-10-09 09:00", "2026-10-10 17:30", "working"),   # Sat 10-10 is a make-up working day (调休)
    ("2026-11-25 17:30", "2026-11-23 09:00", "2026-11-25 17:30", "calendar"),
    ("2026-11-25T17:30+08:00", "2026-11-23 09:00", "2026-11-25 17:30", "calendar"),
])
def test_due_on_the_working_calendar(due: str, now: str, expected: str, basis: str) -> None:
    """`--due 2wd` (working days), `3wh`, `4h`, `1d`, or a time — as the plans count periods."""
    due_at, got_basis, provisional = parse_due(due, local(now), CAL)
    assert (due_at, got_basis, provisional) == (local(expected), basis, False)


@pytest.mark.parametrize(("due", "words"), [
    ("", "is required"),
    ("soon", "neither a duration nor a time"),
    ("2026-11-22 17:30", "not in the future"),
    ("0h", "neither a duration nor a time"),
])
def test_a_bad_due_is_refused_naming_the_field(due: str, words: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_due(due, MONDAY_9, CAL)
    assert info.value.field == "due" and words in info.value.message


def test_a_task_is_handed_out_with_its_due_time() -> None:
    cmd = TaskAdd(incident_id="A", actor="王主任", unit="health", text="核实并书面反馈", due="2wd", source="县委书记批示")
    event = decide_task(record(), cmd, ctx(), CAL, UNITS)
    assert (event.task_id, event.unit, event.due, event.due_at, event.basis, event.source) == (
        task_id_of("01REQ"), "health", "2wd", local("2026-11-25 17:30"), "working", "县委书记批示")
    assert event.task_id.startswith("T") and len(event.task_id) == 17
    assert task_of_clock(task_clock(event.task_id)) == event.task_id and task_of_clock("statement") is None


@pytest.mark.parametrize(("change", "error", "field"), [
    ({"unit": "police"}, Invalid, "unit"),
    ({"unit": " "}, Invalid, "unit"),
    ({"text": "  "}, Invalid, "text"),
    ({"due": "yesterday"}, Invalid, "due"),
    ({"meeting_id": "M404"}, NotFound, "meeting_id"),
])
def test_task_refusals_name_the_field(change: dict[str, str], error: type, field: str) -> None:
    fields = {"incident_id": "A", "actor": "wang", "unit": "health", "text": "核实", "due": "2wd"} | change
    with pytest.raises(error) as info:
        decide_task(record(), TaskAdd(**fields), ctx(), CAL, UNITS)  # type: ignore[arg-type]
    assert info.value.field == field


def test_no_task_on_a_closed_or_missing_incident() -> None:
    cmd = TaskAdd(incident_id="A", actor="wang", unit="health", text="核实", due="2wd")
    closed = incident.apply(record(), IncidentClosed(id="c", incident_id="A", at=MONDAY_9, actor="w", summary="结"))
    with pytest.raises(Conflict):
        decide_task(closed, cmd, ctx(), CAL, UNITS)
    with pytest.raises(NotFound):
        decide_task(None, cmd, ctx(), CAL, UNITS)


def test_feedback_meets_the_task_once() -> None:
    core = record()
    added = decide_task(core, TaskAdd(incident_id="A", actor="w", unit="health", text="核实", due="2wd"), ctx(), CAL)
    core = incident.apply(core, added)
    fed = decide_feedback(core, TaskFeedback(task_id=added.task_id, text="已核实，情况属实，已整改", actor="卫健委 赵"),
                          ctx(MONDAY_9 + timedelta(hours=3), "01REQ2"))
    assert (fed.incident_id, fed.task_id, fed.unit) == ("A", added.task_id, "health")
    core = incident.apply(core, fed)
    assert core is not None
    assert [(t.status, t.feedback, t.fed_back_by) for t in core.tasks] == [("fed_back", "已核实，情况属实，已整改", "卫健委 赵")]
    with pytest.raises(Conflict):
        decide_feedback(core, TaskFeedback(task_id=added.task_id, text="again", actor="x"), ctx())
    with pytest.raises(NotFound) as info:
        decide_feedback(core, TaskFeedback(task_id="T404", text="x", actor="x"), ctx())
    assert info.value.field == "task_id"
    with pytest.raises(Invalid):
        decide_feedback(incident.apply(record(), added), TaskFeedback(task_id=added.task_id, text=" ", actor="x"), ctx())


def test_a_meeting_about_two_incidents_and_the_tasks_it_hands_out() -> None:
    """One meeting.held per incident with one meeting id, then a task.added per task."""
    cores = {"A": record("A"), "B": record("B")}
    cmd = MeetingAdd(actor="办公室", kind="联席会议", incidents=["A", "B"], attendees=["王主任", " ", "赵科长"],
                     minutes="一、议定……", held_at="2026-11-23 08:30",
                     tasks=[MeetingTask(incident_id="B", unit="market", text="约谈商家", due="1wd"),
                            MeetingTask(incident_id="A", unit="education", text="发布情况说明", due="4h")])
    events = decide_meeting(cores, cmd, ctx(), CAL, UNITS)
    held = [e for e in events if isinstance(e, MeetingHeld)]
    tasks = [e for e in events if isinstance(e, TaskAdded)]
    assert [e.incident_id for e in held] == ["A", "B"] and len({e.meeting_id for e in held}) == 1
    assert held[0].attendees == ["王主任", "赵科长"] and held[0].held_at == local("2026-11-23 08:30")
    assert held[0].tasks == [t.task_id for t in tasks]
    assert [(t.incident_id, t.unit, t.due_at, t.meeting_id, t.source) for t in tasks] == [
        ("B", "market", local("2026-11-24 17:30"), held[0].meeting_id, "联席会议"),
        ("A", "education", local("2026-11-23 13:00"), held[0].meeting_id, "联席会议")]
    assert len({e.id for e in events}) == len(events)


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "茶话会"}, "kind"),
    ({"incidents": []}, "incidents"),
    ({"incidents": ["A", "Z"]}, "incidents"),
    ({"held_at": "2026-11-24 09:00"}, "held_at"),    # in the future
    ({"tasks": [MeetingTask(unit="health", text="x", due="1wd")]}, "tasks.0.incident_id"),  # which incident?
    ({"tasks": [MeetingTask(incident_id="C", unit="health", text="x", due="1wd")]}, "tasks.0.incident_id"),
    ({"tasks": [MeetingTask(incident_id="A", unit="nobody", text="x", due="1wd")]}, "tasks.0.unit"),
    ({"tasks": [MeetingTask(incident_id="A", unit="health", text="x", due="later")]}, "tasks.0.due"),
])
def test_meeting_refusals_name_the_field(change: dict[str, object], field: str) -> None:
    fields: dict[str, object] = {"actor": "w", "kind": "会商", "incidents": ["A", "B"]} | change
    with pytest.raises((Invalid, NotFound)) as info:
        decide_meeting({"A": record("A"), "B": record("B")}, MeetingAdd(**fields), ctx(), CAL, UNITS)  # type: ignore[arg-type]
    assert info.value.field == field


def test_a_meeting_about_one_incident_needs_no_incident_per_task() -> None:
    cmd = MeetingAdd(actor="w", kind="会商", incidents=["A"], tasks=[MeetingTask(unit="health", text="核实", due="1wd")])
    events = decide_meeting({"A": record("A")}, cmd, ctx(), CAL, UNITS)
    assert [type(e).__name__ for e in events] == ["MeetingHeld", "TaskAdded"] and events[1].incident_id == "A"
    core = incident.fold(events, record("A"))
    assert core is not None and [m.kind for m in core.meetings] == ["会商"] and core.tasks[0].meeting_id == core.meetings[0].id
