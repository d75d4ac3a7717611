"""The plans' clocks, right: where each clock counts from, late on arrival, only the act meets a
clock, extensions where the plan allows, reminder slips per unit and task (issue "The plans'
clocks, right"). Each case names the seed section it implements; due times are worked out by
hand from the plan's words (docs/plans.md quotes them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from watchboard.config import ConfigSource
from watchboard.config.deadlines import DeadlinesConfig, load_deadlines
from watchboard.domain import events as ev
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.commands import Ctx, Done, Extend
from watchboard.domain.errors import Conflict, Invalid
from watchboard.services.deadlines.logic import (
    IncidentState,
    Rules,
    command_done,
    command_extend,
    entries_for,
    fire,
    step,
    view_of,
)

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


def rules(profile: str = "default", **over: object) -> Rules:
    cfg = load_deadlines(ConfigSource(profile=profile))
    if over:
        import msgspec

        cfg = msgspec.structs.replace(cfg, **over)
    return Rules(cfg, CAL)


def reported(at: datetime, posted: datetime | None = None, observed: datetime | None = None) -> ev.IncidentReported:
    return ev.IncidentReported(id="r", incident_id="I", at=at, actor="m", title="t",
                               mention=ev.Mention(platform="weibo", posted_at=posted, observed_at=observed))


def graded(grade: str, at: datetime, eid: str = "g", previous: str | None = None) -> ev.IncidentGraded:
    return ev.IncidentGraded(id=eid, incident_id="I", at=at, actor="grading", grade=grade, previous=previous,
                             reasons=[], source="rules")


def assigned(owner: str, at: datetime, eid: str = "a") -> ev.IncidentAssigned:
    return ev.IncidentAssigned(id=eid, incident_id="I", at=at, actor="grading", owner=owner, previous=None,
                               reason="", source="rules")


def start(grade: str, at: datetime, r: Rules, *, posted: str | None = None, observed: str | None = None,
          owner: str = "education") -> tuple[IncidentState, list[ev.Event]]:
    st, _ = step(None, reported(at, t(posted) if posted else None, t(observed) if observed else None), r, at)
    st, _ = step(st, assigned(owner, at), r, at)
    st, out = step(st, graded(grade, at), r, at)
    assert st is not None
    return st, out


def dues(st: IncidentState) -> dict[str, tuple[str, str]]:
    return {c.name: (c.due_at.astimezone(SH).strftime("%Y-%m-%d %H:%M"), c.counted_from) for c in st.clocks}


def run_timer(st: IncidentState, r: Rules, until: datetime) -> tuple[IncidentState, list[ev.Event]]:
    """Fire every timer entry up to `until`, in time order, as the service does."""
    out: list[ev.Event] = []
    while True:
        due = sorted(e for e in entries_for(st, r) if e.when <= until)
        if not due:
            return st, out
        new, effects = fire(st, due[0], r, due[0].when)
        if new is None:
            raise AssertionError(f"entry {due[0]} did nothing but stays due")
        st, out = new, out + effects


# --- 1. where each clock starts --------------------------------------------------------------


@pytest.mark.parametrize(("case", "profile", "grade", "posted", "observed", "arrived", "expected"), [
    # seed 003 四(三): report up and publish from when the item is known to be grave (graded);
    # first response from knowing the post (知晓发帖内容后, observed), in working hours; formal
    # reply 5 working days and the 10-working-day cap from the same moment.
    ("seed 003 四(三)", "default", "II", "2026-11-23 07:00", "2026-11-23 09:00", "2026-11-23 10:00", {
        "report_up": ("2026-11-23 14:00", "graded"), "first_response": ("2026-11-23 12:00", "observed"),
        "statement": ("2026-11-24 10:00", "graded"), "formal_reply": ("2026-11-30 17:30", "observed"),
        "final": ("2026-12-07 17:30", "observed")}),
    ("seed 003 四(三), plan-003", "plan-003", "I", None, "2026-11-23 09:00", "2026-11-23 10:00", {
        "report_up": ("2026-11-23 12:00", "graded"), "first_response": ("2026-11-23 12:00", "observed"),
        "statement": ("2026-11-24 10:00", "graded"), "formal_reply": ("2026-11-30 17:30", "observed"),
        "final": ("2026-12-07 17:30", "observed")}),
    # seed 002 三.5: 网民发帖后3 小时内 (含休息日、节假日), 18 小时内, 最长不得超过5 个工作日 — from the
    # post; 三.1: 发现…后 2 小时内, 1 到 2 个工作日 — from finding it to be such an item (its grade).
    ("seed 002 三.1 三.5", "plan-002", "II", "2026-11-21 20:00", "2026-11-22 08:00", "2026-11-22 08:30", {
        "report_up": ("2026-11-22 10:30", "graded"), "first_response": ("2026-11-21 23:00", "posted"),
        "statement": ("2026-11-23 08:30", "graded"), "simple_answer": ("2026-11-22 14:00", "posted"),
        "first_handling": ("2026-11-24 17:30", "graded"), "final": ("2026-11-27 17:30", "posted")}),
    # seed 000 第六步: 在輿情發生後12小時內…正面回復 — the statement from the post.
    ("seed 000 第六步", "plan-000", "IV", "2026-11-23 06:00", "2026-11-23 09:00", "2026-11-23 09:30", {
        "first_response": ("2026-11-23 12:00", "observed"), "statement": ("2026-11-23 18:00", "posted"),
        "formal_reply": ("2026-11-30 17:30", "observed"), "final": ("2026-12-07 17:30", "observed")}),
    # seed 001 sets no clock: its 一级 (II run as I) gets the defaults, seed 003's grade I.
    ("seed 001 defaults", "plan-001", "I", None, "2026-11-23 09:00", "2026-11-23 10:00", {
        "report_up": ("2026-11-23 12:00", "graded"), "first_response": ("2026-11-23 12:00", "observed"),
        "statement": ("2026-11-24 10:00", "graded"), "formal_reply": ("2026-11-30 17:30", "observed"),
        "final": ("2026-12-07 17:30", "observed")}),
    # seed 004 第六篇(二) leaves the hours blank (x 小时内): the defaults run.
    ("seed 004 defaults", "plan-004", "II", "2026-11-23 06:00", "2026-11-23 09:00", "2026-11-23 10:00", {
        "report_up": ("2026-11-23 14:00", "graded"), "first_response": ("2026-11-23 12:00", "observed"),
        "statement": ("2026-11-24 10:00", "graded"), "formal_reply": ("2026-11-30 17:30", "observed"),
        "final": ("2026-12-07 17:30", "observed")}),
    # fall-backs: no post time → the observation; no observation → the report's arrival.
    ("fall-back posted→observed", "plan-000", "IV", None, "2026-11-23 09:00", "2026-11-23 09:30", {
        "first_response": ("2026-11-23 12:00", "observed"), "statement": ("2026-11-23 21:00", "observed"),
        "formal_reply": ("2026-11-30 17:30", "observed"), "final": ("2026-12-07 17:30", "observed")}),
    ("fall-back observed→reported", "default", "IV", None, None, "2026-11-23 09:30", {
        "first_response": ("2026-11-23 14:30", "reported"), "formal_reply": ("2026-11-30 17:30", "reported"),
        "final": ("2026-12-07 17:30", "reported")}),
])
def test_each_clock_counts_from_its_moment(case: str, profile: str, grade: str, posted: str | None,
                                           observed: str | None, arrived: str, expected: dict) -> None:
    """Due times of reports that arrive after the post, worked out by hand from the plan's words."""
    st, _ = start(grade, t(arrived), rules(profile), posted=posted, observed=observed)
    assert dues(st) == expected


