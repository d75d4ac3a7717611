"""deadlines' pure steps: clocks from events, timer firing, commands, calendar settling, sweeps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from watchboard.config.calendar import CalendarConfig, YearDays
from watchboard.config.deadlines import DeadlinesConfig
from watchboard.domain import events as ev
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.commands import Ctx, Done, Extend
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.services.deadlines.logic import (
    Entry,
    IncidentState,
    Rules,
    SweepState,
    Timer,
    changed_clocks,
    check_sweeps,
    command_done,
    command_extend,
    decode_state,
    encode_state,
    entries_for,
    fire,
    previous_window,
    record_sweep,
    settle,
    step,
    view_of,
    windows_between,
)

SH = ZoneInfo("Asia/Shanghai")
RULES = Rules(DeadlinesConfig(), WorkCalendar())
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=SH).astimezone(UTC)  # Monday 09:00


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


def reported(at: datetime = T0, incident: str = "I") -> ev.IncidentReported:
    return ev.IncidentReported(id=f"{incident}-r", incident_id=incident, at=at, actor="m", title="t",
                               mention=ev.Mention(platform="weibo"))


def graded(grade: str, *, at: datetime = T0, sentiment: str = "negative", eid: str | None = None) -> ev.IncidentGraded:
    return ev.IncidentGraded(id=eid or f"g{grade}", incident_id="I", at=at, actor="grading", grade=grade,
                             previous=None, reasons=[], source="rules", sentiment=sentiment)


def staged(stage: str, at: datetime = T0) -> ev.StageChanged:
    return ev.StageChanged(id=f"s-{stage}", incident_id="I", at=at, actor="wang", stage=stage, previous="reported")


def incident(grade: str = "II", owner: str | None = "education", rules: Rules = RULES,
             learned: datetime = T0) -> IncidentState:
    st, _ = step(None, reported(learned), rules, learned)
    if owner:
        st, _ = step(st, ev.IncidentAssigned(id="a", incident_id="I", at=learned, actor="grading", owner=owner,
                                             previous=None, reason="", source="rules"), rules, learned)
    st, _ = step(st, graded(grade, at=learned), rules, learned)
    assert st is not None
    return st


def kinds(effects: list[ev.Event]) -> list[str]:
    return [ev.event_type(e) for e in effects]


def breach_entry(st: IncidentState, name: str) -> Entry:
    c = st.clock(name)
    assert c is not None
    return Entry(when=c.due_at, incident_id=st.id, clock=name, kind="breach", label="", due_at=c.due_at)


# --- starting clocks ---------------------------------------------------------------


@pytest.mark.parametrize(("grade", "expected"), [
    ("I", {"report_up": "2026-11-23 11:07", "first_response": "2026-11-23 12:00",
           "statement": "2026-11-24 09:07", "formal_reply": "2026-11-30 17:30", "final": "2026-12-07 17:30"}),
    ("II", {"report_up": "2026-11-23 13:07", "first_response": "2026-11-23 12:00",
            "statement": "2026-11-24 09:07", "formal_reply": "2026-11-30 17:30", "final": "2026-12-07 17:30"}),
    ("III", {"first_response": "2026-11-23 12:00", "formal_reply": "2026-11-30 17:30",
             "final": "2026-12-07 17:30"}),
    ("IV", {"first_response": "2026-11-23 12:00", "formal_reply": "2026-11-30 17:30",
            "final": "2026-12-07 17:30"}),
])
def test_graded_starts_the_grades_clocks(grade: str, expected: dict[str, str]) -> None:
    """incident.graded starts each clock of its grade as clock.started: report_up and statement
    from the grade (seed 003 四(三)), the others from the report (no observed_at given)."""
    st, _ = step(None, reported(), RULES, T0)
    st, out = step(st, graded(grade, at=T0 + timedelta(minutes=7)), RULES, T0 + timedelta(minutes=7))
    assert {e.clock: e.due_at for e in out} == {k: local(v) for k, v in expected.items()}
    assert all(isinstance(e, ev.ClockStarted) and e.previous_due_at is None for e in out)
    assert st is not None and [c.name for c in st.clocks] == list(expected)


def test_positive_item_starts_nothing() -> None:
    """A positive item is graded but gets no clock."""
    st, _ = step(None, reported(), RULES, T0)
    st, out = step(st, graded("II", sentiment="positive"), RULES, T0)
    assert out == [] and st is not None and st.clocks == [] and st.grade == "II"


def test_graded_without_reported_counts_from_the_grading_time() -> None:
    """An incident first seen at grading starts its clocks from the graded event's time."""
    st, out = step(None, graded("II", at=T0 + timedelta(hours=1)), RULES, T0)
    assert st is not None and st.learned_at == T0 + timedelta(hours=1)
    assert {e.clock: e.due_at for e in out}["report_up"] == local("2026-11-23 14:00")


