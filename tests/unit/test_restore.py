"""Rebuilt from the stream, pure: replaying a service's events through `learn` (inputs) and
`restore` (its own events) gives the state the service had — the same views and, for deadlines,
the same timers still to fire — for each scenario of the table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from watchboard.config.deadlines import DeadlinesConfig
from watchboard.config.grading import load_grading
from watchboard.config.units import load_units
from watchboard.domain import events as ev
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.commands import Ctx, Done, Extend, Flag, Regrade, Unflag
from watchboard.services.deadlines import logic as dl
from watchboard.services.grading import logic as gl
from watchboard.services.notify.model import IncidentMemo
from watchboard.services.notify.rebuild import restore_memo, restore_notice

SH = ZoneInfo("Asia/Shanghai")
RULES = dl.Rules(DeadlinesConfig(), WorkCalendar())


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


T0 = local("2026-11-23 09:00")  # a working Monday


# --- deadlines: the service simulated, then rebuilt from what it wrote -------------------------


class Deadlines:
    """deadlines as the service drives its pure steps: events, timers, commands; `stream` is
    every event in the order the stream has them (an input, then the effects it caused)."""

    def __init__(self) -> None:
        self.state: dl.IncidentState | None = None
        self.stream: list[ev.Event] = []
        self.n = 0

    def event(self, e: ev.Event, now: datetime | None = None) -> None:
        self.stream.append(e)
        new, out = dl.step(self.state, e, RULES, now or e.at)
        self._apply(new, out)

    def timers(self, now: datetime) -> None:
        """Fire every entry due by `now`, earliest first, as the timer loop does."""
        while self.state is not None:
            due = sorted(x for x in dl.entries_for(self.state, RULES) if x.when <= now)
            for entry in due:
                new, out = dl.fire(self.state, entry, RULES, now)
                if new is not None:
                    self._apply(new, out)
                    break
            else:
                return

    def command(self, decide: Callable[..., tuple[dl.IncidentState, list[ev.Event]]], cmd: object,
                now: datetime) -> None:
        self.n += 1
        new, out = decide(self.state, cmd, Ctx(now=now, request_id=f"R{self.n}"), RULES)
        self._apply(new, out)

    def _apply(self, new: dl.IncidentState | None, out: list[ev.Event]) -> None:
        if new is not None:
            self.state = new
        self.stream.extend(out)

    def rebuilt(self) -> dl.IncidentState | None:
        state: dl.IncidentState | None = None
        for e in self.stream:
            fold = dl.restore if ev.owner_of(e) == "deadlines" else dl.learn
            new = fold(state, e, RULES)
            state = new if new is not None else state
        return state


def reported(at: datetime = T0, posted: datetime | None = None, observed: datetime | None = None) -> ev.Event:
    return ev.IncidentReported(id="r", incident_id="I", at=at, actor="m", title="t",
                               mention=ev.Mention(platform="weibo", posted_at=posted, observed_at=observed))


def assigned(owner: str, at: datetime = T0, eid: str = "a") -> ev.Event:
    return ev.IncidentAssigned(id=eid, incident_id="I", at=at, actor="grading", owner=owner, previous=None,
                               reason="", source="rules")


def graded(grade: str, at: datetime = T0, eid: str | None = None, previous: str | None = None) -> ev.Event:
    return ev.IncidentGraded(id=eid or f"g{grade}", incident_id="I", at=at, actor="grading", grade=grade,
                             previous=previous, reasons=[], source="rules")


def opened(d: Deadlines, grade: str = "II", **kw: datetime | None) -> None:
    d.event(reported(**kw))
    d.event(assigned("education"))
    d.event(graded(grade))


def breach_slips_and_flag(d: Deadlines) -> None:
    opened(d)
    d.timers(local("2026-11-23 12:01"))  # warnings, the breach, the first slip
    d.timers(local("2026-11-24 17:31"))  # a working day on: the second slip
    d.timers(local("2026-11-25 17:40"))  # the third, late: the unit is flagged


def met_and_extended(d: Deadlines) -> None:
    opened(d)
    d.command(dl.command_done, Done(actor="li", incident_id="I", clock="report_up", note="电话报告"),
              local("2026-11-23 10:00"))
    d.command(dl.command_extend, Extend(actor="li", incident_id="I", clock="formal_reply",
                                       due_at="2026-12-03T17:30:00+08:00", reason="待核实"), local("2026-11-23 10:05"))
    d.timers(local("2026-11-23 12:30"))


def grade_rises_then_is_lowered(d: Deadlines) -> None:
    opened(d, "IV")
    d.event(graded("II", local("2026-11-23 10:00"), eid="g2", previous="IV"))
    d.timers(local("2026-11-23 10:30"))
    d.event(graded("IV", local("2026-11-23 11:00"), eid="g3", previous="II"))


def closed_after_an_unfired_due_time(d: Deadlines) -> None:
    opened(d)
    d.event(ev.IncidentClosed(id="c", incident_id="I", at=local("2026-11-23 12:30"), actor="li", summary="s"),
            local("2026-11-23 12:31"))


def a_task_fed_back_late(d: Deadlines) -> None:
    opened(d)
    d.event(ev.TaskAdded(id="t", incident_id="I", at=T0, actor="li", task_id="T1", unit="police", text="查",
                         due="4h", due_at=local("2026-11-23 13:00"), basis="calendar"))
    d.timers(local("2026-11-23 13:05"))
    d.event(ev.TaskFedBack(id="tf", incident_id="I", at=local("2026-11-23 14:00"), actor="police", task_id="T1",
                           unit="police", text="已查"), local("2026-11-23 14:02"))


def late_on_arrival(d: Deadlines) -> None:
    opened(d, observed=local("2026-11-20 09:00"))  # seen last Friday: first_response already past
    d.timers(local("2026-11-24 17:31"))


def owner_changes_after_a_breach(d: Deadlines) -> None:
    opened(d)
    d.timers(local("2026-11-23 12:01"))
    d.event(assigned("health", local("2026-11-23 15:00"), eid="a2"))
    d.timers(local("2026-11-24 17:31"))


def statement_published(d: Deadlines) -> None:
    opened(d)
    d.event(ev.StatementPublished(id="sp", incident_id="I", at=local("2026-11-23 11:00"), actor="li", version=1,
                                  sha256="0" * 64, url="https://x", channel="官方微博"), local("2026-11-23 11:02"))


@pytest.mark.parametrize("scenario", [breach_slips_and_flag, met_and_extended, grade_rises_then_is_lowered,
                                      closed_after_an_unfired_due_time, a_task_fed_back_late, late_on_arrival,
                                      owner_changes_after_a_breach, statement_published])
def test_deadlines_rebuilt_has_the_same_clocks_slips_and_timers(scenario: Callable[[Deadlines], None]) -> None:
    d = Deadlines()
    scenario(d)
    assert d.state is not None and any(ev.owner_of(e) == "deadlines" for e in d.stream)
    again = d.rebuilt()
    assert again is not None
    assert msgspec.structs.replace(dl.view_of(again), updated_at=None) == \
        msgspec.structs.replace(dl.view_of(d.state), updated_at=None)
    assert sorted(dl.entries_for(again, RULES)) == sorted(dl.entries_for(d.state, RULES))
    assert (again.grade, again.owner, again.closed, again.learned_at) == \
        (d.state.grade, d.state.owner, d.state.closed, d.state.learned_at)


def test_sweeps_rebuilt() -> None:
    state = dl.SweepState()
    stream: list[ev.Event] = []
    state, _ = dl.check_sweeps(state, T0, RULES)
    for at in (local("2026-11-23 10:05"), local("2026-11-23 18:05")):
        state, missed = dl.check_sweeps(state, at, RULES)
        stream += missed
    state, swept = dl.record_sweep(state, "扫过", "li", "S1", local("2026-11-23 19:00"))
    stream.append(swept)
    again = dl.SweepState()
    for e in stream:
        again = dl.restore_sweep(again, e)
    assert dl.sweep_view(again) == dl.sweep_view(state) and again.missed == ["2026-11-23 10:00", "2026-11-23 18:00"]
    assert again.recent == state.recent and again.checked_until == swept.at


# --- grading -----------------------------------------------------------------------------------


def test_grading_rebuilt_from_its_decisions() -> None:
    cfg, units = load_grading(), load_units()
    state: gl.IncidentState | None = None
    stream: list[ev.Event] = []
    mention = ev.Mention(platform="weibo", metrics=ev.Metrics(reposts=300), region="城关镇")
    for e in (ev.IncidentReported(id="r", incident_id="I", at=T0, actor="m", title="网传", mention=mention),
              ev.MentionAdded(id="m2", incident_id="I", at=T0, actor="m", mention=ev.Mention(platform="douyin"))):
        stream.append(e)
        new, out = gl.step(state, e, cfg, units, T0)
        state, stream = new or state, stream + out
    for decide, cmd in ((gl.command_regrade, Regrade(actor="li", incident_id="I", grade="I", reason="领导批示")),
                        (gl.command_flag, Flag(actor="li", incident_id="I", kind="rumour", reason="不实")),
                        (gl.command_flag, Flag(actor="li", incident_id="I", kind="illegal", reason="诽谤")),
                        (gl.command_unflag, Unflag(actor="li", incident_id="I", kind="rumour", reason="属实"))):
        extra = {"grading": cfg} if decide is gl.command_regrade else {}
        state, out = decide(state, cmd, Ctx(now=T0, request_id=f"R{len(stream)}"), **extra)
        stream += out
    closed = ev.IncidentClosed(id="c", incident_id="I", at=T0, actor="li")
    stream.append(closed)
    state, _ = gl.step(state, closed, cfg, units, T0)
    again: gl.IncidentState | None = None
    for e in stream:
        fold = gl.restore if ev.owner_of(e) == "grading" else gl.learn
        again = fold(again, e) or again
    assert state is not None and again is not None
    assert gl.view_of(again, units) is not None
    assert msgspec.structs.replace(gl.view_of(again, units), updated_at=None) == \
        msgspec.structs.replace(gl.view_of(state, units), updated_at=None)
    assert (again.features, again.closed, again.flags) == (state.features, True, ["illegal"])


@pytest.mark.parametrize(("event", "expected"), [
    (ev.IncidentFlagged(id="f", incident_id="I", at=T0, actor="li", kind="rumour", reason="r"), ["rumour"]),
    (ev.IncidentUnflagged(id="u", incident_id="I", at=T0, actor="li", kind="illegal", reason="r"), []),
    (ev.NoteAdded(id="n", incident_id="I", at=T0, actor="li", text="x"), None),
])
def test_grading_restore_table(event: ev.Event, expected: list[str] | None) -> None:
    start = gl.IncidentState(id="I", flags=["illegal"] if isinstance(event, ev.IncidentUnflagged) else [])
    new = gl.restore(start, event)
    assert (new.flags if new is not None else None) == expected


# --- notify -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("memo", "event", "expected"), [
    (None, ev.NoticeEscalated(id="e", incident_id="I", at=T0, actor="notify", tier=2, to=["p"]),
     {"tiers_done": frozenset({2}), "acked_by": None}),
    (IncidentMemo(id="I", tiers_done=frozenset({1})),
     ev.IncidentAcknowledged(id="k", incident_id="I", at=T0, actor="p-li", by="p-li"),
     {"tiers_done": frozenset({1}), "acked_by": "p-li"}),
    (IncidentMemo(id="I", acked_by="p-wang"), ev.IncidentAcknowledged(id="k", incident_id="I", at=T0, actor="p",
                                                                      by="p-li"), None),
    (None, ev.NoticeSent(id="s", incident_id="I", at=T0, actor="notify", to="p", channel="board", cause="x"), None),
])
def test_notify_memo_restore_table(memo: IncidentMemo | None, event: ev.Event, expected: dict | None) -> None:
    new = restore_memo(memo, event)
    if expected is None:
        assert new is None
    else:
        assert new is not None and {k: getattr(new, k) for k in expected} == expected


@pytest.mark.parametrize(("event", "status"), [
    (ev.NoticeSent(id="s", incident_id="I", at=T0, actor="notify", to="p", channel="webhook", cause="c", key="K"),
     "sent"),
    (ev.NoticeFailed(id="f", incident_id="I", at=T0, actor="notify", to="p", channel="webhook", cause="c",
                     reason="HTTP 500", key="K"), "failed"),
    (ev.NoticeSent(id="s", incident_id="I", at=T0, actor="notify", to="p", channel="webhook", cause="c"), None),
])
def test_notify_notice_restore_table(event: ev.Event, status: str | None) -> None:
    row = restore_notice(event)
    assert (row.status if row else None) == status
    if row is not None:
        assert (row.key, row.person_id, row.contact, row.at) == ("K", "p", "webhook", T0.timestamp())


def test_a_reminder_counts_from_its_scheduled_time_unless_late() -> None:
    when = local("2026-11-24 17:30")
    assert dl._remind_base(f"I:c:x:remind@{when.isoformat()}", when + timedelta(seconds=2)) == when
    late = when + timedelta(hours=2)
    assert dl._remind_base(f"I:c:x:remind@{when.isoformat()}", late) == late
    assert dl._remind_base("I:c:x", late) == late