def test_a_later_mention_with_an_older_post_moves_no_running_clock() -> None:
    """A later report of an older post changes the moments for new clocks only."""
    r = rules("plan-002")
    st, _ = start("IV", t("2026-11-23 09:00"), r, posted="2026-11-23 08:00")
    older = ev.MentionAdded(id="m2", incident_id="I", at=t("2026-11-23 09:30"), actor="m",
                            mention=ev.Mention(platform="weibo", posted_at=t("2026-11-23 07:00")))
    new, out = step(st, older, r, t("2026-11-23 09:30"))
    assert out == [] and new is not None and new.posted_at == t("2026-11-23 07:00")
    assert dues(new) == dues(st)


# --- 2. a grade that rises later --------------------------------------------------------------


def test_a_grade_raised_later_starts_report_up_from_the_rise() -> None:
    """seed 003 四(三): raised to II two days after intake, report_up runs 4 h from the rise,
    not from intake (it would be born overdue)."""
    r = rules()
    st, _ = start("IV", t("2026-11-23 09:00"), r)
    new, out = step(st, graded("II", t("2026-11-25 10:00"), "g2", "IV"), r, t("2026-11-25 10:00"))
    assert new is not None
    assert dues(new)["report_up"] == ("2026-11-25 14:00", "graded")
    assert dues(new)["statement"] == ("2026-11-26 10:00", "graded")
    assert not any(isinstance(e, ev.ClockBreached) for e in out)