def test_second_reported_does_not_move_learned_at() -> None:
    """The first incident.reported time is when the duty room learned of it."""
    st, _ = step(None, reported(T0), RULES, T0)
    new, out = step(st, reported(T0 + timedelta(hours=2)), RULES, T0)
    assert new is None and out == []


@pytest.mark.parametrize(("first", "second", "tightened"), [
    ("II", "I", {"report_up": ("2026-11-23 11:00", "2026-11-23 13:00")}),
    ("III", "II", {}),  # new clocks only: report_up and statement start, nothing tightened
    ("I", "II", {}),
    ("I", "IV", {}),
])
def test_regrade_only_tightens(first: str, second: str, tightened: dict[str, tuple[str, str]]) -> None:
    """A rising grade brings clocks forward with previous_due_at; a falling one never loosens."""
    st = incident(first)
    new, out = step(st, graded(second, eid="g2"), RULES, T0)
    moved = {e.clock: (e.due_at, e.previous_due_at) for e in out
             if isinstance(e, ev.ClockStarted) and e.previous_due_at is not None}
    assert moved == {k: (local(a), local(b)) for k, (a, b) in tightened.items()}
    assert new is not None
    before = {c.name: c.due_at for c in st.clocks}
    for c in new.clocks:
        if c.name in before:
            assert c.due_at <= before[c.name]
    if (first, second) == ("III", "II"):
        assert sorted(e.clock for e in out) == ["report_up", "statement"]


def test_graded_after_close_starts_nothing() -> None:
    """A closed incident gets no clocks from a late grade."""
    st, _ = step(None, reported(), RULES, T0)
    st, _ = step(st, ev.IncidentClosed(id="c", incident_id="I", at=T0, actor="w"), RULES, T0)
    st, out = step(st, graded("I"), RULES, T0)
    assert out == [] and st is not None and st.clocks == []


# --- stages and closing --------------------------------------------------------------


@pytest.mark.parametrize("stage", ["assessing", "handling", "following", "subsided"])
def test_a_stage_meets_no_clock(stage: str) -> None:
    """A stage change records where the work is; it meets nothing (only `done` does)."""
    st, out = step(incident("II"), staged(stage), RULES, T0)
    assert out == []
    assert st is not None and st.stage == stage and {c.status for c in st.clocks} == {"running"}


def test_close_after_a_due_time_breaches_that_clock_first() -> None:
    """A close stamped after a due time (the service was behind) breaches before it cancels."""
    close = ev.IncidentClosed(id="c", incident_id="I", at=local("2026-11-23 12:30"), actor="w")
    st, out = step(incident("II"), close, RULES, T0)
    assert kinds(out)[:2] == ["clock.breached", "unit.reminded"]
    assert st is not None and st.clock("first_response").status == "breached"  # type: ignore[union-attr]
    assert st.clock("report_up").status == "cancelled"  # type: ignore[union-attr]


def test_close_cancels_open_clocks_only() -> None:
    """incident.closed cancels what still runs; a met clock stays met."""
    st, _ = command_done(incident("II"), Done(incident_id="I", clock="first_response", note="", actor="w"), Ctx(T0, "r"), RULES)
    st, out = step(st, ev.IncidentClosed(id="c", incident_id="I", at=T0, actor="w"), RULES, T0)
    assert sorted(e.clock for e in out) == ["final", "formal_reply", "report_up", "statement"]
    assert all(isinstance(e, ev.ClockCancelled) and e.reason == "incident closed" for e in out)
    assert st is not None and st.closed and {c.status for c in st.clocks} == {"met", "cancelled"}


# --- the timer -----------------------------------------------------------------------


@pytest.mark.parametrize(("seconds_after", "late"), [(0, False), (0.9, False), (5, False), (5.001, True), (3600, True)])
def test_breach_is_late_only_past_five_seconds(seconds_after: float, late: bool) -> None:
    """clock.breached carries late=True when emitted more than 5 s after its due time."""
    st = incident("II")
    entry = breach_entry(st, "first_response")
    _, out = fire(st, entry, RULES, entry.due_at + timedelta(seconds=seconds_after))
    assert isinstance(out[0], ev.ClockBreached) and out[0].late is late



