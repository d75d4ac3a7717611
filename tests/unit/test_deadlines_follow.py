"""deadlines' pure steps for the follow-through: the statement clock met only by a published
approved statement, tasks as clocks of their own (warned, breached, slips to the task's unit,
flagged, met by feedback), and the latest supervision."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.unit.test_deadlines_logic import RULES, T0, incident, local
from watchboard.config.deadlines import DeadlinesConfig
from watchboard.domain import events as ev
from watchboard.domain.commands import Ctx, Done, Extend
from watchboard.domain.errors import Conflict
from watchboard.domain.tasks import task_clock
from watchboard.services.deadlines.logic import (
    Entry,
    IncidentState,
    Rules,
    command_done,
    command_extend,
    entries_for,
    fire,
    step,
    view_of,
)

TASK = "T0000000000000001"


def published(at: datetime, eid: str = "pub") -> ev.StatementPublished:
    return ev.StatementPublished(id=eid, incident_id="I", at=at, actor="李值班", version=2, sha256="a" * 64,
                                 url="https://weibo.com/gov/1", channel="官方微博")


def task_added(due_at: datetime, *, unit: str = "health", due: str = "2h", at: datetime = T0,
               task: str = TASK) -> ev.TaskAdded:
    return ev.TaskAdded(id=f"add-{task}", incident_id="I", at=at, actor="王主任", task_id=task, unit=unit, text="核实",
                        due=due, due_at=due_at, basis="calendar", source="县委书记批示")


def fed_back(at: datetime, task: str = TASK) -> ev.TaskFedBack:
    return ev.TaskFedBack(id=f"fb-{task}", incident_id="I", at=at, actor="卫健委 赵", task_id=task, unit="health",
                          text="已核实并整改")


def run(st: IncidentState | None, event: ev.Event, now: datetime, rules: Rules = RULES
        ) -> tuple[IncidentState, list[ev.Event]]:
    new, out = step(st, event, rules, now)
    assert new is not None
    return new, out


def fire_kind(st: IncidentState, kind: str, clock: str, rules: Rules = RULES) -> tuple[IncidentState, list[ev.Event]]:
    entry = min((e for e in entries_for(st, rules) if e.kind == kind and e.clock == clock), key=lambda e: e.when)
    new, out = fire(st, entry, rules, entry.when)
    assert new is not None
    return new, out


# --- the statement clock ----------------------------------------------------------------------


@pytest.mark.parametrize(("published_at", "status", "late"), [
    ("2026-11-23 20:00", "met", False),        # grade II: statement due 24 h after grading (Tue 09:00)
    ("2026-11-24 09:00", "met", False),        # at the due time is in time
    ("2026-11-24 11:15", "breached", True),    # after it: stays breached, met late by 2h15m
])
def test_the_statement_clock_is_met_by_publishing(published_at: str, status: str, late: bool) -> None:
    st, out = run(incident("II"), published(local(published_at)), local(published_at) + timedelta(minutes=1))
    c = st.clock("statement")
    assert c is not None and (c.status, c.met_at, c.met_by) == (status, local(published_at), "李值班")
    met = [e for e in out if isinstance(e, ev.ClockMet)]
    assert [(e.clock, e.late) for e in met] == [("statement", late)]
    assert met[0].note.startswith("官方微博 https://weibo.com/gov/1")
    assert ("met late by 2h15m" in met[0].note) is late
    breaches = [e for e in out if isinstance(e, ev.ClockBreached)]
    assert len(breaches) == (1 if late else 0)  # the timer had not fired: the breach comes first


def test_a_second_publication_meets_nothing_more() -> None:
    st, _ = run(incident("II"), published(local("2026-11-23 20:00")), local("2026-11-23 20:00"))
    again, out = step(st, published(local("2026-11-23 21:00"), "pub2"), RULES, local("2026-11-23 21:00"))
    assert (again, out) == (None, [])


def test_publishing_on_a_grade_without_a_statement_clock_changes_nothing() -> None:
    assert step(incident("IV"), published(local("2026-11-23 20:00")), RULES, local("2026-11-23 20:00")) == (None, [])


def test_done_cannot_meet_the_statement_clock() -> None:
    """`done ID statement` is refused (conflict, field clock), pointing to `statement publish`."""
    with pytest.raises(Conflict) as info:
        command_done(incident("II"), Done(incident_id="I", clock="statement", note="已发布", actor="w"),
                     Ctx(T0, "r"), RULES)
    assert info.value.field == "clock" and "watchboard statement publish I" in info.value.message


# --- tasks ------------------------------------------------------------------------------------


def test_a_task_is_a_clock_of_its_own_for_its_unit() -> None:
    """task.added starts `task:<id>` with the task's due time; the view lists it apart from the plan's clocks."""
    st, out = run(incident("II"), task_added(local("2026-11-23 11:00")), T0)
    started = [e for e in out if isinstance(e, ev.ClockStarted)]
    assert [(e.clock, e.due_at, e.unit) for e in started] == [(task_clock(TASK), local("2026-11-23 11:00"), "health")]
    view = view_of(st)
    assert task_clock(TASK) not in [c.name for c in view.clocks]
    assert [(c.name, c.status, c.unit) for c in view.tasks] == [(task_clock(TASK), "running", "health")]


def test_task_warned_breached_reminded_to_its_unit_and_flagged_after_three() -> None:
    """The plans' rules: 30 minutes before and 80 % warn, the due time breaches with a slip to the task's unit (not the
    incident's owner), every remind_every another, the third flags the unit; feedback meets it late."""
    rules = Rules(DeadlinesConfig(remind_every="1h"), RULES.cal)
    st, _ = run(incident("II", rules=rules), task_added(local("2026-11-23 11:00")), T0, rules)
    name = task_clock(TASK)
    warnings = []
    for _ in range(2):  # a 2-hour task from 09:00: 10:30 (30m before) and 10:36 (80 %)
        st, out = fire_kind(st, "warning", name, rules)
        warnings += [(type(e).__name__, e.point, e.unit) for e in out]
    assert warnings == [("ClockWarning", "30m", "health"), ("ClockWarning", "80%", "health")]
    st, out = fire_kind(st, "breach", name, rules)
    assert [(type(e).__name__, getattr(e, "unit", None)) for e in out] == [("ClockBreached", "health"),
                                                                           ("UnitReminded", "health")]
    slips = []
    for _ in range(2):
        st, out = fire_kind(st, "remind", name, rules)
        slips += [(type(e).__name__, getattr(e, "count", None)) for e in out]
    assert slips == [("UnitReminded", 2), ("UnitReminded", 3), ("UnitFlagged", 3)]
    assert [(s.unit, s.clock, s.count, s.flagged) for s in view_of(st).slips] == [("health", name, 3, True)]
    st, out = run(st, fed_back(local("2026-11-23 14:30")), local("2026-11-23 14:30"), rules)
    assert [(e.clock, e.late, e.note) for e in out if isinstance(e, ev.ClockMet)] == [
        (name, True, "已核实并整改 (met late by 3h30m)")]
    assert not [e for e in entries_for(st, rules) if e.clock == name]  # no more reminders


def test_feedback_in_time_meets_the_task() -> None:
    st, _ = run(incident("II"), task_added(local("2026-11-25 17:30"), due="2wd"), T0)
    st, out = run(st, fed_back(local("2026-11-24 10:00")), local("2026-11-24 10:00"))
    c = st.clock(task_clock(TASK))
    assert c is not None and (c.status, c.met_by) == ("met", "卫健委 赵")
    assert [e.late for e in out if isinstance(e, ev.ClockMet)] == [False]


def test_done_and_extend_do_not_touch_a_task() -> None:
    st, _ = run(incident("II"), task_added(local("2026-11-25 17:30")), T0)
    with pytest.raises(Conflict) as info:
        command_done(st, Done(incident_id="I", clock=task_clock(TASK), note="", actor="w"), Ctx(T0, "r"), RULES)
    assert info.value.field == "clock" and f"watchboard task feedback {TASK}" in info.value.message
    with pytest.raises(Conflict):
        command_extend(st, Extend(incident_id="I", clock=task_clock(TASK), due_at="2026-11-26T17:30:00+08:00",
                                  reason="x", actor="w"), Ctx(T0, "r"), RULES)


def test_a_grade_change_or_a_new_owner_leaves_a_task_alone() -> None:
    """Lowering II to IV cancels the plan's clocks IV lacks, never a task; a task's slips stay its unit's."""
    st, _ = run(incident("II"), task_added(local("2026-11-23 11:00")), T0)
    lowered = ev.IncidentGraded(id="g2", incident_id="I", at=local("2026-11-23 10:00"), actor="li", grade="IV",
                                previous="II", reasons=[], source="person")
    st, out = run(st, lowered, local("2026-11-23 10:00"))
    assert task_clock(TASK) not in [e.clock for e in out if isinstance(e, ev.ClockCancelled)]
    assert st.clock(task_clock(TASK)).status == "running"  # type: ignore[union-attr]
    st, out = fire_kind(st, "breach", task_clock(TASK))
    moved = ev.IncidentAssigned(id="a2", incident_id="I", at=local("2026-11-23 11:30"), actor="li", owner="market",
                                previous="education", reason="", source="person")
    st, _ = run(st, moved, local("2026-11-23 11:30"))
    remind = next(e for e in entries_for(st, RULES) if e.kind == "remind" and e.clock == task_clock(TASK))
    _, out = fire(st, remind, RULES, remind.when)
    assert [(e.unit, e.count) for e in out if isinstance(e, ev.UnitReminded)] == [("health", 2)]


def test_closing_cancels_a_running_task_and_a_later_task_is_not_started() -> None:
    st, _ = run(incident("II"), task_added(local("2026-11-25 17:30")), T0)
    close = ev.IncidentClosed(id="c", incident_id="I", at=local("2026-11-23 12:00"), actor="li", summary="结")
    st, out = run(st, close, local("2026-11-23 12:00"))
    assert task_clock(TASK) in [e.clock for e in out if isinstance(e, ev.ClockCancelled)]
    assert step(st, task_added(local("2026-11-26 17:30"), task="T2"), RULES, local("2026-11-23 13:00")) == (None, [])


def test_a_redelivered_task_starts_nothing_twice() -> None:
    st, _ = run(incident("II"), task_added(local("2026-11-25 17:30")), T0)
    assert step(st, task_added(local("2026-11-25 17:30")), RULES, T0) == (None, [])


def test_timer_entries_of_a_task_carry_its_clock() -> None:
    st, _ = run(incident("II"), task_added(local("2026-11-23 11:00")), T0)
    entries = [e for e in entries_for(st, RULES) if e.clock == task_clock(TASK)]
    assert sorted((e.kind, e.when) for e in entries) == [
        ("breach", local("2026-11-23 11:00")), ("warning", local("2026-11-23 10:30")),
        ("warning", local("2026-11-23 10:36"))]
    assert all(isinstance(e, Entry) for e in entries)


# --- supervision ------------------------------------------------------------------------------


def test_the_latest_supervision_is_kept() -> None:
    def supervised(at: datetime, eid: str) -> ev.IncidentSupervised:
        return ev.IncidentSupervised(id=eid, incident_id="I", at=at, actor="办公室", note="电话督办")

    st, out = run(incident("II"), supervised(local("2026-11-23 10:00"), "s1"), local("2026-11-23 10:00"))
    assert out == [] and view_of(st).supervised_at == local("2026-11-23 10:00")
    st, _ = run(st, supervised(local("2026-11-23 09:00"), "s0"), local("2026-11-23 10:05"))  # an older one, late
    assert st.supervised_at == local("2026-11-23 10:00")