@pytest.mark.parametrize(("rise", "report_up", "tightened"), [
    ("2026-11-23 11:00", "2026-11-23 13:00", True),   # rise + 2 h is earlier than 10:00 + 4 h
    ("2026-11-23 13:00", "2026-11-23 14:00", False),  # rise + 2 h = 15:00: the running 14:00 stays
])
def test_a_rising_grade_tightens_to_the_earlier_of_due_and_rise_plus_period(rise: str, report_up: str,
                                                                            tightened: bool) -> None:
    """seed 003 四(三): II (4 h) raised to I (2 h): due = min(current due, rise + 2 h)."""
    r = rules()
    st, _ = start("II", t("2026-11-23 10:00"), r)
    new, out = step(st, graded("I", t(rise), "g2", "II"), r, t(rise))
    assert new is not None and dues(new)["report_up"][0] == report_up
    moved = [e for e in out if isinstance(e, ev.ClockStarted) and e.clock == "report_up"]
    assert bool(moved) is tightened


def test_lowering_a_grade_cancels_the_clocks_it_does_not_have() -> None:
    """A person lowering II to IV cancels report_up and statement (recorded, with the reason);
    the clocks IV shares keep their due time; a breached clock stays breached."""
    r = rules()
    st, _ = start("II", t("2026-11-23 09:00"), r)
    st, _ = run_timer(st, r, t("2026-11-23 12:00"))  # first_response breaches at 12:00
    new, out = step(st, graded("IV", t("2026-11-23 12:30"), "g2", "II"), r, t("2026-11-23 12:30"))
    assert new is not None
    cancelled = {e.clock: e.reason for e in out if isinstance(e, ev.ClockCancelled)}
    assert set(cancelled) == {"report_up", "statement"} and "II → IV" in cancelled["report_up"]
    assert {c.name: c.status for c in new.clocks} == {
        "report_up": "cancelled", "first_response": "breached", "statement": "cancelled",
        "formal_reply": "running", "final": "running"}
    assert dues(new)["formal_reply"] == dues(st)["formal_reply"]


# --- 3. late on arrival -----------------------------------------------------------------------