def test_each_breached_task_gets_its_own_first_slip() -> None:
    """Breaches of four tasks give four first slips (count 1 each): slips count per task."""
    st = incident("II")
    counts, flags = [], []
    for name in ("first_response", "report_up", "statement", "formal_reply"):
        entry = breach_entry(st, name)
        st, out = fire(st, entry, RULES, entry.due_at)
        assert st is not None
        counts += [(e.clock, e.count) for e in out if isinstance(e, ev.UnitReminded)]
        flags += [e for e in out if isinstance(e, ev.UnitFlagged)]
    assert counts == [(n, 1) for n in ("first_response", "report_up", "statement", "formal_reply")]
    assert flags == [] and not st.flagged and st.reminders == 4


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_flag_count_is_configurable(limit: int) -> None:
    """reminders_before_flag sets which slip about the same task raises unit.flagged."""
    rules = Rules(DeadlinesConfig(reminders_before_flag=limit, remind_every="1h"), RULES.cal)
    st = incident("II", rules=rules)
    entry = breach_entry(st, "first_response")
    st, out = fire(st, entry, rules, entry.due_at)
    flagged_at = 1 if any(isinstance(e, ev.UnitFlagged) for e in out) else None
    for i in range(2, 7):
        assert st is not None
        remind = next(e for e in entries_for(st, rules) if e.kind == "remind")
        st, out = fire(st, remind, rules, remind.when)
        if any(isinstance(e, ev.UnitFlagged) for e in out):
            assert flagged_at is None  # once per unit and task
            flagged_at = i
    assert flagged_at == limit



def test_unowned_incident_reminds_unassigned() -> None:
    """A breach on an incident nobody owns yet names `unassigned`."""
    st = incident("II", owner=None)
    entry = breach_entry(st, "first_response")
    _, out = fire(st, entry, RULES, entry.due_at)
    assert [e.unit for e in out if isinstance(e, ev.UnitReminded)] == ["unassigned"]


def test_breach_id_is_the_same_from_timer_and_from_a_late_event() -> None:
    """The timer and the late-event path emit the same breach id: it can be stored only once."""
    st = incident("II")
    _, by_timer = fire(st, breach_entry(st, "first_response"), RULES, local("2026-11-23 12:00"))
    close = ev.IncidentClosed(id="c", incident_id="I", at=local("2026-11-23 12:30"), actor="w")
    _, by_event = step(st, close, RULES, local("2026-11-23 12:31"))
    assert by_timer[0].id == by_event[0].id and by_timer[1].id == by_event[1].id


@pytest.mark.parametrize("case", ["met", "moved", "early", "unknown"])
def test_stale_entries_do_nothing(case: str) -> None:
    """A popped entry whose clock is closed, moved or not yet due is dropped."""
    st = incident("II")
    entry = breach_entry(st, "first_response")
    now = entry.due_at
    if case == "met":
        st, _ = command_done(st, Done(incident_id="I", clock="first_response", note="", actor="w"), Ctx(T0, "req"), RULES)
    elif case == "moved":
        entry = breach_entry(st, "formal_reply")
        now = entry.due_at
        st, _ = command_extend(st, Extend(incident_id="I", clock="formal_reply", due_at="2026-12-01T10:00:00+08:00", reason="why", actor="w"), Ctx(T0, "req"), RULES)
    elif case == "early":
        now = entry.due_at - timedelta(seconds=1)
    else:
        entry = msgspec.structs.replace(entry, clock="simple_answer")
    assert fire(st, entry, RULES, now) == (None, [])
    assert fire(None, entry, RULES, now) == (None, [])


def test_warnings_fire_once_and_not_after_the_due_time() -> None:
    """Each warning point fires once; a warning popped after the due time is dropped."""
    st = incident("II")
    warn = [e for e in entries_for(st, RULES) if e.clock == "first_response" and e.kind == "warning"]
    assert [(e.label, e.when) for e in warn] == [("80%", local("2026-11-23 11:24")), ("30m", local("2026-11-23 11:30"))]
    new, out = fire(st, warn[0], RULES, warn[0].when)
    assert [(e.clock, e.point) for e in out] == [("first_response", "80%")]
    assert new is not None and fire(new, warn[0], RULES, warn[0].when) == (None, [])
    assert "80%" not in {e.label for e in entries_for(new, RULES) if e.clock == "first_response"}
    assert fire(st, warn[1], RULES, local("2026-11-23 12:00")) == (None, [])
    assert view_of(new).clocks[1].warned is True and view_of(st).clocks[1].warned is False