def test_a_clock_past_due_on_arrival_breaches_at_once_without_a_slip() -> None:
    """seed 002 三.5: a Saturday-evening post reported on Monday: first_response (3 h from the post)
    and simple_answer (18 h) are late on arrival — breached at once, no slip to the unit."""
    r = rules("plan-002")
    st, out = start("IV", t("2026-11-23 09:00"), r, posted="2026-11-21 20:00")
    breached = [e for e in out if isinstance(e, ev.ClockBreached)]
    assert sorted(e.clock for e in breached) == ["first_response", "simple_answer"]
    assert all(e.on_arrival and not e.late for e in breached)
    assert not any(isinstance(e, ev.UnitReminded) for e in out)
    view = {c.name: c for c in view_of(st).clocks}
    assert view["first_response"].on_arrival and view["first_response"].status == "breached"
    assert not view["final"].on_arrival and view["final"].status == "running"
    # The unit has a whole reminder period before its first slip about it: "1wd" counts as
    # working days do (the start day not counted, due at the close of the next working day).
    reminders = sorted(e.when for e in entries_for(st, r) if e.kind == "remind")
    assert reminders == [t("2026-11-24 17:30")] * 2


# --- 4. only the act meets a clock ------------------------------------------------------------


@pytest.mark.parametrize(("clock", "note", "error"), [
    ("report_up", "", "to whom and how it was reported"),
    ("formal_reply", "  ", "the reply or its link"),
    ("first_response", "x" * 2001, "at most 2000"),
])
def test_done_needs_the_note_the_act_requires(clock: str, note: str, error: str) -> None:
    """report_up needs to whom/how, formal_reply the reply or its link; notes are bounded."""
    st, _ = start("II", t("2026-11-23 09:00"), rules())
    with pytest.raises(Invalid, match=error) as info:
        command_done(st, Done(incident_id="I", clock=clock, note=note, actor="li"), Ctx(t("2026-11-23 09:30"), "req"), rules())
    assert info.value.field == "note"


def test_met_after_its_due_time_stays_breached_and_says_how_late() -> None:
    """A clock met late stays breached, records who and when, and stops its reminders."""
    r = rules()
    st, _ = start("II", t("2026-11-23 09:00"), r)
    st, _ = run_timer(st, r, t("2026-11-23 13:00"))  # report_up breaches at 13:00
    new, out = command_done(st, Done(incident_id="I", clock="report_up", note="电话报告县委网信办", actor="li"), Ctx(t("2026-11-23 15:10"), "req"), r)
    met = out[-1]
    assert isinstance(met, ev.ClockMet) and met.late and met.note.endswith("(met late by 2h10m)")
    c = new.clock("report_up")
    assert c is not None and (c.status, c.met_by, c.met_at) == ("breached", "li", t("2026-11-23 15:10"))
    assert not any(e.kind == "remind" and e.clock == "report_up" for e in entries_for(new, r))
    with pytest.raises(Conflict):
        command_done(new, Done(incident_id="I", clock="report_up", note="again", actor="li"), Ctx(t("2026-11-23 15:20"), "req2"), r)


def test_done_just_after_the_due_time_breaches_first() -> None:
    """A done that beats the timer to a past due time records the breach, then the late meeting."""
    r = rules()
    st, _ = start("IV", t("2026-11-23 09:00"), r)
    _, out = command_done(st, Done(incident_id="I", clock="first_response", note="", actor="li"), Ctx(t("2026-11-23 12:00:30"), "req"), r)
    assert [ev.event_type(e) for e in out] == ["clock.breached", "unit.reminded", "clock.met"]


def test_done_on_a_closed_incident_is_refused() -> None:
    """Closing ends the clocks; done after it is a conflict naming the incident."""
    r = rules()
    st, _ = start("IV", t("2026-11-23 09:00"), r)
    st, _ = step(st, ev.IncidentClosed(id="c", incident_id="I", at=t("2026-11-23 10:00"), actor="w"), r,
                 t("2026-11-23 10:00"))
    assert st is not None
    with pytest.raises(Conflict) as info:
        command_done(st, Done(incident_id="I", clock="final", note="", actor="li"), Ctx(t("2026-11-23 10:05"), "req"), r)
    assert info.value.field == "incident_id"