def test_timer_pops_in_time_order_up_to_now() -> None:
    """The heap yields due entries in time order, at most `limit` at once."""
    st = incident("II")
    timer = Timer()
    timer.rebuild(entries_for(st, RULES))
    assert timer.next_at() == local("2026-11-23 11:24")
    due = timer.pop_due(local("2026-11-23 13:00"), 100)
    assert [e.when for e in due] == sorted(e.when for e in due)
    assert [(e.clock, e.kind) for e in due if e.kind == "breach"] == [("first_response", "breach"), ("report_up", "breach")]
    assert len(timer.pop_due(local("2026-12-31 00:00"), 3)) == 3


def test_firing_changes_one_clock_and_leaves_the_committed_state_alone() -> None:
    """The timer's firings copy only the clock they change (the rest stay shared): the state
    given in is as it was, and the timer is fed the entries of that clock alone."""
    st = incident("II")
    frozen = encode_state(st)
    breach = next(e for e in entries_for(st, RULES) if e.kind == "breach" and e.clock == "first_response")
    new, out = fire(st, breach, RULES, breach.when)
    assert new is not None and isinstance(out[0], ev.ClockBreached)
    assert encode_state(st) == frozen  # nothing of the committed state changed in place
    assert changed_clocks(st, new) == {"first_response"}
    again = entries_for(new, RULES, changed_clocks(st, new))
    assert {e.clock for e in again} == {"first_response"} and [e.kind for e in again] == ["remind"]


@pytest.mark.parametrize(("before", "expected"), [
    (None, None),  # a new state: all its clocks' entries
    ("same", set()),  # nothing changed: nothing to push
])
def test_changed_clocks(before: str | None, expected: set[str] | None) -> None:
    st = incident("II")
    assert changed_clocks(None if before is None else decode_state(encode_state(st)), st) == expected


# --- commands ------------------------------------------------------------------------


def test_done_meets_one_clock() -> None:
    """wb.cmd.done meets the named clock with the actor and note. (Issue 14 took `statement`
    away from `done` — only publishing the approved statement meets it — so this names
    `first_response`.)"""
    st, out = command_done(incident("II"), Done(incident_id="I", clock="first_response", note="已回应", actor="wang"),
                           Ctx(T0, "req1"), RULES)
    assert [(e.clock, e.note, e.actor) for e in out] == [("first_response", "已回应", "wang")]
    assert out[0].id == ev.effect_id("req1", "met:first_response")
    assert st.clock("first_response").status == "met"  # type: ignore[union-attr]


@pytest.mark.parametrize(("state", "clock", "error", "field"), [
    (None, "final", NotFound, "incident_id"),
    ("II", "lunch", Invalid, "clock"),
    ("met", "first_response", Conflict, "clock"),
])
def test_done_errors_name_the_field(state: str | None, clock: str, error: type, field: str) -> None:
    """done on a missing incident, an unknown clock or a closed clock is refused with the field."""
    st = None if state is None else incident("II")
    if state == "met":
        st, _ = command_done(st, Done(incident_id="I", clock="first_response", note="", actor="w"), Ctx(T0, "r0"), RULES)
    with pytest.raises(error) as info:
        command_done(st, Done(incident_id="I", clock=clock, note="", actor="w"), Ctx(T0, "r1"), RULES)
    assert info.value.field == field


def test_extend_moves_a_clock_and_records_the_old_time() -> None:
    """wb.cmd.extend moves a running clock later: status extended, firm, warnings re-armed."""
    st, out = command_extend(incident("II"), Extend(incident_id="I", clock="formal_reply", due_at="2026-12-04T17:30:00+08:00", reason="需调查", actor="li"), Ctx(T0, "req"), RULES)
    e = out[0]
    assert isinstance(e, ev.ClockExtended)
    assert (e.due_at, e.previous_due_at, e.reason) == (local("2026-12-04 17:30"), local("2026-11-30 17:30"), "需调查")
    c = st.clock("formal_reply")
    assert c is not None and (c.status, c.due_at, c.warned, c.provisional) == ("extended", e.due_at, [], False)