# --- 5. extensions only where the plan allows -------------------------------------------------


@pytest.mark.parametrize(("profile", "clock", "allowed"), [
    ("default", "report_up", False),       # 2 h/4 h report up: no plan allows more
    ("default", "first_response", False),  # seed 003: 3 working hours
    ("default", "statement", False),
    ("default", "formal_reply", True),     # seed 003 四(三): 对确需延长办理时间的,应当作出说明
    ("plan-002", "first_response", False),  # seed 002 三.5: 3 h including holidays
    ("plan-002", "first_handling", True),   # seed 002 三.5: 承诺办理时限
    ("default", "final", False),            # the cap itself
])
def test_only_handling_clocks_can_be_extended(profile: str, clock: str, allowed: bool) -> None:
    """extend is refused (conflict, field clock, naming the rule) where the plan allows no more time."""
    r = rules(profile)
    st, _ = start("II", t("2026-11-23 09:00"), r)
    c = st.clock(clock)
    assert c is not None
    later = (c.due_at + timedelta(hours=1)).astimezone(SH).isoformat()
    if allowed:
        _, out = command_extend(st, Extend(incident_id="I", clock=clock, due_at=later, reason="需现场核查", actor="li"), Ctx(t("2026-11-23 09:30"), "req"), r)
        assert isinstance(out[0], ev.ClockExtended)
    else:
        with pytest.raises(Conflict) as info:
            command_extend(st, Extend(incident_id="I", clock=clock, due_at=later, reason="需现场核查", actor="li"), Ctx(t("2026-11-23 09:30"), "req"), r)
        assert info.value.field == "clock"
        assert "cap" in info.value.message or "seed 002 三.5" in info.value.message


def test_an_extension_never_passes_final_and_speaks_local_time() -> None:
    """The cap stays (seed 003 四(三): 最长…不得超过10个工作日); the error reads in Beijing time."""
    r = rules()
    st, _ = start("II", t("2026-11-23 09:00"), r)
    with pytest.raises(Invalid, match="2026-12-08 09:00 is past the final cap 2026-12-07 17:30") as info:
        command_extend(st, Extend(incident_id="I", clock="formal_reply", due_at="2026-12-08T09:00:00+08:00", reason="x", actor="li"), Ctx(t("2026-11-23 10:00"), "req"), r)
    assert info.value.field == "due_at"


# --- 6. reminders as seed 002 四.3 says ---------------------------------------------------------


def test_reminders_repeat_until_met_and_the_third_flags_once() -> None:
    """seed 002 四.3 经三次提醒仍未落实整改: a slip at the breach and every remind_every (here 1 h)
    while the task stays undone; the third slip to the unit about it flags the unit, once."""
    r = rules(remind_every="1h")
    st, _ = start("IV", t("2026-11-23 09:00"), r)
    st, out = run_timer(st, r, t("2026-11-23 15:30"))
    slips = [(e.clock, e.count, e.at) for e in out if isinstance(e, ev.UnitReminded)]
    assert slips == [("first_response", n, t(f"2026-11-23 {h}:00")) for n, h in ((1, 12), (2, 13), (3, 14), (4, 15))]
    flags = [(e.unit, e.clock, e.count) for e in out if isinstance(e, ev.UnitFlagged)]
    assert flags == [("education", "first_response", 3)]
    st, _ = command_done(st, Done(incident_id="I", clock="first_response", note="已回应", actor="li"), Ctx(t("2026-11-23 15:40"), "req"), r)
    st, out = run_timer(st, r, t("2026-11-23 18:00"))
    assert not any(isinstance(e, ev.UnitReminded) for e in out)
    view = view_of(st)
    assert [(s.unit, s.clock, s.count, s.flagged) for s in view.slips] == [("education", "first_response", 4, True)]
    assert view.reminders == 4 and view.flagged