@pytest.mark.parametrize(("clock", "due", "reason", "error", "field", "words"), [
    ("formal_reply", "2026-12-08T09:00:00+08:00", "x", Invalid, "due_at", "final"),
    ("formal_reply", "2026-11-25T09:00:00+08:00", "x", Invalid, "due_at", "not later"),
    ("formal_reply", "2026-12-04T17:30:00", "x", Invalid, "due_at", "offset"),
    ("formal_reply", "soon", "x", Invalid, "due_at", "not a time"),
    ("formal_reply", None, "x", Invalid, "due_at", "required"),
    ("formal_reply", "2026-12-04T17:30:00+08:00", " ", Invalid, "reason", "reason"),
    ("final", "2026-12-09T17:30:00+08:00", "x", Conflict, "clock", "cap"),
    ("lunch", "2026-12-04T17:30:00+08:00", "x", Invalid, "clock", "no clock"),
])
def test_extend_errors_name_the_field(clock: str, due: str | None, reason: str, error: type, field: str,
                                      words: str) -> None:
    """Extensions past final, backwards, without offset or reason, or of final, are refused."""
    with pytest.raises(error) as info:
        command_extend(incident("II"), Extend(incident_id="I", clock=clock, due_at=due, reason=reason, actor="li"), Ctx(T0, "req"), RULES)
    assert info.value.field == field and words in info.value.message


# --- the calendar gains 2027 -----------------------------------------------------------


def test_settle_firms_up_provisional_clocks_when_the_year_is_added() -> None:
    """Clocks running into unknown 2027 are provisional; adding 2027 replans them, recorded."""
    learned = local("2026-12-28 10:00")
    st = incident("III", learned=learned)
    assert st.clock("final").provisional  # type: ignore[union-attr]
    assert settle(st, RULES, learned) == (None, [])  # same calendar: nothing to do
    holidays = [date(2027, 1, 1), date(2027, 1, 4), date(2027, 1, 5)]
    cal = WorkCalendar(CalendarConfig(years={"2027": YearDays(holidays=holidays)}))
    new, out = settle(st, Rules(RULES.cfg, cal), learned)
    assert new is not None and out
    changed = {e.clock: e for e in out}
    assert all(not e.provisional and e.previous_due_at is not None for e in out)
    assert changed["final"].due_at > changed["final"].previous_due_at  # type: ignore[operator]
    assert not any(c.provisional for c in new.clocks)


# --- sweeps --------------------------------------------------------------------------


def test_windows_between_every_day_in_local_time() -> None:
    """Windows are the local 10:00 and 18:00 of every day, holidays included."""
    found = windows_between(local("2026-10-01 09:00"), local("2026-10-02 10:00"), RULES)
    assert [(w, label) for w, label in found] == [(local("2026-10-01 10:00"), "10:00"),
                                                 (local("2026-10-01 18:00"), "18:00"),
                                                 (local("2026-10-02 10:00"), "10:00")]
    assert previous_window(local("2026-10-02 10:00"), RULES) == local("2026-10-01 18:00")


@pytest.mark.parametrize(("sweeps", "until", "missed"), [
    ([], "2026-11-23 10:00", ["10:00"]),
    (["2026-11-23 09:59"], "2026-11-23 10:00", []),
    (["2026-11-23 09:59"], "2026-11-23 18:00", ["18:00"]),
    (["2026-11-23 09:00", "2026-11-23 17:00"], "2026-11-24 10:00", ["10:00"]),
    (["2026-11-23 18:00"], "2026-11-23 18:00", ["10:00"]),
    (["2026-11-22 19:00"], "2026-11-23 09:59", []),
])
def test_a_window_without_a_sweep_since_the_previous_one_is_missed(sweeps: list[str], until: str,
                                                                   missed: list[str]) -> None:
    """sweep.missed for each window with no sweep recorded since the window before it."""
    state = SweepState(checked_until=local("2026-11-23 00:00"))
    for i, text in enumerate(sweeps):
        state, _ = record_sweep(state, "", "zhao", f"s{i}", local(text))
    state, out = check_sweeps(state, local(until), RULES)
    assert [e.window for e in out] == missed
    again, twice = check_sweeps(state, local(until), RULES)
    assert twice == [] and again.checked_until == local(until)


def test_first_check_judges_nothing_before_it() -> None:
    """A service that never ran does not report windows from before it started."""
    state, out = check_sweeps(SweepState(), local("2026-11-23 19:00"), RULES)
    assert out == [] and state.checked_until == local("2026-11-23 19:00")


def test_missed_ids_are_deterministic_per_day_and_window() -> None:
    """The same window judged twice (after a crash) yields the same sweep.missed id."""
    start = SweepState(checked_until=local("2026-11-23 00:00"))
    _, a = check_sweeps(start, local("2026-11-23 10:00"), RULES)
    _, b = check_sweeps(start, local("2026-11-23 11:00"), RULES)
    assert a[0].id == b[0].id and a[0].incident_id == ev.NO_INCIDENT


def test_state_round_trips_through_json() -> None:
    """The stored state decodes to what was encoded."""
    st = incident("I")
    assert decode_state(encode_state(st)) == st