def test_reminders_default_to_one_working_day() -> None:
    """remind_every defaults to "1wd": the next slip at the close of the next working day
    (Friday's breach → Monday 17:30)."""
    r = rules()
    st, _ = start("IV", t("2026-11-27 09:00"), r)  # Friday; first_response due 12:00
    st, out = run_timer(st, r, t("2026-11-27 12:00"))
    assert [e.count for e in out if isinstance(e, ev.UnitReminded)] == [1]
    assert [e.when for e in entries_for(st, r) if e.kind == "remind"] == [t("2026-11-30 17:30")]


def test_a_reassignment_starts_the_new_owners_count_at_zero() -> None:
    """Slips belong to the unit they were sent to: the new owner's first slip is its first."""
    r = rules(remind_every="1h")
    st, _ = start("IV", t("2026-11-23 09:00"), r)
    st, _ = run_timer(st, r, t("2026-11-23 13:00"))  # education: slips 1 (12:00), 2 (13:00)
    st2, _ = step(st, assigned("health", t("2026-11-23 13:10"), "a2"), r, t("2026-11-23 13:10"))
    assert st2 is not None
    st2, out = run_timer(st2, r, t("2026-11-23 16:10"))
    assert [(e.unit, e.count) for e in out if isinstance(e, ev.UnitReminded)] == [
        ("health", 1), ("health", 2), ("health", 3)]
    assert [(e.unit, e.count) for e in out if isinstance(e, ev.UnitFlagged)] == [("health", 3)]
    assert {(s.unit, s.count) for s in view_of(st2).slips} == {("education", 2), ("health", 3)}


def test_closing_stops_the_reminders() -> None:
    """No slip about a task of a closed incident."""
    r = rules(remind_every="1h")
    st, _ = start("IV", t("2026-11-23 09:00"), r)
    st, _ = run_timer(st, r, t("2026-11-23 12:00"))
    st, _ = step(st, ev.IncidentClosed(id="c", incident_id="I", at=t("2026-11-23 12:30"), actor="w"), r,
                 t("2026-11-23 12:30"))
    assert st is not None and not any(e.kind == "remind" for e in entries_for(st, r))


def test_plan_002_one_miss_gives_one_slip() -> None:
    """seed 002 三.5: its 5 working days are the cap alone (no inherited formal_reply falling due
    at the same instant), so missing it is one breach and one slip."""
    r = rules("plan-002")
    st, _ = start("IV", t("2026-11-23 09:00"), r, posted="2026-11-23 08:30")
    st, _ = command_done(st, Done(incident_id="I", clock="first_response", note="已回应", actor="li"), Ctx(t("2026-11-23 10:00"), "r1"), r)
    st, _ = command_done(st, Done(incident_id="I", clock="simple_answer", note="已解答", actor="li"), Ctx(t("2026-11-23 11:00"), "r2"), r)
    st, out = run_timer(st, r, t("2026-11-30 17:30"))
    assert [(e.clock, e.count) for e in out if isinstance(e, ev.UnitReminded)] == [("final", 1)]


def test_a_stage_change_after_the_due_time_meets_nothing() -> None:
    """Moving to `following` neither meets nor hides a late clock (the stage mapping is gone)."""
    r = rules()
    st, _ = start("II", t("2026-11-23 09:00"), r)
    staged = ev.StageChanged(id="s", incident_id="I", at=t("2026-11-23 12:30"), actor="w", stage="following",
                             previous="reported")
    new, out = step(st, staged, r, t("2026-11-23 12:30"))
    assert out == [] and new is not None and {c.status for c in new.clocks} == {"running"}
    new, out = run_timer(new, r, t("2026-11-23 12:30"))
    assert [e.clock for e in out if isinstance(e, ev.ClockBreached)] == ["first_response"]


def test_config_default_remind_every() -> None:
    """The shipped default is one working day between slips (DOMAIN.md §5)."""
    assert DeadlinesConfig().remind_every == "1wd" and rules().cfg.remind_every == "1wd"
